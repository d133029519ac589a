//! The billing series, from the figures the collector keeps: per namespace its sizes,
//! quotas and costs, per bucket (up to `max_buckets`, the rest summed into `__other__`)
//! its sizes, costs and month-to-date traffic.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use pipeline::catalog::Tagged;
use pipeline::otlp::common::v1::KeyValue;
use pipeline::timefmt::from_secs;
use pipeline::{ScrapeContext, Snapshot, SnapshotBuilder, kv};

use super::config::Pricing;
use super::fetch::{BucketFigures, NamespaceFigures, NamespaceSample, Traffic};
use super::{Billing, Cycle, OTHER, State, lock, pricing};
use crate::catalog::{compat, *};

/// What every namespace's series share.
struct Frame<'a> {
    billing: &'a Billing,
    started: SystemTime,
    pricing: &'a Pricing,
    compat: bool,
    vpools: &'a HashMap<String, String>,
    /// The month-to-date window: its start and end.
    window: Option<(SystemTime, SystemTime)>,
    /// The buckets with series of their own when `max_buckets` caps them.
    own: Option<HashSet<(String, String)>>,
}

/// A namespace's samples: month to date, and over the trend window.
#[derive(Clone, Copy)]
struct Samples<'a> {
    month: Option<&'a NamespaceSample>,
    trend: Option<&'a NamespaceSample>,
}

/// The members of each namespace's `__other__`: this cycle's, and the last cycle's with
/// since when they have been its members.
struct Others<'a> {
    since: &'a mut BTreeMap<String, (Vec<String>, SystemTime)>,
    members: BTreeMap<String, Vec<String>>,
}

/// The storage costs of a namespace's buckets: their sum now, and for the trend the
/// cost now and at the trend window's start of the buckets with a price.
#[derive(Default)]
struct Costs {
    storage: Option<f64>,
    now: f64,
    then: f64,
}

/// One bucket's series (or `__other__`'s).
struct BucketSeries<'a> {
    /// namespace, bucket, replication_group.
    keys: [&'a str; 3],
    tags: Vec<KeyValue>,
    size: u64,
    objects: u64,
    mpu_size: u64,
    mpu_parts: u64,
    cost: Option<f64>,
    /// Change of the storage cost over the trend window, in %.
    trend: Option<f64>,
}

impl Billing {
    pub(super) fn emit(&self, ctx: &ScrapeContext, c: &mut Cycle) -> Snapshot {
        let cl = &self.cluster;
        let cfg = &cl.cfg.collectors.billing;
        let mut b = cl.builder(ctx.started);
        let mut guard = lock(&self.state);
        let State {
            info,
            month,
            trend,
            window,
            vpools,
            quotas,
            other,
            ..
        } = &mut *guard;
        let (own, folded_total) = own_buckets(info, cfg.max_buckets);
        if folded_total > 0 {
            c.warnings.push(format!(
                "{folded_total} buckets beyond collectors.billing.max_buckets ({}) are summed into bucket=\"{OTHER}\"",
                cfg.max_buckets
            ));
        }
        let f = Frame {
            billing: self,
            started: ctx.started,
            pricing: &cfg.pricing,
            compat: cl.cfg.compatibility_names,
            vpools,
            window: window.map(|w| (from_secs(w.period), from_secs(w.end))),
            own,
        };
        let mut others = Others {
            since: other,
            members: BTreeMap::new(),
        };
        for kept in info.values() {
            let ns = &kept.value;
            let samples = Samples {
                month: month.get(&ns.name).map(|k| &k.value),
                trend: trend.get(&ns.name).map(|k| &k.value),
            };
            f.namespace(&mut b, ns, quotas.get(&ns.name), samples, &mut others);
        }
        let members = others.members;
        other.retain(|ns, _| members.contains_key(ns));
        BILL_FOLDED.record(&mut b, folded_total as u64, ());
        drop(guard);
        if self.report_client {
            cl.report_client(&mut b);
        }
        Snapshot {
            resource_metrics: vec![b.build()],
            resource_logs: Vec::new(),
            warnings: std::mem::take(&mut c.warnings),
        }
    }
}

/// Which buckets get their own series when there are more than `max`: the largest.
/// With how many are folded into `__other__`.
fn own_buckets(
    info: &BTreeMap<String, pull::LastGood<NamespaceFigures>>,
    max: usize,
) -> (Option<HashSet<(String, String)>>, usize) {
    let mut all: Vec<(u64, &str, &str)> = info
        .values()
        .flat_map(|k| {
            k.value
                .buckets
                .iter()
                .map(move |bk| (bk.size, k.value.name.as_str(), bk.name.as_str()))
        })
        .collect();
    if all.len() <= max {
        return (None, 0);
    }
    all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)).then(a.2.cmp(b.2)));
    let own = all
        .iter()
        .take(max)
        .map(|(_, ns, bk)| ((*ns).to_owned(), (*bk).to_owned()))
        .collect();
    (Some(own), all.len() - max)
}

impl Frame<'_> {
    fn namespace(
        &self,
        b: &mut SnapshotBuilder,
        ns: &NamespaceFigures,
        quota: Option<&(i64, i64)>,
        samples: Samples<'_>,
        others: &mut Others<'_>,
    ) {
        let at = ns.uptodate.map(from_secs).unwrap_or(self.started);
        let nsa = [ns.name.as_str()];
        BILL_NS_BYTES.record_at(b, ns.size, nsa, at);
        BILL_NS_OBJECTS.record_at(b, ns.objects, nsa, at);
        BILL_NS_MPU_SIZE.record_at(b, ns.mpu_size, nsa, at);
        if let Some(u) = ns.uptodate {
            BILL_UPTODATE.record_at(b, u, nsa, at);
        }
        if let Some(q) = quota {
            self.quota(b, ns, *q, at);
        }
        if self.compat {
            compat::METERING_OBJECTS.record_at(b, ns.objects, nsa, at);
        }
        let costs = self.buckets(b, ns, samples, others, at);
        let names = &self.billing.names;
        if let Some(x) = costs.storage {
            BILL_NS_STORAGE_COST
                .renamed(&names.ns_storage)
                .record_at(b, x, nsa, at);
        }
        if costs.then > 0.0 {
            let change = (costs.now - costs.then) / costs.then * 100.0;
            BILL_NS_TREND.record_at(b, change, nsa, at);
        }
        if let (Some(m), Some((start, end))) = (samples.month, self.window) {
            BILL_NS_INGRESS.record_at(b, m.total.ingress, start, nsa, end);
            BILL_NS_EGRESS.record_at(b, m.total.egress, start, nsa, end);
            for (dir, bytes, tiers) in [
                ("egress", m.total.egress, &self.pricing.egress),
                ("ingress", m.total.ingress, &self.pricing.ingress),
            ] {
                if let Some(x) = pricing::tiered(bytes, tiers) {
                    BILL_NS_BANDWIDTH_COST
                        .renamed(&names.ns_bandwidth)
                        .record_at(b, x, [ns.name.as_str(), dir], end);
                }
            }
        }
    }

    /// The namespace's block and notification quotas (GB, -1 or 0 for none).
    fn quota(
        &self,
        b: &mut SnapshotBuilder,
        ns: &NamespaceFigures,
        (block, notification): (i64, i64),
        at: SystemTime,
    ) {
        const GIB: u64 = 1024 * 1024 * 1024;
        let name = ns.name.as_str();
        for (ty, q) in [("block", block), ("notification", notification)] {
            if q > 0 {
                BILL_NS_QUOTA.record_at(b, (q as u64).saturating_mul(GIB), [name, ty], at);
            }
        }
        if block > 0 {
            let used = ns.size as f64 / (block as u64).saturating_mul(GIB) as f64;
            BILL_NS_QUOTA_USED.record_at(b, used, [name], at);
        }
        if self.compat {
            for (ty, kb) in [
                (
                    "block",
                    (block > 0).then(|| (block as u64).saturating_mul(1024 * 1024)),
                ),
                (
                    "notification",
                    (notification > 0).then(|| (notification as u64).saturating_mul(1024 * 1024)),
                ),
                ("used", Some(ns.size / 1024)),
            ] {
                if let Some(kb) = kb {
                    compat::METERING_QUOTA.record_at(b, kb, [name, ty], at);
                }
            }
        }
    }

    /// Every bucket's series, then `__other__`'s; the namespace's storage costs.
    fn buckets(
        &self,
        b: &mut SnapshotBuilder,
        ns: &NamespaceFigures,
        samples: Samples<'_>,
        others: &mut Others<'_>,
        at: SystemTime,
    ) -> Costs {
        let mut costs = Costs::default();
        let mut other = OtherSum::default();
        for bk in &ns.buckets {
            let rg = self
                .vpools
                .get(&bk.vpool)
                .cloned()
                .unwrap_or_else(|| bk.vpool.clone());
            let cost = self.pricing.storage_cost(bk.size, &rg);
            if let Some(x) = cost {
                *costs.storage.get_or_insert(0.0) += x;
            }
            let traffic = samples.month.and_then(|m| m.buckets.get(&bk.name));
            let trend = samples.trend.and_then(|t| t.buckets.get(&bk.name));
            if let (Some(price), Some(t)) = (self.pricing.storage_price(&rg), trend) {
                let before = (t.total_size as i64).saturating_sub(t.bytes_delta);
                costs.now += t.total_size as f64 * price;
                costs.then += before.max(0) as f64 * price;
            }
            if let Some(own) = &self.own
                && !own.contains(&(ns.name.clone(), bk.name.clone()))
            {
                other.add(bk, traffic, cost);
                others
                    .members
                    .entry(ns.name.clone())
                    .or_default()
                    .push(bk.name.clone());
                continue;
            }
            let s = BucketSeries {
                keys: [ns.name.as_str(), bk.name.as_str(), rg.as_str()],
                tags: self.tags(bk),
                size: bk.size,
                objects: bk.objects,
                mpu_size: bk.mpu_size,
                mpu_parts: bk.mpu_parts,
                cost,
                trend: trend.filter(|_| cost.is_some()).and_then(|t| {
                    let before = (t.total_size as i64).saturating_sub(t.bytes_delta);
                    (before > 0).then(|| t.bytes_delta as f64 / before as f64 * 100.0)
                }),
            };
            self.bucket(b, &s, at);
            if let (Some(t), Some((start, end))) = (traffic, self.window) {
                traffic_series(b, t, start, end, &s);
            }
        }
        if other.buckets > 0 {
            self.other(b, ns, &other, others, at);
        }
        costs
    }

    /// The configured tags the bucket has, as attributes.
    fn tags(&self, bk: &BucketFigures) -> Vec<KeyValue> {
        let mut tags = Vec::new();
        for (key, label) in &self.billing.tag_labels {
            if let Some((_, v)) = bk.tags.iter().find(|(k, _)| k == key) {
                tags.push(kv(label.clone(), v.as_str()));
            }
        }
        tags
    }

    fn bucket(&self, b: &mut SnapshotBuilder, s: &BucketSeries<'_>, at: SystemTime) {
        let attrs = || Tagged(s.keys, s.tags.iter().cloned());
        BILL_BUCKET_STORAGE.record_at(b, s.size, attrs(), at);
        BILL_BUCKET_OBJECTS.record_at(b, s.objects, attrs(), at);
        BILL_BUCKET_MPU_SIZE.record_at(b, s.mpu_size, attrs(), at);
        BILL_BUCKET_MPU_PARTS.record_at(b, s.mpu_parts, attrs(), at);
        if let Some(x) = s.cost {
            BILL_BUCKET_STORAGE_COST
                .renamed(&self.billing.names.bucket_storage)
                .record_at(b, x, attrs(), at);
        }
        if let Some(x) = s.trend {
            BILL_BUCKET_TREND.record_at(b, x, attrs(), at);
        }
    }

    /// The buckets beyond `max_buckets` of a namespace, summed.
    fn other(
        &self,
        b: &mut SnapshotBuilder,
        ns: &NamespaceFigures,
        other: &OtherSum,
        others: &mut Others<'_>,
        at: SystemTime,
    ) {
        let s = BucketSeries {
            keys: [ns.name.as_str(), OTHER, ""],
            tags: Vec::new(),
            size: other.size,
            objects: other.objects,
            mpu_size: other.mpu_size,
            mpu_parts: other.mpu_parts,
            cost: other.cost,
            trend: None,
        };
        self.bucket(b, &s, at);
        if let (true, Some((month_start, end))) = (other.traffic_seen, self.window) {
            // Its members change as buckets grow: each change restarts its counters.
            let members = others.members.get(&ns.name).cloned().unwrap_or_default();
            let start = match others.since.get(&ns.name) {
                Some((m, since)) if *m == members => *since,
                _ => self.started,
            };
            others.since.insert(ns.name.clone(), (members, start));
            traffic_series(b, &other.traffic, month_start.max(start), end, &s);
        }
    }
}

fn traffic_series(
    b: &mut SnapshotBuilder,
    t: &Traffic,
    start: SystemTime,
    end: SystemTime,
    s: &BucketSeries<'_>,
) {
    let attrs = || Tagged(s.keys, s.tags.iter().cloned());
    BILL_BUCKET_INGRESS.record_at(b, t.ingress, start, attrs(), end);
    BILL_BUCKET_EGRESS.record_at(b, t.egress, start, attrs(), end);
    BILL_BUCKET_CREATED.record_at(b, t.objects_created, start, attrs(), end);
    BILL_BUCKET_DELETED.record_at(b, t.objects_deleted, start, attrs(), end);
}

/// The buckets of a namespace beyond `max_buckets`, summed.
#[derive(Default)]
struct OtherSum {
    buckets: usize,
    size: u64,
    objects: u64,
    mpu_size: u64,
    mpu_parts: u64,
    cost: Option<f64>,
    traffic: Traffic,
    traffic_seen: bool,
}

impl OtherSum {
    fn add(&mut self, bk: &BucketFigures, traffic: Option<&Traffic>, cost: Option<f64>) {
        self.buckets += 1;
        self.size = self.size.saturating_add(bk.size);
        self.objects = self.objects.saturating_add(bk.objects);
        self.mpu_size = self.mpu_size.saturating_add(bk.mpu_size);
        self.mpu_parts = self.mpu_parts.saturating_add(bk.mpu_parts);
        if let Some(x) = cost {
            *self.cost.get_or_insert(0.0) += x;
        }
        if let Some(t) = traffic {
            self.traffic_seen = true;
            self.traffic.ingress = self.traffic.ingress.saturating_add(t.ingress);
            self.traffic.egress = self.traffic.egress.saturating_add(t.egress);
            self.traffic.objects_created = self
                .traffic
                .objects_created
                .saturating_add(t.objects_created);
            self.traffic.objects_deleted = self
                .traffic
                .objects_deleted
                .saturating_add(t.objects_deleted);
        }
    }
}
