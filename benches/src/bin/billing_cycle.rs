//! One billing cycle against the simulator's large preset (1,000 namespaces, 20,000
//! buckets) with 100 ms of simulated ECS latency on every call and the agent's 4 calls in
//! flight: wall time, ECS calls (checked against the catalog's formula), peak RSS of this
//! process, and what the same cluster would cost a one-call-per-bucket reader and the
//! peer exporter's one-call-per-namespace reader.
//!
//!   cargo build --release -p ecs-sim -p benches
//!   ./target/release/billing_cycle           # uses ./target/release/ecs-sim

use std::time::{Duration, Instant};

use benches::ecs::{LargeSim, cycle_calls, points, scrape};
use receiver_ecs::{CollectorKind, catalog};

const LATENCY_MS: u64 = 100;
const IN_FLIGHT: u64 = 4;

/// Wall time of `calls` at the simulated latency with the agent's calls in flight.
fn at_latency(calls: u64) -> f64 {
    (calls.div_ceil(IN_FLIGHT) * LATENCY_MS) as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let sim = LargeSim::start();
    let mut cfg = sim.config();
    cfg.collectors.dashboard.schedule.enabled = false;
    cfg.collectors.node_stats.schedule.enabled = false;
    cfg.collectors.billing.schedule.enabled = true;
    cfg.collectors.billing.pricing.storage.default = Some(0.02);
    let built = benches::ecs::Collectors::build(&cfg);
    let billing = built.of(CollectorKind::Billing);
    let model = sim.stats().await["model"].clone();
    let per_ns = benches::ecs::buckets_per_namespace(&model);
    let (namespaces, buckets) = (per_ns.len() as u64, per_ns.iter().sum::<u64>());
    // Pages of bucket detail beyond the first (ECS: 100 buckets a page).
    let extra_pages: u64 = per_ns.iter().map(|b| b.div_ceil(100).max(1) - 1).sum();
    println!("large preset: {namespaces} namespaces, {buckets} buckets");

    sim.faults(&format!(
        "{{\"rules\":[{{\"path\":\"*\",\"latency_ms\":{LATENCY_MS}}}]}}"
    ))
    .await;
    sim.reset().await;
    let t = Instant::now();
    let (snapshot, _) = scrape(&billing, 1, Duration::from_secs(280)).await;
    let wall = t.elapsed();
    let calls = cycle_calls(&sim.stats().await);
    let expected = catalog::billing_calls(namespaces, namespaces, 100, extra_pages, true, true);
    let (_, peak) = benches::rss();
    println!(
        "billing cycle with samples: {:.2} s wall, {calls} ECS calls (catalog: {expected}), {} points, peak RSS {} MB",
        wall.as_secs_f64(),
        points(&snapshot),
        peak >> 20
    );
    assert_eq!(calls, expected, "calls against the catalog's formula");

    // The same figures read other ways, at the same latency and calls in flight:
    // per bucket, info + month sample + trend sample, plus the namespace list;
    // the peer exporter: namespace info and quota per namespace, no bucket figures.
    let per_bucket = 1 + 3 * buckets;
    let peer = 1 + 2 * namespaces;
    println!("| approach | calls | wall time at {LATENCY_MS} ms, {IN_FLIGHT} in flight |");
    println!("|---|---:|---:|");
    println!(
        "| this agent (bulk, batches of 100) | {calls} | {:.1} s measured ({:.1} s computed) |",
        wall.as_secs_f64(),
        at_latency(calls)
    );
    println!(
        "| one call per bucket (info + 2 samples) | {per_bucket} | {:.0} s computed |",
        at_latency(per_bucket)
    );
    println!(
        "| peer exporter (info + quota per namespace; no buckets, no traffic) | {peer} | {:.0} s computed |",
        at_latency(peer)
    );
    assert!(wall < Duration::from_secs(10), "target: a cycle under 10 s");
    built.shutdown().await;
}
