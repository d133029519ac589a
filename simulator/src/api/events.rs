//! `GET /vdc/events`: a namespace's audit events in a window, paged.

use serde_json::{Value, json};

use super::{limit, page};
use crate::format::Doc;
use crate::model::audit::AuditEvent;
use crate::server::{Reply, Req, Sim};
use crate::timefmt::{minute, parse_minute};

/// One event as the API lists it.
pub fn event_json(e: &AuditEvent) -> Value {
    json!({
        "id": e.id,
        "eventType": e.event_type,
        "userId": e.user_id,
        "serviceType": e.service_type,
        "resourceId": e.resource_id,
        "timestamp": minute(e.timestamp),
        "namespace": e.namespace,
        "description": e.description,
    })
}

/// A paging key that sorts as (timestamp, id) does.
fn key(e: &AuditEvent) -> String {
    // Flipping the sign bit keeps the order of negative times too.
    format!("{:020}.{}", (e.timestamp as u64) ^ (1 << 63), e.id)
}

fn required<'a>(req: &'a Req, k: &str) -> Result<&'a str, Reply> {
    req.q(k)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Reply::bad_request(1005, &format!("Required parameter {k} is missing")))
}

/// `start_time` / `end_time`: `yyyy-MM-ddTHH:mm` (UTC, `:ss` accepted).
pub fn parse_time(k: &str, v: &str) -> Result<i64, Reply> {
    parse_minute(v).ok_or_else(|| {
        Reply::bad_request(
            1008,
            &format!("Invalid {k} {v:?}; expected yyyy-MM-ddTHH:mm"),
        )
    })
}

pub fn events(sim: &Sim, req: &Req) -> Reply {
    let params = required(req, "namespace").and_then(|ns| {
        let (s, e) = (required(req, "start_time")?, required(req, "end_time")?);
        Ok((ns, parse_time("start_time", s)?, parse_time("end_time", e)?))
    });
    let (namespace, start, end) = match params {
        Ok(p) => p,
        Err(r) => return r,
    };
    if end.div_euclid(60) < start.div_euclid(60) {
        return Reply::bad_request(1008, "end_time must not be before start_time");
    }
    let limit = match limit(req, "limit", 100, 1000) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let now = sim.clock.now();
    let m = sim.model();
    // The background goes on forever; what has happened ends now.
    let list: Vec<(String, AuditEvent)> = m
        .audit_events(namespace, start, end.min(now))
        .into_iter()
        .map(|e| (key(&e), e))
        .collect();
    drop(m);
    let (items, next) = page(&list, |(k, _)| k.as_str(), req.q("marker"), limit);
    let mut v = json!({
        "auditevent": items.iter().map(|(_, e)| event_json(e)).collect::<Vec<_>>(),
        "MaxEvents": limit,
    });
    if let Some(n) = next {
        v["NextMarker"] = json!(n);
    }
    Reply::ok(Doc::jaxb("auditevents", v))
}
