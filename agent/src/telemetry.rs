//! The agent's own logs and traces. Logs go to stderr (text or JSON). Spans of every
//! collection cycle and outbound call go through `tracing-opentelemetry` to the OTLP
//! exporter named by the traces pipeline, through that exporter's bounded span queue and
//! retries (`exporter_otlp::spans`).

use exporter_otlp::spans::SpanDelivery;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use pipeline::PipelineStats;
use pipeline::trace::SEMCONV_SCHEMA_URL;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt as _, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{AgentConfig, LogFormat, LogLevel, SamplerKind, TracesConfig};
use crate::span_cap::SpanCap;

/// Crates whose debug output drowns ours; they stay at warn unless asked for trace.
const NOISY: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "rustls",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

/// Resource attributes of the agent itself: configured ones, plus defaults for
/// `service.name`, `service.version` and `service.instance.id`.
pub fn agent_resource(cfg: &AgentConfig) -> Vec<(String, String)> {
    let mut attrs = cfg.service.telemetry.resource.clone();
    attrs
        .entry("service.name".into())
        .or_insert_with(|| "ecs-otel-agent".into());
    attrs
        .entry("service.version".into())
        .or_insert_with(|| crate::health::VERSION.into());
    if !attrs.contains_key("service.instance.id") {
        let host = sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into());
        attrs.insert("service.instance.id".into(), host);
    }
    attrs.into_iter().collect()
}

/// The OpenTelemetry sampler of `service.telemetry.traces`.
pub fn sampler(cfg: &TracesConfig) -> Sampler {
    match cfg.sampler {
        SamplerKind::AlwaysOn => Sampler::AlwaysOn,
        SamplerKind::AlwaysOff => Sampler::AlwaysOff,
        SamplerKind::TraceIdRatio => Sampler::TraceIdRatioBased(cfg.ratio),
        SamplerKind::ParentBasedTraceIdRatio => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(cfg.ratio)))
        }
    }
}

/// The ids of the OpenTelemetry span current on this thread (the layer makes a tracing
/// span's context current while it is entered), when it is sampled: a histogram's
/// exemplar then leads to a trace that exists.
fn sampled_ids() -> Option<([u8; 16], [u8; 8])> {
    opentelemetry::Context::map_current(|cx| {
        let sc = cx.span().span_context().clone();
        (sc.is_valid() && sc.is_sampled())
            .then(|| (sc.trace_id().to_bytes(), sc.span_id().to_bytes()))
    })
}

pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    delivery: Option<SpanDelivery>,
}

impl Telemetry {
    /// Sets the global subscriber. Must run inside the Tokio runtime (the span delivery's
    /// task and channel live there). Span counters go to `stats`.
    pub fn init(cfg: &AgentConfig, stats: &PipelineStats) -> anyhow::Result<Telemetry> {
        let level = match cfg.service.telemetry.logs.level {
            LogLevel::Trace => LevelFilter::TRACE,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Error => LevelFilter::ERROR,
        };
        let mut targets = Targets::new().with_default(level);
        if level < LevelFilter::TRACE {
            for t in NOISY {
                targets = targets.with_target(*t, LevelFilter::WARN.min(level));
            }
        }
        let fmt = match cfg.service.telemetry.logs.format {
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false)
                .boxed(),
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stderr)
                .with_current_span(false)
                .boxed(),
        }
        .with_filter(targets);

        let (provider, delivery, otel) = match cfg.traces_exporter() {
            Some((name, otlp)) => {
                let (queue, delivery) = exporter_otlp::spans::span_delivery(name, otlp, stats)
                    .map_err(|e| {
                        anyhow::anyhow!("exporters.{name}: cannot build the span exporter: {e}")
                    })?;
                let resource = opentelemetry_sdk::Resource::builder_empty()
                    .with_schema_url(
                        agent_resource(cfg)
                            .into_iter()
                            .map(|(k, v)| KeyValue::new(k, v)),
                        SEMCONV_SCHEMA_URL,
                    )
                    .build();
                let traces = &cfg.service.telemetry.traces;
                let provider = SdkTracerProvider::builder()
                    .with_span_processor(queue)
                    .with_resource(resource)
                    .with_sampler(sampler(traces))
                    .build();
                let tracer = provider.tracer_with_scope(
                    InstrumentationScope::builder("ecs-otel-agent")
                        .with_version(crate::health::VERSION)
                        .with_schema_url(SEMCONV_SCHEMA_URL)
                        .build(),
                );
                pipeline::trace::set_id_source(sampled_ids);
                // Only the agent's own spans (collection cycles, outbound calls), not the
                // internals of the libraries it uses; at most the cap per cycle.
                let only_ours = Targets::new()
                    .with_target("ecs_otel_agent", LevelFilter::INFO)
                    .with_target("receiver", LevelFilter::INFO)
                    .and(SpanCap {
                        max: traces.max_spans_per_cycle,
                    });
                // Source locations, thread names and busy/idle times are noise to
                // whoever reads a collection trace in Jaeger or Tempo.
                let layer = tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_location(false)
                    .with_threads(false)
                    .with_target(false)
                    .with_tracked_inactivity(false)
                    .with_filter(only_ours);
                (Some(provider), Some(delivery), Some(layer))
            }
            None => (None, None, None),
        };
        tracing_subscriber::registry()
            .with(fmt)
            .with(otel)
            .try_init()
            .map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))?;
        Ok(Telemetry { provider, delivery })
    }

    /// Sends the spans still queued within `within` (what is left then is dropped,
    /// counted and logged). Later spans are counted as dropped.
    pub async fn drain(&mut self, within: std::time::Duration) {
        if let Some(d) = self.delivery.take() {
            d.drain(within).await;
        }
    }

    /// Drains what is still queued (if [`Self::drain`] was not called: the agent stopped
    /// on an error) and shuts the tracer provider down.
    pub async fn shutdown(mut self) {
        self.drain(std::time::Duration::from_secs(2)).await;
        if let Some(p) = self.provider {
            let r = tokio::task::spawn_blocking(move || p.shutdown()).await;
            if let Ok(Err(e)) = r {
                eprintln!("stopping the tracer provider failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sampler_is_the_sdks_own() {
        let of = |sampler, ratio| {
            format!(
                "{:?}",
                super::sampler(&TracesConfig {
                    sampler,
                    ratio,
                    ..TracesConfig::default()
                })
            )
        };
        assert_eq!(of(SamplerKind::AlwaysOn, 1.0), "AlwaysOn");
        assert_eq!(of(SamplerKind::AlwaysOff, 1.0), "AlwaysOff");
        assert_eq!(
            of(SamplerKind::TraceIdRatio, 0.25),
            "TraceIdRatioBased(0.25)"
        );
        assert!(
            of(SamplerKind::ParentBasedTraceIdRatio, 0.5).contains("TraceIdRatioBased(0.5)"),
            "{}",
            of(SamplerKind::ParentBasedTraceIdRatio, 0.5)
        );
    }

    #[test]
    fn the_default_traces_every_cycle_with_a_cap() {
        let d = TracesConfig::default();
        assert_eq!(d.sampler, SamplerKind::AlwaysOn);
        assert_eq!(
            d.max_spans_per_cycle,
            crate::config::DEFAULT_MAX_SPANS_PER_CYCLE
        );
    }
}
