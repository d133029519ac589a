//! The ECS management client: one session per cluster and user, shared by all collectors
//! of that cluster. Logs in with Basic auth once and reuses the token; on a 401 logs in
//! again, at most twice per call; after a refused login waits (doubling) before trying
//! again, so a refused login never becomes a login storm; logs out on shutdown. At most N
//! calls in flight per cluster, a deadline per call, a circuit breaker per endpoint, a
//! client span per call, and counters per endpoint and status.

mod required;

pub use required::check_keys as require;

pub use pull::breaker;
pub use pull::read::json as parse;
pub use pull::read::typed;
pub use pull::read::xml;
pub use pull::telemetry::ClientStats;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use pipeline::config::Secret;
use pipeline::{Impact, ReceiverError};
use pull::limit::LimitError;
use pull::telemetry::{client_span, error_chain, record_error, record_status};
use pull::{Breakers, InFlight, RequestStats};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::{AnswerSizes, EcsConfig};

/// Re-logins allowed within one call after a 401.
pub const MAX_RELOGINS: u32 = 2;
const MAX_LOGIN_BACKOFF: Duration = Duration::from_secs(600);

/// How long to wait after the `failures`-th refused login in a row: `base`, doubling with
/// each refusal, never more than ten minutes.
fn login_wait(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1 << failures.saturating_sub(1).min(10))
        .min(MAX_LOGIN_BACKOFF)
}

/// The kind of [`ClientError::TokenLimit`].
const TOKEN_LIMIT: &str = "token_limit";

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("{route}: cannot reach {endpoint}: {message}")]
    Transport {
        route: String,
        endpoint: String,
        message: String,
    },
    #[error("{route}: no answer within {} ms", (after.as_secs_f64() * 1000.0).round())]
    Timeout { route: String, after: Duration },
    #[error("{route}: HTTP {status}{}: {message}", code.map(|c| format!(" (ECS code {c})")).unwrap_or_default())]
    Status {
        route: String,
        status: u16,
        code: Option<u32>,
        message: String,
    },
    #[error("login to {endpoint} as {user} refused: {message}")]
    Auth {
        endpoint: String,
        user: String,
        message: String,
    },
    #[error(
        "login to {endpoint} as {user} refused: the user has reached ECS's limit of concurrent tokens ({message}); other sessions of this user must log out or expire"
    )]
    TokenLimit {
        endpoint: String,
        user: String,
        message: String,
    },
    #[error("not logging in to {endpoint} again for {:.1} s after the last refusal: {last}", wait.as_secs_f64())]
    LoginBackoff {
        endpoint: String,
        wait: Duration,
        last: String,
        /// The kind of the last refusal, which this error stands for until the next try.
        last_kind: &'static str,
    },
    #[error("{route}: circuit open after repeated failures; next try in {retry_in:?}")]
    CircuitOpen { route: String, retry_in: Duration },
    #[error("{route}: malformed answer: {message}")]
    Malformed { route: String, message: String },
    #[error(
        "{route}: the answer of {endpoint} is larger than {limit} bytes (max_answer_size.{setting}); abandoned"
    )]
    TooLarge {
        route: String,
        endpoint: String,
        limit: u64,
        /// The `max_answer_size` key that sets the cap.
        setting: &'static str,
    },
    /// The answer lacks what the collector needs: not a zero, an error.
    #[error("{route}: the answer has no {}", fields.join(", "))]
    Missing { route: String, fields: Vec<String> },
    #[error("{0}")]
    Setup(String),
}

impl ClientError {
    /// What this failure says about the agent's health. ECS's limit of concurrent tokens
    /// frees up as the user's other sessions end or expire: the agent is working and
    /// waiting, and calling it unhealthy would invite a restart, which only adds a session.
    pub fn impact(&self) -> Impact {
        match self {
            ClientError::TokenLimit { .. } => Impact::Degraded,
            ClientError::LoginBackoff { last_kind, .. } if *last_kind == TOKEN_LIMIT => {
                Impact::Degraded
            }
            // ECS answers, but not what the agent can use: restarting would not help.
            ClientError::Missing { .. } | ClientError::TooLarge { .. } => Impact::Degraded,
            _ => Impact::Unhealthy,
        }
    }

    /// The cluster refused the login: every other call of the cycle would fail the same
    /// way, so this is the error to report.
    pub fn is_login_refused(&self) -> bool {
        matches!(self.kind(), "auth" | TOKEN_LIMIT)
    }

    /// The collector's failure for this error, `message` naming what could not be read.
    pub fn receiver_error(&self, message: impl Into<String>) -> ReceiverError {
        ReceiverError::new(self.kind(), message).with_impact(self.impact())
    }

    /// A short, bounded word for counters and `error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Transport { .. } => "unavailable",
            ClientError::Timeout { .. } => "timeout",
            ClientError::Status { status, .. } if *status >= 500 => "server_error",
            ClientError::Status { .. } => "client_error",
            ClientError::Auth { .. } => "auth",
            ClientError::LoginBackoff { last_kind, .. } => last_kind,
            ClientError::TokenLimit { .. } => TOKEN_LIMIT,
            ClientError::CircuitOpen { .. } => "circuit_open",
            ClientError::Malformed { .. } => "malformed",
            ClientError::TooLarge { .. } => "too_large",
            ClientError::Missing { .. } => "missing_fields",
            ClientError::Setup(_) => "config",
        }
    }
}

/// An answer: status, body (and the session token, when the answer carries one).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    token: Option<String>,
}

/// The ECS release family, from `/vdc/nodes`: picks endpoints and expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// ECS up to 3.5: dashboard transaction figures, port 9101.
    Ecs35,
    /// ECS 3.6 to 3.x: no transaction figures, port 9101.
    Ecs36,
    /// ObjectScale 4.x: no port 9101.
    ObjectScale4,
}

impl Family {
    pub fn from_version(v: &str) -> Family {
        let mut parts = v.split('.').filter_map(|p| p.parse::<u32>().ok());
        match (parts.next(), parts.next()) {
            (Some(major), _) if major >= 4 => Family::ObjectScale4,
            (Some(3), Some(minor)) if minor >= 6 => Family::Ecs36,
            _ => Family::Ecs35,
        }
    }

    pub fn has_dt_stats(self) -> bool {
        self != Family::ObjectScale4
    }
}

#[derive(Debug, Default)]
struct LoginState {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<(String, &'static str)>,
}

pub struct EcsClient {
    http: reqwest::Client,
    base: String,
    user: String,
    password: Secret,
    request_timeout: Duration,
    login_backoff: Duration,
    answer_sizes: AnswerSizes,
    /// Bytes of answers being read right now.
    reading: AtomicU64,
    token: Mutex<Option<String>>,
    login_lock: tokio::sync::Mutex<()>,
    login_state: Mutex<LoginState>,
    limit: InFlight,
    breakers: Breakers,
    stats: RequestStats,
    family: Mutex<Option<(Family, String)>>,
    pub started: SystemTime,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The ECS error body's code and text, if the body is one.
fn ecs_error(body: &[u8]) -> (Option<u32>, String) {
    let text = String::from_utf8_lossy(body);
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let code = parse::uint(&v["code"]).map(|c| c as u32);
        let msg = [parse::text(&v["description"]), parse::text(&v["details"])]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        return (
            code,
            if msg.is_empty() {
                text.chars().take(200).collect()
            } else {
                msg
            },
        );
    }
    if let Ok((_, v)) = xml::parse(&text) {
        let code = parse::uint(&v["code"]).map(|c| c as u32);
        let msg = [
            parse::text(&v["description"]),
            parse::text(&v["details"]),
            parse::text(&v["Error"]["Message"]),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
        if code.is_some() || !msg.is_empty() {
            return (code, msg);
        }
    }
    (None, text.chars().take(200).collect())
}

/// A management call.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: reqwest::Method,
    /// Path and query: `/object/bucket?namespace=ns1&limit=1000`.
    pub path: String,
    /// The endpoint it is counted and broken under: `/object/bucket`.
    pub route: &'a str,
    pub body: Option<Vec<u8>>,
    pub headers: Vec<(&'static str, String)>,
    /// No call may run past this (the collection run's deadline).
    pub deadline: Option<Instant>,
    /// Keep the query's values (but `Action`) out of the span: they may name key ids.
    pub redact_query: bool,
}

impl<'a> Call<'a> {
    pub fn get(route: &'a str, path: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::GET,
            path: path.into(),
            route,
            body: None,
            headers: Vec::new(),
            deadline: None,
            redact_query: false,
        }
    }

    pub fn post_json(route: &'a str, path: impl Into<String>, body: &Value) -> Self {
        Self {
            method: reqwest::Method::POST,
            path: path.into(),
            route,
            body: Some(serde_json::to_vec(body).unwrap_or_default()),
            headers: vec![("Content-Type", "application/json".into())],
            deadline: None,
            redact_query: false,
        }
    }

    pub fn until(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// A POST without a body (the IAM Query API takes its parameters in the query).
    pub fn post(route: &'a str, path: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::POST,
            ..Self::get(route, path)
        }
    }

    /// Spans show `Action` and the parameters' names, not their values.
    pub fn redacted(mut self) -> Self {
        self.redact_query = true;
        self
    }

    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
}

impl EcsClient {
    pub fn new(cfg: &EcsConfig) -> Result<Self, ClientError> {
        let password = cfg
            .secret()
            .ok_or_else(|| ClientError::Setup("no password (password or password_file)".into()))?;
        // The management API's port, when the endpoint names none.
        let pull::HttpClient { client: http, base } = cfg
            .http_client()
            .build_with_default_port(4443)
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        let stats = RequestStats::new();
        Ok(Self {
            http,
            breakers: Breakers::new(
                base.clone(),
                cfg.circuit_breaker.failure_threshold,
                cfg.circuit_breaker.cool_down,
            ),
            base,
            user: cfg.username.clone(),
            password,
            request_timeout: cfg.request_timeout,
            login_backoff: cfg.login_backoff,
            answer_sizes: cfg.max_answer_size,
            reading: AtomicU64::new(0),
            token: Mutex::new(None),
            login_lock: tokio::sync::Mutex::new(()),
            login_state: Mutex::new(LoginState::default()),
            limit: InFlight::new(cfg.max_concurrent_requests),
            family: Mutex::new(None),
            started: stats.started,
            stats,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.base
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The cluster's release family and version string, once `/vdc/nodes` was read.
    pub fn family(&self) -> Option<(Family, String)> {
        lock(&self.family).clone()
    }

    pub fn set_version(&self, version: &str) {
        let f = Family::from_version(version);
        let mut cur = lock(&self.family);
        if cur.as_ref().map(|c| c.1.as_str()) != Some(version) {
            tracing::info!(endpoint = %self.base, version, family = ?f, "ECS version detected");
        }
        *cur = Some((f, version.to_owned()));
    }

    fn count(&self, route: &str, outcome: &str, took: Duration) {
        self.stats.count(route, outcome, took);
    }

    fn count_login(&self, outcome: &str) {
        self.stats.count_login(outcome);
    }

    pub fn stats(&self) -> ClientStats {
        self.stats.snapshot(self.breakers.open())
    }

    fn remaining(deadline: Option<Instant>, default: Duration) -> Duration {
        match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(default),
            None => default,
        }
    }

    /// One HTTP exchange, as a client span, counted.
    async fn send(
        &self,
        c: &Call<'_>,
        url: &str,
        token: Option<&str>,
        basic: bool,
    ) -> Result<Answer, ClientError> {
        let timeout = Self::remaining(c.deadline, self.request_timeout);
        if timeout.is_zero() {
            self.count(c.route, "timeout", Duration::ZERO);
            return Err(ClientError::Timeout {
                route: c.route.to_owned(),
                after: Duration::ZERO,
            });
        }
        let span = client_span(c.method.as_str(), c.route, url, c.redact_query);
        let req = self.request(c, url, token, basic, timeout);
        let (limit, setting) = self.answer_sizes.for_route(c.route);
        let started = Instant::now();
        let result = async {
            let mut resp = req.send().await?;
            let status = resp.status().as_u16();
            let token = resp
                .headers()
                .get("x-sds-auth-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let budget = Budget {
                reading: &self.reading,
                limit: self.answer_sizes.in_flight,
                held: 0,
            };
            let body = read_capped(&mut resp, limit, budget).await?;
            Ok::<_, reqwest::Error>(body.map_err(|s| s.unwrap_or((limit, setting))).map(|body| {
                Answer {
                    status,
                    body,
                    token,
                }
            }))
        }
        .instrument(span.clone())
        .await;
        let took = started.elapsed();
        // Counted inside the span: the duration's exemplar names this call's span.
        let _in_span = span.enter();
        match result {
            Ok(Ok(a)) => {
                record_status(&span, a.status);
                self.count(c.route, &a.status.to_string(), took);
                Ok(a)
            }
            Ok(Err((limit, setting))) => {
                record_error(&span, "too_large", "answer over its size cap");
                self.count(c.route, "too_large", took);
                let endpoint = origin(url).to_owned();
                tracing::warn!(route = c.route, %endpoint, limit, setting, "answer over its size cap; abandoned");
                Err(ClientError::TooLarge {
                    route: c.route.to_owned(),
                    endpoint,
                    limit,
                    setting,
                })
            }
            Err(e) if e.is_timeout() => {
                record_error(&span, "timeout", "no answer in time");
                self.count(c.route, "timeout", took);
                Err(ClientError::Timeout {
                    route: c.route.to_owned(),
                    after: timeout,
                })
            }
            Err(e) => {
                // reqwest names the URL in its errors; ours may hold private values.
                let message = error_chain(&e.without_url());
                record_error(&span, "transport", &message);
                self.count(c.route, "error", took);
                Err(ClientError::Transport {
                    route: c.route.to_owned(),
                    // The host asked: the management API, or a node's port.
                    endpoint: origin(url).to_owned(),
                    message,
                })
            }
        }
    }

    /// The request of `c`: JSON unless the call asks for something else (IAM in XML mode),
    /// the session token or the login's basic credentials, the call's own headers and body.
    fn request(
        &self,
        c: &Call<'_>,
        url: &str,
        token: Option<&str>,
        basic: bool,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let mut req = self.http.request(c.method.clone(), url).timeout(timeout);
        if !c
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
        {
            req = req.header("Accept", "application/json");
        }
        if let Some(t) = token {
            req = req.header("X-SDS-AUTH-TOKEN", t);
        }
        if basic {
            req = req.basic_auth(&self.user, Some(self.password.expose()));
        }
        for (k, v) in &c.headers {
            req = req.header(*k, v.as_str());
        }
        if let Some(b) = &c.body {
            req = req.body(b.clone());
        }
        req
    }

    /// The current token, logging in first if there is none.
    async fn token(&self, deadline: Option<Instant>) -> Result<String, ClientError> {
        if let Some(t) = lock(&self.token).clone() {
            return Ok(t);
        }
        let _one_login = self.login_lock.lock().await;
        if let Some(t) = lock(&self.token).clone() {
            return Ok(t);
        }
        {
            let st = lock(&self.login_state);
            if let Some(at) = st.next_attempt
                && Instant::now() < at
            {
                let (last, last_kind) = st.last_error.clone().unwrap_or(("".into(), "auth"));
                return Err(ClientError::LoginBackoff {
                    endpoint: self.base.clone(),
                    wait: at - Instant::now(),
                    last,
                    last_kind,
                });
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ClientError::Timeout {
                route: "/login".into(),
                after: Duration::ZERO,
            });
        }
        let result = self.login(deadline).await;
        let mut st = lock(&self.login_state);
        match &result {
            Ok(t) => {
                *lock(&self.token) = Some(t.clone());
                *st = LoginState::default();
            }
            // The caller's time ran out before ECS was asked: nothing was refused, and a
            // back-off would hold up every collector of the cluster for nothing.
            Err(ClientError::Timeout { after, .. }) if after.is_zero() => {}
            Err(e) => {
                st.failures += 1;
                let wait = login_wait(self.login_backoff, st.failures);
                st.next_attempt = Some(Instant::now() + wait);
                st.last_error = Some((e.to_string(), e.kind()));
                tracing::warn!(endpoint = %self.base, user = %self.user, error = %e, retry_in = ?wait, "ECS login failed");
            }
        }
        result
    }

    async fn login(&self, deadline: Option<Instant>) -> Result<String, ClientError> {
        let call = Call {
            deadline,
            ..Call::get("/login", "/login")
        };
        let url = format!("{}/login", self.base);
        let a = match self.send(&call, &url, None, true).await {
            Ok(a) => a,
            Err(e) => {
                self.count_login("error");
                return Err(e);
            }
        };
        if a.status == 200 {
            return match a.token {
                Some(t) if !t.is_empty() => {
                    self.count_login("success");
                    tracing::info!(endpoint = %self.base, user = %self.user, "logged in to ECS");
                    Ok(t)
                }
                _ => {
                    self.count_login("error");
                    Err(ClientError::Malformed {
                        route: "/login".into(),
                        message: "HTTP 200 without an X-SDS-AUTH-TOKEN header".into(),
                    })
                }
            };
        }
        let (code, message) = ecs_error(&a.body);
        let err = match (a.status, code) {
            (401, _) => {
                self.count_login("invalid_credentials");
                ClientError::Auth {
                    endpoint: self.base.clone(),
                    user: self.user.clone(),
                    message: if message.is_empty() {
                        "invalid credentials".into()
                    } else {
                        message
                    },
                }
            }
            (403, code)
                if code == Some(1031)
                    || (code.is_none() && message.to_ascii_lowercase().contains("token")) =>
            {
                self.count_login(TOKEN_LIMIT);
                ClientError::TokenLimit {
                    endpoint: self.base.clone(),
                    user: self.user.clone(),
                    message,
                }
            }
            (status, code) => {
                self.count_login("error");
                ClientError::Status {
                    route: "/login".into(),
                    status,
                    code,
                    message,
                }
            }
        };
        Err(err)
    }

    fn breaker_admit(&self, route: &str) -> Result<(), ClientError> {
        self.breakers
            .admit(route)
            .map_err(|retry_in| ClientError::CircuitOpen {
                route: route.to_owned(),
                retry_in,
            })
    }

    fn breaker_record(&self, route: &str, success: bool) {
        let _ = self.breakers.record(route, success);
    }

    /// A management call with the session: logs in when needed, logs in again on a 401
    /// (at most twice), respects the breaker and the in-flight limit. Non-2xx answers are
    /// errors naming the endpoint.
    pub async fn call(&self, c: Call<'_>) -> Result<Answer, ClientError> {
        self.breaker_admit(c.route)?;
        // Waiting for a permit is not the endpoint failing: no breaker record.
        let permit = self.limit.acquire(c.deadline).await.map_err(|e| match e {
            LimitError::Deadline => ClientError::Timeout {
                route: c.route.to_owned(),
                after: Duration::ZERO,
            },
            LimitError::Closed => ClientError::Setup("client closed".into()),
        })?;
        let url = format!("{}{}", self.base, c.path);
        let mut relogins = 0;
        let result = loop {
            let token = match self.token(c.deadline).await {
                Ok(t) => t,
                // No session: the endpoint itself did not fail.
                Err(e) => {
                    drop(permit);
                    return Err(e);
                }
            };
            if c.deadline.is_some_and(|d| Instant::now() >= d) {
                // Out of time before the endpoint was asked: not its failure either.
                break Err(ClientError::Timeout {
                    route: c.route.to_owned(),
                    after: Duration::ZERO,
                });
            }
            match self.send(&c, &url, Some(&token), false).await {
                Ok(a) if a.status == 401 => {
                    {
                        let mut cur = lock(&self.token);
                        if cur.as_deref() == Some(token.as_str()) {
                            *cur = None;
                        }
                    }
                    if relogins >= MAX_RELOGINS {
                        let (_, message) = details(&c, &a.body);
                        break Err(ClientError::Auth {
                            endpoint: self.base.clone(),
                            user: self.user.clone(),
                            message: format!(
                                "{}: still 401 after {MAX_RELOGINS} new logins: {message}",
                                c.route
                            ),
                        });
                    }
                    relogins += 1;
                    tracing::info!(endpoint = %self.base, route = c.route, relogins, "token refused (expired or revoked); logging in again");
                }
                Ok(a) if a.status >= 400 => {
                    // A client error is an answer: only server errors trip the breaker.
                    self.breaker_record(c.route, a.status < 500);
                    let (code, message) = details(&c, &a.body);
                    break Err(ClientError::Status {
                        route: c.route.to_owned(),
                        status: a.status,
                        code,
                        message,
                    });
                }
                Ok(a) => {
                    self.breaker_record(c.route, true);
                    break Ok(a);
                }
                // The time ran out between the check above and the request: the endpoint
                // was never asked.
                Err(e @ ClientError::Timeout { after, .. }) if after.is_zero() => break Err(e),
                Err(e) => {
                    self.breaker_record(c.route, false);
                    break Err(e);
                }
            }
        };
        drop(permit);
        result
    }

    /// A call whose answer is JSON.
    pub async fn json(&self, c: Call<'_>) -> Result<Value, ClientError> {
        let route = c.route.to_owned();
        let private = c.redact_query;
        let a = self.call(c).await?;
        let v = serde_json::from_slice(&a.body)
            .map_err(|e| invalid_json(&route, private, &a.body, &e))?;
        // The text is no longer needed: let it go before the caller works on the tree.
        drop(a);
        required::check(&route, &v)?;
        Ok(v)
    }

    /// A call whose JSON answer `read` turns straight from the bytes into what the caller
    /// keeps (the large answers: no tree in between).
    pub async fn read_json<R>(
        &self,
        c: Call<'_>,
        read: impl FnOnce(&[u8]) -> Result<R, ClientError>,
    ) -> Result<R, ClientError> {
        let a = self.call(c).await?;
        read(&a.body)
    }

    /// A plain GET to a node port (9101, 9020): no session, no in-flight limit (nodes are
    /// separate hosts), its own timeout.
    pub async fn node_get(
        &self,
        route: &'static str,
        url: &str,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        let c = Call {
            deadline: Some(Instant::now() + timeout),
            ..Call::get(route, url)
        };
        let a = self.send(&c, url, None, false).await?;
        if a.status >= 400 {
            let (code, message) = ecs_error(&a.body);
            return Err(ClientError::Status {
                route: route.to_owned(),
                status: a.status,
                code,
                message,
            });
        }
        Ok(a)
    }

    /// Ends the session (frees one of the user's tokens).
    pub async fn logout(&self) {
        let token = lock(&self.token).take();
        let Some(token) = token else { return };
        let c = Call {
            deadline: Some(Instant::now() + Duration::from_secs(5)),
            ..Call::get("/logout", "/logout")
        };
        let url = format!("{}/logout", self.base);
        match self.send(&c, &url, Some(&token), false).await {
            Ok(a) if a.status == 200 || a.status == 401 => {
                tracing::info!(endpoint = %self.base, user = %self.user, "logged out of ECS")
            }
            Ok(a) => {
                tracing::warn!(endpoint = %self.base, status = a.status, "logout answered with an error")
            }
            Err(e) => {
                tracing::warn!(endpoint = %self.base, error = %e, "logout failed; the token will expire by itself")
            }
        }
    }

    /// Whether a session token is held right now.
    pub fn has_session(&self) -> bool {
        lock(&self.token).is_some()
    }
}

/// The error of an answer that is not the JSON expected: the parser's words, the size, and
/// (unless the call is private: the body may hold what its privacy is for, a policy
/// document) how the answer starts.
pub fn invalid_json(route: &str, private: bool, body: &[u8], e: &serde_json::Error) -> ClientError {
    ClientError::Malformed {
        route: route.to_owned(),
        message: if private {
            format!("invalid JSON ({e}); {} bytes", body.len())
        } else {
            format!(
                "invalid JSON ({e}); {} bytes, starting {:?}",
                body.len(),
                String::from_utf8_lossy(&body[..body.len().min(60)])
            )
        },
    }
}

/// `scheme://host:port` of `url`, without its path and query (which may be private).
fn origin(url: &str) -> &str {
    let rest = url.find("://").map_or(0, |i| i + 3);
    match url[rest..].find(['/', '?']) {
        Some(i) => &url[..rest + i],
        None => url,
    }
}

/// The bytes one read holds of the client's budget for answers in flight.
struct Budget<'a> {
    reading: &'a AtomicU64,
    limit: u64,
    held: u64,
}

impl Budget<'_> {
    /// Takes `n` more bytes; `false` when that passes the budget.
    fn take(&mut self, n: u64) -> bool {
        self.held += n;
        self.reading.fetch_add(n, Ordering::Relaxed) + n <= self.limit
    }
}

impl Drop for Budget<'_> {
    fn drop(&mut self) {
        self.reading.fetch_sub(self.held, Ordering::Relaxed);
    }
}

/// The body of `resp`, read as it arrives; once it passes `limit` bytes (or the answers
/// in flight pass their budget), `Err` with the cap that stopped it (`None`: the
/// answer's own), and the rest is never read: the connection is dropped. An announced
/// length past the cap is refused before any of the body is read.
async fn read_capped(
    resp: &mut reqwest::Response,
    limit: u64,
    mut budget: Budget<'_>,
) -> Result<Result<Bytes, Option<(u64, &'static str)>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Ok(Err(None));
    }
    // Chunks are kept as they came and joined once at the end: a growing buffer would
    // hold up to twice the answer while it doubles.
    let mut chunks = Vec::new();
    let mut len = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        len += chunk.len() as u64;
        if len > limit {
            return Ok(Err(None));
        }
        if !budget.take(chunk.len() as u64) {
            return Ok(Err(Some((budget.limit, "in_flight"))));
        }
        chunks.push(chunk);
    }
    Ok(Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => {
            let mut all = Vec::with_capacity(len as usize);
            for c in &chunks {
                all.extend_from_slice(c);
            }
            Bytes::from(all)
        }
    }))
}

/// ECS's error code and message of an answer; the message is withheld for private calls
/// (ECS echoes parameters in it: "The access key AKIA… cannot be found").
fn details(c: &Call<'_>, body: &[u8]) -> (Option<u32>, String) {
    let (code, message) = ecs_error(body);
    if c.redact_query {
        (
            code,
            "details withheld (the call's parameters are private)".into(),
        )
    } else {
        (code, message)
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn the_origin_of_a_url_leaves_out_path_and_query() {
        assert_eq!(
            origin("http://10.0.0.1:9101/stats/dt/DTInitStat"),
            "http://10.0.0.1:9101"
        );
        assert_eq!(
            origin("http://[fd00::10]:9020/?ping"),
            "http://[fd00::10]:9020"
        );
        assert_eq!(origin("https://ecs:4443"), "https://ecs:4443");
        assert_eq!(origin("https://ecs:4443?x=1"), "https://ecs:4443");
    }

    #[test]
    fn the_login_wait_doubles_from_the_base_up_to_ten_minutes() {
        let secs = |base: u64| -> Vec<u64> {
            (1..=9)
                .map(|n| login_wait(Duration::from_secs(base), n).as_secs())
                .collect()
        };
        assert_eq!(secs(30), [30, 60, 120, 240, 480, 600, 600, 600, 600]);
        assert_eq!(secs(1), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
        assert_eq!(secs(900), [600; 9]);
        // Far past any real run of refusals, still capped (no overflow).
        assert_eq!(login_wait(Duration::from_secs(30), u32::MAX).as_secs(), 600);
        assert_eq!(login_wait(Duration::ZERO, 3), Duration::ZERO);
    }
}
