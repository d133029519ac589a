//! The bounded queue in front of each exporter. Pushing never waits: when the queue is
//! full, room is made by the exporter's [`QueuePolicy`], and every dropped batch is counted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::stats::ExporterStats;
use crate::{Batch, QueuePolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// A waiting batch of the same source was replaced by the newer one.
    Replaced,
    /// The queue was full: the oldest batch was dropped to make room.
    DroppedOldest,
    /// The queue is closed (shutting down): the batch was dropped.
    Closed,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Arc<Batch>>,
    closed: bool,
}

#[derive(Debug)]
pub struct BatchQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    capacity: usize,
    policy: QueuePolicy,
    stats: Arc<ExporterStats>,
}

impl BatchQueue {
    /// `capacity` is at least 1.
    pub fn new(capacity: usize, policy: QueuePolicy, stats: Arc<ExporterStats>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            capacity: capacity.max(1),
            policy,
            stats,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, batch: Arc<Batch>) -> Pushed {
        let outcome = {
            let mut inner = self.lock();
            if inner.closed {
                self.stats.record_dropped(1);
                return Pushed::Closed;
            }
            // Log records are events: a newer batch supersedes a waiting one's metrics but
            // never its log records, so only batches without any replace one another.
            let same_source = match self.policy {
                QueuePolicy::LatestPerSource if batch.log_records() == 0 => inner
                    .items
                    .iter()
                    .position(|b| b.source == batch.source && b.log_records() == 0),
                QueuePolicy::LatestPerSource | QueuePolicy::DropOldest => None,
            };
            let outcome = if let Some(i) = same_source {
                inner.items[i] = batch;
                Pushed::Replaced
            } else if inner.items.len() >= self.capacity {
                inner.items.pop_front();
                inner.items.push_back(batch);
                self.stats.record_dropped(1);
                Pushed::DroppedOldest
            } else {
                inner.items.push_back(batch);
                Pushed::Queued
            };
            self.stats.set_queue_len(inner.items.len());
            outcome
        };
        self.notify.notify_one();
        outcome
    }

    /// The next batch; `None` once the queue is closed and empty.
    pub async fn pop(&self) -> Option<Arc<Batch>> {
        loop {
            {
                let mut inner = self.lock();
                if let Some(b) = inner.items.pop_front() {
                    self.stats.set_queue_len(inner.items.len());
                    return Some(b);
                }
                if inner.closed {
                    return None;
                }
            }
            self.notify.notified().await;
        }
    }

    /// No more pushes; `pop` returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    /// Drops what is still queued (counted) and returns how many batches that was.
    pub fn discard(&self) -> usize {
        let mut inner = self.lock();
        let n = inner.items.len();
        inner.items.clear();
        self.stats.set_queue_len(0);
        self.stats.record_dropped(n as u64);
        n
    }

    pub fn stats(&self) -> &Arc<ExporterStats> {
        &self.stats
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PipelineStats;

    fn batch(source: &str, seq: u64) -> Arc<Batch> {
        let mut b = Batch::new(source.into(), vec![]);
        b.seq = seq;
        Arc::new(b)
    }

    #[tokio::test]
    async fn full_queue_drops_the_oldest_and_counts_it() {
        let stats = PipelineStats::new().register_exporter("otlp", 2);
        let q = BatchQueue::new(2, QueuePolicy::DropOldest, stats.clone());
        assert_eq!(q.push(batch("a", 1)), Pushed::Queued);
        assert_eq!(q.push(batch("a", 2)), Pushed::Queued);
        assert_eq!(q.push(batch("a", 3)), Pushed::DroppedOldest);
        assert_eq!(stats.counts().dropped_batches, 1);
        assert_eq!(stats.counts().queue_len, 2);
        assert_eq!(q.pop().await.map(|b| b.seq), Some(2));
        assert_eq!(q.pop().await.map(|b| b.seq), Some(3));
    }

    #[tokio::test]
    async fn latest_per_source_replaces_in_place() {
        let stats = PipelineStats::new().register_exporter("prometheus", 4);
        let q = BatchQueue::new(4, QueuePolicy::LatestPerSource, stats.clone());
        q.push(batch("a", 1));
        q.push(batch("b", 1));
        assert_eq!(q.push(batch("a", 2)), Pushed::Replaced);
        assert_eq!(stats.counts().dropped_batches, 0);
        let first = q.pop().await.unwrap();
        assert_eq!((&*first.source, first.seq), ("a", 2));
    }

    fn logs_batch(source: &str, seq: u64) -> Arc<Batch> {
        use crate::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        let mut b = Batch::new(source.into(), vec![]);
        b.seq = seq;
        b.resource_logs = vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default()],
                ..Default::default()
            }],
            ..Default::default()
        }];
        Arc::new(b)
    }

    #[tokio::test]
    async fn batches_with_log_records_never_replace_or_get_replaced() {
        let stats = PipelineStats::new().register_exporter("prometheus", 4);
        let q = BatchQueue::new(4, QueuePolicy::LatestPerSource, stats.clone());
        q.push(batch("a", 1));
        assert_eq!(q.push(logs_batch("a", 2)), Pushed::Queued);
        assert_eq!(q.push(logs_batch("a", 3)), Pushed::Queued);
        // The newer snapshot replaces the waiting snapshot, not the events around it.
        assert_eq!(q.push(batch("a", 4)), Pushed::Replaced);
        let order: Vec<u64> = [q.pop().await, q.pop().await, q.pop().await]
            .into_iter()
            .map(|b| b.unwrap().seq)
            .collect();
        assert_eq!(order, [4, 2, 3]);
        assert_eq!(stats.counts().dropped_batches, 0);
    }

    #[tokio::test]
    async fn closed_queue_yields_the_rest_then_none() {
        let stats = PipelineStats::new().register_exporter("x", 4);
        let q = BatchQueue::new(4, QueuePolicy::DropOldest, stats.clone());
        q.push(batch("a", 1));
        q.close();
        assert_eq!(q.push(batch("a", 2)), Pushed::Closed);
        assert_eq!(q.pop().await.map(|b| b.seq), Some(1));
        assert!(q.pop().await.is_none());
        assert_eq!(stats.counts().dropped_batches, 1);
    }

    /// The paused clock only moves once every task waits: a waiter still unfinished after
    /// an hour of it is parked, and only the push can wake it.
    #[tokio::test(start_paused = true)]
    async fn pop_waits_for_a_push() {
        let stats = PipelineStats::new().register_exporter("x", 4);
        let q = Arc::new(BatchQueue::new(4, QueuePolicy::DropOldest, stats));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await.map(|b| b.seq) });
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        assert!(!waiter.is_finished(), "pop returned from an empty queue");
        q.push(batch("a", 7));
        let popped = tokio::time::timeout(std::time::Duration::from_secs(3600), waiter)
            .await
            .expect("the push did not wake the waiter");
        assert_eq!(popped.unwrap(), Some(7));
    }
}
