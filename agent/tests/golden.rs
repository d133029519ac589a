//! Golden files: one cycle of every ECS collector (dashboard, node stats, billing, IAM,
//! with the compatibility names) against a simulator whose clock and seed are fixed, as
//! the Prometheus endpoint serves it (the whole /metrics body) and as the OTLP exporter
//! sends it (every request, every field). A change to any name, label, unit, type or value
//! fails here and shows as a diff of `agent/tests/golden/`.
//!
//! Only what a cycle measures rather than reads is masked: call durations, the
//! directory-server probes' response time, and counter starts set from the agent's own
//! clock (they are printed as `<wall clock>`).
//!
//! To regenerate on purpose: `UPDATE_GOLDEN=1 cargo nextest run -p ecs-otel-agent --test
//! golden`, review `git diff agent/tests/golden/`, and run again without it. In update mode
//! the test rewrites the files and fails, so it can never pass by comparing the output with
//! itself; CI unsets the variable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ecs_sim::{SimConfig, Version};
use exporter_otlp::split::Splitter;
use exporter_prometheus::{PrometheusConfig, PrometheusExporter};
use pipeline::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline::otlp::common::v1::{AnyValue, KeyValue, any_value};
use pipeline::otlp::metrics::v1::{
    AggregationTemporality, NumberDataPoint, metric::Data, number_data_point,
};
use pipeline::{Batch, Collector as _, Exporter, PipelineStats, ScrapeContext};
use prost::Message as _;
use receiver_ecs::billing::config::Tier;
use receiver_ecs::{EcsConfig, EcsSettings};
use tokio_util::sync::CancellationToken;

/// 2026-06-15T12:02:30Z: mid-month, mid-sample.
const FROZEN_AT: i64 = 1_781_524_950;
/// Measured, not read: masked.
const MEASURED: &[&str] = &[
    "ecs_otel_agent.ecs.request.duration",
    "emcecs.auth_provider.response_time",
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The wall-clock window of the test: a timestamp inside it comes from the agent's clock.
struct Wall(i64, i64);

impl Wall {
    fn show(&self, nanos: u64) -> String {
        let s = (nanos / 1_000_000_000) as i64;
        if nanos == 0 {
            "0".into()
        } else if (self.0..=self.1).contains(&s) {
            "<wall clock>".into()
        } else if nanos % 1_000_000_000 == 0 {
            pipeline::timefmt::iso(s)
        } else {
            format!("{}+{}ns", pipeline::timefmt::iso(s), nanos % 1_000_000_000)
        }
    }
}

fn any(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => format!("{s:?}"),
        Some(any_value::Value::IntValue(i)) => format!("int {i}"),
        Some(any_value::Value::DoubleValue(d)) => format!("double {d}"),
        Some(any_value::Value::BoolValue(b)) => format!("bool {b}"),
        other => format!("{other:?}"),
    }
}

fn attrs(kvs: &[KeyValue]) -> String {
    let inner: Vec<String> = kvs
        .iter()
        .map(|kv| format!("{}={}", kv.key, any(&kv.value)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn number(p: &NumberDataPoint, masked: bool) -> String {
    if masked {
        return "<measured>".into();
    }
    match p.value {
        Some(number_data_point::Value::AsInt(i)) => format!("int {i}"),
        Some(number_data_point::Value::AsDouble(d)) => format!("double {d}"),
        None => "none".into(),
    }
}

/// Every field of every export request, one line per data point.
fn dump_requests(batch: &Batch, wall: &Wall, out: &mut String) {
    for (i, bytes) in Splitter::new(&batch.resource_metrics, 4 << 20).enumerate() {
        let req = ExportMetricsServiceRequest::decode(&bytes[..]).unwrap();
        writeln!(out, "# {} request {i}", batch.source).unwrap();
        for rm in &req.resource_metrics {
            let resource = rm.resource.as_ref().map(|r| attrs(&r.attributes));
            writeln!(out, "resource {}", resource.unwrap_or_default()).unwrap();
            writeln!(out, "resource schema_url {:?}", rm.schema_url).unwrap();
            for sm in &rm.scope_metrics {
                let s = sm.scope.clone().unwrap_or_default();
                writeln!(
                    out,
                    "scope {:?} {:?} {} schema_url {:?}",
                    s.name,
                    s.version,
                    attrs(&s.attributes),
                    sm.schema_url
                )
                .unwrap();
                for m in &sm.metrics {
                    let masked = MEASURED.contains(&m.name.as_str());
                    let kind = match &m.data {
                        Some(Data::Gauge(_)) => "gauge".to_owned(),
                        Some(Data::Sum(s)) => format!(
                            "sum {:?} monotonic={}",
                            AggregationTemporality::try_from(s.aggregation_temporality),
                            s.is_monotonic
                        ),
                        Some(Data::Histogram(h)) => format!(
                            "histogram {:?}",
                            AggregationTemporality::try_from(h.aggregation_temporality)
                        ),
                        other => format!("{other:?}"),
                    };
                    writeln!(
                        out,
                        "metric {} unit={:?} {kind} {:?} metadata={}",
                        m.name,
                        m.unit,
                        m.description,
                        attrs(&m.metadata)
                    )
                    .unwrap();
                    let numbers = match &m.data {
                        Some(Data::Gauge(g)) => g.data_points.as_slice(),
                        Some(Data::Sum(s)) => s.data_points.as_slice(),
                        _ => &[],
                    };
                    for p in numbers {
                        writeln!(
                            out,
                            "  {} {} time={} start={} flags={} exemplars={}",
                            attrs(&p.attributes),
                            number(p, masked),
                            wall.show(p.time_unix_nano),
                            wall.show(p.start_time_unix_nano),
                            p.flags,
                            p.exemplars.len()
                        )
                        .unwrap();
                    }
                    if let Some(Data::Histogram(h)) = &m.data {
                        for p in &h.data_points {
                            let measured = |x: String| if masked { "<measured>".into() } else { x };
                            writeln!(
                                out,
                                "  {} count={} sum={} buckets={} bounds={:?} min={} max={} time={} start={} flags={}",
                                attrs(&p.attributes),
                                p.count,
                                measured(format!("{:?}", p.sum)),
                                measured(format!("{:?}", p.bucket_counts)),
                                p.explicit_bounds,
                                measured(format!("{:?}", p.min)),
                                measured(format!("{:?}", p.max)),
                                wall.show(p.time_unix_nano),
                                wall.show(p.start_time_unix_nano),
                                p.flags
                            )
                            .unwrap();
                        }
                    }
                }
            }
        }
    }
}

/// The /metrics body with the measured samples' values masked.
fn mask_exposition(body: &str) -> String {
    let measured = [
        "ecs_otel_agent_ecs_request_duration_seconds_bucket",
        "ecs_otel_agent_ecs_request_duration_seconds_sum",
        "emcecs_auth_provider_response_time_seconds",
    ];
    body.lines()
        .map(|l| {
            let sample = !l.starts_with('#');
            match l.rsplit_once(' ') {
                Some((series, _)) if sample && measured.iter().any(|m| l.starts_with(m)) => {
                    format!("{series} <measured>")
                }
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Compares `got` with the golden file `name`, or rewrites it in update mode.
fn check(name: &str, got: &str) -> bool {
    let path = golden_dir().join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, got).unwrap();
        return false;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  now:    {:?}\n\
             If the change is intended: UPDATE_GOLDEN=1 cargo nextest run -p ecs-otel-agent --test golden, then review git diff agent/tests/golden/",
            first + 1,
            want.lines().nth(first),
            got.lines().nth(first)
        );
    }
    true
}

async fn golden(version: Version, node_net: [u8; 3]) {
    let wall_before = pipeline::timefmt::secs(SystemTime::now());
    let sim = ecs_sim::start(SimConfig {
        frozen_at: Some(FROZEN_AT),
        // A fixed network (outside the simulators' random range) keeps node addresses,
        // hence labels, the same on every run.
        node_net: Some(node_net),
        ..SimConfig::small(version)
    })
    .await
    .expect("simulator starts");
    let dir = testkit::TempDir::new("golden");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, sim.cert_pem.as_deref().unwrap()).unwrap();
    let mut cfg = EcsConfig::new(EcsSettings {
        endpoint: sim.url(),
        username: "emcmonitor".into(),
        password: Some(pipeline::config::Secret::new("monitor-pass")),
        cluster_name: Some("lab".into()),
        compatibility_names: true,
        ..EcsSettings::default()
    });
    cfg.tls.ca_file = Some(ca);
    let c = &mut cfg.collectors;
    c.billing.schedule.enabled = true;
    c.billing.pricing.storage.default = Some(0.02);
    c.billing.pricing.egress = vec![
        Tier {
            up_to_gb: Some(2.0),
            price: 0.09,
        },
        Tier {
            up_to_gb: None,
            price: 0.01,
        },
    ];
    c.iam.schedule.enabled = true;

    let collectors = receiver_ecs::collectors("lab", &cfg, "ecs-otel-agent").unwrap();
    let started = UNIX_EPOCH + Duration::from_secs(FROZEN_AT as u64);
    let mut batches = Vec::new();
    // One after the other, in the agent's order: the first reports the client's figures,
    // and what it counted depends on what ran before it.
    for (schedule, c) in &collectors {
        let source = format!("ecs/lab/{}", schedule.kind.name());
        let ctx = ScrapeContext {
            job: source.clone().into(),
            started,
            deadline: tokio::time::Instant::now() + Duration::from_secs(30),
            interval: schedule.interval,
            cancel: CancellationToken::new(),
            run: 1,
        };
        let snapshot = c
            .scrape(&ctx)
            .await
            .unwrap_or_else(|e| panic!("{source}: {} {}", e.kind, e.message));
        assert!(
            snapshot.warnings.is_empty(),
            "{source}: {:?}",
            snapshot.warnings
        );
        batches.push(Batch {
            source: source.into(),
            seq: 1,
            collected_at: started,
            interval: schedule.interval,
            resource_metrics: snapshot.resource_metrics,
            resource_logs: snapshot.resource_logs,
        });
    }
    if let Some((_, c)) = collectors.first() {
        c.shutdown().await;
    }
    let wall = Wall(
        wall_before - 1,
        pipeline::timefmt::secs(SystemTime::now()) + 1,
    );

    let mut otlp = String::new();
    for b in &batches {
        dump_requests(b, &wall, &mut otlp);
    }

    let prom = PrometheusExporter::start(
        "prometheus",
        &PrometheusConfig {
            endpoint: "127.0.0.1:0".into(),
            ..PrometheusConfig::default()
        },
        PipelineStats::new(),
    )
    .await
    .unwrap();
    for b in batches {
        prom.export(Arc::new(b)).await.unwrap();
    }
    let addr = prom.local_addr();
    let (status, body) =
        tokio::task::spawn_blocking(move || testkit::http_get(addr, "/metrics", &[]))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(status, 200);
    prom.shutdown().await;

    let v = version.as_str();
    let same_otlp = check(&format!("ecs-{v}.otlp.txt"), &otlp);
    let same_metrics = check(&format!("ecs-{v}.metrics.txt"), &mask_exposition(&body));
    assert!(
        same_otlp && same_metrics,
        "golden files for {v} rewritten: review `git diff agent/tests/golden/`, then run again without UPDATE_GOLDEN"
    );
}

#[tokio::test]
async fn ecs_3_5_cycle_matches_the_golden_files() {
    golden(Version::Ecs35, [127, 9, 35]).await;
}

#[tokio::test]
async fn ecs_3_8_cycle_matches_the_golden_files() {
    golden(Version::Ecs38, [127, 9, 38]).await;
}

#[tokio::test]
async fn objectscale_4_1_cycle_matches_the_golden_files() {
    golden(Version::ObjectScale41, [127, 9, 41]).await;
}
