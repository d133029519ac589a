//! The endpoint against hostile-but-fair clients, over real loopback sockets: scrapers that
//! never read, more connections than allowed, gzip scrapes right after a snapshot, and a
//! flood of wrong passwords.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use exporter_prometheus::registry::Format;
use exporter_prometheus::{PrometheusConfig, PrometheusExporter};
use pipeline::http_server::Chunk;
use pipeline::{Batch, Exporter, MetricDesc, PipelineStats, SnapshotBuilder, kv, resource, scope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config() -> PrometheusConfig {
    PrometheusConfig {
        endpoint: "127.0.0.1:0".into(),
        ..PrometheusConfig::default()
    }
}

/// `series` gauges with a long label each: a body of several megabytes, more than the
/// socket buffers of a client that never reads can take.
fn big_batch(series: usize, value: i64) -> Arc<Batch> {
    let mut b = SnapshotBuilder::new(
        resource([kv("service.name", "ecs-otel-agent")]),
        scope("ecs-otel-agent/test", "0.1.0"),
        SystemTime::now(),
    );
    let desc = MetricDesc::new("emcecs.bucket.storage", "By", "Bytes stored in the bucket");
    let pad = "p".repeat(400);
    for i in 0..series {
        b.gauge(&desc, value, [kv("bucket", format!("{pad}-{i}"))]);
    }
    Arc::new(Batch::new("ecs/big".into(), vec![b.build()]))
}

async fn send_get(addr: SocketAddr, headers: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small window so that the server's writes block soon.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes())
        .await
        .unwrap();
    s
}

/// A whole response over a fresh connection: status and body.
async fn get(addr: SocketAddr, headers: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&raw[9..12]).parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

/// Whether nothing but `page` holds the page's buffers any more.
fn released(page: &[Chunk]) -> bool {
    page.iter().all(|c| match c {
        Chunk::Bytes(b) => b.is_unique(),
        Chunk::Packed(p) => Arc::strong_count(p) == 1,
    })
}

/// Waits for `cond`, polling, failing after `limit`.
async fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_pinned_by_clients_that_never_read_is_released_after_the_write_timeout() {
    let stats = PipelineStats::new();
    let cfg = PrometheusConfig {
        write_timeout: Duration::from_millis(500),
        ..config()
    };
    let exp = PrometheusExporter::start("prometheus", &cfg, stats.clone())
        .await
        .unwrap();
    exp.export(big_batch(20_000, 1)).await.unwrap();
    let addr = exp.local_addr();
    // The page's buffers, as shared with every response that serves them.
    let page = exp.served().body(Format::Text, false).to_vec();

    let mut stuck = Vec::new();
    for _ in 0..3 {
        let mut s = send_get(addr, "").await;
        // The status line only: the response has begun, with this page.
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        stuck.push(s);
    }
    // A new snapshot: from now on only the stuck responses hold the old page.
    exp.export(big_batch(20_000, 2)).await.unwrap();
    eventually(Duration::from_secs(10), "the old page released", || {
        released(&page)
    })
    .await;
    assert_eq!(
        stats
            .closed_connections()
            .get(&("prometheus".into(), "write_timeout")),
        Some(&3)
    );
    // Their connections are closed: reading drains what the kernel had, then ends.
    for mut s in stuck {
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut sink))
            .await
            .expect("the server closed the connection");
        assert!(sink.len() < 20_000 * 400, "the response was cut off");
    }
    // A client that reads still gets the whole page.
    let (status, body) = get(addr, "").await;
    assert_eq!(status, 200);
    assert_eq!(body, exp.served().body_bytes(Format::Text, false));
    exp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superseded_page_is_released_by_clients_that_stopped_reading_not_by_slow_readers() {
    let stats = PipelineStats::new();
    let stall = Duration::from_secs(2);
    let cfg = PrometheusConfig {
        // Far beyond the test: only the stall rule may cut anyone here.
        write_timeout: Duration::from_secs(600),
        stall_timeout: stall,
        ..config()
    };
    let exp = PrometheusExporter::start("prometheus", &cfg, stats.clone())
        .await
        .unwrap();
    // About 20 MB: several times what the kernel's socket buffers hold.
    let series = 50_000;
    exp.export(big_batch(series, 1)).await.unwrap();
    let addr = exp.local_addr();
    let old_body = exp.served().body_bytes(Format::Text, false);
    let page = exp.served().body(Format::Text, false).to_vec();

    let mut stuck = Vec::new();
    for _ in 0..2 {
        let mut s = send_get(addr, "").await;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        stuck.push(s);
    }
    // While their page is the one served, stuck clients cost nothing extra: nobody is cut.
    tokio::time::sleep(stall * 2).await;
    assert_eq!(
        stats
            .closed_connections()
            .get(&("prometheus".into(), "stalled")),
        None
    );

    // A reader that keeps reading, slowly: the kernel tells the server of its progress in
    // steps of about half a send buffer (megabytes), each well within the stall timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let mut slow = socket.connect(addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    slow.read_exact(&mut head).await.unwrap();
    let slow_reader = tokio::spawn(async move {
        let mut raw = head.to_vec();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // At most 64 KB per 10 ms: about 6 MB/s, a few seconds for the page.
            tokio::time::sleep(Duration::from_millis(10)).await;
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
        raw
    });

    exp.export(big_batch(series, 2)).await.unwrap();
    assert!(
        !slow_reader.is_finished(),
        "the slow reader must still be reading when its page is superseded"
    );
    eventually(Duration::from_secs(10), "the stuck clients cut", || {
        stats
            .closed_connections()
            .get(&("prometheus".into(), "stalled"))
            .is_some_and(|n| *n >= 2)
    })
    .await;
    let raw = tokio::time::timeout(Duration::from_secs(60), slow_reader)
        .await
        .expect("the slow reader finished")
        .unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert_eq!(
        &raw[split + 4..],
        &old_body[..],
        "the slow reader was cut off"
    );
    assert_eq!(
        stats
            .closed_connections()
            .get(&("prometheus".into(), "stalled")),
        Some(&2)
    );
    // Once the slow reader is done, nothing holds the old page.
    eventually(Duration::from_secs(10), "the old page released", || {
        released(&page)
    })
    .await;
    drop(stuck);
    exp.shutdown().await;
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_and_counted() {
    let stats = PipelineStats::new();
    let cfg = PrometheusConfig {
        max_connections: 2,
        ..config()
    };
    let exp = PrometheusExporter::start("prometheus", &cfg, stats.clone())
        .await
        .unwrap();
    exp.export(big_batch(10, 1)).await.unwrap();
    let addr = exp.local_addr();
    // Two connections that send nothing hold both slots (accepted in order).
    let first = TcpStream::connect(addr).await.unwrap();
    let _second = TcpStream::connect(addr).await.unwrap();
    // The third is answered 503 and closed at once (it sends nothing, so that closing a
    // socket with an unread request cannot reset it before the answer is read).
    let mut third = TcpStream::connect(addr).await.unwrap();
    let mut answer = Vec::new();
    third.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        stats
            .closed_connections()
            .get(&("prometheus".into(), "connection_limit")),
        Some(&1)
    );
    // A slot comes back when a connection ends.
    drop(first);
    let mut served = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !served {
        assert!(tokio::time::Instant::now() < deadline, "no slot came back");
        served = get(addr, "").await.0 == 200;
        if !served {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    exp.shutdown().await;
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn gzip_is_made_when_a_snapshot_arrives_not_by_the_next_scrape() {
    let exp = PrometheusExporter::start("prometheus", &config(), PipelineStats::new())
        .await
        .unwrap();
    let addr = exp.local_addr();
    exp.export(big_batch(100, 1)).await.unwrap();
    let om = "Accept: application/openmetrics-text;version=1.0.0\r\nAccept-Encoding: gzip\r\n";
    // Scrapers ask for OpenMetrics with gzip; nobody asked for text with gzip.
    assert_eq!(get(addr, om).await.0, 200);
    exp.export(big_batch(100, 2)).await.unwrap();
    let served = exp.served();
    assert!(served.body_bytes(Format::Text, false).ends_with(b" 2\n"));
    assert!(
        served.is_ready(Format::OpenMetrics, true),
        "gzip made on arrival"
    );
    assert!(
        !served.is_ready(Format::Text, true),
        "only what scrapers ask for"
    );
    // The same bytes, whatever the encoding.
    let (_, gz) = get(addr, om).await;
    assert_eq!(
        gunzip(&gz),
        served.body_bytes(Format::OpenMetrics, false).to_vec()
    );
    let (_, gz_text) = get(addr, "Accept-Encoding: gzip\r\n").await;
    let (_, text) = get(addr, "").await;
    assert_eq!(gunzip(&gz_text), text);
    exp.shutdown().await;
}

#[tokio::test]
async fn wrong_passwords_are_counted_then_refused_without_bcrypt() {
    let stats = PipelineStats::new();
    let hash = bcrypt::hash("scrape-secret", 4).unwrap();
    let cfg = PrometheusConfig {
        basic_auth_users: [("prometheus".to_owned(), hash)].into(),
        ..config()
    };
    let exp = PrometheusExporter::start("prometheus", &cfg, stats.clone())
        .await
        .unwrap();
    exp.export(big_batch(10, 1)).await.unwrap();
    let addr = exp.local_addr();
    let auth = |p: &str| {
        format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{p}"))
        )
    };
    // The real scraper first, then a client guessing from the same address.
    assert_eq!(get(addr, &auth("scrape-secret")).await.0, 200);
    let mut statuses = Vec::new();
    for i in 0..20 {
        statuses.push(get(addr, &auth(&format!("guess-{i}"))).await.0);
    }
    let refused_401 = statuses.iter().filter(|s| **s == 401).count();
    let refused_429 = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (refused_401, refused_429),
        (5, 15),
        "a burst of bcrypt checks, then refusals without: {statuses:?}"
    );
    // The same wrong password again is remembered, not rate limited.
    assert_eq!(get(addr, &auth("guess-0")).await.0, 401);
    assert_eq!(get(addr, "").await.0, 401);
    let failures = stats.auth_failures();
    let n = |r: &'static str| failures.get(&("prometheus".into(), r)).copied();
    assert_eq!(n("wrong_credentials"), Some(6));
    assert_eq!(n("rate_limited"), Some(15));
    assert_eq!(n("no_credentials"), Some(1));
    // The real scraper is unaffected.
    assert_eq!(get(addr, &auth("scrape-secret")).await.0, 200);
    exp.shutdown().await;
}
