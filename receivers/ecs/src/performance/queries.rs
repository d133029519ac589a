//! The measurements the collector reads, one Flux query each, and what each becomes.

use super::flux::Query;

/// What a measurement's rows become (see `emit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Transactions,
    TransactionsByHead,
    TransactionsByMethod,
    TransactionsByNamespace,
    Errors,
    ErrorsByNamespace,
    ErrorsByCode,
    Throughput,
    Latency,
    DiskBandwidth,
    Rebalancing,
    Recovery,
    NodeCpu,
    NodeMemory,
    NodeNetwork,
}

impl Kind {
    pub fn per_namespace(self) -> bool {
        matches!(
            self,
            Kind::TransactionsByNamespace | Kind::ErrorsByNamespace
        )
    }

    pub fn per_node(self) -> bool {
        matches!(
            self,
            Kind::DiskBandwidth | Kind::NodeCpu | Kind::NodeMemory | Kind::NodeNetwork
        )
    }
}

const VDC: &str = "monitoring_vdc";
const OP: &str = "monitoring_op";

const fn q(
    kind: Kind,
    bucket: &'static str,
    measurement: &'static str,
    tags: &'static [&'static str],
) -> (Kind, Query) {
    (
        kind,
        Query {
            bucket,
            measurement,
            tags,
        },
    )
}

/// Every query of a full cycle.
pub const ALL: [(Kind, Query); 15] = [
    q(Kind::Transactions, VDC, "cq_performance_transaction", &[]),
    q(
        Kind::TransactionsByHead,
        VDC,
        "cq_performance_transaction_head",
        &["head"],
    ),
    q(
        Kind::TransactionsByMethod,
        VDC,
        "cq_performance_transaction_method",
        &["method"],
    ),
    q(
        Kind::TransactionsByNamespace,
        VDC,
        "cq_performance_transaction_ns",
        &["namespace"],
    ),
    q(Kind::Errors, VDC, "cq_performance_error", &[]),
    q(
        Kind::ErrorsByNamespace,
        VDC,
        "cq_performance_error_ns",
        &["namespace"],
    ),
    q(
        Kind::ErrorsByCode,
        VDC,
        "cq_performance_error_code",
        &["code"],
    ),
    q(Kind::Throughput, VDC, "cq_performance_throughput", &[]),
    q(Kind::Latency, VDC, "cq_performance_latency", &["id"]),
    q(
        Kind::DiskBandwidth,
        VDC,
        "cq_disk_bandwidth",
        &["host", "node_id", "type_op"],
    ),
    q(Kind::Rebalancing, VDC, "cq_node_rebalancing_summary", &[]),
    q(Kind::Recovery, VDC, "cq_recover_status_summary", &[]),
    q(Kind::NodeCpu, OP, "cpu", &["host", "node_id", "cpu"]),
    q(Kind::NodeMemory, OP, "mem", &["host", "node_id"]),
    q(
        Kind::NodeNetwork,
        OP,
        "net",
        &["host", "node_id", "interface"],
    ),
];
