//! The running endpoint: negotiation, gzip, basic auth, expiry by timer, and promtool's
//! verdict on what it serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use exporter_prometheus::{PrometheusConfig, PrometheusExporter};
use pipeline::{
    Batch, Exporter, HistogramValue, MetricDesc, PipelineStats, SnapshotBuilder, kv, resource,
    scope,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A plain HTTP/1.1 GET over a fresh connection.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn config() -> PrometheusConfig {
    PrometheusConfig {
        endpoint: "127.0.0.1:0".into(),
        ..PrometheusConfig::default()
    }
}

fn sample_batch(source: &str, value: i64) -> Arc<Batch> {
    let mut b = SnapshotBuilder::new(
        resource([
            kv("service.name", "ecs-otel-agent"),
            kv("service.instance.id", "host-1"),
            kv("host.arch", "x86_64"),
        ]),
        scope("ecs-otel-agent/test", "0.1.0"),
        SystemTime::now(),
    );
    b.gauge(
        &MetricDesc::new("emcecs.bucket.storage", "By", "Bytes stored in the bucket"),
        value,
        [kv("namespace", "ns1"), kv("bucket", "b1")],
    );
    b.counter(
        &MetricDesc::new("emcecs.namespace.ingress", "By", "Bytes written"),
        10,
        UNIX_EPOCH,
        [kv("namespace", "ns1")],
    );
    b.gauge(
        &MetricDesc::new("emcecs.capacity.used", "1", "Used fraction"),
        0.25,
        [],
    );
    let h = HistogramValue {
        bounds: &[0.1, 1.0],
        counts: &[1, 2, 3],
        sum: 9.5,
        min: Some(0.05),
        max: Some(4.0),
    };
    b.histogram(
        &MetricDesc::new("ecs_otel_agent.receiver.run.duration", "s", "Run time"),
        &h,
        UNIX_EPOCH,
        [kv("receiver", "self")],
    );
    Arc::new(Batch::new(source.into(), vec![b.build()]))
}

#[tokio::test]
async fn text_by_default_openmetrics_on_request() {
    let exp = PrometheusExporter::start("prometheus", &config(), PipelineStats::new())
        .await
        .unwrap();
    exp.export(sample_batch("r", 5)).await.unwrap();
    let addr = exp.local_addr();

    let plain = get(addr, "/metrics", &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = String::from_utf8(plain.body).unwrap();
    assert!(
        body.contains("emcecs_bucket_storage_bytes{bucket=\"b1\",namespace=\"ns1\""),
        "{body}"
    );
    assert!(!body.contains("# EOF"));

    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = get(addr, "/metrics", &[("Accept", accept)]).await;
    assert_eq!(
        om.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let body = String::from_utf8(om.body).unwrap();
    assert!(
        body.contains("# TYPE emcecs_namespace_ingress_bytes counter"),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    exp.shutdown().await;
}

#[tokio::test]
async fn gzip_when_asked() {
    let exp = PrometheusExporter::start("prometheus", &config(), PipelineStats::new())
        .await
        .unwrap();
    exp.export(sample_batch("r", 5)).await.unwrap();
    let r = get(exp.local_addr(), "/metrics", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(r.headers["content-encoding"], "gzip");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("emcecs_bucket_storage_bytes{"), "{text}");
    let plain = get(exp.local_addr(), "/metrics", &[]).await;
    assert!(!plain.headers.contains_key("content-encoding"));
    assert_eq!(plain.body, text.as_bytes());
    exp.shutdown().await;
}

#[tokio::test]
async fn basic_auth_refuses_without_credentials() {
    let hash = bcrypt::hash("scrape-secret", 4).unwrap();
    let cfg = PrometheusConfig {
        basic_auth_users: [("prometheus".to_owned(), hash)].into(),
        ..config()
    };
    let exp = PrometheusExporter::start("prometheus", &cfg, PipelineStats::new())
        .await
        .unwrap();
    exp.export(sample_batch("r", 5)).await.unwrap();
    let addr = exp.local_addr();
    let none = get(addr, "/metrics", &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.headers["www-authenticate"],
        "Basic realm=\"ecs-otel-agent\""
    );
    assert!(!String::from_utf8_lossy(&none.body).contains("emcecs"));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let wrong = get(
        addr,
        "/metrics",
        &[(
            "Authorization",
            &format!("Basic {}", b64("prometheus:nope")),
        )],
    )
    .await;
    assert_eq!(wrong.status, 401);
    let ok = get(
        addr,
        "/metrics",
        &[(
            "Authorization",
            &format!("Basic {}", b64("prometheus:scrape-secret")),
        )],
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(String::from_utf8_lossy(&ok.body).contains("emcecs_bucket_storage_bytes"));
    exp.shutdown().await;
}

#[tokio::test]
async fn other_paths_and_methods() {
    let exp = PrometheusExporter::start("prometheus", &config(), PipelineStats::new())
        .await
        .unwrap();
    assert_eq!(get(exp.local_addr(), "/nope", &[]).await.status, 404);
    let mut s = tokio::net::TcpStream::connect(exp.local_addr())
        .await
        .unwrap();
    s.write_all(
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 405"), "{raw}");
    exp.shutdown().await;
}

#[tokio::test]
async fn a_silent_source_expires_on_the_timer_with_nobody_scraping() {
    let stats = PipelineStats::new();
    let cfg = PrometheusConfig {
        metric_expiration: Duration::from_millis(300),
        ..config()
    };
    let exp = PrometheusExporter::start("prometheus", &cfg, stats.clone())
        .await
        .unwrap();
    let mut quiet = Batch::clone(&sample_batch("quiet", 1));
    quiet.interval = Duration::from_millis(50);
    exp.export(Arc::new(quiet)).await.unwrap();
    assert!(stats.series().contains_key("quiet"));
    // Nobody scrapes; the registry itself must drop the source.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while exp.exposition().series() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "source never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!stats.series().contains_key("quiet"));
    let body = get(exp.local_addr(), "/metrics", &[]).await.body;
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));
    exp.shutdown().await;
}

/// A source stays for max(metric_expiration, 2 × its interval) after its snapshot, to the
/// nanosecond, and its entry in the stats goes with it.
#[tokio::test]
async fn a_source_is_kept_for_the_expiration_or_two_of_its_own_intervals() {
    let s = Duration::from_secs;
    for (expiration, interval, kept) in [
        (s(100), s(60), s(120)),
        (s(300), s(60), s(300)),
        (s(300), s(150), s(300)),
        (Duration::from_millis(50), s(600), s(1200)),
    ] {
        let case = format!("metric_expiration {expiration:?}, interval {interval:?}");
        let stats = PipelineStats::new();
        let cfg = PrometheusConfig {
            metric_expiration: expiration,
            ..config()
        };
        let exp = PrometheusExporter::start("prometheus", &cfg, stats.clone())
            .await
            .unwrap();
        let mut batch = Batch::clone(&sample_batch("src", 1));
        batch.interval = interval;
        let t = Instant::now();
        exp.ingest_at(&batch, t);

        exp.expire_at(t + kept - Duration::from_nanos(1));
        assert!(exp.exposition().series() > 0, "{case}: expired early");
        assert!(stats.series().contains_key("src"), "{case}");

        exp.expire_at(t + kept);
        assert_eq!(exp.exposition().series(), 0, "{case}: still there");
        assert!(!stats.series().contains_key("src"), "{case}");
        exp.shutdown().await;
    }
}

#[tokio::test]
async fn a_new_snapshot_replaces_the_old_one() {
    let exp = PrometheusExporter::start("prometheus", &config(), PipelineStats::new())
        .await
        .unwrap();
    exp.export(sample_batch("r", 5)).await.unwrap();
    exp.export(sample_batch("r", 6)).await.unwrap();
    let body = String::from_utf8(get(exp.local_addr(), "/metrics", &[]).await.body).unwrap();
    assert_eq!(
        body.matches("emcecs_bucket_storage_bytes{").count(),
        1,
        "{body}"
    );
    assert!(body.contains("emcecs_bucket_storage_bytes{bucket=\"b1\",namespace=\"ns1\",instance=\"host-1\",job=\"ecs-otel-agent\",otel_scope_name=\"ecs-otel-agent/test\",otel_scope_version=\"0.1.0\"} 6\n"), "{body}");
    exp.shutdown().await;
}

/// promtool must accept what the endpoint serves: gauges, counters, ratios, histograms,
/// target_info.
#[tokio::test]
async fn promtool_accepts_the_exposition() {
    let exp = PrometheusExporter::start("prometheus", &config(), PipelineStats::new())
        .await
        .unwrap();
    exp.export(sample_batch("a", 5)).await.unwrap();
    exp.export(sample_batch("b", 7)).await.unwrap();
    let body = get(exp.local_addr(), "/metrics", &[]).await.body;
    let (ok, report) = testkit::promtool_check_metrics(&body);
    assert!(
        ok && report.is_empty(),
        "promtool: {report}\n---\n{}",
        String::from_utf8_lossy(&body)
    );
    exp.shutdown().await;
}

/// A batch of log records alone (the logs half of a cycle) is not a snapshot: waiting in
/// the queue, it does not replace the source's snapshot, and exported, it leaves the
/// source's series as they were.
#[tokio::test]
async fn a_batch_of_log_records_alone_leaves_the_series_alone() {
    use pipeline::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use pipeline::queue::BatchQueue;
    let stats = PipelineStats::new();
    let exp = PrometheusExporter::start("prometheus", &config(), stats.clone())
        .await
        .unwrap();
    let mut logs = Batch::new("r".into(), vec![]);
    logs.resource_logs = vec![ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord::default(); 2],
            ..Default::default()
        }],
        ..Default::default()
    }];
    let logs = Arc::new(logs);

    exp.export(sample_batch("r", 5)).await.unwrap();
    let before = exp.exposition().series();
    assert!(before > 0);
    exp.export(logs.clone()).await.unwrap();
    exp.ingest(&logs);
    assert_eq!(exp.exposition().series(), before);
    assert_eq!(stats.series()["r"], before as u64);

    let queue = BatchQueue::new(
        4,
        exp.queue_policy(),
        stats.register_exporter("prometheus", 4),
    );
    queue.push(sample_batch("r", 6));
    queue.push(logs);
    queue.close();
    while let Some(b) = queue.pop().await {
        exp.export(b).await.unwrap();
    }
    let body = String::from_utf8(get(exp.local_addr(), "/metrics", &[]).await.body).unwrap();
    let line = body
        .lines()
        .find(|l| l.starts_with("emcecs_bucket_storage_bytes{"))
        .unwrap_or_else(|| panic!("the series is gone:\n{body}"));
    assert!(line.ends_with(" 6"), "{line}");
    assert_eq!(exp.exposition().series(), before);
    exp.shutdown().await;
}

/// Many series of two sources with the same resource: `emcecs.bucket.storage` is a family
/// both expose, with the series of `shared` in both.
fn wide_batch(source: &str, buckets: std::ops::Range<usize>, at: SystemTime) -> Arc<Batch> {
    let mut b = SnapshotBuilder::new(
        resource([
            kv("service.name", "ecs-otel-agent"),
            kv("service.instance.id", "host-1"),
        ]),
        scope("ecs-otel-agent/test", "0.1.0"),
        at,
    );
    let storage = MetricDesc::new("emcecs.bucket.storage", "By", "Bytes stored in the bucket");
    let own_name = format!("emcecs.{}.objects", &source[4..]);
    let own = MetricDesc::new(&own_name, "1", "Objects");
    for i in buckets {
        let attrs = [
            kv("namespace", format!("ns{:04}", i % 97)),
            kv("bucket", format!("bucket-{i:06}")),
        ];
        b.gauge(&storage, (i * 4096) as i64, attrs.clone());
        b.gauge(&own, i as f64 / 7.0, attrs);
    }
    Arc::new(Batch::new(source.into(), vec![b.build()]))
}

/// Held lz4-packed, a page of many blocks is served byte for byte as the plain one: text
/// and OpenMetrics, gzip or not, with timestamps (OpenMetrics lines of their own) or not,
/// and a family two sources share written once.
#[tokio::test]
async fn a_packed_page_is_served_byte_for_byte_as_the_plain_one() {
    let at = UNIX_EPOCH + Duration::from_secs(1_781_524_950);
    let batches = [
        wide_batch("ecs/a", 0..6_000, at),
        wide_batch("ecs/b", 4_000..9_000, at),
        sample_batch("ecs/c", 7),
    ];
    let om = "application/openmetrics-text;version=1.0.0";
    for send_timestamps in [false, true] {
        let mut bodies = Vec::new();
        for page_compression in [
            exporter_prometheus::PageCompression::None,
            exporter_prometheus::PageCompression::Lz4,
        ] {
            let cfg = PrometheusConfig {
                send_timestamps,
                page_compression,
                ..config()
            };
            let exp = PrometheusExporter::start("prometheus", &cfg, PipelineStats::new())
                .await
                .unwrap();
            for b in &batches {
                exp.export(b.clone()).await.unwrap();
            }
            let addr = exp.local_addr();
            let mut got = Vec::new();
            for headers in [
                vec![],
                vec![("Accept", om)],
                vec![("Accept-Encoding", "gzip")],
                vec![("Accept", om), ("Accept-Encoding", "gzip")],
            ] {
                // A gzip body is made once asked for; until then the scrape is plain.
                let deadline = Instant::now() + Duration::from_secs(10);
                let r = loop {
                    let r = get(addr, "/metrics", &headers).await;
                    let gzip_asked = headers.iter().any(|(k, _)| *k == "Accept-Encoding");
                    if !gzip_asked || r.headers.contains_key("content-encoding") {
                        break r;
                    }
                    assert!(Instant::now() < deadline, "no gzip body");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                };
                assert_eq!(r.status, 200);
                let mut body = r.body;
                if r.headers.contains_key("content-encoding") {
                    let mut plain = Vec::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_end(&mut plain)
                        .unwrap();
                    body = plain;
                }
                got.push((r.headers["content-type"].clone(), body));
            }
            exp.shutdown().await;
            bodies.push(got);
        }
        let (plain, packed) = (&bodies[0], &bodies[1]);
        let text = String::from_utf8(plain[0].1.clone()).unwrap();
        assert!(
            text.len() > 20 * 64 * 1024,
            "{} bytes: too few blocks",
            text.len()
        );
        // Series 4000..6000 of the shared family come from both sources, written once.
        let shared = "emcecs_bucket_storage_bytes{bucket=\"bucket-005000\",";
        assert_eq!(text.matches(shared).count(), 1);
        // And `ecs/c`'s one bucket.
        assert_eq!(text.matches("emcecs_bucket_storage_bytes{").count(), 9_001);
        assert_eq!(text.contains(" 1781524950000\n"), send_timestamps);
        for (i, (p, q)) in plain.iter().zip(packed).enumerate() {
            assert_eq!(p.0, q.0, "content type of request {i}");
            assert!(
                p.1 == q.1,
                "body of request {i} differs (timestamps: {send_timestamps})"
            );
        }
    }
}

/// A family that several sources expose with series of their own (the same collector of
/// several clusters) stays packed in the exposition: nothing is unpacked to write it.
#[tokio::test]
async fn a_family_several_sources_expose_stays_packed() {
    let at = UNIX_EPOCH + Duration::from_secs(1_781_524_950);
    let exp = PrometheusExporter::start("prometheus", &config(), PipelineStats::new())
        .await
        .unwrap();
    exp.export(wide_batch("ecs/a", 0..6_000, at)).await.unwrap();
    exp.export(wide_batch("ecs/b", 10_000..16_000, at))
        .await
        .unwrap();
    let rope = exp
        .exposition()
        .body(exporter_prometheus::registry::Format::Text, false);
    let len: usize = rope.iter().map(|c| c.len()).sum();
    let held: usize = rope.iter().map(|c| c.held()).sum();
    assert!(len > 2 << 20, "{len} bytes");
    assert!(held * 5 < len, "{held} bytes held for a page of {len}");
    let text = String::from_utf8(get(exp.local_addr(), "/metrics", &[]).await.body).unwrap();
    assert_eq!(text.matches("emcecs_bucket_storage_bytes{").count(), 12_000);
    assert_eq!(
        text.matches("# TYPE emcecs_bucket_storage_bytes gauge")
            .count(),
        1
    );
    exp.shutdown().await;
}
