//! The agent's own figures: what the scheduler, the queues and the exporters did. The
//! `self` receiver turns them into metrics and the health endpoint into a verdict.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::trace::Exemplar;

/// Locks a mutex even if a panicking thread poisoned it: the figures stay usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Upper bounds (seconds) of the run-duration histogram.
pub const DURATION_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Counts and sum per bucket, and per bucket the latest observation made inside a recorded
/// span (its trace and span id): the exemplar that leads from a latency bucket to a trace.
#[derive(Debug, Default)]
pub struct DurationHistogram {
    counts: [AtomicU64; DURATION_BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
    exemplars: Mutex<[Option<Exemplar>; DURATION_BOUNDS.len() + 1]>,
}

/// A copy of a histogram's state.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub counts: Vec<u64>,
    pub sum: f64,
    /// At most one per bucket, in bucket order.
    pub exemplars: Vec<Exemplar>,
}

impl DurationHistogram {
    /// Counts `d`; inside a recorded span, it becomes its bucket's exemplar.
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let idx = DURATION_BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(DURATION_BOUNDS.len());
        self.counts[idx].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some((trace_id, span_id)) = crate::trace::current_ids() {
            lock(&self.exemplars)[idx] = Some(Exemplar {
                trace_id,
                span_id,
                value: secs,
                time: SystemTime::now(),
            });
        }
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            exemplars: lock(&self.exemplars).iter().flatten().copied().collect(),
        }
    }
}

/// What the health endpoint and the `self` receiver read about one job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobState {
    pub last_attempt: Option<SystemTime>,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
    /// The kind of `last_error` (`timeout`, `token_limit`, ...).
    pub last_error_kind: Option<&'static str>,
    /// What the last failure says about health, as its collector judged it.
    pub last_error_impact: crate::Impact,
    pub consecutive_failures: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub struct JobStats {
    pub interval: Duration,
    runs: AtomicU64,
    skipped: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
    duration: DurationHistogram,
    state: Mutex<JobState>,
    backlog: Mutex<Option<crate::Backlog>>,
    unrecorded_spans: AtomicU64,
}

impl JobStats {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            runs: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            failures: Mutex::new(BTreeMap::new()),
            duration: DurationHistogram::default(),
            state: Mutex::new(JobState::default()),
            backlog: Mutex::new(None),
            unrecorded_spans: AtomicU64::new(0),
        }
    }

    pub fn record_success(&self, took: Duration, warnings: Vec<String>) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.duration.record(took);
        let now = SystemTime::now();
        let mut s = lock(&self.state);
        s.last_attempt = Some(now);
        s.last_success = Some(now);
        s.last_error = None;
        s.last_error_kind = None;
        s.consecutive_failures = 0;
        s.warnings = warnings;
    }

    pub fn record_failure(
        &self,
        took: Duration,
        reason: &'static str,
        message: String,
        impact: crate::Impact,
    ) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.duration.record(took);
        *lock(&self.failures).entry(reason).or_insert(0) += 1;
        let mut s = lock(&self.state);
        s.last_attempt = Some(SystemTime::now());
        s.last_error = Some(message);
        s.last_error_kind = Some(reason);
        s.last_error_impact = impact;
        s.consecutive_failures += 1;
    }

    /// Spans of a run that were not recorded: beyond the per-cycle span cap.
    pub fn record_unrecorded_spans(&self, n: u64) {
        self.unrecorded_spans.fetch_add(n, Ordering::Relaxed);
    }

    pub fn unrecorded_spans(&self) -> u64 {
        self.unrecorded_spans.load(Ordering::Relaxed)
    }

    pub fn record_skip(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
    pub fn failures(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.failures).clone()
    }
    pub fn duration(&self) -> HistogramSnapshot {
        self.duration.snapshot()
    }
    pub fn state(&self) -> JobState {
        lock(&self.state).clone()
    }
    /// What the collector said of its backlog after its latest run.
    pub fn set_backlog(&self, backlog: Option<crate::Backlog>) {
        *lock(&self.backlog) = backlog;
    }
    pub fn backlog(&self) -> Option<crate::Backlog> {
        *lock(&self.backlog)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExporterState {
    pub started: bool,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
    pub consecutive_failures: u64,
}

#[derive(Debug)]
pub struct ExporterStats {
    pub capacity: usize,
    queue_len: AtomicU64,
    sent_batches: AtomicU64,
    sent_points: AtomicU64,
    failed_batches: AtomicU64,
    dropped_batches: AtomicU64,
    rejected_points: AtomicU64,
    retries: AtomicU64,
    sent_requests: AtomicU64,
    sent_log_records: AtomicU64,
    rejected_log_records: AtomicU64,
    carries_logs: AtomicBool,
    spans: SpanCounters,
    state: Mutex<ExporterState>,
}

/// What the exporter of the traces pipeline did with the agent's own spans.
#[derive(Debug, Default)]
struct SpanCounters {
    /// 0 until the exporter carries spans.
    queue_capacity: AtomicU64,
    queue_len: AtomicU64,
    sent: AtomicU64,
    retried: AtomicU64,
    dropped: Mutex<BTreeMap<&'static str, u64>>,
}

/// The span counters of an exporter, read at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanCounts {
    pub queue_capacity: u64,
    pub queue_len: u64,
    pub sent: u64,
    /// Spans in requests that failed and were tried again, once per new attempt.
    pub retried: u64,
    /// Spans given up on, by reason (`queue_full`, `retries_exhausted`, `permanent`,
    /// `rejected`, `shutdown`).
    pub dropped: BTreeMap<&'static str, u64>,
}

/// Counters of one exporter, read at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterCounts {
    pub queue_len: u64,
    pub sent_batches: u64,
    pub sent_points: u64,
    pub failed_batches: u64,
    pub dropped_batches: u64,
    pub rejected_points: u64,
    pub retries: u64,
    /// Requests the destination accepted: more than `sent_batches` when batches are split.
    pub sent_requests: u64,
    pub sent_log_records: u64,
    pub rejected_log_records: u64,
}

impl ExporterStats {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            queue_len: AtomicU64::new(0),
            sent_batches: AtomicU64::new(0),
            sent_points: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            dropped_batches: AtomicU64::new(0),
            rejected_points: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            sent_requests: AtomicU64::new(0),
            sent_log_records: AtomicU64::new(0),
            rejected_log_records: AtomicU64::new(0),
            carries_logs: AtomicBool::new(false),
            spans: SpanCounters::default(),
            state: Mutex::new(ExporterState::default()),
        }
    }

    pub fn set_started(&self) {
        lock(&self.state).started = true;
    }
    pub fn set_queue_len(&self, n: usize) {
        self.queue_len.store(n as u64, Ordering::Relaxed);
    }
    pub fn record_sent(&self, points: usize) {
        self.sent_batches.fetch_add(1, Ordering::Relaxed);
        self.sent_points.fetch_add(points as u64, Ordering::Relaxed);
        let mut s = lock(&self.state);
        s.last_success = Some(SystemTime::now());
        s.consecutive_failures = 0;
        s.last_error = None;
    }
    pub fn record_failed(&self, message: String) {
        self.failed_batches.fetch_add(1, Ordering::Relaxed);
        let mut s = lock(&self.state);
        s.last_error = Some(message);
        s.consecutive_failures += 1;
    }
    /// A transient error seen before a retry: the exporter is failing right now even if the
    /// batch may still get through.
    pub fn record_retry(&self, message: String) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        let mut s = lock(&self.state);
        s.last_error = Some(message);
        s.consecutive_failures += 1;
    }
    pub fn record_request(&self) {
        self.sent_requests.fetch_add(1, Ordering::Relaxed);
    }
    pub fn record_dropped(&self, batches: u64) {
        self.dropped_batches.fetch_add(batches, Ordering::Relaxed);
    }
    pub fn record_rejected_points(&self, points: u64) {
        self.rejected_points.fetch_add(points, Ordering::Relaxed);
    }
    /// Log records in a batch the exporter delivered (the batch itself is counted by
    /// [`Self::record_sent`]).
    pub fn record_sent_log_records(&self, records: usize) {
        self.sent_log_records
            .fetch_add(records as u64, Ordering::Relaxed);
    }
    pub fn record_rejected_log_records(&self, records: u64) {
        self.rejected_log_records
            .fetch_add(records, Ordering::Relaxed);
    }
    /// The exporter is in a logs pipeline: its log-record counters are worth reporting.
    pub fn set_carries_logs(&self) {
        self.carries_logs.store(true, Ordering::Relaxed);
    }
    pub fn carries_logs(&self) -> bool {
        self.carries_logs.load(Ordering::Relaxed)
    }
    /// The exporter carries the agent's spans through a queue of `capacity` spans: its span
    /// counters are worth reporting.
    pub fn set_carries_spans(&self, capacity: usize) {
        self.spans
            .queue_capacity
            .store(capacity.max(1) as u64, Ordering::Relaxed);
    }

    pub fn carries_spans(&self) -> bool {
        self.spans.queue_capacity.load(Ordering::Relaxed) > 0
    }

    pub fn set_span_queue_len(&self, n: usize) {
        self.spans.queue_len.store(n as u64, Ordering::Relaxed);
    }

    pub fn record_sent_spans(&self, n: usize) {
        self.spans.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn record_retried_spans(&self, n: usize) {
        self.spans.retried.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn record_dropped_spans(&self, reason: &'static str, n: u64) {
        *lock(&self.spans.dropped).entry(reason).or_insert(0) += n;
    }

    pub fn span_counts(&self) -> SpanCounts {
        SpanCounts {
            queue_capacity: self.spans.queue_capacity.load(Ordering::Relaxed),
            queue_len: self.spans.queue_len.load(Ordering::Relaxed),
            sent: self.spans.sent.load(Ordering::Relaxed),
            retried: self.spans.retried.load(Ordering::Relaxed),
            dropped: lock(&self.spans.dropped).clone(),
        }
    }

    pub fn counts(&self) -> ExporterCounts {
        ExporterCounts {
            queue_len: self.queue_len.load(Ordering::Relaxed),
            sent_batches: self.sent_batches.load(Ordering::Relaxed),
            sent_points: self.sent_points.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            dropped_batches: self.dropped_batches.load(Ordering::Relaxed),
            rejected_points: self.rejected_points.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            sent_requests: self.sent_requests.load(Ordering::Relaxed),
            sent_log_records: self.sent_log_records.load(Ordering::Relaxed),
            rejected_log_records: self.rejected_log_records.load(Ordering::Relaxed),
        }
    }
    pub fn state(&self) -> ExporterState {
        lock(&self.state).clone()
    }
}

/// Every figure of the running pipeline, shared by the scheduler, the exporters, the
/// `self` receiver and the health endpoint.
#[derive(Debug)]
pub struct PipelineStats {
    pub start_time: SystemTime,
    started: Instant,
    jobs: RwLock<BTreeMap<String, Arc<JobStats>>>,
    exporters: RwLock<BTreeMap<String, Arc<ExporterStats>>>,
    series: Mutex<BTreeMap<String, u64>>,
    overflow: Mutex<BTreeMap<(String, String), u64>>,
    dropped_metrics: Mutex<BTreeMap<(String, &'static str), u64>>,
    auth_failures: Mutex<BTreeMap<(String, &'static str), u64>>,
    closed_connections: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Default for PipelineStats {
    fn default() -> Self {
        Self {
            start_time: SystemTime::now(),
            started: Instant::now(),
            jobs: RwLock::default(),
            exporters: RwLock::default(),
            series: Mutex::default(),
            overflow: Mutex::default(),
            dropped_metrics: Mutex::default(),
            auth_failures: Mutex::default(),
            closed_connections: Mutex::default(),
        }
    }
}

impl PipelineStats {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn register_job(&self, id: &str, interval: Duration) -> Arc<JobStats> {
        let mut map = self.jobs.write().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_owned())
            .or_insert_with(|| Arc::new(JobStats::new(interval)))
            .clone()
    }

    pub fn register_exporter(&self, id: &str, capacity: usize) -> Arc<ExporterStats> {
        let mut map = self.exporters.write().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_owned())
            .or_insert_with(|| Arc::new(ExporterStats::new(capacity)))
            .clone()
    }

    pub fn jobs(&self) -> Vec<(String, Arc<JobStats>)> {
        let map = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    pub fn exporters(&self) -> Vec<(String, Arc<ExporterStats>)> {
        let map = self.exporters.read().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Series the Prometheus endpoint holds for `source` (0 removes the entry).
    pub fn set_series(&self, source: &str, n: usize) {
        let mut m = lock(&self.series);
        if n == 0 {
            m.remove(source);
        } else {
            m.insert(source.to_owned(), n as u64);
        }
    }

    pub fn series(&self) -> BTreeMap<String, u64> {
        lock(&self.series).clone()
    }

    /// Series of `metric` from `source` refused by the cardinality limit.
    pub fn add_overflow(&self, source: &str, metric: &str, n: u64) {
        *lock(&self.overflow)
            .entry((source.to_owned(), metric.to_owned()))
            .or_insert(0) += n;
    }

    pub fn overflow(&self) -> BTreeMap<(String, String), u64> {
        lock(&self.overflow).clone()
    }

    /// Metrics an exporter could not translate (type conflicts, delta temporality...).
    pub fn add_dropped_metrics(&self, exporter: &str, reason: &'static str, n: u64) {
        *lock(&self.dropped_metrics)
            .entry((exporter.to_owned(), reason))
            .or_insert(0) += n;
    }

    pub fn dropped_metrics(&self) -> BTreeMap<(String, &'static str), u64> {
        lock(&self.dropped_metrics).clone()
    }

    /// A request to an exporter's endpoint refused for its credentials (`reason` is one of
    /// a few fixed words).
    pub fn add_auth_failure(&self, exporter: &str, reason: &'static str) {
        *lock(&self.auth_failures)
            .entry((exporter.to_owned(), reason))
            .or_insert(0) += 1;
    }

    pub fn auth_failures(&self) -> BTreeMap<(String, &'static str), u64> {
        lock(&self.auth_failures).clone()
    }

    /// A connection an exporter's endpoint closed on its own (over its connection limit, a
    /// response not written in time).
    pub fn add_closed_connection(&self, exporter: &str, reason: &'static str) {
        *lock(&self.closed_connections)
            .entry((exporter.to_owned(), reason))
            .or_insert(0) += 1;
    }

    pub fn closed_connections(&self) -> BTreeMap<(String, &'static str), u64> {
        lock(&self.closed_connections).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_puts_values_in_the_first_bucket_that_holds_them() {
        let h = DurationHistogram::default();
        h.record(Duration::from_millis(5));
        h.record(Duration::from_millis(6));
        h.record(Duration::from_secs(1000));
        let s = h.snapshot();
        assert_eq!(s.counts[0], 1);
        assert_eq!(s.counts[1], 1);
        assert_eq!(s.counts[DURATION_BOUNDS.len()], 1);
        assert!((s.sum - 1000.011).abs() < 1e-9);
    }

    #[test]
    fn failures_reset_on_success() {
        let stats = PipelineStats::new();
        let r = stats.register_job("self", Duration::from_secs(1));
        r.record_failure(
            Duration::ZERO,
            "timeout",
            "took too long".into(),
            crate::Impact::Unhealthy,
        );
        r.record_failure(
            Duration::ZERO,
            "timeout",
            "took too long".into(),
            crate::Impact::Unhealthy,
        );
        assert_eq!(r.state().consecutive_failures, 2);
        assert_eq!(r.failures().get("timeout"), Some(&2));
        r.record_success(Duration::ZERO, vec![]);
        let s = r.state();
        assert_eq!(s.consecutive_failures, 0);
        assert!(s.last_error.is_none());
        assert_eq!(r.runs(), 3);
    }
}
