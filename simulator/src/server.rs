//! The management API server: content negotiation, authentication, fault injection and
//! the request log around the handlers of `api/`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use pipeline::http_server::Body;
use serde_json::Value;

use crate::clock::Clock;
use crate::faults::{Effect, Faults, Logged, RequestLog};
use crate::format::{Doc, Format, ecs_error};
use crate::model::Cluster;
use crate::sessions::Sessions;

/// Everything a handler may read or change.
pub struct Sim {
    pub model: RwLock<Cluster>,
    pub clock: Arc<Clock>,
    pub sessions: Sessions,
    pub faults: Faults,
    pub log: RequestLog,
    /// IAM page size when the caller gives no MaxItems (AWS: 100).
    pub iam_page: usize,
    /// Buckets per page of namespace billing detail.
    pub billing_detail_page: usize,
}

impl Sim {
    pub fn model(&self) -> std::sync::RwLockReadGuard<'_, Cluster> {
        self.model.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn model_mut(&self) -> std::sync::RwLockWriteGuard<'_, Cluster> {
        self.model.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// One parsed request.
pub struct Req {
    pub method: Method,
    /// The path without a `.json` suffix.
    pub path: String,
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub format: Format,
    /// The authenticated management user.
    pub user: Option<String>,
    pub token: Option<String>,
}

impl Req {
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
}

/// What a handler answers.
pub enum Reply {
    Doc(StatusCode, Box<Doc>),
    /// A body already encoded (login, node ports), with extra headers.
    Raw {
        status: StatusCode,
        content_type: &'static str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    },
}

impl Reply {
    pub fn ok(doc: Doc) -> Reply {
        Reply::Doc(StatusCode::OK, Box::new(doc))
    }

    pub fn error(status: StatusCode, code: u32, description: &str, details: &str) -> Reply {
        Reply::Doc(
            status,
            Box::new(ecs_error(code, description, details, false)),
        )
    }

    pub fn not_found(what: &str) -> Reply {
        Reply::error(
            StatusCode::NOT_FOUND,
            1004,
            "Unable to find entity specified in URL",
            what,
        )
    }

    pub fn bad_request(code: u32, details: &str) -> Reply {
        Reply::error(StatusCode::BAD_REQUEST, code, "Bad request", details)
    }
}

pub fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub use pipeline::percent::encode as percent_encode;

pub fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

fn negotiate(path: &str, headers: &HeaderMap) -> (String, Format) {
    if let Some(p) = path.strip_suffix(".json") {
        return (p.to_owned(), Format::Json);
    }
    if let Some(p) = path.strip_suffix(".xml") {
        return (p.to_owned(), Format::Xml);
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = if accept.contains("application/json") && !accept.contains("application/xml") {
        Format::Json
    } else if accept.contains("application/json") {
        // Both named: the first one wins.
        if accept.find("application/json") < accept.find("application/xml") {
            Format::Json
        } else {
            Format::Xml
        }
    } else {
        Format::Xml
    };
    (path.to_owned(), format)
}

/// Removes fields (any depth) or replaces their values with "N/A".
fn tamper(v: &mut Value, missing: &[String], na: &[String]) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !missing.contains(k));
            for (k, item) in map.iter_mut() {
                if na.contains(k) {
                    *item = Value::String("N/A".into());
                } else {
                    tamper(item, missing, na);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                tamper(item, missing, na);
            }
        }
        _ => {}
    }
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers
        .get("x-sds-auth-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(t.to_owned());
    }
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("X-SDS-AUTH-TOKEN"))
        .map(|(_, v)| v.to_owned())
}

/// Requests larger than this are refused (no ECS call the agent makes comes near).
const MAX_BODY: usize = 16 << 20;

pub async fn handle(sim: Arc<Sim>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let _in_flight = (!parts.uri.path().starts_with("/__sim")).then(|| sim.log.begin());
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let raw_path = parts.uri.path().to_owned();
    if let Some(rest) = raw_path.strip_prefix("/__sim") {
        return crate::api::admin::handle(
            &sim,
            &parts.method,
            rest,
            parts.uri.query().unwrap_or(""),
            &body,
        );
    }
    let (path, format) = negotiate(&raw_path, &parts.headers);
    let mut query = parse_query(parts.uri.query().unwrap_or(""));
    // IAM clients built on AWS SDKs send their parameters as a form body.
    if (path == "/iam" || path == "/sts")
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        for (k, v) in parse_query(&String::from_utf8_lossy(&body)) {
            query.entry(k).or_insert(v);
        }
    }
    let mut req = Req {
        method: parts.method.clone(),
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect(),
        path,
        query,
        token: token_of(&parts.headers),
        headers: parts.headers,
        body,
        format,
        user: None,
    };
    let route = crate::api::route_name(&req, sim.model().cfg.version);
    let effect = sim.faults.effect(req.method.as_str(), &req.path);
    let reply = answer(&sim, &mut req, &effect).await;
    let response = encode(reply, req.format, &effect);
    sim.log.record(Logged {
        at_ms: sim.clock.now_ms(),
        method: req.method.to_string(),
        route,
        path: req.path.clone(),
        status: response.status().as_u16(),
        millis: started.elapsed().as_millis() as u64,
    });
    response
}

async fn answer(sim: &Arc<Sim>, req: &mut Req, effect: &Effect) -> Reply {
    if effect.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(effect.latency_ms)).await;
    }
    if effect.timeout {
        // Hold the request until the client gives up; a day is "never" for a test.
        tokio::time::sleep(Duration::from_secs(86_400)).await;
    }
    if let Some((status, code)) = effect.error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Reply::error(
            status,
            code,
            "Injected fault",
            "the simulator was told to fail this request",
        );
    }
    if req.path != "/login" {
        let Some(token) = req.token.clone() else {
            return Reply::error(
                StatusCode::UNAUTHORIZED,
                4000,
                "Unauthorized",
                "Access is denied due to invalid or expired credentials",
            );
        };
        match sim.sessions.check(&token) {
            Ok(user) => req.user = Some(user),
            Err(_) => {
                return Reply::error(
                    StatusCode::UNAUTHORIZED,
                    4000,
                    "Unauthorized",
                    "Access is denied due to invalid or expired credentials",
                );
            }
        }
    }
    crate::api::dispatch(sim, req)
}

fn encode(reply: Reply, format: Format, effect: &Effect) -> Response<Body> {
    let (status, content_type, mut body, headers) = match reply {
        Reply::Doc(status, mut doc) => {
            if !effect.missing_fields.is_empty() || !effect.na_fields.is_empty() {
                doc.materialize();
                tamper(&mut doc.json, &effect.missing_fields, &effect.na_fields);
                if let Some(x) = doc.xml.as_mut() {
                    tamper(x, &effect.missing_fields, &effect.na_fields);
                }
            }
            (
                status,
                format.content_type(),
                doc.encode(format),
                Vec::new(),
            )
        }
        Reply::Raw {
            status,
            content_type,
            body,
            headers,
        } => (status, content_type, body, headers),
    };
    if effect.malformed && status.is_success() {
        body.truncate(body.len() / 2);
    }
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, no-transform"),
    );
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().append(k, v);
        }
    }
    r
}
