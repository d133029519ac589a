//! The agent's own spans on their way to the traces pipeline's OTLP exporter, under the
//! same rules as its metrics: a bounded queue (the oldest span dropped and counted when it
//! is full), requests sent by [`retry_loop`] with the exporter's `retry_on_failure`, over a
//! channel built from the same settings, and every span given up on counted by reason and
//! logged at a bounded rate.
//!
//! [`SpanQueue`] is the tracer provider's span processor: it only queues (it runs inside
//! `Span::end`, on whatever thread ended the span, so it never blocks, logs or sends).
//! [`SpanDelivery`] owns the task that converts queued spans to OTLP and sends them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use pipeline::PipelineStats;
use pipeline::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pipeline::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use pipeline::stats::ExporterStats;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

use crate::config::{Compression, OtlpConfig};
use crate::retry::{Destination, Tally, retry_loop};
use crate::{BuildError, channel, metadata};

/// Spans per request: a few collection cycles' worth, far below the request size limit.
pub const MAX_BATCH: usize = 512;
/// How long a span waits for others to share its request (unless a full batch is queued).
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// At most one log line per reason in this period; the counters count every span.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Shared {
    exporter: String,
    queue: Mutex<VecDeque<SpanData>>,
    capacity: usize,
    /// Spans taken from the queue and not yet delivered or given up on.
    in_flight: AtomicUsize,
    wake: Notify,
    draining: AtomicBool,
    /// Set once the delivery has stopped: later spans are counted as dropped.
    closed: AtomicBool,
    resource: Mutex<ResourceAttributesWithSchema>,
    stats: Arc<ExporterStats>,
    /// Drops not logged yet, by reason, with the last error seen for that reason.
    unlogged: Mutex<BTreeMap<&'static str, (u64, Option<String>)>>,
}

impl Shared {
    fn drop_spans(&self, reason: &'static str, n: u64, error: Option<String>) {
        if n == 0 {
            return;
        }
        self.stats.record_dropped_spans(reason, n);
        let mut u = lock(&self.unlogged);
        let e = u.entry(reason).or_insert((0, None));
        e.0 += n;
        if error.is_some() {
            e.1 = error;
        }
    }

    /// Logs the drops counted since the last line, one line per reason.
    fn log_drops(&self) {
        let pending = std::mem::take(&mut *lock(&self.unlogged));
        for (reason, (n, error)) in pending {
            match error {
                Some(error) => {
                    tracing::warn!(exporter = %self.exporter, reason, spans = n, %error, "spans dropped")
                }
                None => {
                    tracing::warn!(exporter = %self.exporter, reason, spans = n, "spans dropped")
                }
            }
        }
    }

    fn set_queue_len(&self, n: usize) {
        self.stats.set_span_queue_len(n);
    }
}

/// The span processor: queues every ended span for [`SpanDelivery`].
#[derive(Clone)]
pub struct SpanQueue {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SpanQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanQueue")
            .field("exporter", &self.shared.exporter)
            .field("capacity", &self.shared.capacity)
            .finish()
    }
}

impl SpanProcessor for SpanQueue {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            s.drop_spans("shutdown", 1, None);
            return;
        }
        let (len, dropped) = {
            let mut q = lock(&s.queue);
            let dropped = if q.len() >= s.capacity {
                q.pop_front();
                true
            } else {
                false
            };
            q.push_back(span);
            (q.len(), dropped)
        };
        s.set_queue_len(len);
        if dropped {
            s.drop_spans("queue_full", 1, None);
        }
        // The first span wakes the sender, which sleeps without a timer while nothing waits.
        if len >= MAX_BATCH || len == 1 {
            s.wake.notify_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Delivery is asynchronous; `SpanDelivery::drain` is the flush that waits.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        *lock(&self.shared.resource) = resource.into();
    }
}

/// Counts a request's retries as retried spans, apart from the batch counters and health
/// of the exporter's metrics.
struct SpanTally<'a> {
    stats: &'a ExporterStats,
    spans: usize,
}

impl Tally for SpanTally<'_> {
    fn retried(&self, _error: String) {
        self.stats.record_retried_spans(self.spans);
    }
    fn accepted(&self) {}
    fn exporter(&self) -> &ExporterStats {
        self.stats
    }
}

struct Sender {
    shared: Arc<Shared>,
    client: TraceServiceClient<Channel>,
    metadata: MetadataMap,
    cfg: OtlpConfig,
}

impl Sender {
    async fn run(self) {
        let s = self.shared.clone();
        let mut last_log = Instant::now();
        loop {
            let draining = s.draining.load(Ordering::Acquire);
            let batch: Vec<SpanData> = {
                let mut q = lock(&s.queue);
                let n = q.len().min(MAX_BATCH);
                let b = q.drain(..n).collect();
                s.in_flight.store(n, Ordering::Release);
                s.set_queue_len(q.len());
                b
            };
            if !batch.is_empty() {
                self.send(batch).await;
                s.in_flight.store(0, Ordering::Release);
            }
            if last_log.elapsed() >= DROP_LOG_EVERY {
                s.log_drops();
                last_log = Instant::now();
            }
            let queued = lock(&s.queue).len();
            if draining && queued == 0 {
                return;
            }
            if !draining && queued < MAX_BATCH {
                if queued == 0 {
                    // An idle agent's spans come once a cycle: no wakeup every second for
                    // an empty queue. A span or the drain wakes this (a permit is kept if
                    // it came since the queue was read).
                    if lock(&s.unlogged).is_empty() {
                        s.wake.notified().await;
                    } else {
                        // Drops not logged yet are logged on time, queue empty or not.
                        tokio::select! {
                            _ = s.wake.notified() => {}
                            _ = tokio::time::sleep_until(last_log + DROP_LOG_EVERY) => continue,
                        }
                    }
                    if s.draining.load(Ordering::Acquire) {
                        continue;
                    }
                }
                // Spans ending together (a cycle's) share a request.
                tokio::select! {
                    _ = s.wake.notified() => {}
                    _ = tokio::time::sleep(FLUSH_EVERY) => {}
                }
            }
        }
    }

    async fn send(&self, batch: Vec<SpanData>) {
        let s = &self.shared;
        let n = batch.len();
        let req = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &lock(&s.resource)),
        };
        let to = Destination {
            exporter: &s.exporter,
            endpoint: &self.cfg.endpoint,
        };
        let tally = SpanTally {
            stats: &s.stats,
            spans: n,
        };
        let result = retry_loop(to, &self.cfg.retry_on_failure, &tally, || {
            let mut r = tonic::Request::new(req.clone());
            *r.metadata_mut() = self.metadata.clone();
            r.set_timeout(self.cfg.timeout);
            let mut client = self.client.clone();
            async move {
                client
                    .export(r)
                    .await
                    .map(|resp| resp.into_inner().partial_success)
            }
        })
        .await;
        match result {
            Ok(()) => s.stats.record_sent_spans(n),
            Err(e) => s.drop_spans(e.kind, n as u64, Some(e.message)),
        }
    }
}

/// The task delivering the queued spans.
pub struct SpanDelivery {
    shared: Arc<Shared>,
    worker: JoinHandle<()>,
}

impl SpanDelivery {
    /// Sends what is queued (retrying as configured) for at most `within`; what is left
    /// then is dropped, counted and logged. Spans ended afterwards are counted as dropped.
    pub async fn drain(mut self, within: Duration) {
        let s = self.shared.clone();
        s.draining.store(true, Ordering::Release);
        s.wake.notify_one();
        if tokio::time::timeout(within, &mut self.worker)
            .await
            .is_err()
        {
            self.worker.abort();
            let _ = (&mut self.worker).await;
            let queued = {
                let mut q = lock(&s.queue);
                let n = q.len();
                q.clear();
                n
            };
            let left = queued + s.in_flight.swap(0, Ordering::AcqRel);
            s.set_queue_len(0);
            s.drop_spans(
                "shutdown",
                left as u64,
                Some(format!("shutdown deadline of {within:?} reached")),
            );
        }
        s.closed.store(true, Ordering::Release);
        // Spans that ended while the worker was finishing: too late to send.
        let late = std::mem::take(&mut *lock(&s.queue)).len();
        s.set_queue_len(0);
        s.drop_spans("shutdown", late as u64, None);
        s.log_drops();
    }
}

/// The span processor and the task behind it, for exporter `name`. Must be called inside a
/// Tokio runtime.
pub fn span_delivery(
    name: &str,
    cfg: &OtlpConfig,
    stats: &PipelineStats,
) -> Result<(SpanQueue, SpanDelivery), BuildError> {
    let mut client = TraceServiceClient::new(channel(cfg)?);
    if cfg.compression == Compression::Gzip {
        client = client
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip);
    }
    let capacity = cfg.sending_queue.span_queue_size.max(1);
    let exporter_stats = stats.register_exporter(name, cfg.sending_queue.queue_size);
    exporter_stats.set_carries_spans(capacity);
    let shared = Arc::new(Shared {
        exporter: name.to_owned(),
        queue: Mutex::new(VecDeque::new()),
        capacity,
        in_flight: AtomicUsize::new(0),
        wake: Notify::new(),
        draining: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        resource: Mutex::new(ResourceAttributesWithSchema::default()),
        stats: exporter_stats,
        unlogged: Mutex::new(BTreeMap::new()),
    });
    let sender = Sender {
        shared: shared.clone(),
        client,
        metadata: metadata(cfg)?,
        cfg: cfg.clone(),
    };
    let worker = tokio::spawn(sender.run());
    Ok((
        SpanQueue {
            shared: shared.clone(),
        },
        SpanDelivery { shared, worker },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    /// A queue with no delivery task behind it, so that nothing leaves it during the test.
    fn queue(capacity: usize) -> (SpanQueue, Arc<ExporterStats>) {
        let exporter_stats = PipelineStats::new().register_exporter("otlp", 10);
        exporter_stats.set_carries_spans(capacity);
        let q = SpanQueue {
            shared: Arc::new(Shared {
                exporter: "otlp".into(),
                queue: Mutex::new(VecDeque::new()),
                capacity,
                in_flight: AtomicUsize::new(0),
                wake: Notify::new(),
                draining: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                resource: Mutex::new(ResourceAttributesWithSchema::default()),
                stats: exporter_stats.clone(),
                unlogged: Mutex::new(BTreeMap::new()),
            }),
        };
        (q, exporter_stats)
    }

    #[test]
    fn a_full_queue_drops_its_oldest_spans_and_counts_them() {
        let (q, stats) = queue(3);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(q.clone())
            .build();
        let tracer = provider.tracer("test");
        for i in 0..5 {
            tracer.start(format!("span {i}")).end();
        }
        let names: Vec<String> = lock(&q.shared.queue)
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(names, ["span 2", "span 3", "span 4"]);
        let counts = stats.span_counts();
        assert_eq!(counts.queue_len, 3);
        assert_eq!(counts.dropped.get("queue_full"), Some(&2));
        // Counted once, logged once.
        assert_eq!(
            lock(&q.shared.unlogged).get("queue_full").map(|e| e.0),
            Some(2)
        );
        q.shared.log_drops();
        assert!(lock(&q.shared.unlogged).is_empty());
    }

    #[test]
    fn spans_ended_after_the_delivery_stopped_are_counted_as_dropped() {
        let (q, stats) = queue(3);
        q.shared.closed.store(true, Ordering::Release);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(q.clone())
            .build();
        provider.tracer("test").start("late").end();
        assert!(lock(&q.shared.queue).is_empty());
        assert_eq!(stats.span_counts().dropped.get("shutdown"), Some(&1));
    }
}
