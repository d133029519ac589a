//! `/__sim/…`: the simulator's own controls (no authentication; loopback only). Counters
//! and the request log, faults, the clock, model changes (namespaces and buckets added or
//! deleted between cycles, each recorded as an audit event), audit events and alerts
//! raised on request, sessions.

use std::time::Duration;

use http::{HeaderValue, Method, Response, StatusCode, header};
use pipeline::http_server::Body;
use serde_json::{Value, json};

use crate::faults::FaultConfig;
use crate::model::alerts::AlertRequest;
use crate::model::audit::EventRequest;
use crate::server::{Sim, parse_query};
use crate::sessions::SessionConfig;

fn reply(status: StatusCode, v: Value) -> Response<Body> {
    let mut r = Response::new(Body::full(
        serde_json::to_vec_pretty(&v).unwrap_or_default(),
    ));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The answer of a DELETE: 200 when something was deleted, 404 when it did not exist.
fn deleted(deleted: bool) -> Response<Body> {
    let status = if deleted {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    reply(status, json!({ "deleted": deleted }))
}

fn bad(msg: impl Into<String>) -> Response<Body> {
    reply(StatusCode::BAD_REQUEST, json!({"error": msg.into()}))
}

pub fn stats(sim: &Sim) -> Value {
    let (logins, logouts, refused) = sim.sessions.totals();
    let m = sim.model();
    let tokens: serde_json::Map<String, Value> = m
        .mgmt_users
        .iter()
        .map(|u| (u.id.clone(), json!(sim.sessions.count(&u.id))))
        .collect();
    let unacked: usize = ["CRITICAL", "ERROR", "WARNING", "INFO"]
        .iter()
        .map(|s| m.unacked(s))
        .sum();
    json!({
        "requests": sim.log.total(),
        "routes": sim.log.routes(),
        "max_in_flight": sim.log.max_in_flight(),
        "sessions": {"logins": logins, "logouts": logouts, "refused": refused, "tokens": tokens},
        "clock": {"now": sim.clock.now(), "offset_seconds": sim.clock.offset(), "frozen": sim.clock.is_frozen()},
        "model": {
            "version": m.cfg.version.as_str(),
            "namespaces": m.namespaces.len(),
            "buckets": m.total_buckets(),
            "nodes": m.nodes.len(),
            "buckets_per_namespace": m.namespaces.values().map(|n| n.buckets.len()).collect::<Vec<_>>(),
            "unacked_alerts": unacked,
        },
    })
}

pub fn handle(sim: &Sim, method: &Method, path: &str, query: &str, body: &[u8]) -> Response<Body> {
    let q = parse_query(query);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["stats"]) => reply(StatusCode::OK, stats(sim)),
        ("GET", ["requests"]) => {
            let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
            reply(StatusCode::OK, json!(sim.log.recent(limit)))
        }
        ("POST", ["reset"]) => {
            sim.log.reset();
            reply(StatusCode::OK, json!({"reset": true}))
        }
        ("GET", ["faults"]) => reply(StatusCode::OK, json!(sim.faults.get())),
        ("PUT", ["faults"]) | ("POST", ["faults"]) => {
            match serde_json::from_slice::<FaultConfig>(body) {
                Ok(cfg) => {
                    sim.faults.set(cfg);
                    reply(StatusCode::OK, json!(sim.faults.get()))
                }
                Err(e) => bad(format!("invalid fault configuration: {e}")),
            }
        }
        ("DELETE", ["faults"]) => {
            sim.faults.set(FaultConfig::default());
            reply(StatusCode::OK, json!(sim.faults.get()))
        }
        ("POST", ["clock"]) => match q.get("advance").and_then(|s| s.parse::<i64>().ok()) {
            Some(s) => {
                sim.clock.advance(s);
                reply(
                    StatusCode::OK,
                    json!({"now": sim.clock.now(), "offset_seconds": sim.clock.offset()}),
                )
            }
            None => bad("give ?advance=SECONDS"),
        },
        ("POST", ["namespaces"]) => {
            let buckets = q.get("buckets").and_then(|b| b.parse().ok()).unwrap_or(2);
            let name = q.get("name").map(String::as_str);
            let now = sim.clock.now();
            let mut m = sim.model_mut();
            if name.is_some_and(|n| m.namespaces.contains_key(n)) {
                return reply(StatusCode::CONFLICT, json!({"error": "namespace exists"}));
            }
            let n = m.add_namespace_at(name, buckets, now);
            reply(
                StatusCode::CREATED,
                json!({"namespace": n, "buckets": m.namespaces[&n].buckets.keys().collect::<Vec<_>>()}),
            )
        }
        ("DELETE", ["namespaces", ns]) => {
            let now = sim.clock.now();
            deleted(sim.model_mut().delete_namespace_at(ns, now))
        }
        ("POST", ["namespaces", ns, "buckets"]) => {
            match sim.model_mut().add_bucket_at(ns, sim.clock.now()) {
                Some(b) => reply(StatusCode::CREATED, json!({"bucket": b})),
                None => reply(StatusCode::NOT_FOUND, json!({"error": "no such namespace"})),
            }
        }
        ("DELETE", ["namespaces", ns, "buckets", b]) => {
            let now = sim.clock.now();
            deleted(sim.model_mut().delete_bucket_at(ns, b, now))
        }
        ("POST", ["events"]) => match serde_json::from_slice::<EventRequest>(body) {
            Ok(r) => {
                let now = sim.clock.now();
                let e = sim.model_mut().record_event(r, now);
                reply(StatusCode::CREATED, super::events::event_json(&e))
            }
            Err(e) => bad(format!("invalid event: {e}")),
        },
        ("POST", ["alerts"]) => match serde_json::from_slice::<AlertRequest>(body) {
            Ok(r) => {
                let now = sim.clock.now();
                let mut m = sim.model_mut();
                match m.raise_alert(r, now) {
                    Ok(a) => reply(StatusCode::CREATED, super::vdc::alert_json(a)),
                    Err(e) => bad(e.to_string()),
                }
            }
            Err(e) => bad(format!("invalid alert: {e}")),
        },
        ("POST", ["sessions", "clear"]) => {
            sim.sessions.clear();
            reply(StatusCode::OK, json!({"cleared": true}))
        }
        ("PUT", ["sessions"]) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let mut cfg = sim.sessions.config();
            if let Some(n) = v.get("max_tokens_per_user").and_then(Value::as_u64) {
                cfg.max_tokens_per_user = n as usize;
            }
            if let Some(n) = v.get("lifetime_seconds").and_then(Value::as_u64) {
                cfg.lifetime = Duration::from_secs(n);
            }
            if let Some(n) = v.get("idle_timeout_seconds").and_then(Value::as_u64) {
                cfg.idle_timeout = Duration::from_secs(n);
            }
            sim.sessions.set_config(cfg.clone());
            reply(StatusCode::OK, session_json(&cfg))
        }
        ("GET", ["sessions"]) => reply(StatusCode::OK, session_json(&sim.sessions.config())),
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no admin endpoint {method} /__sim{path}")}),
        ),
    }
}

fn session_json(cfg: &SessionConfig) -> Value {
    json!({
        "max_tokens_per_user": cfg.max_tokens_per_user,
        "lifetime_seconds": cfg.lifetime.as_secs(),
        "idle_timeout_seconds": cfg.idle_timeout.as_secs(),
    })
}
