//! One full ECS collection (dashboard + node stats) against the simulator's large preset
//! (1,000 namespaces, 20,000 buckets, 16 nodes), run by the receiver exactly as the agent
//! runs it: wall time, ECS calls (checked against the catalog's formula) and the peak RSS
//! of this process (the simulator runs as its own process and is not counted).
//!
//!   cargo build --release -p ecs-sim -p benches
//!   ./target/release/ecs_cycle [cycles]      # uses ./target/release/ecs-sim
//!
//! The first cycle also reads every bucket's settings (every `bucket_config_interval`);
//! the steady cycles after it do not.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pipeline::{Receiver, ScrapeContext, Snapshot};
use receiver_ecs::{Collector, CollectorKind, EcsConfig, catalog};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn points(s: &Snapshot) -> usize {
    use pipeline::otlp::metrics::v1::metric::Data;
    s.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(g)) => g.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            _ => 0,
        })
        .sum()
}

async fn scrape(c: &Collector, run: u64) -> (Snapshot, Duration) {
    let ctx = ScrapeContext {
        receiver: "ecs/bench".into(),
        started: SystemTime::now(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(50),
        interval: Duration::from_secs(60),
        cancel: CancellationToken::new(),
        run,
    };
    let t = Instant::now();
    match c.scrape(&ctx).await {
        Ok(s) if s.warnings.is_empty() => (s, t.elapsed()),
        Ok(s) => panic!("{:?} cycle with warnings: {:?}", c.kind, s.warnings),
        Err(e) => panic!("{:?} cycle failed: {} {}", c.kind, e.kind, e.message),
    }
}

async fn sim_stats(http: &reqwest::Client, base: &str) -> Value {
    let r = match http.get(format!("{base}/__sim/stats")).send().await {
        Ok(r) => r,
        Err(e) => panic!("/__sim/stats: {e}"),
    };
    let body = match r.bytes().await {
        Ok(b) => b,
        Err(e) => panic!("/__sim/stats: {e}"),
    };
    match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => panic!("/__sim/stats: {e}"),
    }
}

/// Management and node calls since the last reset, logins aside (not part of a cycle).
fn cycle_calls(stats: &Value) -> u64 {
    let total = stats["requests"].as_u64().unwrap_or(0);
    let logins = stats["routes"]["GET /login"]["calls"].as_u64().unwrap_or(0);
    total - logins
}

async fn reset(http: &reqwest::Client, base: &str) {
    if let Err(e) = http.post(format!("{base}/__sim/reset")).send().await {
        panic!("/__sim/reset: {e}");
    }
}

#[tokio::main]
async fn main() {
    let cycles: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("ecs-cycle-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("{}: {e}", dir.display());
    }
    let ca = dir.join("ca.pem");
    let sim_bin = std::env::var("ECS_SIM")
        .ok()
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("ecs-sim")))
        })
        .unwrap_or_else(|| "ecs-sim".into());
    let mut child = match Command::new(&sim_bin)
        .args(["--preset", "large", "--listen", "127.0.0.1:0", "--cert-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot start {}: {e} (build it: cargo build --release -p ecs-sim)",
            sim_bin.display()
        ),
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_digit()).to_owned())
        .unwrap_or_else(|| panic!("no URL in the simulator's first line: {line:?}"));

    let mut cfg = EcsConfig {
        endpoint: base.clone(),
        username: "emcmonitor".into(),
        password: Some(pipeline::config::Secret::new("monitor-pass")),
        cluster_name: Some("bench".into()),
        ..EcsConfig::default()
    };
    cfg.tls.ca_file = Some(ca.clone());
    let built = match receiver_ecs::collectors("bench", &cfg, "ecs-otel-agent") {
        Ok(b) => b,
        Err(e) => panic!("collectors: {e}"),
    };
    let of = |k: CollectorKind| -> Arc<Collector> {
        match built.iter().find(|(_, c)| c.kind == k) {
            Some((_, c)) => c.clone(),
            None => panic!("no {k:?} collector"),
        }
    };
    let (dash, nodes) = (of(CollectorKind::Dashboard), of(CollectorKind::NodeStats));
    let http = {
        let tls = pipeline::tls::load_certs(&ca)
            .ok()
            .and_then(|certs| {
                let mut roots = rustls::RootCertStore::empty();
                for c in certs {
                    roots.add(c).ok()?;
                }
                rustls::ClientConfig::builder_with_provider(pipeline::tls::provider())
                    .with_safe_default_protocol_versions()
                    .ok()
                    .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            })
            .unwrap_or_else(|| panic!("cannot trust {}", ca.display()));
        match reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
        {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    };

    let model = sim_stats(&http, &base).await["model"].clone();
    let per_ns: Vec<u64> = model["buckets_per_namespace"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let alerts = model["unacked_alerts"].as_u64().unwrap_or(0);
    let node_count = model["nodes"].as_u64().unwrap_or(0);
    println!(
        "large preset: {} namespaces, {} buckets, {} nodes, {} unacknowledged alerts",
        per_ns.len(),
        per_ns.iter().sum::<u64>(),
        node_count,
        alerts
    );
    let rss_before = proc_status_kb("VmRSS:");

    // First cycle, as at start: both collectors at once, bucket settings included.
    reset(&http, &base).await;
    let t = Instant::now();
    let ((d, d_took), (n, n_took)) = tokio::join!(scrape(&dash, 1), scrape(&nodes, 1));
    let wall = t.elapsed();
    let stats = sim_stats(&http, &base).await;
    let calls = cycle_calls(&stats);
    // The node collector may learn the VDC itself (one localzone call) when it starts first.
    let expected = catalog::dashboard_calls(alerts, Some(&per_ns))
        + catalog::node_stats_calls(node_count, true);
    println!(
        "first cycle: {:.0} ms wall (dashboard {:.0} ms, node stats {:.0} ms), {} ECS calls (catalog: {} + at most 1 identity read), {} points",
        wall.as_secs_f64() * 1e3,
        d_took.as_secs_f64() * 1e3,
        n_took.as_secs_f64() * 1e3,
        calls,
        expected,
        points(&d) + points(&n)
    );
    assert!(
        calls == expected || calls == expected + 1,
        "first cycle made {calls} calls; the catalog says {expected}"
    );
    drop((d, n));

    let mut walls = Vec::new();
    for run in 2..=(cycles as u64 + 1) {
        reset(&http, &base).await;
        let t = Instant::now();
        let ((d, _), (n, _)) = tokio::join!(scrape(&dash, run), scrape(&nodes, run));
        walls.push(t.elapsed());
        let calls = cycle_calls(&sim_stats(&http, &base).await);
        let expected =
            catalog::dashboard_calls(alerts, None) + catalog::node_stats_calls(node_count, true);
        assert_eq!(calls, expected, "steady cycle {run}");
        if run == 2 {
            println!(
                "steady cycle: {calls} ECS calls (catalog: {expected}), {} points",
                points(&d) + points(&n)
            );
        }
    }
    walls.sort();
    println!(
        "steady cycles ({}): median {:.0} ms, max {:.0} ms wall",
        walls.len(),
        walls[walls.len() / 2].as_secs_f64() * 1e3,
        walls[walls.len() - 1].as_secs_f64() * 1e3
    );
    println!(
        "RSS: {} MB before the first cycle, {} MB after, peak {} MB",
        rss_before / 1024,
        proc_status_kb("VmRSS:") / 1024,
        proc_status_kb("VmHWM:") / 1024
    );
    for (_, c) in &built {
        c.shutdown().await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
