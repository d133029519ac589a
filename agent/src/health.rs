//! The health endpoints: `/health` (a JSON verdict on every component), `/health/ready`
//! (200 once the exporters are up and every receiver had a first attempt) and
//! `/health/live`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use pipeline::PipelineStats;
use pipeline::http_server::{self, Body};
use pipeline::stats::{ExporterStats, ReceiverStats};
use serde::Serialize;
use serde_json::{Value, json};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Consecutive failed runs after which a receiver counts as unhealthy, not degraded.
const RECEIVER_UNHEALTHY_AFTER: u64 = 3;
/// Failures that leave a receiver degraded however long they last: the agent is working
/// and waits for the source (ECS's token limit frees up as other sessions end); calling it
/// unhealthy would invite an orchestrator to restart it, which only adds sessions.
const DEGRADED_ONLY: &[&str] = &["token_limit"];
/// Consecutive failed export attempts after which an exporter counts as unhealthy.
const EXPORTER_UNHEALTHY_AFTER: u64 = 5;

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

    fn receiver_status(r: &ReceiverStats) -> (Status, Value) {
        let s = r.state();
        let status = if s.last_attempt.is_none() {
            Status::Degraded
        } else if s.consecutive_failures >= RECEIVER_UNHEALTHY_AFTER
            && !s
                .last_error_kind
                .is_some_and(|k| DEGRADED_ONLY.contains(&k))
        {
            Status::Unhealthy
        } else if s.consecutive_failures > 0 || !s.warnings.is_empty() {
            Status::Degraded
        } else if s
            .last_success
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > r.interval * 3 + Duration::from_secs(5))
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
        let receivers: Vec<(String, (Status, Value))> = self
            .stats
            .receivers()
            .into_iter()
            .filter(|(id, _)| self.receivers.contains(id))
            .map(|(id, r)| (id, Self::receiver_status(&r)))
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
        let receivers: Vec<_> = self.stats.receivers();
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
        match req.uri().path() {
            "/health" | "/health/" => {
                let (status, doc) = self.report();
                let code = if status == Status::Unhealthy {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                };
                json_response(code, &doc)
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
