use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::otlp::metrics::v1::{Metric, ResourceMetrics, metric::Data};

/// The id of the component a batch comes from (`self`, `ecs/prod`): the unit that the
/// Prometheus exporter replaces and expires as a whole.
pub type SourceId = Arc<str>;

/// One receiver's complete snapshot from one collection cycle.
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
    pub resource_metrics: Vec<ResourceMetrics>,
}

impl Batch {
    pub fn new(source: SourceId, resource_metrics: Vec<ResourceMetrics>) -> Self {
        Self {
            source,
            seq: 0,
            collected_at: SystemTime::now(),
            interval: Duration::from_secs(60),
            resource_metrics,
        }
    }

    /// Number of data points (histogram and summary points count once each).
    pub fn data_points(&self) -> usize {
        self.resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(metric_points)
            .sum()
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
