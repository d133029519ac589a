//! The health endpoints: `/health` (a JSON verdict on every component), `/health/ready`
//! (200 once the exporters are up and every receiver had a first attempt) and
//! `/health/live`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use pipeline::http_server::{self, Body};
use pipeline::stats::{ExporterStats, JobStats};
use pipeline::{Impact, PipelineStats};
use serde::Serialize;
use serde_json::{Value, json};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Consecutive failed runs after which a receiver counts as unhealthy, not degraded.
const RECEIVER_UNHEALTHY_AFTER: u64 = 3;
/// Consecutive failed export attempts after which an exporter counts as unhealthy.
const EXPORTER_UNHEALTHY_AFTER: u64 = 5;
/// Added to three intervals before a receiver's last success counts as stale.
const STALE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

pub struct Health {
    stats: Arc<PipelineStats>,
    receivers: Vec<String>,
    exporters: Vec<String>,
    stopping: AtomicBool,
}

fn rfc3339(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(humantime::format_rfc3339_seconds(t).to_string())
    })
}

impl Health {
    pub fn new(
        stats: Arc<PipelineStats>,
        receivers: Vec<String>,
        exporters: Vec<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            stats,
            receivers,
            exporters,
            stopping: AtomicBool::new(false),
        })
    }

    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn receiver_status(r: &JobStats, now: SystemTime) -> (Status, Value) {
        let s = r.state();
        let status = if s.last_attempt.is_none() {
            Status::Degraded
        } else if s.consecutive_failures >= RECEIVER_UNHEALTHY_AFTER
            && s.last_error_impact == Impact::Unhealthy
        {
            Status::Unhealthy
        } else if s.consecutive_failures > 0 || !s.warnings.is_empty() {
            Status::Degraded
        } else if s
            .last_success
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > r.interval * 3 + STALE_GRACE)
        {
            // Succeeding, but not often enough: runs are being skipped.
            Status::Degraded
        } else {
            Status::Healthy
        };
        let detail = json!({
            "status": status,
            "interval_seconds": r.interval.as_secs_f64(),
            "last_attempt": rfc3339(s.last_attempt),
            "last_success": rfc3339(s.last_success),
            "last_error": s.last_error,
            "last_error_kind": s.last_error_kind,
            "consecutive_failures": s.consecutive_failures,
            "warnings": s.warnings,
            "runs": r.runs(),
            "skipped": r.skipped(),
        });
        (status, detail)
    }

    fn exporter_status(e: &ExporterStats) -> (Status, Value) {
        let s = e.state();
        let c = e.counts();
        let status = if !s.started || s.consecutive_failures >= EXPORTER_UNHEALTHY_AFTER {
            Status::Unhealthy
        } else if s.consecutive_failures > 0 {
            Status::Degraded
        } else {
            Status::Healthy
        };
        let detail = json!({
            "status": status,
            "queue": {"size": c.queue_len, "capacity": e.capacity},
            "sent": c.sent_batches,
            "failed": c.failed_batches,
            "dropped": c.dropped_batches,
            "retries": c.retries,
            "last_success": rfc3339(s.last_success),
            "last_error": s.last_error,
            "consecutive_failures": s.consecutive_failures,
        });
        (status, detail)
    }

    /// The `/health` document and its overall status: unhealthy when every receiver or
    /// every exporter is, degraded when any component is not healthy.
    pub fn report(&self) -> (Status, Value) {
        self.report_at(SystemTime::now())
    }

    /// [`Self::report`] as of `now`, which only decides whether a last success is stale.
    pub fn report_at(&self, now: SystemTime) -> (Status, Value) {
        let receivers: Vec<(String, (Status, Value))> = self
            .stats
            .jobs()
            .into_iter()
            .filter(|(id, _)| self.receivers.contains(id))
            .map(|(id, r)| (id, Self::receiver_status(&r, now)))
            .collect();
        let exporters: Vec<(String, (Status, Value))> = self
            .stats
            .exporters()
            .into_iter()
            .filter(|(id, _)| self.exporters.contains(id))
            .map(|(id, e)| (id, Self::exporter_status(&e)))
            .collect();
        let all_bad = |v: &[(String, (Status, Value))]| {
            !v.is_empty() && v.iter().all(|(_, (s, _))| *s == Status::Unhealthy)
        };
        let worst = receivers
            .iter()
            .chain(exporters.iter())
            .map(|(_, (s, _))| *s)
            .max()
            .unwrap_or(Status::Healthy);
        let status = if all_bad(&receivers) || all_bad(&exporters) {
            Status::Unhealthy
        } else if worst > Status::Healthy {
            Status::Degraded
        } else {
            Status::Healthy
        };
        let doc = json!({
            "status": status,
            "version": VERSION,
            "start_time": rfc3339(Some(self.stats.start_time)),
            "uptime_seconds": self.stats.uptime().as_secs_f64(),
            "ready": self.waiting_for().is_empty(),
            "components": {
                "receivers": receivers.into_iter().map(|(k, (_, v))| (k, v)).collect::<serde_json::Map<_, _>>(),
                "exporters": exporters.into_iter().map(|(k, (_, v))| (k, v)).collect::<serde_json::Map<_, _>>(),
            },
        });
        (status, doc)
    }

    /// What readiness still waits for: exporters not up, receivers without a first attempt.
    pub fn waiting_for(&self) -> Vec<String> {
        let mut waiting = Vec::new();
        let exporters: Vec<_> = self.stats.exporters();
        for id in &self.exporters {
            let up = exporters.iter().any(|(e, s)| e == id && s.state().started);
            if !up {
                waiting.push(format!("exporter {id}"));
            }
        }
        let receivers: Vec<_> = self.stats.jobs();
        for id in &self.receivers {
            let tried = receivers
                .iter()
                .any(|(r, s)| r == id && s.state().last_attempt.is_some());
            if !tried {
                waiting.push(format!("receiver {id} (first collection)"));
            }
        }
        if self.stopping.load(Ordering::Relaxed) {
            waiting.push("shutting down".into());
        }
        waiting
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        self.respond(req.uri().path(), SystemTime::now())
    }

    fn respond(&self, path: &str, now: SystemTime) -> Response<Body> {
        match path {
            "/health" | "/health/" => {
                let (status, doc) = self.report_at(now);
                json_response(http_status(status), &doc)
            }
            "/health/ready" => {
                let waiting = self.waiting_for();
                let code = if waiting.is_empty() {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                json_response(
                    code,
                    &json!({"ready": waiting.is_empty(), "waiting_for": waiting}),
                )
            }
            "/health/live" => json_response(StatusCode::OK, &json!({"status": "alive"})),
            _ => http_server::text(
                StatusCode::NOT_FOUND,
                "not found; try /health, /health/ready or /health/live\n",
            ),
        }
    }
}

/// A degraded agent still answers 200: it is working, and an orchestrator acting on a 503
/// would restart it. Only an agent that can no longer collect or deliver anything gets 503.
fn http_status(status: Status) -> StatusCode {
    match status {
        Status::Healthy | Status::Degraded => StatusCode::OK,
        Status::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    let body = serde_json::to_vec_pretty(v).unwrap_or_default();
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const INTERVAL: Duration = Duration::from_secs(60);

    /// Health over `receivers` and `exporters`, every exporter started.
    fn setup(receivers: &[&str], exporters: &[&str]) -> (Arc<PipelineStats>, Arc<Health>) {
        let stats = PipelineStats::new();
        for r in receivers {
            stats.register_job(r, INTERVAL);
        }
        for e in exporters {
            stats.register_exporter(e, 10).set_started();
        }
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let health = Health::new(stats.clone(), ids(receivers), ids(exporters));
        (stats, health)
    }

    fn fail(r: &JobStats, kind: &'static str, times: usize) {
        fail_with(r, kind, Impact::Unhealthy, times)
    }

    fn fail_with(r: &JobStats, kind: &'static str, impact: Impact, times: usize) {
        for _ in 0..times {
            r.record_failure(Duration::ZERO, kind, format!("{kind} happened"), impact);
        }
    }

    /// The receiver's verdict as of its last attempt, so that staleness plays no part.
    fn verdict(r: &JobStats) -> Status {
        let now = r.state().last_attempt.unwrap_or(UNIX_EPOCH);
        Health::receiver_status(r, now).0
    }

    /// Overall verdict and `/health` status code, as of `now`.
    fn overall(health: &Health, now: SystemTime) -> (Status, StatusCode) {
        let (status, doc) = health.report_at(now);
        assert_eq!(doc["status"], json!(status));
        (status, health.respond("/health", now).status())
    }

    #[test]
    fn a_receiver_is_unhealthy_from_its_third_consecutive_failure() {
        let (stats, _) = setup(&["r"], &[]);
        let r = stats.register_job("r", INTERVAL);
        assert_eq!(verdict(&r), Status::Degraded, "before its first run");
        r.record_success(Duration::ZERO, vec![]);
        assert_eq!(verdict(&r), Status::Healthy);
        fail(&r, "timeout", 1);
        assert_eq!(verdict(&r), Status::Degraded);
        fail(&r, "timeout", 1);
        assert_eq!(verdict(&r), Status::Degraded);
        fail(&r, "timeout", 1);
        assert_eq!(verdict(&r), Status::Unhealthy);
        r.record_success(Duration::ZERO, vec![]);
        assert_eq!(verdict(&r), Status::Healthy);
    }

    #[test]
    fn failures_that_say_degraded_leave_a_receiver_degraded_however_many() {
        let (stats, _) = setup(&["r"], &[]);
        let r = stats.register_job("r", INTERVAL);
        fail_with(&r, "token_limit", Impact::Degraded, 10);
        assert_eq!(verdict(&r), Status::Degraded);
        // The verdict follows the impact of the latest failure.
        fail(&r, "timeout", 1);
        assert_eq!(verdict(&r), Status::Unhealthy);
    }

    #[test]
    fn warnings_degrade_a_successful_receiver() {
        let (stats, _) = setup(&["r"], &[]);
        let r = stats.register_job("r", INTERVAL);
        r.record_success(Duration::ZERO, vec!["namespace ns1 skipped".into()]);
        assert_eq!(verdict(&r), Status::Degraded);
    }

    #[test]
    fn a_last_success_older_than_three_intervals_and_the_grace_degrades() {
        let (stats, health) = setup(&["r"], &["e"]);
        let r = stats.register_job("r", INTERVAL);
        r.record_success(Duration::ZERO, vec![]);
        let last = r.state().last_success.unwrap();
        let limit = last + INTERVAL * 3 + Duration::from_secs(5);
        assert_eq!(Health::receiver_status(&r, limit).0, Status::Healthy);
        let past = limit + Duration::from_nanos(1);
        assert_eq!(Health::receiver_status(&r, past).0, Status::Degraded);
        assert_eq!(overall(&health, limit), (Status::Healthy, StatusCode::OK));
        assert_eq!(overall(&health, past), (Status::Degraded, StatusCode::OK));
        // A clock set back before the last success does not make it stale.
        let earlier = last - Duration::from_secs(3600);
        assert_eq!(Health::receiver_status(&r, earlier).0, Status::Healthy);
    }

    #[test]
    fn an_exporter_is_unhealthy_from_its_fifth_consecutive_failure() {
        let (stats, _) = setup(&[], &["e"]);
        let e = stats.register_exporter("e", 10);
        let verdict = |e: &ExporterStats| Health::exporter_status(e).0;
        assert_eq!(verdict(&e), Status::Healthy);
        for _ in 0..3 {
            e.record_retry("unavailable".into());
        }
        e.record_failed("gave up".into());
        assert_eq!(e.state().consecutive_failures, 4);
        assert_eq!(verdict(&e), Status::Degraded);
        e.record_retry("unavailable".into());
        assert_eq!(verdict(&e), Status::Unhealthy);
        e.record_sent(1);
        assert_eq!(verdict(&e), Status::Healthy);
    }

    #[test]
    fn an_exporter_that_never_started_is_unhealthy() {
        let stats = PipelineStats::new();
        let e = stats.register_exporter("e", 10);
        assert_eq!(Health::exporter_status(&e).0, Status::Unhealthy);
    }

    #[test]
    fn overall_unhealthy_and_503_only_when_every_receiver_is() {
        let (stats, health) = setup(&["a", "b"], &["e"]);
        let (a, b) = (
            stats.register_job("a", INTERVAL),
            stats.register_job("b", INTERVAL),
        );
        a.record_success(Duration::ZERO, vec![]);
        b.record_success(Duration::ZERO, vec![]);
        let now = b.state().last_success.unwrap();
        assert_eq!(overall(&health, now), (Status::Healthy, StatusCode::OK));
        fail(&a, "timeout", 3);
        assert_eq!(overall(&health, now), (Status::Degraded, StatusCode::OK));
        fail(&b, "unreachable", 3);
        assert_eq!(
            overall(&health, now),
            (Status::Unhealthy, StatusCode::SERVICE_UNAVAILABLE)
        );
    }

    #[test]
    fn overall_unhealthy_and_503_only_when_every_exporter_is() {
        let (stats, health) = setup(&["r"], &["p", "o"]);
        let r = stats.register_job("r", INTERVAL);
        r.record_success(Duration::ZERO, vec![]);
        let now = r.state().last_success.unwrap();
        let (p, o) = (
            stats.register_exporter("p", 10),
            stats.register_exporter("o", 10),
        );
        for _ in 0..5 {
            o.record_retry("unavailable".into());
        }
        assert_eq!(overall(&health, now), (Status::Degraded, StatusCode::OK));
        for _ in 0..5 {
            p.record_failed("refused".into());
        }
        assert_eq!(
            overall(&health, now),
            (Status::Unhealthy, StatusCode::SERVICE_UNAVAILABLE)
        );
    }

    #[test]
    fn components_outside_the_pipelines_do_not_count() {
        let (stats, health) = setup(&["r"], &["e"]);
        let r = stats.register_job("r", INTERVAL);
        r.record_success(Duration::ZERO, vec![]);
        let now = r.state().last_success.unwrap();
        fail(&stats.register_job("unused", INTERVAL), "timeout", 3);
        stats.register_exporter("unused", 10);
        assert_eq!(overall(&health, now), (Status::Healthy, StatusCode::OK));
        let (_, doc) = health.report_at(now);
        assert!(doc["components"]["receivers"].get("unused").is_none());
    }

    #[test]
    fn only_an_unhealthy_verdict_answers_503() {
        assert_eq!(http_status(Status::Healthy), StatusCode::OK);
        assert_eq!(http_status(Status::Degraded), StatusCode::OK);
        assert_eq!(
            http_status(Status::Unhealthy),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
