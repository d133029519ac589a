//! The generic receiver's costs (docs/PERFORMANCE.md):
//! 1. 100 metric groups × 10 metrics, each group a file read and parsed with 10 regular
//!    expressions, all run every second as the scheduler would at a 1 s base interval:
//!    the process's CPU per second of wall time.
//! 2. One 50 MB JSON document reduced by 100 JSONPath filters in one group: the run's time
//!    and the process's peak RSS.
//!
//! `cargo build --release -p benches --bin generic_load && ./target/release/generic_load [seconds]`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pipeline::config::Problems;
use pipeline::decode::Decoder;
use pipeline::registry::{BuildContext, ReceiverSpec};
use pipeline::{Collector, PipelineStats, ScrapeContext};
use receiver_generic::GenericConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn decode(v: Value) -> Result<GenericConfig, String> {
    let mut problems = Problems::default();
    let restore = |_: &mut Value, _: &str, _: &str| false;
    let c = Decoder::new(&mut problems, &restore).decode::<GenericConfig>(&v, "generic/bench");
    match c {
        Some(c) if problems.is_empty() => Ok(c),
        _ => Err(format!("{:?}", problems.into_vec())),
    }
}

fn build(cfg: &GenericConfig) -> Result<Vec<Arc<dyn Collector>>, String> {
    let cx = BuildContext {
        stats: PipelineStats::new(),
        resource: pipeline::resource([]),
        service_name: "bench".into(),
        intervals: Vec::new(),
    };
    cfg.build("generic/bench", &cx)
        .map(|jobs| jobs.into_iter().map(|j| j.collector).collect())
        .map_err(|e| e.to_string())
}

fn ctx(run: u64, timeout: Duration) -> ScrapeContext {
    ScrapeContext {
        job: "generic/bench".into(),
        started: SystemTime::now(),
        deadline: tokio::time::Instant::now() + timeout,
        interval: Duration::from_secs(1),
        cancel: CancellationToken::new(),
        run,
    }
}

/// This process's CPU time (user + system), from /proc/self/stat in clock ticks of 10 ms.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of the line; 12 and 13 after the command's closing parenthesis.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn many_groups(dir: &std::path::Path, seconds: u64) -> Result<(), String> {
    let mut groups = serde_json::Map::new();
    for g in 0..100 {
        let file = dir.join(format!("group{g}.txt"));
        let body: String = (0..10).map(|m| format!("m{m} {}\n", g * 100 + m)).collect();
        std::fs::write(&file, body).map_err(|e| e.to_string())?;
        let metrics: serde_json::Map<String, Value> = (0..10)
            .map(|m| {
                (
                    format!("g{g}.m{m}"),
                    json!({"filter": format!("(?m)^m{m} (?P<value>\\d+)$")}),
                )
            })
            .collect();
        groups.insert(
            format!("g{g}"),
            json!({"source_type": "file", "source": file.display().to_string(), "metrics": metrics}),
        );
    }
    let cfg = decode(json!({"collection_interval": "1s", "metric_groups": groups}))?;
    let jobs = build(&cfg)?;
    let (c0, t0) = (cpu(), Instant::now());
    let mut points = 0;
    for run in 1..=seconds {
        let tick = t0 + Duration::from_secs(run - 1);
        tokio::time::sleep_until(tick.into()).await;
        let runs = jobs.iter().map(|j| {
            let j = j.clone();
            tokio::spawn(async move { j.scrape(&ctx(run, Duration::from_millis(900))).await })
        });
        for r in futures_join(runs.collect()).await {
            let s = r.map_err(|e| e.to_string())?.map_err(|e| e.message)?;
            points += s.resource_metrics[0].scopes[0].len();
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let used = (cpu() - c0).as_secs_f64();
    println!(
        "100 groups × 10 metrics every 1 s for {seconds} s: {points} points, CPU {:.1} ms per second of wall time ({:.2} % of one core)",
        used / wall * 1000.0,
        used / wall * 100.0
    );
    Ok(())
}

async fn futures_join<T>(
    handles: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}

async fn big_json(dir: &std::path::Path) -> Result<(), String> {
    let file = dir.join("big.json");
    // Written as it goes, so that the document's making does not count in the peak RSS.
    let size = {
        use std::io::Write;
        let f = std::fs::File::create(&file).map_err(|e| e.to_string())?;
        let mut w = std::io::BufWriter::new(f);
        let note = "x".repeat(180);
        let mut size = 0usize;
        let mut i = 0u64;
        w.write_all(b"{\"items\":[").map_err(|e| e.to_string())?;
        while size < 50 << 20 {
            let item = format!(
                "{}{{\"name\":\"object-{i:08}\",\"group\":\"g{}\",\"value\":{i},\"note\":\"{note}\"}}",
                if i == 0 { "" } else { "," },
                i % 100
            );
            size += item.len();
            w.write_all(item.as_bytes()).map_err(|e| e.to_string())?;
            i += 1;
        }
        w.write_all(b"]}").map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
        size
    };
    let mb = size as f64 / (1 << 20) as f64;
    let metrics: serde_json::Map<String, Value> = (0..100)
        .map(|g| {
            (
                format!("group{g}.first"),
                json!({"filter": format!("$.items[?@.group == 'g{g}' && @.value < 1000]"), "value": "value", "labels": {"name": "name"}}),
            )
        })
        .collect();
    let cfg = decode(json!({"metric_groups": {"big": {
        "source_type": "file", "source": file.display().to_string(), "content_type": "json",
        "max_bytes": 64 << 20, "metrics": metrics
    }}}))?;
    let jobs = build(&cfg)?;
    // The first part's peak is not this run's: reset the high-water mark (Linux).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss0 = peak_rss_mb();
    let t = Instant::now();
    let s = jobs[0]
        .scrape(&ctx(1, Duration::from_secs(600)))
        .await
        .map_err(|e| e.message)?;
    let took = t.elapsed();
    let points = s.resource_metrics[0].data_points();
    println!(
        "{mb:.1} MB JSON, 100 JSONPath filters: {took:.2?} for the run, {points} points, peak RSS {:.0} MB (at its start {rss0:.0} MB)",
        peak_rss_mb()
    );
    Ok(())
}

fn main() {
    let seconds = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = std::env::temp_dir().join(format!("generic-load-{}", std::process::id()));
    let result = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .and_then(|rt| {
            rt.block_on(async {
                many_groups(&dir, seconds).await?;
                big_json(&dir).await
            })
        });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("generic_load: {e}");
        std::process::exit(1);
    }
}
