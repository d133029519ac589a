//! The Prometheus pull exporter. Each arriving snapshot is rendered once, per source, into
//! exposition lines; a scrape serves the union of the latest snapshots, assembled once per
//! change and shared by every scrape until the next one. A scrape never triggers a
//! collection. Sources that stop reporting are expired by a timer, whether or not anyone
//! scrapes.

pub mod auth;
pub mod config;
pub mod naming;
pub mod negotiate;
pub mod packed;
pub mod registry;
pub mod render;

use std::collections::hash_map::RandomState;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use pipeline::config::parse_socket_addr;
use pipeline::http_server::{self, Body, Generation};
use pipeline::{Batch, ExportError, Exporter, PipelineStats, QueuePolicy};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{PageCompression, PrometheusConfig};
use registry::{Exposition, Registry, Variants};
use render::RenderOptions;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Endpoint(String),
    #[error("{0}")]
    Bind(#[from] std::io::Error),
    #[error("{0}")]
    Tls(#[from] pipeline::tls::TlsError),
}

struct Shared {
    name: String,
    registry: Mutex<Registry>,
    stats: Arc<PipelineStats>,
    /// The encodings scrapers have asked for: each new exposition is prepared in them
    /// before it is served.
    wanted: AtomicU8,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expire(&self, now: Instant) {
        let gone = self.registry().expire(now);
        if gone.is_empty() {
            return;
        }
        for source in gone {
            tracing::info!(exporter = %self.name, source = %source, "source stopped reporting; its series expired");
            self.stats.set_series(&source, 0);
        }
        self.prepare_and_publish();
    }

    /// Makes the newest exposition's wanted encodings (gzip is CPU work: off the async
    /// runtime), then serves it. Scrapes meanwhile get the previous one, whole.
    fn prepare_and_publish(&self) {
        let next = self.registry().current();
        let wanted = Variants(self.wanted.load(Ordering::Relaxed) | Variants::IDENTITY.0);
        next.prepare(wanted);
        self.registry().publish(&next);
    }

    fn want(&self, format: registry::Format, gzip: bool) {
        self.wanted
            .fetch_or(Variants::bit(format, gzip), Ordering::Relaxed);
    }
}

/// How long a source's series stay without a new snapshot: `metric_expiration`, or two of
/// the source's own intervals if longer, so that a slow source is not dropped between two
/// of its snapshots.
pub fn ttl(metric_expiration: Duration, interval: Duration) -> Duration {
    metric_expiration.max(interval * 2)
}

pub struct PrometheusExporter {
    shared: Arc<Shared>,
    opts: RenderOptions,
    hasher: RandomState,
    expiration: Duration,
    shutdown: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    local_addr: SocketAddr,
}

impl PrometheusExporter {
    /// Binds the endpoint and starts serving (an empty exposition until data arrives) and
    /// the expiry timer.
    pub async fn start(
        name: &str,
        cfg: &PrometheusConfig,
        stats: Arc<PipelineStats>,
    ) -> Result<Arc<Self>, StartError> {
        let addr = parse_socket_addr(&cfg.endpoint).map_err(StartError::Endpoint)?;
        let tls = cfg
            .tls
            .as_ref()
            .map(pipeline::tls::server_config)
            .transpose()?;
        let listener = http_server::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            registry: Mutex::new(Registry::default()),
            stats,
            wanted: AtomicU8::new(0),
        });
        let auth = if cfg.basic_auth_users.is_empty() {
            None
        } else {
            let users = cfg.basic_auth_users.clone();
            // Making the decoy hash takes a bcrypt round.
            Some(Arc::new(
                tokio::task::spawn_blocking(move || auth::BasicAuth::new(users))
                    .await
                    .map_err(|e| StartError::Endpoint(e.to_string()))?,
            ))
        };
        let shutdown = CancellationToken::new();
        let handler = Arc::new(MetricsHandler {
            shared: shared.clone(),
            path: cfg.metrics_path.clone(),
            auth,
        });
        let on_close: http_server::OnClose = {
            let shared = shared.clone();
            Arc::new(move |reason: http_server::CloseReason, peer| {
                if reason == http_server::CloseReason::ConnectionLimit {
                    tracing::debug!(exporter = %shared.name, %peer, "connection refused: max_connections reached");
                }
                shared
                    .stats
                    .add_closed_connection(&shared.name, reason.as_str());
            })
        };
        let server = http_server::spawn_limited(
            listener,
            tls,
            Arc::new(move |req| {
                let h = handler.clone();
                async move { h.handle(req).await }
            }),
            shutdown.clone(),
            http_server::ServerLimits {
                write_timeout: Some(cfg.write_timeout),
                stall_timeout: Some(cfg.stall_timeout),
                max_connections: Some(cfg.max_connections),
                on_close: Some(on_close),
            },
        );
        let expirer = {
            let shared = shared.clone();
            let shutdown = shutdown.clone();
            let tick = (cfg.metric_expiration / 10)
                .clamp(Duration::from_millis(100), Duration::from_secs(10));
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(tick);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = interval.tick() => {
                            let shared = shared.clone();
                            let _ = tokio::task::spawn_blocking(move || shared.expire(Instant::now())).await;
                        }
                    }
                }
            })
        };
        tracing::info!(exporter = name, endpoint = %local_addr, path = %cfg.metrics_path, tls = cfg.tls.is_some(), "Prometheus endpoint listening");
        Ok(Arc::new(Self {
            shared,
            opts: RenderOptions {
                add_suffixes: cfg.add_metric_suffixes,
                scope_labels: cfg.scope_labels,
                resource_to_labels: cfg.resource_to_telemetry_conversion.enabled,
                send_timestamps: cfg.send_timestamps,
                max_series_per_metric: cfg.max_series_per_metric,
                pack: cfg.page_compression == PageCompression::Lz4,
            },
            hasher: RandomState::new(),
            expiration: cfg.metric_expiration,
            shutdown,
            tasks: Mutex::new(vec![server, expirer]),
            local_addr,
        }))
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The newest exposition (what a scrape gets once its encodings are prepared).
    pub fn exposition(&self) -> Arc<Exposition> {
        self.shared.registry().current()
    }

    /// The exposition a scrape gets right now.
    pub fn served(&self) -> Arc<Exposition> {
        self.shared.registry().served()
    }

    /// Renders `batch` and makes it the latest snapshot of its source.
    pub fn ingest(&self, batch: &Batch) {
        self.ingest_at(batch, Instant::now());
    }

    /// [`Self::ingest`], as received at `now`.
    pub fn ingest_at(&self, batch: &Batch, now: Instant) {
        if batch.is_logs_only() {
            return;
        }
        let render = render::render(batch, &self.opts, &self.hasher);
        self.store(batch, render, now);
        self.shared.prepare_and_publish();
    }

    /// Drops the sources whose time to live has run out at `now`, as the expiry timer does.
    pub fn expire_at(&self, now: Instant) {
        self.shared.expire(now);
    }

    fn store(&self, batch: &Batch, render: render::SourceRender, now: Instant) {
        let shared = &self.shared;
        for (metric, n) in &render.overflow {
            tracing::warn!(exporter = %shared.name, source = %batch.source, metric = %metric, dropped = n, "cardinality limit reached; series dropped");
            shared.stats.add_overflow(&batch.source, metric, *n);
        }
        for (reason, n) in &render.dropped {
            shared.stats.add_dropped_metrics(&shared.name, reason, *n);
        }
        let series = render.series;
        let ttl = ttl(self.expiration, batch.interval);
        let update = shared
            .registry()
            .replace_at(batch.source.clone(), render, ttl, now);
        for family in &update.type_conflicts {
            tracing::warn!(exporter = %shared.name, source = %batch.source, family = %family, "another source exposes this family with a different type; left out");
            shared
                .stats
                .add_dropped_metrics(&shared.name, "type_conflict", 1);
        }
        shared.stats.set_series(&batch.source, series);
    }
}

#[async_trait]
impl Exporter for PrometheusExporter {
    fn queue_policy(&self) -> QueuePolicy {
        QueuePolicy::LatestPerSource
    }

    async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError> {
        // Log records are not the source's series: taking their batch for a snapshot would
        // blank them. (The fan-out sends this exporter no logs; this keeps it so.)
        if batch.is_logs_only() {
            return Ok(());
        }
        let opts = self.opts.clone();
        let hasher = self.hasher.clone();
        let b = batch.clone();
        // Rendering a large snapshot is CPU work: keep it off the async workers.
        let render = tokio::task::spawn_blocking(move || render::render(&b, &opts, &hasher))
            .await
            .map_err(|e| ExportError::new("internal", format!("render task failed: {e}")))?;
        self.store(&batch, render, Instant::now());
        // So is gzip, made here once per change rather than by the first scrape after it.
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.prepare_and_publish())
            .await
            .map_err(|e| ExportError::new("internal", format!("gzip task failed: {e}")))?;
        Ok(())
    }

    async fn shutdown(&self) {
        self.shutdown.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for PrometheusExporter {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

struct MetricsHandler {
    shared: Arc<Shared>,
    path: String,
    auth: Option<Arc<auth::BasicAuth>>,
}

impl MetricsHandler {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if req.uri().path() != self.path {
            return http_server::text(
                StatusCode::NOT_FOUND,
                format!("not found; metrics are at {}\n", self.path),
            );
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = http_server::text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        if let Some(auth) = &self.auth
            && let Some(refused) = self.authenticate(auth, &req).await
        {
            return refused;
        }
        let header_str = |h| {
            req.headers()
                .get(h)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let format = negotiate::format(header_str(header::ACCEPT));
        let gzip = negotiate::gzip(header_str(header::ACCEPT_ENCODING));
        self.shared.want(format, gzip);
        let exposition = self.shared.registry().served();
        // Ready unless this encoding was never asked for before: then it is made here, once.
        let generation = exposition.generation().clone();
        if exposition.is_ready(format, gzip) {
            return respond(
                &req,
                format,
                gzip,
                exposition.body(format, gzip),
                generation,
            );
        }
        let rope = match tokio::task::spawn_blocking(move || exposition.body(format, gzip)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "assembling the exposition failed");
                return http_server::text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
            }
        };
        respond(&req, format, gzip, rope, generation)
    }

    /// `None` when the request may go on; the refusal otherwise (counted, and logged at
    /// most once per client per minute).
    async fn authenticate(
        &self,
        auth: &Arc<auth::BasicAuth>,
        req: &Request<Incoming>,
    ) -> Option<Response<Body>> {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let client = req
            .extensions()
            .get::<http_server::PeerAddr>()
            .map(|p| p.0.ip());
        let verdict = match auth.begin(header, client, Instant::now()) {
            auth::Step::Done(v) => v,
            auth::Step::Bcrypt(pending) => {
                let auth = auth.clone();
                tokio::task::spawn_blocking(move || auth.finish(pending, Instant::now()))
                    .await
                    .unwrap_or(auth::Verdict::WrongCredentials)
            }
        };
        let reason = verdict.reason()?;
        self.shared
            .stats
            .add_auth_failure(&self.shared.name, reason);
        if let Some(unlogged) = auth.should_log(client, Instant::now()) {
            let client = client.map(|c| c.to_string()).unwrap_or_default();
            tracing::warn!(exporter = %self.shared.name, %client, reason, unlogged, "scrape refused: basic auth failed (at most one line per client per minute)");
        }
        let mut r = if verdict == auth::Verdict::RateLimited {
            let mut r =
                http_server::text(StatusCode::TOO_MANY_REQUESTS, "Too many failed attempts\n");
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(auth::REFILL.as_secs().max(1)),
            );
            r
        } else {
            http_server::text(StatusCode::UNAUTHORIZED, "Unauthorized\n")
        };
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ecs-otel-agent\""),
        );
        Some(r)
    }
}

fn respond(
    req: &Request<Incoming>,
    format: registry::Format,
    gzip: bool,
    rope: registry::Rope,
    generation: Arc<Generation>,
) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let body = Body::chunks(rope).of_generation(generation);
    let len = body.len();
    let mut r = Response::new(if head { Body::empty() } else { body });
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if head {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_kept_for_the_expiration_or_two_of_its_intervals() {
        let s = Duration::from_secs;
        assert_eq!(ttl(s(100), s(60)), s(120));
        assert_eq!(ttl(s(300), s(60)), s(300));
        assert_eq!(ttl(s(300), s(150)), s(300));
        assert_eq!(ttl(s(300), s(151)), s(302));
    }
}
