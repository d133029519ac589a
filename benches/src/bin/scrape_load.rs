//! The Prometheus endpoint under hostile-but-fair scrapers, on one large page:
//!
//!   scrape_load latency SERIES RATE SECONDS   gzip OpenMetrics scrapes at RATE per second,
//!                                             a new snapshot every 5 s; latency percentiles
//!   scrape_load stuck SERIES CLIENTS          CLIENTS scrapers that send GET /metrics and
//!                                             never read, a new snapshot after each; RSS
//!                                             before, while they hang (at once and past the
//!                                             stall timeout) and past the write timeout
//!
//!   scrape_load auth SERIES SECONDS           40 clients sending a wrong password as fast
//!                                             as they are answered, one authenticated
//!                                             scraper every second; CPU and its latency
//!   scrape_load arrival SERIES                what a snapshot's arrival costs before and
//!                                             after scrapers asked for gzip
//!
//! Prints key=value figures. Server and scrapers share the process (and its 2 cores here),
//! so latencies include the scrapers' own reading.

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{otlp_batch, rss};
use exporter_prometheus::{PrometheusConfig, PrometheusExporter};
use pipeline::{Exporter, PipelineStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

const OM_GZIP: &str = "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n";

/// One scrape over a fresh connection; its status and body size.
async fn scrape(addr: std::net::SocketAddr, headers: &str) -> std::io::Result<(u16, usize)> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n{headers}\r\n")
            .as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let status = std::str::from_utf8(raw.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, raw.len()))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

async fn start(series: usize) -> Arc<PrometheusExporter> {
    let cfg = PrometheusConfig {
        endpoint: "127.0.0.1:0".into(),
        max_series_per_metric: series,
        ..PrometheusConfig::default()
    };
    match PrometheusExporter::start("prometheus", &cfg, PipelineStats::new()).await {
        Ok(e) => e,
        Err(e) => panic!("start: {e}"),
    }
}

/// One large snapshot, built once per process so that building it does not compete with
/// the scrapes; every export renders it anew, as a new page.
fn batch(series: usize) -> Arc<pipeline::Batch> {
    static BATCH: std::sync::OnceLock<Arc<pipeline::Batch>> = std::sync::OnceLock::new();
    BATCH.get_or_init(|| Arc::new(otlp_batch(series))).clone()
}

/// A new snapshot, handled as the fan-out does: rendered, then the heap trimmed.
async fn snapshot(exporter: &PrometheusExporter, series: usize) {
    if let Err(e) = exporter.export(batch(series)).await {
        panic!("export: {e}");
    }
    pipeline::memory::release_free_memory();
}

async fn latency(series: usize, rate: u32, seconds: u64) {
    let exporter = start(series).await;
    snapshot(&exporter, series).await;
    let addr = exporter.local_addr();
    // Scrapers ask for gzip from the start, as Prometheus does.
    let _ = scrape(addr, OM_GZIP).await;
    let changer = {
        let exporter = exporter.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                snapshot(&exporter, series).await;
            }
        })
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut running = Vec::new();
    while Instant::now() < end {
        // Open loop: the time a request is due, not when it could be sent.
        let due = tick.tick().await.into_std();
        running.push(tokio::spawn(async move {
            let r = scrape(addr, OM_GZIP).await;
            (due.elapsed(), r)
        }));
    }
    changer.abort();
    let mut times = Vec::new();
    let mut errors = 0;
    let mut bytes = 0;
    for t in running {
        match t.await {
            Ok((d, Ok((200, n)))) => {
                times.push(d);
                bytes = n;
            }
            _ => errors += 1,
        }
    }
    times.sort();
    println!(
        "mode=latency series={series} rate={rate} seconds={seconds} requests={} errors={errors} gzip_response_mb={:.2} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} rss_mb={:.1} peak_rss_mb={:.1}",
        times.len(),
        mb(bytes as u64),
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
        mb(rss().0),
        mb(rss().1),
    );
}

async fn stuck(series: usize, clients: usize, same_page: bool) {
    let exporter = start(series).await;
    snapshot(&exporter, series).await;
    let addr = exporter.local_addr();
    for _ in 0..3 {
        let _ = scrape(addr, "").await;
    }
    // The steady state: a new snapshot has replaced the first.
    snapshot(&exporter, series).await;
    let _ = scrape(addr, "").await;
    let before = rss().0;
    let mut held = Vec::new();
    for _ in 0..clients {
        let socket = match tokio::net::TcpSocket::new_v4() {
            Ok(s) => s,
            Err(e) => panic!("socket: {e}"),
        };
        let _ = socket.set_recv_buffer_size(4096);
        let mut s = match socket.connect(addr).await {
            Ok(s) => s,
            Err(e) => panic!("connect: {e}"),
        };
        let _ = s
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
            .await;
        // The status line: the response has begun, pinning this page.
        let mut head = [0u8; 12];
        let _ = s.read_exact(&mut head).await;
        held.push(s);
        if !same_page {
            snapshot(&exporter, series).await;
        }
    }
    let hanging = Instant::now();
    pipeline::memory::release_free_memory();
    let during = rss().0;
    // Past the default stall timeout (5 s): the clients still hang, their pages are old.
    tokio::time::sleep(Duration::from_secs(6)).await;
    pipeline::memory::release_free_memory();
    let stalled = rss().0;
    // Past the default write timeout (30 s), then one more snapshot as the agent would get.
    tokio::time::sleep(Duration::from_secs(30)).await;
    snapshot(&exporter, series).await;
    let after = rss().0;
    println!(
        "mode=stuck series={series} clients={clients} new_page_per_client={} rss_before_mb={:.1} rss_hanging_mb={:.1} rss_hanging_6s_mb={:.1} rss_after_{}s_mb={:.1} increase_hanging_mb={:.1} increase_hanging_6s_mb={:.1} increase_after_mb={:.1} peak_rss_mb={:.1}",
        !same_page,
        mb(before),
        mb(during),
        mb(stalled),
        hanging.elapsed().as_secs(),
        mb(after),
        mb(during) - mb(before),
        mb(stalled) - mb(before),
        mb(after) - mb(before),
        mb(rss().1),
    );
    drop(held);
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (11 and 12 after the state).
    (ticks(11) + ticks(12)) / 100.0
}

async fn auth(series: usize, seconds: u64) {
    use base64::Engine;
    let hash = match bcrypt::hash("scrape-secret", 10) {
        Ok(h) => h,
        Err(e) => panic!("bcrypt: {e}"),
    };
    let cfg = PrometheusConfig {
        endpoint: "127.0.0.1:0".into(),
        max_series_per_metric: series,
        basic_auth_users: [("prometheus".to_owned(), hash)].into(),
        ..PrometheusConfig::default()
    };
    let exporter = match PrometheusExporter::start("prometheus", &cfg, PipelineStats::new()).await {
        Ok(e) => e,
        Err(e) => panic!("start: {e}"),
    };
    snapshot(&exporter, series).await;
    let addr = exporter.local_addr();
    let header = |p: &str| {
        format!(
            "Authorization: Basic {}\r\nAccept-Encoding: gzip\r\n",
            base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{p}"))
        )
    };
    let good = header("scrape-secret");
    let _ = scrape(addr, &good).await;
    let end = Instant::now() + Duration::from_secs(seconds);
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut attackers = Vec::new();
    for c in 0..40 {
        attackers.push(tokio::spawn(async move {
            let (mut n, mut limited) = (0u64, 0u64);
            while Instant::now() < end {
                // A new wrong password every time: nothing to remember.
                let wrong = format!(
                    "Authorization: Basic {}\r\n",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("prometheus:guess-{c}-{n}"))
                );
                if let Ok((429, _)) = scrape(addr, &wrong).await {
                    limited += 1;
                }
                n += 1;
            }
            (n, limited)
        }));
    }
    let mut times = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    while Instant::now() < end {
        tick.tick().await;
        let t = Instant::now();
        if let Ok((200, _)) = scrape(addr, &good).await {
            times.push(t.elapsed());
        }
    }
    let (mut tries, mut limited) = (0, 0);
    for a in attackers {
        if let Ok((n, l)) = a.await {
            tries += n;
            limited += l;
        }
    }
    let cpu = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64();
    times.sort();
    println!(
        "mode=auth series={series} seconds={seconds} wrong_attempts={tries} answered_429={limited} cpu_percent={:.0} good_scrapes={} good_p50_ms={:.1} good_p99_ms={:.1}",
        cpu * 100.0,
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
    );
}

async fn arrival(series: usize) {
    let exporter = start(series).await;
    let addr = exporter.local_addr();
    snapshot(&exporter, series).await;
    let _ = scrape(addr, "").await;
    let mut plain = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        snapshot(&exporter, series).await;
        plain.push(t.elapsed());
    }
    let _ = scrape(addr, "").await;
    let rss_plain = rss().0;
    // From now on every new page is compressed (OpenMetrics, as Prometheus asks) on arrival.
    let _ = scrape(addr, OM_GZIP).await;
    let mut gz = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        snapshot(&exporter, series).await;
        gz.push(t.elapsed());
    }
    let _ = scrape(addr, OM_GZIP).await;
    let rss_gz = rss().0;
    let ms = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    let gz_size = exporter
        .exposition()
        .body_bytes(exporter_prometheus::registry::Format::OpenMetrics, true)
        .len();
    println!(
        "mode=arrival series={series} arrival_ms_identity_only={:.1} arrival_ms_with_gzip={:.1} gzip_body_mb={:.2} rss_identity_only_mb={:.1} rss_with_gzip_mb={:.1}",
        ms(&mut plain),
        ms(&mut gz),
        mb(gz_size as u64),
        mb(rss_plain),
        mb(rss_gz),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| -> u64 {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    match args.get(1).map(String::as_str) {
        Some("latency") => rt.block_on(latency(
            arg(2, 262_144) as usize,
            arg(3, 200) as u32,
            arg(4, 30),
        )),
        Some("auth") => rt.block_on(auth(arg(2, 262_144) as usize, arg(3, 20))),
        Some("arrival") => rt.block_on(arrival(arg(2, 262_144) as usize)),
        Some("stuck") => {
            let same = args.get(4).is_some_and(|s| s == "same-page");
            rt.block_on(stuck(arg(2, 262_144) as usize, arg(3, 11) as usize, same))
        }
        _ => {
            eprintln!(
                "usage: scrape_load latency SERIES RATE SECONDS | stuck SERIES CLIENTS [same-page]"
            );
            std::process::exit(2);
        }
    }
}
