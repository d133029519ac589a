//! The dashboard's calls: the nine reads of a cycle (all at once), every page of the
//! unacknowledged alerts, and the bucket settings on their slower cadence, a namespace at
//! a time (what a cycle could not read is read first by the next).

use std::time::Duration;

use pipeline::ScrapeContext;
use serde_json::Value;
use tokio::time::Instant;

use super::model::BucketSettings;
use super::{BUCKET_SETTINGS_MAX_AGE, Dashboard};

use crate::client::parse::{list, text};
use crate::client::{Call, ClientError};
use crate::cluster::Cluster;
use crate::parts;

/// The outcome of one call of the cycle.
pub struct Got {
    pub value: Option<Value>,
    pub warning: Option<String>,
    pub error: Option<ClientError>,
}

impl Got {
    fn of(result: Result<Value, ClientError>, warning: Option<String>) -> Self {
        match result {
            Ok(v) => Got {
                value: Some(v),
                warning,
                error: None,
            },
            Err(e) => Got {
                value: None,
                warning,
                error: Some(e),
            },
        }
    }
}

/// The answers of one cycle's reads.
pub struct Answers {
    pub nodes: Got,
    pub localzone: Got,
    pub lz_nodes: Got,
    pub disks: Got,
    pub pools: Got,
    pub rgs: Got,
    pub failed_links: Got,
    pub capacity: Got,
    pub alerts: Got,
}

impl Answers {
    pub fn all(&self) -> [&Got; 9] {
        [
            &self.nodes,
            &self.localzone,
            &self.lz_nodes,
            &self.disks,
            &self.pools,
            &self.rgs,
            &self.failed_links,
            &self.capacity,
            &self.alerts,
        ]
    }
}

const LZ_CALLS: [(&str, &str); 6] = [
    (
        "/dashboard/zones/localzone",
        "/dashboard/zones/localzone?dataType=current",
    ),
    (
        "/dashboard/zones/localzone/nodes",
        "/dashboard/zones/localzone/nodes?dataType=current",
    ),
    (
        "/dashboard/zones/localzone/disks",
        "/dashboard/zones/localzone/disks?dataType=current",
    ),
    (
        "/dashboard/zones/localzone/storagepools",
        "/dashboard/zones/localzone/storagepools?dataType=current",
    ),
    (
        "/dashboard/zones/localzone/replicationgroups",
        "/dashboard/zones/localzone/replicationgroups?dataType=current",
    ),
    (
        "/dashboard/zones/localzone/rglinksFailed",
        "/dashboard/zones/localzone/rglinksFailed",
    ),
];

impl Dashboard {
    /// The cycle's nine reads, at once.
    pub(super) async fn fetch_all(&self, deadline: Instant) -> Answers {
        let get = |(route, path): (&'static str, &'static str)| self.get(route, path, deadline);
        let (nodes, localzone, lz_nodes, disks, pools, rgs, failed_links, capacity, alerts) = tokio::join!(
            self.get("/vdc/nodes", "/vdc/nodes", deadline),
            get(LZ_CALLS[0]),
            get(LZ_CALLS[1]),
            get(LZ_CALLS[2]),
            get(LZ_CALLS[3]),
            get(LZ_CALLS[4]),
            get(LZ_CALLS[5]),
            self.get("/object/capacity", "/object/capacity", deadline),
            self.alerts(deadline),
        );
        Answers {
            nodes,
            localzone,
            lz_nodes,
            disks,
            pools,
            rgs,
            failed_links,
            capacity,
            alerts,
        }
    }

    async fn get(&self, route: &str, path: &str, deadline: Instant) -> Got {
        let mut w = Vec::new();
        let key = format!("dashboard {route}");
        let r = self
            .cluster
            .fetch(&key, route, path, deadline, &mut w)
            .await;
        Got::of(r, w.pop())
    }

    /// Every unacknowledged alert, page by page. The whole list is kept as the last good
    /// answer, never one page: a stale page must not be added to a fresh list.
    async fn alerts(&self, deadline: Instant) -> Got {
        const KEY: &str = "dashboard /vdc/alerts (all pages)";
        let (all, error, complete) = self.alert_pages(deadline).await;
        let mut w = Vec::new();
        let result = match error {
            None => {
                let v = Value::Array(all);
                self.cluster.remember(KEY, &v);
                Ok(v)
            }
            Some(e) => self.cluster.fallback(KEY, e, &mut w),
        };
        let mut warning = w.pop();
        if !complete && warning.is_none() && result.is_ok() {
            warning = Some("/vdc/alerts: stopped after 100 pages".into());
        }
        Got::of(result, warning)
    }

    /// The alerts of up to 100 pages, the error that stopped the reading if any, and
    /// whether the last page was reached.
    async fn alert_pages(&self, deadline: Instant) -> (Vec<Value>, Option<ClientError>, bool) {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..100 {
            let path = match &marker {
                Some(m) => format!(
                    "/vdc/alerts?acknowledged=false&limit=1000&marker={}",
                    crate::percent(m)
                ),
                None => "/vdc/alerts?acknowledged=false&limit=1000".to_owned(),
            };
            let v = match self
                .cluster
                .client
                .json(Call::get("/vdc/alerts", path).until(deadline))
                .await
            {
                Ok(v) => v,
                Err(e) => return (all, Some(e), false),
            };
            let inner = if v.get("alerts").is_some() {
                &v["alerts"]
            } else {
                &v
            };
            all.extend(list(inner, "alert").into_iter().cloned());
            let next = text(&v["NextMarker"])
                .or_else(|| text(&inner["NextMarker"]))
                .map(str::to_owned);
            if next.is_none() || next == marker {
                return (all, None, true);
            }
            marker = next;
        }
        (all, None, false)
    }

    /// Reads the bucket settings that are due: every namespace when a round begins (every
    /// `bucket_config_interval`), then, cycle after cycle, the ones not read yet, the
    /// longest unread first, until each has been read.
    pub(super) async fn refresh_buckets(&self, ctx: &ScrapeContext, warnings: &mut Vec<String>) {
        let cfg = &self.cluster.cfg.collectors.dashboard;
        if !cfg.bucket_config {
            return;
        }
        let deadline = ctx.deadline;
        self.expire_buckets(cfg.bucket_config_interval.max(ctx.interval), warnings);
        // At most half of what is left of the cycle: the dashboard's own figures come
        // first. No namespace starts after 90% of that, and one cut off is postponed.
        let started = Instant::now();
        let deadline = started + deadline.saturating_duration_since(started) / 2;
        let cutoff = started + deadline.saturating_duration_since(started).mul_f32(0.9);
        if self.round_due() {
            self.begin_round(started, deadline, warnings).await;
        }
        let order = self.bucket_cache().namespaces.due_oldest_first();
        if order.is_empty() {
            return;
        }
        let cluster = &self.cluster;
        let in_flight = cluster.cfg.max_concurrent_requests;
        let span = |_: &str| tracing::Span::current();
        let read = parts::read(order, in_flight, cutoff, span, |ns| {
            let cluster = cluster.clone();
            async move {
                let mut b = read_buckets(&cluster, &ns, deadline).await?;
                b.sort_by(|x, y| x.bucket.cmp(&y.bucket));
                Ok(b)
            }
        })
        .await;
        let postponed = read.postponed;
        let failed = self.bucket_cache().namespaces.settle(read, Instant::now());
        for (ns, e) in failed.iter().take(3) {
            warnings.push(format!("namespace {ns}: {e}"));
        }
        if !failed.is_empty() {
            warnings.push(format!(
                "{} namespace(s) failed; their last bucket settings are served and they are read again next cycle",
                failed.len()
            ));
        }
        if postponed > 0 {
            warnings.push(format!(
                "{postponed} namespaces' bucket settings not read within this cycle's time ({:?}); their last read is served and they come first next cycle",
                cutoff - started
            ));
        }
    }

    /// Whether a round of bucket settings is due: never begun, or begun
    /// `bucket_config_interval` ago (and no failed listing to wait out).
    fn round_due(&self) -> bool {
        let interval = self.cluster.cfg.collectors.dashboard.bucket_config_interval;
        let c = self.bucket_cache();
        c.listed
            .as_ref()
            .is_none_or(|(_, t)| t.elapsed() >= interval)
            && c.retry_at.is_none_or(|t| Instant::now() >= t)
    }

    /// Lists the namespaces and wants each one's bucket settings from `started` on.
    async fn begin_round(&self, started: Instant, deadline: Instant, warnings: &mut Vec<String>) {
        let mut names = Vec::new();
        let listed = self
            .cluster
            .each_namespace(deadline, |n| {
                names.extend(crate::cluster::namespace_name(n).map(str::to_owned))
            })
            .await;
        let mut c = self.bucket_cache();
        if let Err(e) = listed {
            warnings.push(format!("{e}; bucket settings not refreshed"));
            let interval = self.cluster.cfg.collectors.dashboard.bucket_config_interval;
            c.retry_at = Some(Instant::now() + (interval / 4).max(Duration::from_secs(60)));
            return;
        }
        c.retry_at = None;
        c.namespaces.retain_listed(&names);
        c.namespaces.want(&names, started);
        c.listed = Some((names, started));
    }

    /// Drops the settings of namespaces not read for `BUCKET_SETTINGS_MAX_AGE` intervals
    /// (`interval`: the longer of the bucket settings' and the dashboard's).
    fn expire_buckets(&self, interval: Duration, warnings: &mut Vec<String>) {
        let max_age = interval * BUCKET_SETTINGS_MAX_AGE;
        let mut c = self.bucket_cache();
        let before = c.namespaces.kept.len();
        c.namespaces
            .kept
            .retain(|_, k| k.read_at.elapsed() < max_age);
        let dropped = before - c.namespaces.kept.len();
        if dropped > 0 {
            warnings.push(format!(
                "{dropped} namespaces' bucket settings not refreshed for {BUCKET_SETTINGS_MAX_AGE} intervals; their series end until they are read again"
            ));
        }
    }
}

/// Every bucket of a namespace, page by page.
async fn read_buckets(
    cluster: &Cluster,
    ns: &str,
    deadline: Instant,
) -> Result<Vec<BucketSettings>, ClientError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let ns_q = crate::percent(ns);
        let path = match &marker {
            Some(m) => format!(
                "/object/bucket?namespace={ns_q}&limit=1000&marker={}",
                crate::percent(m)
            ),
            None => format!("/object/bucket?namespace={ns_q}&limit=1000"),
        };
        let v = cluster
            .client
            .json(Call::get("/object/bucket", path).until(deadline))
            .await?;
        out.extend(
            list(&v, "object_bucket")
                .into_iter()
                .filter_map(|bk| BucketSettings::parse(ns, bk)),
        );
        match text(&v["NextMarker"]) {
            Some(m) if Some(m) != marker.as_deref() => marker = Some(m.to_owned()),
            _ => return Ok(out),
        }
    }
}
