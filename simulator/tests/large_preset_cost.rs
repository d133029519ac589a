//! What the Flux and audit-event answers cost on the large preset (1,000 namespaces,
//! 20,000 buckets, 16 nodes). A measurement, not a check: run it in release mode,
//! `cargo test --release -p ecs-sim --test large_preset_cost -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ecs_sim::api::flux::answer;
use ecs_sim::api::flux::query::Instant as FluxInstant;
use ecs_sim::model::perf::{VDC_BUCKET, measurement};
use ecs_sim::model::system::Overrides;
use ecs_sim::{Cluster, ModelConfig};

/// The best of five runs of `f`.
fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let mut fastest = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let v = f();
        fastest = fastest.min(t.elapsed());
        out = Some(v);
    }
    (fastest, out.unwrap())
}

#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn flux_answers_and_audit_events_on_the_large_preset() {
    let c = Cluster::generate(&ModelConfig::large());
    let o = Overrides::default();
    let now: i64 = 1_796_016_600;
    let times: Vec<i64> = (0..60).map(|i| now - 3540 + i * 60).collect();
    let (start, stop) = (FluxInstant::at(now - 3600), FluxInstant::at(now));
    for name in [
        "cq_performance_transaction",
        "cq_performance_transaction_ns",
        "cq_disk_bandwidth",
        "cq_performance_latency_head",
    ] {
        let m = measurement(VDC_BUCKET, name).unwrap();
        let (compute, (series, values)) =
            best(|| (c.flux_series(m, &o), c.flux_values(m, &times, &o)));
        let (encode, body) =
            best(|| answer::write(m, &series, &times, &values, start, stop, false));
        println!(
            "{name}: {} rows, computed in {compute:?}, encoded in {encode:?} ({} bytes)",
            values.len(),
            body.len()
        );
    }
    for (label, span) in [("1 hour", 3600), ("1 day", 86_400)] {
        let (all, count) = best(|| {
            c.namespaces
                .keys()
                .map(|ns| c.audit_events(ns, now - span, now).len())
                .sum::<usize>()
        });
        println!(
            "audit events, {label} window, all {} namespaces: {count} events in {all:?} ({:?} per namespace)",
            c.namespaces.len(),
            all / c.namespaces.len() as u32
        );
    }
}
