//! Every figure of the dashboard and node-stats collectors, compared whole with what the
//! simulator's model says for the same second (the simulator's clock is frozen and the
//! cycle runs at that second): each series' name, labels and value, no series missing and
//! none extra, in ECS 3.5, 3.8 and ObjectScale 4.1, for a healthy cluster and for one with
//! a node down, a node in maintenance, directory tables not ready or unknown, and a
//! replication lag. Then the client's own figures against the calls the cycle made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ecs_sim::Version;
use receiver_ecs::CollectorKind::{Dashboard, NodeStats};
use support::calls::{self, Calls};
use support::expect::{self, Expect, client_metric};
use support::*;

/// The client's figures after the management `calls` of a cycle and one login: every
/// call answered 200, counted and timed once, no breaker open.
fn client_expect(calls: &Calls) -> Expect {
    let mut e = Expect::default();
    let mut routes: Vec<(String, u64)> = calls
        .iter()
        .filter_map(|(k, n)| k.strip_prefix("GET ").map(|r| (r.to_owned(), *n)))
        .filter(|(r, _)| !r.starts_with("node:"))
        .collect();
    routes.push(("/login".into(), 1));
    for (route, n) in &routes {
        let at = [("endpoint", route.as_str())];
        e.set(
            "ecs_otel_agent.ecs.requests",
            &[at[0], ("status", "200")],
            *n as f64,
        );
        // A histogram point reads as its count.
        e.set("ecs_otel_agent.ecs.request.duration", &at, *n as f64);
        e.set("ecs_otel_agent.ecs.circuit.open", &at, 0.0);
    }
    e.set("ecs_otel_agent.ecs.logins", &[("outcome", "success")], 1.0);
    e
}

#[derive(Clone, Copy, PartialEq)]
enum Cluster {
    Healthy,
    /// Node 1 down, node 3 in maintenance, node 0 with 30 unready and node 2 with 7
    /// unknown directory tables, a bad disk on node 2, an hour of extra replication lag.
    Troubled,
}

/// One cycle of each collector against the model.
async fn every_figure(version: Version, state: Cluster, compat: bool) {
    let mut env = start_frozen(version, |s| {
        if state == Cluster::Troubled {
            s.faults.nodes_down = vec![1];
            s.faults.maintenance = vec![3];
            s.faults.dt_unready = vec![(0, 30)];
            s.faults.dt_unknown = vec![(2, 7)];
            s.faults.extra_rpo_lag_secs = 3600;
        }
    })
    .await;
    if state == Cluster::Troubled {
        env.sim.sim.model_mut().nodes[2].disks[1].healthy = false;
    }
    env.cfg.compatibility_names = compat;
    let cs = env.collectors();
    let what = format!(
        "{} {} compat={compat}",
        version.as_str(),
        if state == Cluster::Healthy {
            "healthy"
        } else {
            "troubled"
        }
    );

    let dash = ok_at(&env, &of(&cs, Dashboard), 1).await;
    let dash_calls = calls::logged(&env.sim);
    env.sim.sim.log.reset();
    let nodes = ok_at(&env, &of(&cs, NodeStats), 1).await;
    let node_calls = calls::logged(&env.sim);

    {
        let t = env.sim.sim.clock.now();
        let o = env.sim.sim.faults.overrides();
        let m = env.sim.model();
        assert!(dash.warnings.is_empty(), "{what}: {:?}", dash.warnings);
        let want_dash = expect::Dashboard {
            m: &m,
            t,
            o: &o,
            version,
            compat,
            buckets: true,
        }
        .expect();
        expect::compare(
            &dash,
            &want_dash,
            client_metric,
            &format!("dashboard {what}"),
        );
        let want_nodes = expect::NodeStats {
            m: &m,
            t,
            o: &o,
            version,
            compat,
        }
        .expect();
        expect::compare(
            &nodes,
            &want_nodes,
            client_metric,
            &format!("node_stats {what}"),
        );

        // What the cycles cost, from the model's sizes.
        let mut want_calls = calls::dashboard(&m, true);
        want_calls.insert("GET /login".into(), 1);
        assert_eq!(dash_calls, want_calls, "{what}: dashboard calls");
        assert_eq!(
            node_calls,
            calls::node_stats(&m, version, &o),
            "{what}: node_stats calls"
        );
        // The dashboard is the first collector: it reports the client's figures.
        expect::compare(
            &dash,
            &client_expect(&calls::dashboard(&m, true)),
            |n| !client_metric(n),
            &format!("client {what}"),
        );

        match state {
            Cluster::Healthy => assert!(nodes.warnings.is_empty(), "{what}: {:?}", nodes.warnings),
            Cluster::Troubled => {
                let n = &m.nodes[1];
                assert!(
                    nodes
                        .warnings
                        .iter()
                        .any(|w| w.contains(&n.name) && w.contains(&n.mgmt_ip.to_string())),
                    "{what}: no warning names the down node: {:?}",
                    nodes.warnings
                );
            }
        }
    }
    finish(&env, &cs).await;
}

async fn in_every_state(version: Version) {
    every_figure(version, Cluster::Healthy, false).await;
    every_figure(version, Cluster::Healthy, true).await;
    every_figure(version, Cluster::Troubled, true).await;
}

#[tokio::test]
async fn ecs_3_5_every_figure_equals_the_model() {
    in_every_state(Version::Ecs35).await;
}

#[tokio::test]
async fn ecs_3_8_every_figure_equals_the_model() {
    in_every_state(Version::Ecs38).await;
}

#[tokio::test]
async fn objectscale_4_1_every_figure_equals_the_model() {
    in_every_state(Version::ObjectScale41).await;
}
