//! SIGTERM during a slow collection: the run in progress gets half of
//! `service.shutdown_timeout` to finish, its batch and its trace are delivered, and the
//! agent still exits within the timeout. The simulator runs in this process (its latency
//! fault makes the cycle slow); rotel is the OTLP receiver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ecs_sim::faults::FaultRule;
use ecs_sim::{SimConfig, Version};
use testkit::wait_until;

mod lab;

use lab::Lab;

/// The time (Unix nanoseconds) of each dashboard snapshot rotel printed: that of its
/// `emcecs.capacity.total` point, the run's start.
fn dashboard_snapshots(out: &str) -> Vec<u64> {
    let mut times = Vec::new();
    let mut in_metric = false;
    for line in out.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("-> Name: ") {
            in_metric = name == "emcecs.capacity.total";
        } else if in_metric && let Some(v) = t.strip_prefix("Timestamp: ") {
            times.push(v.trim().parse().unwrap());
            in_metric = false;
        }
    }
    times
}

/// How many `collect ecs/lab/dashboard` root spans rotel printed.
fn dashboard_traces(out: &str) -> usize {
    out.lines()
        .filter(|l| {
            l.trim()
                .split_once(':')
                .is_some_and(|(k, v)| k.trim() == "Name" && v.trim() == "collect ecs/lab/dashboard")
        })
        .count()
}

#[test]
fn a_collection_running_at_sigterm_finishes_and_is_delivered_within_the_timeout() {
    let lab = Lab::start("agent-shutdown", SimConfig::small(Version::Ecs38));
    let shutdown_timeout = Duration::from_secs(6);
    let cfg = lab.config(&format!(
        r#"
receivers:
  ecs/lab:
    endpoint: {url}
    username: emcmonitor
    password: monitor-pass
    tls:
      ca_file: {ca}
    collection_interval: 4s
    initial_delay: 0s
    collectors:
      node_stats:
        enabled: false
      billing:
        enabled: false
      iam:
        enabled: false
      performance:
        enabled: false
      audit:
        enabled: false
exporters:
  prometheus:
    endpoint: {prom}
  otlp:
    endpoint: http://{otlp}
    timeout: 5s
extensions:
  health_check:
    endpoint: {health}
service:
  extensions: [health_check]
  shutdown_timeout: {timeout}s
  scheduler:
    base_interval: 1s
  pipelines:
    metrics:
      receivers: [ecs/lab]
      exporters: [prometheus, otlp]
    traces:
      exporters: [otlp]
"#,
        url = lab.sim.url(),
        ca = lab.ca().display(),
        otlp = lab.rotel.grpc,
        prom = lab.prom,
        health = lab.health,
        timeout = shutdown_timeout.as_secs(),
    ));
    let mut agent = lab::spawn_ready(&cfg, lab.health, &[]);
    wait_until(Duration::from_secs(30), "the first cycle at rotel", || {
        let out = lab.rotel.output();
        !dashboard_snapshots(&out).is_empty() && dashboard_traces(&out) > 0
    });

    // The next cycle's read of the local zone now takes 2 s: SIGTERM while it waits.
    let slowed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    lab.sim.sim.faults.update(|f| {
        f.rules.push(FaultRule {
            path: "/dashboard/zones/localzone".into(),
            latency_ms: 2000,
            ..FaultRule::default()
        })
    });
    wait_until(
        Duration::from_secs(10),
        "the second cycle to be running",
        || lab.sim.sim.log.in_flight() > 0,
    );
    let term = Instant::now();
    let out = lab::stop(&mut agent, "TERM");
    let took = term.elapsed();
    assert!(
        took < shutdown_timeout + Duration::from_secs(1),
        "stopped after {took:?}\n{out}"
    );
    assert!(!out.contains("run still going at shutdown"), "{out}");

    // The slow cycle's snapshot was delivered before the exit, and every cycle's trace.
    let delivered = lab.rotel.output();
    let snapshots = dashboard_snapshots(&delivered);
    assert!(
        snapshots.iter().any(|t| *t >= slowed),
        "no snapshot of the slow cycle: {snapshots:?} (slowed at {slowed})\n{out}"
    );
    assert_eq!(dashboard_traces(&delivered), snapshots.len(), "{out}");
    lab.stop();
}
