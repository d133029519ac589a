//! `collectors.performance`: the Flux API's request rates, errors, latency, bandwidth and
//! node figures (ECS 3.6+, ObjectScale).

use pipeline::config::{Problems, Validate, join};
use pipeline::schedule::{ScheduleBlock, ScheduleDefaults, Scheduled};
use serde::{Deserialize, Serialize};

/// `collectors.performance`: the schedule keys (off by default, like billing and IAM: it
/// adds 15 Flux queries a cycle; every cycle of the receiver otherwise) beside its settings.
pub type PerformanceConfig = Scheduled<PerformanceSettings>;

impl ScheduleDefaults for PerformanceSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock::off()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PerformanceSettings {
    /// Namespaces with series of their own (the busiest by requests); the others are
    /// summed into `namespace="__other__"`. 0 leaves the per-namespace queries out.
    pub max_namespaces: usize,
    /// Read the nodes' CPU, memory, network and disk bandwidth (4 queries a cycle).
    pub nodes: bool,
}

impl Default for PerformanceSettings {
    fn default() -> Self {
        Self {
            max_namespaces: 1000,
            nodes: true,
        }
    }
}

impl Validate for PerformanceSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.max_namespaces > 100_000 {
            problems.push(
                join(path, "max_namespaces"),
                "at most 100000 (each namespace is two series per family)",
            );
        }
    }
}
