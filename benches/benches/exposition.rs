//! /metrics for 10k, 100k and 300k series: our exporter (render on arrival, assemble once
//! per change, serve shared chunks) against the opentelemetry-prometheus 0.33 bridge
//! holding the same data (which collects and encodes on every scrape).
//!
//!   cargo bench -p benches --bench exposition

use std::collections::hash_map::RandomState;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use benches::{Bridge, otlp_batch};
use criterion::{Criterion, criterion_group, criterion_main};
use exporter_prometheus::registry::{Format, Registry};
use exporter_prometheus::render::{RenderOptions, render};
use exporter_prometheus::{PageCompression, PrometheusConfig, PrometheusExporter};
use pipeline::{Exporter, PipelineStats};

const SIZES: [usize; 3] = [10_000, 100_000, 300_000];

/// A full scrape over loopback HTTP, body read to the end and discarded.
fn http_scrape(addr: SocketAddr, gzip: bool) -> usize {
    let mut s = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => panic!("connect: {e}"),
    };
    let enc = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    let req = format!("GET /metrics HTTP/1.1\r\nHost: bench\r\n{enc}Connection: close\r\n\r\n");
    if let Err(e) = s.write_all(req.as_bytes()) {
        panic!("write: {e}");
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn exposition(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let opts = RenderOptions {
        pack: false,
        ..RenderOptions::default()
    };
    let hasher = RandomState::new();
    for &n in &SIZES {
        let mut g = c.benchmark_group(format!("series_{n}"));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(if n >= 100_000 { 15 } else { 5 }));
        let batch = Arc::new(otlp_batch(n));

        // What a snapshot costs when it arrives: translate and render its lines.
        g.bench_function("ours/render_on_arrival", |b| {
            b.iter(|| black_box(render(&batch, &opts, &hasher)))
        });
        let packed = RenderOptions {
            pack: true,
            ..opts.clone()
        };
        g.bench_function("ours_lz4/render_on_arrival", |b| {
            b.iter(|| black_box(render(&batch, &packed, &hasher)))
        });

        let mut reg = Registry::default();
        reg.replace(
            batch.source.clone(),
            render(&batch, &opts, &hasher),
            Duration::from_secs(600),
        );
        // The first scrape after a change: assemble the union of sources (shared chunks).
        g.bench_function("ours/assemble_after_change", |b| {
            b.iter(|| {
                reg.touch();
                black_box(reg.current().body(Format::Text, false))
            })
        });
        g.bench_function("ours/gzip_after_change", |b| {
            b.iter(|| {
                reg.touch();
                black_box(reg.current().body(Format::Text, true))
            })
        });

        let mut reg = Registry::default();
        reg.replace(
            batch.source.clone(),
            render(&batch, &packed, &hasher),
            Duration::from_secs(600),
        );
        g.bench_function("ours_lz4/gzip_after_change", |b| {
            b.iter(|| {
                reg.touch();
                black_box(reg.current().body(Format::Text, true))
            })
        });

        // A real scrape: HTTP GET over loopback, the whole body read.
        let mut body = 0;
        for (group, page_compression) in [
            ("ours", PageCompression::None),
            ("ours_lz4", PageCompression::Lz4),
        ] {
            body = scrapes(&rt, &mut g, group, page_compression, &batch, n);
        }
        // The floor under any server: the same number of bytes written by a bare socket
        // and read by the same client.
        let floor = loopback_floor(body);
        g.bench_function("loopback/same_bytes_bare_socket", |b| {
            b.iter(|| black_box(http_scrape(floor, false)))
        });

        let bridge = Bridge::new(n);
        g.bench_function("bridge/scrape_encode_only", |b| {
            b.iter(|| black_box(bridge.scrape()))
        });
        g.finish();
    }
}

/// A listener that answers every connection with `size` bytes written 4 MiB at a time, then
/// closes it: no HTTP, no page, only the kernel's loopback copy.
fn loopback_floor(size: usize) -> SocketAddr {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("local_addr: {e}"),
    };
    let bytes = vec![b'x'; size];
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut req = [0u8; 4096];
            let mut seen = 0;
            while !req[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut req[seen..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => seen += k,
                }
            }
            for part in bytes.chunks(4 << 20) {
                if conn.write_all(part).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

/// Benches the exporter's scrapes; returns the size of a whole response without gzip.
fn scrapes(
    rt: &tokio::runtime::Runtime,
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    group: &str,
    page_compression: PageCompression,
    batch: &Arc<pipeline::Batch>,
    n: usize,
) -> usize {
    let cfg = PrometheusConfig {
        endpoint: "127.0.0.1:0".into(),
        max_series_per_metric: n,
        page_compression,
        ..PrometheusConfig::default()
    };
    let exporter = match rt.block_on(PrometheusExporter::start(
        "prometheus",
        &cfg,
        PipelineStats::new(),
    )) {
        Ok(e) => e,
        Err(e) => panic!("start: {e}"),
    };
    if let Err(e) = rt.block_on(exporter.export(batch.clone())) {
        panic!("export: {e}");
    }
    let addr = exporter.local_addr();
    g.bench_function(format!("{group}/scrape_http"), |b| {
        b.iter(|| black_box(http_scrape(addr, false)))
    });
    g.bench_function(format!("{group}/scrape_http_gzip"), |b| {
        b.iter(|| black_box(http_scrape(addr, true)))
    });
    let size = http_scrape(addr, false);
    rt.block_on(exporter.shutdown());
    size
}

criterion_group!(benches, exposition);
criterion_main!(benches);
