//! Latency of the simulator's large preset under the agent's access pattern: every
//! namespace's /object/bucket page, bulk billing info (namespace bulk with bucket detail,
//! and per-namespace bucket bulk) and bulk samples, 4 requests in flight (the agent's
//! default per cluster). Runs `ecs-sim --preset large` as its own process.
//!
//!   cargo build --release -p ecs-sim -p benches
//!   ./target/release/sim_load            # uses ./target/release/ecs-sim
//!
//! Prints p50 / p99 / max per request kind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

const IN_FLIGHT: usize = 4;

fn client() -> reqwest::Client {
    let tls = match rustls::ClientConfig::builder_with_provider(pipeline::tls::provider())
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        Err(e) => panic!("tls: {e}"),
    };
    match reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(60))
        .build()
    {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Job {
    kind: &'static str,
    method: reqwest::Method,
    path: String,
    body: Option<String>,
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let (mut child, base) = benches::ecs::spawn_sim(&[
        "--preset".as_ref(),
        "large".as_ref(),
        "--http".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    println!(
        "simulator (large preset) up in {:.2}s at {base}",
        started.elapsed().as_secs_f64()
    );

    let http = client();
    let login = match http
        .get(format!("{base}/login"))
        .basic_auth("root", Some("ChangeMe"))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => panic!("login: {e}"),
    };
    let token = login
        .headers()
        .get("x-sds-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();

    let namespaces: Vec<String> = (1..=1000).map(|i| format!("ns{i:04}")).collect();
    let window = "start_time=2026-01-01T00:00&end_time=2026-01-01T01:00";
    let mut jobs = Vec::new();
    for ns in &namespaces {
        jobs.push(Job {
            kind: "GET /object/bucket (page)",
            method: reqwest::Method::GET,
            path: format!("/object/bucket?namespace={ns}&limit=100"),
            body: None,
        });
    }
    for chunk in namespaces.chunks(100) {
        let ids = serde_json::json!({"id": chunk}).to_string();
        jobs.push(Job {
            kind: "POST /object/billing/namespace/info (100 ns, bucket detail)",
            method: reqwest::Method::POST,
            path: "/object/billing/namespace/info?sizeunit=BYTE&include_bucket_detail=true".into(),
            body: Some(ids.clone()),
        });
        jobs.push(Job {
            kind: "POST /object/billing/namespace/sample (100 ns, bucket detail)",
            method: reqwest::Method::POST,
            path: format!(
                "/object/billing/namespace/sample?sizeunit=BYTE&include_bucket_detail=true&{window}"
            ),
            body: Some(ids),
        });
    }
    for ns in &namespaces {
        let ids: Vec<String> = (1..=20).map(|j| format!("{ns}-b{j:03}")).collect();
        jobs.push(Job {
            kind: "POST /object/billing/buckets/{ns}/info (20 buckets)",
            method: reqwest::Method::POST,
            path: format!("/object/billing/buckets/{ns}/info?sizeunit=BYTE"),
            body: Some(serde_json::json!({"id": ids}).to_string()),
        });
    }

    let sem = Arc::new(Semaphore::new(IN_FLIGHT));
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for job in jobs {
        let permit = match sem.clone().acquire_owned().await {
            Ok(p) => p,
            Err(e) => panic!("semaphore: {e}"),
        };
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        handles.push(tokio::spawn(async move {
            let mut req = http
                .request(job.method, format!("{base}{}", job.path))
                .header("X-SDS-AUTH-TOKEN", token)
                .header("Accept", "application/json");
            if let Some(b) = job.body {
                req = req.header("Content-Type", "application/json").body(b);
            }
            let t = Instant::now();
            let ok = match req.send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            drop(permit);
            (job.kind, t.elapsed(), ok)
        }));
    }
    let mut by_kind: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut failures = 0;
    for h in handles {
        if let Ok((kind, d, ok)) = h.await {
            if !ok {
                failures += 1;
            }
            by_kind.entry(kind).or_default().push(d);
        }
    }
    let total = t0.elapsed();
    let mut all: Vec<Duration> = by_kind.values().flatten().copied().collect();
    all.sort();
    println!(
        "{} requests, {IN_FLIGHT} in flight, {:.2}s, {failures} failed",
        all.len(),
        total.as_secs_f64()
    );
    println!(
        "{:<62} {:>6} {:>9} {:>9} {:>9}",
        "request", "count", "p50 ms", "p99 ms", "max ms"
    );
    for (kind, mut v) in by_kind {
        v.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{kind:<62} {:>6} {:>9.2} {:>9.2} {:>9.2}",
            v.len(),
            ms(percentile(&v, 0.5)),
            ms(percentile(&v, 0.99)),
            ms(*v.last().unwrap_or(&Duration::ZERO))
        );
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<62} {:>6} {:>9.2} {:>9.2} {:>9.2}",
        "all",
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap_or(&Duration::ZERO))
    );
    let _ = child.kill();
    let _ = child.wait();
}
