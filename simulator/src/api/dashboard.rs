//! /dashboard/…: the local zone (a flat object), its HAL lists of nodes, disks, storage
//! pools, replication groups and RG links, and single instances. Time series are
//! `[{"t":"<epoch s>","<Tag>":"<value>"}]`, numbers as strings as ECS sends them;
//! `*Current` is the latest point, the bare name a history (unless `dataType=current`),
//! `*Summary` its `Min`/`Max`/`Avg`.

use serde_json::{Map, Value, json};

use crate::format::Doc;
use crate::model::system::Overrides;
use crate::model::{Cluster, SAMPLE};
use crate::server::{Reply, Req, Sim};

/// Points in a history series (one hour of 5-minute points).
const HISTORY: i64 = 12;

fn point(t: i64, tag: &str, value: impl ToString) -> Value {
    let mut m = Map::new();
    m.insert("t".into(), json!(t.to_string()));
    m.insert(tag.into(), json!(value.to_string()));
    Value::Object(m)
}

fn current(t: i64, tag: &str, value: impl ToString) -> Value {
    json!([point(t, tag, value)])
}

fn fmt_f(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Adds `<name>` (history), `<name>Current` and `<name>Summary` for a figure.
fn series(
    out: &mut Map<String, Value>,
    name: &str,
    tag: &str,
    now: i64,
    with_history: bool,
    f: impl Fn(i64) -> u64,
) {
    let value_now = f(now);
    out.insert(format!("{name}Current"), current(now, tag, value_now));
    if !with_history {
        return;
    }
    let last = now - now.rem_euclid(SAMPLE);
    let points: Vec<(i64, u64)> = (0..HISTORY)
        .rev()
        .map(|i| last - i * SAMPLE)
        .map(|t| (t, f(t)))
        .collect();
    out.insert(
        name.to_owned(),
        json!(
            points
                .iter()
                .map(|(t, v)| point(*t, tag, v))
                .collect::<Vec<_>>()
        ),
    );
    let (min, max) = points.iter().fold((u64::MAX, 0u64), |(lo, hi), (_, v)| {
        (lo.min(*v), hi.max(*v))
    });
    let tmin = points.iter().find(|(_, v)| *v == min).map_or(now, |p| p.0);
    let tmax = points.iter().find(|(_, v)| *v == max).map_or(now, |p| p.0);
    let avg = points.iter().map(|(_, v)| *v as f64).sum::<f64>() / points.len() as f64;
    out.insert(
        format!("{name}Summary"),
        json!({"Min": [point(tmin, tag, min)], "Max": [point(tmax, tag, max)], "Avg": [{tag: fmt_f(avg)}]}),
    );
}

fn hal_list(href: &str, title: &str, items: Vec<Value>) -> Doc {
    Doc::jaxb(
        "list",
        json!({
            "_links": {"self": {"href": href}},
            "_embedded": {"_instances": items},
            "title": title,
        }),
    )
}

fn history(req: &Req) -> bool {
    !req.q("dataType")
        .is_some_and(|d| d.eq_ignore_ascii_case("current"))
}

pub fn localzone(sim: &Sim, req: &Req) -> Reply {
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    let hist = history(req);
    let cap = m.capacity(now, &o);
    let good_nodes = m.nodes.len() - o.nodes_down.len().min(m.nodes.len());
    let disks: usize = m.nodes.iter().map(|n| n.disks.len()).sum();
    let bad_disks: usize = m
        .nodes
        .iter()
        .flat_map(|n| &n.disks)
        .filter(|d| !d.healthy)
        .count();
    let sufficient = m
        .nodes
        .iter()
        .filter(|n| !o.nodes_down.contains(&n.index))
        .count();
    let mut z = Map::new();
    z.insert(
        "_links".into(),
        json!({
            "self": {"href": "/dashboard/zones/localzone"},
            "nodes": {"href": "/dashboard/zones/localzone/nodes"},
            "storagepools": {"href": "/dashboard/zones/localzone/storagepools"},
            "replicationgroups": {"href": "/dashboard/zones/localzone/replicationgroups"},
            "rglinksFailed": {"href": "/dashboard/zones/localzone/rglinksFailed"},
            "rglinksBootstrap": {"href": "/dashboard/zones/localzone/rglinksBootstrap"},
        }),
    );
    z.insert("apiChange".into(), json!("1"));
    z.insert("id".into(), json!(m.vdc_id));
    z.insert("name".into(), json!(m.vdc_name));
    for (k, v) in [
        ("numNodes", m.nodes.len()),
        ("numGoodNodes", good_nodes),
        ("numBadNodes", m.nodes.len() - good_nodes),
        (
            "numMaintenanceNodes",
            o.maintenance.len().min(m.nodes.len()),
        ),
        ("numNodesWithSufficientDiskSpace", sufficient),
        ("numDisks", disks),
        ("numGoodDisks", disks - bad_disks),
        ("numBadDisks", bad_disks),
        ("numMaintenanceDisks", 0),
        ("numReadyToReplaceDisks", bad_disks),
    ] {
        z.insert(k.into(), json!(v.to_string()));
    }
    for (k, sev) in [
        ("alertsNumUnackCritical", "CRITICAL"),
        ("alertsNumUnackError", "ERROR"),
        ("alertsNumUnackInfo", "INFO"),
        ("alertsNumUnackWarning", "WARNING"),
    ] {
        z.insert(k.into(), current(now, "Count", m.unacked(sev)));
    }
    series(&mut z, "diskSpaceTotal", "Space", now, hist, |t| {
        m.capacity(t, &o).total
    });
    series(&mut z, "diskSpaceFree", "Space", now, hist, |t| {
        m.capacity(t, &o).free
    });
    series(&mut z, "diskSpaceAllocated", "Space", now, hist, |t| {
        m.capacity(t, &o).allocated
    });
    z.insert(
        "diskSpaceReservedCurrent".into(),
        current(now, "Space", cap.reserved),
    );
    z.insert(
        "diskSpaceOfflineTotalCurrent".into(),
        current(now, "Space", cap.offline),
    );
    z.insert(
        "diskSpaceAllocatedPercentageCurrent".into(),
        current(now, "Percent", fmt_f(cap.allocated_percent())),
    );
    for (k, v) in [
        ("diskSpaceAllocatedUserDataCurrent", cap.user_data),
        ("diskSpaceAllocatedLocalProtectionCurrent", cap.protection),
        (
            "diskSpaceAllocatedSystemMetadataCurrent",
            cap.system_metadata,
        ),
        ("diskSpaceAllocatedGeoCopyCurrent", cap.geo_copy),
        ("diskSpaceAllocatedGeoCacheCurrent", cap.geo_cache),
    ] {
        z.insert(k.into(), current(now, "Capacity", v));
    }
    let gc = m.gc(now);
    for (k, v) in [
        ("gcUserPendingCurrent", gc.user_pending),
        ("gcUserReclaimedCurrent", gc.user_reclaimed),
        ("gcUserUnreclaimableCurrent", gc.user_unreclaimable),
        (
            "gcUserTotalDetectedCurrent",
            gc.user_pending + gc.user_reclaimed + gc.user_unreclaimable,
        ),
        ("gcSystemPendingCurrent", gc.system_pending),
        ("gcSystemReclaimedCurrent", gc.system_reclaimed),
        (
            "gcCombinedPendingCurrent",
            gc.user_pending + gc.system_pending,
        ),
        (
            "gcCombinedReclaimedCurrent",
            gc.user_reclaimed + gc.system_reclaimed,
        ),
    ] {
        z.insert(k.into(), current(now, "Capacity", v));
    }
    z.insert("gcUserDataIsEnabled".into(), json!("true"));
    z.insert("gcSystemMetadataIsEnabled".into(), json!("true"));
    let rec = m.recovery(now, &o);
    z.insert("recoveryRateCurrent".into(), current(now, "Rate", rec.rate));
    z.insert(
        "recoveryBadChunksTotalSizeCurrent".into(),
        current(now, "Space", rec.bad_chunks_size),
    );
    z.insert(
        "recoveryCompleteTimeEstimate".into(),
        json!(rec.complete_estimate_secs.to_string()),
    );
    z.insert(
        "chunksEcRateCurrent".into(),
        current(now, "Rate", rec.ec_rate),
    );
    z.insert(
        "chunksEcCodedRatioCurrent".into(),
        current(now, "Percent", fmt_f(rec.ec_coded_percent)),
    );
    z.insert("chunksEcCompleteTimeEstimate".into(), json!("0"));
    let ch = m.chunks(now);
    for (k, v) in [
        ("chunksRepoNumber", ch.repo_number),
        ("chunksRepoTotalSealSize", ch.repo_total_seal_size),
        ("chunksXorNumber", ch.xor_number),
        ("chunksXorTotalSize", ch.xor_total_size),
        ("chunksGeoCopyNumber", ch.geo_copy_number),
        ("chunksGeoCopyTotalSize", ch.geo_copy_total_size),
    ] {
        z.insert(k.into(), json!(v.to_string()));
    }
    if m.cfg.version.has_transactions() {
        transactions(&m, now, &mut z);
    }
    Reply::ok(Doc::jaxb("localzone", Value::Object(z)))
}

/// ECS 3.5's transaction fields (removed from the dashboard in 3.6).
fn transactions(m: &Cluster, now: i64, z: &mut Map<String, Value>) {
    let tx = m.transactions(now);
    z.insert(
        "transactionReadLatencyCurrent".into(),
        current(now, "Latency", fmt_f(tx.read_latency_ms)),
    );
    z.insert(
        "transactionWriteLatencyCurrent".into(),
        current(now, "Latency", fmt_f(tx.write_latency_ms)),
    );
    z.insert(
        "transactionReadBandwidthCurrent".into(),
        current(now, "Bandwidth", fmt_f(tx.read_bandwidth)),
    );
    z.insert(
        "transactionWriteBandwidthCurrent".into(),
        current(now, "Bandwidth", fmt_f(tx.write_bandwidth)),
    );
    z.insert(
        "transactionReadTransactionsPerSecCurrent".into(),
        current(now, "TPS", fmt_f(tx.read_tps)),
    );
    z.insert(
        "transactionWriteTransactionsPerSecCurrent".into(),
        current(now, "TPS", fmt_f(tx.write_tps)),
    );
    z.insert(
        "transactionErrors".into(),
        json!({
            "errorSuccessTotals": [{"errorTotal": tx.error_total.to_string(), "successTotal": tx.success_total.to_string()}],
            "types": [
                {"errorType": "403 (S3)", "category": "USER", "errorCount": (tx.error_total * 2 / 3).to_string()},
                {"errorType": "500 (S3)", "category": "SYSTEM", "errorCount": (tx.error_total / 3).to_string()},
            ],
        }),
    );
}

fn node_json(
    m: &Cluster,
    node: usize,
    now: i64,
    o: &Overrides,
    hist: bool,
    cap: &crate::model::system::Capacity,
) -> Value {
    let n = &m.nodes[node];
    let f = m.node_figures_of(node, cap, o);
    let sp = &m.storage_pools[n.storage_pool];
    let mut v = Map::new();
    v.insert(
        "_links".into(),
        json!({
            "self": {"href": format!("/dashboard/nodes/{}", n.id)},
            "disks": {"href": format!("/dashboard/nodes/{}/disks", n.id)},
            "processes": {"href": format!("/dashboard/nodes/{}/processes", n.id)},
        }),
    );
    v.insert("apiChange".into(), json!("1"));
    v.insert("id".into(), json!(n.id));
    v.insert("displayName".into(), json!(n.name));
    v.insert(
        "healthStatus".into(),
        json!(if f.good { "Good" } else { "Bad" }),
    );
    for (k, x) in [
        ("numDisks", f.disks),
        ("numGoodDisks", f.good_disks),
        ("numBadDisks", f.bad_disks),
        ("numMaintenanceDisks", 0),
        ("numReadyToReplaceDisks", f.bad_disks),
    ] {
        v.insert(k.into(), json!(x.to_string()));
    }
    v.insert("storagePoolId".into(), json!(sp.id));
    v.insert("storagePoolName".into(), json!(sp.name));
    series(&mut v, "diskSpaceTotal", "Space", now, hist, |t| {
        if t == now {
            f.total
        } else {
            m.node_figures(node, t, o).total
        }
    });
    series(&mut v, "diskSpaceFree", "Space", now, hist, |t| {
        if t == now {
            f.free
        } else {
            m.node_figures(node, t, o).free
        }
    });
    series(&mut v, "diskSpaceAllocated", "Space", now, hist, |t| {
        if t == now {
            f.allocated
        } else {
            m.node_figures(node, t, o).allocated
        }
    });
    let pct = if f.total == 0 {
        0.0
    } else {
        f.allocated as f64 * 100.0 / f.total as f64
    };
    v.insert(
        "diskSpaceAllocatedPercentageCurrent".into(),
        current(now, "Percent", fmt_f(pct)),
    );
    if m.cfg.version.has_transactions() {
        let cpu = 10
            + crate::ids::h(
                m.cfg.seed,
                &[crate::model::K_NODE, node as u64, (now / 60) as u64],
            ) % 60;
        v.insert(
            "nodeCpuUtilizationAvgCurrent".into(),
            current(now, "Percent", cpu),
        );
        v.insert(
            "nodeMemoryUtilizationAvgCurrent".into(),
            current(now, "Percent", 40 + cpu / 3),
        );
    }
    Value::Object(v)
}

pub fn nodes(sim: &Sim, req: &Req) -> Reply {
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    let cap = m.capacity(now, &o);
    let items = (0..m.nodes.len())
        .map(|i| node_json(&m, i, now, &o, history(req), &cap))
        .collect();
    Reply::ok(hal_list(
        "/dashboard/zones/localzone/nodes",
        "nodes List",
        items,
    ))
}

pub fn node(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[2];
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    match m.nodes.iter().position(|n| &n.id == id) {
        Some(i) => {
            let cap = m.capacity(now, &o);
            Reply::ok(Doc::jaxb(
                "node",
                node_json(&m, i, now, &o, history(req), &cap),
            ))
        }
        None => Reply::not_found(id),
    }
}

/// `f`: the node's figures at `now`, computed once per node (they sum over every bucket).
fn disk_json(
    m: &Cluster,
    node: usize,
    d: &crate::model::Disk,
    now: i64,
    o: &Overrides,
    f: &crate::model::system::NodeFigures,
) -> Value {
    let n = &m.nodes[node];
    let sp = &m.storage_pools[n.storage_pool];
    let allocated = (f.allocated as u128 * d.size_bytes as u128 / f.total.max(1) as u128) as u64;
    let down = o.nodes_down.contains(&node);
    let status = if !d.healthy {
        "Bad"
    } else if down {
        "Suspect"
    } else {
        "Good"
    };
    json!({
        "_links": {"self": {"href": format!("/dashboard/disks/{}", d.id)}},
        "id": d.id,
        "displayName": format!("{}:{}", n.name, d.slot),
        "healthStatus": status,
        "nodeId": n.id,
        "nodeDisplayName": n.name,
        "slotId": d.slot.to_string(),
        "ssmL1Status": if d.healthy { "Good(PD UP)" } else { "Bad(PD DOWN)" },
        "ssmL2Status": if d.healthy { "Good" } else { "Bad" },
        "storagePoolId": sp.id,
        "storagePoolName": sp.name,
        "diskSpaceTotalCurrent": current(now, "Space", d.size_bytes),
        "diskSpaceAllocatedCurrent": current(now, "Space", if d.healthy { allocated } else { 0 }),
        "diskSpaceFreeCurrent": current(now, "Space", if d.healthy { d.size_bytes - allocated.min(d.size_bytes) } else { 0 }),
    })
}

pub fn disks(sim: &Sim, _req: &Req) -> Reply {
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    let mut items = Vec::new();
    let cap = m.capacity(now, &o);
    for n in &m.nodes {
        let f = m.node_figures_of(n.index, &cap, &o);
        items.extend(
            n.disks
                .iter()
                .map(|d| disk_json(&m, n.index, d, now, &o, &f)),
        );
    }
    Reply::ok(hal_list(
        "/dashboard/zones/localzone/disks",
        "disks List",
        items,
    ))
}

pub fn node_disks(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[2];
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    let Some(node) = m.nodes.iter().position(|n| &n.id == id) else {
        return Reply::not_found(id);
    };
    let f = m.node_figures(node, now, &o);
    let items = m.nodes[node]
        .disks
        .iter()
        .map(|d| disk_json(&m, node, d, now, &o, &f))
        .collect();
    Reply::ok(hal_list(
        &format!("/dashboard/nodes/{id}/disks"),
        "disks List",
        items,
    ))
}

fn storage_pool_json(m: &Cluster, sp: usize, now: i64, o: &Overrides) -> Value {
    let pool = &m.storage_pools[sp];
    let figures: Vec<_> = pool
        .nodes
        .iter()
        .map(|&n| m.node_figures(n, now, o))
        .collect();
    let total: u64 = figures.iter().map(|f| f.total).sum();
    let allocated: u64 = figures.iter().map(|f| f.allocated).sum();
    let good = figures.iter().filter(|f| f.good).count();
    let disks: u64 = figures.iter().map(|f| f.disks).sum();
    json!({
        "_links": {"self": {"href": format!("/dashboard/storagepools/{}", pool.id)}, "nodes": {"href": format!("/dashboard/storagepools/{}/nodes", pool.id)}},
        "apiChange": "1",
        "id": pool.id,
        "name": pool.name,
        "numNodes": pool.nodes.len().to_string(),
        "numGoodNodes": good.to_string(),
        "numBadNodes": (pool.nodes.len() - good).to_string(),
        "numSuspectNodes": "0",
        "numDisks": disks.to_string(),
        "diskSpaceTotalCurrent": current(now, "Space", total),
        "diskSpaceAllocatedCurrent": current(now, "Space", allocated),
        "diskSpaceFreeCurrent": current(now, "Space", total.saturating_sub(allocated)),
        "diskSpaceAllocatedPercentageCurrent": current(now, "Percent", fmt_f(if total == 0 { 0.0 } else { allocated as f64 * 100.0 / total as f64 })),
    })
}

pub fn storage_pools(sim: &Sim, _req: &Req) -> Reply {
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    let items = (0..m.storage_pools.len())
        .map(|i| storage_pool_json(&m, i, now, &o))
        .collect();
    Reply::ok(hal_list(
        "/dashboard/zones/localzone/storagepools",
        "storagepools List",
        items,
    ))
}

pub fn storage_pool(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[2];
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    match m.storage_pools.iter().position(|p| &p.id == id) {
        Some(i) => Reply::ok(Doc::jaxb("storagepool", storage_pool_json(&m, i, now, &o))),
        None => Reply::not_found(id),
    }
}

fn rg_json(m: &Cluster, rg: usize, now: i64, o: &Overrides, hist: bool) -> Value {
    let g = &m.rgs[rg];
    let r = m.replication(rg, now, o);
    let mut v = Map::new();
    v.insert(
        "_links".into(),
        json!({"self": {"href": format!("/dashboard/replicationgroups/{}", g.id)}, "rglinks": {"href": format!("/dashboard/replicationgroups/{}/rglinks", g.id)}}),
    );
    v.insert("apiChange".into(), json!("1"));
    v.insert("id".into(), json!(g.id));
    v.insert("name".into(), json!(g.name));
    v.insert("numZones".into(), json!(g.zones.to_string()));
    series(
        &mut v,
        "replicationIngressTraffic",
        "Bandwidth",
        now,
        hist,
        |t| m.replication(rg, t, o).ingress,
    );
    series(
        &mut v,
        "replicationEgressTraffic",
        "Bandwidth",
        now,
        hist,
        |t| m.replication(rg, t, o).egress,
    );
    v.insert(
        "chunksRepoPendingReplicationTotalSize".into(),
        json!(r.pending_repo.to_string()),
    );
    v.insert(
        "chunksJournalPendingReplicationTotalSize".into(),
        json!(r.pending_journal.to_string()),
    );
    v.insert(
        "chunksPendingXorTotalSize".into(),
        json!(r.pending_xor.to_string()),
    );
    v.insert(
        "replicationRpoTimestamp".into(),
        json!(r.rpo_timestamp.to_string()),
    );
    Value::Object(v)
}

pub fn replication_groups(sim: &Sim, req: &Req) -> Reply {
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    let items = (0..m.rgs.len())
        .map(|i| rg_json(&m, i, now, &o, history(req)))
        .collect();
    Reply::ok(hal_list(
        "/dashboard/zones/localzone/replicationgroups",
        "replicationgroups List",
        items,
    ))
}

pub fn replication_group(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[2];
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    match m.rgs.iter().position(|r| &r.id == id) {
        Some(i) => Reply::ok(Doc::jaxb(
            "replicationgroup",
            rg_json(&m, i, now, &o, history(req)),
        )),
        None => Reply::not_found(id),
    }
}

pub fn rglinks_failed(sim: &Sim, _req: &Req) -> Reply {
    let m = sim.model();
    let vdc = m.vdc_name.clone();
    let items = m
        .rgs
        .iter()
        .filter(|g| g.link_failed)
        .flat_map(|g| {
            let vdc = vdc.clone();
            g.peers.iter().map(move |peer| {
                json!({
                    "_links": {"self": {"href": format!("/dashboard/rglinks/{}:{}", g.id, peer)}},
                    "id": format!("{}:{}", g.id, peer),
                    "rgName": g.name,
                    "zone1Name": vdc,
                    "zone2Name": peer,
                    "rglinkStatus": "FAILED",
                })
            })
        })
        .collect();
    Reply::ok(hal_list(
        "/dashboard/zones/localzone/rglinksFailed",
        "rglinksFailedList",
        items,
    ))
}

pub fn rglinks_bootstrap(_sim: &Sim, _req: &Req) -> Reply {
    Reply::ok(hal_list(
        "/dashboard/zones/localzone/rglinksBootstrap",
        "rglinksBootstrapList",
        vec![],
    ))
}
