//! The agent's own spans across an OTLP outage: rotel (the receiver) is killed, a few
//! collection cycles happen, a new rotel starts on the same port; every cycle's trace and
//! every metric snapshot arrives, counted on both sides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use testkit::{Rotel, TempDir, free_port, http_get, loopback, wait_until};

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
    timeout: 2s
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 1s
extensions:
  health_check:
    endpoint: {health}
service:
  extensions: [health_check]
  shutdown_timeout: 10s
  scheduler:
    base_interval: 1s
  pipelines:
    metrics:
      receivers: [self]
      exporters: [prometheus, otlp]
    traces:
      exporters: [otlp]
"#
    )
}

/// The `run` attribute of every `collect self` root span rotel printed.
fn collect_runs(out: &str) -> Vec<u64> {
    let mut runs = Vec::new();
    let mut in_collect = false;
    for line in out.lines() {
        let t = line.trim();
        if t.starts_with("Span #") {
            in_collect = false;
        } else if t
            .split_once(':')
            .is_some_and(|(k, v)| k.trim() == "Name" && v.trim() == "collect self")
        {
            in_collect = true;
        } else if in_collect && let Some(v) = t.strip_prefix("-> run: Int(") {
            runs.push(v.trim_end_matches(')').parse().unwrap());
            in_collect = false;
        }
    }
    runs
}

/// How many snapshots of the `self` receiver rotel printed (one uptime point each).
fn snapshots(out: &str) -> usize {
    out.lines()
        .filter(|l| l.trim().ends_with("ecs_otel_agent.uptime"))
        .count()
}

/// A counter or gauge of the agent's /metrics page (0 when absent).
fn scraped(prom: SocketAddr, series: &str) -> f64 {
    let (_, body) = http_get(prom, "/metrics", &[]).unwrap();
    body.lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn no_span_or_metric_is_lost_while_the_otlp_receiver_is_down() {
    let port = free_port();
    let rotel = Rotel::start(port);
    let (prom, health) = (loopback(), loopback());
    let dir = TempDir::new("agent-spans");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(&cfg, agent_config(prom, health, rotel.grpc)).unwrap();
    let mut agent = lab::spawn_ready(&cfg, health, &[]);
    wait_until(Duration::from_secs(30), "a first trace at rotel", || {
        !collect_runs(&rotel.output()).is_empty()
    });

    // The outage: 60 collection cycles (a minute) with nobody listening. What the first
    // rotel printed is read at the end, once its output is all in.
    // Stopped, not killed: rotel acknowledges a request before printing it, so a kill could
    // lose what the agent rightly counted as delivered.
    let mut old = rotel;
    old.proc.terminate(Duration::from_secs(20));
    let runs = "ecs_otel_agent_receiver_runs_total{receiver=\"self\"";
    let at_kill = scraped(prom, runs);
    wait_until(
        Duration::from_secs(120),
        "sixty cycles during the outage",
        || scraped(prom, runs) >= at_kill + 60.0,
    );
    let rotel = Rotel::start(port);

    // Everything queued arrives once rotel is back; then a clean stop delivers the rest.
    wait_until(
        Duration::from_secs(30),
        "the outage's traces at rotel",
        || {
            collect_runs(&rotel.output())
                .iter()
                .any(|r| *r as f64 > at_kill + 60.0)
        },
    );
    let out = lab::stop(&mut agent, "TERM");
    let mut rotel = rotel;
    rotel.proc.terminate(Duration::from_secs(20));

    let (before, after) = (old.output(), rotel.output());
    let mut seen: Vec<u64> = collect_runs(&before);
    seen.extend(collect_runs(&after));
    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a trace arrived twice: {seen:?}");
    let max = *unique.iter().max().unwrap();
    let expected: BTreeSet<u64> = (1..=max).collect();
    assert_eq!(
        unique, expected,
        "traces missing at rotel\n{out}\n--- rotel before ---\n{before}"
    );
    assert!(
        max as f64 >= at_kill + 60.0,
        "{max} runs, {at_kill} at the outage"
    );
    // Every cycle's snapshot arrived too (the metrics queue had room).
    assert_eq!(
        snapshots(&before) + snapshots(&after),
        max as usize,
        "metric snapshots vs runs"
    );
    assert!(!out.contains("spans dropped"), "{out}");
}
