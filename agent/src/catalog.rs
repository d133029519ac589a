//! The metrics reference (docs/metrics.md), generated from the receivers' catalogs with
//! the names the Prometheus exporter gives them.

use exporter_prometheus::naming::{FamilyKind, family_name};
use pipeline::catalog::{Catalog, Instrument};

/// Every receiver kind's catalogs, in the receiver table's order.
pub fn catalogs() -> Vec<&'static Catalog> {
    crate::receivers::registry().catalogs()
}

/// The name the Prometheus exporter gives a catalog entry.
pub fn prometheus_name(name: &str, unit: &str, instrument: Instrument) -> String {
    let kind = match instrument {
        Instrument::Gauge => FamilyKind::Gauge,
        Instrument::Counter => FamilyKind::Counter,
        Instrument::Histogram => FamilyKind::Histogram,
    };
    family_name(name, unit, kind, true).text
}

/// The markdown reference.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Metrics reference\n\n\
         Generated from the receivers' catalogs by `cargo test -p ecs-otel-agent --test catalog` \
         (with `UPDATE_DOCS=1` it rewrites this file and fails, for a review of the diff); it fails when this file and \
         the code disagree.\n\n\
         OTel names are translated to Prometheus names by the OpenTelemetry compatibility \
         rules (unit suffix, `_total` for counters). Every series also carries `job` and \
         `instance` (from `service.name` / `service.instance.id`) and `otel_scope_name` / \
         `otel_scope_version`; the other resource attributes are on `target_info`.\n",
    );
    for c in catalogs() {
        out.push_str(&format!(
            "\n## Receiver `{}`\n\n{}\n\n",
            c.receiver, c.description
        ));
        out.push_str(
            "| Prometheus name | OTel name | type | unit | attributes | source | description |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|\n");
        for m in c.metrics {
            let attrs = if m.attributes.is_empty() {
                "—".to_owned()
            } else {
                m.attributes
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let unit = if m.desc.unit.is_empty() {
                "—".to_owned()
            } else {
                format!("`{}`", m.desc.unit)
            };
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} | {} | {}{} |\n",
                prometheus_name(m.desc.name, m.desc.unit, m.instrument),
                m.desc.name,
                m.instrument.as_str(),
                unit,
                attrs,
                m.source,
                m.desc.description,
                if m.enabled { "" } else { " (off by default)" },
            ));
        }
        if !c.renamed.is_empty() {
            out.push_str("\nAsked for under another name:\n\n");
            out.push_str("| metric users ask for | emitted as | why |\n|---|---|---|\n");
            for r in c.renamed {
                let emitted: Vec<String> = r.emitted.iter().map(|e| format!("`{e}`")).collect();
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    r.asked,
                    emitted.join(", "),
                    r.note
                ));
            }
        }
        if !c.unavailable.is_empty() {
            out.push_str("\nNot emitted, because no available source supplies them:\n\n");
            out.push_str("| metric users ask for | why |\n|---|---|\n");
            for u in c.unavailable {
                out.push_str(&format!("| `{}` | {} |\n", u.name, u.reason));
            }
        }
    }
    out.push_str(GENERIC_NAMES);
    out
}

/// The generic receiver's metrics are named by its configuration, so they have no catalog.
const GENERIC_NAMES: &str = "\n## Receiver `generic`\n\n\
Its metrics are the ones its configuration declares (see otel-configs/generic.yaml). A \
metric's OTel name is the service's `metric_prefix` (by default the service's name and a \
dot: `node.` for `generic/node`) followed by the metric's key: `load.1m` of `generic/node` \
is `node.load.1m`. The Prometheus name follows the same rules as above: dots become \
underscores, the unit adds its suffix and counters end in `_total` (`node.disk.used` with \
`unit: By` is `node_disk_used_bytes`; a counter `node.reads` is `node_reads_total`). Labels \
come from the named captures of a text filter, from the object fields a json or xml metric \
names in `labels`, and from fixed labels (`site: \"=dc1\"`). A Prometheus page's families \
keep their names and labels behind the prefix (`go_goroutines` of `generic/node` is \
`node.go_goroutines`, on /metrics `node_go_goroutines`). `instance` is \
`generic/<service>`. A group's read is one job, `generic/<service>/<group>`: its runs, \
failures (by reason: `timeout`, `exit_status`, `too_large`, `refused`, `unavailable`, \
`malformed`) and durations are in the `self` receiver's `ecs_otel_agent_receiver_*` \
figures, labelled `receiver=\"generic/<service>/<group>\"`, and in /health.\n";
