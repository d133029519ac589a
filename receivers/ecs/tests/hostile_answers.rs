//! A hostile ECS on loopback: a server started by the test that logs in like ECS (200
//! with an `X-SDS-AUTH-TOKEN`) and answers every other path with an endless body, with
//! 50 MB of valid JSON, or with `{}`. Every collector runs against it. Memory stays
//! bounded (the process's peak and current RSS, read from /proc/self/status: nextest runs
//! each test in a process of its own), and `{}` is an error naming the missing fields,
//! never a set of zeros.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use pipeline::{Collector as _, Impact, ReceiverError, Snapshot};
use receiver_ecs::{Collector, EcsConfig, EcsSettings};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
enum Garbage {
    /// A JSON list that never ends, without a length.
    Endless,
    /// 50 MB of valid JSON, without a length (read until the connection closes).
    Fifty,
    Empty,
}

const FIFTY_MB: usize = 50 * 1000 * 1000;

/// The server's address; it runs until the test's runtime ends.
async fn serve(mode: Garbage) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(answer(s, mode));
        }
    });
    format!("http://{addr}")
}

async fn answer(mut s: TcpStream, mode: Garbage) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    if path.starts_with("/login") {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nX-SDS-AUTH-TOKEN: hostile-token\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    if path.starts_with("/logout") {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n";
    match mode {
        Garbage::Empty => {
            let _ = s.write_all(ok).await;
            let _ = s.write_all(b"Content-Length: 2\r\n\r\n{}").await;
        }
        Garbage::Endless | Garbage::Fifty => {
            if s.write_all(ok).await.is_err() || s.write_all(b"\r\n").await.is_err() {
                return;
            }
            let item = br#"{"nodename":"n","ip":"127.0.0.1","version":"3.8.0.0","id":"x"},"#;
            let chunk: Vec<u8> = item
                .iter()
                .copied()
                .cycle()
                .take(item.len() * 1000)
                .collect();
            let _ = s.write_all(br#"{"node":["#).await;
            let mut sent = 0;
            while matches!(mode, Garbage::Endless) || sent + chunk.len() < FIFTY_MB {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
            let _ = s.write_all(br#"{"id":"last"}]}"#).await;
        }
    }
    let _ = s.shutdown().await;
}

/// Every collector of a cluster at `endpoint`.
fn collectors(endpoint: String) -> Vec<Arc<Collector>> {
    let mut cfg = EcsConfig::new(EcsSettings {
        endpoint,
        username: USER.into(),
        password: Some(pipeline::config::Secret::new("monitor-pass")),
        cluster_name: Some("lab".into()),
        ..EcsSettings::default()
    });
    let c = &mut cfg.collectors;
    c.billing.schedule.enabled = true;
    c.iam.schedule.enabled = true;
    c.performance.schedule.enabled = true;
    c.audit.schedule.enabled = true;
    receiver_ecs::collectors("lab", &cfg, "ecs-otel-agent")
        .expect("collectors build")
        .into_iter()
        .map(|(_, c)| c)
        .collect()
}

/// (VmHWM, VmRSS) of this process, in MB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap()
            / 1024.0
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

async fn every_collector(mode: Garbage) -> Vec<(String, Result<Snapshot, ReceiverError>)> {
    let url = serve(mode).await;
    let cs = collectors(url);
    let mut out = Vec::new();
    for c in &cs {
        // Twice: the second cycle must not keep what the first read.
        for n in 1..=2 {
            let r = run(c, n, Duration::from_secs(20)).await;
            out.push((format!("{:?} run {n}", c.kind), r));
        }
    }
    for c in &cs {
        c.shutdown().await;
    }
    out
}

/// Under each answer every collector fails or warns naming the cap, and the process's
/// peak RSS stays under 100 MB.
async fn bounded(mode: Garbage) {
    let (_, start) = memory();
    let results = every_collector(mode).await;
    // Free heap given back first: what is measured is what is held. (Without it, which
    // thread's arena a round's buffers land in decides the figure, and a loaded machine
    // made this flaky.)
    pipeline::memory::release_free_memory();
    let (_, first) = memory();
    // A second round must not hold more than the first: answers are not kept.
    let again = every_collector(mode).await;
    pipeline::memory::release_free_memory();
    let (peak, now) = memory();
    eprintln!(
        "{mode:?}: RSS at start {start:.1} MB, after one round {first:.1} MB, after two {now:.1} MB, peak {peak:.1} MB"
    );
    for (what, r) in results.iter().chain(&again) {
        let text = match r {
            Ok(s) => s.warnings.join("; "),
            Err(e) => format!("{} {}", e.kind, e.message),
        };
        assert!(
            text.contains("max_answer_size") || text.contains("circuit open"),
            "{what}: {text}"
        );
    }
    let too_large = results
        .iter()
        .filter(|(_, r)| match r {
            Ok(s) => s.warnings.iter().any(|w| w.contains("max_answer_size")),
            Err(e) => e.message.contains("max_answer_size"),
        })
        .count();
    assert!(too_large >= 6, "{too_large} runs named the cap");
    assert!(peak < 100.0, "{mode:?}: peak RSS {peak:.1} MB");
    assert!(
        now < first + 10.0,
        "{mode:?}: {now:.1} MB after two rounds, {first:.1} MB after one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_abandoned_at_its_cap() {
    bounded(Garbage::Endless).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_of_valid_json_are_abandoned_at_the_cap() {
    bounded(Garbage::Fifty).await;
}

/// `{}` everywhere: no collector is healthy, every failure names the fields it lacked and
/// the endpoint, and no figure of the cluster is emitted (zeros least of all).
#[tokio::test]
async fn an_empty_object_is_an_error_naming_the_fields_not_zeros() {
    let results = every_collector(Garbage::Empty).await;
    for (what, r) in &results {
        let (snapshot, text) = match r {
            Ok(s) => {
                assert!(!s.warnings.is_empty(), "{what}: healthy on {{}}");
                (Some(s), s.warnings.join("; "))
            }
            Err(e) => {
                assert_eq!(e.impact, Impact::Degraded, "{what}: {}", e.message);
                (e.partial.as_deref(), format!("{} {}", e.kind, e.message))
            }
        };
        assert!(
            text.contains("the answer has no")
                || text.contains("no \"Series\"")
                || text.contains("Result in the answer"),
            "{what}: {text}"
        );
        if let Some(s) = snapshot {
            let figures: Vec<_> = points(s)
                .into_iter()
                // The client's own figures, and the audit's count of gaps in its reading
                // (none yet: the agent's own bookkeeping, not ECS's figure).
                .filter(|p| {
                    !p.name.starts_with("ecs_otel_agent.")
                        && p.name != "emcecs.audit.gap"
                        && !p.stale
                })
                .collect();
            assert!(figures.is_empty(), "{what}: {figures:?}");
        }
    }
    let named = |route: &str, field: &str| {
        results.iter().any(|(_, r)| {
            let text = match r {
                Ok(s) => s.warnings.join("; "),
                Err(e) => {
                    let partial = e.partial.as_ref().map(|p| p.warnings.join("; "));
                    format!("{} {}", e.message, partial.unwrap_or_default())
                }
            };
            text.contains(&format!("{route}: the answer has no")) && text.contains(field)
        })
    };
    assert!(named("/dashboard/zones/localzone", "diskSpaceTotal"));
    assert!(named("/vdc/nodes", "node"));
    assert!(named("/object/namespaces", "namespace"));
    assert!(named("/vdc/users", "mgmt_user_info"));
}
