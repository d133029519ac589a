//! `receivers: ecs/<name>:` — one ECS cluster, its credentials, and the collectors to run
//! against it, each with its own interval.

use std::path::PathBuf;
use std::time::Duration;

use pipeline::config::{Problems, Secret, Validate, duration, join, resolve_secret};

pub use crate::billing::config::BillingConfig;
pub use crate::iam::config::{IAM_INTERVAL, IamConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EcsConfig {
    /// The management API: `https://ecs.example.com:4443`.
    pub endpoint: String,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password (a Kubernetes secret mount, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    pub tls: EcsTls,
    /// The cluster's name in every series (`instance`, `ecs.cluster.name`); by default
    /// the receiver's name (`prod` for `ecs/prod`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Default interval of the collectors that set none.
    #[serde(with = "duration")]
    pub collection_interval: Duration,
    #[serde(with = "duration")]
    pub initial_delay: Duration,
    /// Management calls in flight at once for this cluster: more upsets ECS.
    pub max_concurrent_requests: usize,
    /// Deadline of one management call.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    pub circuit_breaker: BreakerConfig,
    /// After a failed login, wait this long before the next attempt (doubling up to 10
    /// minutes), so that a refused login never turns into a login storm.
    #[serde(with = "duration")]
    pub login_backoff: Duration,
    /// Also expose the paychex/prometheus-emcecs-exporter names (`emcecs_cluster_*`,
    /// `emcecs_node_*`) so that existing dashboards keep working.
    pub compatibility_names: bool,
    /// Keep serving the last good answer of an endpoint for this many failed cycles.
    pub keep_last_good_cycles: u32,
    pub collectors: Collectors,
}

/// `tls: {ca_file, insecure_skip_verify, server_name}`, and a client certificate
/// (`cert_file`, `key_file`) for clusters behind a proxy that asks for one.
pub type EcsTls = pull::TlsClientConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerConfig {
    /// Consecutive failures of one endpoint that open its breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before one probe goes through.
    #[serde(with = "duration")]
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DashboardConfig {
    pub enabled: bool,
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub collection_interval: Option<Duration>,
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Per-bucket settings (object lock, retention, versioning) change rarely and cost a
    /// call per page of buckets: they are read this often and reused in between.
    #[serde(with = "duration")]
    pub bucket_config_interval: Duration,
    /// Read the per-bucket settings at all.
    pub bucket_config: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            collection_interval: None,
            timeout: None,
            bucket_config_interval: Duration::from_secs(600),
            bucket_config: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStatsConfig {
    pub enabled: bool,
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub collection_interval: Option<Duration>,
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// The dtquery port (plain HTTP, no authentication).
    pub port: u16,
    /// The S3 data port for `?ping` (load factor, maintenance mode); 0 to skip.
    pub ping_port: u16,
    /// Deadline of one node's calls: a dead node must not hold up the others.
    #[serde(with = "duration")]
    pub node_timeout: Duration,
}

impl Default for NodeStatsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            collection_interval: None,
            timeout: None,
            port: 9101,
            ping_port: 9020,
            node_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Collectors {
    pub dashboard: DashboardConfig,
    pub node_stats: NodeStatsConfig,
    pub billing: BillingConfig,
    pub iam: IamConfig,
}

/// Billing reads are heavy and their data moves every 5 minutes.
pub const BILLING_INTERVAL: Duration = Duration::from_secs(300);

impl Default for EcsConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            username: String::new(),
            password: None,
            password_file: None,
            tls: EcsTls::default(),
            cluster_name: None,
            collection_interval: Duration::from_secs(60),
            initial_delay: Duration::from_secs(1),
            max_concurrent_requests: 4,
            request_timeout: Duration::from_secs(30),
            circuit_breaker: BreakerConfig::default(),
            login_backoff: Duration::from_secs(30),
            compatibility_names: false,
            keep_last_good_cycles: 3,
            collectors: Collectors::default(),
        }
    }
}

impl EcsConfig {
    /// The password from `password` or `password_file` (checked by `validate`).
    pub fn secret(&self) -> Option<Secret> {
        let mut p = Problems::default();
        resolve_secret(
            self.password.as_ref(),
            self.password_file.as_ref(),
            "",
            "password",
            "password_file",
            &mut p,
        )
    }

    /// `scheme://host:port` without a trailing slash.
    pub fn base_url(&self) -> String {
        self.endpoint.trim_end_matches('/').to_owned()
    }

    /// The management client's connection. No credentials: the session logs in itself
    /// and sends its token.
    pub fn http_client(&self) -> pull::HttpClientConfig {
        pull::HttpClientConfig {
            endpoint: self.base_url(),
            tls: self.tls.clone(),
            request_timeout: self.request_timeout,
            ..pull::HttpClientConfig::default()
        }
    }
}

impl Validate for EcsConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        let ep = self.endpoint.trim();
        if ep.is_empty() {
            problems.push(
                join(path, "endpoint"),
                "required: the management API, e.g. https://ecs.example.com:4443",
            );
        } else {
            match ep.parse::<http::Uri>() {
                Ok(u) if u.authority().is_some_and(|a| a.as_str().contains('@')) => problems.push(
                    join(path, "endpoint"),
                    "give the credentials in username and password, not in the URL (it is logged)",
                ),
                Ok(u) if matches!(u.scheme_str(), Some("https") | Some("http")) && u.host().is_some() => {
                    if u.path() != "/" && !u.path().is_empty() {
                        problems.push(join(path, "endpoint"), format!("give only scheme, host and port, not a path ({:?})", u.path()));
                    }
                }
                _ => problems.push(
                    join(path, "endpoint"),
                    format!("invalid endpoint {ep:?}; expected https://host:port (the management API, port 4443)"),
                ),
            }
        }
        if self.username.trim().is_empty() {
            problems.push(
                join(path, "username"),
                "required (a management user with the SYSTEM_MONITOR role is enough)",
            );
        }
        match resolve_secret(
            self.password.as_ref(),
            self.password_file.as_ref(),
            path,
            "password",
            "password_file",
            problems,
        ) {
            Some(_) => {}
            None if self.password.is_none() && self.password_file.is_none() => {
                problems.push(
                    path,
                    "set password (e.g. \"${env:ECS_PASSWORD}\") or password_file",
                );
            }
            None => {}
        }
        self.tls.validate(&join(path, "tls"), problems);
        problems.positive(join(path, "collection_interval"), self.collection_interval);
        problems.positive(join(path, "request_timeout"), self.request_timeout);
        if !(1..=64).contains(&self.max_concurrent_requests) {
            problems.push(join(path, "max_concurrent_requests"), "must be between 1 and 64 (ECS tolerates few concurrent management calls; 4 is the default)");
        }
        if self.circuit_breaker.failure_threshold == 0 {
            problems.push(
                join(path, "circuit_breaker.failure_threshold"),
                "must be at least 1",
            );
        }
        let ns = &self.collectors.node_stats;
        if ns.port == 0 {
            problems.push(
                join(path, "collectors.node_stats.port"),
                "must be a port number",
            );
        }
        problems.positive(
            join(path, "collectors.node_stats.node_timeout"),
            ns.node_timeout,
        );
        self.collectors
            .billing
            .validate(&join(path, "collectors.billing"), problems);
        self.collectors
            .iam
            .validate(&join(path, "collectors.iam"), problems);
        let c = &self.collectors;
        if !c.dashboard.enabled && !ns.enabled && !c.billing.enabled && !c.iam.enabled {
            problems.push(
                join(path, "collectors"),
                "every collector is disabled; enable at least one (dashboard, node_stats, billing, iam)",
            );
        }
    }
}

/// One scheduled collector of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectorKind {
    Dashboard,
    NodeStats,
    Billing,
    Iam,
}

impl CollectorKind {
    pub fn name(self) -> &'static str {
        match self {
            CollectorKind::Dashboard => "dashboard",
            CollectorKind::NodeStats => "node_stats",
            CollectorKind::Billing => "billing",
            CollectorKind::Iam => "iam",
        }
    }
}

/// A collector to schedule: its kind, interval, first delay and timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorSchedule {
    pub kind: CollectorKind,
    pub interval: Duration,
    pub initial_delay: Duration,
    pub timeout: Option<Duration>,
}

impl EcsConfig {
    /// The enabled collectors, in a fixed order.
    pub fn schedules(&self) -> Vec<CollectorSchedule> {
        let mut v = Vec::new();
        let d = &self.collectors.dashboard;
        if d.enabled {
            v.push(CollectorSchedule {
                kind: CollectorKind::Dashboard,
                interval: d.collection_interval.unwrap_or(self.collection_interval),
                initial_delay: self.initial_delay,
                timeout: d.timeout,
            });
        }
        let n = &self.collectors.node_stats;
        if n.enabled {
            v.push(CollectorSchedule {
                kind: CollectorKind::NodeStats,
                interval: n.collection_interval.unwrap_or(self.collection_interval),
                initial_delay: self.initial_delay,
                timeout: n.timeout,
            });
        }
        let b = &self.collectors.billing;
        if b.enabled {
            v.push(CollectorSchedule {
                kind: CollectorKind::Billing,
                interval: b.collection_interval.unwrap_or(BILLING_INTERVAL),
                initial_delay: self.initial_delay,
                timeout: b.timeout,
            });
        }
        let i = &self.collectors.iam;
        if i.enabled {
            v.push(CollectorSchedule {
                kind: CollectorKind::Iam,
                interval: i.collection_interval.unwrap_or(IAM_INTERVAL),
                initial_delay: self.initial_delay,
                timeout: i.timeout,
            });
        }
        v
    }
}

/// Every name of a collector's `namespaces` list must be non-empty.
pub(crate) fn check_namespaces(path: &str, namespaces: &[String], problems: &mut Problems) {
    for (i, ns) in namespaces.iter().enumerate() {
        if ns.trim().is_empty() {
            problems.push(
                format!("{}[{i}]", join(path, "namespaces")),
                "empty namespace name",
            );
        }
    }
}
