//! The large answers (billing with bucket detail, Flux) are read straight into what the
//! collectors keep: reading holds little beyond the result, where a `serde_json::Value`
//! tree of the answer held several times its size on top of it. Measured by a counting
//! allocator, in this test binary only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;

use receiver_ecs::billing::fetch;
use receiver_ecs::performance::flux;
use testkit::alloc::{Counting, live, peak_during};

#[global_allocator]
static ALLOC: Counting = Counting;

/// A bulk info answer as ECS writes it: `namespaces` namespaces of `buckets` buckets each.
fn billing_answer(namespaces: usize, buckets: usize) -> String {
    let mut s = String::from("{\"namespace_billing_infos\":[");
    for n in 0..namespaces {
        if n > 0 {
            s.push(',');
        }
        write!(s, "{{\"namespace\":\"ns{n:04}\",\"valid_namespace\":\"true\",\"total_size\":\"9765.625\",\"total_size_unit\":\"KB\",\"total_objects\":{},\"sample_time\":\"2026-11-30T05:00:00Z\",\"uptodate_till\":\"2026-11-30T05:04:00Z\",\"total_mpu_size\":\"0.0\",\"total_mpu_parts\":0,\"next_marker\":\"\",\"bucket_billing_info\":[", n * 7).unwrap();
        for b in 0..buckets {
            if b > 0 {
                s.push(',');
            }
            write!(s, "{{\"namespace\":\"ns{n:04}\",\"name\":\"bucket-{n:04}-{b:03}\",\"sample_time\":\"2026-11-30T05:00:00Z\",\"vpool_id\":\"urn:storageos:ReplicationGroupInfo:0a1b2c3d:global\",\"total_size\":\"{}.5\",\"total_size_unit\":\"KB\",\"total_objects\":{},\"total_mpu_size\":\"0.0\",\"total_mpu_parts\":\"0\",\"uptodate_till\":\"2026-11-30T05:04:00Z\",\"TagSet\":[{{\"Key\":\"CostCenter\",\"Value\":\"cc-{}\"}}]}}", b * 1000, b * 3, b % 7).unwrap();
        }
        s.push_str("]}");
    }
    s.push_str("]}");
    s
}

/// An hour of a per-namespace Flux measurement: `rows` rows.
fn flux_answer(rows: usize) -> String {
    let mut s = String::from(
        "{\"Series\":[{\"Datatypes\":[\"string\",\"long\",\"dateTime:RFC3339\",\"dateTime:RFC3339\",\"dateTime:RFC3339\",\"double\",\"string\",\"string\",\"string\"],\"Columns\":[\"result\",\"table\",\"_start\",\"_stop\",\"_time\",\"_value\",\"_field\",\"_measurement\",\"namespace\"],\"Values\":[",
    );
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        write!(s, "[\"_result\",\"{}\",\"2026-11-30T04:00:00Z\",\"2026-11-30T05:00:00Z\",\"2026-11-30T04:{:02}:00Z\",\"{}.25\",\"succeed_request_counter\",\"cq_performance_transaction_ns\",\"ns{:04}\"]", r / 60, r % 60, r, r / 60).unwrap();
    }
    s.push_str("]}]}");
    s
}

/// What reading `answer` kept (the result) and held for a while on top of it.
fn cost<R>(read: impl FnOnce() -> R) -> (usize, usize) {
    let before = live();
    let (result, peak) = peak_during(read);
    let kept = live().saturating_sub(before);
    drop(result);
    (kept, peak.saturating_sub(kept))
}

#[test]
fn a_large_billing_answer_is_read_without_a_tree() {
    let answer = billing_answer(200, 25);
    let body = answer.as_bytes();
    let (kept, transient) = cost(|| fetch::read_info(body).unwrap());
    // The tree alone is several times the answer; the typed reader's own working memory
    // (the typed items, their strings borrowed from the answer, before they become
    // figures) is a fraction of the answer.
    let (tree, _) = cost(|| serde_json::from_slice::<serde_json::Value>(body).unwrap());
    assert!(
        transient < body.len() / 2,
        "reading {} bytes held {transient} bytes beyond its {kept}-byte result (a tree is {tree})",
        body.len()
    );
    assert!(tree > 4 * body.len(), "tree {tree}");
}

#[test]
fn a_large_flux_answer_is_read_without_a_tree() {
    let answer = flux_answer(40_000);
    let body = answer.as_bytes();
    let (kept, transient) = cost(|| flux::read(body, &["namespace"]).unwrap());
    let (tree, _) = cost(|| serde_json::from_slice::<serde_json::Value>(body).unwrap());
    // What the reader holds beyond its rows is the rows' list while it doubles.
    assert!(
        transient < kept,
        "reading {} bytes held {transient} bytes beyond its {kept}-byte result (a tree is {tree})",
        body.len()
    );
    assert!(
        kept + transient < body.len() * 2,
        "{kept} + {transient} for {} bytes",
        body.len()
    );
    assert!(tree > 3 * body.len(), "tree {tree}");
}
