//! The dashboard collector: the local VDC's state from the management API — nodes and
//! disks, capacity, garbage collection, recovery, erasure coding, chunks, alerts, storage
//! pools, replication groups and their failed links, the ECS version, and (on a slower
//! cadence) every bucket's lock, retention and versioning settings.
//!
//! A cycle reads (`fetch`), parses the answers into plain data (`model`), then turns
//! that into series (`emit`).

mod emit;
mod fetch;
pub mod model;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::UNIX_EPOCH;

use pipeline::{ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder};
use tokio::time::Instant;

use crate::client::ClientError;
use crate::cluster::Cluster;
use crate::parts::Parts;
use fetch::Answers;
pub use model::BucketSettings;
use model::{
    AlertCounts, Disk, LocalZone, Node, ObjectCapacity, ReplicationGroup, StoragePool, VdcNodes,
};

/// The bucket settings, read a namespace at a time: a round lists the namespaces every
/// `bucket_config_interval` and wants each of them read; a cycle reads what it can of
/// them in its time, and the rest first next cycle.
#[derive(Debug, Default)]
struct BucketCache {
    /// The namespaces last listed, and when the round that listed them began.
    listed: Option<(Vec<String>, Instant)>,
    /// After a failed listing, not before this (the rest of the cycle matters more).
    retry_at: Option<Instant>,
    /// Each namespace's buckets (sorted by name), as last read.
    namespaces: Parts<Vec<BucketSettings>>,
}

/// A namespace's bucket settings are served until it is read again, for at most this
/// many `bucket_config_interval`s (or dashboard intervals, if longer) after its last good
/// read; then they are dropped (its series end) rather than served on.
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One cycle's answers, parsed; `None` for a call that failed (and had no last good
/// answer to serve).
struct Read {
    nodes: Option<VdcNodes>,
    localzone: Option<LocalZone>,
    lz_nodes: Option<Vec<Node>>,
    disks: Option<Vec<Disk>>,
    pools: Option<Vec<StoragePool>>,
    rgs: Option<Vec<ReplicationGroup>>,
    failed_links: Option<Vec<String>>,
    capacity: Option<ObjectCapacity>,
    alerts: Option<AlertCounts>,
}

impl Read {
    fn parse(a: &Answers) -> Self {
        Self {
            nodes: a.nodes.value.as_ref().map(VdcNodes::parse),
            localzone: a.localzone.value.as_ref().map(LocalZone::parse),
            lz_nodes: a.lz_nodes.value.as_ref().map(Node::parse_all),
            disks: a.disks.value.as_ref().map(Disk::parse_all),
            pools: a.pools.value.as_ref().map(StoragePool::parse_all),
            rgs: a.rgs.value.as_ref().map(ReplicationGroup::parse_all),
            failed_links: a.failed_links.value.as_ref().map(model::failed_links),
            capacity: a.capacity.value.as_ref().map(ObjectCapacity::parse),
            alerts: a.alerts.value.as_ref().and_then(model::alert_counts),
        }
    }
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

    fn bucket_cache(&self) -> MutexGuard<'_, BucketCache> {
        lock(&self.buckets)
    }

    /// The namespaces whose bucket settings are due and not read yet; `None` when the
    /// settings are not read at all.
    pub fn backlog(&self) -> Option<pipeline::Backlog> {
        let on = self.cluster.cfg.collectors.dashboard.bucket_config;
        on.then(|| self.bucket_cache().namespaces.backlog())
    }

    pub async fn collect(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let cl = &self.cluster;
        let answers = self.fetch_all(ctx.deadline).await;
        let all = answers.all();
        let mut warnings: Vec<String> = all.iter().filter_map(|g| g.warning.clone()).collect();
        let first_error = all.iter().find_map(|g| g.error.clone());
        let auth_error = all
            .iter()
            .find_map(|g| g.error.clone().filter(|e| e.is_login_refused()));
        let anything = all.iter().any(|g| g.value.is_some());
        if auth_error.is_none() && anything {
            self.refresh_buckets(ctx, &mut warnings).await;
        }
        let read = Read::parse(&answers);
        if let Some(version) = read.nodes.as_ref().and_then(|n| n.version.as_deref()) {
            cl.client.set_version(version);
        }
        if let Some(z) = &read.localzone
            && let (Some(name), Some(id)) = (&z.name, &z.id)
        {
            cl.set_vdc(name, id);
        }
        let mut b = cl.builder(ctx.started);
        self.emit(&mut b, &read, ctx);
        if self.report_client {
            cl.report_client(&mut b);
        }
        let snapshot = Snapshot {
            resource_metrics: vec![b.build()],
            resource_logs: Vec::new(),
            warnings,
        };
        if let Some(e) = auth_error {
            return Err(e.receiver_error(e.to_string()).with_partial(snapshot));
        }
        if !anything {
            let e = first_error.unwrap_or(ClientError::Setup("no call was made".into()));
            return Err(e
                .receiver_error(format!("no dashboard figure could be read: {e}"))
                .with_partial(snapshot));
        }
        Ok(snapshot)
    }

    /// The cycle's series, with what is remembered between cycles (the erasure-coding
    /// scheme, the replication groups) brought up to date.
    fn emit(&self, b: &mut SnapshotBuilder, read: &Read, ctx: &ScrapeContext) {
        let cl = &self.cluster;
        let vdc = text_vdc(cl);
        let c = emit::Context {
            compat: cl.cfg.compatibility_names,
            vdc: vdc.as_deref(),
            counters_start: cl.client.started,
            now: ctx
                .started
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        };
        if let Some(n) = &read.nodes {
            emit::version(b, n, &c);
        }
        if let Some(z) = &read.localzone {
            emit::localzone(b, z, &c);
            let mut known = lock(&self.ec_scheme);
            if let Some(seen) = z.ec_scheme() {
                *known = Some(seen);
            }
            emit::ec_scheme(b, *known);
        }
        if let Some(x) = &read.capacity {
            emit::object_capacity(b, x);
        }
        if let Some(x) = &read.alerts {
            emit::alerts(b, x, &c);
        }
        if let Some(x) = &read.pools {
            emit::storage_pools(b, x);
        }
        if let Some(x) = &read.lz_nodes {
            emit::nodes(b, x);
        }
        if let Some(x) = &read.disks {
            emit::disks(b, x);
        }
        // The groups the failed-link zeros are for: this cycle's, or the last known.
        let rg_names = match &read.rgs {
            Some(groups) => {
                emit::replication_groups(b, groups, &c);
                let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
                *lock(&self.rg_names) = names.clone();
                names
            }
            None => lock(&self.rg_names).clone(),
        };
        if let Some(links) = &read.failed_links {
            emit::failed_links(b, &rg_names, links);
        }
        let cache = self.bucket_cache();
        if let Some((names, _)) = &cache.listed {
            let kept = cache.namespaces.kept.values();
            emit::buckets(b, names.len(), kept.flat_map(|k| k.value.iter()));
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
