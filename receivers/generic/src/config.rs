//! `receivers: generic/<service>:` — one service: its metric groups (each one source read
//! once per cycle, every metric of the group derived from that read) and its standalone
//! metrics (one metric, one source, or a static value).

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use pipeline::config::{Problems, Validate, duration, join};
use pipeline::schedule::{Schedule, ScheduleBlock, ScheduleDefaults, Scheduled};
use serde::{Deserialize, Serialize};

/// A service: the schedule keys (every 30 s by default) beside its settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GenericConfig(pub Scheduled<ServiceSettings>);

impl Deref for GenericConfig {
    type Target = Scheduled<ServiceSettings>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for GenericConfig {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Validate for GenericConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        self.0.validate(path, problems);
        if let Some(r) = &self.run_as
            && self.0.schedule.enabled
        {
            let at = join(path, "run_as");
            if crate::source::agent_uid() != Some(0) {
                problems.push(
                    at,
                    "the agent does not run as root, so it cannot run commands as another user; remove run_as or run the agent as root",
                );
            } else if let Err(e) = crate::source::RunAs::resolve(&r.user, r.group.as_deref()) {
                problems.push(at, e);
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (g, group) in &self.metric_groups {
            for m in group.metrics.keys() {
                if !names.insert(m.clone()) {
                    problems.push(
                        join(&join(&join(path, "metric_groups"), g), "metrics"),
                        format!("metric {m:?} is defined twice in this service"),
                    );
                }
            }
        }
        for m in self.standalone_metrics.keys() {
            if !names.insert(m.clone()) || self.metric_groups.contains_key(m) {
                problems.push(
                    join(&join(path, "standalone_metrics"), m),
                    format!("{m:?} is also the name of a metric or group of this service"),
                );
            }
        }
    }
}

impl GenericConfig {
    /// The service's own schedule: what its groups inherit.
    pub fn schedule(&self) -> Schedule {
        self.0.schedule.own(&ServiceSettings::default_schedule())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSettings {
    /// Put before every metric name of the service (`node.` → `node.disk.used`); the
    /// service's name and a dot when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_prefix: Option<String>,
    /// The user (and group) the service's commands run as, and whose permissions its files
    /// are read with. Needs an agent running as root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as: Option<RunAs>,
    /// Reads of this service in flight at once.
    pub max_parallel: usize,
    /// A series whose source fails keeps its last value this long, then ends (unless the
    /// metric has a `value_on_error`).
    #[serde(with = "duration")]
    pub keep_last_value: Duration,
    pub metric_groups: BTreeMap<String, GroupConfig>,
    pub standalone_metrics: BTreeMap<String, StandaloneConfig>,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            metric_prefix: None,
            run_as: None,
            max_parallel: 4,
            keep_last_value: Duration::from_secs(300),
            metric_groups: BTreeMap::new(),
            standalone_metrics: BTreeMap::new(),
        }
    }
}

impl ScheduleDefaults for ServiceSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock {
            collection_interval: Some(Duration::from_secs(30)),
            initial_delay: Some(Duration::from_secs(1)),
            ..ScheduleBlock::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunAs {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Declares a block that reads a source: the source keys, flat beside the block's own
/// (as users write them; `serde(flatten)` would drop unknown keys without a word).
macro_rules! reads_a_source {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$m])*
        pub struct $name {
            pub source_type: SourceType,
            /// command: the argv list (`[df, -B1, /]`), or one string run by `/bin/sh -c`
            /// when `shell: true`; file: its path; http: its URL; static: the value.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub source: Option<SourceText>,
            /// command: run `source` through `/bin/sh -c` (off: no shell, no word splitting).
            pub shell: bool,
            /// command: the agent's environment variables the child gets; every other one
            /// is cleared.
            pub env: Vec<String>,
            /// How long a read is reused by every block that reads the same source
            /// (command, http); default 5 s.
            #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
            pub cache: Option<Duration>,
            /// The most a read may return (default 4 MiB); a longer output fails the read.
            pub max_bytes: u64,
            /// http: method, body, headers, authentication and TLS.
            pub http: HttpSettings,
            pub content_type: ContentType,
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $name {
            /// What to read and how.
            pub fn source(&self) -> SourceSettings {
                SourceSettings {
                    source_type: self.source_type,
                    source: self.source.clone(),
                    shell: self.shell,
                    env: self.env.clone(),
                    cache: self.cache,
                    max_bytes: self.max_bytes,
                    http: self.http.clone(),
                }
            }
        }
    };
}

reads_a_source! {
    /// A metric group's settings: one source, read once per cycle, and the metrics derived
    /// from it.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    pub struct GroupSettings {
        pub metrics: BTreeMap<String, MetricSettings>,
    }
}

/// A metric group with its schedule keys.
pub type GroupConfig = Scheduled<GroupSettings>;

impl ScheduleDefaults for GroupSettings {}

reads_a_source! {
    /// A standalone metric: one metric and its own source, or a static value. Its metric
    /// keys are `MetricSettings`' (see there), flat beside the source keys.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    pub struct StandaloneSettings {
        #[serde(rename = "type")]
        pub kind: MetricType,
        pub description: String,
        pub unit: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub filter: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub value: Option<String>,
        pub labels: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub value_on_error: Option<f64>,
    }
}

impl StandaloneSettings {
    /// The metric it defines.
    pub fn metric(&self) -> MetricSettings {
        MetricSettings {
            kind: self.kind,
            description: self.description.clone(),
            unit: self.unit.clone(),
            filter: self.filter.clone(),
            value: self.value.clone(),
            labels: self.labels.clone(),
            value_on_error: self.value_on_error,
        }
    }
}

/// A standalone metric with its schedule keys.
pub type StandaloneConfig = Scheduled<StandaloneSettings>;

impl ScheduleDefaults for StandaloneSettings {}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    #[default]
    Command,
    File,
    Http,
    Static,
}

/// What a block reads and how: the source keys of a group or standalone metric.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceSettings {
    pub source_type: SourceType,
    pub source: Option<SourceText>,
    pub shell: bool,
    pub env: Vec<String>,
    pub cache: Option<Duration>,
    pub max_bytes: u64,
    pub http: HttpSettings,
}

/// `source`: a string, or a list of strings (a command's argv).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SourceText {
    One(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// `GET` (default) or `POST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// TLS, headers and authentication, as every HTTP client of the agent takes them.
    pub client: pull::HttpClientConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    #[default]
    Text,
    Json,
    Xml,
    Prometheus,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    #[default]
    Gauge,
    Counter,
}

/// One metric of a group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricSettings {
    #[serde(rename = "type")]
    pub kind: MetricType,
    pub description: String,
    /// A UCUM unit (`By`, `s`, `1`).
    pub unit: String,
    /// text: a regular expression whose named capture `value` is the value and whose other
    /// named captures are labels, one series per match (unset: the whole read is the
    /// value); json: a JSONPath to a value or to objects; xml: a path to elements
    /// (`/a/b`); prometheus: the families to import (a
    /// regular expression matching their whole name; every family when unset). Imported
    /// families keep their own type, labels and HELP, named with the service's prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// json and xml objects: the field (xml: the child element or `@attribute`) holding
    /// the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Labels: `name: field` takes the label from the object's field (json, xml); a value
    /// starting with `=` is a fixed label (`site: =lab`).
    pub labels: BTreeMap<String, String>,
    /// Emitted (and the failure counted) when the source fails; without it the last value
    /// is kept for the service's `keep_last_value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_on_error: Option<f64>,
}

impl Validate for ServiceSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if !(1..=64).contains(&self.max_parallel) {
            problems.push(join(path, "max_parallel"), "must be between 1 and 64");
        }
        if let Some(p) = &self.metric_prefix
            && !p.is_empty()
            && !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._".contains(c))
        {
            problems.push(
                join(path, "metric_prefix"),
                format!("{p:?}: use letters, digits, dots and underscores"),
            );
        }
        if let Some(r) = &self.run_as
            && r.user.trim().is_empty()
        {
            problems.push(join(path, "run_as.user"), "required: a user name or uid");
        }
        for (name, g) in &self.metric_groups {
            let at = join(&join(path, "metric_groups"), name);
            check_name(&at, name, problems);
            g.validate(&at, problems);
        }
        for (name, m) in &self.standalone_metrics {
            let at = join(&join(path, "standalone_metrics"), name);
            check_name(&at, name, problems);
            m.validate(&at, problems);
        }
        if self.metric_groups.is_empty() && self.standalone_metrics.is_empty() {
            problems.push(
                path,
                "define at least one of metric_groups or standalone_metrics",
            );
        }
    }
}

fn check_name(path: &str, name: &str, problems: &mut Problems) {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._".contains(c))
    {
        problems.push(
            path,
            format!("name {name:?}: use letters, digits, dots and underscores"),
        );
    }
}

impl Validate for GroupSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        self.source().check(path, problems);
        if self.metrics.is_empty() {
            problems.push(join(path, "metrics"), "a group needs at least one metric");
        }
        for (name, m) in &self.metrics {
            let at = join(&join(path, "metrics"), name);
            check_name(&at, name, problems);
            m.check(&at, self.source_type, self.content_type, problems);
        }
    }
}

impl Validate for StandaloneSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        self.source().check(path, problems);
        self.metric()
            .check(path, self.source_type, self.content_type, problems);
    }
}

/// The most any read may return unless `max_bytes` says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 20;

impl SourceSettings {
    pub fn max_bytes(&self) -> u64 {
        if self.max_bytes == 0 {
            DEFAULT_MAX_BYTES
        } else {
            self.max_bytes
        }
    }

    pub fn cache(&self) -> Duration {
        self.cache.unwrap_or(Duration::from_secs(5))
    }

    /// `source` as one string (file, http, static).
    pub fn text(&self) -> Option<&str> {
        match &self.source {
            Some(SourceText::One(s)) => Some(s),
            _ => None,
        }
    }

    /// `source` as an argv list (a string is one program without arguments).
    pub fn argv(&self) -> Vec<String> {
        match &self.source {
            Some(SourceText::List(v)) => v.clone(),
            Some(SourceText::One(s)) => vec![s.clone()],
            None => Vec::new(),
        }
    }

    fn check(&self, path: &str, problems: &mut Problems) {
        let at = join(path, "source");
        match (self.source_type, &self.source) {
            (_, None) => problems.push(at, "required: what to read (see source_type)"),
            (SourceType::Command, Some(SourceText::List(v))) if v.is_empty() => {
                problems.push(at, "an empty command")
            }
            (SourceType::Command, Some(SourceText::One(_))) if !self.shell => problems.push(
                at,
                "give the command as a list ([program, arg, ...]), or set shell: true to run this string through /bin/sh -c",
            ),
            (SourceType::Command, Some(SourceText::List(_))) if self.shell => problems.push(
                at,
                "with shell: true, give the command as one string",
            ),
            (SourceType::File, Some(SourceText::One(p))) if !PathBuf::from(p).is_absolute() => {
                problems.push(at, format!("{p:?}: give an absolute path"));
            }
            (SourceType::Http, Some(SourceText::One(u))) => match u.parse::<http_uri::Uri>() {
                Ok(uri) if matches!(uri.scheme(), "http" | "https") => {}
                _ => problems.push(at, format!("invalid URL {u:?}; expected http(s)://host:port/path")),
            },
            (SourceType::Static, Some(SourceText::One(v))) if v.trim().parse::<f64>().is_err() => {
                problems.push(at, format!("{v:?} is not a number"));
            }
            (SourceType::File | SourceType::Http | SourceType::Static, Some(SourceText::List(_))) => {
                problems.push(at, "give one string")
            }
            _ => {}
        }
        if self.source_type != SourceType::Command && (self.shell || !self.env.is_empty()) {
            problems.push(path, "shell and env are for commands only");
        }
        if self.source_type == SourceType::Http {
            self.http
                .client
                .tls
                .validate(&join(path, "http.client.tls"), problems);
        }
    }
}

impl MetricSettings {
    /// An imported page's families carry their own types, values and labels.
    fn check_import(&self, path: &str, problems: &mut Problems) {
        if self.value_on_error.is_some() {
            problems.push(
                join(path, "value_on_error"),
                "imported families have no single value; their last values are kept instead",
            );
        }
        if self.value.is_some() {
            problems.push(join(path, "value"), "not used by prometheus pages");
        }
        for (label, from) in &self.labels {
            if !from.starts_with('=') {
                problems.push(
                    join(&join(path, "labels"), label),
                    "a prometheus page's labels are kept; add only fixed labels (=value)",
                );
            }
        }
    }
}

mod http_uri {
    pub use reqwest::Url as Uri;
}

impl MetricSettings {
    fn check(&self, path: &str, source: SourceType, content: ContentType, problems: &mut Problems) {
        let filter = join(path, "filter");
        if source == SourceType::Static {
            return;
        }
        match (content, &self.filter) {
            (ContentType::Text, Some(f)) => match regex::Regex::new(f) {
                Ok(r) if r.capture_names().flatten().any(|n| n == "value") => {}
                Ok(_) => problems.push(filter, "name the value's capture: (?P<value>...)"),
                Err(e) => problems.push(filter, format!("not a regular expression: {e}")),
            },
            (ContentType::Json, None) => problems.push(filter, "required: a JSONPath ($.a.b)"),
            (ContentType::Json, Some(f)) => {
                if let Err(e) = serde_json_path::JsonPath::parse(f) {
                    problems.push(filter, format!("not a JSONPath: {e}"));
                }
            }
            (ContentType::Xml, None) => {
                problems.push(filter, "required: a path to elements (/a/b)")
            }
            (ContentType::Xml, Some(f)) if !f.starts_with('/') => {
                problems.push(filter, format!("{f:?}: an element path starts with /"))
            }
            (ContentType::Prometheus, Some(f)) => {
                if let Err(e) = regex::Regex::new(f) {
                    problems.push(filter, format!("not a regular expression: {e}"));
                }
            }
            _ => {}
        }
        if content == ContentType::Prometheus {
            self.check_import(path, problems);
        }
        if let Some(v) = self.value_on_error
            && !v.is_finite()
        {
            problems.push(join(path, "value_on_error"), "must be a finite number");
        }
    }
}
