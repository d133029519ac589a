//! Performance data as the Flux API serves it: one point per series and model minute,
//! for the VDC-wide `cq_*` measurements of `monitoring_vdc` and the per-node telegraf
//! measurements of `monitoring_op`. Every value is a closed-form function of the seed,
//! the series and the minute, scaled by the model's load: the request rates come from the
//! objects the buckets create in the last completed billing sample (the figures
//! `Cluster::transactions` uses), and every split (by head, method, namespace, error code)
//! adds up to the VDC figure.

use std::sync::OnceLock;

use super::billing::sample_index;
use super::system::{EC_DEN, EC_NUM, Overrides, Recovery};
use super::{Cluster, K_NODE, K_PERF, ORIGIN};
use crate::ids::{h, range};

pub const VDC_BUCKET: &str = "monitoring_vdc";
pub const OP_BUCKET: &str = "monitoring_op";
pub const HEADS: [&str; 3] = ["S3", "SWIFT", "ATMOS"];
pub const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];
pub const ERROR_CODES: [&str; 6] = ["400", "403", "404", "409", "500", "503"];
pub const LATENCY_IDS: [&str; 2] = ["ttfb_read", "ttlb_write"];
pub const TYPE_OPS: [&str; 2] = ["read", "write"];
pub const INTERFACES: [&str; 2] = ["eth0", "eth1"];
/// The statDataHead process named by `cq_process_health`.
pub const PROCESS: &str = "statDataHead";
/// A node's network capacity (25 Gbit/s) in bytes per second, for `nic_utilization`.
const NIC_BYTES_PER_SEC: f64 = 3_125_000_000.0;
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// One value of one series at one minute: the measurement's tags, the field, and the value
/// exactly as the Flux answer writes it (Rust `{}` of the f64; `long` fields hold integers).
#[derive(Debug, Clone, PartialEq)]
pub struct FluxPoint {
    pub tags: Vec<(String, String)>,
    pub field: String,
    pub value: f64,
}

/// What a measurement's series are: one per value of its tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Vdc,
    Head,
    Method,
    Namespace,
    Code,
    Latency,
    HeadLatency,
    NodeTypeOp,
    NodeProcess,
    NodeCpu,
    Node,
    NodeInterface,
}

/// Which figures a measurement's fields hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figure {
    Transaction,
    Error,
    ErrorCode,
    Throughput,
    Latency,
    DiskBandwidth,
    Rebalancing,
    Recovery,
    ProcessHealth,
    Cpu,
    Mem,
    Net,
}

/// A measurement the Flux API serves.
#[derive(Debug)]
pub struct Measurement {
    pub bucket: &'static str,
    pub name: &'static str,
    /// Tag columns, in the order the answer lists them after the fixed columns.
    pub tags: &'static [&'static str],
    /// Fields in table order, and whether each is a `long` (else a `double`).
    pub fields: &'static [(&'static str, bool)],
    scope: Scope,
    figure: Figure,
}

impl Measurement {
    /// The `_value` column's datatype: `long` when every field is one.
    pub fn value_type(&self) -> &'static str {
        if self.fields.iter().all(|(_, long)| *long) {
            "long"
        } else {
            "double"
        }
    }
}

const TRANSACTION: &[(&str, bool)] = &[
    ("succeed_request_counter", false),
    ("failed_request_counter", false),
];
const ERRORS: &[(&str, bool)] = &[("system_errors", false), ("user_errors", false)];
const THROUGHPUT: &[(&str, bool)] = &[
    ("total_read_requests_size", false),
    ("total_write_requests_size", false),
];
const LATENCY: &[(&str, bool)] = &[("p50", false), ("p99", false)];
const DISK_BANDWIDTH: &[(&str, bool)] = &[
    ("consistency_checker", false),
    ("erasure_encoding", false),
    ("geo", false),
    ("hardware_recovery", false),
    ("user_traffic", false),
    ("xor", false),
    ("total", false),
];
const NODE_TAGS: &[&str] = &["host", "node_id"];

const fn vdc(
    name: &'static str,
    tags: &'static [&'static str],
    fields: &'static [(&'static str, bool)],
    scope: Scope,
    figure: Figure,
) -> Measurement {
    Measurement {
        bucket: VDC_BUCKET,
        name,
        tags,
        fields,
        scope,
        figure,
    }
}

static MEASUREMENTS: [Measurement; 19] = [
    vdc(
        "cq_performance_transaction",
        &[],
        TRANSACTION,
        Scope::Vdc,
        Figure::Transaction,
    ),
    vdc(
        "cq_performance_transaction_head",
        &["head"],
        TRANSACTION,
        Scope::Head,
        Figure::Transaction,
    ),
    vdc(
        "cq_performance_transaction_method",
        &["method"],
        TRANSACTION,
        Scope::Method,
        Figure::Transaction,
    ),
    vdc(
        "cq_performance_transaction_ns",
        &["namespace"],
        TRANSACTION,
        Scope::Namespace,
        Figure::Transaction,
    ),
    vdc(
        "cq_performance_error",
        &[],
        ERRORS,
        Scope::Vdc,
        Figure::Error,
    ),
    vdc(
        "cq_performance_error_head",
        &["head"],
        ERRORS,
        Scope::Head,
        Figure::Error,
    ),
    vdc(
        "cq_performance_error_ns",
        &["namespace"],
        ERRORS,
        Scope::Namespace,
        Figure::Error,
    ),
    vdc(
        "cq_performance_error_code",
        &["code"],
        &[("error_counter", false)],
        Scope::Code,
        Figure::ErrorCode,
    ),
    vdc(
        "cq_performance_throughput",
        &[],
        THROUGHPUT,
        Scope::Vdc,
        Figure::Throughput,
    ),
    vdc(
        "cq_performance_throughput_head",
        &["head"],
        THROUGHPUT,
        Scope::Head,
        Figure::Throughput,
    ),
    vdc(
        "cq_performance_latency",
        &["id"],
        LATENCY,
        Scope::Latency,
        Figure::Latency,
    ),
    vdc(
        "cq_performance_latency_head",
        &["head", "id"],
        LATENCY,
        Scope::HeadLatency,
        Figure::Latency,
    ),
    vdc(
        "cq_disk_bandwidth",
        &["host", "node_id", "type_op"],
        DISK_BANDWIDTH,
        Scope::NodeTypeOp,
        Figure::DiskBandwidth,
    ),
    vdc(
        "cq_node_rebalancing_summary",
        &[],
        &[("data_rebalanced", true), ("pending_rebalance", true)],
        Scope::Vdc,
        Figure::Rebalancing,
    ),
    vdc(
        "cq_recover_status_summary",
        &[],
        &[("data_recovered", true), ("data_to_recover", true)],
        Scope::Vdc,
        Figure::Recovery,
    ),
    vdc(
        "cq_process_health",
        &["host", "node_id", "process"],
        &[
            ("cpu_used", false),
            ("mem_used", false),
            ("mem_used_percent", false),
            ("nic_bytes", false),
            ("nic_utilization", false),
        ],
        Scope::NodeProcess,
        Figure::ProcessHealth,
    ),
    Measurement {
        bucket: OP_BUCKET,
        name: "cpu",
        tags: &["host", "node_id", "cpu"],
        fields: &[
            ("usage_idle", false),
            ("usage_user", false),
            ("usage_system", false),
        ],
        scope: Scope::NodeCpu,
        figure: Figure::Cpu,
    },
    Measurement {
        bucket: OP_BUCKET,
        name: "mem",
        tags: NODE_TAGS,
        fields: &[
            ("total", true),
            ("used", true),
            ("free", true),
            ("available", true),
            ("used_percent", false),
            ("available_percent", false),
        ],
        scope: Scope::Node,
        figure: Figure::Mem,
    },
    Measurement {
        bucket: OP_BUCKET,
        name: "net",
        tags: &["host", "node_id", "interface"],
        fields: &[("bytes_recv", true), ("bytes_sent", true)],
        scope: Scope::NodeInterface,
        figure: Figure::Net,
    },
];

/// Every (bucket, measurement) the Flux API serves.
pub fn flux_measurements() -> &'static [(&'static str, &'static str)] {
    static LIST: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    LIST.get_or_init(|| MEASUREMENTS.iter().map(|m| (m.bucket, m.name)).collect())
}

/// The measurement of that name in that bucket.
pub fn measurement(bucket: &str, name: &str) -> Option<&'static Measurement> {
    MEASUREMENTS
        .iter()
        .find(|m| m.bucket == bucket && m.name == name)
}

/// One table of an answer: its tag values (parallel to the measurement's tags) and field.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub tags: Vec<String>,
    pub field: &'static str,
}

/// A tag set and what it stands for (indices into the model's lists).
struct TagSet {
    tags: Vec<String>,
    a: usize,
    b: usize,
}

/// A number in [0, 1) from a hash.
fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

fn normalized<const N: usize>(w: [f64; N]) -> [f64; N] {
    let sum: f64 = w.iter().sum();
    w.map(|x| x / sum)
}

/// The load of one completed billing sample: what the buckets of each namespace created,
/// wrote and read in it.
#[derive(Debug, Clone, Default)]
struct Load {
    /// Per namespace, in the model's (name) order.
    ns: Vec<NsLoad>,
    /// Requests per second, all namespaces (before the minute's factor).
    requests: f64,
    /// Failed requests per second, all namespaces (before the minute's factor).
    failed: f64,
    ingress: u64,
    egress: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct NsLoad {
    objects_created: u64,
    /// Share of the namespace's requests that fail in this sample.
    error_ratio: f64,
}

/// Objects created per second → requests per second: one write per object and three
/// reads per write, as `Cluster::transactions` counts them.
fn requests_per_sec(objects_created: u64) -> f64 {
    objects_created as f64 * 4.0 / 300.0
}

/// What every series of one minute shares.
struct Minute<'a> {
    t: i64,
    minute: u64,
    /// Load factor of the minute (0.9 to 1.1), applied to every rate.
    factor: f64,
    user_share: f64,
    heads: [f64; 3],
    methods: [f64; 5],
    codes: [f64; 6],
    load: &'a Load,
    recovery: Recovery,
    up_nodes: f64,
}

impl Cluster {
    /// The series a measurement has now (the model's namespaces and up nodes).
    pub fn flux_series(&self, m: &Measurement, o: &Overrides) -> Vec<Series> {
        self.tag_sets(m, o)
            .into_iter()
            .flat_map(|ts| {
                m.fields.iter().map(move |(field, _)| Series {
                    tags: ts.tags.clone(),
                    field,
                })
            })
            .collect()
    }

    /// The values of every series (in `flux_series` order) at each of `times` (minute
    /// boundaries), time-major: `values[i * series + s]`.
    pub fn flux_values(&self, m: &Measurement, times: &[i64], o: &Overrides) -> Vec<f64> {
        let sets = self.tag_sets(m, o);
        let samples: Vec<Option<u64>> = times
            .iter()
            .map(|&t| sample_index(t).checked_sub(1))
            .collect();
        let first = samples.iter().flatten().min().copied().unwrap_or(0);
        let last = samples.iter().flatten().max().copied().unwrap_or(0);
        let loads = if uses_load(m.figure) && samples.iter().any(Option::is_some) {
            self.loads(first, (last - first + 1) as usize)
        } else {
            Vec::new()
        };
        let idle = Load {
            ns: vec![NsLoad::default(); self.namespaces.len()],
            ..Load::default()
        };
        let mut out = Vec::with_capacity(times.len() * sets.len() * m.fields.len());
        for (&t, k) in times.iter().zip(&samples) {
            let load = k
                .and_then(|k| loads.get((k - first) as usize))
                .unwrap_or(&idle);
            let at = self.minute(t, m.figure, load, o);
            for ts in &sets {
                self.fill(m, &at, ts, &mut out);
            }
        }
        out
    }

    /// The points of one measurement at minute `t` (none off a minute boundary, for an
    /// unknown bucket or measurement, or for a down node's series).
    pub fn flux_points(
        &self,
        bucket: &str,
        measurement_name: &str,
        t: i64,
        o: &Overrides,
    ) -> Vec<FluxPoint> {
        let Some(m) = measurement(bucket, measurement_name) else {
            return Vec::new();
        };
        if t.rem_euclid(60) != 0 {
            return Vec::new();
        }
        let series = self.flux_series(m, o);
        let values = self.flux_values(m, &[t], o);
        series
            .into_iter()
            .zip(values)
            .map(|(s, value)| FluxPoint {
                tags: m.tags.iter().map(|k| (*k).to_owned()).zip(s.tags).collect(),
                field: s.field.to_owned(),
                value,
            })
            .collect()
    }

    fn up_nodes(&self, o: &Overrides) -> impl Iterator<Item = &super::Node> {
        self.nodes
            .iter()
            .filter(|n| !o.nodes_down.contains(&n.index))
    }

    fn tag_sets(&self, m: &Measurement, o: &Overrides) -> Vec<TagSet> {
        let one = |tags: Vec<String>, a: usize, b: usize| TagSet { tags, a, b };
        let node = |n: &super::Node| vec![n.name.clone(), n.id.clone()];
        let fixed = |list: &[&str]| -> Vec<TagSet> {
            list.iter()
                .enumerate()
                .map(|(i, v)| one(vec![(*v).to_owned()], i, 0))
                .collect()
        };
        match m.scope {
            Scope::Vdc => vec![one(Vec::new(), 0, 0)],
            Scope::Head => fixed(&HEADS),
            Scope::Method => fixed(&METHODS),
            Scope::Code => fixed(&ERROR_CODES),
            Scope::Latency => fixed(&LATENCY_IDS),
            Scope::Namespace => self
                .namespaces
                .keys()
                .enumerate()
                .map(|(i, n)| one(vec![n.clone()], i, 0))
                .collect(),
            Scope::HeadLatency => HEADS
                .iter()
                .enumerate()
                .flat_map(|(hi, hd)| {
                    LATENCY_IDS
                        .iter()
                        .enumerate()
                        .map(move |(ii, id)| one(vec![(*hd).to_owned(), (*id).to_owned()], hi, ii))
                })
                .collect(),
            Scope::NodeTypeOp | Scope::NodeInterface => {
                let second: &[&str] = if m.scope == Scope::NodeTypeOp {
                    &TYPE_OPS
                } else {
                    &INTERFACES
                };
                self.up_nodes(o)
                    .flat_map(|n| {
                        second.iter().enumerate().map(move |(i, v)| {
                            let mut tags = node(n);
                            tags.push((*v).to_owned());
                            one(tags, n.index, i)
                        })
                    })
                    .collect()
            }
            Scope::NodeProcess | Scope::NodeCpu | Scope::Node => self
                .up_nodes(o)
                .map(|n| {
                    let mut tags = node(n);
                    match m.scope {
                        Scope::NodeProcess => tags.push(PROCESS.to_owned()),
                        Scope::NodeCpu => tags.push("cpu-total".to_owned()),
                        _ => {}
                    }
                    one(tags, n.index, 0)
                })
                .collect(),
        }
    }

    /// The load of samples `first..first + count`, walking the buckets once.
    fn loads(&self, first: u64, count: usize) -> Vec<Load> {
        let seed = self.cfg.seed;
        let mut loads: Vec<Load> = (0..count)
            .map(|_| Load {
                ns: Vec::with_capacity(self.namespaces.len()),
                ..Load::default()
            })
            .collect();
        let (mut ingress, mut egress) = (vec![0u64; count], vec![0u64; count]);
        for ns in self.namespaces.values() {
            let mut created = vec![0u64; count];
            for b in ns.buckets.values() {
                b.billing
                    .add_samples(first, &mut created, &mut ingress, &mut egress);
            }
            for (i, load) in loads.iter_mut().enumerate() {
                let k = first + i as u64;
                let error_ratio = 0.001 + 0.019 * unit(h(seed, &[K_PERF, 2, ns.index, k]));
                let requests = requests_per_sec(created[i]);
                load.requests += requests;
                load.failed += requests * error_ratio;
                load.ns.push(NsLoad {
                    objects_created: created[i],
                    error_ratio,
                });
            }
        }
        for ((load, i), e) in loads.iter_mut().zip(ingress).zip(egress) {
            load.ingress = i;
            load.egress = e;
        }
        loads
    }

    fn minute<'a>(&self, t: i64, figure: Figure, load: &'a Load, o: &Overrides) -> Minute<'a> {
        let seed = self.cfg.seed;
        let minute = (t / 60) as u64;
        let u = |i: u64| unit(h(seed, &[K_PERF, 1, minute, i]));
        let recovery = if matches!(figure, Figure::DiskBandwidth | Figure::Recovery) {
            self.recovery(t, o)
        } else {
            Recovery::default()
        };
        Minute {
            t,
            minute,
            factor: 0.9 + 0.2 * u(0),
            user_share: 0.6 + 0.3 * u(1),
            heads: normalized([8.0 + 2.0 * u(2), 1.0 + u(3), 0.5 + u(4)]),
            methods: {
                let (g, p, q) = (0.8 + 0.15 * u(5), 0.6 + 0.15 * u(6), 0.05 + 0.1 * u(7));
                [
                    0.75 * g,
                    0.25 * p,
                    0.25 * q,
                    0.25 * (1.0 - p - q),
                    0.75 * (1.0 - g),
                ]
            },
            codes: {
                let user = normalized([2.0 + u(8), 3.0 + u(9), 6.0 + u(10), 1.0 + u(11)]);
                let system = normalized([3.0 + u(12), 1.0 + u(13)]);
                [user[0], user[1], user[2], user[3], system[0], system[1]]
            },
            load,
            recovery,
            up_nodes: self.up_nodes(o).count().max(1) as f64,
        }
    }

    /// Pushes one tag set's field values (in the measurement's field order).
    fn fill(&self, m: &Measurement, at: &Minute, ts: &TagSet, out: &mut Vec<f64>) {
        let seed = self.cfg.seed;
        let figure = m.figure;
        let load = at.load;
        let vdc_requests = load.requests * at.factor;
        let vdc_failed = load.failed * at.factor;
        let read_bytes = load.egress as f64 / 300.0 * at.factor;
        let write_bytes = load.ingress as f64 / 300.0 * at.factor;
        match figure {
            Figure::Transaction | Figure::Error => {
                // The tag set's (requests, failed requests) per second.
                let (ok, failed) = match m.scope {
                    Scope::Namespace => {
                        let n = load.ns.get(ts.a).copied().unwrap_or_default();
                        let ok = requests_per_sec(n.objects_created) * at.factor;
                        (ok, ok * n.error_ratio)
                    }
                    Scope::Head => (vdc_requests * at.heads[ts.a], vdc_failed * at.heads[ts.a]),
                    Scope::Method => (
                        vdc_requests * at.methods[ts.a],
                        vdc_failed * at.methods[ts.a],
                    ),
                    _ => (vdc_requests, vdc_failed),
                };
                if figure == Figure::Transaction {
                    out.extend([ok, failed]);
                } else {
                    let user = failed * at.user_share;
                    out.extend([failed - user, user]);
                }
            }
            Figure::ErrorCode => {
                let user = vdc_failed * at.user_share;
                let system = vdc_failed - user;
                let base = if ts.a < 4 { user } else { system };
                out.push(base * at.codes[ts.a]);
            }
            Figure::Throughput => {
                let share = if m.scope == Scope::Head {
                    at.heads[ts.a]
                } else {
                    1.0
                };
                out.extend([read_bytes * share, write_bytes * share]);
            }
            Figure::Latency => {
                let (read, write) = self.latency_ms(at.t);
                let (id, head) = if m.scope == Scope::HeadLatency {
                    (ts.b, Some(ts.a))
                } else {
                    (ts.a, None)
                };
                let mut p50 = if id == 0 { read } else { write };
                if let Some(hd) = head {
                    let factor = [1.0, 1.15, 1.35][hd];
                    p50 *=
                        factor * (0.95 + 0.1 * unit(h(seed, &[K_PERF, 3, at.minute, hd as u64])));
                }
                let tail = 2.0 + 2.0 * unit(h(seed, &[K_PERF, 4, at.minute, id as u64]));
                out.extend([p50, p50 * tail]);
            }
            Figure::DiskBandwidth => {
                let node = ts.a as u64;
                let up = at.up_nodes;
                let write = ts.b == 1;
                let replicated = self.rgs.iter().filter(|r| r.zones > 1).count() as f64
                    / self.rgs.len().max(1) as f64;
                let (user, geo, ec) = if write {
                    let user = write_bytes * EC_NUM as f64 / EC_DEN as f64 / up;
                    (
                        user,
                        user * replicated * 0.25,
                        at.recovery.ec_rate as f64 / up,
                    )
                } else {
                    let user = read_bytes / up;
                    (
                        user,
                        user * replicated * 0.05,
                        at.recovery.ec_rate as f64 / up * 0.5,
                    )
                };
                let checker = if write {
                    0.0
                } else {
                    range(h(seed, &[K_PERF, 7, node, at.minute]), 1_000_000, 5_000_000) as f64
                };
                let recovery = at.recovery.rate as f64 / up;
                let xor = geo * 0.25;
                let parts = [checker, ec, geo, recovery, user, xor];
                let total: f64 = parts.iter().sum();
                out.extend(parts);
                out.push(total);
            }
            Figure::Rebalancing => {
                let rate = range(h(seed, &[K_PERF, 5]), 100_000, 2_000_000);
                let done = rate * (at.t - ORIGIN).max(0) as u64;
                let pending = range(
                    h(seed, &[K_PERF, 6, (at.t / 3600) as u64]),
                    0,
                    50_000_000_000,
                ) + self.nodes.len().saturating_sub(at.up_nodes as usize) as u64
                    * 500_000_000_000;
                out.extend([done as f64, pending as f64]);
            }
            Figure::Recovery => {
                let r = at.recovery;
                // Recovered so far today at the current rate.
                let done = r.rate * at.t.rem_euclid(86_400) as u64;
                out.extend([done as f64, r.bad_chunks_size as f64]);
            }
            Figure::ProcessHealth => {
                let node = ts.a;
                let load_factor = self.load_factor(node, at.t) as f64;
                let cpu = 5.0
                    + load_factor * 0.22
                    + 3.0 * unit(h(seed, &[K_PERF, 9, node as u64, at.minute]));
                let total = self.node_memory(node) as f64;
                let used = (6 * GIB + self.load_factor(node, at.t) * 32 * MIB) as f64;
                let nic = (read_bytes + write_bytes) / at.up_nodes;
                out.extend([
                    cpu,
                    used,
                    used / total * 100.0,
                    nic,
                    nic / NIC_BYTES_PER_SEC * 100.0,
                ]);
            }
            Figure::Cpu => {
                let node = ts.a as u64;
                let load_factor = self.load_factor(ts.a, at.t) as f64;
                let busy = 5.0 + load_factor * 0.22;
                let user = busy * 0.75;
                let system = busy * 0.25 + 1.0;
                let iowait = 2.0 * unit(h(seed, &[K_PERF, 10, node, at.minute]));
                out.extend([100.0 - user - system - iowait, user, system]);
            }
            Figure::Mem => {
                let total = self.node_memory(ts.a);
                let busy = self.load_factor(ts.a, at.t) as f64 / 250.0;
                let used = (total as f64 * (0.35 + 0.3 * busy)) as u64;
                let available = total - used;
                let free = (available as f64
                    * (0.3 + 0.2 * unit(h(seed, &[K_PERF, 11, ts.a as u64, at.minute]))))
                    as u64;
                out.extend([
                    total as f64,
                    used as f64,
                    free as f64,
                    available as f64,
                    used as f64 / total as f64 * 100.0,
                    available as f64 / total as f64 * 100.0,
                ]);
            }
            Figure::Net => {
                let node = ts.a as u64;
                let boot = ORIGIN - range(h(seed, &[K_NODE, node, 0xB007]), 1, 30) as i64 * 86_400;
                let up = (at.t - boot).max(0) as u64;
                let rate = |dir: u64| {
                    let r = range(
                        h(seed, &[K_PERF, 8, node, ts.b as u64, dir]),
                        1_000_000,
                        40_000_000,
                    );
                    if ts.b == 0 { r } else { r / 10 }
                };
                out.extend([(rate(0) * up) as f64, (rate(1) * up) as f64]);
            }
        }
    }

    /// A node's memory: 128, 192 or 256 GiB.
    pub fn node_memory(&self, node: usize) -> u64 {
        [128, 192, 256][(h(self.cfg.seed, &[K_NODE, node as u64, 0x3E3]) % 3) as usize] * GIB
    }
}

fn uses_load(f: Figure) -> bool {
    matches!(
        f,
        Figure::Transaction
            | Figure::Error
            | Figure::ErrorCode
            | Figure::Throughput
            | Figure::DiskBandwidth
            | Figure::ProcessHealth
    )
}

#[cfg(test)]
mod tests {
    use super::super::ModelConfig;
    use super::*;

    /// A minute in 2026, long after every bucket's first sample.
    const T: i64 = 1_796_014_800;

    fn points(c: &Cluster, m: &str, t: i64, o: &Overrides) -> Vec<FluxPoint> {
        let bucket = if ["cpu", "mem", "net"].contains(&m) {
            OP_BUCKET
        } else {
            VDC_BUCKET
        };
        c.flux_points(bucket, m, t, o)
    }

    fn field(ps: &[FluxPoint], f: &str) -> Vec<f64> {
        ps.iter()
            .filter(|p| p.field == f)
            .map(|p| p.value)
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
    }

    #[test]
    fn every_split_adds_up_to_the_vdc_figure() {
        let c = Cluster::generate(&ModelConfig::small());
        let o = Overrides::default();
        for t in [T, T + 60, T + 3600] {
            let vdc = points(&c, "cq_performance_transaction", t, &o);
            for f in ["succeed_request_counter", "failed_request_counter"] {
                let total = field(&vdc, f)[0];
                assert!(total > 0.0, "{f}");
                for split in [
                    "cq_performance_transaction_ns",
                    "cq_performance_transaction_head",
                    "cq_performance_transaction_method",
                ] {
                    let sum: f64 = field(&points(&c, split, t, &o), f).iter().sum();
                    assert!(close(sum, total), "{split} {f}: {sum} vs {total}");
                }
            }
            let failed = field(&vdc, "failed_request_counter")[0];
            let errors = points(&c, "cq_performance_error", t, &o);
            let (system, user) = (
                field(&errors, "system_errors")[0],
                field(&errors, "user_errors")[0],
            );
            assert!(close(system + user, failed));
            for split in ["cq_performance_error_ns", "cq_performance_error_head"] {
                let e = points(&c, split, t, &o);
                let s: f64 = field(&e, "system_errors").iter().sum();
                let u: f64 = field(&e, "user_errors").iter().sum();
                assert!(close(s, system) && close(u, user), "{split}");
            }
            let codes: f64 = field(
                &points(&c, "cq_performance_error_code", t, &o),
                "error_counter",
            )
            .iter()
            .sum();
            assert!(close(codes, failed));
            let tp = points(&c, "cq_performance_throughput", t, &o);
            let heads = points(&c, "cq_performance_throughput_head", t, &o);
            for f in ["total_read_requests_size", "total_write_requests_size"] {
                let sum: f64 = field(&heads, f).iter().sum();
                assert!(close(sum, field(&tp, f)[0]), "{f}");
            }
        }
    }

    #[test]
    fn the_request_rate_follows_the_billing_load() {
        let c = Cluster::generate(&ModelConfig::small());
        let o = Overrides::default();
        let tx = c.transactions(T);
        let vdc = points(&c, "cq_performance_transaction", T, &o);
        let ratio = field(&vdc, "succeed_request_counter")[0] / (tx.read_tps + tx.write_tps);
        assert!((0.9..=1.1).contains(&ratio), "{ratio}");
        let tp = points(&c, "cq_performance_throughput", T, &o);
        let ratio = field(&tp, "total_write_requests_size")[0] / tx.write_bandwidth;
        assert!((0.9..=1.1).contains(&ratio), "{ratio}");
    }

    #[test]
    fn node_figures_are_consistent() {
        let c = Cluster::generate(&ModelConfig::small());
        let o = Overrides::default();
        for t in (0..30).map(|i| T + i * 60) {
            for p in points(&c, "cq_performance_latency_head", t, &o)
                .chunks(2)
                .chain(points(&c, "cq_performance_latency", t, &o).chunks(2))
            {
                assert_eq!((p[0].field.as_str(), p[1].field.as_str()), ("p50", "p99"));
                assert!(p[1].value >= p[0].value && p[0].value > 0.0);
            }
            for p in points(&c, "cq_disk_bandwidth", t, &o).chunks(7) {
                let parts: f64 = p[..6].iter().map(|x| x.value).sum();
                assert_eq!(p[6].field, "total");
                assert_eq!(p[6].value, parts);
                assert!(p.iter().all(|x| x.value >= 0.0));
            }
            for p in points(&c, "cpu", t, &o).chunks(3) {
                let sum: f64 = p.iter().map(|x| x.value).sum();
                assert!(sum <= 100.0 + 1e-9 && p.iter().all(|x| x.value >= 0.0));
            }
            for p in points(&c, "mem", t, &o).chunks(6) {
                let [total, used, free, available] = [0, 1, 2, 3].map(|i| p[i].value);
                assert_eq!(used + available, total);
                assert!(free <= available && total.fract() == 0.0 && free.fract() == 0.0);
            }
            let rec = points(&c, "cq_recover_status_summary", t, &o);
            assert_eq!(
                field(&rec, "data_to_recover")[0],
                c.recovery(t, &o).bad_chunks_size as f64
            );
        }
        let net = |t| field(&points(&c, "net", t, &o), "bytes_recv");
        let (a, b) = (net(T), net(T + 60));
        assert!(a.iter().zip(&b).all(|(x, y)| y > x), "{a:?} {b:?}");
    }

    #[test]
    fn down_nodes_have_no_points_and_tags_name_the_nodes() {
        let c = Cluster::generate(&ModelConfig::small());
        let mut o = Overrides::default();
        let all = points(&c, "cq_process_health", T, &o);
        assert_eq!(all.len(), c.nodes.len() * 5);
        assert_eq!(
            all[0].tags,
            vec![
                ("host".to_owned(), c.nodes[0].name.clone()),
                ("node_id".to_owned(), c.nodes[0].id.clone()),
                ("process".to_owned(), PROCESS.to_owned()),
            ]
        );
        o.nodes_down.insert(1);
        for m in [
            "cq_disk_bandwidth",
            "cq_process_health",
            "cpu",
            "mem",
            "net",
        ] {
            let ps = points(&c, m, T, &o);
            assert!(!ps.is_empty());
            assert!(
                ps.iter()
                    .all(|p| p.tags.iter().all(|(_, v)| *v != c.nodes[1].id)),
                "{m}"
            );
        }
        assert!(c.flux_points(VDC_BUCKET, "cpu", T, &o).is_empty());
        assert!(c.flux_points(VDC_BUCKET, "nope", T, &o).is_empty());
        assert!(
            c.flux_points(VDC_BUCKET, "cq_performance_transaction", T + 1, &o)
                .is_empty()
        );
    }

    #[test]
    fn every_measurement_is_listed_once() {
        let list = flux_measurements();
        assert_eq!(list.len(), 19);
        for (b, m) in list {
            assert!(measurement(b, m).is_some());
        }
    }
}
