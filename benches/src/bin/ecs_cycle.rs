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

use std::time::{Duration, Instant};

use benches::ecs::{LargeSim, cycle_calls, points, scrape};
use receiver_ecs::{CollectorKind, catalog};

const TIMEOUT: Duration = Duration::from_secs(50);

#[tokio::main]
async fn main() {
    let cycles: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let sim = LargeSim::start();
    let built = benches::ecs::Collectors::build(&sim.config());
    let (dash, nodes) = (
        built.of(CollectorKind::Dashboard),
        built.of(CollectorKind::NodeStats),
    );

    let model = sim.stats().await["model"].clone();
    let per_ns = benches::ecs::buckets_per_namespace(&model);
    let alerts = model["unacked_alerts"].as_u64().unwrap_or(0);
    let node_count = model["nodes"].as_u64().unwrap_or(0);
    println!(
        "large preset: {} namespaces, {} buckets, {} nodes, {} unacknowledged alerts",
        per_ns.len(),
        per_ns.iter().sum::<u64>(),
        node_count,
        alerts
    );
    let (rss_before, _) = benches::rss();

    // First cycle, as at start: both collectors at once, bucket settings included.
    sim.reset().await;
    let t = Instant::now();
    let ((d, d_took), (n, n_took)) =
        tokio::join!(scrape(&dash, 1, TIMEOUT), scrape(&nodes, 1, TIMEOUT));
    let wall = t.elapsed();
    let calls = cycle_calls(&sim.stats().await);
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
        sim.reset().await;
        let t = Instant::now();
        let ((d, _), (n, _)) =
            tokio::join!(scrape(&dash, run, TIMEOUT), scrape(&nodes, run, TIMEOUT));
        walls.push(t.elapsed());
        let calls = cycle_calls(&sim.stats().await);
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
    let (rss_after, peak) = benches::rss();
    println!(
        "RSS: {} MB before the first cycle, {} MB after, peak {} MB",
        rss_before >> 20,
        rss_after >> 20,
        peak >> 20
    );
    built.shutdown().await;
}
