//! The dashboard collector: the local VDC's state from the management API — nodes and
//! disks, capacity, garbage collection, recovery, erasure coding, chunks, alerts, storage
//! pools, replication groups and their failed links, the ECS version, and (on a slower
//! cadence) every bucket's lock, retention and versioning settings.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pipeline::otlp::common::v1::KeyValue;
use pipeline::{ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder, kv};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::catalog::{compat, *};
use crate::client::parse::{
    boolish, current, instances, int, latest, list, num, text, uint, unwrap,
};
use crate::client::{Call, ClientError};
use crate::cluster::Cluster;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A bucket's settings, kept between refreshes.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSettings {
    pub namespace: String,
    pub bucket: String,
    pub object_lock: Option<bool>,
    pub lock_mode: Option<String>,
    pub lock_days: Option<f64>,
    pub retention_secs: Option<i64>,
    pub versioning: Option<bool>,
    pub locked: Option<bool>,
}

#[derive(Debug, Default)]
struct BucketCache {
    read_at: Option<Instant>,
    /// After a failed refresh, not before this (the rest of the cycle matters more).
    retry_at: Option<Instant>,
    namespaces: usize,
    buckets: Vec<BucketSettings>,
}

/// A read of the bucket settings older than this many intervals is dropped (its series
/// end) rather than served on.
const BUCKET_SETTINGS_MAX_AGE: u32 = 3;

pub struct Dashboard {
    cluster: Arc<Cluster>,
    /// Also reports the cluster client's figures (the first collector of a cluster does).
    report_client: bool,
    buckets: Mutex<BucketCache>,
    /// The last erasure-coding scheme recognised (the ratio it comes from drifts).
    ec_scheme: Mutex<Option<&'static str>>,
    /// The replication groups last listed.
    rg_names: Mutex<Vec<String>>,
}

/// The outcome of one call of the cycle.
struct Got {
    value: Option<Value>,
    warning: Option<String>,
    error: Option<ClientError>,
}

impl Dashboard {
    pub fn new(cluster: Arc<Cluster>, report_client: bool) -> Self {
        Self {
            cluster,
            report_client,
            buckets: Mutex::new(BucketCache::default()),
            ec_scheme: Mutex::new(None),
            rg_names: Mutex::new(Vec::new()),
        }
    }

    async fn get(&self, route: &str, path: &str, deadline: Instant) -> Got {
        let mut w = Vec::new();
        let key = format!("dashboard {route}");
        match self
            .cluster
            .fetch(&key, route, path, deadline, &mut w)
            .await
        {
            Ok(v) => Got {
                value: Some(v),
                warning: w.pop(),
                error: None,
            },
            Err(e) => Got {
                value: None,
                warning: w.pop(),
                error: Some(e),
            },
        }
    }

    /// Every unacknowledged alert, page by page. The whole list is kept as the last good
    /// answer, never one page: a stale page must not be added to a fresh list.
    async fn alerts(&self, deadline: Instant) -> Got {
        const KEY: &str = "dashboard /vdc/alerts (all pages)";
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        let mut error = None;
        let mut complete = false;
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
                Err(e) => {
                    error = Some(e);
                    break;
                }
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
                complete = true;
                break;
            }
            marker = next;
        }
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

    /// Reads every bucket's settings if the cache is older than `bucket_config_interval`.
    async fn refresh_buckets(&self, deadline: Instant, warnings: &mut Vec<String>) {
        let cfg = &self.cluster.cfg.collectors.dashboard;
        if !cfg.bucket_config {
            return;
        }
        let due = {
            let mut c = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            if c.read_at.is_some_and(|t| {
                t.elapsed() >= cfg.bucket_config_interval * BUCKET_SETTINGS_MAX_AGE
            }) {
                warnings.push(format!(
                    "bucket settings not refreshed for {BUCKET_SETTINGS_MAX_AGE} intervals; their series end until a refresh succeeds"
                ));
                c.read_at = None;
                c.buckets.clear();
            }
            c.read_at
                .is_none_or(|t| t.elapsed() >= cfg.bucket_config_interval)
                && c.retry_at.is_none_or(|t| Instant::now() >= t)
        };
        if !due {
            return;
        }
        // At most half of what is left of the cycle: the dashboard's own figures come
        // first, and a refresh that cannot finish is tried again later, not every cycle.
        let deadline = Instant::now() + deadline.saturating_duration_since(Instant::now()) / 2;
        let retry = |this: &Self| {
            let mut c = this.buckets.lock().unwrap_or_else(|p| p.into_inner());
            c.retry_at = Some(
                Instant::now() + (cfg.bucket_config_interval / 4).max(Duration::from_secs(60)),
            );
        };
        let mut namespaces = Vec::new();
        let listed = self
            .cluster
            .each_namespace(deadline, |n| {
                namespaces.extend(crate::cluster::namespace_name(n).map(str::to_owned))
            })
            .await;
        if let Err(e) = listed {
            warnings.push(format!("{e}; bucket settings not refreshed"));
            retry(self);
            return;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for ns in namespaces.clone() {
            let cluster = self.cluster.clone();
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
            // Partly read settings would make series come and go: keep the last full read.
            warnings.push(format!(
                "{failed} namespace(s) failed; bucket settings not refreshed"
            ));
            retry(self);
            return;
        }
        buckets.sort_by(|a, b| (&a.namespace, &a.bucket).cmp(&(&b.namespace, &b.bucket)));
        let mut c = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        *c = BucketCache {
            read_at: Some(Instant::now()),
            retry_at: None,
            namespaces: namespaces.len(),
            buckets,
        };
    }

    pub async fn collect(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let deadline = ctx.deadline;
        let cl = &self.cluster;
        let (nodes, lz, lz_nodes, disks, pools, rgs, failed_links, capacity, alerts) = tokio::join!(
            self.get("/vdc/nodes", "/vdc/nodes", deadline),
            self.get(
                "/dashboard/zones/localzone",
                "/dashboard/zones/localzone?dataType=current",
                deadline
            ),
            self.get(
                "/dashboard/zones/localzone/nodes",
                "/dashboard/zones/localzone/nodes?dataType=current",
                deadline
            ),
            self.get(
                "/dashboard/zones/localzone/disks",
                "/dashboard/zones/localzone/disks?dataType=current",
                deadline
            ),
            self.get(
                "/dashboard/zones/localzone/storagepools",
                "/dashboard/zones/localzone/storagepools?dataType=current",
                deadline
            ),
            self.get(
                "/dashboard/zones/localzone/replicationgroups",
                "/dashboard/zones/localzone/replicationgroups?dataType=current",
                deadline
            ),
            self.get(
                "/dashboard/zones/localzone/rglinksFailed",
                "/dashboard/zones/localzone/rglinksFailed",
                deadline
            ),
            self.get("/object/capacity", "/object/capacity", deadline),
            self.alerts(deadline),
        );
        let all = [
            &nodes,
            &lz,
            &lz_nodes,
            &disks,
            &pools,
            &rgs,
            &failed_links,
            &capacity,
            &alerts,
        ];
        let mut warnings: Vec<String> = all.iter().filter_map(|g| g.warning.clone()).collect();
        let first_error = all.iter().find_map(|g| g.error.clone());
        let auth_error = all.iter().find_map(|g| {
            g.error
                .clone()
                .filter(|e| matches!(e.kind(), "auth" | "token_limit"))
        });
        let anything = all.iter().any(|g| g.value.is_some());
        if auth_error.is_none() && anything {
            self.refresh_buckets(deadline, &mut warnings).await;
        }

        if let Some(v) = &nodes.value {
            let version = list(v, "node")
                .iter()
                .find_map(|n| text(&n["version"]))
                .map(str::to_owned);
            if let Some(version) = version {
                cl.client.set_version(&version);
            }
        }
        if let Some(z) = &lz.value
            && let (Some(name), Some(id)) = (text(&z["name"]), text(&z["id"]))
        {
            cl.set_vdc(name, id);
        }

        let mut b = cl.builder(ctx.started);
        let compat_on = cl.cfg.compatibility_names;
        let vdc_label =
            || -> Vec<KeyValue> { text_vdc(cl).map(|v| vec![kv("vdc", v)]).unwrap_or_default() };
        if let Some(v) = &nodes.value {
            let items = list(v, "node");
            if let Some(version) = items.iter().find_map(|n| text(&n["version"])) {
                b.gauge(
                    &VERSION_INFO,
                    1,
                    [kv("version", version), kv("nodes", items.len() as i64)],
                );
                if compat_on {
                    b.gauge(
                        &compat::VERSION,
                        1,
                        [
                            kv("version", version),
                            kv("nodecount", items.len().to_string()),
                        ],
                    );
                }
            }
        }
        if let Some(z) = &lz.value {
            let seen = localzone(&mut b, z, compat_on, &vdc_label(), cl.client.started);
            let mut known = self.ec_scheme.lock().unwrap_or_else(|p| p.into_inner());
            if seen.is_some() {
                *known = seen;
            }
            if let Some(scheme) = *known {
                b.gauge(&EC_INFO, 1, [kv("scheme", scheme)]);
            }
        }
        if let Some(v) = &capacity.value {
            let c = unwrap(v, "cluster_capacity");
            if let Some(p) = num(&c["totalProvisioned_gb"]) {
                b.gauge(&OBJECT_PROVISIONED, p * GIB, []);
            }
            if let Some(f) = num(&c["totalFree_gb"]) {
                b.gauge(&OBJECT_AVAILABLE, f * GIB, []);
            }
        }
        if let Some(Value::Array(items)) = &alerts.value {
            let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
            for a in items {
                if boolish(&a["acknowledged"]) == Some(true) {
                    continue;
                }
                let sev = text(&a["severity"])
                    .unwrap_or("unknown")
                    .to_ascii_lowercase();
                let ty = text(&a["type"]).unwrap_or("unknown").to_owned();
                *counts.entry((sev, ty)).or_insert(0) += 1;
            }
            for ((sev, ty), n) in &counts {
                b.gauge(
                    &ALERTS,
                    *n,
                    [kv("severity", sev.as_str()), kv("type", ty.as_str())],
                );
            }
            if compat_on {
                for (sev, desc) in [
                    ("critical", compat::ALERTS_CRITICAL),
                    ("error", compat::ALERTS_ERROR),
                    ("info", compat::ALERTS_INFO),
                    ("warning", compat::ALERTS_WARNING),
                ] {
                    let n: u64 = counts
                        .iter()
                        .filter(|((s, _), _)| s == sev)
                        .map(|(_, n)| n)
                        .sum();
                    b.gauge(&desc, n, vdc_label());
                }
            }
        }
        if let Some(v) = &pools.value {
            for p in instances(v) {
                let attrs = |state: &str| {
                    [
                        kv("storage_pool", text(&p["name"]).unwrap_or("")),
                        kv("storage_pool_id", text(&p["id"]).unwrap_or("")),
                        kv("state", state),
                    ]
                };
                for (state, key) in [
                    ("total", "diskSpaceTotal"),
                    ("free", "diskSpaceFree"),
                    ("allocated", "diskSpaceAllocated"),
                ] {
                    if let Some(x) = current(p, key) {
                        b.gauge(&POOL_CAPACITY, x, attrs(state));
                    }
                }
                for (state, key) in [
                    ("good", "numGoodNodes"),
                    ("bad", "numBadNodes"),
                    ("suspect", "numSuspectNodes"),
                ] {
                    if let Some(x) = uint(&p[key]) {
                        b.gauge(&POOL_NODES, x, attrs(state));
                    }
                }
            }
        }
        if let Some(v) = &lz_nodes.value {
            for n in instances(v) {
                let (name, id) = (
                    text(&n["displayName"]).unwrap_or(""),
                    text(&n["id"]).unwrap_or(""),
                );
                let attrs = || [kv("node", name), kv("node_id", id)];
                if let Some(h) = text(&n["healthStatus"]) {
                    b.gauge(
                        &NODE_HEALTHY,
                        i64::from(h.eq_ignore_ascii_case("good")),
                        attrs(),
                    );
                }
                let with = |state: &str| [kv("node", name), kv("node_id", id), kv("state", state)];
                for (state, key) in [
                    ("good", "numGoodDisks"),
                    ("bad", "numBadDisks"),
                    ("maintenance", "numMaintenanceDisks"),
                ] {
                    if let Some(x) = uint(&n[key]) {
                        b.gauge(&NODE_DISKS, x, with(state));
                    }
                }
                for (state, key) in [
                    ("total", "diskSpaceTotal"),
                    ("free", "diskSpaceFree"),
                    ("allocated", "diskSpaceAllocated"),
                ] {
                    if let Some(x) = current(n, key) {
                        b.gauge(&NODE_CAPACITY, x, with(state));
                    }
                }
            }
        }
        if let Some(v) = &disks.value {
            for d in instances(v) {
                let base = [
                    kv("node", text(&d["nodeDisplayName"]).unwrap_or("")),
                    kv(
                        "disk",
                        text(&d["displayName"]).or(text(&d["id"])).unwrap_or(""),
                    ),
                    kv(
                        "slot",
                        text(&d["slotId"])
                            .map(str::to_owned)
                            .or_else(|| uint(&d["slotId"]).map(|s| s.to_string()))
                            .unwrap_or_default(),
                    ),
                ];
                if let Some(h) = text(&d["healthStatus"]) {
                    let mut a = base.to_vec();
                    a.push(kv(
                        "storage_pool",
                        text(&d["storagePoolName"]).unwrap_or(""),
                    ));
                    b.gauge(&DISK_HEALTHY, i64::from(h.eq_ignore_ascii_case("good")), a);
                }
                for (state, key) in [
                    ("total", "diskSpaceTotal"),
                    ("allocated", "diskSpaceAllocated"),
                ] {
                    if let Some(x) = current(d, key) {
                        let mut a = base.to_vec();
                        a.push(kv("state", state));
                        b.gauge(&DISK_CAPACITY, x, a);
                    }
                }
            }
        }
        // The groups the failed-link zeros are for: this cycle's, or the last known.
        let mut rg_names = Vec::new();
        if rgs.value.is_none() {
            rg_names = self
                .rg_names
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
        }
        if let Some(v) = &rgs.value {
            // The lag as of the cycle's time, which every point of the cycle carries.
            let now = ctx
                .started
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            for g in instances(v) {
                let (name, id) = (text(&g["name"]).unwrap_or(""), text(&g["id"]).unwrap_or(""));
                rg_names.push(name.to_owned());
                let attrs = || {
                    [
                        kv("replication_group", name),
                        kv("replication_group_id", id),
                    ]
                };
                let ingress = current(g, "replicationIngressTraffic");
                let egress = current(g, "replicationEgressTraffic");
                if let Some(x) = ingress {
                    b.gauge(&REPL_INGRESS, x, attrs());
                }
                if let Some(x) = egress {
                    b.gauge(&REPL_EGRESS, x, attrs());
                }
                let pend = [
                    ("repo", "chunksRepoPendingReplicationTotalSize"),
                    ("journal", "chunksJournalPendingReplicationTotalSize"),
                    ("xor", "chunksPendingXorTotalSize"),
                ];
                for (ty, key) in pend {
                    if let Some(x) = num(&g[key]) {
                        b.gauge(
                            &REPL_PENDING,
                            x,
                            [
                                kv("replication_group", name),
                                kv("replication_group_id", id),
                                kv("type", ty),
                            ],
                        );
                    }
                }
                let rpo = int(&g["replicationRpoTimestamp"]).filter(|t| *t > 0);
                if let Some(t) = rpo {
                    b.gauge(&REPL_LAG, (now - t as f64).max(0.0), attrs());
                }
                if compat_on {
                    let node = || [kv("node", name)];
                    for (desc, value) in [
                        (compat::REPL_INGRESS, ingress),
                        (compat::REPL_EGRESS, egress),
                        (
                            compat::REPL_DATA_PENDING,
                            num(&g["chunksRepoPendingReplicationTotalSize"]),
                        ),
                        (
                            compat::REPL_JOURNAL_PENDING,
                            num(&g["chunksJournalPendingReplicationTotalSize"]),
                        ),
                        (
                            compat::REPL_XOR_PENDING,
                            num(&g["chunksPendingXorTotalSize"]),
                        ),
                        (compat::REPL_LAST, rpo.map(|t| t as f64)),
                    ] {
                        if let Some(x) = value {
                            b.gauge(&desc, x, node());
                        }
                    }
                }
            }
        }
        if rgs.value.is_some() {
            *self.rg_names.lock().unwrap_or_else(|p| p.into_inner()) = rg_names.clone();
        }
        if let Some(v) = &failed_links.value {
            let mut per_rg: BTreeMap<String, u64> =
                rg_names.iter().map(|n| (n.clone(), 0)).collect();
            for l in instances(v) {
                *per_rg
                    .entry(text(&l["rgName"]).unwrap_or("unknown").to_owned())
                    .or_insert(0) += 1;
            }
            for (rg, n) in per_rg {
                b.gauge(&REPL_LINKS_FAILED, n, [kv("replication_group", rg)]);
            }
        }
        self.emit_buckets(&mut b);
        if self.report_client {
            cl.report_client(&mut b);
        }
        let snapshot = Snapshot {
            resource_metrics: vec![b.build()],
            warnings,
        };
        if let Some(e) = auth_error {
            return Err(ReceiverError::new(e.kind(), e.to_string()).with_partial(snapshot));
        }
        if !anything {
            let e = first_error.unwrap_or(ClientError::Setup("no call was made".into()));
            return Err(ReceiverError::new(
                e.kind(),
                format!("no dashboard figure could be read: {e}"),
            )
            .with_partial(snapshot));
        }
        Ok(snapshot)
    }

    fn emit_buckets(&self, b: &mut SnapshotBuilder) {
        let c = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if c.read_at.is_none() {
            return;
        }
        b.gauge(&NAMESPACES, c.namespaces, []);
        let mut per_ns: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &c.buckets {
            *per_ns.entry(&s.namespace).or_insert(0) += 1;
            let attrs = || {
                [
                    kv("namespace", s.namespace.as_str()),
                    kv("bucket", s.bucket.as_str()),
                ]
            };
            if let Some(x) = s.object_lock {
                b.gauge(&BUCKET_LOCK, i64::from(x), attrs());
            }
            if let (Some(mode), Some(days)) = (&s.lock_mode, s.lock_days) {
                b.gauge(
                    &BUCKET_LOCK_RETENTION,
                    days * 86_400.0,
                    [
                        kv("namespace", s.namespace.as_str()),
                        kv("bucket", s.bucket.as_str()),
                        kv("mode", mode.as_str()),
                    ],
                );
            }
            if let Some(x) = s.retention_secs.filter(|r| *r >= 0) {
                b.gauge(&BUCKET_RETENTION, x, attrs());
            }
            if let Some(x) = s.versioning {
                b.gauge(&BUCKET_VERSIONING, i64::from(x), attrs());
            }
            if let Some(x) = s.locked {
                b.gauge(&BUCKET_LOCKED, i64::from(x), attrs());
            }
        }
        for (ns, n) in per_ns {
            b.gauge(&BUCKETS, n, [kv("namespace", ns)]);
        }
    }
}

fn text_vdc(cl: &Cluster) -> Option<String> {
    cl.resource()
        .attributes
        .iter()
        .find(|k| k.key == "ecs.vdc.name")
        .and_then(|k| k.value.as_ref())
        .and_then(|v| match &v.value {
            Some(pipeline::otlp::common::v1::any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
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
        for bk in list(&v, "object_bucket") {
            let Some(name) = text(&bk["name"]) else {
                continue;
            };
            let mode = text(&bk["default_object_lock_retention_mode"]).map(str::to_owned);
            let days = num(&bk["default_object_lock_retention_days"])
                .filter(|d| *d > 0.0)
                .or_else(|| {
                    num(&bk["default_object_lock_retention_years"])
                        .filter(|y| *y > 0.0)
                        .map(|y| y * 365.0)
                });
            out.push(BucketSettings {
                namespace: ns.to_owned(),
                bucket: name.to_owned(),
                object_lock: boolish(&bk["is_object_lock_enabled"]),
                lock_mode: mode,
                lock_days: days,
                retention_secs: int(&bk["default_retention"]).or_else(|| int(&bk["retention"])),
                versioning: bk
                    .get("versioning_status")
                    .map(|v| text(v).is_some_and(|s| s.eq_ignore_ascii_case("enabled"))),
                locked: boolish(&bk["locked"]),
            });
        }
        match text(&v["NextMarker"]) {
            Some(m) if Some(m) != marker.as_deref() => marker = Some(m.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// Figures of `/dashboard/zones/localzone`.
/// Figures of `/dashboard/zones/localzone`; the erasure-coding scheme it shows, if any.
fn localzone(
    b: &mut SnapshotBuilder,
    z: &Value,
    compat_on: bool,
    vdc: &[KeyValue],
    counters_start: SystemTime,
) -> Option<&'static str> {
    let mut scheme = None;
    for (state, key) in [
        ("good", "numGoodNodes"),
        ("bad", "numBadNodes"),
        ("maintenance", "numMaintenanceNodes"),
    ] {
        if let Some(x) = uint(&z[key]) {
            b.gauge(&NODES, x, [kv("state", state)]);
        }
    }
    for (state, key) in [
        ("good", "numGoodDisks"),
        ("bad", "numBadDisks"),
        ("maintenance", "numMaintenanceDisks"),
        ("ready_to_replace", "numReadyToReplaceDisks"),
    ] {
        if let Some(x) = uint(&z[key]) {
            b.gauge(&DISKS, x, [kv("state", state)]);
        }
    }
    let total = current(z, "diskSpaceTotal");
    let free = current(z, "diskSpaceFree");
    let allocated = current(z, "diskSpaceAllocated");
    for (desc, v) in [
        (&CAPACITY_TOTAL, total),
        (&CAPACITY_FREE, free),
        (&CAPACITY_ALLOCATED, allocated),
        (&CAPACITY_RESERVED, current(z, "diskSpaceReserved")),
        (&CAPACITY_OFFLINE, current(z, "diskSpaceOfflineTotal")),
    ] {
        if let Some(x) = v {
            b.gauge(desc, x, []);
        }
    }
    let user = current(z, "diskSpaceAllocatedUserData");
    let protection = current(z, "diskSpaceAllocatedLocalProtection");
    for (ty, v) in [
        ("user_data", user),
        ("local_protection", protection),
        (
            "system_metadata",
            current(z, "diskSpaceAllocatedSystemMetadata"),
        ),
        ("geo_copy", current(z, "diskSpaceAllocatedGeoCopy")),
        ("geo_cache", current(z, "diskSpaceAllocatedGeoCache")),
    ] {
        if let Some(x) = v {
            b.gauge(&CAPACITY_USED, x, [kv("type", ty)]);
        }
    }
    if let Some(p) = current(z, "diskSpaceAllocatedPercentage") {
        b.gauge(&CAPACITY_ALLOCATED_RATIO, p / 100.0, []);
    }
    if let (Some(u), Some(a)) = (user, allocated)
        && a > 0.0
    {
        b.gauge(&EFFICIENCY, u / a, []);
    }
    if let (Some(u), Some(p)) = (user, protection)
        && u > 0.0
    {
        let overhead = (u + p) / u;
        b.gauge(&PROTECTION_OVERHEAD, overhead, []);
        // ECS's two schemes: 12+4 (16/12 ≈ 1.33) and cold storage 10+2 (12/10 = 1.2).
        // While erasure coding lags, protection is still mirrored and the ratio sits
        // elsewhere: the caller keeps the last scheme recognised rather than flapping.
        if (overhead - 16.0 / 12.0).abs() < 0.02 {
            scheme = Some("12+4");
        } else if (overhead - 1.2).abs() < 0.02 {
            scheme = Some("10+2");
        }
    }
    if let Some(x) = current(z, "chunksEcCodedRatio") {
        b.gauge(&EC_CODED, x / 100.0, []);
    }
    if let Some(x) = current(z, "chunksEcRate") {
        b.gauge(&EC_RATE, x, []);
    }
    for (ty, key) in [("user", "gcUserPending"), ("system", "gcSystemPending")] {
        if let Some(x) = current(z, key) {
            b.gauge(&GC_PENDING, x, [kv("type", ty)]);
        }
    }
    for (ty, key) in [("user", "gcUserReclaimed"), ("system", "gcSystemReclaimed")] {
        if let Some(x) = current(z, key) {
            b.gauge(&GC_RECLAIMED, x, [kv("type", ty)]);
        }
    }
    if let Some(x) = current(z, "gcUserUnreclaimable") {
        b.gauge(&GC_UNRECLAIMABLE, x, []);
    }
    if let Some(x) = current(z, "recoveryRate") {
        b.gauge(&RECOVERY_RATE, x, []);
    }
    if let Some(x) = current(z, "recoveryBadChunksTotalSize") {
        b.gauge(&RECOVERY_PENDING, x, []);
    }
    if let Some(x) = num(&z["recoveryCompleteTimeEstimate"]) {
        b.gauge(&RECOVERY_REMAINING, x, []);
    }
    for (ty, n, size) in [
        ("repo", "chunksRepoNumber", "chunksRepoTotalSealSize"),
        ("xor", "chunksXorNumber", "chunksXorTotalSize"),
        ("geo_copy", "chunksGeoCopyNumber", "chunksGeoCopyTotalSize"),
    ] {
        if let Some(x) = uint(&z[n]) {
            b.gauge(&CHUNKS, x, [kv("type", ty)]);
        }
        if let Some(x) = num(&z[size]) {
            b.gauge(&CHUNKS_SIZE, x, [kv("type", ty)]);
        }
    }
    transactions(b, z, compat_on, vdc, counters_start);
    if compat_on {
        for (desc, key) in [
            (compat::GOOD_NODES, "numGoodNodes"),
            (compat::BAD_NODES, "numBadNodes"),
            (compat::GOOD_DISKS, "numGoodDisks"),
            (compat::BAD_DISKS, "numBadDisks"),
        ] {
            if let Some(x) = uint(&z[key]) {
                b.gauge(&desc, x, vdc.to_vec());
            }
        }
        if let Some(x) = free {
            b.gauge(&compat::SPACE_FREE, x, vdc.to_vec());
        }
        if let Some(x) = total {
            b.gauge(&compat::SPACE_TOTAL, x, vdc.to_vec());
        }
    }
    scheme
}

/// ECS 3.5's transaction figures (absent from 3.6 on).
/// ECS does not say since when it counts: the counters start when the agent first saw
/// the cluster.
fn transactions(
    b: &mut SnapshotBuilder,
    z: &Value,
    compat_on: bool,
    vdc: &[KeyValue],
    start: SystemTime,
) {
    let op = |o: &str| [kv("operation", o)];
    let read_lat = latest(&z["transactionReadLatencyCurrent"]);
    let write_lat = latest(&z["transactionWriteLatencyCurrent"]);
    for (o, v) in [("read", read_lat), ("write", write_lat)] {
        if let Some(ms) = v {
            b.gauge(&TX_LATENCY, ms / 1000.0, op(o));
        }
    }
    let read_tps = latest(&z["transactionReadTransactionsPerSecCurrent"]);
    let write_tps = latest(&z["transactionWriteTransactionsPerSecCurrent"]);
    for (o, v) in [("read", read_tps), ("write", write_tps)] {
        if let Some(x) = v {
            b.gauge(&TX_RATE, x, op(o));
        }
    }
    let read_bw = latest(&z["transactionReadBandwidthCurrent"]);
    let write_bw = latest(&z["transactionWriteBandwidthCurrent"]);
    for (o, v) in [("read", read_bw), ("write", write_bw)] {
        if let Some(x) = v {
            b.gauge(&TX_BANDWIDTH, x, op(o));
        }
    }
    let totals = &z["transactionErrors"]["errorSuccessTotals"];
    let first = totals.get(0).unwrap_or(totals);
    let success = uint(&first["successTotal"]);
    let error = uint(&first["errorTotal"]);
    if let Some(x) = success {
        b.counter(&TX_TOTAL, x, start, [kv("result", "success")]);
    }
    if let Some(x) = error {
        b.counter(&TX_TOTAL, x, start, [kv("result", "error")]);
    }
    // Summed by (code, protocol, category): ECS may list a type twice, and two points
    // with the same attributes in one snapshot would be a conflict.
    let mut errors: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for t in list(&z["transactionErrors"], "types") {
        let (code, proto) = split_error_type(text(&t["errorType"]).unwrap_or(""));
        let category = text(&t["category"]).unwrap_or("").to_ascii_lowercase();
        if let Some(n) = uint(&t["errorCount"]) {
            let e = errors.entry((code, proto, category)).or_insert(0);
            *e = e.saturating_add(n);
        }
    }
    for ((code, proto, category), n) in &errors {
        b.counter(
            &TX_ERRORS,
            *n,
            start,
            [
                kv("code", code.as_str()),
                kv("protocol", proto.as_str()),
                kv("category", category.as_str()),
            ],
        );
    }
    if compat_on {
        for (desc, v) in [
            (compat::TX_SUCCESS, success.map(|x| x as f64)),
            (compat::TX_ERROR, error.map(|x| x as f64)),
            (compat::TX_READ_LATENCY, read_lat),
            (compat::TX_WRITE_LATENCY, write_lat),
            (compat::TX_READ_TPS, read_tps),
            (compat::TX_WRITE_TPS, write_tps),
            (compat::TX_READ_BW, read_bw),
            (compat::TX_WRITE_BW, write_bw),
        ] {
            if let Some(x) = v {
                b.gauge(&desc, x, vdc.to_vec());
            }
        }
        for ((code, proto, category), n) in &errors {
            let mut a = vdc.to_vec();
            a.extend([
                kv("errorcode", code.as_str()),
                kv("errorproto", proto.as_str()),
                kv("category", category.as_str()),
            ]);
            b.gauge(&compat::TX_ERROR_DETAIL, *n, a);
        }
    }
}

/// `"403 (S3)"` → ("403", "S3").
fn split_error_type(s: &str) -> (String, String) {
    match s.split_once('(') {
        Some((code, rest)) => (
            code.trim().to_owned(),
            rest.trim_end_matches(')').trim().to_owned(),
        ),
        None => (s.trim().to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types() {
        assert_eq!(split_error_type("403 (S3)"), ("403".into(), "S3".into()));
        assert_eq!(split_error_type("500"), ("500".into(), String::new()));
    }
}
