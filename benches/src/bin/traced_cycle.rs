//! The cost of tracing a collection cycle: one IAM cycle on the simulator's large preset
//! (about 27,000 calls) in a process without tracing, with the agent's tracing stack and
//! its default span cap (2000), and with the cap lifted. The tracing stack is the agent's
//! own (`Telemetry::init`), sending to a rotel that discards what it receives. CPU time is
//! this process's (user + system), over the cycle and the 2 s after it in which the span
//! queue is sent.
//!
//!   cargo build --release -p ecs-sim -p benches
//!   ./target/release/traced_cycle off | capped | uncapped

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benches::ecs::{LargeSim, cycle_calls, scrape_expecting};
use ecs_otel_agent::telemetry::Telemetry;
use pipeline::PipelineStats;
use receiver_ecs::CollectorKind;
use tracing::Instrument;

/// User + system CPU seconds of this process.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start past its ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // utime and stime are fields 14 and 15 of stat: 11 and 12 after the state letter.
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    ticks as f64 / 100.0
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

#[tokio::main]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "off".into());
    let cap: Option<u64> = match mode.as_str() {
        "off" => None,
        "capped" => Some(2000),
        "uncapped" => Some(10_000_000),
        other => panic!("{other}: off, capped or uncapped"),
    };
    let sim = LargeSim::start();
    let port = free_port();
    let mut rotel = cap.map(|_| {
        match Command::new(testkit::rotel_binary())
            .args([
                "start",
                "--otlp-grpc-endpoint",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "--otlp-http-endpoint",
                "127.0.0.1:0",
                "--exporter",
                "blackhole",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("rotel: {e}"),
        }
    });
    let stats = PipelineStats::new();
    let mut telemetry = cap.map(|cap| {
        let yaml = format!(
            "receivers:\n  self: {{}}\nexporters:\n  otlp:\n    endpoint: http://127.0.0.1:{port}\n\
service:\n  telemetry:\n    logs: {{level: error}}\n    traces: {{max_spans_per_cycle: {cap}}}\n  pipelines:\n    metrics: {{receivers: [self], exporters: [otlp]}}\n    traces: {{exporters: [otlp]}}\n"
        );
        let cfg = match ecs_otel_agent::config::from_yaml(&yaml, &|_| None) {
            Ok(c) => c,
            Err(e) => panic!("{e:?}"),
        };
        match Telemetry::init(&cfg, &stats) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    });
    let cfg = sim.iam_config();
    let built = benches::ecs::Collectors::build(&cfg);
    let iam = built.of(CollectorKind::Iam);
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for run in 1..=11u64 {
        sim.reset().await;
        let (c0, t) = (cpu(), Instant::now());
        // The scheduler's root span, as it opens it.
        let root = tracing::info_span!(
            target: "ecs_otel_agent::collect",
            parent: None,
            "collect",
            otel.name = "collect ecs/bench/iam",
            otel.kind = "internal",
        );
        scrape_expecting(&iam, run, Duration::from_secs(280), |w| {
            w.starts_with("authentication provider")
        })
        .instrument(root.clone())
        .await;
        let counted = ecs_otel_agent::span_cap::cycle_counts(&root).unwrap_or_default();
        let wall = t.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let used = cpu() - c0;
        let calls = cycle_calls(&sim.stats().await);
        let spans = stats
            .exporters()
            .into_iter()
            .map(|(_, e)| e.span_counts())
            .fold((0, 0), |(s, d), c| {
                (s + c.sent, d + c.dropped.values().sum::<u64>())
            });
        // The first cycle also reads every policy version: it is not like the others.
        if run > 1 {
            walls.push(wall.as_secs_f64());
            cpus.push(used);
        }
        println!(
            "{mode} cycle {run}: {:.2} s wall, {used:.2} s CPU (cycle + 2 s), {calls} calls ({} client spans opened, {} spans not recorded); spans so far: {} sent, {} dropped",
            wall.as_secs_f64(),
            counted.calls,
            counted.unrecorded,
            spans.0,
            spans.1
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    println!(
        "{mode}: median of cycles 2-11: {:.2} s wall, {:.2} s CPU",
        median(&mut walls),
        median(&mut cpus)
    );
    built.shutdown().await;
    if let Some(t) = telemetry.as_mut() {
        t.drain(Duration::from_secs(5)).await;
    }
    if let Some(r) = rotel.as_mut() {
        let _ = r.kill();
        let _ = r.wait();
    }
}
