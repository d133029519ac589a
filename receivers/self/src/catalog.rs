use pipeline::catalog::{Catalog, Instrument, entry};
use pipeline::metric;

metric!(
    BUILD_INFO,
    "ecs_otel_agent.build.info",
    "",
    "Always 1; the agent's version is in the attributes"
);
metric!(
    UPTIME,
    "ecs_otel_agent.uptime",
    "s",
    "Time since the agent started"
);
metric!(
    CPU_TIME,
    "ecs_otel_agent.process.cpu.time",
    "s",
    "CPU time the agent's process has used"
);
metric!(
    CPU_UTILIZATION,
    "ecs_otel_agent.process.cpu.utilization",
    "1",
    "CPU used since the previous collection, as a fraction of all CPUs"
);
metric!(
    MEMORY_USAGE,
    "ecs_otel_agent.process.memory.usage",
    "By",
    "Resident memory of the agent's process"
);
metric!(
    MEMORY_VIRTUAL,
    "ecs_otel_agent.process.memory.virtual",
    "By",
    "Virtual memory of the agent's process"
);
metric!(
    OPEN_FDS,
    "ecs_otel_agent.process.open_file_descriptors",
    "{file_descriptor}",
    "File descriptors the agent's process holds open"
);
metric!(
    RECEIVER_RUNS,
    "ecs_otel_agent.receiver.runs",
    "{run}",
    "Collection runs started and finished, successful or not"
);
metric!(
    RECEIVER_FAILURES,
    "ecs_otel_agent.receiver.failures",
    "{run}",
    "Collection runs that failed, by reason"
);
metric!(
    RECEIVER_SKIPPED,
    "ecs_otel_agent.receiver.skipped",
    "{run}",
    "Runs not started because the previous one was still going"
);
metric!(
    RECEIVER_DURATION,
    "ecs_otel_agent.receiver.run.duration",
    "s",
    "Duration of collection runs"
);
metric!(
    RECEIVER_LAST_SUCCESS,
    "ecs_otel_agent.receiver.last_success.time",
    "s",
    "Unix time of the last successful run (absent before the first)"
);
metric!(
    RECEIVER_INTERVAL,
    "ecs_otel_agent.receiver.interval",
    "s",
    "Effective collection interval (a multiple of the base interval)"
);
metric!(
    EXPORTER_QUEUE_SIZE,
    "ecs_otel_agent.exporter.queue.size",
    "{batch}",
    "Batches waiting in the exporter's queue"
);
metric!(
    EXPORTER_QUEUE_CAPACITY,
    "ecs_otel_agent.exporter.queue.capacity",
    "{batch}",
    "Capacity of the exporter's queue"
);
metric!(
    EXPORTER_SENT,
    "ecs_otel_agent.exporter.sent",
    "{batch}",
    "Batches the exporter delivered"
);
metric!(
    EXPORTER_SENT_POINTS,
    "ecs_otel_agent.exporter.sent.points",
    "{datapoint}",
    "Data points in the batches the exporter delivered"
);
metric!(
    EXPORTER_FAILED,
    "ecs_otel_agent.exporter.failed",
    "{batch}",
    "Batches the exporter gave up on (permanent error or retries exhausted)"
);
metric!(
    EXPORTER_DROPPED,
    "ecs_otel_agent.exporter.dropped",
    "{batch}",
    "Batches dropped because the queue was full or the agent shut down"
);
metric!(
    EXPORTER_RETRIES,
    "ecs_otel_agent.exporter.retries",
    "{attempt}",
    "Export attempts that failed and were retried"
);
metric!(
    EXPORTER_REJECTED,
    "ecs_otel_agent.exporter.rejected.points",
    "{datapoint}",
    "Data points the receiving end refused (OTLP partial success)"
);
metric!(
    EXPORTER_SENT_LOG_RECORDS,
    "ecs_otel_agent.exporter.sent.log_records",
    "{log_record}",
    "Log records in the batches the exporter delivered (exporters of logs pipelines)"
);
metric!(
    EXPORTER_REJECTED_LOG_RECORDS,
    "ecs_otel_agent.exporter.rejected.log_records",
    "{log_record}",
    "Log records the receiving end refused (OTLP partial success; exporters of logs pipelines)"
);
metric!(
    EXPORTER_DROPPED_METRICS,
    "ecs_otel_agent.exporter.dropped.metrics",
    "{metric}",
    "Metrics an exporter could not translate, by reason"
);
metric!(
    PROMETHEUS_SERIES,
    "ecs_otel_agent.prometheus.series",
    "{series}",
    "Series the Prometheus endpoint holds, by source"
);
metric!(
    PROMETHEUS_OVERFLOW,
    "ecs_otel_agent.prometheus.series.overflow",
    "{series}",
    "Series refused by the per-metric cardinality limit"
);
metric!(
    PROMETHEUS_AUTH_FAILURES,
    "ecs_otel_agent.prometheus.auth.failures",
    "{request}",
    "Scrapes refused for their credentials, by reason (no_credentials, wrong_credentials, rate_limited)"
);
metric!(
    PROMETHEUS_CLOSED_CONNECTIONS,
    "ecs_otel_agent.prometheus.connections.closed",
    "{connection}",
    "Connections the endpoint closed on its own, by reason (connection_limit, write_timeout, stalled)"
);

metric!(
    EXPORTER_SPAN_QUEUE_SIZE,
    "ecs_otel_agent.exporter.span_queue.size",
    "{span}",
    "The agent's own spans waiting in the exporter's span queue (the traces pipeline's exporter)"
);
metric!(
    EXPORTER_SPAN_QUEUE_CAPACITY,
    "ecs_otel_agent.exporter.span_queue.capacity",
    "{span}",
    "Capacity of the exporter's span queue (the traces pipeline's exporter)"
);
metric!(
    EXPORTER_SENT_SPANS,
    "ecs_otel_agent.exporter.sent.spans",
    "{span}",
    "The agent's own spans the exporter delivered (the traces pipeline's exporter)"
);
metric!(
    EXPORTER_RETRIED_SPANS,
    "ecs_otel_agent.exporter.retried.spans",
    "{span}",
    "Spans in export requests that failed and were tried again, once per retry (the traces pipeline's exporter)"
);
metric!(
    EXPORTER_DROPPED_SPANS,
    "ecs_otel_agent.exporter.dropped.spans",
    "{span}",
    "The agent's own spans given up on, by reason: queue_full, retries_exhausted, permanent, retry_disabled, rejected, shutdown"
);
metric!(
    RECEIVER_BACKLOG_AGE,
    "ecs_otel_agent.receiver.backlog.age",
    "s",
    "How long the oldest part a collector reads in parts (one per namespace) has waited past its due time; 0 when up to date (collectors that read in parts only)"
);
metric!(
    RECEIVER_BACKLOG_PARTS,
    "ecs_otel_agent.receiver.backlog.parts",
    "{part}",
    "Parts (namespaces) due and not read yet, to be read first next run (collectors that read in parts only)"
);
metric!(
    RECEIVER_UNRECORDED_SPANS,
    "ecs_otel_agent.receiver.unrecorded.spans",
    "{span}",
    "Spans of a collection cycle not recorded because the cycle reached service.telemetry.traces.max_spans_per_cycle"
);

const PROCESS: &str = "the agent's process (sysinfo, /proc)";
const SCHEDULER: &str = "the agent's scheduler";
const EXPORTERS: &str = "the agent's exporters";

pub const CATALOG: Catalog = Catalog {
    receiver: "self",
    description: "The agent's own health: process resources and what its pipeline did.",
    metrics: &[
        entry(BUILD_INFO, Instrument::Gauge, &["version"], PROCESS),
        entry(UPTIME, Instrument::Gauge, &[], PROCESS),
        entry(CPU_TIME, Instrument::Counter, &[], PROCESS),
        entry(CPU_UTILIZATION, Instrument::Gauge, &[], PROCESS),
        entry(MEMORY_USAGE, Instrument::Gauge, &[], PROCESS),
        entry(MEMORY_VIRTUAL, Instrument::Gauge, &[], PROCESS),
        entry(OPEN_FDS, Instrument::Gauge, &[], PROCESS),
        entry(RECEIVER_RUNS, Instrument::Counter, &["receiver"], SCHEDULER),
        entry(
            RECEIVER_FAILURES,
            Instrument::Counter,
            &["receiver", "reason"],
            SCHEDULER,
        ),
        entry(
            RECEIVER_SKIPPED,
            Instrument::Counter,
            &["receiver"],
            SCHEDULER,
        ),
        entry(
            RECEIVER_DURATION,
            Instrument::Histogram,
            &["receiver"],
            SCHEDULER,
        ),
        entry(
            RECEIVER_LAST_SUCCESS,
            Instrument::Gauge,
            &["receiver"],
            SCHEDULER,
        ),
        entry(
            RECEIVER_INTERVAL,
            Instrument::Gauge,
            &["receiver"],
            SCHEDULER,
        ),
        entry(
            EXPORTER_QUEUE_SIZE,
            Instrument::Gauge,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_QUEUE_CAPACITY,
            Instrument::Gauge,
            &["exporter"],
            EXPORTERS,
        ),
        entry(EXPORTER_SENT, Instrument::Counter, &["exporter"], EXPORTERS),
        entry(
            EXPORTER_SENT_POINTS,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_FAILED,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_DROPPED,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_RETRIES,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_REJECTED,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_SENT_LOG_RECORDS,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_REJECTED_LOG_RECORDS,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_DROPPED_METRICS,
            Instrument::Counter,
            &["exporter", "reason"],
            EXPORTERS,
        ),
        entry(PROMETHEUS_SERIES, Instrument::Gauge, &["source"], EXPORTERS),
        entry(
            PROMETHEUS_OVERFLOW,
            Instrument::Counter,
            &["source", "metric"],
            EXPORTERS,
        ),
        entry(
            PROMETHEUS_AUTH_FAILURES,
            Instrument::Counter,
            &["exporter", "reason"],
            EXPORTERS,
        ),
        entry(
            PROMETHEUS_CLOSED_CONNECTIONS,
            Instrument::Counter,
            &["exporter", "reason"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_SPAN_QUEUE_SIZE,
            Instrument::Gauge,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_SPAN_QUEUE_CAPACITY,
            Instrument::Gauge,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_SENT_SPANS,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_RETRIED_SPANS,
            Instrument::Counter,
            &["exporter"],
            EXPORTERS,
        ),
        entry(
            EXPORTER_DROPPED_SPANS,
            Instrument::Counter,
            &["exporter", "reason"],
            EXPORTERS,
        ),
        entry(
            RECEIVER_BACKLOG_AGE,
            Instrument::Gauge,
            &["receiver"],
            SCHEDULER,
        ),
        entry(
            RECEIVER_BACKLOG_PARTS,
            Instrument::Gauge,
            &["receiver"],
            SCHEDULER,
        ),
        entry(
            RECEIVER_UNRECORDED_SPANS,
            Instrument::Counter,
            &["receiver"],
            SCHEDULER,
        ),
    ],
    unavailable: &[],
    renamed: &[],
};
