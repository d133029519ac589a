//! A receiver kind defined only here, registered beside the agent's own ones without
//! touching the agent's sources: its figures reach /metrics and a real OTLP receiver, its
//! settings are checked with their paths, and it follows the frequency rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ecs_otel_agent::config::from_yaml_with;
use ecs_otel_agent::receivers::registry;
use pipeline::catalog::Catalog;
use pipeline::config::{Problems, Validate, join};
use pipeline::registry::{
    BuildContext, BuildError, BuiltJob, ConfigFactory, JobSpec, ReceiverSpec, Registry,
};
use pipeline::schedule::{ScheduleBlock, ScheduleDefaults, Scheduled};
use pipeline::{Collector, ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder, kv, scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use testkit::{Rotel, free_port, http_get, loopback, wait_until};

/// `receivers: constant/<name>: {value: 4.5, collection_interval: 1s}`: one gauge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct ConstantSettings {
    value: f64,
    /// A part with its own schedule, which may not run more often than the receiver.
    echo: Scheduled<EchoSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct EchoSettings {}

impl ScheduleDefaults for EchoSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock {
            enabled: false,
            ..ScheduleBlock::default()
        }
    }
}

impl ScheduleDefaults for ConstantSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock {
            collection_interval: Some(Duration::from_secs(10)),
            ..ScheduleBlock::default()
        }
    }
}

impl Validate for ConstantSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if !self.value.is_finite() || self.value < 0.0 {
            problems.push(join(path, "value"), "must be a non-negative number");
        }
    }
}

impl Validate for EchoSettings {
    fn validate(&self, _: &str, _: &mut Problems) {}
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
struct ConstantConfig(Scheduled<ConstantSettings>);

impl Validate for ConstantConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        self.0.validate(path, problems);
        self.0.echo.validate(&join(path, "echo"), problems);
    }
}

impl ReceiverSpec for ConstantConfig {
    fn jobs(&self) -> Vec<JobSpec> {
        let own = self.0.schedule.own(&ConstantSettings::default_schedule());
        let mut jobs = vec![JobSpec {
            name: None,
            config_path: String::new(),
            schedule: own,
            receiver_interval: None,
        }];
        let echo = &self.0.echo.schedule;
        if echo.enabled {
            jobs.push(JobSpec {
                name: Some("echo".into()),
                config_path: "echo".into(),
                schedule: echo.resolve(&own, Duration::ZERO),
                receiver_interval: echo.collection_interval.map(|_| own.interval),
            });
        }
        jobs
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn build(&self, _id: &str, cx: &BuildContext) -> Result<Vec<BuiltJob>, BuildError> {
        Ok(self
            .jobs()
            .into_iter()
            .map(|j| BuiltJob {
                name: j.name,
                collector: Arc::new(Constant {
                    value: self.0.value,
                    service_name: cx.service_name.clone(),
                }),
            })
            .collect())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

// Declared once, with its attribute keys: recording it with other attributes does not compile.
pipeline::typed_metric!(
    CONSTANT,
    Gauge,
    "plugin.constant",
    "1",
    ["run_by"],
    "the configuration",
    "The configured value"
);

const CATALOG: Catalog = Catalog {
    receiver: "constant",
    description: "A value from the configuration (a test's receiver kind).",
    metrics: &[CONSTANT.entry],
    unavailable: &[],
    renamed: &[],
};

struct Constant {
    value: f64,
    service_name: String,
}

#[async_trait]
impl Collector for Constant {
    async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let resource = pipeline::resource([kv("service.name", self.service_name.as_str())]);
        let mut b = SnapshotBuilder::new(resource, scope("plugin-test", "1"), ctx.started);
        CONSTANT.record(&mut b, self.value, [ctx.job.to_string()]);
        Ok(Snapshot::new(vec![b.build()]))
    }
}

fn with_constant() -> Registry {
    registry().with(ConfigFactory::<ConstantConfig>::new(
        "constant",
        &[&CATALOG],
    ))
}

#[test]
fn an_outside_receivers_catalog_joins_the_table() {
    let catalogs = with_constant().catalogs();
    assert_eq!(catalogs.len(), registry().catalogs().len() + 1);
    let last = catalogs.last().unwrap();
    assert_eq!(last.receiver, "constant");
    assert_eq!(last.metrics[0].attributes, ["run_by"]);
}

fn config(receiver: &str, prom: std::net::SocketAddr, otlp: std::net::SocketAddr) -> String {
    format!(
        "receivers:\n  constant/a:\n{receiver}exporters:\n  prometheus:\n    endpoint: {prom}\n  otlp:\n    endpoint: http://{otlp}\nservice:\n  scheduler:\n    base_interval: 1s\n  pipelines:\n    metrics:\n      receivers: [constant/a]\n      exporters: [prometheus, otlp]\n"
    )
}

fn problems(yaml: &str) -> Vec<String> {
    match from_yaml_with(yaml, &|_| None, &with_constant()) {
        Ok(_) => Vec::new(),
        Err(v) => v.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_outside_receiver_is_checked_like_the_agents_own() {
    let (p, o) = (loopback(), loopback());
    // The agent's own table does not know it.
    let unknown =
        ecs_otel_agent::config::from_yaml(&config("    value: 1\n", p, o), &|_| None).unwrap_err();
    assert!(
        unknown[0].to_string().starts_with(
            "receivers.constant/a: unknown receiver type \"constant\" (known: ecs, self, generic"
        ),
        "{unknown:?}"
    );
    assert!(problems(&config("    value: 1\n", p, o)).is_empty());
    assert_eq!(
        problems(&config("    value: -1\n    colour: red\n", p, o)),
        [
            "receivers.constant/a.colour: unknown key",
            "receivers.constant/a.value: must be a non-negative number"
        ]
    );
    // The frequency rule: a part may not run more often than its receiver, after rounding.
    assert_eq!(
        problems(&config(
            "    collection_interval: 10s\n    echo:\n      enabled: true\n      collection_interval: 4s\n",
            p,
            o
        )),
        [
            "receivers.constant/a.echo.collection_interval: 4s is shorter than the receiver's collection_interval 10s; a collector may not run more often than its receiver"
        ]
    );
    assert!(
        problems(&config(
            "    collection_interval: 10s\n    echo:\n      enabled: true\n      collection_interval: 9500ms\n",
            p,
            o
        ))
        .is_empty(),
        "9.5 s rounds up to the receiver's 10 s"
    );
}

#[test]
fn an_outside_receivers_figures_reach_metrics_and_otlp() {
    let rotel = Rotel::start(free_port());
    let prom = loopback();
    let cfg = from_yaml_with(
        &config(
            "    value: 4.5\n    collection_interval: 1s\n    initial_delay: 0s\n    echo:\n      enabled: true\n",
            prom,
            rotel.grpc,
        ),
        &|_| None,
        &with_constant(),
    )
    .unwrap();
    let jobs: Vec<String> = cfg.scheduled_jobs().into_iter().map(|j| j.id).collect();
    assert_eq!(jobs, ["constant/a", "constant/a/echo"]);

    let agent = support::start(cfg);
    let series = |body: &str, job: &str| {
        body.lines()
            .find(|l| l.starts_with("plugin_constant") && l.contains(&format!("=\"{job}\"")))
            .map(str::to_owned)
    };
    wait_until(Duration::from_secs(30), "both jobs on /metrics", || {
        http_get(prom, "/metrics", &[]).is_ok_and(|(_, body)| {
            series(&body, "constant/a").is_some() && series(&body, "constant/a/echo").is_some()
        })
    });
    let (_, body) = http_get(prom, "/metrics", &[]).unwrap();
    let line = series(&body, "constant/a").unwrap();
    assert!(line.ends_with(" 4.5"), "{line}");
    wait_until(
        Duration::from_secs(30),
        "rotel to print both jobs' gauge",
        || {
            let out = rotel.output();
            out.contains("run_by: Str(constant/a)\n")
                && out.contains("run_by: Str(constant/a/echo)")
        },
    );
    let out = rotel.output();
    let at = out.find("run_by: Str(constant/a)\n").unwrap();
    let value = out[at..]
        .lines()
        .find(|l| l.trim_start().starts_with("Value:"))
        .unwrap();
    assert_eq!(value.trim(), "Value: 4.5", "{out}");
    agent.stop();
}
