//! Rows to series. Each point keeps the time ECS gave it; a series' points go newest
//! first, so that a consumer keeping one value per series (Prometheus) keeps the newest.

use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

use pipeline::SnapshotBuilder;
use pipeline::timefmt::from_secs;

use super::catalog::*;
use super::flux::Row;
use super::queries::Kind;
use crate::catalog::TX_BANDWIDTH;

/// The namespace every namespace beyond `max_namespaces` is summed into.
pub const OTHER: &str = "__other__";

pub struct Context<'a> {
    /// Namespaces with series of their own.
    pub namespaces: &'a HashSet<String>,
    /// Start of the node network counters (ECS counts from the node's boot, unknown here).
    pub counters_start: SystemTime,
}

/// Rows sorted by series, then newest first.
pub fn newest_first(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        a.tags
            .cmp(&b.tags)
            .then_with(|| a.field.cmp(&b.field))
            .then_with(|| b.time.cmp(&a.time))
    });
}

pub fn rows(b: &mut SnapshotBuilder, kind: Kind, rows: &[Row], c: &Context<'_>) {
    for r in rows {
        let at = from_secs(r.time);
        let tag = |i: usize| r.tags.get(i).map_or("", String::as_str);
        match kind {
            Kind::Transactions => {
                if let Some(res) = result(&r.field) {
                    REQUEST_RATE.record_at(b, r.value, [res], at);
                }
            }
            Kind::TransactionsByHead => {
                if let Some(res) = result(&r.field) {
                    HEAD_REQUEST_RATE.record_at(b, r.value, [tag(0), res], at);
                }
            }
            Kind::TransactionsByMethod => {
                if let Some(res) = result(&r.field) {
                    METHOD_REQUEST_RATE.record_at(b, r.value, [tag(0), res], at);
                }
            }
            Kind::TransactionsByNamespace => {
                if let Some(res) = result(&r.field) {
                    NAMESPACE_REQUEST_RATE.record_at(b, r.value, [tag(0), res], at);
                }
            }
            Kind::Errors => {
                if let Some(cat) = category(&r.field) {
                    ERROR_RATE.record_at(b, r.value, [cat], at);
                }
            }
            Kind::ErrorsByNamespace => {
                if let Some(cat) = category(&r.field) {
                    NAMESPACE_ERROR_RATE.record_at(b, r.value, [tag(0), cat], at);
                }
            }
            Kind::ErrorsByCode => {
                if r.field == "error_counter" {
                    ERROR_CODE_RATE.record_at(b, r.value, [tag(0)], at);
                }
            }
            Kind::Throughput => {
                let op = match r.field.as_str() {
                    "total_read_requests_size" => "read",
                    "total_write_requests_size" => "write",
                    _ => continue,
                };
                TX_BANDWIDTH.record_at(b, r.value, [op], at);
            }
            Kind::Latency => {
                let q = match r.field.as_str() {
                    "p50" => "0.5",
                    "p99" => "0.99",
                    _ => continue,
                };
                let op = match tag(0) {
                    "ttfb_read" => "read",
                    "ttlb_write" => "write",
                    other => other,
                };
                LATENCY.record_at(b, r.value / 1000.0, [op, q], at);
            }
            Kind::DiskBandwidth => {
                // ECS's total is the sum of the others: left out so that sums stay right.
                if r.field != "total" {
                    DISK_BANDWIDTH.record_at(b, r.value, [tag(0), tag(1), tag(2), &r.field], at);
                }
            }
            Kind::Rebalancing => {
                let state = match r.field.as_str() {
                    "data_rebalanced" => "rebalanced",
                    "pending_rebalance" => "pending",
                    _ => continue,
                };
                REBALANCING_DATA.record_at(b, r.value, [state], at);
            }
            Kind::Recovery => {
                let state = match r.field.as_str() {
                    "data_recovered" => "recovered",
                    "data_to_recover" => "to_recover",
                    _ => continue,
                };
                RECOVERY_DATA.record_at(b, r.value, [state], at);
            }
            Kind::NodeCpu => {
                if r.field == "usage_idle" && tag(2) == "cpu-total" {
                    let busy = ((100.0 - r.value) / 100.0).clamp(0.0, 1.0);
                    NODE_CPU.record_at(b, busy, [tag(0), tag(1)], at);
                }
            }
            Kind::NodeMemory => match r.field.as_str() {
                "used" => NODE_MEMORY_USED.record_at(b, r.value, [tag(0), tag(1)], at),
                "total" => NODE_MEMORY_TOTAL.record_at(b, r.value, [tag(0), tag(1)], at),
                _ => {}
            },
            Kind::NodeNetwork => {
                let dir = match r.field.as_str() {
                    "bytes_recv" => "receive",
                    "bytes_sent" => "transmit",
                    _ => continue,
                };
                NODE_NETWORK_IO.record_at(
                    b,
                    r.value,
                    c.counters_start,
                    [tag(0), tag(1), tag(2), dir],
                    at,
                );
            }
        }
    }
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

/// The `max` busiest namespaces of a per-namespace transaction read (requests per second
/// at each namespace's newest point).
pub fn busiest(rows: &[Row], max: usize) -> HashSet<String> {
    let mut newest: BTreeMap<&str, (i64, f64)> = BTreeMap::new();
    for r in rows {
        let e = newest.entry(r.tags[0].as_str()).or_insert((r.time, 0.0));
        if r.time > e.0 {
            *e = (r.time, 0.0);
        }
        if r.time == e.0 {
            e.1 += r.value;
        }
    }
    let mut v: Vec<(&str, f64)> = newest.into_iter().map(|(n, (_, x))| (n, x)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter().take(max).map(|(n, _)| n.to_owned()).collect()
}

/// Rows of namespaces outside `keep` summed into [`OTHER`], per time and field.
pub fn fold_others(rows: Vec<Row>, keep: &HashSet<String>) -> Vec<Row> {
    let mut out = Vec::with_capacity(rows.len().min(keep.len() * 4 + 4));
    let mut other: BTreeMap<(i64, String), f64> = BTreeMap::new();
    for r in rows {
        if keep.contains(&r.tags[0]) {
            out.push(r);
        } else {
            *other.entry((r.time, r.field)).or_insert(0.0) += r.value;
        }
    }
    out.extend(other.into_iter().map(|((time, field), value)| Row {
        time,
        field,
        value,
        tags: vec![OTHER.to_owned()],
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ns: &str, t: i64, field: &str, v: f64) -> Row {
        Row {
            time: t,
            field: field.into(),
            value: v,
            tags: vec![ns.into()],
        }
    }

    #[test]
    fn the_busiest_namespaces_are_kept_and_the_rest_summed() {
        let rows = vec![
            row("a", 60, "succeed_request_counter", 1.0),
            row("a", 120, "succeed_request_counter", 5.0),
            row("b", 120, "succeed_request_counter", 3.0),
            row("b", 120, "failed_request_counter", 3.0),
            row("c", 120, "succeed_request_counter", 2.0),
            row("d", 120, "succeed_request_counter", 1.0),
        ];
        let keep = busiest(&rows, 2);
        assert_eq!(keep, HashSet::from(["a".to_owned(), "b".to_owned()]));
        let mut folded = fold_others(rows, &keep);
        newest_first(&mut folded);
        let other: Vec<_> = folded.iter().filter(|r| r.tags[0] == OTHER).collect();
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].value, 3.0);
        assert_eq!(
            folded
                .iter()
                .filter(|r| r.tags[0] == "a")
                .map(|r| r.time)
                .collect::<Vec<_>>(),
            vec![120, 60]
        );
    }
}
