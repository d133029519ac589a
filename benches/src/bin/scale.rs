//! Memory and time at scale, one data set per process so that peaks do not mix:
//!
//!   scale ours 300000     our exporter: ingest one snapshot, then scrape
//!   scale ours-lz4 300000 the same with `page_compression: lz4`
//!   scale bridge 300000   the opentelemetry-prometheus bridge with the same series
//!
//! Prints one line of key=value figures.

use std::time::Instant;

use benches::{Bridge, otlp_batch, rss};
use exporter_prometheus::registry::Format;
use exporter_prometheus::{PageCompression, PrometheusConfig, PrometheusExporter};
use pipeline::PipelineStats;

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("ours");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300_000);
    let (base, _) = rss();
    match which {
        "ours" | "ours-lz4" => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => panic!("runtime: {e}"),
            };
            rt.block_on(async {
                let cfg = PrometheusConfig {
                    endpoint: "127.0.0.1:0".into(),
                    max_series_per_metric: n,
                    page_compression: if which == "ours-lz4" {
                        PageCompression::Lz4
                    } else {
                        PageCompression::None
                    },
                    ..PrometheusConfig::default()
                };
                let exporter = match PrometheusExporter::start("prometheus", &cfg, PipelineStats::new()).await {
                    Ok(e) => e,
                    Err(e) => panic!("start: {e}"),
                };
                let t = Instant::now();
                let batch = otlp_batch(n);
                let build = t.elapsed();
                let after_build = rss().0;
                let t = Instant::now();
                exporter.ingest(&batch);
                let ingest = t.elapsed();
                let after_ingest = rss().0;
                drop(batch);
                // What the fan-out does once the last exporter releases a large snapshot.
                pipeline::memory::release_free_memory();
                let after_drop = rss().0;
                eprintln!("rss: base={:.1} batch={:.1} ingest={:.1} dropped={:.1}", mb(base), mb(after_build), mb(after_ingest), mb(after_drop));
                let t = Instant::now();
                let body = exporter.exposition().body(Format::Text, false);
                let first = t.elapsed();
                let t = Instant::now();
                let again = exporter.exposition().body(Format::Text, false);
                let cached = t.elapsed();
                let (now, peak) = rss();
                println!(
                    "impl={which} series={n} body_mb={:.1} held_mb={:.1} build_batch_s={:.3} ingest_s={:.3} first_scrape_s={:.4} cached_scrape_s={:.6} rss_mb={:.1} peak_rss_mb={:.1} baseline_rss_mb={:.1}",
                    mb(body.iter().map(|c| c.len() as u64).sum()), mb(body.iter().map(|c| c.held() as u64).sum()), build.as_secs_f64(), ingest.as_secs_f64(), first.as_secs_f64(), cached.as_secs_f64(), mb(now), mb(peak), mb(base)
                );
                drop(again);
            });
        }
        "bridge" => {
            let bridge = Bridge::new(n);
            let t = Instant::now();
            let body = bridge.scrape();
            let first = t.elapsed();
            let t = Instant::now();
            let again = bridge.scrape();
            let second = t.elapsed();
            let (now, peak) = rss();
            println!(
                "impl=bridge series={n} body_mb={:.1} first_scrape_s={:.3} second_scrape_s={:.3} rss_mb={:.1} peak_rss_mb={:.1} baseline_rss_mb={:.1}",
                mb(body.len() as u64),
                first.as_secs_f64(),
                second.as_secs_f64(),
                mb(now),
                mb(peak),
                mb(base)
            );
            drop(again);
        }
        other => {
            eprintln!("usage: scale ours|ours-lz4|bridge SERIES (got {other:?})");
            std::process::exit(2);
        }
    }
}
