//! The agent's configuration: OpenTelemetry-Collector-shaped YAML (`receivers`,
//! `exporters`, `extensions`, `service`), loaded with the `config` crate, `${env:VAR}`
//! expanded, unknown keys rejected, and every problem reported with its path.

mod expand;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use exporter_otlp::OtlpConfig;
use exporter_prometheus::PrometheusConfig;
use pipeline::config::{ConfigProblem, Problems, Validate, duration, join, parse_socket_addr};
use receiver_ecs::{CollectorKind, EcsConfig};
use receiver_self::SelfConfig;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use expand::Typed;

/// `type` or `type/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComponentId {
    pub kind: String,
    pub name: Option<String>,
}

impl ComponentId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (kind, name) = match s.split_once('/') {
            Some((k, n)) => (k, Some(n)),
            None => (s, None),
        };
        let ok = |p: &str| !p.is_empty() && !p.contains('/') && !p.chars().any(char::is_whitespace);
        if !ok(kind) || name.is_some_and(|n| !ok(n)) {
            return Err(format!(
                "invalid component id {s:?}; expected type or type/name"
            ));
        }
        Ok(Self {
            kind: kind.to_owned(),
            name: name.map(str::to_owned),
        })
    }
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverConfig {
    SelfTelemetry(SelfConfig),
    Ecs(Box<EcsConfig>),
}

/// What the scheduler needs of every receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub initial_delay: Duration,
    pub timeout: Option<Duration>,
}

impl ReceiverConfig {
    pub const KINDS: &'static [&'static str] = &["self", "ecs"];

    /// The scheduled jobs of a receiver: `self` is one, `ecs/prod` one per enabled
    /// collector (`ecs/prod/dashboard`, `ecs/prod/node_stats`).
    pub fn jobs(&self, id: &str) -> Vec<(String, Option<CollectorKind>, Schedule)> {
        match self {
            ReceiverConfig::SelfTelemetry(c) => vec![(
                id.to_owned(),
                None,
                Schedule {
                    interval: c.collection_interval,
                    initial_delay: c.initial_delay,
                    timeout: c.timeout,
                },
            )],
            ReceiverConfig::Ecs(c) => c
                .schedules()
                .into_iter()
                .map(|s| {
                    (
                        format!("{id}/{}", s.kind.name()),
                        Some(s.kind),
                        Schedule {
                            interval: s.interval,
                            initial_delay: s.initial_delay,
                            timeout: s.timeout,
                        },
                    )
                })
                .collect(),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            ReceiverConfig::SelfTelemetry(c) => serde_json::to_value(c),
            ReceiverConfig::Ecs(c) => serde_json::to_value(c),
        }
        .unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExporterConfig {
    Prometheus(PrometheusConfig),
    Otlp(OtlpConfig),
}

impl ExporterConfig {
    pub const KINDS: &'static [&'static str] = &["prometheus", "otlp"];

    fn to_json(&self) -> Value {
        match self {
            ExporterConfig::Prometheus(c) => serde_json::to_value(c),
            ExporterConfig::Otlp(c) => serde_json::to_value(c),
        }
        .unwrap_or(Value::Null)
    }
}

/// `extensions: health_check:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheckConfig {
    pub endpoint: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            endpoint: "0.0.0.0:13133".into(),
        }
    }
}

impl Validate for HealthCheckConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if let Err(e) = parse_socket_addr(&self.endpoint) {
            problems.push(join(path, "endpoint"), e);
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineConfig {
    pub receivers: Vec<String>,
    pub exporters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerConfig {
    /// Every receiver's interval is rounded up to a multiple of this, so that collections
    /// line up on common ticks.
    #[serde(with = "duration")]
    pub base_interval: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            base_interval: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogsConfig {
    pub level: LogLevel,
    pub format: LogFormat,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    pub logs: LogsConfig,
    /// Resource attributes of the agent's own metrics and spans (`service.name`, ...).
    pub resource: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceConfig {
    pub extensions: Vec<String>,
    pub pipelines: BTreeMap<String, PipelineConfig>,
    pub telemetry: TelemetryConfig,
    pub scheduler: SchedulerConfig,
    /// How long shutdown may take: running collections, then the exporters' queues.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            extensions: Vec::new(),
            pipelines: BTreeMap::new(),
            telemetry: TelemetryConfig::default(),
            scheduler: SchedulerConfig::default(),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub receivers: BTreeMap<String, ReceiverConfig>,
    pub exporters: BTreeMap<String, ExporterConfig>,
    pub health_check: Option<HealthCheckConfig>,
    pub service: ServiceConfig,
}

/// A receiver (or one collector of it) as the scheduler runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledReceiver {
    /// The job: `self`, `ecs/prod/dashboard`.
    pub id: String,
    /// The configured receiver it belongs to: `self`, `ecs/prod`.
    pub receiver: String,
    pub collector: Option<CollectorKind>,
    pub requested_interval: Duration,
    pub config: ReceiverConfig,
    pub interval: Duration,
    pub initial_delay: Duration,
    pub timeout: Duration,
    /// Exporters its batches go to (the union over its pipelines).
    pub exporters: Vec<String>,
}

/// `ceil(requested / base) * base`: intervals are multiples of the base interval.
pub fn effective_interval(requested: Duration, base: Duration) -> Duration {
    if base.is_zero() {
        return requested;
    }
    let n = requested.as_nanos().div_ceil(base.as_nanos()).max(1);
    base * u32::try_from(n).unwrap_or(u32::MAX)
}

impl AgentConfig {
    /// Receivers (and collectors) that some metrics pipeline uses, with their effective
    /// schedule.
    pub fn scheduled_receivers(&self) -> Vec<ScheduledReceiver> {
        let base = self.service.scheduler.base_interval;
        let mut out: Vec<ScheduledReceiver> = Vec::new();
        for (_, p) in self.metrics_pipelines() {
            for r in &p.receivers {
                let Some(cfg) = self.receivers.get(r) else {
                    continue;
                };
                for (job, collector, s) in cfg.jobs(r) {
                    let i = match out.iter().position(|x| x.id == job) {
                        Some(i) => i,
                        None => {
                            let interval = effective_interval(s.interval, base);
                            out.push(ScheduledReceiver {
                                id: job,
                                receiver: r.clone(),
                                collector,
                                requested_interval: s.interval,
                                config: cfg.clone(),
                                interval,
                                initial_delay: s.initial_delay,
                                timeout: s.timeout.unwrap_or(interval.mul_f64(0.8)),
                                exporters: Vec::new(),
                            });
                            out.len() - 1
                        }
                    };
                    for e in &p.exporters {
                        if !out[i].exporters.contains(e) {
                            out[i].exporters.push(e.clone());
                        }
                    }
                }
            }
        }
        out
    }

    pub fn metrics_pipelines(&self) -> impl Iterator<Item = (&String, &PipelineConfig)> {
        self.service
            .pipelines
            .iter()
            .filter(|(k, _)| pipeline_kind(k) == "metrics")
    }

    /// Exporters used by some metrics pipeline.
    pub fn used_exporters(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .metrics_pipelines()
            .flat_map(|(_, p)| p.exporters.iter().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The OTLP exporter that carries the agent's own spans, if a traces pipeline names one.
    pub fn traces_exporter(&self) -> Option<(&String, &OtlpConfig)> {
        let (_, p) = self
            .service
            .pipelines
            .iter()
            .find(|(k, _)| pipeline_kind(k) == "traces")?;
        let id = p.exporters.first()?;
        match self.exporters.get(id) {
            Some(ExporterConfig::Otlp(c)) => Some((id, c)),
            _ => None,
        }
    }

    pub fn health_check_enabled(&self) -> Option<&HealthCheckConfig> {
        self.service
            .extensions
            .iter()
            .any(|e| e == "health_check")
            .then_some(self.health_check.as_ref())
            .flatten()
    }

    /// The effective configuration as YAML, secrets redacted.
    pub fn to_yaml(&self) -> String {
        let mut root = serde_json::Map::new();
        let receivers = self
            .receivers
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        root.insert("receivers".into(), Value::Object(receivers));
        let exporters = self
            .exporters
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        root.insert("exporters".into(), Value::Object(exporters));
        let mut extensions = serde_json::Map::new();
        if let Some(h) = &self.health_check {
            extensions.insert(
                "health_check".into(),
                serde_json::to_value(h).unwrap_or(Value::Null),
            );
        }
        root.insert("extensions".into(), Value::Object(extensions));
        root.insert(
            "service".into(),
            serde_json::to_value(&self.service).unwrap_or(Value::Null),
        );
        yaml::to_yaml(&Value::Object(root))
    }
}

fn pipeline_kind(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// Decodes a section of `type[/name]` components. `decode_kind` is called only for the
/// types in `kinds` (which must list its arms); an unknown type is a problem naming them.
fn components<T>(
    what: &str,
    section: serde_json::Map<String, Value>,
    kinds: &[&str],
    problems: &mut Problems,
    decode_kind: impl Fn(&str, &Value, &str, &mut Problems) -> Option<T>,
) -> BTreeMap<String, T> {
    let mut out = BTreeMap::new();
    for (id, v) in section {
        let path = join(&format!("{what}s"), &id);
        let cid = match ComponentId::parse(&id) {
            Ok(c) => c,
            Err(e) => {
                problems.push(path, e);
                continue;
            }
        };
        let kind = cid.kind.as_str();
        if !kinds.contains(&kind) {
            problems.push(
                path,
                format!("unknown {what} type {kind:?} (known: {})", kinds.join(", ")),
            );
            continue;
        }
        if let Some(c) = decode_kind(kind, &v, &path, problems) {
            out.insert(id, c);
        }
    }
    out
}

/// Deserializes one component, collecting every unknown key and the first type error with
/// their paths, then runs the component's own checks. A setting that wants a string where
/// expansion made a number or a boolean gets the variable's text instead, as in the
/// Collector: `password: ${env:P}` with P=123456 is the password "123456".
fn decode<T: DeserializeOwned + Validate>(
    value: &Value,
    path: &str,
    typed: &Typed,
    problems: &mut Problems,
) -> Option<T> {
    let mut value = match value {
        Value::Null => Value::Object(Default::default()),
        v => v.clone(),
    };
    loop {
        let (result, unknown) = deserialize::<T>(value.clone());
        let e = match result {
            Ok(t) => {
                for u in unknown {
                    problems.push(join(path, &u), "unknown key");
                }
                t.validate(path, problems);
                return Some(t);
            }
            Err(e) => e,
        };
        let at = e.path().to_string();
        let at = if at == "." {
            path.to_owned()
        } else {
            join(path, &at)
        };
        let message = e.into_inner().to_string();
        // Each pass turns one value back into a string, so the loop ends.
        if message.starts_with("invalid type:")
            && let Some(text) = typed.get(&at)
            && expand::restore_text(&mut value, path, &at, text)
        {
            continue;
        }
        for u in unknown {
            problems.push(join(path, &u), "unknown key");
        }
        problems.push(at, message);
        return None;
    }
}

/// One deserializing pass: the value or the first error, and the unknown keys met.
fn deserialize<T: DeserializeOwned>(
    value: Value,
) -> (
    Result<T, serde_path_to_error::Error<serde_json::Error>>,
    Vec<String>,
) {
    let mut unknown = Vec::new();
    // serde_ignored writes `?` for a step through an Option: not part of the user's path.
    let mut on_unknown = |p: serde_ignored::Path<'_>| {
        let p = p.to_string();
        let p = p
            .split('.')
            .filter(|s| *s != "?")
            .collect::<Vec<_>>()
            .join(".");
        unknown.push(p)
    };
    let de = serde_ignored::Deserializer::new(value, &mut on_unknown);
    let result = serde_path_to_error::deserialize(de);
    (result, unknown)
}

const TOP_LEVEL: &[&str] = &["receivers", "exporters", "extensions", "service"];

/// Loads and checks a configuration file. Either a configuration with no problem, or
/// every problem found.
pub fn load(path: &Path) -> Result<AgentConfig, Vec<ConfigProblem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigProblem {
            path: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        }]
    })?;
    from_yaml(&text, &|name| std::env::var(name).ok())
}

pub fn from_yaml(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AgentConfig, Vec<ConfigProblem>> {
    let parse_err = |e: config::ConfigError| {
        vec![ConfigProblem {
            path: String::new(),
            message: format!("not valid YAML: {e}"),
        }]
    };
    let raw: Value = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Yaml))
        .build()
        .map_err(parse_err)?
        .try_deserialize()
        .map_err(parse_err)?;
    let mut problems = Problems::default();
    let mut root = match raw {
        Value::Object(m) => m,
        Value::Null => Default::default(),
        _ => {
            problems.push(
                "",
                "the configuration must be a mapping with receivers, exporters and service",
            );
            return Err(problems.into_vec());
        }
    };
    for key in root.keys() {
        if key == "processors" {
            problems.push(
                "processors",
                "this agent has no processors; remove the section (and processors from pipelines)",
            );
        } else if !TOP_LEVEL.contains(&key.as_str()) {
            problems.push(
                key.clone(),
                format!("unknown key (expected one of {})", TOP_LEVEL.join(", ")),
            );
        }
    }
    let mut typed = Typed::new();
    for (k, v) in root.iter_mut() {
        expand::expand(v, k, env, &mut problems, &mut typed);
    }
    let section = |name: &str, problems: &mut Problems| -> serde_json::Map<String, Value> {
        match root.get(name) {
            None | Some(Value::Null) => Default::default(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                problems.push(name, "must be a mapping of component id to settings");
                Default::default()
            }
        }
    };

    let receivers = components(
        "receiver",
        section("receivers", &mut problems),
        ReceiverConfig::KINDS,
        &mut problems,
        |kind, v, path, problems| match kind {
            "self" => {
                decode::<SelfConfig>(v, path, &typed, problems).map(ReceiverConfig::SelfTelemetry)
            }
            "ecs" => decode::<EcsConfig>(v, path, &typed, problems)
                .map(|c| ReceiverConfig::Ecs(Box::new(c))),
            _ => None,
        },
    );
    let exporters = components(
        "exporter",
        section("exporters", &mut problems),
        ExporterConfig::KINDS,
        &mut problems,
        |kind, v, path, problems| match kind {
            "prometheus" => decode::<PrometheusConfig>(v, path, &typed, problems)
                .map(ExporterConfig::Prometheus),
            "otlp" => decode::<OtlpConfig>(v, path, &typed, problems).map(ExporterConfig::Otlp),
            _ => None,
        },
    );

    let mut health_check = None;
    for (id, v) in section("extensions", &mut problems) {
        let path = join("extensions", &id);
        match id.as_str() {
            "health_check" => {
                health_check = decode::<HealthCheckConfig>(&v, &path, &typed, &mut problems)
            }
            other => problems.push(
                path,
                format!("unknown extension {other:?} (known: health_check)"),
            ),
        }
    }

    let service_value = root.get("service").cloned().unwrap_or(Value::Null);
    let service = decode::<ServiceConfig>(&service_value, "service", &typed, &mut problems)
        .unwrap_or_default();

    let cfg = AgentConfig {
        receivers,
        exporters,
        health_check,
        service,
    };
    check_service(&cfg, &root, &mut problems);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        let mut v = problems.into_vec();
        v.dedup();
        Err(v)
    }
}

impl Validate for ServiceConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        problems.positive(
            join(path, "scheduler.base_interval"),
            self.scheduler.base_interval,
        );
        problems.positive(join(path, "shutdown_timeout"), self.shutdown_timeout);
    }
}

/// Cross-references: pipelines name defined components of the right kind, timeouts fit
/// their intervals.
fn check_service(
    cfg: &AgentConfig,
    root: &serde_json::Map<String, Value>,
    problems: &mut Problems,
) {
    let declared = |section: &str, id: &str| {
        root.get(section)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key(id))
    };
    for e in &cfg.service.extensions {
        if !declared("extensions", e) {
            problems.push(
                "service.extensions",
                format!("extension {e:?} is not defined under extensions"),
            );
        }
    }
    if cfg.service.pipelines.is_empty() {
        problems.push(
            "service.pipelines",
            "no pipeline defined; add e.g. metrics: {receivers: [self], exporters: [prometheus]}",
        );
    }
    let mut traces = 0;
    for (name, p) in &cfg.service.pipelines {
        let path = join("service.pipelines", name);
        match pipeline_kind(name) {
            "metrics" => {
                if p.receivers.is_empty() {
                    problems.push(
                        join(&path, "receivers"),
                        "a metrics pipeline needs at least one receiver",
                    );
                }
                if p.exporters.is_empty() {
                    problems.push(
                        join(&path, "exporters"),
                        "a metrics pipeline needs at least one exporter",
                    );
                }
                for r in &p.receivers {
                    if !declared("receivers", r) {
                        problems.push(
                            join(&path, "receivers"),
                            format!("receiver {r:?} is not defined under receivers"),
                        );
                    }
                }
                for e in &p.exporters {
                    if !declared("exporters", e) {
                        problems.push(
                            join(&path, "exporters"),
                            format!("exporter {e:?} is not defined under exporters"),
                        );
                    }
                }
            }
            "traces" => {
                traces += 1;
                if !p.receivers.is_empty() {
                    problems.push(join(&path, "receivers"), "the traces pipeline carries the agent's own collection spans; it takes no receivers");
                }
                match p.exporters.as_slice() {
                    [e] => match cfg.exporters.get(e) {
                        Some(ExporterConfig::Otlp(_)) => {}
                        Some(_) => problems.push(
                            join(&path, "exporters"),
                            format!("exporter {e:?} cannot carry spans; use an otlp exporter"),
                        ),
                        None if !declared("exporters", e) => problems.push(
                            join(&path, "exporters"),
                            format!("exporter {e:?} is not defined under exporters"),
                        ),
                        None => {}
                    },
                    _ => problems.push(join(&path, "exporters"), "name exactly one otlp exporter"),
                }
            }
            other => problems.push(
                path,
                format!("unknown pipeline type {other:?} (metrics or traces)"),
            ),
        }
    }
    if traces > 1 {
        problems.push("service.pipelines", "at most one traces pipeline");
    }
    for s in cfg.scheduled_receivers() {
        let path = match s.collector {
            Some(k) => join(
                &join(&join("receivers", &s.receiver), "collectors"),
                k.name(),
            ),
            None => join("receivers", &s.id),
        };
        if s.timeout >= s.interval {
            problems.push(
                join(&path, "timeout"),
                format!(
                    "must be shorter than the effective collection interval {} (a run still going when the next is due is skipped)",
                    humantime::format_duration(s.interval)
                ),
            );
        }
        if s.timeout.is_zero() {
            problems.push(join(&path, "timeout"), "must be greater than 0s");
        }
    }
    let mut endpoints: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |endpoint: &str, owner: String, problems: &mut Problems| {
        if let Ok(addr) = parse_socket_addr(endpoint)
            && addr.port() != 0
        {
            if let Some(prev) = endpoints.insert(addr.to_string(), owner.clone()) {
                problems.push(owner, format!("endpoint {addr} is also used by {prev}"));
            }
        }
    };
    for (id, e) in &cfg.exporters {
        if let ExporterConfig::Prometheus(p) = e {
            claim(
                &p.endpoint,
                join(&join("exporters", id), "endpoint"),
                problems,
            );
        }
    }
    if let Some(h) = cfg.health_check_enabled() {
        claim(
            &h.endpoint,
            "extensions.health_check.endpoint".into(),
            problems,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_intervals_follow_seed_004() {
        let base = Duration::from_secs(5);
        assert_eq!(
            effective_interval(Duration::from_secs(65), base),
            Duration::from_secs(65)
        );
        assert_eq!(
            effective_interval(Duration::from_secs(63), base),
            Duration::from_secs(65)
        );
        assert_eq!(
            effective_interval(Duration::from_secs(1), base),
            Duration::from_secs(5)
        );
        assert_eq!(
            effective_interval(Duration::from_millis(5001), base),
            Duration::from_secs(10)
        );
    }

    /// An ECS receiver whose settings come from `vars`.
    fn ecs_from_env(ecs: &str, vars: &[(&str, &str)]) -> Result<AgentConfig, Vec<String>> {
        let yaml = format!(
            "receivers:\n  ecs/prod:\n    endpoint: https://ecs.example.com:4443\n    username: monitor\n{ecs}exporters:\n  prometheus:\n    endpoint: 127.0.0.1:9438\nservice:\n  telemetry:\n    resource:\n      deployment.environment: ${{env:DEPLOYMENT}}\n      ${{env:KEY}}: x\n  pipelines:\n    metrics: {{receivers: [ecs/prod], exporters: [prometheus]}}\n"
        );
        let lookup = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| (name == "DEPLOYMENT").then(|| "production".into()))
        };
        from_yaml(&yaml, &lookup).map_err(|v| v.iter().map(ToString::to_string).collect())
    }

    fn ecs(cfg: &AgentConfig) -> &EcsConfig {
        match &cfg.receivers["ecs/prod"] {
            ReceiverConfig::Ecs(c) => c,
            other => panic!("not an ECS receiver: {other:?}"),
        }
    }

    #[test]
    fn a_string_setting_gets_the_variables_text_whatever_it_looks_like() {
        for p in ["123456", "007", "true", "1.50", "-1"] {
            let cfg = ecs_from_env("    password: \"${env:P}\"\n", &[("P", p)])
                .unwrap_or_else(|e| panic!("P={p}: {e:?}"));
            assert_eq!(ecs(&cfg).password.as_ref().map(|s| s.expose()), Some(p));
        }
        // Two such settings in one component, and a plain (unquoted) reference.
        let cfg = ecs_from_env(
            "    password: ${env:P}\n    cluster_name: ${env:C}\n",
            &[("P", "42"), ("C", "2024")],
        )
        .unwrap();
        assert_eq!(ecs(&cfg).password.as_ref().map(|s| s.expose()), Some("42"));
        assert_eq!(ecs(&cfg).cluster_name.as_deref(), Some("2024"));
    }

    #[test]
    fn numeric_and_boolean_settings_still_get_typed_values() {
        let cfg = ecs_from_env(
            "    password: ${env:P}\n    max_concurrent_requests: ${env:N}\n    tls:\n      insecure_skip_verify: ${env:B}\n",
            &[("P", "123"), ("N", "8"), ("B", "true")],
        )
        .unwrap();
        let c = ecs(&cfg);
        assert_eq!(c.max_concurrent_requests, 8);
        assert!(c.tls.insecure_skip_verify);
        assert_eq!(c.password.as_ref().map(|s| s.expose()), Some("123"));
    }

    #[test]
    fn a_variable_of_the_wrong_type_is_still_refused_at_its_path() {
        let e = ecs_from_env(
            "    password: x\n    max_concurrent_requests: ${env:N}\n",
            &[("N", "many")],
        )
        .unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("receivers.ecs/prod.max_concurrent_requests: invalid type: string")
                && e[0].contains("\"many\""),
            "{e:?}"
        );
        let e = ecs_from_env(
            "    password: x\n    tls:\n      insecure_skip_verify: ${env:B}\n",
            &[("B", "8")],
        )
        .unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("receivers.ecs/prod.tls.insecure_skip_verify: invalid type:"),
            "{e:?}"
        );
    }

    #[test]
    fn a_multi_line_variable_sets_no_other_setting() {
        let cluster = "prod\ntls:\n  insecure_skip_verify: true\nmax_concurrent_requests: 64\n";
        let cfg = ecs_from_env(
            "    password: x\n    cluster_name: ${env:CLUSTER}\n",
            &[("CLUSTER", cluster)],
        )
        .unwrap();
        let c = ecs(&cfg);
        assert_eq!(c.cluster_name.as_deref(), Some(cluster));
        assert!(!c.tls.insecure_skip_verify);
        assert_eq!(c.max_concurrent_requests, 4);
    }

    #[test]
    fn keys_keep_their_references_and_values_get_the_text() {
        let cfg =
            ecs_from_env("    password: x\n", &[("KEY", "k"), ("DEPLOYMENT", "2024")]).unwrap();
        let resource = &cfg.service.telemetry.resource;
        assert_eq!(resource["deployment.environment"], "2024");
        assert_eq!(resource["${env:KEY}"], "x");
        assert!(!resource.contains_key("k"));
    }

    #[test]
    fn component_ids() {
        assert_eq!(
            ComponentId::parse("ecs/prod").unwrap().to_string(),
            "ecs/prod"
        );
        assert!(ComponentId::parse("ecs/").is_err());
        assert!(ComponentId::parse("a/b/c").is_err());
    }
}
