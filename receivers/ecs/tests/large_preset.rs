//! The large preset (1,000 namespaces, 20,000 buckets, 5,000 IAM users, 16 nodes) in a
//! quick mode: no latency, one cycle of each collector, and every call counted per route
//! against what the model's sizes call for — the costs docs/PERFORMANCE.md reports (42
//! calls for a steady dashboard and node-stats cycle, 32 for billing, IAM per action),
//! checked on every CI run rather than only when the benchmarks are run by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ecs_sim::Version;
use ecs_sim::model::ModelConfig;
use receiver_ecs::CollectorKind::{Billing, Dashboard, Iam, NodeStats};
use support::calls::{self, Calls};
use support::*;

fn total(c: &Calls) -> u64 {
    c.values().sum()
}

async fn cycle(c: &receiver_ecs::Collector, n: u64) {
    succeeded(c, n, run(c, n, Duration::from_secs(600)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_preset_cycles_cost_what_the_model_calls_for() {
    let mut env = start(Version::Ecs38, |s| s.model = ModelConfig::large()).await;
    let c = &mut env.cfg.collectors;
    c.billing.schedule.enabled = true;
    c.iam.schedule.enabled = true;
    c.iam.probe_timeout = Duration::from_secs(5);
    let cs = env.collectors();
    let (m, o) = (env.sim.model().clone(), env.sim.sim.faults.overrides());
    assert_eq!(
        (m.namespaces.len(), m.total_buckets(), m.nodes.len()),
        (1000, 20_000, 16)
    );

    // The first dashboard cycle also reads every namespace's bucket settings.
    cycle(&of(&cs, Dashboard), 1).await;
    let mut want = calls::dashboard(&m, true);
    want.insert("GET /login".into(), 1);
    assert_eq!(calls::logged(&env.sim), want, "first dashboard cycle");

    env.sim.sim.log.reset();
    cycle(&of(&cs, Dashboard), 2).await;
    cycle(&of(&cs, NodeStats), 1).await;
    let mut steady = calls::dashboard(&m, false);
    for (k, n) in calls::node_stats(&m, Version::Ecs38, &o) {
        *steady.entry(k).or_insert(0) += n;
    }
    assert_eq!(
        calls::logged(&env.sim),
        steady,
        "steady dashboard + node stats"
    );
    assert_eq!(total(&steady), 42);

    env.sim.sim.log.reset();
    cycle(&of(&cs, Billing), 1).await;
    let want = calls::billing(&m, 100, 100, true, true);
    assert_eq!(calls::logged(&env.sim), want, "billing");
    assert_eq!(total(&want), 32);

    env.sim.sim.log.reset();
    cycle(&of(&cs, Iam), 1).await;
    let mut got = calls::logged(&env.sim);
    let versions = got.remove("POST /iam?Action=GetPolicyVersion").unwrap_or(0);
    // Without MaxItems the simulator pages IAM lists at 100, as ECS does.
    assert_eq!(got, calls::iam(&m, 100), "IAM calls per action");
    let range = calls::iam_policy_versions(&m);
    assert!(
        range.contains(&versions),
        "{versions} GetPolicyVersion, expected {range:?}"
    );
    finish(&env, &cs).await;
}
