//! The dashboard's calls: the nine reads of a cycle (all at once), every page of the
//! unacknowledged alerts, and the bucket settings on their slower cadence.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use super::model::BucketSettings;
use super::{BUCKET_SETTINGS_MAX_AGE, BucketCache, Dashboard};
use crate::client::parse::{list, text};
use crate::client::{Call, ClientError};
use crate::cluster::Cluster;

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

    /// Reads every bucket's settings if the cache is older than `bucket_config_interval`.
    pub(super) async fn refresh_buckets(&self, deadline: Instant, warnings: &mut Vec<String>) {
        if !self.buckets_due(warnings) {
            return;
        }
        // At most half of what is left of the cycle: the dashboard's own figures come
        // first, and a refresh that cannot finish is tried again later, not every cycle.
        let deadline = Instant::now() + deadline.saturating_duration_since(Instant::now()) / 2;
        let mut namespaces = Vec::new();
        let listed = self
            .cluster
            .each_namespace(deadline, |n| {
                namespaces.extend(crate::cluster::namespace_name(n).map(str::to_owned))
            })
            .await;
        if let Err(e) = listed {
            warnings.push(format!("{e}; bucket settings not refreshed"));
            self.retry_buckets_later();
            return;
        }
        let Some(mut buckets) = self.read_all_buckets(&namespaces, deadline, warnings).await else {
            self.retry_buckets_later();
            return;
        };
        buckets.sort_by(|a, b| (&a.namespace, &a.bucket).cmp(&(&b.namespace, &b.bucket)));
        *self.bucket_cache() = BucketCache {
            read_at: Some(Instant::now()),
            retry_at: None,
            namespaces: namespaces.len(),
            buckets,
        };
    }

    /// Whether the bucket settings are due for a refresh; drops a read too old to serve.
    fn buckets_due(&self, warnings: &mut Vec<String>) -> bool {
        let cfg = &self.cluster.cfg.collectors.dashboard;
        if !cfg.bucket_config {
            return false;
        }
        let mut c = self.bucket_cache();
        if c.read_at
            .is_some_and(|t| t.elapsed() >= cfg.bucket_config_interval * BUCKET_SETTINGS_MAX_AGE)
        {
            warnings.push(format!(
                "bucket settings not refreshed for {BUCKET_SETTINGS_MAX_AGE} intervals; their series end until a refresh succeeds"
            ));
            c.read_at = None;
            c.buckets.clear();
        }
        c.read_at
            .is_none_or(|t| t.elapsed() >= cfg.bucket_config_interval)
            && c.retry_at.is_none_or(|t| Instant::now() >= t)
    }

    fn retry_buckets_later(&self) {
        let interval = self.cluster.cfg.collectors.dashboard.bucket_config_interval;
        self.bucket_cache().retry_at =
            Some(Instant::now() + (interval / 4).max(Duration::from_secs(60)));
    }

    /// Every namespace's buckets, all namespaces at once; `None` when any failed (partly
    /// read settings would make series come and go: the last full read is kept).
    async fn read_all_buckets(
        &self,
        namespaces: &[String],
        deadline: Instant,
        warnings: &mut Vec<String>,
    ) -> Option<Vec<BucketSettings>> {
        let mut tasks = tokio::task::JoinSet::new();
        for ns in namespaces {
            let (ns, cluster) = (ns.clone(), self.cluster.clone());
            // Spawned tasks do not inherit the span: hand it over, so the calls stay
            // children of the cycle's trace.
            tasks.spawn(
                async move { (ns.clone(), read_buckets(&cluster, &ns, deadline).await) }
                    .instrument(tracing::Span::current()),
            );
        }
        let mut buckets = Vec::new();
        let mut failed = 0;
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok((_, Ok(mut b))) => buckets.append(&mut b),
                Ok((ns, Err(e))) => {
                    failed += 1;
                    if failed <= 3 {
                        warnings.push(format!("namespace {ns}: {e}"));
                    }
                }
                Err(e) => {
                    failed += 1;
                    warnings.push(format!("bucket settings task failed: {e}"));
                }
            }
        }
        if failed > 0 {
            warnings.push(format!(
                "{failed} namespace(s) failed; bucket settings not refreshed"
            ));
            return None;
        }
        Some(buckets)
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
