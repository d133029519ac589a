//! The performance collector against the simulator's Flux API: every figure of a cycle
//! against the model's points for the same minute (the simulator's clock frozen), each
//! point with its own time, only new points on the next cycle, and what it does when Flux
//! reorders its columns, answers empty, refuses a range, is down, or is not there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ecs_sim::{FaultRule, Version};
use pipeline::Collector as _;
use receiver_ecs::CollectorKind::{Dashboard, Performance};
use support::expect::client_metric;
use support::*;

const ROUTE: &str = "POST /flux/api/external/v2/query";

/// A cluster of `version` with only the performance collector (and the dashboard, off).
async fn perf_env(version: Version, tweak: impl FnOnce(&mut ecs_sim::SimConfig)) -> Env {
    let mut env = start_frozen(version, tweak).await;
    let c = &mut env.cfg.collectors;
    c.dashboard.schedule.enabled = false;
    c.node_stats.schedule.enabled = false;
    c.performance.schedule.enabled = true;
    env
}

/// The newest whole minute of the simulator's clock: the point a first cycle reads.
fn minute(env: &Env) -> i64 {
    env.sim.sim.clock.now() / 60 * 60
}

fn check(env: &Env, s: &pipeline::Snapshot, t: i64, max_namespaces: usize, what: &str) {
    let m = env.sim.model();
    let o = env.sim.sim.faults.overrides();
    let e = support::flux::expect(&m, &o, t, max_namespaces);
    expect::compare(s, &e, client_metric, what);
}

#[tokio::test]
async fn every_flux_figure() {
    for version in [Version::Ecs38, Version::ObjectScale41] {
        let env = perf_env(version, |_| {}).await;
        let cs = env.collectors();
        let perf = of(&cs, Performance);
        let s = ok_at(&env, &perf, 1).await;
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        check(
            &env,
            &s,
            minute(&env),
            1000,
            &format!("{version:?} first cycle"),
        );
        assert_eq!(env.calls(ROUTE), 15, "one query per measurement");
        // A minute later: the new minute only, nothing read twice.
        env.sim.sim.clock.advance(60);
        let s = ok_at(&env, &perf, 2).await;
        check(
            &env,
            &s,
            minute(&env),
            1000,
            &format!("{version:?} second cycle"),
        );
        assert_eq!(env.calls(ROUTE), 30);
        finish(&env, &cs).await;
    }
}

#[tokio::test]
async fn columns_in_another_order_give_the_same_figures_and_an_empty_answer_none() {
    let env = perf_env(Version::Ecs38, |s| s.faults.flux_reorder_columns = true).await;
    let cs = env.collectors();
    let perf = of(&cs, Performance);
    let s = ok_at(&env, &perf, 1).await;
    check(&env, &s, minute(&env), 1000, "reordered columns");
    env.sim.sim.faults.update(|f| {
        f.flux_reorder_columns = false;
        f.flux_empty = true;
    });
    env.sim.sim.clock.advance(60);
    let s = ok_at(&env, &perf, 2).await;
    assert!(
        s.warnings.is_empty(),
        "an empty answer is no error: {:?}",
        s.warnings
    );
    let flux: Vec<_> = points(&s)
        .into_iter()
        .filter(|p| !client_metric(&p.name))
        .collect();
    assert!(flux.is_empty(), "{flux:?}");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn per_namespace_series_are_bounded_the_rest_summed() {
    let mut env = perf_env(Version::Ecs38, |_| {}).await;
    env.cfg.collectors.performance.max_namespaces = 2;
    assert!(env.sim.model().namespaces.len() > 2);
    let cs = env.collectors();
    let s = ok_at(&env, &of(&cs, Performance), 1).await;
    check(&env, &s, minute(&env), 2, "two namespaces kept");
    let kept: std::collections::BTreeSet<String> = find(&s, "emcecs.namespace.request.rate", &[])
        .into_iter()
        .map(|p| p.attrs["namespace"].clone())
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.contains("__other__"));
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_refused_range_is_asked_again_shorter() {
    let env = perf_env(Version::Ecs38, |s| s.faults.flux_max_range_secs = Some(90)).await;
    let cs = env.collectors();
    let perf = of(&cs, Performance);
    ok_at(&env, &perf, 1).await;
    assert_eq!(env.calls(ROUTE), 15, "60 s asked, accepted");
    // The next window is 2 minutes (the minute since, and one of overlap): refused, then
    // asked again for one minute, which is all that is new.
    env.sim.sim.clock.advance(60);
    let s = ok_at(&env, &perf, 2).await;
    assert_eq!(env.calls(ROUTE), 15 + 30);
    check(&env, &s, minute(&env), 1000, "after the refusal");
    // From then on it asks for no more than it was granted.
    env.sim.sim.clock.advance(60);
    ok_at(&env, &perf, 3).await;
    assert_eq!(env.calls(ROUTE), 15 + 30 + 15);
    finish(&env, &cs).await;
}

#[tokio::test]
async fn more_than_an_hour_away_is_read_as_one_hour_and_a_gap() {
    let env = perf_env(Version::ObjectScale41, |_| {}).await;
    let cs = env.collectors();
    let perf = of(&cs, Performance);
    ok_at(&env, &perf, 1).await;
    env.sim.sim.clock.advance(2 * 3600);
    let s = ok_at(&env, &perf, 2).await;
    let t = minute(&env);
    // The last hour, every minute of it, newest first, each with its own time.
    let rates = find(
        &s,
        "emcecs.transaction.request.rate",
        &[("result", "succeeded")],
    );
    let times: Vec<i64> = rates.iter().map(|p| p.time).collect();
    let want: Vec<i64> = (0..60).map(|i| t - 60 * i).collect();
    assert_eq!(times, want);
    {
        let m = env.sim.model();
        let o = env.sim.sim.faults.overrides();
        for p in &rates {
            let model = m
                .flux_points("monitoring_vdc", "cq_performance_transaction", p.time, &o)
                .into_iter()
                .find(|x| x.field == "succeed_request_counter")
                .unwrap();
            assert_eq!(p.value, model.value, "at {}", p.time);
        }
    }
    // Two hours away, one read: the hour before it is a gap, for each measurement.
    for (_, measurement) in support::flux::MEASUREMENTS {
        assert_eq!(
            value(
                &s,
                "emcecs.performance.gap",
                &[("measurement", measurement)]
            ),
            3600.0,
            "{measurement}"
        );
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn flux_down_fails_this_collector_only() {
    let env = perf_env(Version::Ecs38, |s| {
        s.faults.rules.push(FaultRule {
            path: "/flux/*".into(),
            error_rate: 1.0,
            status: Some(503),
            ..FaultRule::default()
        })
    })
    .await;
    let mut cfg = env.cfg.clone();
    cfg.collectors.dashboard.schedule.enabled = true;
    let cs = receiver_ecs::collectors("lab", &cfg, "agent").unwrap();
    let perf = cs
        .iter()
        .find(|(_, c)| c.kind == Performance)
        .unwrap()
        .1
        .clone();
    let dash = cs
        .iter()
        .find(|(_, c)| c.kind == Dashboard)
        .unwrap()
        .1
        .clone();
    let e = run(&perf, 1, Duration::from_secs(20)).await.unwrap_err();
    // The breaker may open before the last queries go: either says the same.
    assert!(
        ["server_error", "circuit_open"].contains(&e.kind),
        "{}",
        e.kind
    );
    assert!(e.message.contains("Flux"), "{}", e.message);
    assert_eq!(
        e.impact,
        pipeline::Impact::Degraded,
        "Flux down is no reason to restart the agent"
    );
    let partial = e.partial.unwrap();
    assert!(find(&partial, "emcecs.transaction.request.rate", &[]).is_empty());
    let d = ok(&dash, 1).await;
    assert!(!find(&d, "emcecs.capacity.total", &[]).is_empty());
    dash.shutdown().await;
    perf.shutdown().await;
    assert_eq!(env.tokens(), 0);
}

#[tokio::test]
async fn one_failed_measurement_is_a_warning_and_the_others_are_reported() {
    let env = perf_env(Version::Ecs38, |s| {
        s.faults.rules.push(FaultRule {
            path: "/flux/*".into(),
            error_rate: 1.0,
            times: Some(1),
            ..FaultRule::default()
        })
    })
    .await;
    let cs = env.collectors();
    let s = ok_at(&env, &of(&cs, Performance), 1).await;
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    // 16 families in all; the failed measurement takes one away (two for mem).
    let families = names(&s).into_iter().filter(|n| !client_metric(n)).count();
    assert!((14..=15).contains(&families), "{families}");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn ecs_3_5_has_no_flux_and_says_so() {
    let env = perf_env(Version::Ecs35, |_| {}).await;
    let cs = env.collectors();
    let perf = of(&cs, Performance);
    // The version is not known yet: every query finds nothing there.
    let s = ok_at(&env, &perf, 1).await;
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("Flux API is not there"),
        "{:?}",
        s.warnings
    );
    finish(&env, &cs).await;
    // Once the dashboard has read the version, the collector does not ask.
    let mut cfg = env.cfg.clone();
    cfg.collectors.dashboard.schedule.enabled = true;
    let cs: Vec<_> = receiver_ecs::collectors("lab", &cfg, "agent")
        .unwrap()
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    ok_at(&env, &of(&cs, Dashboard), 1).await;
    let before = env.calls(ROUTE);
    let s = ok_at(&env, &of(&cs, Performance), 1).await;
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(env.calls(ROUTE), before);
    finish(&env, &cs).await;
}
