//! `collectors.iam`: the IAM monitoring keys users know, the service-account rule, what
//! user names may appear as labels, and the provider probes.

use std::time::Duration;

use pipeline::config::{Problems, Secret, Validate, duration, join};
use pipeline::schedule::{ScheduleBlock, ScheduleDefaults, Scheduled};
use serde::{Deserialize, Serialize};

/// `collectors.iam`: the schedule keys (off by default: security data, and many calls;
/// every 600 s unless `collection_interval`, or `poll_interval`, says otherwise) beside the
/// IAM settings.
pub type IamConfig = Scheduled<IamSettings>;

impl ScheduleDefaults for IamSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock::off()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IamSettings {
    /// Namespaces to read; every namespace when empty.
    pub namespaces: Vec<String>,
    /// The IAM API's answers: `json` or `xml` (ECS's default).
    pub format: IamFormat,
    /// `MaxItems` of list calls; ECS's default (100) when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Emit days since last activity for users past the threshold.
    pub track_inactive_users: bool,
    pub inactive_threshold_days: u32,
    /// Accepted for existing configurations: ECS has no API listing STS sessions (see the
    /// catalog).
    pub monitor_sts_tokens: bool,
    /// Authentication providers to probe, by name; every enabled one when empty.
    pub auth_providers: Vec<String>,
    /// Deadline of one provider server's probe.
    #[serde(with = "duration")]
    pub probe_timeout: Duration,
    pub service_accounts: ServiceAccountRule,
    /// How user and role names appear as labels: `name`, `hash` (salted SHA-256, 16 hex
    /// digits) or `none` (no per-entity series, counts only).
    pub entity_labels: EntityLabels,
    /// Salt of `hash`; set it so that names cannot be recovered by hashing guesses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_label_salt: Option<Secret>,
}

impl Default for IamSettings {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            format: IamFormat::Json,
            page_size: None,
            track_inactive_users: true,
            inactive_threshold_days: 90,
            monitor_sts_tokens: false,
            auth_providers: Vec::new(),
            probe_timeout: Duration::from_secs(5),
            service_accounts: ServiceAccountRule::default(),
            entity_labels: EntityLabels::Name,
            entity_label_salt: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IamFormat {
    Json,
    Xml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityLabels {
    Name,
    Hash,
    None,
}

/// Which IAM users are service accounts (the others are people).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceAccountRule {
    /// A user whose name starts with one of these (case-insensitive).
    pub name_prefixes: Vec<String>,
    /// Or that carries this tag, `key=value` (costs one ListUserTags call per user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl Default for ServiceAccountRule {
    fn default() -> Self {
        Self {
            name_prefixes: ["svc-", "svc_", "svc.", "sa-", "service-"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            tag: None,
        }
    }
}

impl ServiceAccountRule {
    /// (key, value) of the tag rule.
    pub fn tag_pair(&self) -> Option<(&str, &str)> {
        self.tag.as_deref().and_then(|t| t.split_once('='))
    }

    pub fn by_name(&self, user: &str) -> bool {
        let u = user.to_ascii_lowercase();
        self.name_prefixes
            .iter()
            .any(|p| u.starts_with(&p.to_ascii_lowercase()))
    }
}

/// Interval of the IAM collector when none is set: IAM changes slowly and costs about
/// five calls per user.
pub const IAM_INTERVAL: Duration = Duration::from_secs(600);

impl Validate for IamSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.monitor_sts_tokens {
            problems.warn(
                join(path, "monitor_sts_tokens"),
                "accepted but does nothing: ECS has no API listing STS sessions",
            );
        }
        problems.positive(join(path, "probe_timeout"), self.probe_timeout);
        if let Some(p) = self.page_size
            && !(1..=1000).contains(&p)
        {
            problems.push(
                join(path, "page_size"),
                "must be between 1 and 1000 (IAM's MaxItems)",
            );
        }
        if self.inactive_threshold_days == 0 {
            problems.push(
                join(path, "inactive_threshold_days"),
                "must be at least 1 day",
            );
        }
        if let Some(t) = &self.service_accounts.tag
            && self
                .service_accounts
                .tag_pair()
                .is_none_or(|(k, _)| k.trim().is_empty())
        {
            problems.push(
                join(path, "service_accounts.tag"),
                format!("{t:?} is not key=value (e.g. type=service)"),
            );
        }
        crate::config::check_namespaces(path, &self.namespaces, problems);
        if self.entity_labels == EntityLabels::Hash && self.entity_label_salt.is_none() {
            problems.push(
                join(path, "entity_label_salt"),
                "required with entity_labels: hash (without a salt, a name's hash can be found by hashing guesses)",
            );
        }
    }
}
