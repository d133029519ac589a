//! Hands each receiver's batches to the exporters of its pipelines. Each exporter has its
//! own bounded queue and worker task, so one that is slow or down only fills (and then
//! trims) its own queue.

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

/// Builds a [`Fanout`]: exporters first, then which receiver feeds which exporters.
pub struct FanoutBuilder {
    stats: Arc<PipelineStats>,
    exporters: Vec<(String, Arc<dyn Exporter>, usize)>,
    routes: HashMap<String, Vec<String>>,
}

impl FanoutBuilder {
    pub fn exporter(mut self, name: &str, exporter: Arc<dyn Exporter>, capacity: usize) -> Self {
        self.exporters.push((name.to_owned(), exporter, capacity));
        self
    }

    /// Adds `exporters` to the destinations of `receiver` (pipelines may overlap).
    pub fn route(mut self, receiver: &str, exporters: &[String]) -> Self {
        let dest = self.routes.entry(receiver.to_owned()).or_default();
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
        let routes = self
            .routes
            .into_iter()
            .map(|(receiver, names)| {
                let queues = names
                    .iter()
                    .filter_map(|n| workers.iter().find(|w| &w.name == n))
                    .map(|w| w.queue.clone())
                    .collect();
                (receiver, queues)
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
        let source = batch.source.clone();
        // The last holder of a large snapshot hands its memory back once it is gone.
        let last_holder = Arc::downgrade(&batch);
        match exporter.export(batch).await {
            Ok(()) => stats.record_sent(points),
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

pub struct Fanout {
    routes: HashMap<String, Vec<Arc<BatchQueue>>>,
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

    /// Queues `batch` for every exporter its source is routed to. Never waits.
    pub fn dispatch(&self, batch: Arc<Batch>) {
        if let Some(queues) = self.routes.get(&*batch.source) {
            for q in queues {
                q.push(batch.clone());
            }
        }
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
