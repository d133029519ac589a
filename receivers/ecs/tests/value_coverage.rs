//! Every metric of the ECS catalogs (and the compatibility names) has a test that checks
//! its value and attributes against the simulator's model. The list below names that test
//! and the file whose code states the expected value; this test fails when a catalog entry
//! is missing from the list (a metric added without a value test), when the list names a
//! metric the catalogs do not have, or when a named test or expectation is not where the
//! list says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use receiver_ecs::catalog::{CATALOG, COMPAT_CATALOG};

struct ValueTest {
    /// Under receivers/ecs/tests/.
    file: &'static str,
    /// A function of `file` that runs the check.
    test: &'static str,
    /// Where the expected values are written (it names each metric).
    oracle: &'static str,
    metrics: &'static [&'static str],
}

const VALUE_TESTS: &[ValueTest] = &[
    ValueTest {
        file: "figures.rs",
        test: "every_figure",
        oracle: "support/expect.rs",
        metrics: &[
            "emcecs.version.info",
            "emcecs.nodes",
            "emcecs.disks",
            "emcecs.capacity.total",
            "emcecs.capacity.free",
            "emcecs.capacity.allocated",
            "emcecs.capacity.reserved",
            "emcecs.capacity.offline",
            "emcecs.capacity.used",
            "emcecs.capacity.allocated.ratio",
            "emcecs.object.capacity.provisioned",
            "emcecs.object.capacity.available",
            "emcecs.storage.user_data.ratio",
            "emcecs.storage.protection.overhead.ratio",
            "emcecs.erasure_coding.info",
            "emcecs.erasure_coding.coded.ratio",
            "emcecs.erasure_coding.rate",
            "emcecs.gc.pending",
            "emcecs.gc.reclaimed",
            "emcecs.gc.unreclaimable",
            "emcecs.recovery.rate",
            "emcecs.recovery.pending",
            "emcecs.recovery.remaining",
            "emcecs.chunks",
            "emcecs.chunks.size",
            "emcecs.alerts.unacknowledged",
            "emcecs.storage_pool.capacity",
            "emcecs.storage_pool.nodes",
            "emcecs.node.healthy",
            "emcecs.node.disks",
            "emcecs.node.capacity",
            "emcecs.disk.healthy",
            "emcecs.disk.capacity",
            "emcecs.replication.ingress",
            "emcecs.replication.egress",
            "emcecs.replication.pending",
            "emcecs.replication.lag",
            "emcecs.replication.links.failed",
            "emcecs.transaction.latency",
            "emcecs.transaction.rate",
            "emcecs.transaction.bandwidth",
            "emcecs.transactions",
            "emcecs.transaction.errors",
            "emcecs.namespaces",
            "emcecs.buckets",
            "emcecs.bucket.object_lock.enabled",
            "emcecs.bucket.object_lock.default_retention",
            "emcecs.bucket.retention",
            "emcecs.bucket.versioning.enabled",
            "emcecs.bucket.locked",
            "emcecs.node.dt.tables",
            "emcecs.node.dt.ready.ratio",
            "emcecs.node.load_factor",
            "emcecs.node.maintenance_mode",
            "emcecs.node.stats.up",
            "emcecs_cluster_good_nodes",
            "emcecs_cluster_bad_nodes",
            "emcecs_cluster_good_disks",
            "emcecs_cluster_bad_disks",
            "emcecs_cluster_space_free",
            "emcecs_cluster_space_total",
            "emcecs_cluster_alerts_critical",
            "emcecs_cluster_alerts_error",
            "emcecs_cluster_alerts_info",
            "emcecs_cluster_alerts_warning",
            "emcecs_cluster_transaction_success",
            "emcecs_cluster_transaction_error",
            "emcecs_cluster_transaction_error_detail",
            "emcecs_cluster_transaction_read_latency",
            "emcecs_cluster_transaction_write_latency",
            "emcecs_cluster_transaction_read_per_second",
            "emcecs_cluster_transaction_write_per_second",
            "emcecs_cluster_transaction_read_bandwidth",
            "emcecs_cluster_transaction_write_bandwidth",
            "emcecs_cluster_replication_ingress_traffic",
            "emcecs_cluster_replication_egress_traffic",
            "emcecs_cluster_data_replication_pending",
            "emcecs_cluster_journal_replication_pending",
            "emcecs_cluster_chunks_pending_xor",
            "emcecs_cluster_last_replication_timestamp",
            "emcecs_cluster_version",
            "emcecs_node_dtTotal",
            "emcecs_node_dtUnready",
            "emcecs_node_dtUnknown",
            "emcecs_node_activeConnections",
        ],
    },
    ValueTest {
        file: "figures.rs",
        test: "every_figure",
        oracle: "figures.rs",
        metrics: &[
            "ecs_otel_agent.ecs.requests",
            "ecs_otel_agent.ecs.request.duration",
            "ecs_otel_agent.ecs.logins",
            "ecs_otel_agent.ecs.circuit.open",
        ],
    },
    ValueTest {
        file: "billing.rs",
        test: "every_billing_figure_equals_the_model_at_a_frozen_second",
        oracle: "support/expect.rs",
        metrics: &[
            "emcecs.bucket.storage",
            "emcecs.bucket.objects",
            "emcecs.bucket.multipart_upload.size",
            "emcecs.bucket.multipart_upload.parts",
            "emcecs.bucket.ingress",
            "emcecs.bucket.egress",
            "emcecs.bucket.objects.created",
            "emcecs.bucket.objects.deleted",
            "emcecs.bucket.storage.cost.usd",
            "emcecs.bucket.cost.trend",
            "emcecs.namespace.total_bytes",
            "emcecs.namespace.total_objects",
            "emcecs.namespace.multipart_upload.size",
            "emcecs.namespace.ingress",
            "emcecs.namespace.egress",
            "emcecs.namespace.quota",
            "emcecs.namespace.quota.used",
            "emcecs.namespace.storage.cost.usd",
            "emcecs.namespace.bandwidth.cost.usd",
            "emcecs.namespace.cost.trend",
            "emcecs.billing.uptodate_timestamp",
            "ecs_otel_agent.ecs.billing.buckets.folded",
            "emcecs_metering_namespacequota",
            "emcecs_metering_namespace_object_count",
        ],
    },
    ValueTest {
        file: "iam.rs",
        test: "every_iam_figure_equals_the_model_in_every_version_and_format",
        oracle: "support/expect.rs",
        metrics: &[
            "emcecs.iam.users",
            "emcecs.iam.users.active",
            "emcecs.iam.users.inactive",
            "emcecs.iam.credential.age",
            "emcecs.iam.access_keys",
            "emcecs.iam.groups",
            "emcecs.iam.roles",
            "emcecs.iam.policies",
            "emcecs.iam.policy.attachments",
            "emcecs.iam.overprivileged.entities",
            "emcecs.iam.overprivileged.entity",
            "emcecs.management.users",
            "emcecs.auth_provider.enabled",
            "emcecs.auth_provider.available",
            "emcecs.auth_provider.response_time",
        ],
    },
    ValueTest {
        file: "iam.rs",
        test: "chosen_documents_get_the_verdicts_written_by_hand",
        oracle: "iam.rs",
        metrics: &["emcecs.iam.policy_documents.unreadable"],
    },
    ValueTest {
        file: "performance.rs",
        test: "every_flux_figure",
        oracle: "support/flux.rs",
        metrics: &[
            "emcecs.transaction.request.rate",
            "emcecs.head.request.rate",
            "emcecs.method.request.rate",
            "emcecs.namespace.request.rate",
            "emcecs.transaction.error.rate",
            "emcecs.namespace.error.rate",
            "emcecs.transaction.error.code.rate",
            "emcecs.transaction.latency.quantile",
            "emcecs.disk.bandwidth",
            "emcecs.node.cpu.utilization",
            "emcecs.node.memory.used",
            "emcecs.node.memory.total",
            "emcecs.node.network.io",
            "emcecs.recovery.data",
            "emcecs.rebalancing.data",
        ],
    },
    ValueTest {
        file: "performance.rs",
        test: "more_than_an_hour_away_is_read_as_one_hour_and_a_gap",
        oracle: "performance.rs",
        metrics: &["emcecs.performance.gap"],
    },
    ValueTest {
        file: "audit.rs",
        test: "every_event_once_across_cycles_and_a_restart",
        oracle: "audit.rs",
        metrics: &[
            "emcecs.audit.events",
            "emcecs.namespace.privileged_operations",
            "emcecs.alerts.raised",
            "emcecs.audit.lag",
        ],
    },
    ValueTest {
        file: "audit.rs",
        test: "a_stop_longer_than_max_catch_up_is_read_back_that_far_and_the_rest_is_a_gap",
        oracle: "audit.rs",
        metrics: &["emcecs.audit.gap"],
    },
];

fn read(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_catalog_entry_has_a_value_test() {
    let catalog: BTreeSet<&str> = CATALOG
        .metrics
        .iter()
        .chain(COMPAT_CATALOG.metrics)
        .map(|m| m.desc.name)
        .collect();
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for t in VALUE_TESTS {
        let file = read(t.file);
        if !file.contains(&format!("fn {}(", t.test)) {
            problems.push(format!("{} has no fn {}", t.file, t.test));
        }
        let oracle = read(t.oracle);
        for m in t.metrics {
            if !listed.insert(*m) {
                problems.push(format!("{m} is listed twice"));
            }
            // Cost names end with the configured currency, which the oracle formats in.
            let stated = oracle.contains(&format!("\"{m}\""))
                || m.strip_suffix("usd")
                    .is_some_and(|p| oracle.contains(&format!("\"{p}{{cur}}\"")));
            if !stated {
                problems.push(format!("{} states no value for {m}", t.oracle));
            }
        }
    }
    for m in catalog.difference(&listed) {
        problems.push(format!("{m} is in the catalog but has no value test"));
    }
    for m in listed.difference(&catalog) {
        problems.push(format!("{m} is listed but not in the catalog"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
