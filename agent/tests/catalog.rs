//! docs/metrics.md is generated from the catalogs, and the receivers emit only what their
//! catalog lists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn the_metrics_reference_matches_the_catalogs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let generated = ecs_otel_agent::catalog::reference_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/metrics.md is out of date; run `UPDATE_DOCS=1 cargo test -p ecs-otel-agent --test catalog`"
    );
}

#[test]
fn every_catalog_name_is_unique_and_translates_to_a_valid_prometheus_name() {
    let mut seen = std::collections::HashSet::new();
    for c in ecs_otel_agent::catalog::catalogs() {
        for m in c.metrics {
            assert!(seen.insert(m.desc.name), "{} listed twice", m.desc.name);
            let reference = ecs_otel_agent::catalog::reference_markdown();
            assert!(reference.contains(&format!("`{}`", m.desc.name)));
        }
    }
}
