//! docs/metrics.md is generated from the catalogs, and every catalog name becomes a valid
//! and distinct Prometheus name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use ecs_otel_agent::catalog::{catalogs, prometheus_name, reference_markdown};

/// The committed file is compared with the generated text. With `UPDATE_DOCS=1` a stale
/// file is rewritten (atomically: other tests read it) and the test still fails, so the
/// rewrite is reviewed and an update run can never pass by comparing the text with itself.
#[test]
fn the_metrics_reference_matches_the_catalogs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let generated = reference_markdown();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == generated {
        return;
    }
    if std::env::var("UPDATE_DOCS").as_deref() == Ok("1") {
        let tmp = path.with_extension("md.new");
        std::fs::write(&tmp, &generated).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        panic!("docs/metrics.md rewritten: review `git diff docs/metrics.md` and run again");
    }
    panic!(
        "docs/metrics.md is out of date; run `UPDATE_DOCS=1 cargo nextest run -p ecs-otel-agent --test catalog`, review the diff, run again"
    );
}

fn valid_prometheus_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[test]
fn every_catalog_name_is_unique_and_translates_to_a_valid_distinct_prometheus_name() {
    let mut otel = BTreeMap::new();
    let mut prom: BTreeMap<String, &str> = BTreeMap::new();
    for c in catalogs() {
        for m in c.metrics {
            assert!(
                otel.insert(m.desc.name, c.receiver).is_none(),
                "{} listed twice",
                m.desc.name
            );
            let p = prometheus_name(m.desc.name, m.desc.unit, m.instrument);
            assert!(valid_prometheus_name(&p), "{} → {p}", m.desc.name);
            if let Some(other) = prom.insert(p.clone(), m.desc.name) {
                panic!("{} and {other} both become {p}", m.desc.name);
            }
        }
    }
}

#[test]
fn names_translate_as_the_compatibility_rules_say() {
    use pipeline::catalog::Instrument::{Counter, Gauge, Histogram};
    // Written by hand from the OpenTelemetry-to-Prometheus rules: unit words appended
    // unless already there, `_total` on counters, `ratio` for gauges of unit 1, `{…}`
    // annotations dropped.
    for (name, unit, instrument, want) in [
        (
            "emcecs.capacity.total",
            "By",
            Gauge,
            "emcecs_capacity_total_bytes",
        ),
        (
            "emcecs.namespace.ingress",
            "By",
            Counter,
            "emcecs_namespace_ingress_bytes_total",
        ),
        (
            "emcecs.capacity.allocated.ratio",
            "1",
            Gauge,
            "emcecs_capacity_allocated_ratio",
        ),
        ("emcecs.nodes", "{node}", Gauge, "emcecs_nodes"),
        (
            "emcecs.replication.ingress",
            "By/s",
            Gauge,
            "emcecs_replication_ingress_bytes_per_second",
        ),
        (
            "emcecs.replication.lag",
            "s",
            Gauge,
            "emcecs_replication_lag_seconds",
        ),
        (
            "emcecs.transactions",
            "{transaction}",
            Counter,
            "emcecs_transactions_total",
        ),
        (
            "emcecs.iam.users.inactive",
            "d",
            Gauge,
            "emcecs_iam_users_inactive_days",
        ),
        (
            "ecs_otel_agent.ecs.request.duration",
            "s",
            Histogram,
            "ecs_otel_agent_ecs_request_duration_seconds",
        ),
        ("emcecs_node_dtTotal", "", Gauge, "emcecs_node_dtTotal"),
    ] {
        assert_eq!(prometheus_name(name, unit, instrument), want, "{name}");
    }
}

#[test]
fn names_asked_for_under_another_name_point_at_emitted_metrics() {
    let emitted: Vec<String> = catalogs()
        .iter()
        .flat_map(|c| c.metrics.iter())
        .map(|m| prometheus_name(m.desc.name, m.desc.unit, m.instrument))
        .collect();
    let mut checked = 0;
    for c in catalogs() {
        for r in c.renamed {
            assert!(
                !emitted.iter().any(|e| e == r.asked),
                "{} is emitted under that very name",
                r.asked
            );
            for e in r.emitted {
                assert!(
                    emitted.iter().any(|x| x == e),
                    "{} → {e}: not emitted",
                    r.asked
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 9, "{checked}");
}
