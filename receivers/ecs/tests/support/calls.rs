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

/// An IAM cycle with list pages of `page` items, per `POST /iam?Action=…`, before any
/// policy document is cached (`GetPolicyVersion` is left out: it depends on which
/// namespace reads a built-in policy first, see [`iam_policy_versions`]).
pub fn iam(m: &Cluster, page: usize) -> Calls {
    use ecs_sim::model::iam::{GLOBAL_POLICIES, global_policy_arn};
    let mut c = Calls::new();
    add(
        &mut c,
        "GET /object/namespaces",
        pages(m.namespaces.len(), 1000),
    );
    add(&mut c, "GET /vdc/users", 1);
    add(&mut c, "GET /vdc/admin/authnproviders", 1);
    add(
        &mut c,
        "GET /vdc/admin/authnproviders/{id}",
        m.authn_providers.len() as u64,
    );
    let iam =
        |c: &mut Calls, action: &str, n: u64| add(c, &format!("POST /iam?Action={action}"), n);
    for ns in m.namespaces.values() {
        let d = &ns.iam;
        iam(&mut c, "ListUsers", pages(d.users.len(), page));
        iam(&mut c, "ListGroups", pages(d.groups.len(), page));
        iam(&mut c, "ListRoles", pages(d.roles.len(), page));
        iam(
            &mut c,
            "ListPolicies",
            pages(d.policies.len() + GLOBAL_POLICIES.len(), page),
        );
        // Who holds a policy is asked only of policies held by someone.
        let held = d
            .policies
            .iter()
            .map(|p| p.arn.clone())
            .chain(GLOBAL_POLICIES.iter().map(|(n, _)| global_policy_arn(n)))
            .filter(|arn| d.attachment_count(arn) > 0)
            .count();
        iam(&mut c, "ListEntitiesForPolicy", held as u64);
        for g in &d.groups {
            let members = d
                .users
                .iter()
                .filter(|u| u.groups.contains(&g.name))
                .count();
            iam(&mut c, "GetGroup", pages(members, page));
            iam(&mut c, "ListGroupPolicies", pages(g.inline.len(), page));
            iam(&mut c, "GetGroupPolicy", g.inline.len() as u64);
        }
        for r in &d.roles {
            iam(&mut c, "ListRolePolicies", pages(r.inline.len(), page));
            iam(&mut c, "GetRolePolicy", r.inline.len() as u64);
        }
        for u in &d.users {
            iam(&mut c, "ListAccessKeys", pages(u.keys.len(), page));
            iam(&mut c, "GetAccessKeyLastUsed", u.keys.len() as u64);
            iam(&mut c, "ListUserPolicies", pages(u.inline.len(), page));
            iam(&mut c, "GetUserPolicy", u.inline.len() as u64);
        }
    }
    c
}

/// `GetPolicyVersion` calls of a first IAM cycle: one per policy of its own a namespace
/// attaches, and per built-in policy at least once and at most once per namespace that
/// attaches it (namespaces are read side by side; the first to finish caches it).
pub fn iam_policy_versions(m: &Cluster) -> std::ops::RangeInclusive<u64> {
    use ecs_sim::model::iam::{GLOBAL_POLICIES, global_policy_arn};
    let mut own = 0;
    let mut builtin_reads = 0;
    let mut builtins = std::collections::BTreeSet::new();
    for ns in m.namespaces.values() {
        let d = &ns.iam;
        own += d
            .policies
            .iter()
            .filter(|p| d.attachment_count(&p.arn) > 0)
            .count() as u64;
        for (n, _) in GLOBAL_POLICIES {
            if d.attachment_count(&global_policy_arn(n)) > 0 {
                builtin_reads += 1;
                builtins.insert(*n);
            }
        }
    }
    own + builtins.len() as u64..=own + builtin_reads
}

/// A billing cycle reading every namespace in batches of `batch` (bulk POSTs with bucket
/// detail, which ECS pages at `detail_page` buckets), with or without this cycle's
/// samples (month to date and the trend window: two more POSTs per batch) and the
/// replication groups' names (vpools). A namespace whose detail spans more pages is
/// continued with one GET per extra page, for each read.
pub fn billing(
    m: &Cluster,
    batch: usize,
    detail_page: usize,
    samples: bool,
    vpools: bool,
) -> Calls {
    let mut c = Calls::new();
    let n = m.namespaces.len();
    add(&mut c, "GET /object/namespaces", pages(n, 1000));
    if vpools {
        add(&mut c, "GET /vdc/data-service/vpools", 1);
    }
    let batches = n.div_ceil(batch) as u64;
    let extra: u64 = m
        .namespaces
        .values()
        .map(|ns| pages(ns.buckets.len(), detail_page) - 1)
        .sum();
    add(&mut c, "POST /object/billing/namespace/info", batches);
    add(
        &mut c,
        "GET /object/billing/namespace/{namespace}/info",
        extra,
    );
    if samples {
        add(&mut c, "POST /object/billing/namespace/sample", 2 * batches);
        add(
            &mut c,
            "GET /object/billing/namespace/{namespace}/sample",
            2 * extra,
        );
    }
    c
}
