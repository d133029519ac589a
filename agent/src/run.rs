//! Wires a checked configuration into a running agent: exporters first (a port that
//! cannot be bound stops the start before any collection), then the fan-out, the
//! receivers, the health endpoints and the scheduler; and takes it all down in order on
//! SIGTERM or SIGINT.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use exporter_otlp::OtlpExporter;
use exporter_prometheus::PrometheusExporter;
use pipeline::config::parse_socket_addr;
use pipeline::fanout::Fanout;
use pipeline::registry::{BuildContext, BuiltJob};
use pipeline::{Collector, PipelineStats, http_server, kv};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{AgentConfig, ExporterConfig};
use crate::health::Health;
use crate::scheduler::{self, Job};
use crate::telemetry::{Telemetry, agent_resource};

/// Snapshots waiting for the Prometheus exporter: one per source at most (newer ones
/// replace waiting ones), so this only needs to hold every source once; at least this.
const PROMETHEUS_QUEUE: usize = 64;

/// Where the agent's servers ended up listening (useful with port 0).
#[derive(Debug, Clone, Default)]
pub struct Listening {
    pub prometheus: Vec<(String, SocketAddr)>,
    pub health: Option<SocketAddr>,
}

/// Runs the agent until `shutdown` completes, then stops it within the configured
/// shutdown timeout.
pub async fn run(
    cfg: AgentConfig,
    shutdown: impl Future<Output = ()>,
    on_listening: impl FnOnce(&Listening),
) -> anyhow::Result<()> {
    let stats = PipelineStats::new();
    let mut telemetry = Telemetry::init(&cfg, &stats)?;
    let result = run_inner(&cfg, stats, &mut telemetry, shutdown, on_listening).await;
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "agent stopped on an error");
    }
    telemetry.shutdown().await;
    result
}

async fn run_inner(
    cfg: &AgentConfig,
    stats: Arc<PipelineStats>,
    telemetry: &mut Telemetry,
    shutdown: impl Future<Output = ()>,
    on_listening: impl FnOnce(&Listening),
) -> anyhow::Result<()> {
    for w in &cfg.warnings {
        tracing::warn!(path = %w.path, "{}", w.message);
    }
    let scheduled = cfg.scheduled_jobs();
    let mut listening = Listening::default();

    let prometheus_queue = PROMETHEUS_QUEUE.max(scheduled.len());
    let mut builder = Fanout::builder(stats.clone());
    let exporter_ids = cfg.used_exporters();
    for id in &exporter_ids {
        match &cfg.exporters[id] {
            ExporterConfig::Prometheus(p) => {
                let e = PrometheusExporter::start(id, p, stats.clone())
                    .await
                    .with_context(|| format!("exporters.{id}: cannot start"))?;
                stats.register_exporter(id, prometheus_queue).set_started();
                listening.prometheus.push((id.clone(), e.local_addr()));
                builder = builder.exporter(id, e, prometheus_queue);
            }
            ExporterConfig::Otlp(o) => {
                let e = OtlpExporter::new(id, o, &stats)
                    .with_context(|| format!("exporters.{id}: cannot start"))?;
                tracing::info!(exporter = %id, endpoint = %o.endpoint, "OTLP exporter ready");
                builder = builder.exporter(id, Arc::new(e), o.sending_queue.queue_size);
            }
        }
    }
    for s in &scheduled {
        builder = builder
            .route(&s.id, &s.metrics_exporters)
            .route_logs(&s.id, &s.logs_exporters);
    }
    let fanout = Arc::new(builder.start());

    let intervals: Vec<(String, Duration)> = scheduled
        .iter()
        .map(|s| (s.id.clone(), s.interval))
        .collect();
    let resource = pipeline::resource(agent_resource(cfg).into_iter().map(|(k, v)| kv(k, v)));
    let service_name = agent_resource(cfg)
        .into_iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v)
        .unwrap_or_else(|| "ecs-otel-agent".into());
    let cx = BuildContext {
        stats: stats.clone(),
        resource,
        service_name,
        intervals,
    };
    // Each used receiver builds all its collectors at once: they may share a session.
    let mut built: BTreeMap<&str, Vec<BuiltJob>> = BTreeMap::new();
    let mut jobs = Vec::new();
    let mut collectors: Vec<Arc<dyn Collector>> = Vec::new();
    for s in &scheduled {
        if !built.contains_key(s.receiver.as_str()) {
            let spec = cfg
                .receivers
                .get(&s.receiver)
                .with_context(|| format!("receivers.{}: not configured", s.receiver))?;
            let b = spec
                .build(&s.receiver, &cx)
                .with_context(|| format!("receivers.{}", s.receiver))?;
            built.insert(s.receiver.as_str(), b);
        }
        let collector = built
            .get(s.receiver.as_str())
            .and_then(|b| b.iter().find(|j| j.name == s.name))
            .map(|j| j.collector.clone())
            .with_context(|| {
                format!("{}: the receiver built no collector for it", s.config_path)
            })?;
        if s.requested_interval != s.interval {
            tracing::info!(job = %s.id, requested = ?s.requested_interval, effective = ?s.interval, base = ?cfg.service.scheduler.base_interval, "interval rounded up to a multiple of the base interval");
        }
        if s.metrics_exporters.is_empty() {
            tracing::info!(job = %s.id, "named only in logs pipelines; its metrics are not exported");
        }
        if !collectors.iter().any(|c| Arc::ptr_eq(c, &collector)) {
            collectors.push(collector.clone());
        }
        jobs.push(Job {
            id: s.id.as_str().into(),
            collector,
            interval: s.interval,
            initial_delay: s.initial_delay,
            timeout: s.timeout,
            stats: stats.register_job(&s.id, s.interval),
        });
    }
    for (id, spec) in &cfg.receivers {
        if spec.jobs().is_empty() {
            tracing::info!(receiver = %id, "disabled; not started");
        } else if !scheduled.iter().any(|s| &s.receiver == id) {
            tracing::warn!(receiver = %id, "defined but not used by any metrics or logs pipeline; not started");
        }
    }

    let health = Health::new(
        stats.clone(),
        scheduled.iter().map(|s| s.id.clone()).collect(),
        exporter_ids.clone(),
    );
    let servers = CancellationToken::new();
    if let Some(h) = cfg.health_check_enabled() {
        let addr = parse_socket_addr(&h.endpoint).map_err(anyhow::Error::msg)?;
        let listener = http_server::bind(addr)
            .await
            .context("extensions.health_check: cannot start")?;
        let local = listener.local_addr()?;
        let handler_health = health.clone();
        http_server::spawn(
            listener,
            None,
            Arc::new(move |req| {
                let h = handler_health.clone();
                async move { h.handle(req).await }
            }),
            servers.clone(),
        );
        listening.health = Some(local);
        tracing::info!(endpoint = %local, "health endpoints listening (/health, /health/ready, /health/live)");
    } else if cfg.health_check.is_some() {
        tracing::warn!(
            "extensions.health_check is defined but not listed in service.extensions; not started"
        );
    }

    let stop = CancellationToken::new();
    let grace = cfg.service.shutdown_timeout / 2;
    let loops = scheduler::start(jobs, fanout.clone(), stop.clone(), grace);
    tracing::info!(
        version = crate::health::VERSION,
        receivers = scheduled.len(),
        exporters = exporter_ids.len(),
        "agent started"
    );
    on_listening(&listening);

    shutdown.await;
    tracing::info!("shutting down: no new collections");
    health.set_stopping();
    let deadline = Instant::now() + cfg.service.shutdown_timeout;
    stop.cancel();
    for l in loops {
        let _ = tokio::time::timeout_at(deadline, l).await;
    }
    // The collections are over (or were cut at half the timeout): their batches and spans
    // are queued; the rest of the timeout is for delivering them.
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(500));
    tracing::info!(within = ?left, "delivering what the exporters still hold");
    tokio::join!(fanout.shutdown(left), telemetry.drain(left));
    for c in collectors {
        c.shutdown().await;
    }
    servers.cancel();
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
pub async fn signals() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
