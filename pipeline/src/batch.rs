use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::compact::ResourcePoints;
use crate::otlp::logs::v1::ResourceLogs;
use crate::otlp::metrics::v1::{Metric, metric::Data};

/// The id of the component a batch comes from (`self`, `ecs/prod`): the unit that the
/// Prometheus exporter replaces and expires as a whole.
pub type SourceId = Arc<str>;

/// One receiver's complete snapshot from one collection cycle, and the log records (events)
/// the cycle produced.
#[derive(Debug, Clone)]
pub struct Batch {
    pub source: SourceId,
    /// Increases by one per successful run of the source; lets exporters and tests tell
    /// snapshots apart.
    pub seq: u64,
    pub collected_at: SystemTime,
    /// The source's collection interval: exporters that keep state per source must not
    /// expire a source before it had the chance to report again.
    pub interval: Duration,
    /// The snapshot's metrics, per resource, in compact form.
    pub resource_metrics: Vec<ResourcePoints>,
    /// Events, not state: a newer batch never stands in for these, unlike its metrics.
    pub resource_logs: Vec<ResourceLogs>,
}

impl Batch {
    pub fn new(source: SourceId, resource_metrics: Vec<ResourcePoints>) -> Self {
        Self {
            source,
            seq: 0,
            collected_at: SystemTime::now(),
            interval: Duration::from_secs(60),
            resource_metrics,
            resource_logs: Vec::new(),
        }
    }

    /// Number of data points (histogram and summary points count once each).
    pub fn data_points(&self) -> usize {
        self.resource_metrics
            .iter()
            .map(ResourcePoints::data_points)
            .sum()
    }

    /// Number of log records.
    pub fn log_records(&self) -> usize {
        self.resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len())
            .sum()
    }

    /// True when the batch holds log records and no metrics at all: the logs half of a
    /// cycle whose metrics went (or go) elsewhere. It says nothing about the source's series.
    pub fn is_logs_only(&self) -> bool {
        self.resource_metrics.is_empty() && self.log_records() > 0
    }
}

/// Number of data points of one metric (histogram and summary points count once each).
pub fn metric_points(m: &Metric) -> usize {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}
