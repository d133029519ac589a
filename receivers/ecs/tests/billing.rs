//! The billing collector against the simulator: every figure checked against the model
//! at the time the answer was consistent up to (`uptodate_till`), counters against the
//! model's sums since their start, costs against the configured model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use ecs_sim::Version;
use ecs_sim::model::billing::sample_index;
use pipeline::timefmt::{month_start, next_month_start};
use receiver_ecs::CollectorKind::Billing;
use receiver_ecs::billing::config::Tier;
use support::*;
use support::{calls, expect};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

async fn billing_env(version: Version) -> Env {
    let mut env = start(version, |_| {}).await;
    // Billing data moves every 5 minutes of (simulated) time: start mid-slot, far from a
    // month's end, so that a test sees the uptodate_till it moves to and no other.
    env.sim.steady_billing_clock();
    let c = &mut env.cfg.collectors;
    c.dashboard.schedule.enabled = false;
    c.node_stats.schedule.enabled = false;
    c.billing.schedule.enabled = true;
    c.billing.pricing.storage.default = Some(0.02);
    env
}

/// The uptodate_till the snapshot's figures are consistent up to.
fn uptodate(s: &pipeline::Snapshot) -> i64 {
    let ps = find(s, "emcecs.billing.uptodate_timestamp", &[]);
    assert!(!ps.is_empty(), "no uptodate_timestamp");
    let u = ps[0].value as i64;
    assert!(ps.iter().all(|p| p.value as i64 == u));
    u
}

fn rg_names(env: &Env) -> BTreeMap<usize, String> {
    env.sim
        .model()
        .rgs
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r.name.clone()))
        .collect()
}

/// Sizes, objects, counters (with their start) and costs equal the model's.
fn check_against_model(env: &Env, s: &pipeline::Snapshot, prices: &BTreeMap<String, f64>) {
    let u = uptodate(s);
    let n = sample_index(u);
    let period = month_start(u - 1);
    let (a, z) = (sample_index(period), n);
    let rgs = rg_names(env);
    let m = env.sim.model();
    let price = |rg: &str| prices.get(rg).copied().unwrap_or(0.02);
    for ns in m.namespaces.values() {
        let at = [("namespace", ns.name.as_str())];
        let mut size = 0u64;
        let mut ingress = 0u64;
        let mut cost = 0.0f64;
        for b in ns.buckets.values() {
            let t = b.billing.totals(n);
            let w = b.billing.window(a, z);
            size += t.size;
            ingress += w.ingress;
            let rg = &rgs[&b.rg];
            let ba = [at[0], ("bucket", b.name.as_str())];
            let p = point(s, "emcecs.bucket.storage", &ba);
            assert_eq!(p.value as u64, t.size, "{}/{} size", ns.name, b.name);
            assert_eq!(p.time, u, "points carry uptodate_till");
            assert_eq!(p.attrs["replication_group"], *rg);
            assert_eq!(value(s, "emcecs.bucket.objects", &ba) as u64, t.objects);
            assert_eq!(
                value(s, "emcecs.bucket.multipart_upload.size", &ba) as u64,
                t.mpu_size
            );
            let c = point(s, "emcecs.bucket.ingress", &ba);
            assert_eq!(c.value as u64, w.ingress, "{}/{} ingress", ns.name, b.name);
            assert_eq!(c.start, period, "counters start at the month's start");
            assert_eq!(value(s, "emcecs.bucket.egress", &ba) as u64, w.egress);
            assert_eq!(
                value(s, "emcecs.bucket.objects.created", &ba) as u64,
                w.objects_created
            );
            let expect = t.size as f64 / GIB * price(rg);
            cost += expect;
            let got = value(s, "emcecs.bucket.storage.cost.usd", &ba);
            assert!(
                (got - expect).abs() < 1e-9 * expect.max(1.0),
                "{got} vs {expect}"
            );
        }
        assert_eq!(value(s, "emcecs.namespace.total_bytes", &at) as u64, size);
        let c = point(s, "emcecs.namespace.ingress", &at);
        assert_eq!(c.value as u64, ingress);
        assert_eq!(c.start, period);
        let got = value(s, "emcecs.namespace.storage.cost.usd", &at);
        assert!((got - cost).abs() < 1e-9 * cost.max(1.0), "{got} vs {cost}");
        if ns.quota_block_gb > 0 {
            assert_eq!(
                value(s, "emcecs.namespace.quota", &[at[0], ("type", "block")]),
                ns.quota_block_gb as f64 * GIB
            );
        } else {
            assert!(find(s, "emcecs.namespace.quota", &at).is_empty());
        }
    }
}

#[tokio::test]
async fn every_series_equals_the_model_across_cycles_and_a_restart() {
    for version in [Version::Ecs35, Version::Ecs38, Version::ObjectScale41] {
        let mut env = billing_env(version).await;
        let rg0 = env.sim.model().rgs[0].name.clone();
        let mut prices = BTreeMap::new();
        prices.insert(rg0.clone(), 0.05);
        env.cfg
            .collectors
            .billing
            .pricing
            .storage
            .replication_groups = prices.clone();
        let cs = env.collectors();
        let first = ok(&of(&cs, Billing), 1).await;
        assert!(first.warnings.is_empty(), "{:?}", first.warnings);
        check_against_model(&env, &first, &prices);

        // An hour later the cluster has grown; the counters have too.
        env.sim.sim.clock.advance(3600);
        let second = ok(&of(&cs, Billing), 2).await;
        check_against_model(&env, &second, &prices);
        let ns = env.sim.model().namespaces.keys().next().cloned().unwrap();
        let before = value(&first, "emcecs.namespace.ingress", &[("namespace", &ns)]);
        let after = value(&second, "emcecs.namespace.ingress", &[("namespace", &ns)]);
        assert!(after > before, "{ns}: {before} then {after}");

        // A restarted agent (new collectors, nothing kept) continues the same counters.
        finish(&env, &cs).await;
        let cs = env.collectors();
        let third = ok(&of(&cs, Billing), 1).await;
        check_against_model(&env, &third, &prices);
        assert_eq!(
            value(&third, "emcecs.namespace.ingress", &[("namespace", &ns)]),
            after
        );
        finish(&env, &cs).await;
    }
}

#[tokio::test]
async fn a_cycle_costs_what_the_model_sizes_call_for_and_samples_follow_their_interval() {
    // 3.5 and 4.1 wrap some roots that 3.8 does not: the paging must read them all.
    for version in [Version::Ecs35, Version::Ecs38, Version::ObjectScale41] {
        calls_and_paging(version).await;
    }
}

async fn calls_and_paging(version: Version) {
    let mut env = billing_env(version).await;
    env.cfg.collectors.billing.batch_size = 2;
    env.cfg.collectors.billing.sample_interval = Some(Duration::from_secs(3600));
    // A namespace with 250 buckets: its detail spans three pages.
    env.sim.sim.model_mut().add_namespace(Some("big"), 250);
    let cs = env.collectors();
    let s = ok(&of(&cs, Billing), 1).await;
    assert_eq!(
        find(&s, "emcecs.bucket.storage", &[("namespace", "big")]).len(),
        250
    );
    assert_eq!(
        find(&s, "emcecs.bucket.ingress", &[("namespace", "big")]).len(),
        250
    );
    let mut want = {
        let m = env.sim.model();
        calls::billing(&m, 2, 100, true, true)
    };
    want.insert("GET /login".into(), 1);
    assert_eq!(
        calls::logged(&env.sim),
        want,
        "{}: first cycle",
        version.as_str()
    );
    // The next cycle, within the sample interval: sizes only.
    env.sim.sim.log.reset();
    let s2 = ok(&of(&cs, Billing), 2).await;
    let want = {
        let m = env.sim.model();
        calls::billing(&m, 2, 100, false, false)
    };
    assert_eq!(
        calls::logged(&env.sim),
        want,
        "{}: second cycle",
        version.as_str()
    );
    // Cached samples are still served.
    assert_eq!(
        find(&s2, "emcecs.bucket.ingress", &[("namespace", "big")]).len(),
        250
    );
    // Never a refused request: bodies, units and sample bounds are what ECS accepts.
    for (route, st) in env.sim.sim.log.routes() {
        assert!(
            st.by_status.keys().all(|s| *s < 400),
            "{route}: {:?}",
            st.by_status
        );
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn namespaces_come_and_go_between_cycles() {
    let env = billing_env(Version::Ecs38).await;
    let cs = env.collectors();
    let gone = env.sim.model().namespaces.keys().next().cloned().unwrap();
    let s = ok(&of(&cs, Billing), 1).await;
    assert!(!find(&s, "emcecs.namespace.total_bytes", &[("namespace", &gone)]).is_empty());
    assert!(env.sim.sim.model_mut().delete_namespace(&gone));
    let added = env.sim.sim.model_mut().add_namespace(Some("newcomer"), 3);
    let s = ok(&of(&cs, Billing), 2).await;
    assert!(find(&s, "emcecs.namespace.total_bytes", &[("namespace", &gone)]).is_empty());
    assert!(find(&s, "emcecs.bucket.storage", &[("namespace", &gone)]).is_empty());
    assert_eq!(
        find(&s, "emcecs.bucket.storage", &[("namespace", &added)]).len(),
        3
    );
    check_against_model(&env, &s, &BTreeMap::new());
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_month_end_reports_the_old_month_complete_then_restarts_the_counters() {
    let env = billing_env(Version::Ecs38).await;
    let cs = env.collectors();
    let bill = of(&cs, Billing);
    let s = ok(&bill, 1).await;
    let u = uptodate(&s);
    // Move to 10 minutes before the month's end (in billing time), then past it.
    let end = next_month_start(u);
    env.sim.sim.clock.advance(end - u - 600);
    let before = ok(&bill, 2).await;
    assert_eq!(uptodate(&before), end - 600);
    env.sim.sim.clock.advance(1200);
    let closing = ok(&bill, 3).await;
    let ns = env.sim.model().namespaces.keys().next().cloned().unwrap();
    let at = [("namespace", ns.as_str())];
    let old = point(&closing, "emcecs.namespace.ingress", &at);
    assert_eq!(old.start, month_start(u), "the old month, once more");
    assert_eq!(old.time, end, "complete up to its last second");
    let full: u64 = env.sim.model().namespaces[&ns]
        .buckets
        .values()
        .map(|b| {
            b.billing
                .window(sample_index(month_start(u)), sample_index(end))
                .ingress
        })
        .sum();
    assert_eq!(old.value as u64, full);
    let new = ok(&bill, 4).await;
    let p = point(&new, "emcecs.namespace.ingress", &at);
    assert_eq!(p.start, end, "a new month, a new start");
    assert!(p.value < old.value);
    finish(&env, &cs).await;
}

/// The currency names the cost metrics, and month-to-date traffic is priced tier by tier
/// (the expected costs from the model's traffic and a hand-written tier sum).
#[tokio::test]
async fn costs_follow_the_configured_model_including_tiers() {
    const EGRESS_EUR: &[(Option<f64>, f64)] = &[(Some(0.5), 0.09), (Some(2.0), 0.05), (None, 0.01)];
    const INGRESS_EUR: &[(Option<f64>, f64)] = &[(None, 0.0)];
    let mut env = start_frozen(Version::Ecs38, |_| {}).await;
    let c = &mut env.cfg.collectors;
    c.dashboard.schedule.enabled = false;
    c.node_stats.schedule.enabled = false;
    c.billing.schedule.enabled = true;
    let p = &mut c.billing.pricing;
    p.currency = "EUR".into();
    p.storage.default = Some(0.02);
    p.egress = tiers(EGRESS_EUR);
    p.ingress = tiers(INGRESS_EUR);
    let cs = env.collectors();
    let s = ok_at(&env, &of(&cs, Billing), 1).await;
    assert!(find(&s, "emcecs.bucket.storage.cost.usd", &[]).is_empty());
    {
        let m = env.sim.model();
        let want = expect::Billing {
            m: &m,
            t: env.sim.sim.clock.now(),
            compat: false,
            default_price: 0.02,
            rg_prices: &BTreeMap::new(),
            egress: EGRESS_EUR,
            ingress: INGRESS_EUR,
            currency: "eur",
        }
        .expect();
        expect::compare(&s, &want, expect::client_metric, "billing in EUR");
        // By hand, one namespace: 0.5 GB at 0.09, 1.5 GB at 0.05, the rest at 0.01.
        let ns = m.namespaces.keys().next().unwrap();
        let egress = value(&s, "emcecs.namespace.egress", &[("namespace", ns)]) / GIB;
        assert!(egress > 2.0, "{egress} GB does not reach the third tier");
        let by_hand = 0.5 * 0.09 + 1.5 * 0.05 + (egress - 2.0) * 0.01;
        let got = value(
            &s,
            "emcecs.namespace.bandwidth.cost.eur",
            &[("namespace", ns), ("direction", "egress")],
        );
        assert!((got - by_hand).abs() < 1e-9, "{got} vs {by_hand}");
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn the_cost_trend_compares_the_storage_cost_with_the_trend_window_ago() {
    let env = billing_env(Version::Ecs38).await;
    let cs = env.collectors();
    let s = ok(&of(&cs, Billing), 1).await;
    let u = uptodate(&s);
    let (a, z) = (sample_index(u - 86_400), sample_index(u));
    {
        let m = env.sim.model();
        let mut checked = 0;
        for ns in m.namespaces.values() {
            let (mut now, mut then) = (0f64, 0f64);
            for b in ns.buckets.values() {
                let size = b.billing.totals(z).size as f64;
                let delta = b.billing.window(a, z).bytes_delta() as f64;
                now += size;
                then += size - delta;
                let at = [("namespace", ns.name.as_str()), ("bucket", b.name.as_str())];
                if size - delta > 0.0 {
                    let got = value(&s, "emcecs.bucket.cost.trend", &at);
                    assert!((got - delta / (size - delta) * 100.0).abs() < 1e-9);
                    checked += 1;
                }
            }
            // One price for every group here: the namespace trend is the size trend.
            let got = value(
                &s,
                "emcecs.namespace.cost.trend",
                &[("namespace", ns.name.as_str())],
            );
            assert!((got - (now - then) / then * 100.0).abs() < 1e-6, "{got}");
        }
        assert!(checked > 0);
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn bucket_series_are_capped_with_the_rest_summed_per_namespace() {
    let mut env = billing_env(Version::Ecs38).await;
    env.cfg.collectors.billing.max_buckets = 5;
    let cs = env.collectors();
    let s = ok(&of(&cs, Billing), 1).await;
    let total_buckets: usize = env
        .sim
        .model()
        .namespaces
        .values()
        .map(|n| n.buckets.len())
        .sum();
    let own: Vec<Point> = find(&s, "emcecs.bucket.storage", &[])
        .into_iter()
        .filter(|p| p.attrs["bucket"] != "__other__")
        .collect();
    assert_eq!(own.len(), 5);
    assert_eq!(
        value(&s, "ecs_otel_agent.ecs.billing.buckets.folded", &[]) as usize,
        total_buckets - 5
    );
    assert!(s.warnings.iter().any(|w| w.contains("max_buckets")));
    // The kept ones are the largest, and nothing is lost: per namespace the series add up.
    let smallest_kept = own.iter().map(|p| p.value).fold(f64::MAX, f64::min);
    {
        let m = env.sim.model();
        let n = sample_index(uptodate(&s));
        let mut sizes: Vec<u64> = m
            .namespaces
            .values()
            .flat_map(|ns| ns.buckets.values().map(|b| b.billing.totals(n).size))
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(smallest_kept as u64, sizes[4]);
        for ns in m.namespaces.values() {
            let sum: f64 = find(
                &s,
                "emcecs.bucket.storage",
                &[("namespace", ns.name.as_str())],
            )
            .iter()
            .map(|p| p.value)
            .sum();
            let expect: u64 = ns.buckets.values().map(|b| b.billing.totals(n).size).sum();
            assert_eq!(sum as u64, expect, "{}", ns.name);
        }
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_failing_billing_api_keeps_the_last_values_for_three_cycles_then_drops_them() {
    let env = billing_env(Version::Ecs38).await;
    let cs = env.collectors();
    let bill = of(&cs, Billing);
    let good = ok(&bill, 1).await;
    let count = find(&good, "emcecs.bucket.storage", &[]).len();
    env.sim.sim.faults.update(|f| {
        f.rules = vec![ecs_sim::FaultRule {
            path: "/object/billing/*".into(),
            error_rate: 1.0,
            ..Default::default()
        }]
    });
    for cycle in 1..=3 {
        let s = ok(&bill, 1 + cycle).await;
        assert_eq!(find(&s, "emcecs.bucket.storage", &[]).len(), count);
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("served from the last good read")),
            "{:?}",
            s.warnings
        );
    }
    let e = run(&bill, 5, Duration::from_secs(20))
        .await
        .expect_err("nothing left to serve");
    assert!(e.message.contains("no billing figure"), "{}", e.message);
    let partial = e.partial.expect("client figures");
    assert!(find(&partial, "emcecs.bucket.storage", &[]).is_empty());
    env.sim.sim.faults.update(|f| f.rules.clear());
    let back = ok(&bill, 6).await;
    assert_eq!(find(&back, "emcecs.bucket.storage", &[]).len(), count);
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_price_for_a_replication_group_the_cluster_lacks_is_a_configuration_error() {
    let mut env = billing_env(Version::Ecs38).await;
    env.cfg
        .collectors
        .billing
        .pricing
        .storage
        .replication_groups
        .insert("rg-nowhere".into(), 0.1);
    let cs = env.collectors();
    let e = run(&of(&cs, Billing), 1, Duration::from_secs(20))
        .await
        .expect_err("unknown group");
    assert_eq!(e.kind, "config");
    assert!(
        e.message
            .contains("collectors.billing.pricing.storage.replication_groups: \"rg-nowhere\""),
        "{}",
        e.message
    );
    // The figures are still there.
    assert!(!find(&e.partial.unwrap(), "emcecs.bucket.storage", &[]).is_empty());
    finish(&env, &cs).await;
}

#[tokio::test]
async fn chosen_bucket_tags_become_attributes_and_no_others() {
    let mut env = billing_env(Version::Ecs38).await;
    env.cfg.collectors.billing.bucket_tags = vec!["CostCenter".into(), "Owner".into()];
    let cs = env.collectors();
    let s = ok(&of(&cs, Billing), 1).await;
    let mut tagged = 0;
    {
        let m = env.sim.model();
        for ns in m.namespaces.values() {
            for b in ns.buckets.values() {
                let p = point(
                    &s,
                    "emcecs.bucket.storage",
                    &[("namespace", ns.name.as_str()), ("bucket", b.name.as_str())],
                );
                let got: Vec<(String, String)> = p
                    .attrs
                    .iter()
                    .filter(|(k, _)| k.starts_with("tag_"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut want: Vec<(String, String)> = b
                    .tags
                    .iter()
                    .filter_map(|(k, v)| match k.as_str() {
                        "CostCenter" => Some(("tag_cost_center".to_owned(), v.clone())),
                        "Owner" => Some(("tag_owner".to_owned(), v.clone())),
                        _ => None,
                    })
                    .collect();
                want.sort();
                assert_eq!(got, want, "{}", b.name);
                tagged += usize::from(!want.is_empty());
            }
        }
    }
    assert!(tagged > 0, "no bucket of the model carries those tags");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_refused_sample_window_is_reported_and_the_sizes_still_flow() {
    let env = billing_env(Version::Ecs38).await;
    env.sim.sim.faults.update(|f| {
        f.rules = vec![ecs_sim::FaultRule {
            path: "/object/billing/namespace/sample".into(),
            error_rate: 1.0,
            status: Some(400),
            code: Some(1008),
            ..Default::default()
        }]
    });
    let cs = env.collectors();
    let s = ok(&of(&cs, Billing), 1).await;
    assert!(!find(&s, "emcecs.bucket.storage", &[]).is_empty());
    assert!(find(&s, "emcecs.bucket.ingress", &[]).is_empty());
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("/object/billing/namespace/sample: HTTP 400 (ECS code 1008)")),
        "{:?}",
        s.warnings
    );
    finish(&env, &cs).await;
}

/// A price list as the configuration holds it.
fn tiers(t: &[(Option<f64>, f64)]) -> Vec<Tier> {
    t.iter()
        .map(|(up_to_gb, price)| Tier {
            up_to_gb: *up_to_gb,
            price: *price,
        })
        .collect()
}

/// Egress priced in three tiers, so that the small cluster's namespaces land in several.
const EGRESS: &[(Option<f64>, f64)] = &[(Some(2.0), 0.09), (Some(8.0), 0.05), (None, 0.01)];
const INGRESS: &[(Option<f64>, f64)] = &[(None, 0.004)];

#[tokio::test]
async fn every_billing_figure_equals_the_model_at_a_frozen_second() {
    for version in [Version::Ecs35, Version::Ecs38, Version::ObjectScale41] {
        let mut env = start_frozen(version, |_| {}).await;
        let rg0 = env.sim.model().rgs[0].name.clone();
        let prices = BTreeMap::from([(rg0, 0.05)]);
        env.cfg.compatibility_names = true;
        let c = &mut env.cfg.collectors;
        c.dashboard.schedule.enabled = false;
        c.node_stats.schedule.enabled = false;
        c.billing.schedule.enabled = true;
        let p = &mut c.billing.pricing;
        p.storage.default = Some(0.02);
        p.storage.replication_groups = prices.clone();
        p.egress = tiers(EGRESS);
        p.ingress = tiers(INGRESS);
        let cs = env.collectors();
        let s = ok_at(&env, &of(&cs, Billing), 1).await;
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        {
            let m = env.sim.model();
            let want = expect::Billing {
                m: &m,
                t: env.sim.sim.clock.now(),
                compat: true,
                default_price: 0.02,
                rg_prices: &prices,
                egress: EGRESS,
                ingress: INGRESS,
                currency: "usd",
            }
            .expect();
            expect::compare(
                &s,
                &want,
                expect::client_metric,
                &format!("billing {}", version.as_str()),
            );
            // The tiers were really crossed: some namespace's egress passes the first
            // bound, and the price list is not a single rate in disguise.
            let gb: Vec<f64> = m
                .namespaces
                .keys()
                .map(|ns| value(&s, "emcecs.namespace.egress", &[("namespace", ns)]) / GIB)
                .collect();
            assert!(gb.iter().any(|g| *g > 2.0), "{gb:?}");
        }
        finish(&env, &cs).await;
    }
}

#[tokio::test]
async fn quotas_come_from_the_quota_call_when_the_list_has_none() {
    // Older releases list namespaces with only id, name and link.
    for version in [Version::Ecs35, Version::Ecs38] {
        let mut env = start_frozen(version, |_| {}).await;
        env.sim
            .sim
            .faults
            .update(|f| f.minimal_namespace_list = true);
        let c = &mut env.cfg.collectors;
        c.dashboard.schedule.enabled = false;
        c.node_stats.schedule.enabled = false;
        c.billing.schedule.enabled = true;
        c.billing.pricing.storage.default = Some(0.02);
        let cs = env.collectors();
        let s = ok_at(&env, &of(&cs, Billing), 1).await;
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let (namespaces, with_quota) = {
            let m = env.sim.model();
            let mut with_quota = 0;
            for ns in m.namespaces.values() {
                let at = [("namespace", ns.name.as_str()), ("type", "block")];
                let got = find(&s, "emcecs.namespace.quota", &at);
                if ns.quota_block_gb > 0 {
                    with_quota += 1;
                    assert_eq!(got.len(), 1, "{} block quota", ns.name);
                    assert_eq!(got[0].value, ns.quota_block_gb as f64 * GIB, "{}", ns.name);
                } else {
                    assert!(got.is_empty(), "{}: no quota, no series", ns.name);
                }
            }
            (m.namespaces.len() as u64, with_quota)
        };
        assert!(with_quota > 0, "the model sets some quotas");
        assert_eq!(
            env.calls("GET /object/namespaces/namespace/{namespace}/quota"),
            namespaces,
            "one quota call per namespace, {}",
            version.as_str()
        );
        finish(&env, &cs).await;
    }
}
