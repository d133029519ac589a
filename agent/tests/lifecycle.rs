//! Health verdicts while an exporter is failing, and shutdown with undelivered data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;

use std::net::SocketAddr;
use std::time::Duration;

use testkit::{Proc, TempDir, http_get, loopback, wait_until};

/// An agent whose OTLP exporter points at a port where nobody listens.
fn start_with_dead_collector(shutdown_timeout: &str) -> (Proc, SocketAddr, SocketAddr, TempDir) {
    let (prom, health, dead) = (loopback(), loopback(), loopback());
    let dir = TempDir::new("agent-lifecycle");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "receivers:
  self:
    collection_interval: 1s
    initial_delay: 0s
exporters:
  prometheus:
    endpoint: {prom}
  otlp:
    endpoint: http://{dead}
    timeout: 1s
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 200ms
extensions:
  health_check:
    endpoint: {health}
service:
  extensions: [health_check]
  shutdown_timeout: {shutdown_timeout}
  scheduler:
    base_interval: 1s
  pipelines:
    metrics:
      receivers: [self]
      exporters: [prometheus, otlp]
"
        ),
    )
    .unwrap();
    let agent = lab::spawn(&cfg, &[]);
    (agent, prom, health, dir)
}

fn health_doc(addr: SocketAddr) -> serde_json_lite::Doc {
    let (code, body) = http_get(addr, "/health", &[]).unwrap();
    serde_json_lite::Doc { code, body }
}

mod serde_json_lite {
    /// The health document as text, with the few lookups the test needs.
    pub struct Doc {
        pub code: u16,
        pub body: String,
    }

    impl Doc {
        /// The `"status"` of the component block that starts at `"name": {`.
        pub fn status_of(&self, name: &str) -> Option<String> {
            let start = self.body.find(&format!("\"{name}\": {{"))?;
            let rest = &self.body[start..];
            let s = rest.find("\"status\": \"")? + "\"status\": \"".len();
            Some(rest[s..].split('"').next()?.to_owned())
        }

        /// The overall status (the last top-level `"status"` in the pretty document).
        pub fn overall(&self) -> Option<String> {
            let line = self.body.lines().find(|l| l.starts_with("  \"status\""))?;
            Some(line.split('"').nth(3)?.to_owned())
        }
    }
}

#[test]
fn a_failing_exporter_degrades_health_but_the_other_keeps_serving() {
    let (_agent, prom, health, _dir) = start_with_dead_collector("5s");
    wait_until(
        Duration::from_secs(30),
        "the OTLP exporter to be reported unhealthy",
        || {
            http_get(health, "/health", &[]).is_ok()
                && health_doc(health).status_of("otlp").as_deref() == Some("unhealthy")
        },
    );
    let doc = health_doc(health);
    assert_eq!(doc.code, 200, "{}", doc.body);
    assert_eq!(doc.overall().as_deref(), Some("degraded"), "{}", doc.body);
    assert_eq!(
        doc.status_of("prometheus").as_deref(),
        Some("healthy"),
        "{}",
        doc.body
    );
    assert!(
        doc.body.contains("export to http://"),
        "the last error names the endpoint: {}",
        doc.body
    );
    // Prometheus is unaffected and counts the retries of its sibling.
    wait_until(
        Duration::from_secs(10),
        "retries to show on /metrics",
        || {
            http_get(prom, "/metrics", &[]).is_ok_and(|(_, b)| {
                b.lines().any(|l| {
                    l.starts_with("ecs_otel_agent_exporter_retries_total{exporter=\"otlp\"")
                        && !l.ends_with(" 0")
                })
            })
        },
    );
}

#[test]
fn sigterm_stops_within_the_shutdown_timeout_even_with_undelivered_data() {
    let (mut agent, _prom, health, _dir) = start_with_dead_collector("2s");
    lab::wait_ready(&mut agent, health);
    wait_until(
        Duration::from_secs(10),
        "batches to pile up for the dead collector",
        || {
            health_doc(health)
                .status_of("otlp")
                .is_some_and(|s| s != "healthy")
        },
    );
    agent.signal("TERM");
    // The exporter would retry for its max_elapsed_time (5 min): exiting at all within the
    // wait, in this order, shows the 2 s shutdown deadline cut it short.
    let status = agent.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status:?}\n{}", agent.output());
    let out = agent.output();
    let at = |line: &str| {
        out.find(line)
            .unwrap_or_else(|| panic!("{line:?} not logged:\n{out}"))
    };
    let shutting_down = at("shutting down: no new collections");
    let dropped = at("shutdown deadline reached; undelivered batches dropped");
    let stopped = out.rfind("stopped").unwrap_or(0);
    assert!(
        shutting_down < dropped && dropped < stopped,
        "out of order:\n{out}"
    );
    assert!(!out.contains("agent stopped on an error"), "{out}");
}

#[test]
fn sigint_works_like_sigterm() {
    let (mut agent, _prom, health, _dir) = start_with_dead_collector("1s");
    lab::wait_ready(&mut agent, health);
    agent.signal("INT");
    assert!(
        agent.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        agent.output()
    );
}
