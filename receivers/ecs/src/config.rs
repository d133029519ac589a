//! `receivers: ecs/<name>:` — one ECS cluster, its credentials, and the collectors to run
//! against it, each with its own interval.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use pipeline::config::{Problems, Secret, Validate, duration, join, resolve_secret};
use pipeline::schedule::{Schedule, ScheduleBlock, ScheduleDefaults, Scheduled};

pub use crate::audit::config::{AUDIT_INTERVAL, AuditConfig, AuditSettings};
pub use crate::billing::config::BillingConfig;
pub use crate::iam::config::{IAM_INTERVAL, IamConfig};
pub use crate::performance::config::{PerformanceConfig, PerformanceSettings};
use serde::{Deserialize, Serialize};

/// `receivers: ecs/<name>:`: the schedule keys (`collection_interval`, every 60 s by
/// default, is the interval of the collectors that set none) beside the cluster's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EcsConfig(pub Scheduled<EcsSettings>);

impl EcsConfig {
    pub fn new(settings: EcsSettings) -> Self {
        Self(Scheduled::new(settings))
    }

    /// The receiver's own schedule: what its collectors inherit.
    pub fn schedule(&self) -> Schedule {
        self.0.schedule.own(&EcsSettings::default_schedule())
    }
}

impl Deref for EcsConfig {
    type Target = Scheduled<EcsSettings>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for EcsConfig {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl ScheduleDefaults for EcsSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock {
            collection_interval: Some(Duration::from_secs(60)),
            initial_delay: Some(Duration::from_secs(1)),
            ..ScheduleBlock::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EcsSettings {
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
    /// The most the agent reads of one answer, by class of endpoint.
    pub max_answer_size: AnswerSizes,
    pub collectors: Collectors,
}

/// `max_answer_size`: the most bytes one answer may carry, per class of endpoint. An
/// answer past its class's cap is abandoned as it arrives (an error of kind `too_large`
/// naming the endpoint and the cap), so no answer can make the agent's memory grow
/// without end. The defaults are about ten times the large preset's biggest answer of
/// the class at the default settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerSizes {
    /// Every management call not in a class below (dashboard, namespaces and buckets, IAM,
    /// alerts, events, users): 8 MiB. A page of 1,000 namespaces is about 0.6 MB.
    pub default: u64,
    /// `/object/billing/...`: 32 MiB. A bulk answer with bucket detail is about 13 KB
    /// per namespace (1.3 MB at the default `batch_size` of 100, 13 MB at 1,000).
    pub billing: u64,
    /// The Flux API of the performance collector: 32 MiB. A per-namespace measurement of
    /// 1,000 namespaces is about 0.7 MB for two minutes, 22 MB for ECS's longest range
    /// (an hour, read after a gap).
    pub flux: u64,
    /// The node ports (`/stats/dt/DTInitStat`, `?ping`): 1 MiB; their answers are a few KB.
    pub node: u64,
    /// All answers of the cluster being read at once (up to `max_concurrent_requests`
    /// management calls and every node's): 48 MiB. Whichever answer passes it is
    /// abandoned, so several answers near their caps cannot add up.
    pub in_flight: u64,
}

const MIB: u64 = 1024 * 1024;

impl Default for AnswerSizes {
    fn default() -> Self {
        Self {
            default: 8 * MIB,
            billing: 32 * MIB,
            flux: 32 * MIB,
            node: MIB,
            in_flight: 48 * MIB,
        }
    }
}

impl AnswerSizes {
    /// The cap of a route and the setting that sets it.
    pub fn for_route(&self, route: &str) -> (u64, &'static str) {
        if route.starts_with("node:") {
            (self.node, "node")
        } else if route.starts_with("/object/billing/") {
            (self.billing, "billing")
        } else if route.starts_with("/flux/") {
            (self.flux, "flux")
        } else {
            (self.default, "default")
        }
    }
}

impl Validate for AnswerSizes {
    fn validate(&self, path: &str, problems: &mut Problems) {
        for (key, v) in [
            ("default", self.default),
            ("billing", self.billing),
            ("flux", self.flux),
            ("node", self.node),
            ("in_flight", self.in_flight),
        ] {
            if v < 1024 {
                problems.push(
                    join(path, key),
                    format!("{v} bytes is too small for any ECS answer; give at least 1024"),
                );
            }
        }
    }
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

/// `collectors.dashboard`: the schedule keys beside the dashboard settings.
pub type DashboardConfig = Scheduled<DashboardSettings>;

impl ScheduleDefaults for DashboardSettings {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DashboardSettings {
    /// Per-bucket settings (object lock, retention, versioning) change rarely and cost a
    /// call per page of buckets: they are read this often and reused in between.
    #[serde(with = "duration")]
    pub bucket_config_interval: Duration,
    /// Read the per-bucket settings at all.
    pub bucket_config: bool,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            bucket_config_interval: Duration::from_secs(600),
            bucket_config: true,
        }
    }
}

/// `collectors.node_stats`: the schedule keys beside the node port settings.
pub type NodeStatsConfig = Scheduled<NodeStatsSettings>;

impl ScheduleDefaults for NodeStatsSettings {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStatsSettings {
    /// The dtquery port (plain HTTP, no authentication).
    pub port: u16,
    /// The S3 data port for `?ping` (load factor, maintenance mode); 0 to skip.
    pub ping_port: u16,
    /// Deadline of one node's calls: a dead node must not hold up the others.
    #[serde(with = "duration")]
    pub node_timeout: Duration,
}

impl Validate for NodeStatsSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.port == 0 {
            problems.push(join(path, "port"), "must be a port number");
        }
        problems.positive(join(path, "node_timeout"), self.node_timeout);
    }
}

impl Default for NodeStatsSettings {
    fn default() -> Self {
        Self {
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
    pub performance: PerformanceConfig,
    pub audit: AuditConfig,
}

/// Billing reads are heavy and their data moves every 5 minutes.
pub const BILLING_INTERVAL: Duration = Duration::from_secs(300);

impl Default for EcsSettings {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            username: String::new(),
            password: None,
            password_file: None,
            tls: EcsTls::default(),
            cluster_name: None,
            max_concurrent_requests: 4,
            request_timeout: Duration::from_secs(30),
            circuit_breaker: BreakerConfig::default(),
            login_backoff: Duration::from_secs(30),
            compatibility_names: false,
            keep_last_good_cycles: 3,
            max_answer_size: AnswerSizes::default(),
            collectors: Collectors::default(),
        }
    }
}

impl EcsSettings {
    /// The password from `password` or `password_file` (checked by `validate`).
    pub fn secret(&self) -> Option<Secret> {
        pipeline::config::password(self.password.as_ref(), self.password_file.as_ref())
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
        self.0.validate(path, problems);
    }
}

impl Validate for EcsSettings {
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
                    if u.scheme_str() == Some("http") {
                        problems.warn(join(path, "endpoint"), "plain http: the login's credentials and the session token cross the network in cleartext; use https (the management API listens on 4443)");
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
        self.max_answer_size
            .validate(&join(path, "max_answer_size"), problems);
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
        ns.validate(&join(path, "collectors.node_stats"), problems);
        self.collectors
            .billing
            .validate(&join(path, "collectors.billing"), problems);
        self.collectors
            .iam
            .validate(&join(path, "collectors.iam"), problems);
        self.collectors
            .performance
            .validate(&join(path, "collectors.performance"), problems);
        self.collectors
            .audit
            .validate(&join(path, "collectors.audit"), problems);
        let c = &self.collectors;
        if !c.dashboard.schedule.enabled
            && !ns.schedule.enabled
            && !c.billing.schedule.enabled
            && !c.iam.schedule.enabled
            && !c.performance.schedule.enabled
            && !c.audit.schedule.enabled
        {
            problems.push(
                join(path, "collectors"),
                "every collector is disabled; enable at least one (dashboard, node_stats, billing, iam, performance, audit)",
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
    Performance,
    Audit,
}

impl CollectorKind {
    pub fn name(self) -> &'static str {
        match self {
            CollectorKind::Dashboard => "dashboard",
            CollectorKind::NodeStats => "node_stats",
            CollectorKind::Billing => "billing",
            CollectorKind::Iam => "iam",
            CollectorKind::Performance => "performance",
            CollectorKind::Audit => "audit",
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
    /// The interval was set on the collector, not inherited or defaulted.
    pub explicit: bool,
}

impl EcsConfig {
    /// The enabled collectors, in a fixed order. A collector inherits the schedule keys it
    /// leaves out from the receiver; an interval left out is the receiver's, or its kind's
    /// longer default (billing, IAM): never more often than the receiver.
    pub fn schedules(&self) -> Vec<CollectorSchedule> {
        if !self.0.schedule.enabled {
            return Vec::new();
        }
        let outer = self.schedule();
        let c = &self.collectors;
        [
            (
                CollectorKind::Dashboard,
                c.dashboard.schedule,
                Duration::ZERO,
            ),
            (
                CollectorKind::NodeStats,
                c.node_stats.schedule,
                Duration::ZERO,
            ),
            (CollectorKind::Billing, c.billing.schedule, BILLING_INTERVAL),
            (CollectorKind::Iam, c.iam.schedule, IAM_INTERVAL),
            (
                CollectorKind::Performance,
                c.performance.schedule,
                Duration::ZERO,
            ),
            (CollectorKind::Audit, c.audit.schedule, AUDIT_INTERVAL),
        ]
        .into_iter()
        .filter(|(_, block, _)| block.enabled)
        .map(|(kind, block, default)| {
            let s = block.resolve(&outer, default);
            CollectorSchedule {
                kind,
                interval: s.interval,
                initial_delay: s.initial_delay,
                timeout: s.timeout,
                explicit: block.collection_interval.is_some(),
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(endpoint: &str, sizes: AnswerSizes) -> (Vec<String>, Vec<String>) {
        let cfg = EcsSettings {
            endpoint: endpoint.into(),
            username: "monitor".into(),
            password: Some(Secret::new("x")),
            max_answer_size: sizes,
            ..EcsSettings::default()
        };
        let mut p = Problems::default();
        cfg.validate("receivers.ecs/prod", &mut p);
        let warnings = p
            .take_warnings()
            .into_iter()
            .map(|w| format!("{}: {}", w.path, w.message))
            .collect();
        let errors = p
            .into_vec()
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        (warnings, errors)
    }

    #[test]
    fn a_plain_http_endpoint_is_warned_about_cleartext_credentials() {
        let (w, e) = problems("http://ecs.example:4443", AnswerSizes::default());
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("receivers.ecs/prod.endpoint: plain http"),
            "{w:?}"
        );
        assert!(w[0].contains("cleartext"), "{w:?}");
        let (w, _) = problems("https://ecs.example:4443", AnswerSizes::default());
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn answer_caps_pick_the_class_of_the_route_and_refuse_tiny_values() {
        let s = AnswerSizes::default();
        assert_eq!(s.for_route("node:/?ping"), (1024 * 1024, "node"));
        assert_eq!(s.for_route("/object/billing/namespace/info").1, "billing");
        assert_eq!(s.for_route("/flux/api/external/v2/query").1, "flux");
        assert_eq!(s.for_route("/object/bucket").1, "default");
        let (_, e) = problems(
            "https://ecs.example:4443",
            AnswerSizes {
                flux: 10,
                ..AnswerSizes::default()
            },
        );
        assert!(
            e.iter()
                .any(|e| e.starts_with("receivers.ecs/prod.max_answer_size.flux")),
            "{e:?}"
        );
    }
}
