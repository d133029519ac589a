//! `collectors.billing`: which namespaces, how often, what to derive, and the cost model.

use std::collections::BTreeMap;
use std::time::Duration;

use pipeline::config::{Problems, Validate, duration, join};
use pipeline::schedule::{ScheduleBlock, ScheduleDefaults, Scheduled};
use serde::{Deserialize, Serialize};

/// `collectors.billing`: the schedule keys (off by default: billing reads are the heaviest
/// ECS calls; every 300 s unless `collection_interval`, or `poll_interval`, says otherwise)
/// beside the billing settings.
pub type BillingConfig = Scheduled<BillingSettings>;

impl ScheduleDefaults for BillingSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock::off()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingSettings {
    /// Namespaces to read; every namespace when empty.
    pub namespaces: Vec<String>,
    /// Namespaces per bulk call: calls per cycle grow with namespaces / batch_size.
    pub batch_size: usize,
    /// Read the sample API too: month-to-date traffic (the ingress/egress counters), the
    /// bandwidth cost and the cost trend.
    pub include_samples: bool,
    /// How often the samples are re-read (a multiple of 5 minutes); the cycles in between
    /// reuse the last ones. Default: every cycle.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub sample_interval: Option<Duration>,
    /// Window of `emcecs_*_cost_trend_percent` (a multiple of 5 minutes).
    #[serde(with = "duration")]
    pub trend_window: Duration,
    /// Bucket series kept per receiver: the largest buckets; the rest of each namespace is
    /// summed into `bucket="__other__"`.
    pub max_buckets: usize,
    /// Bucket tags exposed as attributes: `tag_` and the key in snake case
    /// (`CostCenter` → `tag_cost_center`).
    pub bucket_tags: Vec<String>,
    pub pricing: Pricing,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            batch_size: 100,
            include_samples: true,
            sample_interval: None,
            trend_window: Duration::from_secs(24 * 3600),
            max_buckets: 25_000,
            bucket_tags: Vec::new(),
            pricing: Pricing::default(),
        }
    }
}

/// The cost model. GB is 1024³ bytes, as in ECS's billing units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pricing {
    /// ISO 4217 code; it ends the cost metrics' names (`emcecs_bucket_storage_cost_usd`).
    pub currency: String,
    pub storage: StoragePricing,
    /// Per GB of the namespace's egress this calendar month (UTC), by volume tier.
    pub egress: Vec<Tier>,
    /// Per GB of ingress likewise.
    pub ingress: Vec<Tier>,
    /// Per 1,000 requests by operation class. Accepted for completeness: no ECS billing
    /// API reports operation counts, so no operation cost can be computed (see the catalog).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, f64>,
}

impl Default for Pricing {
    fn default() -> Self {
        Self {
            currency: "USD".into(),
            storage: StoragePricing::default(),
            egress: Vec::new(),
            ingress: Vec::new(),
            requests: BTreeMap::new(),
        }
    }
}

/// Price per GB-month by replication group (ECS's storage classes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoragePricing {
    /// For buckets whose replication group is not listed; no storage cost when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
    /// Replication group name → price per GB-month.
    pub replication_groups: BTreeMap<String, f64>,
}

/// One volume tier: `price` per GB up to `up_to_gb` of the month's volume (the last tier
/// has no bound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to_gb: Option<f64>,
    pub price: f64,
}

/// Operation classes a request price may name.
pub const OPERATION_CLASSES: &[&str] = &["get", "put", "delete", "list", "head", "post", "copy"];

fn price_ok(path: String, p: f64, problems: &mut Problems) {
    if !p.is_finite() || p < 0.0 {
        problems.push(
            path,
            format!("price must be a non-negative number, not {p}"),
        );
    }
}

fn tiers_ok(path: String, tiers: &[Tier], problems: &mut Problems) {
    let mut last: Option<f64> = None;
    for (i, t) in tiers.iter().enumerate() {
        let at = format!("{path}[{i}]");
        price_ok(join(&at, "price"), t.price, problems);
        match t.up_to_gb {
            Some(b) if !b.is_finite() || b <= 0.0 => problems.push(
                join(&at, "up_to_gb"),
                format!("must be a positive number of GB, not {b}"),
            ),
            Some(b) => {
                if let Some(prev) = last
                    && b <= prev
                {
                    problems.push(
                        join(&at, "up_to_gb"),
                        format!("tiers overlap: {b} GB is not above the previous tier's {prev} GB"),
                    );
                }
                if i + 1 == tiers.len() {
                    problems.push(
                        at.clone(),
                        "the last tier must have no up_to_gb (it prices everything above the others)",
                    );
                }
                last = Some(b);
            }
            None if i + 1 < tiers.len() => problems.push(
                join(&at, "up_to_gb"),
                "only the last tier may leave up_to_gb out; tiers after it would never apply",
            ),
            None => {}
        }
    }
}

impl Validate for BillingSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if !(1..=1000).contains(&self.batch_size) {
            problems.push(
                join(path, "batch_size"),
                "must be between 1 and 1000 namespaces per bulk call",
            );
        }
        let five = |d: Duration| d.as_secs() > 0 && d.as_secs() % 300 == 0 && d.subsec_nanos() == 0;
        if let Some(s) = self.sample_interval
            && !five(s)
        {
            problems.push(
                join(path, "sample_interval"),
                format!("must be a multiple of 5 minutes (ECS's billing samples), not {s:?}"),
            );
        }
        if !five(self.trend_window) {
            problems.push(
                join(path, "trend_window"),
                format!(
                    "must be a multiple of 5 minutes (ECS's billing samples), not {:?}",
                    self.trend_window
                ),
            );
        }
        if self.max_buckets == 0 {
            problems.push(join(path, "max_buckets"), "must be at least 1");
        }
        crate::config::check_namespaces(path, &self.namespaces, problems);
        for (i, t) in self.bucket_tags.iter().enumerate() {
            if t.trim().is_empty() {
                problems.push(
                    format!("{}[{i}]", join(path, "bucket_tags")),
                    "empty tag key",
                );
            }
        }
        let p = join(path, "pricing");
        let c = &self.pricing.currency;
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
            problems.push(
                join(&p, "currency"),
                format!("{c:?} is not an ISO 4217 code (three letters, e.g. USD)"),
            );
        }
        if let Some(d) = self.pricing.storage.default {
            price_ok(join(&p, "storage.default"), d, problems);
        }
        for (rg, price) in &self.pricing.storage.replication_groups {
            price_ok(
                join(&p, &format!("storage.replication_groups.{rg}")),
                *price,
                problems,
            );
        }
        tiers_ok(join(&p, "egress"), &self.pricing.egress, problems);
        tiers_ok(join(&p, "ingress"), &self.pricing.ingress, problems);
        if !self.pricing.requests.is_empty() {
            problems.warn(
                join(&p, "requests"),
                "accepted but not used: no ECS billing API reports operation counts, so no request cost is computed",
            );
        }
        for (op, price) in &self.pricing.requests {
            let at = join(&p, &format!("requests.{op}"));
            if !OPERATION_CLASSES.contains(&op.as_str()) {
                problems.push(
                    at.clone(),
                    format!(
                        "unknown operation class {op:?} (known: {})",
                        OPERATION_CLASSES.join(", ")
                    ),
                );
            }
            price_ok(at, *price, problems);
        }
    }
}

impl BillingSettings {
    /// The last word of the cost metrics' names (`usd`).
    pub fn currency_suffix(&self) -> String {
        self.pricing.currency.to_ascii_lowercase()
    }
}
