//! The oracle: every series a collector should emit at a given simulated second, with its
//! value, computed from the simulator's model — never from the collector's output or the
//! catalog's formulas. A snapshot is then compared with it whole: a missing series, an
//! extra one, a wrong label or a wrong value all fail, and every difference is listed.
//!
//! The conversions written here (GB × 1024³, percent ÷ 100, ms ÷ 1000, days × 86,400) are
//! the documented meaning of each metric, restated independently of the receiver.

use std::collections::{BTreeMap, BTreeSet};

use ecs_sim::Version;
use ecs_sim::model::Cluster;
use ecs_sim::model::system::Overrides;

use super::{Point, points};

pub type Labels = Vec<(String, String)>;

const GIB: u64 = 1024 * 1024 * 1024;

/// One expected point: its value and, where the test knows them, its time and its
/// counter's start (seconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub value: f64,
    pub time: Option<i64>,
    pub start: Option<i64>,
}

/// The series expected in one snapshot.
#[derive(Debug, Default)]
pub struct Expect {
    pub live: BTreeMap<(String, Labels), Want>,
    /// Series that must carry a staleness marker (a node that did not answer).
    pub stale: BTreeSet<(String, Labels)>,
    /// The time `set` gives its points (the cycle's time), if known.
    pub time: Option<i64>,
}

/// The management client's own figures (calls, durations, logins, breakers), which the
/// first collector of a cluster reports whatever it collects; checked apart from the
/// collectors' figures.
pub fn client_metric(name: &str) -> bool {
    name.starts_with("ecs_otel_agent.ecs.") && !name.starts_with("ecs_otel_agent.ecs.billing.")
}

fn labels(attrs: &[(&str, &str)]) -> Labels {
    let mut l: Labels = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.sort();
    l
}

impl Expect {
    pub fn set(&mut self, name: &str, attrs: &[(&str, &str)], value: f64) {
        let time = self.time;
        self.set_at(name, attrs, value, time, None);
    }

    /// A point with its own time and, for a counter, its start.
    pub fn set_at(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        value: f64,
        time: Option<i64>,
        start: Option<i64>,
    ) {
        let key = (name.to_owned(), labels(attrs));
        let want = Want { value, time, start };
        assert!(
            self.live.insert(key.clone(), want).is_none(),
            "the oracle expects {key:?} twice"
        );
    }

    pub fn stale(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.stale.insert((name.to_owned(), labels(attrs)));
    }

    /// Metric names this expectation covers.
    pub fn names(&self) -> BTreeSet<String> {
        self.live
            .keys()
            .chain(self.stale.iter())
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Equal, but for the last bits a different order of the same float operations may give
/// (sums of costs): a few units in the last place, never a formula's worth.
fn same(a: f64, b: f64) -> bool {
    b.is_nan() || a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

/// Compares every point of `s` whose name is not `ignored` with `e`, and panics with
/// every difference found.
pub fn compare(s: &pipeline::Snapshot, e: &Expect, ignored: impl Fn(&str) -> bool, what: &str) {
    let mut problems = Vec::new();
    let mut live: BTreeMap<(String, Labels), Point> = BTreeMap::new();
    let mut stale = BTreeSet::new();
    for p in points(s) {
        if ignored(&p.name) {
            continue;
        }
        let key = (
            p.name.clone(),
            p.attrs.clone().into_iter().collect::<Labels>(),
        );
        if p.stale {
            stale.insert(key);
        } else if live.insert(key.clone(), p).is_some() {
            problems.push(format!("emitted twice: {key:?}"));
        }
    }
    for (key, want) in &e.live {
        let Some(got) = live.get(key) else {
            problems.push(format!("missing: {key:?} (expected {})", want.value));
            continue;
        };
        if !same(got.value, want.value) {
            problems.push(format!(
                "{key:?}: {} emitted, {} expected",
                got.value, want.value
            ));
        }
        if want.time.is_some_and(|t| t != got.time) {
            problems.push(format!(
                "{key:?}: time {} emitted, {:?} expected",
                got.time, want.time
            ));
        }
        if want.start.is_some_and(|t| t != got.start) {
            problems.push(format!(
                "{key:?}: start {} emitted, {:?} expected",
                got.start, want.start
            ));
        }
    }
    for (key, got) in &live {
        if !e.live.contains_key(key) {
            problems.push(format!("not expected: {key:?} = {}", got.value));
        }
    }
    for key in e.stale.symmetric_difference(&stale) {
        let side = if e.stale.contains(key) {
            "staleness marker missing"
        } else {
            "unexpected staleness marker"
        };
        problems.push(format!("{side}: {key:?}"));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} difference(s) with the model:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// A number as the simulator writes it on the dashboard: two decimals.
fn shown(v: f64) -> f64 {
    format!("{v:.2}").parse().unwrap_or(f64::NAN)
}

/// What the dashboard collector reports at second `t`.
pub struct Dashboard<'a> {
    pub m: &'a Cluster,
    pub t: i64,
    pub o: &'a Overrides,
    pub version: Version,
    pub compat: bool,
    /// The bucket settings were read this cycle (or are cached).
    pub buckets: bool,
}

impl Dashboard<'_> {
    pub fn expect(&self) -> Expect {
        // Every point carries the cycle's time.
        let mut e = Expect {
            time: Some(self.t),
            ..Expect::default()
        };
        self.cluster(&mut e);
        self.pools_nodes_disks(&mut e);
        self.replication(&mut e);
        if self.version == Version::Ecs35 {
            self.transactions(&mut e);
        }
        if self.buckets {
            self.buckets(&mut e);
        }
        e
    }

    fn cluster(&self, e: &mut Expect) {
        let (m, t, o) = (self.m, self.t, self.o);
        let vdc = m.vdc_name.as_str();
        let nodes = m.nodes.len();
        let down = o.nodes_down.len();
        let n = nodes.to_string();
        e.set(
            "emcecs.version.info",
            &[("version", self.version.build()), ("nodes", &n)],
            1.0,
        );
        e.set("emcecs.nodes", &[("state", "good")], (nodes - down) as f64);
        e.set("emcecs.nodes", &[("state", "bad")], down as f64);
        e.set(
            "emcecs.nodes",
            &[("state", "maintenance")],
            o.maintenance.len() as f64,
        );
        let disks: usize = m.nodes.iter().map(|n| n.disks.len()).sum();
        // A disk's own health: a down node's disks still count as good here (their
        // capacity shows as offline instead).
        let bad = m
            .nodes
            .iter()
            .flat_map(|n| &n.disks)
            .filter(|d| !d.healthy)
            .count();
        for (state, v) in [
            ("good", disks - bad),
            ("bad", bad),
            ("maintenance", 0),
            ("ready_to_replace", bad),
        ] {
            e.set("emcecs.disks", &[("state", state)], v as f64);
        }
        let cap = m.capacity(t, o);
        for (name, v) in [
            ("emcecs.capacity.total", cap.total),
            ("emcecs.capacity.free", cap.free),
            ("emcecs.capacity.allocated", cap.allocated),
            ("emcecs.capacity.reserved", cap.reserved),
            ("emcecs.capacity.offline", cap.offline),
        ] {
            e.set(name, &[], v as f64);
        }
        for (ty, v) in [
            ("user_data", cap.user_data),
            ("local_protection", cap.protection),
            ("system_metadata", cap.system_metadata),
            ("geo_copy", cap.geo_copy),
            ("geo_cache", cap.geo_cache),
        ] {
            e.set("emcecs.capacity.used", &[("type", ty)], v as f64);
        }
        // Percent on the wire, a ratio in the metric.
        e.set(
            "emcecs.capacity.allocated.ratio",
            &[],
            shown(cap.allocated as f64 * 100.0 / cap.total as f64) / 100.0,
        );
        // /object/capacity speaks whole GiB.
        e.set(
            "emcecs.object.capacity.provisioned",
            &[],
            (cap.total / GIB * GIB) as f64,
        );
        e.set(
            "emcecs.object.capacity.available",
            &[],
            (cap.free / GIB * GIB) as f64,
        );
        assert!(cap.user_data > 0 && cap.allocated > 0, "an empty cluster");
        e.set(
            "emcecs.storage.user_data.ratio",
            &[],
            cap.user_data as f64 / cap.allocated as f64,
        );
        e.set(
            "emcecs.storage.protection.overhead.ratio",
            &[],
            (cap.user_data + cap.protection) as f64 / cap.user_data as f64,
        );
        // The model protects with erasure coding 12+4 (16 bytes stored per 12).
        e.set("emcecs.erasure_coding.info", &[("scheme", "12+4")], 1.0);
        let rec = m.recovery(t, o);
        e.set(
            "emcecs.erasure_coding.coded.ratio",
            &[],
            shown(rec.ec_coded_percent) / 100.0,
        );
        e.set("emcecs.erasure_coding.rate", &[], rec.ec_rate as f64);
        e.set("emcecs.recovery.rate", &[], rec.rate as f64);
        e.set("emcecs.recovery.pending", &[], rec.bad_chunks_size as f64);
        e.set(
            "emcecs.recovery.remaining",
            &[],
            rec.complete_estimate_secs as f64,
        );
        let gc = m.gc(t);
        e.set(
            "emcecs.gc.pending",
            &[("type", "user")],
            gc.user_pending as f64,
        );
        e.set(
            "emcecs.gc.pending",
            &[("type", "system")],
            gc.system_pending as f64,
        );
        e.set(
            "emcecs.gc.reclaimed",
            &[("type", "user")],
            gc.user_reclaimed as f64,
        );
        e.set(
            "emcecs.gc.reclaimed",
            &[("type", "system")],
            gc.system_reclaimed as f64,
        );
        e.set("emcecs.gc.unreclaimable", &[], gc.user_unreclaimable as f64);
        let ch = m.chunks(t);
        for (ty, count, size) in [
            ("repo", ch.repo_number, ch.repo_total_seal_size),
            ("xor", ch.xor_number, ch.xor_total_size),
            ("geo_copy", ch.geo_copy_number, ch.geo_copy_total_size),
        ] {
            e.set("emcecs.chunks", &[("type", ty)], count as f64);
            e.set("emcecs.chunks.size", &[("type", ty)], size as f64);
        }
        let mut alerts: BTreeMap<(String, &str), u64> = BTreeMap::new();
        for a in m.alerts.iter().filter(|a| !a.acknowledged) {
            *alerts
                .entry((a.severity.to_ascii_lowercase(), a.kind))
                .or_insert(0) += 1;
        }
        assert!(
            alerts.len() > 1,
            "the model should have several alert kinds"
        );
        for ((sev, kind), n) in &alerts {
            e.set(
                "emcecs.alerts.unacknowledged",
                &[("severity", sev), ("type", kind)],
                *n as f64,
            );
        }
        if self.compat {
            let v = [("vdc", vdc)];
            e.set("emcecs_cluster_good_nodes", &v, (nodes - down) as f64);
            e.set("emcecs_cluster_bad_nodes", &v, down as f64);
            e.set("emcecs_cluster_good_disks", &v, (disks - bad) as f64);
            e.set("emcecs_cluster_bad_disks", &v, bad as f64);
            e.set("emcecs_cluster_space_free", &v, cap.free as f64);
            e.set("emcecs_cluster_space_total", &v, cap.total as f64);
            for (name, sev) in [
                ("emcecs_cluster_alerts_critical", "CRITICAL"),
                ("emcecs_cluster_alerts_error", "ERROR"),
                ("emcecs_cluster_alerts_info", "INFO"),
                ("emcecs_cluster_alerts_warning", "WARNING"),
            ] {
                e.set(name, &v, m.unacked(sev) as f64);
            }
            e.set(
                "emcecs_cluster_version",
                &[("version", self.version.build()), ("nodecount", &n)],
                1.0,
            );
        }
    }

    fn pools_nodes_disks(&self, e: &mut Expect) {
        let (m, t, o) = (self.m, self.t, self.o);
        for pool in &m.storage_pools {
            let figures: Vec<_> = pool
                .nodes
                .iter()
                .map(|&n| m.node_figures(n, t, o))
                .collect();
            let total: u64 = figures.iter().map(|f| f.total).sum();
            let allocated: u64 = figures.iter().map(|f| f.allocated).sum();
            let good = figures.iter().filter(|f| f.good).count();
            let at = |state| {
                [
                    ("storage_pool", pool.name.as_str()),
                    ("storage_pool_id", pool.id.as_str()),
                    ("state", state),
                ]
            };
            e.set("emcecs.storage_pool.capacity", &at("total"), total as f64);
            e.set(
                "emcecs.storage_pool.capacity",
                &at("allocated"),
                allocated as f64,
            );
            e.set(
                "emcecs.storage_pool.capacity",
                &at("free"),
                (total - allocated) as f64,
            );
            e.set("emcecs.storage_pool.nodes", &at("good"), good as f64);
            e.set(
                "emcecs.storage_pool.nodes",
                &at("bad"),
                (pool.nodes.len() - good) as f64,
            );
            e.set("emcecs.storage_pool.nodes", &at("suspect"), 0.0);
        }
        for node in &m.nodes {
            let f = m.node_figures(node.index, t, o);
            let down = o.nodes_down.contains(&node.index);
            let at = |state| {
                [
                    ("node", node.name.as_str()),
                    ("node_id", node.id.as_str()),
                    ("state", state),
                ]
            };
            e.set(
                "emcecs.node.healthy",
                &[("node", node.name.as_str()), ("node_id", node.id.as_str())],
                f64::from(u8::from(!down)),
            );
            e.set("emcecs.node.disks", &at("good"), f.good_disks as f64);
            e.set("emcecs.node.disks", &at("bad"), f.bad_disks as f64);
            e.set("emcecs.node.disks", &at("maintenance"), 0.0);
            e.set("emcecs.node.capacity", &at("total"), f.total as f64);
            e.set("emcecs.node.capacity", &at("allocated"), f.allocated as f64);
            e.set("emcecs.node.capacity", &at("free"), f.free as f64);
            let pool = &m.storage_pools[node.storage_pool].name;
            for d in &node.disks {
                let disk = format!("{}:{}", node.name, d.slot);
                let slot = d.slot.to_string();
                e.set(
                    "emcecs.disk.healthy",
                    &[
                        ("node", &node.name),
                        ("disk", &disk),
                        ("slot", &slot),
                        ("storage_pool", pool),
                    ],
                    f64::from(u8::from(d.healthy && !down)),
                );
                // A disk's share of its node's allocation; a bad disk holds nothing.
                let allocated = if d.healthy {
                    (f.allocated as u128 * d.size_bytes as u128 / f.total as u128) as f64
                } else {
                    0.0
                };
                let at = |state| {
                    [
                        ("node", node.name.as_str()),
                        ("disk", disk.as_str()),
                        ("slot", slot.as_str()),
                        ("state", state),
                    ]
                };
                e.set("emcecs.disk.capacity", &at("total"), d.size_bytes as f64);
                e.set("emcecs.disk.capacity", &at("allocated"), allocated);
            }
        }
    }

    fn replication(&self, e: &mut Expect) {
        let (m, t, o) = (self.m, self.t, self.o);
        for (i, g) in m.rgs.iter().enumerate() {
            let r = m.replication(i, t, o);
            let at = [
                ("replication_group", g.name.as_str()),
                ("replication_group_id", g.id.as_str()),
            ];
            e.set("emcecs.replication.ingress", &at, r.ingress as f64);
            e.set("emcecs.replication.egress", &at, r.egress as f64);
            for (ty, v) in [
                ("repo", r.pending_repo),
                ("journal", r.pending_journal),
                ("xor", r.pending_xor),
            ] {
                e.set(
                    "emcecs.replication.pending",
                    &[at[0], at[1], ("type", ty)],
                    v as f64,
                );
            }
            e.set(
                "emcecs.replication.lag",
                &at,
                (t - r.rpo_timestamp).max(0) as f64,
            );
            // One failed link per peer VDC of a group marked failed.
            let failed = if g.link_failed { g.peers.len() } else { 0 };
            e.set("emcecs.replication.links.failed", &[at[0]], failed as f64);
            if self.compat {
                let node = [("node", g.name.as_str())];
                for (name, v) in [
                    ("emcecs_cluster_replication_ingress_traffic", r.ingress),
                    ("emcecs_cluster_replication_egress_traffic", r.egress),
                    ("emcecs_cluster_data_replication_pending", r.pending_repo),
                    (
                        "emcecs_cluster_journal_replication_pending",
                        r.pending_journal,
                    ),
                    ("emcecs_cluster_chunks_pending_xor", r.pending_xor),
                ] {
                    e.set(name, &node, v as f64);
                }
                e.set(
                    "emcecs_cluster_last_replication_timestamp",
                    &node,
                    r.rpo_timestamp as f64,
                );
            }
        }
    }

    fn transactions(&self, e: &mut Expect) {
        let tx = self.m.transactions(self.t);
        let op = |o| [("operation", o)];
        // Latency in milliseconds on the wire, seconds in the metric.
        e.set(
            "emcecs.transaction.latency",
            &op("read"),
            shown(tx.read_latency_ms) / 1000.0,
        );
        e.set(
            "emcecs.transaction.latency",
            &op("write"),
            shown(tx.write_latency_ms) / 1000.0,
        );
        e.set("emcecs.transaction.rate", &op("read"), shown(tx.read_tps));
        e.set("emcecs.transaction.rate", &op("write"), shown(tx.write_tps));
        e.set(
            "emcecs.transaction.bandwidth",
            &op("read"),
            shown(tx.read_bandwidth),
        );
        e.set(
            "emcecs.transaction.bandwidth",
            &op("write"),
            shown(tx.write_bandwidth),
        );
        e.set(
            "emcecs.transactions",
            &[("result", "success")],
            tx.success_total as f64,
        );
        e.set(
            "emcecs.transactions",
            &[("result", "error")],
            tx.error_total as f64,
        );
        // The simulator splits the errors two thirds 403 (user), one third 500 (system).
        let (user, system) = (tx.error_total * 2 / 3, tx.error_total / 3);
        e.set(
            "emcecs.transaction.errors",
            &[("code", "403"), ("protocol", "S3"), ("category", "user")],
            user as f64,
        );
        e.set(
            "emcecs.transaction.errors",
            &[("code", "500"), ("protocol", "S3"), ("category", "system")],
            system as f64,
        );
        if self.compat {
            let v = [("vdc", self.m.vdc_name.as_str())];
            for (name, x) in [
                (
                    "emcecs_cluster_transaction_success",
                    tx.success_total as f64,
                ),
                ("emcecs_cluster_transaction_error", tx.error_total as f64),
                // The paychex names keep ECS's milliseconds.
                (
                    "emcecs_cluster_transaction_read_latency",
                    shown(tx.read_latency_ms),
                ),
                (
                    "emcecs_cluster_transaction_write_latency",
                    shown(tx.write_latency_ms),
                ),
                (
                    "emcecs_cluster_transaction_read_per_second",
                    shown(tx.read_tps),
                ),
                (
                    "emcecs_cluster_transaction_write_per_second",
                    shown(tx.write_tps),
                ),
                (
                    "emcecs_cluster_transaction_read_bandwidth",
                    shown(tx.read_bandwidth),
                ),
                (
                    "emcecs_cluster_transaction_write_bandwidth",
                    shown(tx.write_bandwidth),
                ),
            ] {
                e.set(name, &v, x);
            }
            for (code, category, n) in [("403", "user", user), ("500", "system", system)] {
                e.set(
                    "emcecs_cluster_transaction_error_detail",
                    &[
                        v[0],
                        ("errorcode", code),
                        ("errorproto", "S3"),
                        ("category", category),
                    ],
                    n as f64,
                );
            }
        }
    }

    fn buckets(&self, e: &mut Expect) {
        let m = self.m;
        e.set("emcecs.namespaces", &[], m.namespaces.len() as f64);
        for ns in m.namespaces.values() {
            e.set(
                "emcecs.buckets",
                &[("namespace", &ns.name)],
                ns.buckets.len() as f64,
            );
            for b in ns.buckets.values() {
                let at = [("namespace", ns.name.as_str()), ("bucket", b.name.as_str())];
                e.set("emcecs.bucket.locked", &at, f64::from(u8::from(b.locked)));
                if b.retention_secs >= 0 {
                    e.set("emcecs.bucket.retention", &at, b.retention_secs as f64);
                }
                // Object lock arrived in ECS 3.6.
                if self.version != Version::Ecs35 {
                    e.set(
                        "emcecs.bucket.object_lock.enabled",
                        &at,
                        f64::from(u8::from(b.object_lock)),
                    );
                    if let Some(mode) = b.lock_mode {
                        // S3 sets days or years, never both; a year is 365 days.
                        let days = if b.lock_days > 0 {
                            f64::from(b.lock_days)
                        } else {
                            f64::from(b.lock_years) * 365.0
                        };
                        e.set(
                            "emcecs.bucket.object_lock.default_retention",
                            &[at[0], at[1], ("mode", mode)],
                            days * 86_400.0,
                        );
                    }
                }
                // Only ObjectScale lists the versioning status with the buckets.
                if self.version == Version::ObjectScale41 {
                    e.set(
                        "emcecs.bucket.versioning.enabled",
                        &at,
                        f64::from(u8::from(
                            b.versioning == ecs_sim::model::Versioning::Enabled,
                        )),
                    );
                }
            }
        }
    }
}

/// What the node-stats collector reports at second `t`.
pub struct NodeStats<'a> {
    pub m: &'a Cluster,
    pub t: i64,
    pub o: &'a Overrides,
    pub version: Version,
    pub compat: bool,
}

impl NodeStats<'_> {
    pub fn expect(&self) -> Expect {
        let (m, t, o) = (self.m, self.t, self.o);
        let mut e = Expect {
            time: Some(t),
            ..Expect::default()
        };
        for n in &m.nodes {
            let ip = n.mgmt_ip.to_string();
            let at = [("node", n.name.as_str()), ("node_ip", ip.as_str())];
            let state = |s| [at[0], at[1], ("state", s)];
            let by_ip = [("node", ip.as_str())];
            // A down node's ports close every connection; on ObjectScale its state comes
            // from the dashboard, which answers "Bad".
            let down = o.nodes_down.contains(&n.index);
            e.set("emcecs.node.stats.up", &at, f64::from(u8::from(!down)));
            if self.version.has_dt_stats() {
                if down {
                    for s in ["total", "unready", "unknown"] {
                        e.stale("emcecs.node.dt.tables", &state(s));
                    }
                    e.stale("emcecs.node.dt.ready.ratio", &at);
                } else {
                    let (total, unready, unknown) = m.dt_stats(n.index, o);
                    e.set("emcecs.node.dt.tables", &state("total"), total as f64);
                    e.set("emcecs.node.dt.tables", &state("unready"), unready as f64);
                    e.set("emcecs.node.dt.tables", &state("unknown"), unknown as f64);
                    e.set(
                        "emcecs.node.dt.ready.ratio",
                        &at,
                        (total - unready - unknown) as f64 / total as f64,
                    );
                }
                if self.compat {
                    for name in [
                        "emcecs_node_dtTotal",
                        "emcecs_node_dtUnready",
                        "emcecs_node_dtUnknown",
                    ] {
                        if down {
                            e.stale(name, &by_ip);
                        }
                    }
                    if !down {
                        let (total, unready, unknown) = m.dt_stats(n.index, o);
                        e.set("emcecs_node_dtTotal", &by_ip, total as f64);
                        e.set("emcecs_node_dtUnready", &by_ip, unready as f64);
                        e.set("emcecs_node_dtUnknown", &by_ip, unknown as f64);
                    }
                }
            }
            if down {
                e.stale("emcecs.node.load_factor", &at);
                e.stale("emcecs.node.maintenance_mode", &at);
                if self.compat {
                    e.stale("emcecs_node_activeConnections", &by_ip);
                }
            } else {
                let lf = m.load_factor(n.index, t) as f64;
                e.set("emcecs.node.load_factor", &at, lf);
                e.set(
                    "emcecs.node.maintenance_mode",
                    &at,
                    f64::from(u8::from(o.maintenance.contains(&n.index))),
                );
                if self.compat {
                    e.set("emcecs_node_activeConnections", &by_ip, lf);
                }
            }
        }
        e
    }
}

/// A price list as the test configures it: (up to this many GB, price per GB).
pub type Tiers = [(Option<f64>, f64)];

/// `gb` priced slice by slice: the part below the first bound at the first price, the
/// part between the first and second bounds at the second, and so on.
pub fn tier_cost(gb: f64, tiers: &Tiers) -> f64 {
    let mut cost = 0.0;
    let mut below = 0.0;
    for (up_to, price) in tiers {
        let top = up_to.unwrap_or(f64::INFINITY);
        cost += (gb.min(top) - below).max(0.0) * price;
        below = top;
    }
    cost
}

/// What the billing collector reports at second `t` (no bucket cap, no tag labels).
pub struct Billing<'a> {
    pub m: &'a Cluster,
    pub t: i64,
    pub compat: bool,
    /// Price per GB-month of every replication group not in `rg_prices`.
    pub default_price: f64,
    pub rg_prices: &'a BTreeMap<String, f64>,
    pub egress: &'a Tiers,
    pub ingress: &'a Tiers,
    /// The cost metrics' names end with it.
    pub currency: &'a str,
}

impl Billing<'_> {
    pub fn expect(&self) -> Expect {
        use ecs_sim::model::billing::{sample_index, uptodate_till};
        let m = self.m;
        let mut e = Expect::default();
        // ECS's metering is consistent up to the last 5-minute boundary its lag ago; the
        // month-to-date counters run from the month's first second to there.
        let u = uptodate_till(self.t, m.cfg.billing_lag_secs);
        let n = sample_index(u);
        let month = pipeline::timefmt::month_start(u - 1);
        let (a, day_ago) = (sample_index(month), sample_index(u - 86_400));
        let gib = GIB as f64;
        let cur = self.currency;
        let at = Some(u);
        for ns in m.namespaces.values() {
            let nsa = [("namespace", ns.name.as_str())];
            let (mut size, mut objects, mut mpu) = (0u64, 0u64, 0u64);
            let (mut ingress, mut egress) = (0u64, 0u64);
            let (mut cost, mut cost_now, mut cost_then) = (0.0, 0.0, 0.0);
            for b in ns.buckets.values() {
                let tot = b.billing.totals(n);
                let w = b.billing.window(a, n);
                let rg = m.rgs[b.rg].name.as_str();
                let ba = [
                    nsa[0],
                    ("bucket", b.name.as_str()),
                    ("replication_group", rg),
                ];
                size += tot.size;
                objects += tot.objects;
                mpu += tot.mpu_size;
                ingress += w.ingress;
                egress += w.egress;
                e.set_at("emcecs.bucket.storage", &ba, tot.size as f64, at, None);
                e.set_at("emcecs.bucket.objects", &ba, tot.objects as f64, at, None);
                e.set_at(
                    "emcecs.bucket.multipart_upload.size",
                    &ba,
                    tot.mpu_size as f64,
                    at,
                    None,
                );
                e.set_at(
                    "emcecs.bucket.multipart_upload.parts",
                    &ba,
                    tot.mpu_parts as f64,
                    at,
                    None,
                );
                for (name, v) in [
                    ("emcecs.bucket.ingress", w.ingress),
                    ("emcecs.bucket.egress", w.egress),
                    ("emcecs.bucket.objects.created", w.objects_created),
                    ("emcecs.bucket.objects.deleted", w.objects_deleted),
                ] {
                    e.set_at(name, &ba, v as f64, at, Some(month));
                }
                let price = self
                    .rg_prices
                    .get(rg)
                    .copied()
                    .unwrap_or(self.default_price);
                let c = tot.size as f64 / gib * price;
                cost += c;
                e.set_at(
                    &format!("emcecs.bucket.storage.cost.{cur}"),
                    &ba,
                    c,
                    at,
                    None,
                );
                // The trend: how the bucket's size (hence its cost) moved over a day.
                let delta = b.billing.window(day_ago, n).bytes_delta();
                let before = tot.size as i64 - delta;
                cost_now += tot.size as f64 * price;
                cost_then += before.max(0) as f64 * price;
                if before > 0 {
                    e.set_at(
                        "emcecs.bucket.cost.trend",
                        &ba,
                        delta as f64 / before as f64 * 100.0,
                        at,
                        None,
                    );
                }
            }
            e.set_at("emcecs.namespace.total_bytes", &nsa, size as f64, at, None);
            e.set_at(
                "emcecs.namespace.total_objects",
                &nsa,
                objects as f64,
                at,
                None,
            );
            e.set_at(
                "emcecs.namespace.multipart_upload.size",
                &nsa,
                mpu as f64,
                at,
                None,
            );
            e.set_at(
                "emcecs.billing.uptodate_timestamp",
                &nsa,
                u as f64,
                at,
                None,
            );
            e.set_at(
                "emcecs.namespace.ingress",
                &nsa,
                ingress as f64,
                at,
                Some(month),
            );
            e.set_at(
                "emcecs.namespace.egress",
                &nsa,
                egress as f64,
                at,
                Some(month),
            );
            e.set_at(
                &format!("emcecs.namespace.storage.cost.{cur}"),
                &nsa,
                cost,
                at,
                None,
            );
            if cost_then > 0.0 {
                e.set_at(
                    "emcecs.namespace.cost.trend",
                    &nsa,
                    (cost_now - cost_then) / cost_then * 100.0,
                    at,
                    None,
                );
            }
            for (dir, bytes, tiers) in [
                ("egress", egress, self.egress),
                ("ingress", ingress, self.ingress),
            ] {
                if !tiers.is_empty() {
                    e.set_at(
                        &format!("emcecs.namespace.bandwidth.cost.{cur}"),
                        &[nsa[0], ("direction", dir)],
                        tier_cost(bytes as f64 / gib, tiers),
                        at,
                        None,
                    );
                }
            }
            // Quotas are set in GB; a quota of 0 or less is no quota.
            let (block, notification) = (ns.quota_block_gb, ns.quota_notification_gb);
            for (ty, q) in [("block", block), ("notification", notification)] {
                if q > 0 {
                    e.set_at(
                        "emcecs.namespace.quota",
                        &[nsa[0], ("type", ty)],
                        q as f64 * gib,
                        at,
                        None,
                    );
                }
            }
            if block > 0 {
                e.set_at(
                    "emcecs.namespace.quota.used",
                    &nsa,
                    size as f64 / (block as f64 * gib),
                    at,
                    None,
                );
            }
            if self.compat {
                // The paychex names speak KB (1024 bytes).
                let ea = |ty| [("ecsnamespace", ns.name.as_str()), ("type", ty)];
                for (ty, q) in [("block", block), ("notification", notification)] {
                    if q > 0 {
                        e.set_at(
                            "emcecs_metering_namespacequota",
                            &ea(ty),
                            (q as u64 * 1024 * 1024) as f64,
                            at,
                            None,
                        );
                    }
                }
                e.set_at(
                    "emcecs_metering_namespacequota",
                    &ea("used"),
                    (size / 1024) as f64,
                    at,
                    None,
                );
                e.set_at(
                    "emcecs_metering_namespace_object_count",
                    &[("ecsnamespace", ns.name.as_str())],
                    objects as f64,
                    at,
                    None,
                );
            }
        }
        e.set_at(
            "ecs_otel_agent.ecs.billing.buckets.folded",
            &[],
            0.0,
            Some(self.t),
            None,
        );
        e
    }
}

/// What a policy document grants on its own, judged by hand against the rules in
/// docs/SECURITY.md (never by the agent's analysis).
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Unconditional grants on every resource, in label order (`*`, `iam:*`, `s3:*`).
    Grants(&'static [&'static str]),
    /// An unconditional Deny of every action on every resource: takes every grant back.
    DeniesAll,
}

/// Every document the model attaches, by its template's name.
const VERDICTS: &[(&str, Verdict)] = &[
    ("ReadOnlyBucket", Verdict::Grants(&[])), // two actions on one bucket
    ("FullAdmin", Verdict::Grants(&["*", "iam:*", "s3:*"])), // "*" covers every service
    ("S3Everything", Verdict::Grants(&["s3:*"])),
    ("IamEverything", Verdict::Grants(&["iam:*"])),
    ("S3FromOfficeOnly", Verdict::Grants(&[])), // a Condition limits it
    ("AllowAllDenyAll", Verdict::DeniesAll),    // its own Deny takes it all back
    ("AllButIam", Verdict::Grants(&["s3:*"])),  // NotAction iam:* covers S3, not "*"
    ("ObjectsOnly", Verdict::Grants(&[])),      // s3:*Object is part of S3
    ("WriteLogs", Verdict::Grants(&[])),
    ("ECSDenyAll", Verdict::DeniesAll),
    ("ECSS3FullAccess", Verdict::Grants(&["s3:*"])),
    ("ECSS3ReadOnlyAccess", Verdict::Grants(&[])), // s3:Get*, s3:List*
    ("IAMReadOnlyAccess", Verdict::Grants(&[])),
];

fn verdict(document: &str) -> Verdict {
    use ecs_sim::model::iam::{GLOBAL_POLICIES, TEMPLATES};
    let name = TEMPLATES
        .iter()
        .chain(GLOBAL_POLICIES)
        .find(|(_, doc)| *doc == document)
        .map(|(name, _)| *name)
        .unwrap_or_else(|| panic!("a document the verdict table does not know: {document}"));
    VERDICTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no verdict written for {name}"))
}

/// The grants label of an entity holding `documents`, or `None` when it is not
/// over-privileged: the union of what they grant, unless one denies everything.
pub fn over_privilege<'d>(documents: impl IntoIterator<Item = &'d str>) -> Option<String> {
    let mut grants = BTreeSet::new();
    for d in documents {
        match verdict(d) {
            Verdict::DeniesAll => return None,
            Verdict::Grants(g) => grants.extend(g.iter().copied()),
        }
    }
    let order = ["*", "iam:*", "s3:*"];
    let label: Vec<&str> = order.into_iter().filter(|g| grants.contains(g)).collect();
    (!label.is_empty()).then(|| label.join(","))
}

/// The documents that apply to an entity: its managed policies' default versions (the
/// namespace's own or ECS's built-ins), its inline policies and, for a user, its groups'.
pub fn documents<'d>(
    d: &'d ecs_sim::model::iam::Domain,
    attached: &'d [String],
    inline: &'d [(String, String)],
    groups: &'d [String],
) -> Vec<&'d str> {
    use ecs_sim::model::iam::{GLOBAL_POLICIES, global_policy_arn};
    let managed = |arn: &String| -> Option<&'d str> {
        d.policy(arn)
            .map(|p| p.default_version().1.as_str())
            .or_else(|| {
                GLOBAL_POLICIES
                    .iter()
                    .find(|(n, _)| global_policy_arn(n) == *arn)
                    .map(|(_, doc)| *doc)
            })
    };
    let mut out: Vec<&str> = attached.iter().filter_map(managed).collect();
    out.extend(inline.iter().map(|(_, doc)| doc.as_str()));
    for g in groups {
        if let Some(g) = d.groups.iter().find(|x| &x.name == g) {
            out.extend(g.attached.iter().filter_map(managed));
            out.extend(g.inline.iter().map(|(_, doc)| doc.as_str()));
        }
    }
    out
}

/// What the IAM collector reports at second `t` (default settings: entity names as
/// labels, service accounts named `svc-…`, a 90-day inactivity threshold). The probes'
/// response times are timing, not model: they are expected present with any value.
pub struct Iam<'a> {
    pub m: &'a Cluster,
    pub t: i64,
}

/// Any value (a measured duration): only the series' presence and labels are checked.
pub const ANY: f64 = f64::NAN;

impl Iam<'_> {
    pub fn expect(&self) -> Expect {
        let (m, now) = (self.m, self.t);
        let mut e = Expect {
            time: Some(now),
            ..Expect::default()
        };
        let threshold = 90 * 86_400;
        let days = |t: i64| ((now - t) / 86_400) as f64;
        for ns in m.namespaces.values() {
            let d = &ns.iam;
            let nsa = [("namespace", ns.name.as_str())];
            let kind = |u: &ecs_sim::model::iam::User| {
                if u.service_account {
                    "service_account"
                } else {
                    "human"
                }
            };
            let last = |u: &ecs_sim::model::iam::User| {
                u.keys
                    .iter()
                    .filter_map(|k| k.last_used.last(now))
                    .chain(u.password_last_used.last(now))
                    .max()
            };
            for ty in ["human", "service_account"] {
                let of: Vec<_> = d.users.iter().filter(|u| kind(u) == ty).collect();
                e.set(
                    "emcecs.iam.users",
                    &[nsa[0], ("user_type", ty)],
                    of.len() as f64,
                );
                let active = of
                    .iter()
                    .filter(|u| last(u).is_some_and(|l| now - l <= threshold))
                    .count();
                e.set(
                    "emcecs.iam.users.active",
                    &[nsa[0], ("user_type", ty)],
                    active as f64,
                );
            }
            let mut keys = BTreeMap::from([("active", 0u64), ("inactive", 0)]);
            for u in &d.users {
                let ua = [nsa[0], ("user", u.name.as_str())];
                let (since, activity) = match last(u) {
                    Some(t) => (t, "seen"),
                    None => (u.created, "never"),
                };
                if now - since > threshold {
                    e.set(
                        "emcecs.iam.users.inactive",
                        &[ua[0], ua[1], ("user_type", kind(u)), ("activity", activity)],
                        days(since),
                    );
                }
                let mut oldest: BTreeMap<&str, i64> = BTreeMap::new();
                for k in &u.keys {
                    let status = if k.active { "active" } else { "inactive" };
                    *keys.entry(status).or_insert(0) += 1;
                    let o = oldest.entry(status).or_insert(k.created);
                    *o = (*o).min(k.created);
                }
                for (status, created) in oldest {
                    e.set(
                        "emcecs.iam.credential.age",
                        &[
                            ua[0],
                            ua[1],
                            ("credential_type", "access_key"),
                            ("status", status),
                        ],
                        days(created),
                    );
                }
            }
            for (status, n) in keys {
                e.set(
                    "emcecs.iam.access_keys",
                    &[nsa[0], ("status", status)],
                    n as f64,
                );
            }
            e.set("emcecs.iam.groups", &nsa, d.groups.len() as f64);
            e.set("emcecs.iam.roles", &nsa, d.roles.len() as f64);
            e.set(
                "emcecs.iam.policies",
                &[nsa[0], ("policy_type", "managed")],
                d.policies.len() as f64,
            );
            let inline = d.users.iter().map(|u| u.inline.len()).sum::<usize>()
                + d.groups.iter().map(|g| g.inline.len()).sum::<usize>()
                + d.roles.iter().map(|r| r.inline.len()).sum::<usize>();
            e.set(
                "emcecs.iam.policies",
                &[nsa[0], ("policy_type", "inline")],
                inline as f64,
            );
            for (to, n) in [
                (
                    "user",
                    d.users.iter().map(|u| u.attached.len()).sum::<usize>(),
                ),
                ("group", d.groups.iter().map(|g| g.attached.len()).sum()),
                ("role", d.roles.iter().map(|r| r.attached.len()).sum()),
            ] {
                e.set(
                    "emcecs.iam.policy.attachments",
                    &[nsa[0], ("attached_to", to)],
                    n as f64,
                );
            }
            let mut over = BTreeMap::from([("user", 0u64), ("role", 0)]);
            let users = d.users.iter().map(|u| {
                (
                    "user",
                    &u.name,
                    documents(d, &u.attached, &u.inline, &u.groups),
                )
            });
            let roles = d
                .roles
                .iter()
                .map(|r| ("role", &r.name, documents(d, &r.attached, &r.inline, &[])));
            for (ty, name, docs) in users.chain(roles) {
                if let Some(grants) = over_privilege(docs) {
                    *over.entry(ty).or_insert(0) += 1;
                    e.set(
                        "emcecs.iam.overprivileged.entity",
                        &[
                            nsa[0],
                            ("entity_type", ty),
                            ("entity", name),
                            ("grants", &grants),
                        ],
                        1.0,
                    );
                }
            }
            for (ty, n) in over {
                e.set(
                    "emcecs.iam.overprivileged.entities",
                    &[nsa[0], ("entity_type", ty)],
                    n as f64,
                );
            }
        }
        let mut roles = BTreeMap::from([
            ("system_admin", 0u64),
            ("system_monitor", 0),
            ("security_admin", 0),
            ("none", 0),
        ]);
        for u in &m.mgmt_users {
            let flags = [
                ("system_admin", u.system_admin),
                ("system_monitor", u.system_monitor),
                ("security_admin", u.security_admin),
            ];
            for (role, on) in flags {
                if on {
                    *roles.entry(role).or_insert(0) += 1;
                }
            }
            if flags.iter().all(|(_, on)| !on) {
                *roles.entry("none").or_insert(0) += 1;
            }
        }
        for (role, n) in roles {
            e.set("emcecs.management.users", &[("role", role)], n as f64);
        }
        for p in &m.authn_providers {
            let mode = p.mode.to_ascii_lowercase();
            let pa = [("provider", p.name.as_str()), ("mode", mode.as_str())];
            e.set(
                "emcecs.auth_provider.enabled",
                &pa,
                f64::from(u8::from(!p.disabled)),
            );
            if p.disabled {
                continue;
            }
            for url in &p.server_urls {
                // ldap://host:port: the simulator's directory servers all answer.
                let server = url
                    .trim_start_matches("ldap://")
                    .trim_start_matches("ldaps://");
                let at = [pa[0], pa[1], ("server", server)];
                e.set("emcecs.auth_provider.available", &at, 1.0);
                e.set("emcecs.auth_provider.response_time", &at, ANY);
            }
        }
        e
    }
}
