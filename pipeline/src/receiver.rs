use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::SourceId;
use crate::compact::ResourcePoints;
use crate::otlp::logs::v1::ResourceLogs;

/// What a collector is given for one run of its job.
#[derive(Debug, Clone)]
pub struct ScrapeContext {
    /// The job being run (`ecs/prod/dashboard`).
    pub job: SourceId,
    /// Wall-clock start of the run: the time to stamp points with.
    pub started: SystemTime,
    /// The run is cancelled at this instant; receivers that fan out calls should give each
    /// call a timeout that ends before it.
    pub deadline: Instant,
    pub interval: Duration,
    /// Cancelled when a shutdown has left the run half of `service.shutdown_timeout` and it
    /// is still going: a collector may stop early then and hand over what it has.
    pub cancel: CancellationToken,
    /// 1 for the first run, then increasing.
    pub run: u64,
}

/// The complete snapshot of what a receiver owns, from one cycle, and the events (log
/// records) it saw during the cycle.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub resource_metrics: Vec<ResourcePoints>,
    /// Log records of this cycle (audit events, alerts): each is sent once, to the
    /// exporters of the logs pipelines that name the receiver. Empty unless the collector
    /// has events to report. A snapshot with log records and no `resource_metrics` at all
    /// says nothing about the collector's series: they stay as its last snapshot left them
    /// (one with neither is still a complete snapshot: no series).
    pub resource_logs: Vec<ResourceLogs>,
    /// Parts that failed while the rest was collected (a node that did not answer): the run
    /// counts as a success, and health shows the receiver as degraded.
    pub warnings: Vec<String>,
}

impl Snapshot {
    pub fn new(resource_metrics: Vec<ResourcePoints>) -> Self {
        Self {
            resource_metrics,
            resource_logs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The snapshot with `resource_logs` as its log records.
    pub fn with_logs(mut self, resource_logs: Vec<ResourceLogs>) -> Self {
        self.resource_logs = resource_logs;
        self
    }
}

/// What a failure says about the agent's health while it lasts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Impact {
    /// Unhealthy once it has lasted a few runs: something needs a look.
    #[default]
    Unhealthy,
    /// Degraded however long it lasts: the agent works and waits for the source (a
    /// session limit that frees up as other sessions end, say). Calling it unhealthy would
    /// invite an orchestrator to restart the agent, which would not help.
    Degraded,
}

/// A failed collection cycle. `kind` is a short, bounded word (`timeout`, `unavailable`,
/// `auth`, `malformed`, ...) used as the `reason` of the failure counter; `message` names
/// the place that failed. A collector may still hand over what it has (its own figures,
/// last good values it keeps for a while): `partial` is exported, its log records included;
/// the run counts as failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ReceiverError {
    pub kind: &'static str,
    pub message: String,
    pub partial: Option<Box<Snapshot>>,
    pub impact: Impact,
}

impl ReceiverError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            partial: None,
            impact: Impact::default(),
        }
    }

    pub fn with_impact(mut self, impact: Impact) -> Self {
        self.impact = impact;
        self
    }

    pub fn with_partial(mut self, snapshot: Snapshot) -> Self {
        self.partial = Some(Box::new(snapshot));
        self
    }
}

/// How far behind a collector that reads its source in parts (one per namespace, say) is:
/// the parts it wanted and has not read yet, and since when the oldest of them has waited.
/// A collector that reads everything every cycle has none to report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Parts due and not read yet.
    pub parts: u64,
    /// When the longest-waiting of them became due; `None` when nothing waits.
    pub oldest: Option<Instant>,
}

impl Backlog {
    /// How long the longest-waiting part has waited at `now`: zero when up to date.
    pub fn age(&self, now: Instant) -> Duration {
        self.oldest
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// [`age`](Self::age) now.
    pub fn age_now(&self) -> Duration {
        self.age(Instant::now())
    }
}

/// A collector: the part of a receiver that one job runs. Each call returns the complete
/// snapshot of what it owns, under the resource and scope it reports.
#[async_trait]
pub trait Collector: Send + Sync {
    async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError>;

    /// How far behind the collector is after its latest run; `None` for one that reads
    /// everything in each run (or cannot tell).
    fn backlog(&self) -> Option<Backlog> {
        None
    }

    /// Release what the receiver holds outside the process (sessions, tokens).
    async fn shutdown(&self) {}
}
