//! `collectors.audit`: ECS's audit events (who changed what) and newly raised alerts, as
//! counters and as OTLP log records.

use std::path::PathBuf;
use std::time::Duration;

use pipeline::config::{Problems, Validate, duration, join};
use pipeline::schedule::{ScheduleBlock, ScheduleDefaults, Scheduled};
use serde::{Deserialize, Serialize};

/// `collectors.audit`: the schedule keys (off by default: one call per namespace a cycle;
/// every 300 s unless `collection_interval` says otherwise) beside its settings.
pub type AuditConfig = Scheduled<AuditSettings>;

/// Audit events are read one namespace at a time: a cycle per 5 minutes keeps that cheap.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(300);

impl ScheduleDefaults for AuditSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock::off()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Namespaces whose events are read; every namespace when empty.
    pub namespaces: Vec<String>,
    /// Events per page (`limit`, 1 to 1000).
    pub page_size: usize,
    /// How far before the end of the last window each window starts again, for events ECS
    /// records late or stamps with a clock behind the agent's; events already seen are
    /// recognised by their id.
    #[serde(with = "duration")]
    pub overlap: Duration,
    /// Where the read position and the ids of the overlap are kept, so that a restarted
    /// agent neither repeats nor skips an event. Without it, a restarted agent starts at
    /// the time it starts (events raised while it was down are not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// On the first start (no state yet), also read this far back.
    #[serde(with = "duration")]
    pub initial_lookback: Duration,
    /// After a long stop, read at most this far back; the rest is reported as a gap.
    #[serde(with = "duration")]
    pub max_catch_up: Duration,
    /// Newly raised alerts (`/vdc/alerts`) as log records too.
    pub alerts: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            page_size: 500,
            overlap: Duration::from_secs(300),
            state_file: None,
            initial_lookback: Duration::ZERO,
            max_catch_up: Duration::from_secs(24 * 3600),
            alerts: true,
        }
    }
}

impl Validate for AuditSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        crate::config::check_namespaces(path, &self.namespaces, problems);
        if !(1..=1000).contains(&self.page_size) {
            problems.push(join(path, "page_size"), "must be between 1 and 1000");
        }
        if self.overlap < Duration::from_secs(60) {
            problems.push(
                join(path, "overlap"),
                "at least 1m: ECS stamps events to the minute",
            );
        }
        if self.max_catch_up < self.overlap {
            problems.push(join(path, "max_catch_up"), "must be at least the overlap");
        }
        if self
            .state_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            problems.push(join(path, "state_file"), "empty path");
        }
    }
}
