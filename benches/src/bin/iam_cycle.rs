//! One IAM cycle against the simulator's large preset (1,000 namespaces, 5,000 IAM users,
//! their keys, groups, roles and policies): wall time, calls by action, peak RSS of this
//! process. The simulator's directory servers answer the provider probes (1 s timeout).
//!
//!   cargo build --release -p ecs-sim -p benches
//!   ./target/release/iam_cycle              # uses ./target/release/ecs-sim

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use benches::ecs::{LargeSim, cycle_calls, points, scrape_expecting};
use receiver_ecs::CollectorKind;

#[tokio::main]
async fn main() {
    let sim = LargeSim::start();
    let cfg = sim.iam_config();
    let built = benches::ecs::Collectors::build(&cfg);
    let iam = built.of(CollectorKind::Iam);
    for run in 1..=2u64 {
        sim.reset().await;
        let t = Instant::now();
        // A provider that did not answer is reported, not fatal to the measurement.
        let (snapshot, _) = scrape_expecting(&iam, run, Duration::from_secs(280), |w| {
            w.starts_with("authentication provider")
        })
        .await;
        let wall = t.elapsed();
        let stats = sim.stats().await;
        let calls = cycle_calls(&stats);
        let mut by_action: BTreeMap<String, u64> = BTreeMap::new();
        if let Some(routes) = stats["routes"].as_object() {
            for (route, st) in routes {
                let n = st["calls"].as_u64().unwrap_or(0);
                let key = route
                    .split("Action=")
                    .nth(1)
                    .unwrap_or(route.as_str())
                    .to_owned();
                *by_action.entry(key).or_insert(0) += n;
            }
        }
        let (_, peak) = benches::rss();
        println!(
            "IAM cycle {run}: {:.2} s wall, {calls} ECS calls ({:.0} per second), {} points, peak RSS {} MB",
            wall.as_secs_f64(),
            calls as f64 / wall.as_secs_f64(),
            points(&snapshot),
            peak >> 20
        );
        println!("  calls by action: {by_action:?}");
    }
    built.shutdown().await;
}
