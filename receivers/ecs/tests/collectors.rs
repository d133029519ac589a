//! The dashboard and node-stats collectors against the simulator in each ECS mode: the
//! figures they report, checked against the simulator's model, and what a cycle costs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ecs_sim::Version;
use receiver_ecs::CollectorKind::{Dashboard, NodeStats};
use receiver_ecs::catalog;
use support::calls;
use support::*;

/// Sim time (seconds) read around a cycle, so that time-dependent figures can be checked
/// against the model at both ends.
fn sim_now(env: &Env) -> i64 {
    env.sim.sim.clock.now()
}

fn between(v: f64, a: f64, b: f64, what: &str) {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    assert!(
        v >= lo - 1e-9 && v <= hi + 1e-9,
        "{what}: {v} not within [{lo}, {hi}]"
    );
}

/// Every metric a snapshot holds is listed in one of `catalogs`.
fn only_catalog_names(s: &pipeline::Snapshot, catalogs: &[&pipeline::catalog::Catalog]) {
    for name in names(s) {
        assert!(
            catalogs
                .iter()
                .any(|c| c.metrics.iter().any(|m| m.desc.name == name)),
            "{name} is emitted but not in the catalog"
        );
    }
}

async fn figures_match_the_model(version: Version) {
    let env = start(version, |_| {}).await;
    let cs = env.collectors();
    let t0 = sim_now(&env);
    let dash = ok(&of(&cs, Dashboard), 1).await;
    let nodes = ok(&of(&cs, NodeStats), 1).await;
    let t1 = sim_now(&env);
    assert!(dash.warnings.is_empty(), "{:?}", dash.warnings);
    assert!(nodes.warnings.is_empty(), "{:?}", nodes.warnings);
    only_catalog_names(&dash, &[&catalog::CATALOG]);
    only_catalog_names(&nodes, &[&catalog::CATALOG]);
    let o = env.sim.sim.faults.overrides();
    {
        let m = env.sim.model();

        // The resource names the cluster and its VDC.
        let r = resource(&dash);
        assert_eq!(r["ecs.cluster.name"], "lab");
        assert_eq!(r["service.instance.id"], "lab");
        assert_eq!(r["ecs.vdc.name"], m.vdc_name);
        assert_eq!(r["ecs.vdc.id"], m.vdc_id);
        assert_eq!(r["ecs.version"], version.build());

        assert_eq!(
            value(
                &dash,
                "emcecs.version.info",
                &[("version", version.build())]
            ),
            1.0
        );
        assert_eq!(
            value(&dash, "emcecs.nodes", &[("state", "good")]),
            m.nodes.len() as f64
        );
        let (c0, c1) = (m.capacity(t0, &o), m.capacity(t1, &o));
        between(
            value(&dash, "emcecs.capacity.total", &[]),
            c0.total as f64,
            c1.total as f64,
            "total",
        );
        between(
            value(&dash, "emcecs.capacity.free", &[]),
            c0.free as f64,
            c1.free as f64,
            "free",
        );
        between(
            value(&dash, "emcecs.capacity.used", &[("type", "user_data")]),
            c0.user_data as f64,
            c1.user_data as f64,
            "user data",
        );
        // The user-data share and protection overhead are derived, not read.
        let eff = value(&dash, "emcecs.storage.user_data.ratio", &[]);
        between(
            eff,
            c0.user_data as f64 / c0.allocated as f64,
            c1.user_data as f64 / c1.allocated as f64,
            "efficiency",
        );
        for sev in ["critical", "error", "warning", "info"] {
            let got: f64 = find(&dash, "emcecs.alerts.unacknowledged", &[("severity", sev)])
                .iter()
                .map(|p| p.value)
                .sum();
            assert_eq!(got, m.unacked(&sev.to_ascii_uppercase()) as f64, "{sev}");
        }
        for (i, g) in m.rgs.iter().enumerate() {
            let attrs = [("replication_group", g.name.as_str())];
            let lag = value(&dash, "emcecs.replication.lag", &attrs);
            let (r0, r1) = (m.replication(i, t0, &o), m.replication(i, t1, &o));
            // The agent's clock is the simulator's clock here (no offset), give or take
            // the second the cycle took; the RPO timestamp may move on in between.
            let (newest, oldest) = (
                r0.rpo_timestamp.max(r1.rpo_timestamp),
                r0.rpo_timestamp.min(r1.rpo_timestamp),
            );
            between(
                lag,
                (t0 - newest - 1) as f64,
                (t1 - oldest + 1) as f64,
                "lag",
            );
            between(
                value(
                    &dash,
                    "emcecs.replication.pending",
                    &[attrs[0], ("type", "xor")],
                ),
                r0.pending_xor as f64,
                r1.pending_xor as f64,
                "xor",
            );
            assert_eq!(
                value(&dash, "emcecs.replication.links.failed", &attrs),
                f64::from(u8::from(g.link_failed)),
                "{}",
                g.name
            );
        }
        // Bucket settings.
        let mut retention_checked = 0;
        let buckets: usize = m.namespaces.values().map(|n| n.buckets.len()).sum();
        // Only ObjectScale lists the versioning status with the buckets; ECS 3.5 not even
        // the object-lock settings.
        let versioned = find(&dash, "emcecs.bucket.versioning.enabled", &[]);
        let expect = if version == Version::ObjectScale41 {
            buckets
        } else {
            0
        };
        assert_eq!(versioned.len(), expect);
        let locks = find(&dash, "emcecs.bucket.object_lock.enabled", &[]);
        let expect = if version == Version::Ecs35 {
            0
        } else {
            buckets
        };
        assert_eq!(locks.len(), expect);
        for ns in m.namespaces.values() {
            assert_eq!(
                value(&dash, "emcecs.buckets", &[("namespace", ns.name.as_str())]),
                ns.buckets.len() as f64
            );
            for b in ns.buckets.values().filter(|_| version != Version::Ecs35) {
                let at = [("namespace", ns.name.as_str()), ("bucket", b.name.as_str())];
                assert_eq!(
                    value(&dash, "emcecs.bucket.object_lock.enabled", &at),
                    f64::from(u8::from(b.object_lock)),
                    "{}",
                    b.name
                );
                if let Some(mode) = b.lock_mode {
                    let secs = value(
                        &dash,
                        "emcecs.bucket.object_lock.default_retention",
                        &[at[0], at[1], ("mode", mode)],
                    );
                    // S3 sets days or years, never both.
                    let days = if b.lock_days > 0 {
                        f64::from(b.lock_days)
                    } else {
                        f64::from(b.lock_years) * 365.0
                    };
                    let expected = days * 86_400.0;
                    assert_eq!(secs, expected, "{}", b.name);
                    retention_checked += 1;
                }
            }
        }
        if version != Version::Ecs35 {
            assert!(
                retention_checked > 0,
                "no bucket with object lock in the model"
            );
        }
        // ECS 3.5 still reports transactions; later versions do not.
        let tx = find(&dash, "emcecs.transaction.latency", &[]);
        assert_eq!(!tx.is_empty(), version.has_transactions(), "{tx:?}");

        // Node stats: one series set per node.
        for (i, n) in m.nodes.iter().enumerate() {
            let at = [("node", n.name.as_str())];
            assert_eq!(
                value(&nodes, "emcecs.node.stats.up", &at),
                1.0,
                "{}",
                n.name
            );
            let lf = value(&nodes, "emcecs.node.load_factor", &at);
            assert!(
                lf == m.load_factor(i, t0) as f64 || lf == m.load_factor(i, t1) as f64,
                "{}: load factor {lf}",
                n.name
            );
            let dt = find(
                &nodes,
                "emcecs.node.dt.tables",
                &[at[0], ("state", "total")],
            );
            if version.has_dt_stats() {
                let (total, unready, unknown) = m.dt_stats(i, &o);
                assert_eq!(dt.len(), 1, "{}", n.name);
                assert_eq!(dt[0].value, total as f64);
                assert_eq!(
                    value(
                        &nodes,
                        "emcecs.node.dt.tables",
                        &[at[0], ("state", "unready")]
                    ),
                    unready as f64
                );
                assert_eq!(
                    value(
                        &nodes,
                        "emcecs.node.dt.tables",
                        &[at[0], ("state", "unknown")]
                    ),
                    unknown as f64
                );
            } else {
                assert!(dt.is_empty(), "ObjectScale has no port 9101: {dt:?}");
            }
        }
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn ecs_3_5_figures_match_the_model() {
    figures_match_the_model(Version::Ecs35).await;
}

#[tokio::test]
async fn ecs_3_8_figures_match_the_model() {
    figures_match_the_model(Version::Ecs38).await;
}

#[tokio::test]
async fn objectscale_4_1_figures_match_the_model() {
    figures_match_the_model(Version::ObjectScale41).await;
}

/// Each cycle makes the calls the model's sizes call for, route by route (counted here
/// from the model, not with the catalog's formulas), and the catalog's stated cost agrees.
#[tokio::test]
async fn a_cycle_makes_exactly_the_calls_the_model_calls_for() {
    for version in [Version::Ecs35, Version::Ecs38, Version::ObjectScale41] {
        let env = start(version, |_| {}).await;
        let cs = env.collectors();
        let v = version.as_str();
        ok(&of(&cs, Dashboard), 1).await;
        let (first, steady, nodes, per_ns, unacked) = {
            let m = env.sim.model();
            let o = env.sim.sim.faults.overrides();
            (
                calls::dashboard(&m, true),
                calls::dashboard(&m, false),
                calls::node_stats(&m, version, &o),
                m.namespaces
                    .values()
                    .map(|n| n.buckets.len() as u64)
                    .collect::<Vec<_>>(),
                m.alerts.iter().filter(|a| !a.acknowledged).count() as u64,
            )
        };
        let mut with_login = first.clone();
        with_login.insert("GET /login".into(), 1);
        assert_eq!(calls::logged(&env.sim), with_login, "{v}: first cycle");
        // The next cycle reuses the bucket settings.
        env.sim.sim.log.reset();
        ok(&of(&cs, Dashboard), 2).await;
        assert_eq!(calls::logged(&env.sim), steady, "{v}: steady cycle");
        env.sim.sim.log.reset();
        ok(&of(&cs, NodeStats), 1).await;
        assert_eq!(calls::logged(&env.sim), nodes, "{v}: node stats");
        // What the catalog (and docs/metrics.md) states, for management calls only.
        let total = |c: &calls::Calls| {
            c.iter()
                .filter(|(k, _)| !k.contains("node:"))
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        assert_eq!(
            catalog::dashboard_calls(unacked, Some(&per_ns)),
            total(&first),
            "{v}"
        );
        assert_eq!(
            catalog::dashboard_calls(unacked, None),
            total(&steady),
            "{v}"
        );
        let node_count = env.sim.model().nodes.len() as u64;
        assert_eq!(
            catalog::node_stats_calls(node_count, true),
            nodes.values().sum::<u64>(),
            "{v}"
        );
        finish(&env, &cs).await;
    }
}

#[tokio::test]
async fn ten_simulated_minutes_need_one_login() {
    let env = start(Version::Ecs38, |_| {}).await;
    let cs = env.collectors();
    let (dash, node) = (of(&cs, Dashboard), of(&cs, NodeStats));
    let mut lz_free = Vec::new();
    for minute in 1..=10u64 {
        let (d, n) = tokio::join!(ok(&dash, minute), ok(&node, minute));
        assert!(d.warnings.is_empty() && n.warnings.is_empty());
        lz_free.push(value(&d, "emcecs.capacity.free", &[]));
        env.sim.sim.clock.advance(60);
    }
    let (logins, logouts, refused) = env.logins();
    assert_eq!((logins, logouts, refused), (1, 0, 0));
    assert_eq!(env.tokens(), 1);
    // The simulated time really moved: the cluster kept filling up.
    assert!(
        lz_free.windows(2).any(|w| w[1] != w[0]),
        "free capacity never changed over 10 simulated minutes: {lz_free:?}"
    );
    finish(&env, &cs).await;
    assert_eq!(env.logins().1, 1, "one logout at shutdown");
}

#[tokio::test]
async fn compatibility_names_are_there_only_when_asked() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    let cs = env.collectors();
    let plain = names(&ok(&of(&cs, Dashboard), 1).await);
    assert!(!plain.iter().any(|n| n.starts_with("emcecs_")), "{plain:?}");
    finish(&env, &cs).await;

    env.cfg.compatibility_names = true;
    let cs = env.collectors();
    let d = ok(&of(&cs, Dashboard), 1).await;
    let n = ok(&of(&cs, NodeStats), 1).await;
    for s in [&d, &n] {
        only_catalog_names(s, &[&catalog::CATALOG, &catalog::COMPAT_CATALOG]);
    }
    {
        let m = env.sim.model();
        assert_eq!(
            value(&d, "emcecs_cluster_good_nodes", &[]),
            m.nodes.len() as f64
        );
        let ip = m.nodes[0].mgmt_ip.to_string();
        assert_eq!(
            value(&n, "emcecs_node_dtTotal", &[("node", ip.as_str())]),
            m.dt_stats(0, &env.sim.sim.faults.overrides()).0 as f64
        );
        // Alerts are gauges here, not the paychex exporter's counters.
        let otlp = d.resource_metrics[0].to_otlp();
        let alerts = otlp.scope_metrics[0]
            .metrics
            .iter()
            .find(|x| x.name == "emcecs_cluster_alerts_critical")
            .expect("compat alerts");
        assert!(
            matches!(
                alerts.data,
                Some(pipeline::otlp::metrics::v1::metric::Data::Gauge(_))
            ),
            "{alerts:?}"
        );
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_disabled_collector_is_not_built() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    env.cfg.collectors.node_stats.schedule.enabled = false;
    let cs = env.collectors();
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0].kind, Dashboard);
    // Nothing was called just by building.
    assert_eq!(env.sim.sim.log.total(), 0);
}

#[tokio::test]
async fn every_collector_reports_the_same_resource_from_its_first_cycle() {
    let env = start(Version::Ecs38, |_| {}).await;
    let cs = env.collectors();
    // The node collector first: it has to learn the VDC itself.
    let n = ok(&of(&cs, NodeStats), 1).await;
    let d = ok(&of(&cs, Dashboard), 1).await;
    assert_eq!(resource(&n), resource(&d));
    assert_eq!(resource(&n)["ecs.vdc.name"], env.sim.model().vdc_name);
    finish(&env, &cs).await;
}
