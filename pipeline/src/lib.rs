//! The agent's core, shared by every receiver and exporter.
//!
//! The unit of data is a [`Batch`]: a complete snapshot of the metrics (OTLP content, held
//! compact: [`compact`]) that one receiver produced in one collection cycle, with the OTLP `ResourceLogs` (events) it
//! saw in that cycle. Receivers build snapshots with [`SnapshotBuilder`]; the
//! [`fanout::Fanout`] hands each batch's metrics to every exporter of the receiver's metrics
//! pipelines, and its log records to those of its logs pipelines, through a bounded
//! [`queue::BatchQueue`] per exporter, so a slow or dead exporter never holds up the others
//! or the receivers.

pub mod batch;
pub mod builder;
pub mod catalog;
pub mod compact;
pub mod config;
pub mod decode;
pub mod exporter;
pub mod fanout;
pub mod http_server;
pub mod memory;
pub mod percent;
pub mod queue;
pub mod receiver;
pub mod registry;
pub mod schedule;
pub mod stats;
pub mod timefmt;
pub mod tls;
pub mod trace;

pub use batch::{Batch, SourceId};
pub use builder::{
    AttrValue, HistogramValue, MetricDesc, Number, SnapshotBuilder, SummaryValue, kv, resource,
    scope, unix_nanos,
};
pub use compact::{NumPoint, ResourcePoints, ScopePoints};
pub use exporter::{ExportError, Exporter, QueuePolicy};
pub use receiver::{Backlog, Collector, Impact, ReceiverError, ScrapeContext, Snapshot};
pub use stats::PipelineStats;

/// The OTLP protobuf types the pipeline carries, re-exported so that receivers and
/// exporters agree on one version.
pub use opentelemetry_proto::tonic as otlp;
