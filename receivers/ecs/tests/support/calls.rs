//! What a cycle should cost, per `METHOD route` as the simulator logs it, derived from the
//! model's sizes and ECS's page sizes — independently of the catalog's formula functions,
//! so that a collector and its documented cost cannot drift together unnoticed.

use std::collections::BTreeMap;

use ecs_sim::Version;
use ecs_sim::model::Cluster;
use ecs_sim::model::system::Overrides;

pub type Calls = BTreeMap<String, u64>;

/// Pages of a listing of `items` at `per_page` (an empty listing is still one call).
pub fn pages(items: usize, per_page: usize) -> u64 {
    (items.max(1)).div_ceil(per_page) as u64
}

fn add(c: &mut Calls, route: &str, n: u64) {
    if n > 0 {
        *c.entry(route.to_owned()).or_insert(0) += n;
    }
}

/// A dashboard cycle: the local zone and its six lists, /vdc/nodes, /object/capacity and
/// the unacknowledged alerts a thousand at a time; with `bucket_settings`, also the
/// namespaces (a thousand a page) and each namespace's buckets (a thousand a page).
pub fn dashboard(m: &Cluster, bucket_settings: bool) -> Calls {
    let mut c = Calls::new();
    for route in [
        "GET /vdc/nodes",
        "GET /dashboard/zones/localzone",
        "GET /dashboard/zones/localzone/nodes",
        "GET /dashboard/zones/localzone/disks",
        "GET /dashboard/zones/localzone/storagepools",
        "GET /dashboard/zones/localzone/replicationgroups",
        "GET /dashboard/zones/localzone/rglinksFailed",
        "GET /object/capacity",
    ] {
        add(&mut c, route, 1);
    }
    let unacked = m.alerts.iter().filter(|a| !a.acknowledged).count();
    add(&mut c, "GET /vdc/alerts", pages(unacked, 1000));
    if bucket_settings {
        add(
            &mut c,
            "GET /object/namespaces",
            pages(m.namespaces.len(), 1000),
        );
        for ns in m.namespaces.values() {
            add(&mut c, "GET /object/bucket", pages(ns.buckets.len(), 1000));
        }
    }
    c
}

/// A node-stats cycle: /vdc/nodes, then per node that answers its stats call (port 9101
/// on ECS, the node's dashboard on ObjectScale) and its `?ping`.
pub fn node_stats(m: &Cluster, version: Version, o: &Overrides) -> Calls {
    let mut c = Calls::new();
    add(&mut c, "GET /vdc/nodes", 1);
    let up = (m.nodes.len() - o.nodes_down.len()) as u64;
    if version.has_dt_stats() {
        add(&mut c, "GET node:9101 /stats/dt/DTInitStat", up);
    } else {
        // The dashboard answers for a down node too (it shows it Bad).
        add(&mut c, "GET /dashboard/nodes/{id}", m.nodes.len() as u64);
    }
    add(&mut c, "GET node:ping /?ping", up);
    c
}

/// The simulator's log as `Calls`.
pub fn logged(sim: &ecs_sim::RunningSim) -> Calls {
    sim.sim
        .log
        .routes()
        .into_iter()
        .map(|(k, v)| (k, v.calls))
        .collect()
}
