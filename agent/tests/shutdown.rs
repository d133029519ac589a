//! SIGTERM during a slow collection: the run in progress gets half of
//! `service.shutdown_timeout` to finish, its batch and its trace are delivered, and the
//! agent still exits within the timeout. The simulator runs in this process (its latency
//! fault makes the cycle slow); rotel is the OTLP receiver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use ecs_sim::faults::FaultRule;
use ecs_sim::{SimConfig, Version};
use testkit::{Proc, Rotel, TempDir, free_port, http_get, loopback, wait_until};

/// How many dashboard snapshots rotel printed (one `emcecs.capacity.total` metric each).
fn dashboard_snapshots(out: &str) -> usize {
    out.lines()
        .filter(|l| l.trim() == "-> Name: emcecs.capacity.total")
        .count()
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
        dashboard_snapshots(&out) == 1 && dashboard_traces(&out) == 1
    });

    // The next cycle's read of the local zone now takes 2 s: SIGTERM while it waits.
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

    // The slow cycle's snapshot and trace were delivered before the exit.
    let delivered = rotel.output();
    assert_eq!(dashboard_snapshots(&delivered), 2, "{out}");
    assert_eq!(dashboard_traces(&delivered), 2, "{out}");
    rt.block_on(sim.stop());
}
