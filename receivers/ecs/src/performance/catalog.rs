//! The performance collector's metrics: what ECS 3.6+ and ObjectScale report through the
//! Flux API since the dashboard stopped carrying transaction figures.

use pipeline::typed_metric;

const TX: &str = "Flux monitoring_vdc cq_performance_transaction";
const ERR: &str = "Flux monitoring_vdc cq_performance_error";

typed_metric!(
    REQUEST_RATE,
    Gauge,
    "emcecs.transaction.request.rate",
    "{request}/s",
    ["result"],
    TX,
    "S3/Swift/Atmos requests per second of the VDC by result (succeeded, failed); ECS 3.6+"
);
typed_metric!(
    HEAD_REQUEST_RATE,
    Gauge,
    "emcecs.head.request.rate",
    "{request}/s",
    ["head", "result"],
    "Flux monitoring_vdc cq_performance_transaction_head",
    "Requests per second by protocol head (S3, SWIFT, ...) and result; ECS 3.6+"
);
typed_metric!(
    METHOD_REQUEST_RATE,
    Gauge,
    "emcecs.method.request.rate",
    "{request}/s",
    ["method", "result"],
    "Flux monitoring_vdc cq_performance_transaction_method",
    "Requests per second by HTTP method and result; ECS 3.6+"
);
typed_metric!(
    NAMESPACE_REQUEST_RATE,
    Gauge,
    "emcecs.namespace.request.rate",
    "{request}/s",
    ["namespace", "result"],
    "Flux monitoring_vdc cq_performance_transaction_ns",
    "Requests per second by namespace and result (the busiest max_namespaces; the rest sum into namespace=\"__other__\"); ECS 3.6+"
);
typed_metric!(
    ERROR_RATE,
    Gauge,
    "emcecs.transaction.error.rate",
    "{request}/s",
    ["category"],
    ERR,
    "Failed requests per second of the VDC by category (system: the cluster's fault, user: the client's); ECS 3.6+"
);
typed_metric!(
    NAMESPACE_ERROR_RATE,
    Gauge,
    "emcecs.namespace.error.rate",
    "{request}/s",
    ["namespace", "category"],
    "Flux monitoring_vdc cq_performance_error_ns",
    "Failed requests per second by namespace and category (same namespaces as emcecs_namespace_request_rate); ECS 3.6+"
);
typed_metric!(
    ERROR_CODE_RATE,
    Gauge,
    "emcecs.transaction.error.code.rate",
    "{request}/s",
    ["code"],
    "Flux monitoring_vdc cq_performance_error_code",
    "Failed requests per second by HTTP status code; ECS 3.6+"
);
typed_metric!(
    LATENCY,
    Gauge,
    "emcecs.transaction.latency.quantile",
    "s",
    ["operation", "quantile"],
    "Flux monitoring_vdc cq_performance_latency",
    "Request latency percentiles (quantile 0.5, 0.99): operation=read is the time to the first byte of a read, write the time to the last byte of a write; ECS 3.6+"
);
typed_metric!(
    DISK_BANDWIDTH,
    Gauge,
    "emcecs.disk.bandwidth",
    "By/s",
    ["node", "node_id", "operation", "type"],
    "Flux monitoring_vdc cq_disk_bandwidth",
    "Disk bandwidth of a node by operation (read, write) and by what caused it (user_traffic, geo, erasure_encoding, xor, hardware_recovery, consistency_checker; ECS's own total is their sum and left out); ECS 3.6+"
);
typed_metric!(
    NODE_CPU,
    Gauge,
    "emcecs.node.cpu.utilization",
    "1",
    ["node", "node_id"],
    "Flux monitoring_op cpu (cpu-total: 1 - usage_idle)",
    "Busy fraction of the node's CPUs; ECS 3.6+"
);
typed_metric!(
    NODE_MEMORY_USED,
    Gauge,
    "emcecs.node.memory.used",
    "By",
    ["node", "node_id"],
    "Flux monitoring_op mem",
    "Memory used on the node; ECS 3.6+"
);
typed_metric!(
    NODE_MEMORY_TOTAL,
    Gauge,
    "emcecs.node.memory.total",
    "By",
    ["node", "node_id"],
    "Flux monitoring_op mem",
    "Memory of the node; ECS 3.6+"
);
typed_metric!(
    NODE_NETWORK_IO,
    Counter,
    "emcecs.node.network.io",
    "By",
    ["node", "node_id", "interface", "direction"],
    "Flux monitoring_op net",
    "Bytes through the node's network interfaces since the node booted, by direction (receive, transmit); ECS 3.6+"
);
typed_metric!(
    RECOVERY_DATA,
    Gauge,
    "emcecs.recovery.data",
    "By",
    ["state"],
    "Flux monitoring_vdc cq_recover_status_summary",
    "Data of the current recovery by state (recovered, to_recover); ECS 3.6+"
);
typed_metric!(
    REBALANCING_DATA,
    Gauge,
    "emcecs.rebalancing.data",
    "By",
    ["state"],
    "Flux monitoring_vdc cq_node_rebalancing_summary",
    "Data of the current rebalancing by state (rebalanced, pending); ECS 3.6+"
);
typed_metric!(
    GAP,
    Counter,
    "emcecs.performance.gap",
    "s",
    ["measurement"],
    "the collector (Flux keeps no more than 1 hour per query)",
    "Seconds of Flux data never read because the agent could not ask for them within ECS's 1-hour query limit (agent down, ECS unreachable); a gap, not back-filled"
);
