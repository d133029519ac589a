use std::collections::BTreeMap;
use std::time::Duration;

use pipeline::config::{Problems, Validate, duration, join, parse_socket_addr};
use pipeline::tls::TlsServerSettings;
use serde::{Deserialize, Serialize};

/// `exporters: prometheus:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrometheusConfig {
    /// Where /metrics is served.
    pub endpoint: String,
    pub metrics_path: String,
    /// A source that stopped reporting loses its series after this long (or after two of
    /// its own intervals, if longer).
    #[serde(with = "duration")]
    pub metric_expiration: Duration,
    /// Stamp samples with the data points' own time.
    pub send_timestamps: bool,
    /// Unit and `_total` suffixes on names, as the OTel specification asks.
    pub add_metric_suffixes: bool,
    /// `otel_scope_name` / `otel_scope_version` labels.
    pub scope_labels: bool,
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    /// Series one metric of one source may have; the excess is dropped and counted.
    pub max_series_per_metric: usize,
    /// A response not written whole within this long (a scraper that does not read) is
    /// abandoned and its connection closed, releasing the page it pinned.
    #[serde(with = "duration")]
    pub write_timeout: Duration,
    /// A response of a page that a newer one has replaced, whose scraper took no byte for
    /// this long, is abandoned at once rather than at `write_timeout`: otherwise every
    /// scraper that stops reading keeps a whole old page in memory.
    #[serde(with = "duration")]
    pub stall_timeout: Duration,
    /// Connections served at once; more are refused with a 503 and counted.
    pub max_connections: usize,
    /// How the rendered page is held between scrapes: lz4-compressed in blocks (`lz4`, the
    /// default: a large cluster's 50 MB page in about 4 MB; a scrape without gzip unpacks it
    /// as it writes, up to 10 % slower; gzip scrapes cost the same), or as it is (`none`).
    pub page_compression: PageCompression,
    /// user → bcrypt hash, as in Prometheus' web configuration.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub basic_auth_users: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsServerSettings>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageCompression {
    None,
    #[default]
    Lz4,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceToTelemetry {
    pub enabled: bool,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            endpoint: "0.0.0.0:9438".into(),
            metrics_path: "/metrics".into(),
            metric_expiration: Duration::from_secs(300),
            send_timestamps: false,
            add_metric_suffixes: true,
            scope_labels: true,
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            max_series_per_metric: 50_000,
            write_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(5),
            max_connections: 64,
            page_compression: PageCompression::Lz4,
            basic_auth_users: BTreeMap::new(),
            tls: None,
        }
    }
}

impl Validate for PrometheusConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if let Err(e) = parse_socket_addr(&self.endpoint) {
            problems.push(join(path, "endpoint"), e);
        }
        if !self.metrics_path.starts_with('/') {
            problems.push(
                join(path, "metrics_path"),
                format!("must start with '/', got {:?}", self.metrics_path),
            );
        }
        problems.positive(join(path, "metric_expiration"), self.metric_expiration);
        if self.max_series_per_metric == 0 {
            problems.push(join(path, "max_series_per_metric"), "must be at least 1");
        }
        problems.positive(join(path, "write_timeout"), self.write_timeout);
        problems.positive(join(path, "stall_timeout"), self.stall_timeout);
        if self.max_connections == 0 {
            problems.push(join(path, "max_connections"), "must be at least 1");
        }
        for (user, hash) in &self.basic_auth_users {
            if !is_bcrypt_hash(hash) {
                problems.push(
                    join(&join(path, "basic_auth_users"), user),
                    "not a bcrypt hash (expected $2a$, $2b$ or $2y$ followed by cost and 53 characters; make one with `htpasswd -nbBC 10 USER PASSWORD`)",
                );
            }
            if user.contains(':') {
                problems.push(
                    join(&join(path, "basic_auth_users"), user),
                    "a user name cannot contain ':'",
                );
            }
        }
        if let Some(tls) = &self.tls {
            tls.validate(&join(path, "tls"), problems);
        }
    }
}

fn is_bcrypt_hash(h: &str) -> bool {
    let b = h.as_bytes();
    h.len() == 60
        && (h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$"))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}
