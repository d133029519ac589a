//! Hands each receiver's batches to the exporters of its pipelines. Each exporter has its
//! own bounded queue and worker task, so one that is slow or down only fills (and then
//! trims) its own queue. Metrics and logs are routed apart: a batch's metrics go to the
//! exporters of the metrics pipelines naming its job, its log records to those of the logs
//! pipelines naming it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::queue::BatchQueue;
use crate::stats::ExporterStats;
use crate::{Batch, Exporter, PipelineStats};

struct Worker {
    name: String,
    queue: Arc<BatchQueue>,
    exporter: Arc<dyn Exporter>,
    task: JoinHandle<()>,
}

/// What a route carries from a receiver to an exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Metrics,
    Logs,
}

/// The destinations of one receiver, per signal.
#[derive(Debug)]
struct Destinations<T> {
    metrics: Vec<T>,
    logs: Vec<T>,
}

impl<T> Default for Destinations<T> {
    fn default() -> Self {
        Self {
            metrics: Vec::new(),
            logs: Vec::new(),
        }
    }
}

impl<T> Destinations<T> {
    fn of(&mut self, signal: Signal) -> &mut Vec<T> {
        match signal {
            Signal::Metrics => &mut self.metrics,
            Signal::Logs => &mut self.logs,
        }
    }
}

/// Builds a [`Fanout`]: exporters first, then which receiver feeds which exporters.
pub struct FanoutBuilder {
    stats: Arc<PipelineStats>,
    exporters: Vec<(String, Arc<dyn Exporter>, usize)>,
    routes: HashMap<String, Destinations<String>>,
}

impl FanoutBuilder {
    pub fn exporter(mut self, name: &str, exporter: Arc<dyn Exporter>, capacity: usize) -> Self {
        self.exporters.push((name.to_owned(), exporter, capacity));
        self
    }

    /// Adds `exporters` to the metrics destinations of `receiver` (pipelines may overlap).
    pub fn route(self, receiver: &str, exporters: &[String]) -> Self {
        self.route_signal(receiver, Signal::Metrics, exporters)
    }

    /// Adds `exporters` to the log-record destinations of `receiver`.
    pub fn route_logs(self, receiver: &str, exporters: &[String]) -> Self {
        self.route_signal(receiver, Signal::Logs, exporters)
    }

    /// Adds `exporters` to the destinations of `receiver`'s `signal`.
    pub fn route_signal(mut self, receiver: &str, signal: Signal, exporters: &[String]) -> Self {
        let dest = self
            .routes
            .entry(receiver.to_owned())
            .or_default()
            .of(signal);
        for e in exporters {
            if !dest.contains(e) {
                dest.push(e.clone());
            }
        }
        self
    }

    /// Starts one worker task per exporter. Must run inside a Tokio runtime.
    pub fn start(self) -> Fanout {
        let mut workers = Vec::new();
        for (name, exporter, capacity) in self.exporters {
            let stats = self.stats.register_exporter(&name, capacity);
            if self.routes.values().any(|d| d.logs.contains(&name)) {
                stats.set_carries_logs();
            }
            let queue = Arc::new(BatchQueue::new(
                capacity,
                exporter.queue_policy(),
                stats.clone(),
            ));
            let task = tokio::spawn(run_worker(
                name.clone(),
                queue.clone(),
                exporter.clone(),
                stats,
            ));
            workers.push(Worker {
                name,
                queue,
                exporter,
                task,
            });
        }
        let queues = |names: &[String]| -> Vec<Arc<BatchQueue>> {
            names
                .iter()
                .filter_map(|n| workers.iter().find(|w| &w.name == n))
                .map(|w| w.queue.clone())
                .collect()
        };
        let routes = self
            .routes
            .iter()
            .map(|(receiver, d)| {
                let dest = Destinations {
                    metrics: queues(&d.metrics),
                    logs: queues(&d.logs),
                };
                (receiver.clone(), dest)
            })
            .collect();
        Fanout {
            routes,
            workers: std::sync::Mutex::new(workers),
        }
    }
}

async fn run_worker(
    name: String,
    queue: Arc<BatchQueue>,
    exporter: Arc<dyn Exporter>,
    stats: Arc<ExporterStats>,
) {
    while let Some(batch) = queue.pop().await {
        let points = batch.data_points();
        let log_records = batch.log_records();
        let source = batch.source.clone();
        // The last holder of a large snapshot hands its memory back once it is gone.
        let last_holder = Arc::downgrade(&batch);
        match exporter.export(batch).await {
            Ok(()) => {
                stats.record_sent(points);
                if log_records > 0 {
                    stats.record_sent_log_records(log_records);
                }
            }
            Err(e) => {
                tracing::warn!(exporter = %name, source = %source, kind = e.kind, error = %e, "export failed; batch dropped");
                stats.record_failed(e.message);
            }
        }
        if points >= crate::memory::TRIM_AFTER_POINTS && last_holder.strong_count() == 0 {
            tokio::task::spawn_blocking(crate::memory::release_free_memory);
        }
    }
}

/// `batch` cut into its metrics and its log records, each a batch of its own with the same
/// source, run and time; without copying them when the caller gave up its reference.
fn split(batch: Arc<Batch>) -> (Batch, Batch) {
    let b = Arc::try_unwrap(batch).unwrap_or_else(|shared| (*shared).clone());
    let logs = Batch {
        source: b.source.clone(),
        seq: b.seq,
        collected_at: b.collected_at,
        interval: b.interval,
        resource_metrics: Vec::new(),
        resource_logs: b.resource_logs,
    };
    let metrics = Batch {
        resource_logs: Vec::new(),
        ..b
    };
    (metrics, logs)
}

fn push_all(queues: &[Arc<BatchQueue>], batch: &Arc<Batch>) {
    for q in queues {
        q.push(batch.clone());
    }
}

pub struct Fanout {
    routes: HashMap<String, Destinations<Arc<BatchQueue>>>,
    workers: std::sync::Mutex<Vec<Worker>>,
}

impl Fanout {
    pub fn builder(stats: Arc<PipelineStats>) -> FanoutBuilder {
        FanoutBuilder {
            stats,
            exporters: Vec::new(),
            routes: HashMap::new(),
        }
    }

    /// Queues `batch`'s metrics for the metrics destinations of its source and its log
    /// records for the log destinations. Never waits.
    ///
    /// A batch without log records goes whole to the metrics destinations, as it always
    /// did (an empty one too: it is the source's complete snapshot, saying it has no series).
    /// A batch with log records is cut in two, so that an exporter in both kinds of
    /// pipeline gets each signal once, and neither half is copied: the metrics half, unless
    /// the batch has no `resource_metrics` at all (then it says nothing about the source's
    /// series), and the logs half.
    pub fn dispatch(&self, batch: Arc<Batch>) {
        let Some(dest) = self.routes.get(&*batch.source) else {
            return;
        };
        if batch.log_records() == 0 {
            push_all(&dest.metrics, &batch);
            return;
        }
        let logs_only = batch.is_logs_only();
        let (metrics, logs) = split(batch);
        if !logs_only {
            push_all(&dest.metrics, &Arc::new(metrics));
        }
        push_all(&dest.logs, &Arc::new(logs));
    }

    /// Closes the queues, lets each exporter deliver what is queued until `deadline`, then
    /// drops (and counts) the rest and shuts every exporter down.
    pub async fn shutdown(&self, deadline: Duration) {
        let until = Instant::now() + deadline;
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in &workers {
            w.queue.close();
        }
        for w in workers {
            let mut task = w.task;
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                task.abort();
                let left = w.queue.discard();
                tracing::warn!(exporter = %w.name, dropped = left + 1, "shutdown deadline reached; undelivered batches dropped");
                // The batch the worker held when aborted is lost too.
                w.queue.stats().record_dropped(1);
            }
            // Exporters get a short moment of their own to flush and close connections.
            let grace = until
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(500));
            if tokio::time::timeout(grace, w.exporter.shutdown())
                .await
                .is_err()
            {
                tracing::warn!(exporter = %w.name, "exporter did not shut down in time");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExportError;
    use async_trait::async_trait;
    use std::sync::Mutex;
    use tokio::sync::Semaphore;

    /// An exporter that records what it got; `gate` lets a test hold it as if it were slow.
    struct Recording {
        got: Mutex<Vec<u64>>,
        gate: Semaphore,
    }

    #[async_trait]
    impl Exporter for Recording {
        async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError> {
            let permit = self
                .gate
                .acquire()
                .await
                .map_err(|_| ExportError::new("closed", "gate closed"))?;
            permit.forget();
            self.got.lock().unwrap().push(batch.seq);
            Ok(())
        }
    }

    fn batch(seq: u64) -> Arc<Batch> {
        let mut b = Batch::new("r".into(), vec![]);
        b.seq = seq;
        Arc::new(b)
    }

    async fn wait_for(deadline: Duration, mut cond: impl FnMut() -> bool) {
        let until = Instant::now() + deadline;
        while !cond() {
            assert!(Instant::now() < until, "condition not met in {deadline:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_stuck_exporter_does_not_hold_up_another() {
        let stats = PipelineStats::new();
        let fast = Arc::new(Recording {
            got: Mutex::default(),
            gate: Semaphore::new(1000),
        });
        let stuck = Arc::new(Recording {
            got: Mutex::default(),
            gate: Semaphore::new(0),
        });
        let fanout = Fanout::builder(stats.clone())
            .exporter("fast", fast.clone(), 10)
            .exporter("stuck", stuck.clone(), 2)
            .route("r", &["fast".into(), "stuck".into()])
            .start();
        let exporters: HashMap<_, _> = stats.exporters().into_iter().collect();
        fanout.dispatch(batch(1));
        // Once the stuck exporter holds batch 1 in hand, its queue keeps the two newest.
        wait_for(Duration::from_secs(5), || {
            exporters["stuck"].counts().queue_len == 0 && fast.got.lock().unwrap().len() == 1
        })
        .await;
        for seq in 2..=6 {
            fanout.dispatch(batch(seq));
        }
        wait_for(Duration::from_secs(5), || {
            fast.got.lock().unwrap().len() == 6
        })
        .await;
        wait_for(Duration::from_secs(5), || {
            exporters["stuck"].counts().dropped_batches == 3
        })
        .await;
        stuck.gate.add_permits(100);
        wait_for(Duration::from_secs(5), || {
            stuck.got.lock().unwrap().len() == 3
        })
        .await;
        assert_eq!(*stuck.got.lock().unwrap(), vec![1, 5, 6]);
        fanout.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn shutdown_delivers_queued_batches_within_the_deadline() {
        let stats = PipelineStats::new();
        let exp = Arc::new(Recording {
            got: Mutex::default(),
            gate: Semaphore::new(1000),
        });
        let fanout = Fanout::builder(stats)
            .exporter("e", exp.clone(), 10)
            .route("r", &["e".into()])
            .start();
        for seq in 1..=5 {
            fanout.dispatch(batch(seq));
        }
        fanout.shutdown(Duration::from_secs(5)).await;
        assert_eq!(*exp.got.lock().unwrap(), vec![1, 2, 3, 4, 5]);
    }

    /// An exporter that records what each batch it got carried: (run, points, log records).
    #[derive(Default)]
    struct Carried(Mutex<Vec<(u64, usize, usize)>>);

    impl Carried {
        fn got(&self) -> Vec<(u64, usize, usize)> {
            self.0.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Exporter for Carried {
        async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError> {
            let got = (batch.seq, batch.data_points(), batch.log_records());
            self.0.lock().unwrap().push(got);
            Ok(())
        }
    }

    /// A run of `r` with one gauge point (unless `metrics` is false: no `ResourceMetrics` at
    /// all) and `logs` log records.
    fn run_of(seq: u64, metrics: bool, logs: usize) -> Arc<Batch> {
        use crate::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        use crate::{MetricDesc, SnapshotBuilder, resource, scope};
        let mut b =
            SnapshotBuilder::new(resource([]), scope("t", "1"), std::time::SystemTime::now());
        b.gauge(&MetricDesc::new("g", "1", "a gauge"), 1, []);
        let mut batch = Batch::new("r".into(), if metrics { vec![b.build()] } else { vec![] });
        batch.seq = seq;
        if logs > 0 {
            batch.resource_logs = vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); logs],
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        Arc::new(batch)
    }

    #[tokio::test]
    async fn metrics_and_logs_go_each_to_their_own_pipelines_exporters_once() {
        let stats = PipelineStats::new();
        let (prom, otlp, audit) = (
            Arc::new(Carried::default()),
            Arc::new(Carried::default()),
            Arc::new(Carried::default()),
        );
        let fanout = Fanout::builder(stats.clone())
            .exporter("prom", prom.clone(), 10)
            .exporter("otlp", otlp.clone(), 10)
            .exporter("audit", audit.clone(), 10)
            .route("r", &["prom".into(), "otlp".into()])
            .route_logs("r", &["otlp".into(), "audit".into()])
            .start();
        // Metrics and logs; metrics only; logs only; an empty snapshot.
        fanout.dispatch(run_of(1, true, 2));
        fanout.dispatch(run_of(2, true, 0));
        fanout.dispatch(run_of(3, false, 3));
        fanout.dispatch(run_of(4, false, 0));
        fanout.shutdown(Duration::from_secs(5)).await;
        // A snapshot always reaches the metrics exporters, an empty one too (it says the
        // source has no series); a batch of log records alone says nothing about them.
        assert_eq!(prom.got(), [(1, 1, 0), (2, 1, 0), (4, 0, 0)]);
        assert_eq!(
            otlp.got(),
            [(1, 1, 0), (1, 0, 2), (2, 1, 0), (3, 0, 3), (4, 0, 0)]
        );
        assert_eq!(audit.got(), [(1, 0, 2), (3, 0, 3)]);
        let counts: HashMap<_, _> = stats
            .exporters()
            .into_iter()
            .map(|(n, e)| (n, (e.carries_logs(), e.counts().sent_log_records)))
            .collect();
        assert_eq!(counts["prom"], (false, 0));
        assert_eq!(counts["otlp"], (true, 5));
        assert_eq!(counts["audit"], (true, 5));
    }

    #[tokio::test]
    async fn a_receiver_without_a_logs_route_sends_no_log_records() {
        let stats = PipelineStats::new();
        let sink = Arc::new(Carried::default());
        let fanout = Fanout::builder(stats)
            .exporter("otlp", sink.clone(), 10)
            .route("r", &["otlp".into()])
            .start();
        fanout.dispatch(run_of(1, true, 2));
        fanout.dispatch(run_of(2, false, 2));
        fanout.shutdown(Duration::from_secs(5)).await;
        assert_eq!(sink.got(), [(1, 1, 0)]);
    }

    #[tokio::test]
    async fn shutdown_gives_up_at_the_deadline_and_counts_the_rest() {
        let stats = PipelineStats::new();
        let exp = Arc::new(Recording {
            got: Mutex::default(),
            gate: Semaphore::new(0),
        });
        let fanout = Fanout::builder(stats.clone())
            .exporter("e", exp, 10)
            .route("r", &["e".into()])
            .start();
        for seq in 1..=4 {
            fanout.dispatch(batch(seq));
        }
        fanout.shutdown(Duration::from_millis(100)).await;
        let (_, e) = &stats.exporters()[0];
        assert_eq!(e.counts().dropped_batches, 4);
    }
}
