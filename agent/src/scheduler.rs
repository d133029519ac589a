//! Drives every job (one collector of a receiver) on its interval. A first run comes soon
//! after start (after the job's initial delay plus a little jitter, so that jobs do not all
//! fire at once; the same collector of several clusters is spread over its interval, see
//! [`phases`], and a receiver's slower collectors keep off its fastest one's ticks, see
//! [`offsets`]); each run has a timeout below the interval; a run still going when the
//! next one is due makes the next one skipped and counted, never stacked. Each run is a
//! trace.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pipeline::fanout::Fanout;
use pipeline::stats::JobStats;
use pipeline::{Batch, Collector, Impact, ScrapeContext, SourceId};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

pub struct Job {
    pub id: SourceId,
    pub collector: Arc<dyn Collector>,
    pub interval: Duration,
    pub initial_delay: Duration,
    pub timeout: Duration,
    pub stats: Arc<JobStats>,
}

/// The first run waits `initial_delay` plus up to a tenth of the interval (at most 1 s).
fn jitter(interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(1));
    max.mul_f64(fastrand::f64())
}

/// What makes two jobs the same work for different sources: the receiver's type (`ecs` of
/// `ecs/prod/billing`), the collector (`billing`) and the interval.
type Kind<'a> = (&'a str, &'a str, Duration);

fn kind(job: &Job) -> Kind<'_> {
    let id: &str = &job.id;
    let first = id.split('/').next().unwrap_or(id);
    let last = id.rsplit('/').next().unwrap_or(id);
    (first, last, job.interval)
}

/// Each job's offset within its interval. Jobs of one kind (the billing collectors of ten
/// clusters, say) would otherwise run at the same instants, every interval, their peaks of
/// memory and CPU adding up in this one process: the i-th of n (by id) starts at i/n of
/// the interval, so their runs are evenly spread. A lone job has no offset.
pub fn phases(jobs: &[Job]) -> Vec<Duration> {
    let mut groups: std::collections::BTreeMap<Kind<'_>, Vec<(&str, usize)>> =
        std::collections::BTreeMap::new();
    for (i, job) in jobs.iter().enumerate() {
        groups.entry(kind(job)).or_default().push((&*job.id, i));
    }
    let mut out = vec![Duration::ZERO; jobs.len()];
    for ((_, _, interval), mut members) in groups {
        members.sort();
        let n = members.len() as u32;
        for (k, (_, i)) in members.into_iter().enumerate() {
            out[i] = interval * k as u32 / n;
        }
    }
    out
}

/// Each job's offset from its second run on. A receiver's collectors with intervals that
/// are multiples of one another (dashboard every 60 s, billing every 300 s) would otherwise
/// run at the same instant every few cycles, their memory peaks adding up: billing's with
/// the dashboard's was the agent's highest on a large cluster. So the collectors of a
/// receiver slower than its fastest one (interval S) are moved off S's ticks, the j-th of m
/// (by id) by S·(j+1)/(m+1). First runs are not delayed: every collector reports soon
/// after start.
pub fn offsets(jobs: &[Job]) -> Vec<Duration> {
    let receiver = |job: &Job| -> String {
        let id: &str = &job.id;
        id.rsplit_once('/').map_or(id, |(r, _)| r).to_owned()
    };
    let mut groups: std::collections::BTreeMap<String, Vec<(&str, usize)>> =
        std::collections::BTreeMap::new();
    for (i, job) in jobs.iter().enumerate() {
        groups.entry(receiver(job)).or_default().push((&*job.id, i));
    }
    let mut out = vec![Duration::ZERO; jobs.len()];
    for (_, members) in groups {
        let Some(fastest) = members.iter().map(|&(_, i)| jobs[i].interval).min() else {
            continue;
        };
        let mut slower: Vec<(&str, usize)> = members
            .into_iter()
            .filter(|&(_, i)| jobs[i].interval > fastest)
            .collect();
        slower.sort();
        let m = slower.len() as u32;
        for (j, (_, i)) in slower.into_iter().enumerate() {
            out[i] = fastest * (j as u32 + 1) / (m + 1);
        }
    }
    out
}

/// Starts one loop per job. Cancelling `stop` ends the loops; a run in progress gets
/// `grace` to finish and hand its batch over, undisturbed: its context's token is
/// cancelled only when the grace is over, and the run aborted then.
pub fn start(
    jobs: Vec<Job>,
    fanout: Arc<Fanout>,
    stop: CancellationToken,
    grace: Duration,
) -> Vec<JoinHandle<()>> {
    let phases = phases(&jobs);
    let offsets = offsets(&jobs);
    jobs.into_iter()
        .zip(phases.into_iter().zip(offsets))
        .map(|(job, (phase, offset))| {
            if !phase.is_zero() {
                tracing::debug!(receiver = %job.id, ?phase, "runs offset within the interval, spread among jobs of the same kind");
            }
            if !offset.is_zero() {
                tracing::debug!(receiver = %job.id, ?offset, "runs after the first moved off the receiver's fastest collector's ticks");
            }
            let timing = Timing { phase, offset };
            tokio::spawn(run_loop(job, timing, fanout.clone(), stop.clone(), grace))
        })
        .collect()
}

/// When a job's runs come: the first after `phase`, the later ones `offset` after their
/// interval's tick.
#[derive(Debug, Clone, Copy)]
struct Timing {
    phase: Duration,
    offset: Duration,
}

async fn run_loop(
    job: Job,
    timing: Timing,
    fanout: Arc<Fanout>,
    stop: CancellationToken,
    grace: Duration,
) {
    let job = Arc::new(job);
    let first = Instant::now() + job.initial_delay + timing.phase + jitter(job.interval);
    let mut ticker = tokio::time::interval_at(first, job.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut running: Option<JoinHandle<()>> = None;
    let mut run = 0u64;
    // Not a child of `stop`: a run in progress at shutdown is let finish within the grace.
    let run_cancel = CancellationToken::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            job.stats.record_skip();
            tracing::warn!(receiver = %job.id, interval = ?job.interval, "previous run still going; this run is skipped");
            continue;
        }
        run += 1;
        if run == 1 && !timing.offset.is_zero() {
            ticker.reset_at(first + job.interval + timing.offset);
        }
        running = Some(tokio::spawn(run_once(
            job.clone(),
            fanout.clone(),
            run,
            run_cancel.clone(),
        )));
    }
    if let Some(mut h) = running
        && !h.is_finished()
    {
        tracing::info!(receiver = %job.id, within = ?grace, "letting the run in progress finish");
        if tokio::time::timeout(grace, &mut h).await.is_err() {
            run_cancel.cancel();
            h.abort();
            tracing::warn!(receiver = %job.id, "run still going at shutdown; cancelled");
        }
    }
}

async fn run_once(job: Arc<Job>, fanout: Arc<Fanout>, run: u64, cancel: CancellationToken) {
    // The collector records what it knows about its source (`ecs.*`) into this span.
    let span = tracing::info_span!(
        target: "ecs_otel_agent::collect",
        parent: None,
        "collect",
        otel.name = %format!("collect {}", job.id),
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_message = Empty,
        receiver = %job.id,
        run = i64::try_from(run).unwrap_or(i64::MAX),
        error.type = Empty,
        ecs_otel_agent.collector = Empty,
        ecs_otel_agent.run.outcome = Empty,
        ecs_otel_agent.run.calls = Empty,
        ecs_otel_agent.run.points = Empty,
        ecs_otel_agent.run.warnings = Empty,
        ecs_otel_agent.run.spans.unrecorded = Empty,
        ecs.cluster.name = Empty,
        ecs.vdc.name = Empty,
        ecs.namespaces.read = Empty,
        ecs.namespaces.postponed = Empty,
    );
    let started = SystemTime::now();
    let t0 = Instant::now();
    let ctx = ScrapeContext {
        job: job.id.clone(),
        started,
        deadline: t0 + job.timeout,
        interval: job.interval,
        cancel,
        run,
    };
    let result = tokio::time::timeout(job.timeout, job.collector.scrape(&ctx))
        .instrument(span.clone())
        .await;
    let took = t0.elapsed();
    if let Some(c) = crate::span_cap::cycle_counts(&span) {
        span.record("ecs_otel_agent.run.calls", c.calls as i64);
        if c.unrecorded > 0 {
            span.record("ecs_otel_agent.run.spans.unrecorded", c.unrecorded as i64);
            job.stats.record_unrecorded_spans(c.unrecorded);
        }
    }
    // Recorded inside the root span: the run-duration's exemplar names this cycle's trace.
    let _in_span = span.enter();
    match result {
        Ok(Ok(snapshot)) => {
            for w in &snapshot.warnings {
                tracing::warn!(parent: &span, receiver = %job.id, warning = %w, "collection incomplete");
            }
            let batch = Batch {
                source: job.id.clone(),
                seq: run,
                collected_at: started,
                interval: job.interval,
                resource_metrics: snapshot.resource_metrics,
                resource_logs: snapshot.resource_logs,
            };
            let outcome = if snapshot.warnings.is_empty() {
                "success"
            } else {
                "partial"
            };
            span.record("ecs_otel_agent.run.outcome", outcome);
            span.record(
                "ecs_otel_agent.run.warnings",
                snapshot.warnings.len() as i64,
            );
            span.record("ecs_otel_agent.run.points", batch.data_points() as i64);
            job.stats.record_success(took, snapshot.warnings);
            tracing::debug!(parent: &span, receiver = %job.id, points = batch.data_points(), log_records = batch.log_records(), took = ?took, "collected");
            fanout.dispatch(Arc::new(batch));
        }
        Ok(Err(e)) => {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", e.message.as_str());
            span.record("error.type", e.kind);
            span.record("ecs_otel_agent.run.outcome", "failure");
            tracing::warn!(parent: &span, receiver = %job.id, kind = e.kind, error = %e, "collection failed");
            if let Some(partial) = e.partial {
                let batch = Batch {
                    source: job.id.clone(),
                    seq: run,
                    collected_at: started,
                    interval: job.interval,
                    resource_metrics: partial.resource_metrics,
                    resource_logs: partial.resource_logs,
                };
                span.record("ecs_otel_agent.run.points", batch.data_points() as i64);
                fanout.dispatch(Arc::new(batch));
            }
            job.stats.record_failure(took, e.kind, e.message, e.impact);
        }
        Err(_) => {
            let msg = format!("run exceeded its timeout of {:?}", job.timeout);
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", msg.as_str());
            span.record("error.type", "timeout");
            span.record("ecs_otel_agent.run.outcome", "timeout");
            tracing::warn!(parent: &span, receiver = %job.id, timeout = ?job.timeout, "collection timed out");
            job.stats
                .record_failure(took, "timeout", msg, Impact::Unhealthy);
        }
    }
    job.stats.set_backlog(job.collector.backlog());
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use pipeline::{ExportError, Exporter, PipelineStats, ReceiverError, Snapshot};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::sync::Semaphore;

    /// A receiver whose runs wait for a permit of `gate` (kept, so that each run needs its
    /// own), then take `work`.
    struct Gated {
        gate: Option<Arc<Semaphore>>,
        work: Duration,
        calls: AtomicU64,
    }

    impl Gated {
        fn new(gate: Option<Arc<Semaphore>>, work: Duration) -> Arc<Self> {
            Arc::new(Self {
                gate,
                work,
                calls: AtomicU64::new(0),
            })
        }

        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Collector for Gated {
        async fn scrape(&self, _ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = &self.gate {
                gate.acquire().await.unwrap().forget();
            }
            tokio::time::sleep(self.work).await;
            Ok(Snapshot::default())
        }
    }

    #[derive(Default)]
    struct Sink(Mutex<Vec<u64>>);

    impl Sink {
        fn seqs(&self) -> Vec<u64> {
            self.0.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Exporter for Sink {
        async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError> {
            self.0.lock().unwrap().push(batch.seq);
            Ok(())
        }
    }

    fn setup(
        receiver: Arc<dyn Collector>,
        interval: Duration,
        timeout: Duration,
    ) -> (Arc<Fanout>, Arc<Sink>, Job) {
        let stats = PipelineStats::new();
        let sink = Arc::new(Sink::default());
        let fanout = Arc::new(
            Fanout::builder(stats.clone())
                .exporter("sink", sink.clone(), 100)
                .route("r", &["sink".into()])
                .start(),
        );
        let job = Job {
            id: "r".into(),
            collector: receiver,
            interval,
            initial_delay: Duration::ZERO,
            timeout,
            stats: stats.register_job("r", interval),
        };
        (fanout, sink, job)
    }

    /// Lets the paused clock run to `at` after the test's start, every task running its
    /// course at each instant before the clock moves on.
    async fn until(start: Instant, at: Duration) {
        tokio::time::sleep_until(start + at).await;
    }

    async fn stop(stop: CancellationToken, loops: Vec<JoinHandle<()>>) {
        stop.cancel();
        for l in loops {
            l.await.unwrap();
        }
    }

    const SECOND: Duration = Duration::from_secs(1);
    /// Past the largest first-run jitter (1 s) by a margin the timer can resolve.
    const AFTER_JITTER: Duration = Duration::from_millis(1001);

    #[tokio::test(start_paused = true)]
    async fn runs_repeat_and_each_batch_carries_its_run_number() {
        let t0 = Instant::now();
        let receiver = Gated::new(None, Duration::ZERO);
        let (fanout, sink, job) = setup(receiver.clone(), 10 * SECOND, 5 * SECOND);
        let r = job.stats.clone();
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout, token.clone(), SECOND);
        // Runs at j, 10 s + j and 20 s + j, with j the first run's jitter.
        until(t0, 20 * SECOND + AFTER_JITTER).await;
        stop(token, loops).await;
        assert_eq!(sink.seqs(), vec![1, 2, 3]);
        assert_eq!(receiver.calls(), 3);
        assert_eq!(r.runs(), 3);
        assert_eq!(r.skipped(), 0);
        assert!(r.state().last_success.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_over_its_timeout_fails_as_timeout() {
        let t0 = Instant::now();
        let receiver = Gated::new(None, Duration::from_secs(3600));
        let (fanout, sink, job) = setup(receiver.clone(), 10 * SECOND, 5 * SECOND);
        let r = job.stats.clone();
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout, token.clone(), SECOND);
        // Runs start at j, 10 s + j and 20 s + j; each is cut 5 s later.
        until(t0, 25 * SECOND + AFTER_JITTER).await;
        stop(token, loops).await;
        assert!(sink.seqs().is_empty());
        assert_eq!(r.failures().get("timeout"), Some(&3));
        let s = r.state();
        assert_eq!(
            s.last_error.as_deref(),
            Some("run exceeded its timeout of 5s")
        );
        assert_eq!(s.last_error_kind, Some("timeout"));
        assert_eq!(s.consecutive_failures, 3);
        // Each run was over before the next tick: none was skipped or stacked.
        assert_eq!(receiver.calls(), 3);
        assert_eq!(r.skipped(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_still_going_makes_the_next_ones_skipped_not_stacked() {
        let t0 = Instant::now();
        let gate = Arc::new(Semaphore::new(0));
        let receiver = Gated::new(Some(gate.clone()), Duration::ZERO);
        let (fanout, sink, job) = setup(receiver.clone(), 10 * SECOND, 3600 * SECOND);
        let r = job.stats.clone();
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout, token.clone(), SECOND);
        // The run started at j holds on; the ticks at 10, 20 and 30 s (+ j) find it going.
        until(t0, 30 * SECOND + AFTER_JITTER).await;
        assert_eq!(receiver.calls(), 1);
        assert_eq!(r.skipped(), 3);
        assert_eq!(r.runs(), 0);

        gate.add_permits(1);
        until(t0, 31 * SECOND + AFTER_JITTER).await;
        assert_eq!(r.runs(), 1, "the released run completed");
        assert_eq!(sink.seqs(), vec![1]);
        assert_eq!(receiver.calls(), 1, "nothing runs between ticks");

        // The tick at 40 s (+ j) finds nothing running: a new run starts.
        until(t0, 40 * SECOND + AFTER_JITTER).await;
        assert_eq!(receiver.calls(), 2);
        assert_eq!(r.skipped(), 3);
        stop(token, loops).await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_run_comes_within_a_second_even_for_an_hourly_receiver() {
        let t0 = Instant::now();
        let receiver = Gated::new(None, Duration::ZERO);
        let (fanout, _, job) = setup(receiver.clone(), 3600 * SECOND, 60 * SECOND);
        let r = job.stats.clone();
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout, token.clone(), SECOND);
        until(t0, AFTER_JITTER).await;
        assert_eq!(r.runs(), 1);
        stop(token, loops).await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_run_waits_for_the_initial_delay() {
        let t0 = Instant::now();
        let receiver = Gated::new(None, Duration::ZERO);
        let (fanout, _, mut job) = setup(receiver.clone(), 3600 * SECOND, 60 * SECOND);
        job.initial_delay = 30 * SECOND;
        let r = job.stats.clone();
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout, token.clone(), SECOND);
        until(t0, 30 * SECOND - Duration::from_millis(1)).await;
        assert_eq!(receiver.calls(), 0);
        until(t0, 30 * SECOND + AFTER_JITTER).await;
        assert_eq!(r.runs(), 1);
        stop(token, loops).await;
    }

    /// Fails every run, handing over a partial snapshot (a gauge and one log record), with
    /// two parts behind.
    struct PartlyFailing;

    #[async_trait]
    impl Collector for PartlyFailing {
        async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
            use pipeline::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
            use pipeline::{MetricDesc, SnapshotBuilder, resource, scope};
            let mut b = SnapshotBuilder::new(resource([]), scope("t", "1"), ctx.started);
            b.gauge(&MetricDesc::new("g", "1", "a gauge"), 1, []);
            let logs = ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default()],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let partial = Snapshot::new(vec![b.build()]).with_logs(vec![logs]);
            Err(ReceiverError::new("unavailable", "half down").with_partial(partial))
        }

        fn backlog(&self) -> Option<pipeline::Backlog> {
            Some(pipeline::Backlog {
                parts: 2,
                oldest: None,
            })
        }
    }

    /// Records (run, points, log records) of each batch.
    #[derive(Default)]
    struct Signals(Mutex<Vec<(u64, usize, usize)>>);

    #[async_trait]
    impl Exporter for Signals {
        async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError> {
            let got = (batch.seq, batch.data_points(), batch.log_records());
            self.0.lock().unwrap().push(got);
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_runs_partial_snapshot_delivers_its_log_records_too() {
        let t0 = Instant::now();
        let stats = PipelineStats::new();
        let (metrics, logs) = (Arc::new(Signals::default()), Arc::new(Signals::default()));
        let fanout = Arc::new(
            Fanout::builder(stats.clone())
                .exporter("metrics", metrics.clone(), 10)
                .exporter("logs", logs.clone(), 10)
                .route("r", &["metrics".into()])
                .route_logs("r", &["logs".into()])
                .start(),
        );
        let job = Job {
            id: "r".into(),
            collector: Arc::new(PartlyFailing),
            interval: 10 * SECOND,
            initial_delay: Duration::ZERO,
            timeout: 5 * SECOND,
            stats: stats.register_job("r", 10 * SECOND),
        };
        let r = job.stats.clone();
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout.clone(), token.clone(), SECOND);
        until(t0, AFTER_JITTER).await;
        stop(token, loops).await;
        fanout.shutdown(SECOND).await;
        assert_eq!(r.failures().get("unavailable"), Some(&1));
        assert_eq!(*metrics.0.lock().unwrap(), [(1, 1, 0)]);
        assert_eq!(*logs.0.lock().unwrap(), [(1, 0, 1)]);
        assert_eq!(
            r.backlog().map(|b| b.parts),
            Some(2),
            "a failed run's backlog is kept too"
        );
    }

    /// Works `work`, unless its run's token is cancelled first: then fails as cancelled.
    struct HonoursCancel {
        work: Duration,
        cancelled: AtomicU64,
    }

    #[async_trait]
    impl Collector for HonoursCancel {
        async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
            tokio::select! {
                _ = tokio::time::sleep(self.work) => Ok(Snapshot::default()),
                _ = ctx.cancel.cancelled() => {
                    self.cancelled.fetch_add(1, Ordering::SeqCst);
                    Err(ReceiverError::new("cancelled", "stopped"))
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_in_progress_at_stop_finishes_within_the_grace_and_hands_its_batch_over() {
        let t0 = Instant::now();
        let receiver = Arc::new(HonoursCancel {
            work: 2 * SECOND,
            cancelled: AtomicU64::new(0),
        });
        let (fanout, sink, job) = setup(receiver.clone(), 10 * SECOND, 5 * SECOND);
        let r = job.stats.clone();
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout.clone(), token.clone(), 3 * SECOND);
        // The run starts within the first second and needs 2 s: stop in the middle of it.
        until(t0, AFTER_JITTER).await;
        assert_eq!(r.runs(), 0);
        stop(token, loops).await;
        fanout.shutdown(SECOND).await;
        assert_eq!(receiver.cancelled.load(Ordering::SeqCst), 0);
        assert_eq!(r.runs(), 1);
        assert_eq!(sink.seqs(), vec![1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_past_the_grace_is_cancelled_then() {
        let t0 = Instant::now();
        let receiver = Arc::new(HonoursCancel {
            work: 60 * SECOND,
            cancelled: AtomicU64::new(0),
        });
        let (fanout, sink, job) = setup(receiver.clone(), 100 * SECOND, 80 * SECOND);
        let token = CancellationToken::new();
        let loops = start(vec![job], fanout, token.clone(), 3 * SECOND);
        until(t0, AFTER_JITTER).await;
        let stopped = Instant::now();
        stop(token, loops).await;
        assert_eq!(stopped.elapsed(), 3 * SECOND, "the grace, no more");
        assert!(sink.seqs().is_empty());
    }

    fn job(id: &str, interval: Duration) -> Job {
        let (_, _, mut job) = setup(Gated::new(None, Duration::ZERO), interval, interval / 2);
        job.id = id.into();
        job
    }

    #[tokio::test]
    async fn jobs_of_one_kind_are_spread_over_their_interval() {
        let jobs = vec![
            job("ecs/c/billing", 300 * SECOND),
            job("ecs/a/billing", 300 * SECOND),
            job("ecs/b/billing", 300 * SECOND),
            job("ecs/a/dashboard", 60 * SECOND),
            job("ecs/b/dashboard", 60 * SECOND),
            // Another interval: another kind.
            job("ecs/c/dashboard", 30 * SECOND),
            job("self", 10 * SECOND),
        ];
        assert_eq!(
            phases(&jobs),
            [
                200 * SECOND,
                Duration::ZERO,
                100 * SECOND,
                Duration::ZERO,
                30 * SECOND,
                Duration::ZERO,
                Duration::ZERO
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_second_cluster_s_collector_first_runs_half_an_interval_later() {
        let t0 = Instant::now();
        let a = Gated::new(None, Duration::ZERO);
        let b = Gated::new(None, Duration::ZERO);
        let (fanout, _sink, mut job_a) = setup(a.clone(), 10 * SECOND, 5 * SECOND);
        let (_, _, mut job_b) = setup(b.clone(), 10 * SECOND, 5 * SECOND);
        job_a.id = "ecs/a/billing".into();
        job_b.id = "ecs/b/billing".into();
        let token = CancellationToken::new();
        let loops = start(vec![job_b, job_a], fanout, token.clone(), SECOND);
        until(t0, AFTER_JITTER).await;
        assert_eq!((a.calls(), b.calls()), (1, 0));
        until(t0, 5 * SECOND + AFTER_JITTER).await;
        assert_eq!((a.calls(), b.calls()), (1, 1));
        until(t0, 15 * SECOND + AFTER_JITTER).await;
        assert_eq!((a.calls(), b.calls()), (2, 2));
        stop(token, loops).await;
    }

    #[tokio::test]
    async fn a_receiver_s_slower_collectors_are_moved_off_its_fastest_one_s_ticks() {
        let jobs = vec![
            job("ecs/a/iam", 600 * SECOND),
            job("ecs/a/dashboard", 60 * SECOND),
            job("ecs/a/billing", 300 * SECOND),
            job("ecs/a/node_stats", 60 * SECOND),
            job("ecs/a/audit", 300 * SECOND),
            // Another receiver: its own fastest collector.
            job("ecs/b/billing", 300 * SECOND),
            job("ecs/b/dashboard", 30 * SECOND),
            job("self", 10 * SECOND),
        ];
        assert_eq!(
            offsets(&jobs),
            [
                45 * SECOND,
                Duration::ZERO,
                30 * SECOND,
                Duration::ZERO,
                15 * SECOND,
                15 * SECOND,
                Duration::ZERO,
                Duration::ZERO
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slower_collector_runs_first_at_once_then_off_the_faster_one_s_ticks() {
        let t0 = Instant::now();
        let fast = Gated::new(None, Duration::ZERO);
        let slow = Gated::new(None, Duration::ZERO);
        let (fanout, _sink, mut job_fast) = setup(fast.clone(), 10 * SECOND, 5 * SECOND);
        let (_, _, mut job_slow) = setup(slow.clone(), 30 * SECOND, 5 * SECOND);
        job_fast.id = "ecs/a/dashboard".into();
        job_slow.id = "ecs/a/billing".into();
        let token = CancellationToken::new();
        let loops = start(vec![job_fast, job_slow], fanout, token.clone(), SECOND);
        until(t0, AFTER_JITTER).await;
        assert_eq!((fast.calls(), slow.calls()), (1, 1));
        // Not at 30 s with the fast one's fourth run: 5 s (half its interval) later.
        until(t0, 30 * SECOND + AFTER_JITTER).await;
        assert_eq!((fast.calls(), slow.calls()), (4, 1));
        until(t0, 35 * SECOND + AFTER_JITTER).await;
        assert_eq!((fast.calls(), slow.calls()), (4, 2));
        until(t0, 65 * SECOND + AFTER_JITTER).await;
        assert_eq!((fast.calls(), slow.calls()), (7, 3));
        stop(token, loops).await;
    }

    #[test]
    fn jitter_is_small() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(60)) <= Duration::from_secs(1));
            assert!(jitter(Duration::from_millis(100)) <= Duration::from_millis(10));
        }
    }
}
