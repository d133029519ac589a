//! The logs signal end to end, with a receiver kind defined only here that reports events
//! as log records beside a gauge: its log records reach a real OTLP receiver (rotel) once
//! each, through the logs pipeline only, and never the Prometheus endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ecs_otel_agent::config::from_yaml_with;
use ecs_otel_agent::receivers::registry;
use pipeline::catalog::Catalog;
use pipeline::config::{Problems, Validate};
use pipeline::otlp::common::v1::{AnyValue, any_value};
use pipeline::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use pipeline::registry::{
    BuildContext, BuildError, BuiltJob, ConfigFactory, JobSpec, ReceiverSpec, Registry,
};
use pipeline::schedule::{ScheduleBlock, ScheduleDefaults, Scheduled};
use pipeline::{
    Collector, ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder, kv, scope, unix_nanos,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use testkit::{Rotel, free_port, http_get, loopback, rotel_log_records, wait_until};

/// When the events happened, as the source says: 2026-06-15T12:00:00Z and a second later.
const HAPPENED: u64 = 1_781_524_800;

/// `receivers: events/<name>: {collection_interval: 1s}`: a gauge of the run number, and
/// two events the first run saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct EventsSettings {}

impl ScheduleDefaults for EventsSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock {
            collection_interval: Some(Duration::from_secs(1)),
            initial_delay: Some(Duration::ZERO),
            ..ScheduleBlock::default()
        }
    }
}

impl Validate for EventsSettings {
    fn validate(&self, _: &str, _: &mut Problems) {}
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
struct EventsConfig(Scheduled<EventsSettings>);

impl Validate for EventsConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        self.0.validate(path, problems);
    }
}

impl ReceiverSpec for EventsConfig {
    fn jobs(&self) -> Vec<JobSpec> {
        vec![JobSpec {
            name: None,
            config_path: String::new(),
            schedule: self.0.schedule.own(&EventsSettings::default_schedule()),
            receiver_interval: None,
        }]
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn build(&self, _id: &str, cx: &BuildContext) -> Result<Vec<BuiltJob>, BuildError> {
        Ok(vec![BuiltJob {
            name: None,
            collector: Arc::new(Events {
                service_name: cx.service_name.clone(),
            }),
        }])
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pipeline::typed_metric!(
    RUNS,
    Gauge,
    "logs_test.run",
    "{run}",
    ["run_by"],
    "the scheduler",
    "The run number"
);

const CATALOG: Catalog = Catalog {
    receiver: "events",
    description: "Events as log records beside a gauge (a test's receiver kind).",
    metrics: &[RUNS.entry],
    unavailable: &[],
    renamed: &[],
};

struct Events {
    service_name: String,
}

fn text(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    })
}

#[async_trait]
impl Collector for Events {
    async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let resource = pipeline::resource([kv("service.name", self.service_name.as_str())]);
        let mut b = SnapshotBuilder::new(resource.clone(), scope("logs-test", "1"), ctx.started);
        RUNS.record(&mut b, ctx.run as i64, [ctx.job.to_string()]);
        let snapshot = Snapshot::new(vec![b.build()]);
        // Events happen once: only the first run reports them.
        if ctx.run != 1 {
            return Ok(snapshot);
        }
        let observed = unix_nanos(ctx.started);
        let created = LogRecord {
            time_unix_nano: HAPPENED * 1_000_000_000,
            observed_time_unix_nano: observed,
            severity_number: SeverityNumber::Info as i32,
            severity_text: "INFO".into(),
            body: text("bucket b1 created"),
            attributes: vec![
                kv("event.name", "bucket.created"),
                kv("namespace", "ns1"),
                kv("bucket", "b1"),
            ],
            ..Default::default()
        };
        let alert = LogRecord {
            time_unix_nano: (HAPPENED + 1) * 1_000_000_000,
            observed_time_unix_nano: observed,
            severity_number: SeverityNumber::Warn as i32,
            severity_text: "WARNING".into(),
            body: text("disk 3 of node n2 failed"),
            attributes: vec![
                kv("event.name", "alert.raised"),
                kv("alert.symptom_code", 1404_i64),
            ],
            ..Default::default()
        };
        let logs = ResourceLogs {
            resource: Some(resource),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope("logs-test", "1")),
                log_records: vec![created, alert],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        };
        Ok(snapshot.with_logs(vec![logs]))
    }
}

fn with_events() -> Registry {
    registry().with(ConfigFactory::<EventsConfig>::new("events", &[&CATALOG]))
}

/// The agent's configuration: `events/a` (and `self`) in a metrics pipeline to prometheus
/// and otlp, plus whatever `logs` adds.
fn config(prom: std::net::SocketAddr, otlp: std::net::SocketAddr, logs: &str) -> String {
    format!(
        "receivers:\n  events/a:\n  self:\n    collection_interval: 1s\nexporters:\n  prometheus:\n    endpoint: {prom}\n  otlp:\n    endpoint: http://{otlp}\nservice:\n  scheduler:\n    base_interval: 1s\n  pipelines:\n    metrics:\n      receivers: [events/a]\n      exporters: [prometheus, otlp]\n    metrics/self:\n      receivers: [self]\n      exporters: [prometheus]\n{logs}"
    )
}

/// The value rotel printed for the gauge of `run`, once it did.
fn gauge_of_run_printed(out: &str, run: i64) -> bool {
    out.split("Name: logs_test.run")
        .skip(1)
        .any(|m| m.contains(&format!("Value: {run}\n")))
}

#[test]
fn log_records_reach_otlp_once_and_never_prometheus() {
    let rotel = Rotel::start(free_port());
    let prom = loopback();
    let logs = "    logs:\n      receivers: [events/a]\n      exporters: [otlp]\n";
    let cfg = from_yaml_with(&config(prom, rotel.grpc, logs), &|_| None, &with_events()).unwrap();
    let agent = support::start(cfg);

    // Three runs: the events of the first, and two more runs that must not resend them.
    wait_until(
        Duration::from_secs(30),
        "rotel to print run 3's gauge",
        || gauge_of_run_printed(&rotel.output(), 3),
    );
    wait_until(
        Duration::from_secs(30),
        "rotel to print both log records",
        || rotel_log_records(&rotel.output()).len() >= 2,
    );
    let out = rotel.output();
    let records = rotel_log_records(&out);
    assert_eq!(records.len(), 2, "each log record once:\n{out}");
    let attrs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let (created, alert) = (&records[0], &records[1]);
    assert_eq!(created.body, "Str(bucket b1 created)");
    assert_eq!(created.severity_number, "SEVERITY_NUMBER_INFO(9)");
    assert_eq!(created.severity_text, "INFO");
    assert_eq!(created.time_unix_nano, HAPPENED * 1_000_000_000);
    assert!(created.observed_time_unix_nano > created.time_unix_nano);
    assert_eq!(
        created.attributes,
        attrs(&[
            ("event.name", "Str(bucket.created)"),
            ("namespace", "Str(ns1)"),
            ("bucket", "Str(b1)"),
        ])
    );
    assert_eq!(
        created.resource,
        attrs(&[("service.name", "Str(ecs-otel-agent)")])
    );
    assert_eq!(created.scope, "logs-test 1");
    assert_eq!(alert.body, "Str(disk 3 of node n2 failed)");
    assert_eq!(alert.severity_number, "SEVERITY_NUMBER_WARN(13)");
    assert_eq!(alert.severity_text, "WARNING");
    assert_eq!(alert.time_unix_nano, (HAPPENED + 1) * 1_000_000_000);
    assert_eq!(
        alert.attributes,
        attrs(&[
            ("event.name", "Str(alert.raised)"),
            ("alert.symptom_code", "Int(1404)"),
        ])
    );

    // Prometheus shows the gauge and nothing of the logs; the self receiver counts the
    // two records the OTLP exporter delivered, and none refused.
    let counter = |body: &str, name: &str, exporter: &str| -> Option<String> {
        body.lines()
            .find(|l| {
                l.starts_with(&format!("{name}{{"))
                    && l.contains(&format!("exporter=\"{exporter}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    let sent = "ecs_otel_agent_exporter_sent_log_records_total";
    let rejected = "ecs_otel_agent_exporter_rejected_log_records_total";
    wait_until(
        Duration::from_secs(30),
        "the sent log records on /metrics",
        || {
            http_get(prom, "/metrics", &[])
                .is_ok_and(|(_, body)| counter(&body, sent, "otlp").as_deref() == Some("2"))
        },
    );
    let (_, body) = http_get(prom, "/metrics", &[]).unwrap();
    assert!(
        body.lines()
            .any(|l| l.starts_with("logs_test_run{") && l.contains("run_by=\"events/a\"")),
        "{body}"
    );
    for leaked in [
        "bucket b1 created",
        "bucket.created",
        "disk 3",
        "alert.raised",
    ] {
        assert!(!body.contains(leaked), "{leaked} on /metrics:\n{body}");
    }
    assert_eq!(
        counter(&body, rejected, "otlp").as_deref(),
        Some("0"),
        "{body}"
    );
    assert_eq!(counter(&body, sent, "prometheus"), None, "{body}");
    agent.stop();
}

#[test]
fn without_a_logs_pipeline_no_log_record_leaves() {
    let rotel = Rotel::start(free_port());
    let prom = loopback();
    let cfg = from_yaml_with(&config(prom, rotel.grpc, ""), &|_| None, &with_events()).unwrap();
    let agent = support::start(cfg);
    // The first run's metrics went out through the same exporter; its events did not.
    wait_until(
        Duration::from_secs(30),
        "rotel to print run 2's gauge",
        || gauge_of_run_printed(&rotel.output(), 2),
    );
    let out = rotel.output();
    assert!(gauge_of_run_printed(&out, 1), "{out}");
    assert_eq!(rotel_log_records(&out), [], "{out}");
    assert!(!out.contains("bucket b1 created"), "{out}");
    let (_, body) = http_get(prom, "/metrics", &[]).unwrap();
    assert!(!body.contains("log_records"), "{body}");
    agent.stop();
}

#[test]
fn a_receiver_named_only_in_a_logs_pipeline_is_scheduled() {
    let (prom, otlp) = (loopback(), loopback());
    let yaml = config(
        prom,
        otlp,
        "    logs:\n      receivers: [events/b]\n      exporters: [otlp]\n",
    )
    .replace("  self:\n", "  events/b:\n  self:\n");
    let cfg = from_yaml_with(&yaml, &|_| None, &with_events()).unwrap();
    let jobs: Vec<_> = cfg
        .scheduled_jobs()
        .into_iter()
        .map(|j| (j.id, j.metrics_exporters, j.logs_exporters))
        .collect();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        jobs,
        [
            (
                "events/a".into(),
                names(&["prometheus", "otlp"]),
                names(&[])
            ),
            ("self".into(), names(&["prometheus"]), names(&[])),
            ("events/b".into(), names(&[]), names(&["otlp"])),
        ]
    );
}
