//! The http source against real servers on loopback: the simulator's JSON (management
//! API, with a session token) and XML (a node's DTInitStat port) pages, and a server of
//! the test's own that sets Cache-Control and ETag and counts what it is asked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ecs_sim::{SimConfig, Version};
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use pipeline::Snapshot;
use pipeline::http_server::Body;
use pipeline::otlp::metrics::v1::metric::Data;
use pipeline::otlp::metrics::v1::number_data_point::Value as Num;
use serde_json::json;
use support::{build, decode, run};
use tokio_util::sync::CancellationToken;

/// name → value of every point without labels, or name{first label value} → value.
fn values(s: &Snapshot) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for m in &s.resource_metrics[0].to_otlp().scope_metrics[0].metrics {
        let Some(Data::Gauge(g)) = &m.data else {
            continue;
        };
        for p in &g.data_points {
            let key = match p.attributes.first().and_then(|a| a.value.as_ref()) {
                Some(v) => format!("{}{{{:?}}}", m.name, v.value.as_ref().unwrap()),
                None => m.name.clone(),
            };
            let v = match p.value {
                Some(Num::AsDouble(d)) => d,
                Some(Num::AsInt(i)) => i as f64,
                None => f64::NAN,
            };
            out.insert(key, v);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn simulator_json_and_xml_pages_are_read() {
    let mut sc = SimConfig::small(Version::Ecs38);
    sc.tls = false;
    let sim = ecs_sim::start(sc).await.unwrap();
    let token = sim.sim.sessions.login("emcmonitor").unwrap();
    let node = sim.node_ips[0];
    let cfg = decode(json!({
        "metric_groups": {
            "zone": {
                "source_type": "http", "source": format!("{}/dashboard/zones/localzone", sim.url()),
                "content_type": "json",
                "http": {"client": {"headers": {"X-SDS-AUTH-TOKEN": token, "Accept": "application/json"}}},
                "metrics": {
                    "nodes": {"filter": "$.numNodes"},
                    "disks.good": {"filter": "$.numGoodDisks"}
                }
            },
            "dt": {
                "source_type": "http", "source": format!("http://{node}:9101/stats/dt/DTInitStat"),
                "content_type": "xml",
                "metrics": {"dt.total": {"filter": "/dt_init_stat/entry", "value": "total_dt_num"}}
            }
        }
    }))
    .unwrap();
    let jobs = build(&cfg);
    let zone = run(&jobs["zone"], 1, Duration::from_secs(10))
        .await
        .unwrap();
    let dt = run(&jobs["dt"], 1, Duration::from_secs(10)).await.unwrap();
    let (nodes, disks, dt_total) = {
        let m = sim.model();
        let (total, _, _) = m.dt_stats(0, &sim.sim.faults.overrides());
        let disks: usize = m.nodes.iter().map(|n| n.disks.len()).sum();
        (m.nodes.len() as f64, disks as f64, total as f64)
    };
    let zone = values(&zone);
    assert_eq!(zone["node.nodes"], nodes);
    assert_eq!(zone["node.disks.good"], disks);
    assert_eq!(values(&dt)["node.dt.total"], dt_total);
    assert!(dt_total > 0.0);
    sim.stop().await;
}

/// What the caching server was asked.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    conditional: AtomicU64,
    not_modified: AtomicU64,
    /// The version the `/etag` page serves.
    version: AtomicU64,
}

fn respond(seen: &Seen, req: &Request<Incoming>) -> Response<Body> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let asked = req.headers().get(header::IF_NONE_MATCH).cloned();
    if asked.is_some() {
        seen.conditional.fetch_add(1, Ordering::SeqCst);
    }
    let version = seen.version.load(Ordering::SeqCst);
    let etag = format!("\"v{version}\"");
    let cache_control = match req.uri().path() {
        "/fresh" => "max-age=3600",
        "/etag" => "no-cache",
        _ => "no-store",
    };
    let mut r = if asked.is_some_and(|a| a == etag.as_str()) {
        seen.not_modified.fetch_add(1, Ordering::SeqCst);
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::full(format!("value {}\n", 40 + version)))
    };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, cache_control.parse().unwrap());
    h.insert(header::ETAG, etag.parse().unwrap());
    r
}

/// A server on loopback serving `/fresh`, `/etag` and `/nostore`, and what it saw.
async fn caching_server() -> (std::net::SocketAddr, Arc<Seen>, CancellationToken) {
    let listener = pipeline::http_server::bind(testkit::loopback())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let handler = move |req: Request<Incoming>| {
        let r = respond(&s, &req);
        async move { r }
    };
    let stop = CancellationToken::new();
    pipeline::http_server::spawn(listener, None, Arc::new(handler), stop.clone());
    (addr, seen, stop)
}

async fn read_three(addr: std::net::SocketAddr, path: &str) -> Vec<f64> {
    let cfg = decode(json!({
        "standalone_metrics": {"v": {
            "source_type": "http", "source": format!("http://{addr}{path}"), "cache": "0s",
            "filter": "value (?P<value>\\d+)"
        }}
    }))
    .unwrap();
    let job = build(&cfg).remove("v").unwrap();
    let mut out = Vec::new();
    for n in 1..=3 {
        let s = run(&job, n, Duration::from_secs(5)).await.unwrap();
        out.push(values(&s)["node.v"]);
    }
    out
}

#[tokio::test]
async fn a_fresh_answer_is_reused_without_a_request() {
    let (addr, seen, stop) = caching_server().await;
    assert_eq!(read_three(addr, "/fresh").await, [40.0; 3]);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1, "max-age=3600");
    stop.cancel();
}

#[tokio::test]
async fn an_etag_is_revalidated_and_a_304_reuses_the_kept_body() {
    let (addr, seen, stop) = caching_server().await;
    let cfg = decode(json!({
        "standalone_metrics": {"v": {
            "source_type": "http", "source": format!("http://{addr}/etag"), "cache": "0s",
            "filter": "value (?P<value>\\d+)"
        }}
    }))
    .unwrap();
    let job = build(&cfg).remove("v").unwrap();
    let mut read = Vec::new();
    for n in 1..=3 {
        read.push(values(&run(&job, n, Duration::from_secs(5)).await.unwrap())["node.v"]);
    }
    assert_eq!(read, [40.0; 3]);
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        3,
        "no-cache: asked every time"
    );
    assert_eq!(seen.not_modified.load(Ordering::SeqCst), 2);
    // A new version: the server answers in full and the new body is read.
    seen.version.store(1, Ordering::SeqCst);
    let s = run(&job, 4, Duration::from_secs(5)).await.unwrap();
    assert_eq!(values(&s)["node.v"], 41.0);
    assert_eq!(seen.not_modified.load(Ordering::SeqCst), 2);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 4);
    stop.cancel();
}

#[tokio::test]
async fn no_store_keeps_nothing() {
    let (addr, seen, stop) = caching_server().await;
    assert_eq!(read_three(addr, "/nostore").await, [40.0; 3]);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3);
    assert_eq!(
        seen.conditional.load(Ordering::SeqCst),
        0,
        "nothing to revalidate"
    );
    stop.cancel();
}
