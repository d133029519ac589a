//! The dashboard's series, from the parsed answers, in a fixed order.

use std::collections::BTreeMap;
use std::time::SystemTime;

use pipeline::{AttrValue, SnapshotBuilder};

use super::model::{
    AlertCounts, BucketSettings, Disk, LocalZone, Node, ObjectCapacity, ReplicationGroup,
    StoragePool, Transactions, VdcNodes,
};
use crate::catalog::{compat, *};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// What every part of a cycle's emission shares.
pub struct Context<'a> {
    /// Also the paychex names.
    pub compat: bool,
    /// The VDC's name (the paychex `vdc` label), once known.
    pub vdc: Option<&'a str>,
    /// ECS does not say since when it counts: the counters start when the agent first
    /// saw the cluster.
    pub counters_start: SystemTime,
    /// The cycle's time in seconds, which every point of the cycle carries.
    pub now: f64,
}

pub fn version(b: &mut SnapshotBuilder, n: &VdcNodes, c: &Context<'_>) {
    let Some(version) = &n.version else {
        return;
    };
    VERSION_INFO.record(
        b,
        1,
        [AttrValue::from(version), AttrValue::from(n.count as i64)],
    );
    if c.compat {
        compat::VERSION.record(b, 1, [version.clone(), n.count.to_string()]);
    }
}

pub fn localzone(b: &mut SnapshotBuilder, z: &LocalZone, c: &Context<'_>) {
    for (state, x) in z.nodes {
        if let Some(x) = x {
            NODES.record(b, x, [state]);
        }
    }
    for (state, x) in z.disks {
        if let Some(x) = x {
            DISKS.record(b, x, [state]);
        }
    }
    for (m, v) in [
        (&CAPACITY_TOTAL, z.total),
        (&CAPACITY_FREE, z.free),
        (&CAPACITY_ALLOCATED, z.allocated),
        (&CAPACITY_RESERVED, z.reserved),
        (&CAPACITY_OFFLINE, z.offline),
    ] {
        if let Some(x) = v {
            m.record(b, x, ());
        }
    }
    for (ty, v) in z.used {
        if let Some(x) = v {
            CAPACITY_USED.record(b, x, [ty]);
        }
    }
    if let Some(p) = z.allocated_percent {
        CAPACITY_ALLOCATED_RATIO.record(b, p / 100.0, ());
    }
    if let (Some(u), Some(a)) = (z.user_data(), z.allocated)
        && a > 0.0
    {
        EFFICIENCY.record(b, u / a, ());
    }
    if let Some(overhead) = z.protection_overhead() {
        PROTECTION_OVERHEAD.record(b, overhead, ());
    }
    gc_recovery_chunks(b, z);
    transactions(b, &z.transactions, c);
    if c.compat {
        let vdc = [c.vdc];
        for (m, x) in [
            (&compat::GOOD_NODES, z.nodes[0].1),
            (&compat::BAD_NODES, z.nodes[1].1),
            (&compat::GOOD_DISKS, z.disks[0].1),
            (&compat::BAD_DISKS, z.disks[1].1),
        ] {
            if let Some(x) = x {
                m.record(b, x, vdc);
            }
        }
        if let Some(x) = z.free {
            compat::SPACE_FREE.record(b, x, vdc);
        }
        if let Some(x) = z.total {
            compat::SPACE_TOTAL.record(b, x, vdc);
        }
    }
}

fn gc_recovery_chunks(b: &mut SnapshotBuilder, z: &LocalZone) {
    if let Some(x) = z.ec_coded_percent {
        EC_CODED.record(b, x / 100.0, ());
    }
    if let Some(x) = z.ec_rate {
        EC_RATE.record(b, x, ());
    }
    for (ty, v) in z.gc_pending {
        if let Some(x) = v {
            GC_PENDING.record(b, x, [ty]);
        }
    }
    for (ty, v) in z.gc_reclaimed {
        if let Some(x) = v {
            GC_RECLAIMED.record(b, x, [ty]);
        }
    }
    for (m, v) in [
        (&GC_UNRECLAIMABLE, z.gc_unreclaimable),
        (&RECOVERY_RATE, z.recovery_rate),
        (&RECOVERY_PENDING, z.recovery_pending),
        (&RECOVERY_REMAINING, z.recovery_remaining),
    ] {
        if let Some(x) = v {
            m.record(b, x, ());
        }
    }
    for (ty, n, size) in z.chunks {
        if let Some(x) = n {
            CHUNKS.record(b, x, [ty]);
        }
        if let Some(x) = size {
            CHUNKS_SIZE.record(b, x, [ty]);
        }
    }
}

fn transactions(b: &mut SnapshotBuilder, t: &Transactions, c: &Context<'_>) {
    for (o, v) in t.latency.by_operation() {
        if let Some(ms) = v {
            TX_LATENCY.record(b, ms / 1000.0, [o]);
        }
    }
    for (o, v) in t.rate.by_operation() {
        if let Some(x) = v {
            TX_RATE.record(b, x, [o]);
        }
    }
    for (o, v) in t.bandwidth.by_operation() {
        if let Some(x) = v {
            TX_BANDWIDTH.record(b, x, [o]);
        }
    }
    let start = c.counters_start;
    if let Some(x) = t.success {
        TX_TOTAL.record(b, x, start, ["success"]);
    }
    if let Some(x) = t.error {
        TX_TOTAL.record(b, x, start, ["error"]);
    }
    for ((code, proto, category), n) in &t.errors {
        TX_ERRORS.record(b, *n, start, [code, proto, category]);
    }
    if c.compat {
        compat_transactions(b, t, c.vdc);
    }
}

fn compat_transactions(b: &mut SnapshotBuilder, t: &Transactions, vdc: Option<&str>) {
    for (m, v) in [
        (&compat::TX_SUCCESS, t.success.map(|x| x as f64)),
        (&compat::TX_ERROR, t.error.map(|x| x as f64)),
        (&compat::TX_READ_LATENCY, t.latency.read),
        (&compat::TX_WRITE_LATENCY, t.latency.write),
        (&compat::TX_READ_TPS, t.rate.read),
        (&compat::TX_WRITE_TPS, t.rate.write),
        (&compat::TX_READ_BW, t.bandwidth.read),
        (&compat::TX_WRITE_BW, t.bandwidth.write),
    ] {
        if let Some(x) = v {
            m.record(b, x, [vdc]);
        }
    }
    for ((code, proto, category), n) in &t.errors {
        compat::TX_ERROR_DETAIL.record(
            b,
            *n,
            [
                vdc,
                Some(code.as_str()),
                Some(proto.as_str()),
                Some(category.as_str()),
            ],
        );
    }
}

/// The erasure-coding scheme last recognised.
pub fn ec_scheme(b: &mut SnapshotBuilder, scheme: Option<&str>) {
    if let Some(scheme) = scheme {
        EC_INFO.record(b, 1, [scheme]);
    }
}

pub fn object_capacity(b: &mut SnapshotBuilder, c: &ObjectCapacity) {
    if let Some(p) = c.provisioned_gb {
        OBJECT_PROVISIONED.record(b, p * GIB, ());
    }
    if let Some(f) = c.free_gb {
        OBJECT_AVAILABLE.record(b, f * GIB, ());
    }
}

pub fn alerts(b: &mut SnapshotBuilder, counts: &AlertCounts, c: &Context<'_>) {
    for ((sev, ty), n) in counts {
        ALERTS.record(b, *n, [sev, ty]);
    }
    if c.compat {
        for (sev, m) in [
            ("critical", &compat::ALERTS_CRITICAL),
            ("error", &compat::ALERTS_ERROR),
            ("info", &compat::ALERTS_INFO),
            ("warning", &compat::ALERTS_WARNING),
        ] {
            let n: u64 = counts
                .iter()
                .filter(|((s, _), _)| s == sev)
                .map(|(_, n)| n)
                .sum();
            m.record(b, n, [c.vdc]);
        }
    }
}

pub fn storage_pools(b: &mut SnapshotBuilder, pools: &[StoragePool]) {
    for p in pools {
        let attrs = |state| [p.name.as_str(), p.id.as_str(), state];
        for (state, x) in p.capacity {
            if let Some(x) = x {
                POOL_CAPACITY.record(b, x, attrs(state));
            }
        }
        for (state, x) in p.nodes {
            if let Some(x) = x {
                POOL_NODES.record(b, x, attrs(state));
            }
        }
    }
}

pub fn nodes(b: &mut SnapshotBuilder, nodes: &[Node]) {
    for n in nodes {
        if let Some(h) = n.healthy {
            NODE_HEALTHY.record(b, i64::from(h), [n.name.as_str(), n.id.as_str()]);
        }
        let with = |state| [n.name.as_str(), n.id.as_str(), state];
        for (state, x) in n.disks {
            if let Some(x) = x {
                NODE_DISKS.record(b, x, with(state));
            }
        }
        for (state, x) in n.capacity {
            if let Some(x) = x {
                NODE_CAPACITY.record(b, x, with(state));
            }
        }
    }
}

pub fn disks(b: &mut SnapshotBuilder, disks: &[Disk]) {
    for d in disks {
        let with = |last| [d.node.as_str(), d.disk.as_str(), d.slot.as_str(), last];
        if let Some(h) = d.healthy {
            DISK_HEALTHY.record(b, i64::from(h), with(d.storage_pool.as_str()));
        }
        for (state, x) in d.capacity {
            if let Some(x) = x {
                DISK_CAPACITY.record(b, x, with(state));
            }
        }
    }
}

pub fn replication_groups(b: &mut SnapshotBuilder, groups: &[ReplicationGroup], c: &Context<'_>) {
    for g in groups {
        let attrs = [g.name.as_str(), g.id.as_str()];
        if let Some(x) = g.ingress {
            REPL_INGRESS.record(b, x, attrs);
        }
        if let Some(x) = g.egress {
            REPL_EGRESS.record(b, x, attrs);
        }
        for (ty, x) in g.pending {
            if let Some(x) = x {
                REPL_PENDING.record(b, x, [g.name.as_str(), g.id.as_str(), ty]);
            }
        }
        if let Some(t) = g.rpo {
            REPL_LAG.record(b, (c.now - t as f64).max(0.0), attrs);
        }
        if c.compat {
            let node = [g.name.as_str()];
            for (m, value) in [
                (&compat::REPL_INGRESS, g.ingress),
                (&compat::REPL_EGRESS, g.egress),
                (&compat::REPL_DATA_PENDING, g.pending[0].1),
                (&compat::REPL_JOURNAL_PENDING, g.pending[1].1),
                (&compat::REPL_XOR_PENDING, g.pending[2].1),
                (&compat::REPL_LAST, g.rpo.map(|t| t as f64)),
            ] {
                if let Some(x) = value {
                    m.record(b, x, node);
                }
            }
        }
    }
}

/// Failed links per replication group, with a zero for each group in `groups` (this
/// cycle's, or the last known) that has none.
pub fn failed_links(b: &mut SnapshotBuilder, groups: &[String], links: &[String]) {
    let mut per_rg: BTreeMap<&str, u64> = groups.iter().map(|n| (n.as_str(), 0)).collect();
    for rg in links {
        *per_rg.entry(rg).or_insert(0) += 1;
    }
    for (rg, n) in per_rg {
        REPL_LINKS_FAILED.record(b, n, [rg]);
    }
}

/// Every bucket's settings, and the namespaces and buckets per namespace they were read from.
/// `buckets` in (namespace, bucket) order.
pub fn buckets<'a>(
    b: &mut SnapshotBuilder,
    namespaces: usize,
    buckets: impl IntoIterator<Item = &'a BucketSettings>,
) {
    NAMESPACES.record(b, namespaces, ());
    let mut per_ns: BTreeMap<&str, u64> = BTreeMap::new();
    for s in buckets {
        *per_ns.entry(&s.namespace).or_insert(0) += 1;
        let attrs = [s.namespace.as_str(), s.bucket.as_str()];
        if let Some(x) = s.object_lock {
            BUCKET_LOCK.record(b, i64::from(x), attrs);
        }
        if let (Some(mode), Some(days)) = (&s.lock_mode, s.lock_days) {
            BUCKET_LOCK_RETENTION.record(
                b,
                days * 86_400.0,
                [s.namespace.as_str(), s.bucket.as_str(), mode.as_str()],
            );
        }
        if let Some(x) = s.retention_secs.filter(|r| *r >= 0) {
            BUCKET_RETENTION.record(b, x, attrs);
        }
        if let Some(x) = s.versioning {
            BUCKET_VERSIONING.record(b, i64::from(x), attrs);
        }
        if let Some(x) = s.locked {
            BUCKET_LOCKED.record(b, i64::from(x), attrs);
        }
    }
    for (ns, n) in per_ns {
        BUCKETS.record(b, n, [ns]);
    }
}
