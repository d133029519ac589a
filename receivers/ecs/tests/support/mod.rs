//! A simulator per test, a receiver configured for it, and readers of the snapshots.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod calls;
pub mod expect;
pub mod flux;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ecs_sim::{RunningSim, SimConfig, Version};
use pipeline::otlp::common::v1::any_value::Value as AnyValue;
use pipeline::otlp::metrics::v1::{metric::Data, number_data_point};
use pipeline::{Collector as _, ReceiverError, ScrapeContext, Snapshot};
use receiver_ecs::{Collector, CollectorKind, EcsConfig, EcsSettings};
use testkit::TempDir;
use tokio_util::sync::CancellationToken;

pub const USER: &str = "emcmonitor";

pub struct Env {
    pub sim: RunningSim,
    pub cfg: EcsConfig,
    _dir: TempDir,
}

/// A small simulated cluster of `version`, over HTTPS with its own certificate.
pub async fn start(version: Version, tweak: impl FnOnce(&mut SimConfig)) -> Env {
    let mut sc = SimConfig::small(version);
    tweak(&mut sc);
    let sim = ecs_sim::start(sc).await.expect("simulator starts");
    let dir = TempDir::new("ecs-receiver-test");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, sim.cert_pem.as_deref().unwrap()).unwrap();
    let mut cfg = EcsConfig::new(EcsSettings {
        endpoint: sim.url(),
        username: USER.into(),
        password: Some(pipeline::config::Secret::new("monitor-pass")),
        cluster_name: Some("lab".into()),
        ..EcsSettings::default()
    });
    cfg.tls.ca_file = Some(ca);
    Env {
        sim,
        cfg,
        _dir: dir,
    }
}

impl Env {
    /// The collectors of one cluster for the current config.
    pub fn collectors(&self) -> Vec<Arc<Collector>> {
        receiver_ecs::collectors("lab", &self.cfg, "ecs-otel-agent")
            .expect("collectors build")
            .into_iter()
            .map(|(_, c)| c)
            .collect()
    }

    pub fn tokens(&self) -> usize {
        self.sim.sim.sessions.count(USER)
    }

    /// (logins, logouts, refused logins) the simulator saw.
    pub fn logins(&self) -> (u64, u64, u64) {
        self.sim.sim.sessions.totals()
    }

    pub fn calls(&self, method_route: &str) -> u64 {
        self.sim.sim.log.calls(method_route)
    }
}

pub fn of(cs: &[Arc<Collector>], kind: CollectorKind) -> Arc<Collector> {
    cs.iter().find(|c| c.kind == kind).cloned().unwrap()
}

/// One scheduled run of `c` with `timeout`.
pub async fn run(c: &Collector, run: u64, timeout: Duration) -> Result<Snapshot, ReceiverError> {
    run_at(c, run, timeout, SystemTime::now()).await
}

/// One scheduled run whose cycle starts at `started` (the time its points carry and
/// ages are measured from): with the simulator's clock frozen at the same second, every
/// figure of the cycle is exact.
pub async fn run_at(
    c: &Collector,
    run: u64,
    timeout: Duration,
    started: SystemTime,
) -> Result<Snapshot, ReceiverError> {
    let ctx = ScrapeContext {
        job: "ecs/lab".into(),
        started,
        deadline: tokio::time::Instant::now() + timeout,
        interval: Duration::from_secs(60),
        cancel: CancellationToken::new(),
        run,
    };
    c.scrape(&ctx).await
}

/// 2026-06-15T12:02:30Z: mid-month, and both the clock and the billing data (15 minutes
/// behind) sit in the middle of a 5-minute sample.
pub const FROZEN_AT: i64 = 1_781_524_950;

/// A small cluster of `version` whose clock stands still at [`FROZEN_AT`] (plus any
/// advance): every figure it serves is a function of the model and that second.
pub async fn start_frozen(version: Version, tweak: impl FnOnce(&mut SimConfig)) -> Env {
    start(version, |s| {
        s.frozen_at = Some(FROZEN_AT);
        tweak(s)
    })
    .await
}

impl Env {
    /// The simulator's clock as a `SystemTime`, for [`run_at`].
    pub fn sim_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.sim.sim.clock.now().max(0) as u64)
    }
}

/// A successful run at the simulator's (frozen) time.
pub async fn ok_at(env: &Env, c: &Collector, n: u64) -> Snapshot {
    succeeded(
        c,
        n,
        run_at(c, n, Duration::from_secs(20), env.sim_time()).await,
    )
}

/// The snapshot of run `n` of `c`, or a panic naming the collector and the error.
pub fn succeeded(c: &Collector, n: u64, r: Result<Snapshot, ReceiverError>) -> Snapshot {
    match r {
        Ok(s) => s,
        Err(e) => panic!("run {n} of {:?} failed: {} {}", c.kind, e.kind, e.message),
    }
}

pub async fn ok(c: &Collector, n: u64) -> Snapshot {
    succeeded(c, n, run(c, n, Duration::from_secs(20)).await)
}

/// One data point as the tests read it.
#[derive(Debug, Clone)]
pub struct Point {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub value: f64,
    /// Marked "no recorded value" (a staleness marker).
    pub stale: bool,
    /// Start time of a counter (seconds since the epoch), 0 for a gauge.
    pub start: i64,
    /// The point's own time (seconds since the epoch).
    pub time: i64,
}

fn any_text(v: &Option<pipeline::otlp::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

pub fn points(s: &Snapshot) -> Vec<Point> {
    let mut out = Vec::new();
    for rm in s.resource_metrics.iter().map(|r| r.to_otlp()) {
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let nums = match &m.data {
                    Some(Data::Gauge(g)) => &g.data_points,
                    Some(Data::Sum(g)) => &g.data_points,
                    Some(Data::Histogram(h)) => {
                        for p in &h.data_points {
                            out.push(Point {
                                name: m.name.clone(),
                                attrs: p
                                    .attributes
                                    .iter()
                                    .map(|kv| (kv.key.clone(), any_text(&kv.value)))
                                    .collect(),
                                value: p.count as f64,
                                stale: p.flags & 1 == 1,
                                start: (p.start_time_unix_nano / 1_000_000_000) as i64,
                                time: (p.time_unix_nano / 1_000_000_000) as i64,
                            });
                        }
                        continue;
                    }
                    _ => continue,
                };
                for p in nums {
                    out.push(Point {
                        name: m.name.clone(),
                        attrs: p
                            .attributes
                            .iter()
                            .map(|kv| (kv.key.clone(), any_text(&kv.value)))
                            .collect(),
                        value: match p.value {
                            Some(number_data_point::Value::AsInt(i)) => i as f64,
                            Some(number_data_point::Value::AsDouble(d)) => d,
                            None => f64::NAN,
                        },
                        stale: p.flags & 1 == 1,
                        start: (p.start_time_unix_nano / 1_000_000_000) as i64,
                        time: (p.time_unix_nano / 1_000_000_000) as i64,
                    });
                }
            }
        }
    }
    out
}

/// Points of `name` whose attributes include `attrs`.
pub fn find(s: &Snapshot, name: &str, attrs: &[(&str, &str)]) -> Vec<Point> {
    points(s)
        .into_iter()
        .filter(|p| {
            p.name == name
                && attrs
                    .iter()
                    .all(|(k, v)| p.attrs.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The one live point of `name` with `attrs`.
pub fn point(s: &Snapshot, name: &str, attrs: &[(&str, &str)]) -> Point {
    let ps: Vec<Point> = find(s, name, attrs)
        .into_iter()
        .filter(|p| !p.stale)
        .collect();
    assert_eq!(ps.len(), 1, "{name} {attrs:?}: {ps:?}");
    ps[0].clone()
}

/// The one live value of `name` with `attrs`.
pub fn value(s: &Snapshot, name: &str, attrs: &[(&str, &str)]) -> f64 {
    let ps: Vec<Point> = find(s, name, attrs)
        .into_iter()
        .filter(|p| !p.stale)
        .collect();
    assert_eq!(ps.len(), 1, "{name} {attrs:?}: {ps:?}");
    ps[0].value
}

pub fn names(s: &Snapshot) -> std::collections::BTreeSet<String> {
    points(s).into_iter().map(|p| p.name).collect()
}

/// Resource attributes of the snapshot.
pub fn resource(s: &Snapshot) -> BTreeMap<String, String> {
    s.resource_metrics[0]
        .resource
        .as_ref()
        .map(|r| {
            r.attributes
                .iter()
                .map(|kv| (kv.key.clone(), any_text(&kv.value)))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `cond` every 50 ms until it holds or `deadline` passes.
pub async fn eventually<F, Fut>(deadline: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "not within {deadline:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs out through the collectors and checks that the simulator holds no token of ours.
pub async fn finish(env: &Env, cs: &[Arc<Collector>]) {
    for c in cs {
        c.shutdown().await;
    }
    assert_eq!(env.tokens(), 0, "tokens left after shutdown");
}
