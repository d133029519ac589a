//! The agent's configuration: OpenTelemetry-Collector-shaped YAML (`receivers`,
//! `exporters`, `extensions`, `service`), loaded with the `config` crate, `${env:VAR}`
//! expanded, unknown keys rejected, and every problem reported with its path.

mod bounds;
mod expand;
mod yaml;

pub use bounds::{MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_NODES, MAX_SCALAR_BYTES};

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use exporter_otlp::OtlpConfig;
use exporter_prometheus::PrometheusConfig;
use pipeline::config::{ConfigProblem, Problems, Validate, duration, join, parse_socket_addr};
use pipeline::decode::Decoder;
use pipeline::fanout::Signal;
use pipeline::registry::{ReceiverSpec, Registry};
use pipeline::schedule::effective_interval;
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

/// Which collection cycles become traces (the OpenTelemetry SDK's sampler names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Every cycle.
    AlwaysOn,
    /// None: no span is exported (exemplars too go away).
    AlwaysOff,
    /// `ratio` of the cycles, chosen by trace id.
    #[serde(rename = "traceidratio")]
    TraceIdRatio,
    /// `ratio` of the root spans; a child follows its parent's decision.
    #[serde(rename = "parentbased_traceidratio")]
    ParentBasedTraceIdRatio,
}

/// The most spans one collection cycle records by default, its root besides: a large IAM
/// cycle makes tens of thousands of calls, a trace nobody can open and a burst the span
/// queue would drop anyway.
pub const DEFAULT_MAX_SPANS_PER_CYCLE: u64 = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TracesConfig {
    pub sampler: SamplerKind,
    /// The share of cycles traced by the ratio samplers, 0 to 1.
    pub ratio: f64,
    /// Spans of one cycle beyond this many (its root not counted) are not recorded; they
    /// are counted in `ecs_otel_agent.receiver.unrecorded.spans`.
    pub max_spans_per_cycle: u64,
}

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            sampler: SamplerKind::AlwaysOn,
            ratio: 1.0,
            max_spans_per_cycle: DEFAULT_MAX_SPANS_PER_CYCLE,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    pub logs: LogsConfig,
    /// The agent's own spans: sampler and per-cycle cap.
    pub traces: TracesConfig,
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

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Every configured receiver by id (`ecs/prod`), as its kind's factory read it.
    pub receivers: BTreeMap<String, Arc<dyn ReceiverSpec>>,
    pub exporters: BTreeMap<String, ExporterConfig>,
    pub health_check: Option<HealthCheckConfig>,
    pub service: ServiceConfig,
    /// Settings accepted but doing nothing, with their paths: `validate` prints them and
    /// the agent logs them at start.
    pub warnings: Vec<ConfigProblem>,
}

/// A job as the scheduler runs it: one collector of a receiver, on its schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledJob {
    /// The job: `self`, `ecs/prod/dashboard`.
    pub id: String,
    /// The configured receiver it belongs to: `self`, `ecs/prod`.
    pub receiver: String,
    /// The job's name within its receiver (`dashboard`), `None` for a single-job receiver.
    pub name: Option<String>,
    /// Where its schedule is configured (`receivers.ecs/prod.collectors.dashboard`).
    pub config_path: String,
    pub requested_interval: Duration,
    pub interval: Duration,
    pub initial_delay: Duration,
    pub timeout: Duration,
    /// Exporters its metrics go to (the union over the metrics pipelines naming it).
    pub metrics_exporters: Vec<String>,
    /// Exporters its log records go to (the union over the logs pipelines naming it).
    pub logs_exporters: Vec<String>,
}

impl AgentConfig {
    /// The jobs of the receivers that some metrics or logs pipeline uses, with their
    /// effective schedule. A receiver named only in logs pipelines runs too: its metrics go
    /// nowhere.
    pub fn scheduled_jobs(&self) -> Vec<ScheduledJob> {
        let base = self.service.scheduler.base_interval;
        let mut out: Vec<ScheduledJob> = Vec::new();
        // Metrics pipelines first: the jobs keep the order they had before logs existed.
        let pipelines = self
            .metrics_pipelines()
            .map(|(_, p)| (Signal::Metrics, p))
            .chain(self.logs_pipelines().map(|(_, p)| (Signal::Logs, p)));
        for (signal, p) in pipelines {
            for r in &p.receivers {
                let Some(spec) = self.receivers.get(r) else {
                    continue;
                };
                for j in spec.jobs() {
                    let id = match &j.name {
                        Some(n) => format!("{r}/{n}"),
                        None => r.clone(),
                    };
                    let s = j.schedule;
                    let i = match out.iter().position(|x| x.id == id) {
                        Some(i) => i,
                        None => {
                            let interval = effective_interval(s.interval, base);
                            out.push(ScheduledJob {
                                id,
                                receiver: r.clone(),
                                name: j.name,
                                config_path: join(&join("receivers", r), &j.config_path),
                                requested_interval: s.interval,
                                interval,
                                initial_delay: s.initial_delay,
                                timeout: s.timeout.unwrap_or(interval.mul_f64(0.8)),
                                metrics_exporters: Vec::new(),
                                logs_exporters: Vec::new(),
                            });
                            out.len() - 1
                        }
                    };
                    let dest = match signal {
                        Signal::Metrics => &mut out[i].metrics_exporters,
                        Signal::Logs => &mut out[i].logs_exporters,
                    };
                    for e in &p.exporters {
                        if !dest.contains(e) {
                            dest.push(e.clone());
                        }
                    }
                }
            }
        }
        out
    }

    pub fn metrics_pipelines(&self) -> impl Iterator<Item = (&String, &PipelineConfig)> {
        self.pipelines_of("metrics")
    }

    pub fn logs_pipelines(&self) -> impl Iterator<Item = (&String, &PipelineConfig)> {
        self.pipelines_of("logs")
    }

    fn pipelines_of(&self, kind: &'static str) -> impl Iterator<Item = (&String, &PipelineConfig)> {
        self.service
            .pipelines
            .iter()
            .filter(move |(k, _)| pipeline_kind(k) == kind)
    }

    /// Exporters used by some metrics or logs pipeline.
    pub fn used_exporters(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .metrics_pipelines()
            .chain(self.logs_pipelines())
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
/// types in `kinds`; an unknown type is a problem naming them.
fn components<T>(
    what: &str,
    section: serde_json::Map<String, Value>,
    kinds: &[&str],
    decoder: &mut Decoder<'_>,
    decode_kind: impl Fn(&str, &Value, &str, &mut Decoder<'_>) -> Option<T>,
) -> BTreeMap<String, T> {
    let mut out = BTreeMap::new();
    for (id, v) in section {
        let path = join(&format!("{what}s"), &id);
        let cid = match ComponentId::parse(&id) {
            Ok(c) => c,
            Err(e) => {
                decoder.problems.push(path, e);
                continue;
            }
        };
        let kind = cid.kind.as_str();
        if !kinds.contains(&kind) {
            decoder.problems.push(
                path,
                format!("unknown {what} type {kind:?} (known: {})", kinds.join(", ")),
            );
            continue;
        }
        if let Some(c) = decode_kind(kind, &v, &path, decoder) {
            out.insert(id, c);
        }
    }
    out
}

const TOP_LEVEL: &[&str] = &["receivers", "exporters", "extensions", "service"];

/// Loads and checks a configuration file. Either a configuration with no problem, or
/// every problem found. A file past [`MAX_DOCUMENT_BYTES`], or whose aliases or nesting go
/// past the other bounds, is refused before it is built, with the file named.
pub fn load(path: &Path) -> Result<AgentConfig, Vec<ConfigProblem>> {
    let refused = |message: String| {
        vec![ConfigProblem {
            path: String::new(),
            message: format!("{}: {message}", path.display()),
        }]
    };
    let text = read_bounded(path).map_err(|e| match e {
        ReadError::TooLarge(len) => refused(bounds::too_large(len)),
        ReadError::Io(e) => vec![ConfigProblem {
            path: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        }],
    })?;
    bounds::check(&text).map_err(refused)?;
    from_yaml(&text, &|name| std::env::var(name).ok())
}

enum ReadError {
    TooLarge(u64),
    Io(std::io::Error),
}

/// The file's text, never reading more than one byte past the bound (the file may be a
/// pipe or a device that never ends).
fn read_bounded(path: &Path) -> Result<String, ReadError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > MAX_DOCUMENT_BYTES
    {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// A configuration from YAML text, with the agent's receiver kinds.
pub fn from_yaml(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AgentConfig, Vec<ConfigProblem>> {
    from_yaml_with(text, env, &crate::receivers::registry())
}

/// A configuration from YAML text, with the receiver kinds of `registry`.
pub fn from_yaml_with(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    registry: &Registry,
) -> Result<AgentConfig, Vec<ConfigProblem>> {
    if let Err(e) = bounds::check(text) {
        return Err(vec![ConfigProblem {
            path: String::new(),
            message: e,
        }]);
    }
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

    let restore = |value: &mut Value, path: &str, at: &str| {
        typed
            .get(at)
            .is_some_and(|text| expand::restore_text(value, path, at, text))
    };
    let mut decoder = Decoder::new(&mut problems, &restore);
    let kinds = registry.kinds();
    let receivers = components(
        "receiver",
        section("receivers", decoder.problems),
        &kinds,
        &mut decoder,
        |kind, v, path, decoder| registry.get(kind)?.decode(v, path, decoder),
    );
    let exporters = components(
        "exporter",
        section("exporters", decoder.problems),
        ExporterConfig::KINDS,
        &mut decoder,
        |kind, v, path, decoder| match kind {
            "prometheus" => decoder
                .decode::<PrometheusConfig>(v, path)
                .map(ExporterConfig::Prometheus),
            "otlp" => decoder
                .decode::<OtlpConfig>(v, path)
                .map(ExporterConfig::Otlp),
            _ => None,
        },
    );

    let mut health_check = None;
    for (id, v) in section("extensions", decoder.problems) {
        let path = join("extensions", &id);
        match id.as_str() {
            "health_check" => health_check = decoder.decode::<HealthCheckConfig>(&v, &path),
            other => decoder.problems.push(
                path,
                format!("unknown extension {other:?} (known: health_check)"),
            ),
        }
    }

    let service_value = root.get("service").cloned().unwrap_or(Value::Null);
    let service = decoder.decode::<ServiceConfig>(&service_value, "service");
    // A service that did not decode has its problem reported at its path; checking the
    // defaults in its place would add problems the file does not have ("no pipeline").
    let service_decoded = service.is_some();
    let service = service.unwrap_or_default();

    let mut cfg = AgentConfig {
        receivers,
        exporters,
        health_check,
        service,
        warnings: Vec::new(),
    };
    if service_decoded {
        check_service(&cfg, &root, &mut problems);
    }
    cfg.warnings = problems.take_warnings();
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
        let ratio = self.telemetry.traces.ratio;
        if !(0.0..=1.0).contains(&ratio) {
            problems.push(
                join(path, "telemetry.traces.ratio"),
                format!("{ratio} is not a share between 0 and 1"),
            );
        }
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
            kind @ ("metrics" | "logs") => {
                if p.receivers.is_empty() {
                    problems.push(
                        join(&path, "receivers"),
                        format!("a {kind} pipeline needs at least one receiver"),
                    );
                }
                if p.exporters.is_empty() {
                    problems.push(
                        join(&path, "exporters"),
                        format!("a {kind} pipeline needs at least one exporter"),
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
                    } else if kind == "logs"
                        && let Some(ExporterConfig::Prometheus(_)) = cfg.exporters.get(e)
                    {
                        problems.push(
                            join(&path, "exporters"),
                            format!("exporter {e:?} cannot carry logs; use an otlp exporter"),
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
                format!("unknown pipeline type {other:?} (metrics, traces or logs)"),
            ),
        }
    }
    if traces > 1 {
        problems.push("service.pipelines", "at most one traces pipeline");
    }
    check_schedules(cfg, problems);
    for s in cfg.scheduled_jobs() {
        let path = &s.config_path;
        if s.timeout >= s.interval {
            problems.push(
                join(path, "timeout"),
                format!(
                    "must be shorter than the effective collection interval {} (a run still going when the next is due is skipped)",
                    humantime::format_duration(s.interval)
                ),
            );
        }
        if s.timeout.is_zero() {
            problems.push(join(path, "timeout"), "must be greater than 0s");
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

/// The frequency rule: a collector may not run more often than its receiver, compared
/// after rounding to the base interval. Checked for every configured receiver, used or not,
/// so that a configuration is valid or not whatever its pipelines say.
fn check_schedules(cfg: &AgentConfig, problems: &mut Problems) {
    let base = cfg.service.scheduler.base_interval;
    for (id, spec) in &cfg.receivers {
        for j in spec.jobs() {
            let Some(outer) = j.receiver_interval else {
                continue;
            };
            let (inner, outer) = (
                effective_interval(j.schedule.interval, base),
                effective_interval(outer, base),
            );
            if inner < outer {
                problems.push(
                    join(&join(&join("receivers", id), &j.config_path), "collection_interval"),
                    format!(
                        "{} is shorter than the receiver's collection_interval {}; a collector may not run more often than its receiver",
                        humantime::format_duration(inner),
                        humantime::format_duration(outer)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_ids() {
        assert_eq!(
            ComponentId::parse("ecs/prod").unwrap().to_string(),
            "ecs/prod"
        );
        assert!(ComponentId::parse("ecs/").is_err());
        assert!(ComponentId::parse("a/b/c").is_err());
    }

    #[test]
    fn each_job_knows_its_metrics_and_its_logs_exporters() {
        let yaml = "receivers:
  self:
  self/logs_only:
exporters:
  prometheus: {endpoint: 127.0.0.1:0}
  otlp: {endpoint: http://127.0.0.1:4317}
  otlp/audit: {endpoint: http://127.0.0.1:4318}
service:
  pipelines:
    metrics: {receivers: [self], exporters: [prometheus, otlp]}
    logs: {receivers: [self, self/logs_only], exporters: [otlp]}
    logs/audit: {receivers: [self], exporters: [otlp/audit, otlp]}
";
        let cfg = from_yaml(yaml, &|_| None).unwrap();
        let jobs: Vec<(String, Vec<String>, Vec<String>)> = cfg
            .scheduled_jobs()
            .into_iter()
            .map(|j| (j.id, j.metrics_exporters, j.logs_exporters))
            .collect();
        let v = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            jobs,
            [
                (
                    "self".into(),
                    v(&["prometheus", "otlp"]),
                    v(&["otlp", "otlp/audit"])
                ),
                // Named only in a logs pipeline: it runs, its metrics go nowhere.
                ("self/logs_only".into(), v(&[]), v(&["otlp"])),
            ]
        );
        assert_eq!(cfg.used_exporters(), ["otlp", "otlp/audit", "prometheus"]);
    }
}
