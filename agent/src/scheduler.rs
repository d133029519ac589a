//! Drives every receiver on its interval. A first run comes soon after start (after the
//! receiver's initial delay plus a little jitter, so that receivers do not all fire at
//! once); each run has a timeout below the interval; a run still going when the next one
//! is due makes the next one skipped and counted, never stacked. Each run is a trace.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pipeline::fanout::Fanout;
use pipeline::stats::ReceiverStats;
use pipeline::{Batch, Receiver, ScrapeContext, SourceId};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

pub struct Job {
    pub id: SourceId,
    pub receiver: Arc<dyn Receiver>,
    pub interval: Duration,
    pub initial_delay: Duration,
    pub timeout: Duration,
    pub stats: Arc<ReceiverStats>,
}

/// The first run waits `initial_delay` plus up to a tenth of the interval (at most 1 s).
fn jitter(interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(1));
    max.mul_f64(fastrand::f64())
}

/// Starts one loop per job. Cancelling `stop` ends the loops; a run in progress gets
/// `grace` to finish (its context's token is cancelled at once) before it is aborted.
pub fn start(
    jobs: Vec<Job>,
    fanout: Arc<Fanout>,
    stop: CancellationToken,
    grace: Duration,
) -> Vec<JoinHandle<()>> {
    jobs.into_iter()
        .map(|job| tokio::spawn(run_loop(job, fanout.clone(), stop.clone(), grace)))
        .collect()
}

async fn run_loop(job: Job, fanout: Arc<Fanout>, stop: CancellationToken, grace: Duration) {
    let job = Arc::new(job);
    let first = Instant::now() + job.initial_delay + jitter(job.interval);
    let mut ticker = tokio::time::interval_at(first, job.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut running: Option<JoinHandle<()>> = None;
    let mut run = 0u64;
    let run_cancel = stop.child_token();
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
        running = Some(tokio::spawn(run_once(
            job.clone(),
            fanout.clone(),
            run,
            run_cancel.clone(),
        )));
    }
    if let Some(mut h) = running {
        if tokio::time::timeout(grace, &mut h).await.is_err() {
            h.abort();
            tracing::warn!(receiver = %job.id, "run still going at shutdown; cancelled");
        }
    }
}

async fn run_once(job: Arc<Job>, fanout: Arc<Fanout>, run: u64, cancel: CancellationToken) {
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
    );
    let started = SystemTime::now();
    let t0 = Instant::now();
    let ctx = ScrapeContext {
        receiver: job.id.clone(),
        started,
        deadline: t0 + job.timeout,
        interval: job.interval,
        cancel,
        run,
    };
    let result = tokio::time::timeout(job.timeout, job.receiver.scrape(&ctx))
        .instrument(span.clone())
        .await;
    let took = t0.elapsed();
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
            };
            job.stats.record_success(took, snapshot.warnings);
            tracing::debug!(parent: &span, receiver = %job.id, points = batch.data_points(), took = ?took, "collected");
            fanout.dispatch(Arc::new(batch));
        }
        Ok(Err(e)) => {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", e.message.as_str());
            span.record("error.type", e.kind);
            tracing::warn!(parent: &span, receiver = %job.id, kind = e.kind, error = %e, "collection failed");
            if let Some(partial) = e.partial {
                fanout.dispatch(Arc::new(Batch {
                    source: job.id.clone(),
                    seq: run,
                    collected_at: started,
                    interval: job.interval,
                    resource_metrics: partial.resource_metrics,
                }));
            }
            job.stats.record_failure(took, e.kind, e.message);
        }
        Err(_) => {
            let msg = format!("run exceeded its timeout of {:?}", job.timeout);
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", msg.as_str());
            span.record("error.type", "timeout");
            tracing::warn!(parent: &span, receiver = %job.id, timeout = ?job.timeout, "collection timed out");
            job.stats.record_failure(took, "timeout", msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use pipeline::{ExportError, Exporter, PipelineStats, ReceiverError, Snapshot};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A receiver whose runs take `work` (async) or `block` (holding the thread).
    struct Slow {
        work: Duration,
        block: Duration,
        calls: AtomicU64,
    }

    #[async_trait]
    impl Receiver for Slow {
        async fn scrape(&self, _ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if !self.block.is_zero() {
                std::thread::sleep(self.block);
            }
            tokio::time::sleep(self.work).await;
            Ok(Snapshot::default())
        }
    }

    #[derive(Default)]
    struct Sink(Mutex<Vec<u64>>);

    #[async_trait]
    impl Exporter for Sink {
        async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError> {
            self.0.lock().unwrap().push(batch.seq);
            Ok(())
        }
    }

    fn setup(
        receiver: Slow,
        interval: Duration,
        timeout: Duration,
    ) -> (Arc<PipelineStats>, Arc<Fanout>, Arc<Sink>, Job) {
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
            receiver: Arc::new(receiver),
            interval,
            initial_delay: Duration::ZERO,
            timeout,
            stats: stats.register_receiver("r", interval),
        };
        (stats, fanout, sink, job)
    }

    async fn wait(deadline: Duration, mut cond: impl FnMut() -> bool) {
        let until = Instant::now() + deadline;
        while !cond() {
            assert!(
                Instant::now() < until,
                "condition not met within {deadline:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_repeat_and_each_batch_carries_its_run_number() {
        let (stats, fanout, sink, job) = setup(
            Slow {
                work: Duration::ZERO,
                block: Duration::ZERO,
                calls: AtomicU64::new(0),
            },
            Duration::from_millis(50),
            Duration::from_millis(40),
        );
        let r = job.stats.clone();
        let stop = CancellationToken::new();
        let loops = start(
            vec![job],
            fanout.clone(),
            stop.clone(),
            Duration::from_secs(1),
        );
        wait(Duration::from_secs(5), || sink.0.lock().unwrap().len() >= 3).await;
        stop.cancel();
        for l in loops {
            l.await.unwrap();
        }
        let seqs = sink.0.lock().unwrap().clone();
        assert_eq!(&seqs[..3], &[1, 2, 3]);
        assert!(r.runs() >= 3);
        assert_eq!(r.skipped(), 0);
        assert!(stats.receivers()[0].1.state().last_success.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_over_its_timeout_fails_as_timeout() {
        let (_, fanout, sink, job) = setup(
            Slow {
                work: Duration::from_secs(30),
                block: Duration::ZERO,
                calls: AtomicU64::new(0),
            },
            Duration::from_millis(200),
            Duration::from_millis(50),
        );
        let r = job.stats.clone();
        let stop = CancellationToken::new();
        let loops = start(vec![job], fanout, stop.clone(), Duration::from_secs(1));
        wait(Duration::from_secs(5), || {
            r.failures().get("timeout").copied().unwrap_or(0) >= 2
        })
        .await;
        stop.cancel();
        for l in loops {
            l.await.unwrap();
        }
        assert!(sink.0.lock().unwrap().is_empty());
        let s = r.state();
        assert!(s.last_error.unwrap().contains("timeout"));
        assert!(s.consecutive_failures >= 2);
        // Cancelled at the timeout, the next runs were never stacked or skipped.
        assert_eq!(r.skipped(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_still_going_makes_the_next_ones_skipped_not_stacked() {
        // Blocking work cannot be cut by the timeout; the scheduler must not start more.
        let receiver = Slow {
            work: Duration::ZERO,
            block: Duration::from_millis(450),
            calls: AtomicU64::new(0),
        };
        let (_, fanout, _, job) = setup(
            receiver,
            Duration::from_millis(100),
            Duration::from_millis(80),
        );
        let r = job.stats.clone();
        let stop = CancellationToken::new();
        let loops = start(vec![job], fanout, stop.clone(), Duration::from_secs(2));
        wait(Duration::from_secs(5), || r.skipped() >= 2).await;
        stop.cancel();
        for l in loops {
            l.await.unwrap();
        }
        // One run held the thread for 450 ms across several ticks: those ticks were skipped.
        assert!(r.skipped() >= 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_run_comes_soon_after_start() {
        let (_, fanout, _, job) = setup(
            Slow {
                work: Duration::ZERO,
                block: Duration::ZERO,
                calls: AtomicU64::new(0),
            },
            Duration::from_secs(3600),
            Duration::from_secs(60),
        );
        let r = job.stats.clone();
        let stop = CancellationToken::new();
        let loops = start(vec![job], fanout, stop.clone(), Duration::from_secs(1));
        // An hourly receiver still runs right away (jitter is capped at 1 s).
        wait(Duration::from_secs(5), || r.runs() == 1).await;
        stop.cancel();
        for l in loops {
            l.await.unwrap();
        }
    }

    #[test]
    fn jitter_is_small() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(60)) <= Duration::from_secs(1));
            assert!(jitter(Duration::from_millis(100)) <= Duration::from_millis(10));
        }
    }
}
