//! The built binary with the `self` receiver and both exporters, against a real OTLP
//! receiver (rotel) and a real Prometheus server scraping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;

use std::net::SocketAddr;
use std::time::Duration;

use testkit::{
    Prometheus, Rotel, TempDir, free_port, http_get, loopback, promtool_check_metrics, wait_until,
};

fn agent_config(prom: SocketAddr, health: SocketAddr, otlp: SocketAddr) -> String {
    format!(
        r#"
receivers:
  self:
    collection_interval: 1s
    initial_delay: 0s
exporters:
  prometheus:
    endpoint: {prom}
  otlp:
    endpoint: http://{otlp}
    timeout: 5s
    retry_on_failure:
      initial_interval: 200ms
extensions:
  health_check:
    endpoint: {health}
service:
  extensions: [health_check]
  scheduler:
    base_interval: 1s
  telemetry:
    resource:
      deployment.environment: e2e
  pipelines:
    metrics:
      receivers: [self]
      exporters: [prometheus, otlp]
    traces:
      exporters: [otlp]
"#
    )
}

#[test]
fn metrics_and_spans_reach_rotel_and_prometheus() {
    let rotel = Rotel::start(free_port());
    let (prom, health) = (loopback(), loopback());
    let dir = TempDir::new("agent-e2e");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(&cfg, agent_config(prom, health, rotel.grpc)).unwrap();

    let mut agent = lab::spawn_ready(&cfg, health, &[]);

    // Prometheus scrapes the agent and stores its series.
    let server = Prometheus::start(&[prom], "");
    wait_until(
        Duration::from_secs(60),
        "Prometheus to store the agent's series",
        || {
            server
                .query("ecs_otel_agent_receiver_runs_total{receiver=\"self\"}")
                .contains("\"job\":\"ecs-otel-agent\"")
        },
    );
    let r = server.query("ecs_otel_agent_process_memory_usage_bytes");
    assert!(r.contains("\"status\":\"success\""), "{r}");
    assert!(
        r.contains("\"otel_scope_name\":\"ecs-otel-agent/receiver/self\""),
        "{r}"
    );
    let r = server.query("target_info");
    assert!(r.contains("\"deployment_environment\":\"e2e\""), "{r}");
    let r = server.query("ecs_otel_agent_receiver_run_duration_seconds_bucket{le=\"+Inf\"}");
    assert!(r.contains("\"result\":[{"), "{r}");

    // promtool accepts exactly what the endpoint serves.
    let (status, body) = http_get(prom, "/metrics", &[]).unwrap();
    assert_eq!(status, 200);
    let (ok, report) = promtool_check_metrics(body.as_bytes());
    assert!(ok && report.is_empty(), "promtool: {report}\n{body}");

    // rotel got the metrics and the collection spans.
    wait_until(
        Duration::from_secs(30),
        "rotel to print the agent's metrics and spans",
        || {
            let out = rotel.output();
            out.contains("ecs_otel_agent.receiver.runs") && out.contains("collect self")
        },
    );
    let out = rotel.output();
    assert!(out.contains("service.name: Str(ecs-otel-agent)"), "{out}");
    assert!(out.contains("ecs_otel_agent.process.memory.usage"), "{out}");

    // Health reports every component.
    let (code, doc) = http_get(health, "/health", &[]).unwrap();
    assert_eq!(code, 200, "{doc}");
    assert!(doc.contains("\"status\": \"healthy\""), "{doc}");
    for part in ["\"self\"", "\"prometheus\"", "\"otlp\"", "\"last_success\""] {
        assert!(doc.contains(part), "{part} missing from {doc}");
    }

    // SIGTERM: a clean stop, exit code 0.
    let out = lab::stop(&mut agent, "TERM");
    assert!(out.contains("stopped"), "{out}");
}

#[test]
fn not_ready_before_the_first_collection() {
    let (prom, health) = (loopback(), loopback());
    let dir = TempDir::new("agent-ready");
    let cfg = dir.path().join("agent.yaml");
    // A first run an hour away, far beyond any wait below: ready must stay 503 meanwhile.
    std::fs::write(
        &cfg,
        format!(
            "receivers:\n  self:\n    initial_delay: 1h\nexporters:\n  prometheus:\n    endpoint: {prom}\nextensions:\n  health_check:\n    endpoint: {health}\nservice:\n  extensions: [health_check]\n  pipelines:\n    metrics: {{receivers: [self], exporters: [prometheus]}}\n"
        ),
    )
    .unwrap();
    let _agent = lab::spawn(&cfg, &[]);
    wait_until(Duration::from_secs(30), "the health endpoint", || {
        http_get(health, "/health/live", &[]).is_ok_and(|(s, _)| s == 200)
    });
    let (code, body) = http_get(health, "/health/ready", &[]).unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("receiver self (first collection)"), "{body}");
}

#[test]
fn a_port_in_use_stops_the_start_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap();
    let dir = TempDir::new("agent-port");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!("receivers:\n  self: {{}}\nexporters:\n  prometheus:\n    endpoint: {port}\nservice:\n  pipelines:\n    metrics: {{receivers: [self], exporters: [prometheus]}}\n"),
    )
    .unwrap();
    let mut agent = lab::spawn(&cfg, &[]);
    let status = agent.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    let out = agent.output();
    assert!(
        out.contains(&format!(
            "exporters.prometheus: cannot start: cannot listen on {port}"
        )),
        "{out}"
    );
    assert!(!out.contains("agent started"), "{out}");
}
