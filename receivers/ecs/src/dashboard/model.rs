//! The dashboard's answers as plain data, parsed from ECS's JSON: what the emit step
//! turns into series. Figures ECS left out are `None` (their series are left out too).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::parse::{
    boolish, current, instances, int, latest, list, num, text, uint, unwrap,
};

/// Labelled figures in the order their series are emitted.
pub type ByLabel<T, const N: usize> = [(&'static str, Option<T>); N];

fn uints<const N: usize>(v: &Value, keys: [(&'static str, &str); N]) -> ByLabel<u64, N> {
    keys.map(|(label, key)| (label, uint(&v[key])))
}

fn currents<const N: usize>(v: &Value, keys: [(&'static str, &str); N]) -> ByLabel<f64, N> {
    keys.map(|(label, key)| (label, current(v, key)))
}

fn nums<const N: usize>(v: &Value, keys: [(&'static str, &str); N]) -> ByLabel<f64, N> {
    keys.map(|(label, key)| (label, num(&v[key])))
}

/// `/vdc/nodes`: the version the nodes run and how many there are.
#[derive(Debug, Clone, PartialEq)]
pub struct VdcNodes {
    pub version: Option<String>,
    pub count: usize,
}

impl VdcNodes {
    pub fn parse(v: &Value) -> Self {
        let items = list(v, "node");
        Self {
            version: items
                .iter()
                .find_map(|n| text(&n["version"]))
                .map(str::to_owned),
            count: items.len(),
        }
    }
}

/// A read and a write figure.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadWrite {
    pub read: Option<f64>,
    pub write: Option<f64>,
}

impl ReadWrite {
    fn latest(z: &Value, read: &str, write: &str) -> Self {
        Self {
            read: latest(&z[read]),
            write: latest(&z[write]),
        }
    }

    pub fn by_operation(&self) -> [(&'static str, Option<f64>); 2] {
        [("read", self.read), ("write", self.write)]
    }
}

/// Failed transactions by (code, protocol, category).
pub type ErrorCounts = BTreeMap<(String, String, String), u64>;

/// ECS 3.5's transaction figures (absent from 3.6 on).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transactions {
    /// Milliseconds.
    pub latency: ReadWrite,
    pub rate: ReadWrite,
    pub bandwidth: ReadWrite,
    pub success: Option<u64>,
    pub error: Option<u64>,
    /// Summed by (code, protocol, category): ECS may list a type twice, and two points
    /// with the same attributes in one snapshot would be a conflict.
    pub errors: ErrorCounts,
}

impl Transactions {
    fn parse(z: &Value) -> Self {
        let totals = &z["transactionErrors"]["errorSuccessTotals"];
        let first = totals.get(0).unwrap_or(totals);
        let mut errors = ErrorCounts::new();
        for t in list(&z["transactionErrors"], "types") {
            let (code, proto) = split_error_type(text(&t["errorType"]).unwrap_or(""));
            let category = text(&t["category"]).unwrap_or("").to_ascii_lowercase();
            if let Some(n) = uint(&t["errorCount"]) {
                let e = errors.entry((code, proto, category)).or_insert(0);
                *e = e.saturating_add(n);
            }
        }
        Self {
            latency: ReadWrite::latest(
                z,
                "transactionReadLatencyCurrent",
                "transactionWriteLatencyCurrent",
            ),
            rate: ReadWrite::latest(
                z,
                "transactionReadTransactionsPerSecCurrent",
                "transactionWriteTransactionsPerSecCurrent",
            ),
            bandwidth: ReadWrite::latest(
                z,
                "transactionReadBandwidthCurrent",
                "transactionWriteBandwidthCurrent",
            ),
            success: uint(&first["successTotal"]),
            error: uint(&first["errorTotal"]),
            errors,
        }
    }
}

/// `"403 (S3)"` → ("403", "S3").
pub fn split_error_type(s: &str) -> (String, String) {
    match s.split_once('(') {
        Some((code, rest)) => (
            code.trim().to_owned(),
            rest.trim_end_matches(')').trim().to_owned(),
        ),
        None => (s.trim().to_owned(), String::new()),
    }
}

/// `/dashboard/zones/localzone`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalZone {
    pub name: Option<String>,
    pub id: Option<String>,
    /// good, bad, maintenance.
    pub nodes: ByLabel<u64, 3>,
    /// good, bad, maintenance, ready_to_replace.
    pub disks: ByLabel<u64, 4>,
    pub total: Option<f64>,
    pub free: Option<f64>,
    pub allocated: Option<f64>,
    pub reserved: Option<f64>,
    pub offline: Option<f64>,
    /// Allocated capacity by what it holds: user_data, local_protection,
    /// system_metadata, geo_copy, geo_cache.
    pub used: ByLabel<f64, 5>,
    pub allocated_percent: Option<f64>,
    pub ec_coded_percent: Option<f64>,
    pub ec_rate: Option<f64>,
    /// user, system.
    pub gc_pending: ByLabel<f64, 2>,
    /// user, system.
    pub gc_reclaimed: ByLabel<f64, 2>,
    pub gc_unreclaimable: Option<f64>,
    pub recovery_rate: Option<f64>,
    pub recovery_pending: Option<f64>,
    pub recovery_remaining: Option<f64>,
    /// (type, count, size) of repo, xor and geo_copy chunks.
    pub chunks: [(&'static str, Option<u64>, Option<f64>); 3],
    pub transactions: Transactions,
}

impl LocalZone {
    pub fn parse(z: &Value) -> Self {
        let chunks = [
            ("repo", "chunksRepoNumber", "chunksRepoTotalSealSize"),
            ("xor", "chunksXorNumber", "chunksXorTotalSize"),
            ("geo_copy", "chunksGeoCopyNumber", "chunksGeoCopyTotalSize"),
        ]
        .map(|(ty, n, size)| (ty, uint(&z[n]), num(&z[size])));
        Self {
            name: text(&z["name"]).map(str::to_owned),
            id: text(&z["id"]).map(str::to_owned),
            nodes: uints(
                z,
                [
                    ("good", "numGoodNodes"),
                    ("bad", "numBadNodes"),
                    ("maintenance", "numMaintenanceNodes"),
                ],
            ),
            disks: uints(
                z,
                [
                    ("good", "numGoodDisks"),
                    ("bad", "numBadDisks"),
                    ("maintenance", "numMaintenanceDisks"),
                    ("ready_to_replace", "numReadyToReplaceDisks"),
                ],
            ),
            total: current(z, "diskSpaceTotal"),
            free: current(z, "diskSpaceFree"),
            allocated: current(z, "diskSpaceAllocated"),
            reserved: current(z, "diskSpaceReserved"),
            offline: current(z, "diskSpaceOfflineTotal"),
            used: currents(
                z,
                [
                    ("user_data", "diskSpaceAllocatedUserData"),
                    ("local_protection", "diskSpaceAllocatedLocalProtection"),
                    ("system_metadata", "diskSpaceAllocatedSystemMetadata"),
                    ("geo_copy", "diskSpaceAllocatedGeoCopy"),
                    ("geo_cache", "diskSpaceAllocatedGeoCache"),
                ],
            ),
            allocated_percent: current(z, "diskSpaceAllocatedPercentage"),
            ec_coded_percent: current(z, "chunksEcCodedRatio"),
            ec_rate: current(z, "chunksEcRate"),
            gc_pending: currents(
                z,
                [("user", "gcUserPending"), ("system", "gcSystemPending")],
            ),
            gc_reclaimed: currents(
                z,
                [("user", "gcUserReclaimed"), ("system", "gcSystemReclaimed")],
            ),
            gc_unreclaimable: current(z, "gcUserUnreclaimable"),
            recovery_rate: current(z, "recoveryRate"),
            recovery_pending: current(z, "recoveryBadChunksTotalSize"),
            recovery_remaining: num(&z["recoveryCompleteTimeEstimate"]),
            chunks,
            transactions: Transactions::parse(z),
        }
    }

    pub fn user_data(&self) -> Option<f64> {
        self.used[0].1
    }

    pub fn local_protection(&self) -> Option<f64> {
        self.used[1].1
    }

    /// User data plus local protection, divided by user data.
    pub fn protection_overhead(&self) -> Option<f64> {
        match (self.user_data(), self.local_protection()) {
            (Some(u), Some(p)) if u > 0.0 => Some((u + p) / u),
            _ => None,
        }
    }

    /// The erasure-coding scheme the protection overhead shows, if any. ECS's two
    /// schemes: 12+4 (16/12 ≈ 1.33) and cold storage 10+2 (12/10 = 1.2). While erasure
    /// coding lags, protection is still mirrored and the ratio sits elsewhere: the
    /// caller keeps the last scheme recognised rather than flapping.
    pub fn ec_scheme(&self) -> Option<&'static str> {
        let overhead = self.protection_overhead()?;
        if (overhead - 16.0 / 12.0).abs() < 0.02 {
            Some("12+4")
        } else if (overhead - 1.2).abs() < 0.02 {
            Some("10+2")
        } else {
            None
        }
    }
}

/// `/object/capacity`, in GB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectCapacity {
    pub provisioned_gb: Option<f64>,
    pub free_gb: Option<f64>,
}

impl ObjectCapacity {
    pub fn parse(v: &Value) -> Self {
        let c = unwrap(v, "cluster_capacity");
        Self {
            provisioned_gb: num(&c["totalProvisioned_gb"]),
            free_gb: num(&c["totalFree_gb"]),
        }
    }
}

/// Unacknowledged alerts by (severity in lower case, type).
pub type AlertCounts = BTreeMap<(String, String), u64>;

/// Counts the unacknowledged alerts of every page read (a JSON array).
pub fn alert_counts(all: &Value) -> Option<AlertCounts> {
    let Value::Array(items) = all else {
        return None;
    };
    let mut counts = AlertCounts::new();
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
    Some(counts)
}

fn name_of(v: &Value, key: &str) -> String {
    text(&v[key]).unwrap_or("").to_owned()
}

/// A storage pool of `/dashboard/zones/localzone/storagepools`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoragePool {
    pub name: String,
    pub id: String,
    /// total, free, allocated.
    pub capacity: ByLabel<f64, 3>,
    /// good, bad, suspect.
    pub nodes: ByLabel<u64, 3>,
}

impl StoragePool {
    pub fn parse_all(v: &Value) -> Vec<Self> {
        instances(v)
            .into_iter()
            .map(|p| Self {
                name: name_of(p, "name"),
                id: name_of(p, "id"),
                capacity: currents(
                    p,
                    [
                        ("total", "diskSpaceTotal"),
                        ("free", "diskSpaceFree"),
                        ("allocated", "diskSpaceAllocated"),
                    ],
                ),
                nodes: uints(
                    p,
                    [
                        ("good", "numGoodNodes"),
                        ("bad", "numBadNodes"),
                        ("suspect", "numSuspectNodes"),
                    ],
                ),
            })
            .collect()
    }
}

/// A node of `/dashboard/zones/localzone/nodes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub id: String,
    /// The health status is Good (`None` when not reported).
    pub healthy: Option<bool>,
    /// good, bad, maintenance.
    pub disks: ByLabel<u64, 3>,
    /// total, free, allocated.
    pub capacity: ByLabel<f64, 3>,
}

impl Node {
    pub fn parse_all(v: &Value) -> Vec<Self> {
        instances(v)
            .into_iter()
            .map(|n| Self {
                name: name_of(n, "displayName"),
                id: name_of(n, "id"),
                healthy: text(&n["healthStatus"]).map(|h| h.eq_ignore_ascii_case("good")),
                disks: uints(
                    n,
                    [
                        ("good", "numGoodDisks"),
                        ("bad", "numBadDisks"),
                        ("maintenance", "numMaintenanceDisks"),
                    ],
                ),
                capacity: currents(
                    n,
                    [
                        ("total", "diskSpaceTotal"),
                        ("free", "diskSpaceFree"),
                        ("allocated", "diskSpaceAllocated"),
                    ],
                ),
            })
            .collect()
    }
}

/// A disk of `/dashboard/zones/localzone/disks`.
#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    pub node: String,
    pub disk: String,
    pub slot: String,
    pub storage_pool: String,
    pub healthy: Option<bool>,
    /// total, allocated.
    pub capacity: ByLabel<f64, 2>,
}

impl Disk {
    pub fn parse_all(v: &Value) -> Vec<Self> {
        instances(v)
            .into_iter()
            .map(|d| Self {
                node: name_of(d, "nodeDisplayName"),
                disk: text(&d["displayName"])
                    .or(text(&d["id"]))
                    .unwrap_or("")
                    .to_owned(),
                slot: text(&d["slotId"])
                    .map(str::to_owned)
                    .or_else(|| uint(&d["slotId"]).map(|s| s.to_string()))
                    .unwrap_or_default(),
                storage_pool: name_of(d, "storagePoolName"),
                healthy: text(&d["healthStatus"]).map(|h| h.eq_ignore_ascii_case("good")),
                capacity: currents(
                    d,
                    [
                        ("total", "diskSpaceTotal"),
                        ("allocated", "diskSpaceAllocated"),
                    ],
                ),
            })
            .collect()
    }
}

/// A replication group of `/dashboard/zones/localzone/replicationgroups`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationGroup {
    pub name: String,
    pub id: String,
    pub ingress: Option<f64>,
    pub egress: Option<f64>,
    /// Bytes pending: repo, journal, xor.
    pub pending: ByLabel<f64, 3>,
    /// replicationRpoTimestamp, when set.
    pub rpo: Option<i64>,
}

impl ReplicationGroup {
    pub fn parse_all(v: &Value) -> Vec<Self> {
        instances(v)
            .into_iter()
            .map(|g| Self {
                name: name_of(g, "name"),
                id: name_of(g, "id"),
                ingress: current(g, "replicationIngressTraffic"),
                egress: current(g, "replicationEgressTraffic"),
                pending: nums(
                    g,
                    [
                        ("repo", "chunksRepoPendingReplicationTotalSize"),
                        ("journal", "chunksJournalPendingReplicationTotalSize"),
                        ("xor", "chunksPendingXorTotalSize"),
                    ],
                ),
                rpo: int(&g["replicationRpoTimestamp"]).filter(|t| *t > 0),
            })
            .collect()
    }
}

/// The replication group of each failed link of `.../rglinksFailed`.
pub fn failed_links(v: &Value) -> Vec<String> {
    instances(v)
        .into_iter()
        .map(|l| text(&l["rgName"]).unwrap_or("unknown").to_owned())
        .collect()
}

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

impl BucketSettings {
    /// An entry of `/object/bucket`; `None` without a name.
    pub fn parse(ns: &str, bk: &Value) -> Option<Self> {
        let name = text(&bk["name"])?;
        let days = num(&bk["default_object_lock_retention_days"])
            .filter(|d| *d > 0.0)
            .or_else(|| {
                num(&bk["default_object_lock_retention_years"])
                    .filter(|y| *y > 0.0)
                    .map(|y| y * 365.0)
            });
        Some(Self {
            namespace: ns.to_owned(),
            bucket: name.to_owned(),
            object_lock: boolish(&bk["is_object_lock_enabled"]),
            lock_mode: text(&bk["default_object_lock_retention_mode"]).map(str::to_owned),
            lock_days: days,
            retention_secs: int(&bk["default_retention"]).or_else(|| int(&bk["retention"])),
            versioning: bk
                .get("versioning_status")
                .map(|v| text(v).is_some_and(|s| s.eq_ignore_ascii_case("enabled"))),
            locked: boolish(&bk["locked"]),
        })
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
