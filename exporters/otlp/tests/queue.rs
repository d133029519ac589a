//! The OTLP exporter against a real OTLP receiver (rotel): what happens to batches while
//! the receiver is down, when it comes back, and when the queue overflows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use exporter_otlp::config::RetryConfig;
use exporter_otlp::{OtlpConfig, OtlpExporter};
use pipeline::fanout::Fanout;
use pipeline::{Batch, MetricDesc, PipelineStats, SnapshotBuilder, kv, resource, scope};
use testkit::{Rotel, free_port, wait_until};

const MARK: MetricDesc<'static> = MetricDesc::new(
    "queue.test.mark",
    "1",
    "One point per batch, tagged with its sequence number",
);

fn batch(seq: u64) -> Arc<Batch> {
    let mut b = SnapshotBuilder::new(
        resource([kv("service.name", "queue-test")]),
        scope("queue-test", "1"),
        SystemTime::now(),
    );
    b.gauge(&MARK, seq as i64, [kv("seq", format!("batch-{seq:03}"))]);
    let mut batch = Batch::new("receiver".into(), vec![b.build()]);
    batch.seq = seq;
    Arc::new(batch)
}

/// The batch marks rotel has printed.
fn delivered(rotel: &Rotel) -> Vec<u64> {
    let out = rotel.output();
    let mut seqs: Vec<u64> = (1..=50)
        .filter(|s| out.contains(&format!("batch-{s:03}")))
        .collect();
    seqs.dedup();
    seqs
}

fn config(port: u16, queue_size: usize) -> OtlpConfig {
    OtlpConfig {
        endpoint: format!("http://127.0.0.1:{port}"),
        timeout: Duration::from_secs(2),
        sending_queue: exporter_otlp::config::SendingQueue {
            queue_size,
            ..Default::default()
        },
        retry_on_failure: RetryConfig {
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(300),
            max_elapsed_time: Duration::from_secs(120),
            ..RetryConfig::default()
        },
        ..OtlpConfig::default()
    }
}

fn exporter_counts(stats: &PipelineStats) -> pipeline::stats::ExporterCounts {
    let map: HashMap<_, _> = stats.exporters().into_iter().collect();
    map["otlp"].counts()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_wait_while_the_receiver_is_down_and_arrive_when_it_is_back() {
    let port = free_port();
    let stats = PipelineStats::new();
    let cfg = config(port, 10);
    let exporter = Arc::new(OtlpExporter::new("otlp", &cfg, &stats).unwrap());
    let fanout = Fanout::builder(stats.clone())
        .exporter("otlp", exporter, cfg.sending_queue.queue_size)
        .route("receiver", &["otlp".into()])
        .start();

    // Nobody listens yet: the first batch is retried, the others wait in the queue.
    for seq in 1..=5 {
        fanout.dispatch(batch(seq));
    }
    let s = stats.clone();
    tokio::task::spawn_blocking(move || {
        wait_until(
            Duration::from_secs(10),
            "retries while the receiver is down",
            || exporter_counts(&s).retries >= 2,
        )
    })
    .await
    .unwrap();
    let c = exporter_counts(&stats);
    assert_eq!(c.sent_batches, 0);
    assert_eq!(c.queue_len, 4, "one batch in hand, four waiting");
    assert_eq!(c.dropped_batches, 0);

    // The receiver comes up: everything queued arrives, nothing lost.
    let rotel = tokio::task::spawn_blocking(move || Rotel::start(port))
        .await
        .unwrap();
    let s = stats.clone();
    let rotel = tokio::task::spawn_blocking(move || {
        wait_until(
            Duration::from_secs(30),
            "all five batches delivered",
            || exporter_counts(&s).sent_batches == 5,
        );
        wait_until(Duration::from_secs(10), "rotel to print all five", || {
            delivered(&rotel).len() == 5
        });
        rotel
    })
    .await
    .unwrap();
    assert_eq!(
        delivered(&rotel),
        vec![1, 2, 3, 4, 5],
        "rotel output:\n{}",
        rotel.output()
    );
    assert_eq!(exporter_counts(&stats).dropped_batches, 0);
    fanout.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_oldest_and_counts_them() {
    let port = free_port();
    let stats = PipelineStats::new();
    let cfg = config(port, 3);
    let exporter = Arc::new(OtlpExporter::new("otlp", &cfg, &stats).unwrap());
    let fanout = Fanout::builder(stats.clone())
        .exporter("otlp", exporter, cfg.sending_queue.queue_size)
        .route("receiver", &["otlp".into()])
        .start();

    fanout.dispatch(batch(1));
    let s = stats.clone();
    tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(10), "batch 1 in the retry loop", || {
            exporter_counts(&s).retries >= 1
        })
    })
    .await
    .unwrap();
    // Batch 1 is in hand; 2..=9 go through a queue of 3: 2..=6 are dropped, 7..=9 kept.
    for seq in 2..=9 {
        fanout.dispatch(batch(seq));
    }
    let c = exporter_counts(&stats);
    assert_eq!(c.dropped_batches, 5);
    assert_eq!(c.queue_len, 3);

    let rotel = tokio::task::spawn_blocking(move || Rotel::start(port))
        .await
        .unwrap();
    let s = stats.clone();
    let rotel = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(30), "four batches delivered", || {
            exporter_counts(&s).sent_batches == 4
        });
        wait_until(Duration::from_secs(10), "rotel to print them", || {
            delivered(&rotel).len() == 4
        });
        rotel
    })
    .await
    .unwrap();
    assert_eq!(
        delivered(&rotel),
        vec![1, 7, 8, 9],
        "rotel output:\n{}",
        rotel.output()
    );
    fanout.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_split_under_the_receivers_message_limit() {
    let port = free_port();
    let rotel = tokio::task::spawn_blocking(move || Rotel::start(port))
        .await
        .unwrap();
    let stats = PipelineStats::new();
    let cfg = OtlpConfig {
        compression: exporter_otlp::config::Compression::None,
        ..config(port, 10)
    };
    let exporter = OtlpExporter::new("otlp", &cfg, &stats).unwrap();
    // ~60k points with long labels: well over rotel's 4 MiB default message limit.
    let mut b = SnapshotBuilder::new(
        resource([kv("service.name", "split-test")]),
        scope("split-test", "1"),
        SystemTime::now(),
    );
    for i in 0..60_000u64 {
        b.gauge(
            &MetricDesc::new("emcecs.bucket.storage", "By", "Stored"),
            i,
            [
                kv(
                    "bucket",
                    format!("a-rather-long-bucket-name-for-the-test-{i:06}"),
                ),
                kv("namespace", "tenant-namespace-1"),
            ],
        );
    }
    let batch = Arc::new(Batch::new("big".into(), vec![b.build()]));
    let size = prost::Message::encoded_len(
        &pipeline::otlp::collector::metrics::v1::ExportMetricsServiceRequest {
            resource_metrics: batch.resource_metrics.iter().map(|r| r.to_otlp()).collect(),
        },
    );
    assert!(size > 4 << 20, "test batch is only {size} bytes");
    let parts =
        exporter_otlp::split::Splitter::new(&batch.resource_metrics, cfg.max_request_bytes).count();
    assert!(parts > 1, "the splitter made {parts} request");
    pipeline::Exporter::export(&exporter, batch).await.unwrap();
    // Each part was its own request, and rotel took every one.
    let c = exporter_counts(&stats);
    assert_eq!(c.sent_requests, parts as u64);
    assert_eq!(c.retries, 0);
    tokio::task::spawn_blocking(move || {
        wait_until(
            Duration::from_secs(60),
            "rotel to print the last point",
            || {
                rotel
                    .output()
                    .contains("a-rather-long-bucket-name-for-the-test-059999")
            },
        );
        assert!(
            rotel
                .output()
                .contains("a-rather-long-bucket-name-for-the-test-000000"),
            "first point missing"
        );
    })
    .await
    .unwrap();
}
