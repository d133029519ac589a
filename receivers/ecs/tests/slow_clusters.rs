//! A slow cluster: every management call takes 100 ms (a realistic ECS), 4 in flight. A
//! dashboard cycle cannot read the bucket settings of the large preset's 1,000 namespaces
//! (one `/object/bucket` page each, ~25 s of calls) within its budget: what it read is
//! kept and reported, the rest is read first next cycle, and the counts derived from the
//! lists never vanish because some other page timed out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use ecs_sim::model::ModelConfig;
use ecs_sim::{FaultRule, Version};
use pipeline::Collector as _;
use receiver_ecs::CollectorKind::Dashboard;
use support::*;

/// Namespaces with a live `emcecs.buckets` point.
fn namespaces_with_buckets(s: &pipeline::Snapshot) -> BTreeSet<String> {
    find(s, "emcecs.buckets", &[])
        .into_iter()
        .filter(|p| !p.stale)
        .map(|p| p.attrs["namespace"].clone())
        .collect()
}

fn postponed(s: &pipeline::Snapshot) -> bool {
    s.warnings
        .iter()
        .any(|w| w.contains("not read within this cycle's time"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_preset_at_100ms_has_every_namespace_after_two_intervals() {
    let mut env = start(Version::Ecs38, |s| {
        s.model = ModelConfig::large();
        s.faults.rules.push(FaultRule {
            path: "/*".into(),
            latency_ms: 100,
            ..FaultRule::default()
        });
    })
    .await;
    assert_eq!(env.cfg.max_concurrent_requests, 4, "the default limit");
    // Shorter than a cycle: every cycle begins a round of bucket settings, the hardest
    // case for the namespaces a cycle did not reach.
    env.cfg.collectors.dashboard.bucket_config_interval = Duration::from_secs(1);
    let cs = env.collectors();
    let dash = of(&cs, Dashboard);
    let (namespaces, buckets) = {
        let m = env.sim.model();
        (m.namespaces.len(), m.total_buckets())
    };
    assert_eq!((namespaces, buckets), (1000, 20_000));
    // The bucket settings get at most half of what is left after the dashboard's own
    // reads, and start no namespace after 90% of that: about 21 s, at most ~850 of the
    // 1,000 pages (4 at a time, 100 ms each). One cycle cannot read them all; two can
    // with calls up to 40% slower than 100 ms (a loaded machine: with a 38 s budget,
    // 20% slower calls once left namespaces for a third cycle).
    let budget = Duration::from_secs(50);

    let first = succeeded(&dash, 1, run(&dash, 1, budget).await);
    assert_eq!(
        value(&first, "emcecs.namespaces", &[]),
        namespaces as f64,
        "the namespace count is there from the first cycle"
    );
    let read_first = namespaces_with_buckets(&first);
    assert!(
        !read_first.is_empty() && read_first.len() < namespaces,
        "one cycle read {} of {namespaces} namespaces",
        read_first.len()
    );
    assert!(postponed(&first), "{:?}", first.warnings);
    assert_eq!(
        find(&first, "emcecs.bucket.locked", &[]).len(),
        read_first.len() * 20,
        "the settings of every bucket read are reported"
    );
    let backlog = dash.backlog().expect("the dashboard reports its backlog");
    assert_eq!(backlog.parts as usize, namespaces - read_first.len());
    assert!(backlog.oldest.is_some(), "{backlog:?}");

    let second = succeeded(&dash, 2, run(&dash, 2, budget).await);
    assert_eq!(value(&second, "emcecs.namespaces", &[]), namespaces as f64);
    let read_second = namespaces_with_buckets(&second);
    assert_eq!(
        read_second.len(),
        namespaces,
        "after two cycles every namespace's bucket settings are reported (first cycle: {})",
        read_first.len()
    );
    let counts: Vec<f64> = find(&second, "emcecs.buckets", &[])
        .into_iter()
        .map(|p| p.value)
        .collect();
    assert!(counts.iter().all(|n| *n == 20.0), "{counts:?}");
    assert_eq!(
        find(&second, "emcecs.bucket.locked", &[]).len(),
        buckets,
        "every bucket's settings"
    );
    eprintln!(
        "bucket settings at 100 ms per call, 4 in flight, {budget:?} per cycle: {} namespaces read in the first cycle, all {namespaces} after the second",
        read_first.len()
    );
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_timed_out_page_does_not_remove_the_counts() {
    let mut env = start(Version::Ecs38, |s| {
        // The first bucket page asked for never answers.
        s.faults.rules.push(FaultRule {
            path: "/object/bucket".into(),
            timeout: true,
            times: Some(1),
            ..FaultRule::default()
        });
    })
    .await;
    env.cfg.collectors.dashboard.bucket_config_interval = Duration::from_millis(1);
    let cs = env.collectors();
    let dash = of(&cs, Dashboard);
    // Each namespace with its number of buckets.
    let names: Vec<(String, usize)> = {
        let m = env.sim.model();
        m.namespaces
            .iter()
            .map(|(k, ns)| (k.clone(), ns.buckets.len()))
            .collect()
    };
    let namespaces = names.len();
    let budget = Duration::from_secs(4);

    let first = succeeded(&dash, 1, run(&dash, 1, budget).await);
    assert_eq!(value(&first, "emcecs.namespaces", &[]), namespaces as f64);
    let read = namespaces_with_buckets(&first);
    assert_eq!(
        read.len(),
        namespaces - 1,
        "all but the namespace whose page timed out: {:?}",
        first.warnings
    );
    assert_eq!(dash.backlog().map(|b| b.parts), Some(1));

    // The page answers again: everything is there, nothing is behind.
    let second = succeeded(&dash, 2, run(&dash, 2, budget).await);
    assert_eq!(value(&second, "emcecs.namespaces", &[]), namespaces as f64);
    assert_eq!(namespaces_with_buckets(&second).len(), namespaces);
    let backlog = dash.backlog().unwrap();
    assert_eq!(
        (backlog.parts, backlog.age(tokio::time::Instant::now())),
        (0, Duration::ZERO)
    );

    // Another page times out: its namespace's last read is served, nothing vanishes.
    env.sim.sim.faults.update(|f| {
        f.rules = vec![FaultRule {
            path: "/object/bucket".into(),
            timeout: true,
            times: Some(1),
            ..FaultRule::default()
        }]
    });
    let third = succeeded(&dash, 3, run(&dash, 3, budget).await);
    assert_eq!(value(&third, "emcecs.namespaces", &[]), namespaces as f64);
    for (ns, n) in &names {
        assert_eq!(
            value(&third, "emcecs.buckets", &[("namespace", ns)]),
            *n as f64,
            "{ns}"
        );
    }
    assert_eq!(dash.backlog().map(|b| b.parts), Some(1));
    finish(&env, &cs).await;
}
