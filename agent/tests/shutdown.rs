//! SIGTERM during a slow collection: the run in progress gets half of
//! `service.shutdown_timeout` to finish, its batch and its trace are delivered, and the
//! agent still exits within the timeout. The simulator runs in this process (its latency
//! fault makes the cycle slow); rotel is the OTLP receiver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ecs_sim::faults::FaultRule;
use ecs_sim::{SimConfig, Version};
use testkit::{Proc, Rotel, TempDir, free_port, http_get, loopback, wait_until};

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(ecs_sim::start(SimConfig::small(Version::Ecs38)))
        .unwrap();
    let dir = TempDir::new("agent-shutdown");
    let ca = dir.path().join("ecs-ca.pem");
    std::fs::write(&ca, sim.cert_pem.as_deref().unwrap()).unwrap();
    let rotel = Rotel::start(free_port());
    let (prom, health) = (loopback(), loopback());
    let cfg = dir.path().join("agent.yaml");
    let shutdown_timeout = Duration::from_secs(6);
    std::fs::write(
        &cfg,
        format!(
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
            url = sim.url(),
            ca = ca.display(),
            otlp = rotel.grpc,
            timeout = shutdown_timeout.as_secs(),
        ),
    )
    .unwrap();
    let mut agent = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_ecs-otel-agent"))
            .arg("--config")
            .arg(&cfg),
    );
    let ready = Instant::now() + Duration::from_secs(30);
    while !http_get(health, "/health/ready", &[]).is_ok_and(|(s, _)| s == 200) {
        assert!(
            Instant::now() < ready && agent.try_wait().is_none(),
            "the agent is not ready:\n{}",
            agent.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until(Duration::from_secs(30), "the first cycle at rotel", || {
        let out = rotel.output();
        !dashboard_snapshots(&out).is_empty() && dashboard_traces(&out) > 0
    });

    // The next cycle's read of the local zone now takes 2 s: SIGTERM while it waits.
    let slowed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    sim.sim.faults.update(|f| {
        f.rules.push(FaultRule {
            path: "/dashboard/zones/localzone".into(),
            latency_ms: 2000,
            ..FaultRule::default()
        })
    });
    wait_until(
        Duration::from_secs(10),
        "the second cycle to be running",
        || sim.sim.log.in_flight() > 0,
    );
    let term = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &agent.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = agent.wait_exit(Duration::from_secs(20));
    let took = term.elapsed();
    let out = agent.output();
    assert!(status.success(), "{status:?}\n{out}");
    assert!(
        took < shutdown_timeout + Duration::from_secs(1),
        "stopped after {took:?}\n{out}"
    );
    assert!(!out.contains("run still going at shutdown"), "{out}");

    // The slow cycle's snapshot was delivered before the exit, and every cycle's trace.
    let delivered = rotel.output();
    let snapshots = dashboard_snapshots(&delivered);
    assert!(
        snapshots.iter().any(|t| *t >= slowed),
        "no snapshot of the slow cycle: {snapshots:?} (slowed at {slowed})\n{out}"
    );
    assert_eq!(dashboard_traces(&delivered), snapshots.len(), "{out}");
    rt.block_on(sim.stop());
}
