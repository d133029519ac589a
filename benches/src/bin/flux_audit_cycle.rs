//! One performance (Flux) cycle and one audit cycle against the simulator's large preset
//! (1,000 namespaces, 20,000 buckets) with 100 ms of simulated ECS latency on every call and
//! the agent's 4 calls in flight: wall time, ECS calls, points, log records, peak RSS of this
//! process. Each collector runs twice: a first cycle (the audit collector reading the hour
//! before it started) and a steady one.
//!
//!   cargo build --release -p ecs-sim -p benches
//!   ./target/release/flux_audit_cycle        # uses ./target/release/ecs-sim

use std::time::{Duration, Instant};

use benches::ecs::{LargeSim, cycle_calls, points, scrape};
use receiver_ecs::CollectorKind;

const LATENCY_MS: u64 = 100;

fn log_records(s: &pipeline::Snapshot) -> usize {
    s.resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum()
}

#[tokio::main]
async fn main() {
    let sim = LargeSim::start();
    let mut cfg = sim.config();
    cfg.collectors.dashboard.schedule.enabled = false;
    cfg.collectors.node_stats.schedule.enabled = false;
    cfg.collectors.performance.schedule.enabled = true;
    cfg.collectors.audit.schedule.enabled = true;
    cfg.collectors.audit.initial_lookback = Duration::from_secs(3600);
    let built = benches::ecs::Collectors::build(&cfg);
    sim.faults(&format!(
        "{{\"rules\":[{{\"path\":\"*\",\"latency_ms\":{LATENCY_MS}}}]}}"
    ))
    .await;
    for (kind, name) in [
        (CollectorKind::Performance, "performance"),
        (CollectorKind::Audit, "audit"),
    ] {
        let c = built.of(kind);
        for run in 1..=2u64 {
            sim.reset().await;
            let t = Instant::now();
            let (snapshot, _) = scrape(&c, run, Duration::from_secs(280)).await;
            let wall = t.elapsed();
            let calls = cycle_calls(&sim.stats().await);
            let (_, peak) = benches::rss();
            println!(
                "{name} cycle {run}: {:.2} s wall, {calls} ECS calls, {} points, {} log records, {} warnings, peak RSS {} MB",
                wall.as_secs_f64(),
                points(&snapshot),
                log_records(&snapshot),
                snapshot.warnings.len(),
                peak >> 20
            );
        }
    }
    built.shutdown().await;
}
