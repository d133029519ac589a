//! What reading the largest answers costs: the simulator's large preset (1,000
//! namespaces, 20,000 buckets) is asked for a bulk billing answer of all namespaces
//! (sizes, and an hour of traffic, with bucket detail), an hour of the per-namespace Flux
//! measurement (ECS's longest range), and the largest bucket page; each is then read by
//! the receiver's own reader, and by `serde_json::Value` for comparison. Reported: the
//! answer's size, the most heap held at once while reading (counted by the allocator,
//! beyond the answer's own bytes), the resident-set growth, and the time (median of 5).
//!
//!   cargo build --release -p ecs-sim -p benches
//!   ./target/release/parse_answers        # uses ./target/release/ecs-sim

use std::time::{Duration, Instant};

use benches::ecs::LargeSim;
use receiver_ecs::billing::fetch;
use receiver_ecs::performance::flux;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::alloc::{Counting, peak_during};

#[global_allocator]
static ALLOC: Counting = Counting;

const RUNS: usize = 5;

/// Resets the peak resident set (`/proc/self/clear_refs`), so that each read's growth is
/// its own.
fn reset_rss_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The median time, the most bytes held at once and the RSS growth of `read` over `RUNS`.
fn measure<R>(read: impl Fn() -> R) -> (Duration, usize, u64) {
    let mut times = Vec::new();
    let mut peak = 0;
    let mut rss = 0;
    for _ in 0..RUNS {
        // What the last read freed goes back to the OS first, so that each read's growth
        // is its own.
        pipeline::memory::release_free_memory();
        reset_rss_peak();
        let (before, _) = benches::rss();
        let t = Instant::now();
        let (r, p) = peak_during(&read);
        times.push(t.elapsed());
        let (_, hwm) = benches::rss();
        drop(r);
        peak = peak.max(p);
        rss = rss.max(hwm.saturating_sub(before));
    }
    times.sort();
    (times[RUNS / 2], peak, rss)
}

fn report(what: &str, size: usize, reader: &str, (t, peak, rss): (Duration, usize, u64)) {
    println!(
        "{what:<28} {:>6.2} MB  {reader:<14} heap peak {:>6.1} MB ({:>4.1}x the answer)  RSS +{:>5.1} MB  {:>7.1} ms",
        size as f64 / 1e6,
        peak as f64 / 1e6,
        peak as f64 / size as f64,
        rss as f64 / 1e6,
        t.as_secs_f64() * 1000.0
    );
}

fn tree(body: &[u8]) -> Value {
    match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => panic!("not JSON: {e}"),
    }
}

fn compare<R>(what: &str, body: &[u8], read: impl Fn(&[u8]) -> R) {
    report(what, body.len(), "receiver", measure(|| read(body)));
    report(what, body.len(), "Value tree", measure(|| tree(body)));
}

#[tokio::main]
async fn main() {
    let sim = LargeSim::start();
    let namespaces = tree(
        &sim.answer(Method::GET, "/object/namespaces?limit=1000", None)
            .await,
    );
    let names: Vec<&str> = namespaces["namespace"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["name"].as_str()).collect())
        .unwrap_or_default();
    let ids = Some(json!({ "id": names }).to_string());
    let info = sim
        .answer(
            Method::POST,
            "/object/billing/namespace/info?sizeunit=KB&include_bucket_detail=true",
            ids.clone(),
        )
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
        / 300
        * 300;
    let window = format!(
        "&start_time={}&end_time={}",
        pipeline::timefmt::minute(now - 3600 - 1800),
        pipeline::timefmt::minute(now - 1800)
    );
    let sample = sim
        .answer(
            Method::POST,
            &format!(
                "/object/billing/namespace/sample?sizeunit=KB&include_bucket_detail=true{window}"
            ),
            ids,
        )
        .await;
    let query = json!({ "query": "from(bucket: \"monitoring_vdc\") |> range(start: -3600s) |> filter(fn: (r) => r._measurement == \"cq_performance_transaction_ns\")" });
    let hour = sim
        .answer(
            Method::POST,
            "/flux/api/external/v2/query",
            Some(query.to_string()),
        )
        .await;
    // The largest page of buckets: a page of each namespace, the largest kept.
    let mut buckets = Vec::new();
    let mut ns = "";
    for n in &names {
        let page = sim
            .answer(
                Method::GET,
                &format!(
                    "/object/bucket?namespace={}&limit=1000",
                    receiver_ecs::percent(n)
                ),
                None,
            )
            .await;
        if page.len() > buckets.len() {
            buckets = page;
            ns = n;
        }
    }

    println!("{RUNS} reads each; heap peak: bytes held at once beyond the answer's own");
    compare("billing info, 1,000 ns", &info, |b| {
        fetch::read_info(b)
            .map(|v| v.len())
            .unwrap_or_else(|e| panic!("{e}"))
    });
    compare("billing sample, 1,000 ns", &sample, |b| {
        fetch::read_sample(b)
            .map(|v| v.len())
            .unwrap_or_else(|e| panic!("{e}"))
    });
    compare("Flux hour, per namespace", &hour, |b| {
        flux::read(b, &["namespace"])
            .map(|t| t.rows.len())
            .unwrap_or_else(|e| panic!("{e:?}"))
    });
    compare(&format!("bucket page, {ns}"), &buckets, tree);
}
