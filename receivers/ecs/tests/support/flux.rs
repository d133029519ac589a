//! What the performance collector reports for the Flux points of the model at given
//! minutes: each measurement's fields under the names and labels docs/FLUX.md gives.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use ecs_sim::model::Cluster;
use ecs_sim::model::system::Overrides;

use super::expect::Expect;

/// Every measurement read, with its bucket.
pub const MEASUREMENTS: [(&str, &str); 15] = [
    ("monitoring_vdc", "cq_performance_transaction"),
    ("monitoring_vdc", "cq_performance_transaction_head"),
    ("monitoring_vdc", "cq_performance_transaction_method"),
    ("monitoring_vdc", "cq_performance_transaction_ns"),
    ("monitoring_vdc", "cq_performance_error"),
    ("monitoring_vdc", "cq_performance_error_ns"),
    ("monitoring_vdc", "cq_performance_error_code"),
    ("monitoring_vdc", "cq_performance_throughput"),
    ("monitoring_vdc", "cq_performance_latency"),
    ("monitoring_vdc", "cq_disk_bandwidth"),
    ("monitoring_vdc", "cq_node_rebalancing_summary"),
    ("monitoring_vdc", "cq_recover_status_summary"),
    ("monitoring_op", "cpu"),
    ("monitoring_op", "mem"),
    ("monitoring_op", "net"),
];

/// One expected point: name, labels, value.
pub type Want = (String, Vec<(String, String)>, f64);

fn tag<'a>(tags: &'a [(String, String)], k: &str) -> &'a str {
    tags.iter()
        .find(|(n, _)| n == k)
        .map_or("", |(_, v)| v.as_str())
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn result(field: &str) -> Option<&'static str> {
    match field {
        "succeed_request_counter" => Some("succeeded"),
        "failed_request_counter" => Some("failed"),
        _ => None,
    }
}

fn category(field: &str) -> Option<&'static str> {
    match field {
        "system_errors" => Some("system"),
        "user_errors" => Some("user"),
        _ => None,
    }
}

/// The points of one measurement at minute `t`.
pub fn wants(m: &Cluster, o: &Overrides, bucket: &str, measurement: &str, t: i64) -> Vec<Want> {
    let mut out = Vec::new();
    for p in m.flux_points(bucket, measurement, t, o) {
        let tags = &p.tags;
        let f = p.field.as_str();
        let v = p.value;
        let mut push = |name: &str, labels: Vec<(String, String)>, v: f64| {
            out.push((name.to_owned(), labels, v));
        };
        match measurement {
            "cq_performance_transaction" => {
                if let Some(r) = result(f) {
                    push("emcecs.transaction.request.rate", l(&[("result", r)]), v);
                }
            }
            "cq_performance_transaction_head" => {
                if let Some(r) = result(f) {
                    push(
                        "emcecs.head.request.rate",
                        l(&[("head", tag(tags, "head")), ("result", r)]),
                        v,
                    );
                }
            }
            "cq_performance_transaction_method" => {
                if let Some(r) = result(f) {
                    push(
                        "emcecs.method.request.rate",
                        l(&[("method", tag(tags, "method")), ("result", r)]),
                        v,
                    );
                }
            }
            "cq_performance_transaction_ns" => {
                if let Some(r) = result(f) {
                    push(
                        "emcecs.namespace.request.rate",
                        l(&[("namespace", tag(tags, "namespace")), ("result", r)]),
                        v,
                    );
                }
            }
            "cq_performance_error" => {
                if let Some(c) = category(f) {
                    push("emcecs.transaction.error.rate", l(&[("category", c)]), v);
                }
            }
            "cq_performance_error_ns" => {
                if let Some(c) = category(f) {
                    push(
                        "emcecs.namespace.error.rate",
                        l(&[("namespace", tag(tags, "namespace")), ("category", c)]),
                        v,
                    );
                }
            }
            "cq_performance_error_code" => {
                push(
                    "emcecs.transaction.error.code.rate",
                    l(&[("code", tag(tags, "code"))]),
                    v,
                );
            }
            "cq_performance_throughput" => {
                let op = if f == "total_read_requests_size" {
                    "read"
                } else {
                    "write"
                };
                push("emcecs.transaction.bandwidth", l(&[("operation", op)]), v);
            }
            "cq_performance_latency" => {
                let op = match tag(tags, "id") {
                    "ttfb_read" => "read",
                    "ttlb_write" => "write",
                    other => other,
                };
                let q = if f == "p50" { "0.5" } else { "0.99" };
                push(
                    "emcecs.transaction.latency.quantile",
                    l(&[("operation", op), ("quantile", q)]),
                    v / 1000.0,
                );
            }
            "cq_disk_bandwidth" if f != "total" => {
                push(
                    "emcecs.disk.bandwidth",
                    l(&[
                        ("node", tag(tags, "host")),
                        ("node_id", tag(tags, "node_id")),
                        ("operation", tag(tags, "type_op")),
                        ("type", f),
                    ]),
                    v,
                );
            }
            "cq_node_rebalancing_summary" => {
                let s = if f == "data_rebalanced" {
                    "rebalanced"
                } else {
                    "pending"
                };
                push("emcecs.rebalancing.data", l(&[("state", s)]), v);
            }
            "cq_recover_status_summary" => {
                let s = if f == "data_recovered" {
                    "recovered"
                } else {
                    "to_recover"
                };
                push("emcecs.recovery.data", l(&[("state", s)]), v);
            }
            "cpu" if f == "usage_idle" && tag(tags, "cpu") == "cpu-total" => {
                push(
                    "emcecs.node.cpu.utilization",
                    l(&[
                        ("node", tag(tags, "host")),
                        ("node_id", tag(tags, "node_id")),
                    ]),
                    ((100.0_f64 - v) / 100.0).clamp(0.0, 1.0),
                );
            }
            "mem" if f == "used" || f == "total" => {
                let name = if f == "used" {
                    "emcecs.node.memory.used"
                } else {
                    "emcecs.node.memory.total"
                };
                push(
                    name,
                    l(&[
                        ("node", tag(tags, "host")),
                        ("node_id", tag(tags, "node_id")),
                    ]),
                    v,
                );
            }
            "net" if f == "bytes_recv" || f == "bytes_sent" => {
                let d = if f == "bytes_recv" {
                    "receive"
                } else {
                    "transmit"
                };
                push(
                    "emcecs.node.network.io",
                    l(&[
                        ("node", tag(tags, "host")),
                        ("node_id", tag(tags, "node_id")),
                        ("interface", tag(tags, "interface")),
                        ("direction", d),
                    ]),
                    v,
                );
            }
            _ => {}
        }
    }
    out
}

/// The namespaces kept with `max`: the busiest by requests at `t`.
pub fn busiest(m: &Cluster, o: &Overrides, t: i64, max: usize) -> BTreeSet<String> {
    let mut by_ns: BTreeMap<String, f64> = BTreeMap::new();
    for p in m.flux_points("monitoring_vdc", "cq_performance_transaction_ns", t, o) {
        *by_ns
            .entry(tag(&p.tags, "namespace").to_owned())
            .or_insert(0.0) += p.value;
    }
    let mut v: Vec<(String, f64)> = by_ns.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.into_iter().take(max).map(|(n, _)| n).collect()
}

/// Every point of a cycle that read minute `t`, per-namespace series beyond `max`
/// summed into `__other__`.
pub fn expect(m: &Cluster, o: &Overrides, t: i64, max_namespaces: usize) -> Expect {
    let keep = busiest(m, o, t, max_namespaces);
    let mut e = Expect::default();
    let mut other: BTreeMap<(String, Vec<(String, String)>), f64> = BTreeMap::new();
    for (bucket, measurement) in MEASUREMENTS {
        for (name, labels, v) in wants(m, o, bucket, measurement, t) {
            let ns = labels
                .iter()
                .find(|(k, _)| k == "namespace")
                .map(|(_, v)| v.clone());
            match ns {
                Some(ns) if !keep.contains(&ns) => {
                    let labels: Vec<(String, String)> = labels
                        .into_iter()
                        .map(|(k, v)| {
                            if k == "namespace" {
                                (k, "__other__".to_owned())
                            } else {
                                (k, v)
                            }
                        })
                        .collect();
                    *other.entry((name, labels)).or_insert(0.0) += v;
                }
                _ => {
                    let attrs: Vec<(&str, &str)> = labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    e.set_at(&name, &attrs, v, Some(t), None);
                }
            }
        }
    }
    for ((name, labels), v) in other {
        let attrs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        e.set_at(&name, &attrs, v, Some(t), None);
    }
    e
}
