//! A seeded, deterministic model of one ECS cluster (one VDC). Everything the API serves is
//! read from here; time-dependent figures (billing samples, capacity, replication lag,
//! last-used times) are closed-form functions of the simulator's clock, so any value at
//! any time can be recomputed exactly by a test.

pub mod alerts;
pub mod audit;
pub mod billing;
pub mod iam;
pub mod perf;
pub mod system;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::ids::{h, range, uuid};

/// Which ECS the simulator behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    /// ECS 3.5: dashboard carries the transaction* fields; port 9101 serves DT stats.
    #[serde(rename = "3.5")]
    Ecs35,
    /// ECS 3.8: transaction* fields removed (3.6+); 9101 still there.
    #[serde(rename = "3.8")]
    Ecs38,
    /// ObjectScale 4.1: no 9101; node figures only from /dashboard/nodes/{id}.
    #[serde(rename = "4.1")]
    ObjectScale41,
}

impl Version {
    pub fn build(self) -> &'static str {
        match self {
            Version::Ecs35 => "3.5.1.4.127453.1ae8e2c",
            Version::Ecs38 => "3.8.1.2.145362.f3c3ba6",
            Version::ObjectScale41 => "4.1.0.0.141552.bad1f62dd07",
        }
    }

    pub fn has_dt_stats(self) -> bool {
        self != Version::ObjectScale41
    }

    pub fn has_transactions(self) -> bool {
        self == Version::Ecs35
    }

    /// Roots that some versions wrap in JSON (`{"cluster_capacity":{…}}`) and others do
    /// not; the spec's 4.1 examples wrap, ECS CE 3.8 was observed unwrapped.
    pub fn wraps_roots(self) -> bool {
        self != Version::Ecs38
    }

    pub fn parse(s: &str) -> Option<Version> {
        match s {
            "3.5" => Some(Version::Ecs35),
            "3.8" => Some(Version::Ecs38),
            "4.1" => Some(Version::ObjectScale41),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::Ecs35 => "3.5",
            Version::Ecs38 => "3.8",
            Version::ObjectScale41 => "4.1",
        }
    }
}

/// Size knobs of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelConfig {
    pub seed: u64,
    pub version: Version,
    pub nodes: usize,
    pub disks_per_node: usize,
    /// Disk sizes (TB) the generator picks from.
    pub disk_sizes_tb: Vec<u64>,
    pub storage_pools: usize,
    pub replication_groups: usize,
    pub namespaces: usize,
    pub buckets_per_namespace: usize,
    pub iam_users_per_namespace: usize,
    pub iam_groups_per_namespace: usize,
    pub iam_roles_per_namespace: usize,
    pub iam_policies_per_namespace: usize,
    pub mgmt_users: usize,
    pub alerts: usize,
    /// How far billing data lags behind the clock (`uptodate_till`), in seconds.
    pub billing_lag_secs: i64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::small()
    }
}

impl ModelConfig {
    /// The demo and test cluster: small enough to read, with every kind of entity.
    pub fn small() -> Self {
        Self {
            seed: 42,
            version: Version::Ecs38,
            nodes: 4,
            disks_per_node: 4,
            disk_sizes_tb: vec![1, 2],
            storage_pools: 1,
            replication_groups: 2,
            namespaces: 5,
            buckets_per_namespace: 4,
            iam_users_per_namespace: 6,
            iam_groups_per_namespace: 2,
            iam_roles_per_namespace: 2,
            iam_policies_per_namespace: 3,
            mgmt_users: 3,
            alerts: 8,
            billing_lag_secs: 900,
        }
    }

    /// The benchmark cluster: 1,000 namespaces, 20,000 buckets, 5,000 IAM users, 16 nodes.
    pub fn large() -> Self {
        Self {
            nodes: 16,
            disks_per_node: 12,
            disk_sizes_tb: vec![16, 20],
            storage_pools: 2,
            replication_groups: 3,
            namespaces: 1000,
            buckets_per_namespace: 20,
            iam_users_per_namespace: 5,
            iam_groups_per_namespace: 1,
            iam_roles_per_namespace: 1,
            iam_policies_per_namespace: 1,
            mgmt_users: 10,
            alerts: 50,
            ..Self::small()
        }
    }

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "small" => Some(Self::small()),
            "large" => Some(Self::large()),
            _ => None,
        }
    }
}

/// Seconds since the epoch at which the model's history starts (2024-01-01T00:00:00Z):
/// billing samples are counted from here, entities were created after it.
pub const ORIGIN: i64 = 1_704_067_200;
/// Billing sample length (ECS samples every 5 minutes).
pub const SAMPLE: i64 = 300;

// Hash domains, so that different kinds of entity never share a hash stream.
pub(crate) const K_NODE: u64 = 1;
pub(crate) const K_DISK: u64 = 2;
pub(crate) const K_SP: u64 = 3;
pub(crate) const K_RG: u64 = 4;
pub(crate) const K_NS: u64 = 5;
pub(crate) const K_BUCKET: u64 = 6;
pub(crate) const K_USER: u64 = 7;
pub(crate) const K_ALERT: u64 = 8;
pub(crate) const K_VDC: u64 = 9;
pub(crate) const K_AUTHN: u64 = 10;
pub(crate) const K_PERF: u64 = 11;
pub(crate) const K_EVENT: u64 = 12;

#[derive(Debug, Clone)]
pub struct Disk {
    pub id: String,
    pub slot: usize,
    pub size_bytes: u64,
    pub healthy: bool,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub mgmt_ip: Ipv4Addr,
    pub rack: String,
    pub service_tag: String,
    pub storage_pool: usize,
    pub disks: Vec<Disk>,
    /// Directory tables this node hosts (9101 `total_dt_num`).
    pub dt_total: u64,
}

#[derive(Debug, Clone)]
pub struct StoragePool {
    pub id: String,
    pub name: String,
    pub nodes: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct ReplicationGroup {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub zones: u32,
    /// Other VDCs this RG replicates to (empty for a local-only RG).
    pub peers: Vec<String>,
    /// Whether one of its links is failed (listed in rglinksFailed).
    pub link_failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
    Disabled,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub index: u64,
    pub namespace: String,
    pub owner: String,
    pub created: i64,
    pub rg: usize,
    pub locked: bool,
    pub object_lock: bool,
    pub lock_mode: Option<&'static str>,
    pub lock_days: u32,
    pub lock_years: u32,
    /// Default retention in seconds (-1 none).
    pub retention_secs: i64,
    pub versioning: Versioning,
    pub tags: Vec<(String, String)>,
    pub block_size_gb: i64,
    pub notification_size_gb: i64,
    pub billing: billing::Rates,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub index: u64,
    pub created: i64,
    pub default_rg: usize,
    pub quota_block_gb: i64,
    pub quota_notification_gb: i64,
    pub buckets: BTreeMap<String, Bucket>,
    pub iam: iam::Domain,
    /// From when the namespace has background audit events: its creation, or the moment
    /// it was added at run time.
    pub audit_since: i64,
}

#[derive(Debug, Clone)]
pub struct MgmtUser {
    pub id: String,
    pub password: String,
    pub system_admin: bool,
    pub system_monitor: bool,
    pub security_admin: bool,
}

#[derive(Debug, Clone)]
pub struct AuthnProvider {
    pub id: String,
    pub name: String,
    pub mode: &'static str,
    pub server_urls: Vec<String>,
    pub domains: Vec<String>,
    pub disabled: bool,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Alert {
    pub id: String,
    pub severity: &'static str,
    pub kind: &'static str,
    pub description: String,
    pub namespace: String,
    pub acknowledged: bool,
    pub symptom_code: u32,
    pub timestamp: i64,
}

/// The whole cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub cfg: ModelConfig,
    pub vdc_id: String,
    pub vdc_name: String,
    pub nodes: Vec<Node>,
    pub storage_pools: Vec<StoragePool>,
    pub rgs: Vec<ReplicationGroup>,
    pub namespaces: BTreeMap<String, Namespace>,
    pub mgmt_users: Vec<MgmtUser>,
    pub authn_providers: Vec<AuthnProvider>,
    pub alerts: Vec<Alert>,
    /// Recorded audit events and deleted namespaces (`model/audit.rs`).
    pub audit: audit::AuditLog,
    /// Index of the next namespace added at run time.
    next_namespace: u64,
}

const RACKS: [&str; 4] = ["red", "green", "blue", "gray"];
const NODE_WORDS: [&str; 8] = [
    "layton", "logan", "lehi", "murray", "provo", "orem", "sandy", "ogden",
];
const OWNERS: [&str; 5] = [
    "svc-backup",
    "analytics",
    "web-assets",
    "finance",
    "archive",
];
const TAG_KEYS: [&str; 4] = ["CostCenter", "Environment", "Owner", "DataClass"];
const TAG_VALUES: [&str; 6] = ["cc-1001", "prod", "dev", "team-a", "confidential", "public"];

/// The management users every model has (user, password), plus generated ones.
pub const ROOT_USER: (&str, &str) = ("root", "ChangeMe");
pub const MONITOR_USER: (&str, &str) = ("emcmonitor", "monitor-pass");

impl Cluster {
    pub fn generate(cfg: &ModelConfig) -> Cluster {
        let seed = cfg.seed;
        let vdc_id = format!(
            "urn:storageos:VirtualDataCenterData:{}",
            uuid(seed, &[K_VDC])
        );
        let vdc_name = format!("vdc{}", range(h(seed, &[K_VDC, 1]), 1, 9));
        let storage_pools: Vec<StoragePool> = (0..cfg.storage_pools.max(1))
            .map(|i| StoragePool {
                id: format!(
                    "urn:storageos:VirtualArray:{}",
                    uuid(seed, &[K_SP, i as u64])
                ),
                name: format!("sp{}", i + 1),
                nodes: Vec::new(),
            })
            .collect();
        let mut cluster = Cluster {
            cfg: cfg.clone(),
            vdc_id,
            vdc_name,
            nodes: Vec::new(),
            storage_pools,
            rgs: Vec::new(),
            namespaces: BTreeMap::new(),
            mgmt_users: Vec::new(),
            authn_providers: Vec::new(),
            alerts: Vec::new(),
            audit: audit::AuditLog::default(),
            next_namespace: 0,
        };
        for i in 0..cfg.nodes.max(1) {
            let sp = i % cluster.storage_pools.len();
            let node = cluster.make_node(i, sp);
            cluster.storage_pools[sp].nodes.push(i);
            cluster.nodes.push(node);
        }
        for i in 0..cfg.replication_groups.max(1) {
            let hh = h(seed, &[K_RG, i as u64]);
            cluster.rgs.push(ReplicationGroup {
                index: i,
                id: format!(
                    "urn:storageos:ReplicationGroupInfo:{}:global",
                    uuid(seed, &[K_RG, i as u64])
                ),
                name: format!("rg{}", i + 1),
                zones: if i == 0 { 1 } else { 2 },
                peers: if i == 0 {
                    vec![]
                } else {
                    vec![format!("vdc{}", 10 + i)]
                },
                link_failed: i > 0 && hh % 3 == 0,
            });
        }
        for _ in 0..cfg.namespaces {
            cluster.add_namespace(None, cfg.buckets_per_namespace);
        }
        cluster.mgmt_users.push(MgmtUser {
            id: ROOT_USER.0.into(),
            password: ROOT_USER.1.into(),
            system_admin: true,
            system_monitor: false,
            security_admin: true,
        });
        cluster.mgmt_users.push(MgmtUser {
            id: MONITOR_USER.0.into(),
            password: MONITOR_USER.1.into(),
            system_admin: false,
            system_monitor: true,
            security_admin: false,
        });
        for i in 2..cfg.mgmt_users.max(2) {
            let hh = h(seed, &[K_USER, 1_000_000 + i as u64]);
            cluster.mgmt_users.push(MgmtUser {
                id: format!("admin{i}@corp.example"),
                password: format!("pw-{hh:08x}"),
                system_admin: hh % 3 == 0,
                system_monitor: hh % 3 == 1,
                security_admin: hh % 5 == 0,
            });
        }
        let providers = [
            ("internal-ldap", "ldap", false),
            ("corp-ad", "ad", false),
            ("legacy-ldap", "ldap", true),
        ];
        for (i, (name, mode, disabled)) in providers.iter().enumerate() {
            cluster.authn_providers.push(AuthnProvider {
                id: format!(
                    "urn:storageos:AuthnProvider:{}:",
                    uuid(seed, &[K_AUTHN, i as u64])
                ),
                name: (*name).into(),
                mode,
                // Documentation addresses (RFC 5737) that never answer; `start` points the
                // enabled providers at directory servers of its own (SimConfig.ldap).
                server_urls: vec![format!("ldap://192.0.2.{}:389", 10 + i)],
                domains: vec![format!("{name}.corp.example")],
                disabled: *disabled,
                description: format!("{mode} provider {name}"),
            });
        }
        for i in 0..cfg.alerts {
            let hh = h(seed, &[K_ALERT, i as u64]);
            let (severity, kind, code) = match hh % 10 {
                0 => ("CRITICAL", "DiskFailure", 2001),
                1 | 2 => ("ERROR", "NodeDown", 1003),
                3..=5 => ("WARNING", "RPO", 1012),
                _ => ("INFO", "License", 3005),
            };
            let ns = cluster
                .namespaces
                .keys()
                .nth((hh >> 8) as usize % cluster.namespaces.len().max(1))
                .cloned()
                .unwrap_or_default();
            cluster.alerts.push(Alert {
                id: format!("urn:storageos:Alert:{}", uuid(seed, &[K_ALERT, i as u64])),
                severity,
                kind,
                description: format!("{kind} alert {i} on {}", cluster.vdc_name),
                namespace: if hh % 4 == 0 { ns } else { String::new() },
                acknowledged: (hh >> 16) % 3 == 0,
                symptom_code: code,
                timestamp: ORIGIN + range(hh >> 20, 0, 200) as i64 * 86_400,
            });
        }
        cluster
    }

    fn make_node(&self, i: usize, sp: usize) -> Node {
        let seed = self.cfg.seed;
        let hh = h(seed, &[K_NODE, i as u64]);
        let word = NODE_WORDS[i % NODE_WORDS.len()];
        let disks = (0..self.cfg.disks_per_node.max(1))
            .map(|d| {
                let dh = h(seed, &[K_DISK, i as u64, d as u64]);
                Disk {
                    id: uuid(seed, &[K_DISK, i as u64, d as u64]),
                    slot: d,
                    size_bytes: self
                        .cfg
                        .disk_sizes_tb
                        .get((dh % self.cfg.disk_sizes_tb.len().max(1) as u64) as usize)
                        .copied()
                        .unwrap_or(4)
                        * 1_000_000_000_000,
                    // One bad disk in about every 40.
                    healthy: dh % 40 != 7,
                }
            })
            .collect();
        Node {
            index: i,
            id: uuid(seed, &[K_NODE, i as u64]),
            name: format!("{word}-{}.ecs.example", i + 1),
            mgmt_ip: Ipv4Addr::new(10, 236, 206, 25 + i as u8),
            rack: RACKS[(hh % 4) as usize].into(),
            service_tag: format!("{:07X}", hh & 0xFFF_FFFF),
            storage_pool: sp,
            disks,
            dt_total: 128 * range(hh >> 8, 2, 4),
        }
    }

    /// Adds a namespace (named, or `ns{index}`) with `buckets` buckets; returns its name.
    pub fn add_namespace(&mut self, name: Option<&str>, buckets: usize) -> String {
        let seed = self.cfg.seed;
        let index = self.next_namespace;
        self.next_namespace += 1;
        let name = name.map_or_else(|| format!("ns{:04}", index + 1), str::to_owned);
        let hh = h(seed, &[K_NS, index]);
        let quota_block_gb = match hh % 4 {
            0 => -1,
            q => (q as i64) * 500,
        };
        let created = ORIGIN + range(hh >> 4, 0, 60) as i64 * 86_400;
        let mut ns = Namespace {
            name: name.clone(),
            index,
            created,
            audit_since: created,
            default_rg: (hh >> 12) as usize % self.rgs.len().max(1),
            quota_block_gb,
            quota_notification_gb: if quota_block_gb > 0 {
                quota_block_gb * 8 / 10
            } else {
                -1
            },
            buckets: BTreeMap::new(),
            iam: iam::Domain::generate(&self.cfg, index, &name),
        };
        for j in 0..buckets {
            let b = self.make_bucket(&ns, j as u64);
            ns.buckets.insert(b.name.clone(), b);
        }
        self.namespaces.insert(name.clone(), ns);
        name
    }

    fn make_bucket(&self, ns: &Namespace, j: u64) -> Bucket {
        let seed = self.cfg.seed;
        let index = ns.index * 100_000 + j;
        let hh = h(seed, &[K_BUCKET, ns.index, j]);
        let object_lock = hh % 5 == 0;
        let lock_mode = object_lock.then_some(if (hh >> 3) % 2 == 0 {
            "GOVERNANCE"
        } else {
            "COMPLIANCE"
        });
        let tags = (0..(hh >> 8) % 3)
            .map(|t| {
                let th = h(seed, &[K_BUCKET, ns.index, j, t]);
                (
                    TAG_KEYS[(t as usize + (th % 2) as usize) % TAG_KEYS.len()].to_owned(),
                    TAG_VALUES[(th >> 4) as usize % TAG_VALUES.len()].to_owned(),
                )
            })
            .collect::<Vec<_>>();
        let mut dedup: Vec<(String, String)> = Vec::new();
        for (k, v) in tags {
            if !dedup.iter().any(|(dk, _)| *dk == k) {
                dedup.push((k, v));
            }
        }
        Bucket {
            name: format!("{}-b{:03}", ns.name, j + 1),
            index,
            namespace: ns.name.clone(),
            owner: format!("{}@{}", OWNERS[(hh >> 12) as usize % OWNERS.len()], ns.name),
            created: ns.created + range(hh >> 16, 1, 90) as i64 * 86_400,
            rg: ((hh >> 20) as usize) % self.rgs.len().max(1),
            locked: (hh >> 24) % 50 == 0,
            object_lock,
            lock_mode,
            lock_days: if object_lock {
                range(hh >> 28, 1, 365) as u32
            } else {
                0
            },
            lock_years: 0,
            retention_secs: if (hh >> 32) % 4 == 0 {
                range(hh >> 36, 1, 30) as i64 * 86_400
            } else {
                -1
            },
            versioning: match (hh >> 40) % 3 {
                0 => Versioning::Enabled,
                1 => Versioning::Suspended,
                _ => Versioning::Disabled,
            },
            tags: dedup,
            block_size_gb: if (hh >> 44) % 3 == 0 {
                range(hh >> 46, 1, 100) as i64 * 10
            } else {
                -1
            },
            notification_size_gb: -1,
            billing: billing::Rates::generate(seed, index),
        }
    }

    /// Adds a bucket to a namespace; false if the namespace does not exist.
    pub fn add_bucket(&mut self, namespace: &str) -> Option<String> {
        let ns = self.namespaces.get(namespace)?;
        let j = ns.buckets.len() as u64 + 10_000;
        let b = self.make_bucket(ns, j);
        let name = b.name.clone();
        self.namespaces
            .get_mut(namespace)?
            .buckets
            .insert(name.clone(), b);
        Some(name)
    }

    pub fn delete_namespace(&mut self, name: &str) -> bool {
        self.namespaces.remove(name).is_some()
    }

    pub fn delete_bucket(&mut self, namespace: &str, bucket: &str) -> bool {
        self.namespaces
            .get_mut(namespace)
            .is_some_and(|ns| ns.buckets.remove(bucket).is_some())
    }

    pub fn bucket(&self, namespace: &str, bucket: &str) -> Option<&Bucket> {
        self.namespaces.get(namespace)?.buckets.get(bucket)
    }

    /// The bucket of that name in any namespace (management calls that omit `namespace`).
    pub fn find_bucket(&self, bucket: &str) -> Option<&Bucket> {
        self.namespaces
            .values()
            .find_map(|ns| ns.buckets.get(bucket))
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    pub fn total_buckets(&self) -> usize {
        self.namespaces.values().map(|n| n.buckets.len()).sum()
    }

    pub fn mgmt_user(&self, id: &str) -> Option<&MgmtUser> {
        self.mgmt_users.iter().find(|u| u.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_cluster() {
        let a = Cluster::generate(&ModelConfig::small());
        let b = Cluster::generate(&ModelConfig::small());
        // Pinned across builds: the golden files hold this cluster.
        assert_eq!(
            a.vdc_id,
            "urn:storageos:VirtualDataCenterData:052a083d-e3bb-442e-92e1-843967bb6995"
        );
        assert_eq!(a.vdc_id, b.vdc_id);
        assert_eq!(
            a.namespaces.keys().collect::<Vec<_>>(),
            b.namespaces.keys().collect::<Vec<_>>()
        );
        let (ba, bb) = (
            a.find_bucket("ns0001-b001").unwrap(),
            b.find_bucket("ns0001-b001").unwrap(),
        );
        assert_eq!(ba.owner, bb.owner);
        assert_eq!(ba.billing, bb.billing);
        let c = Cluster::generate(&ModelConfig {
            seed: 43,
            ..ModelConfig::small()
        });
        assert_ne!(a.vdc_id, c.vdc_id);
    }

    #[test]
    fn the_large_preset_has_the_promised_size() {
        let c = Cluster::generate(&ModelConfig::large());
        assert_eq!(c.namespaces.len(), 1000);
        assert_eq!(c.total_buckets(), 20_000);
        assert_eq!(
            c.namespaces
                .values()
                .map(|n| n.iam.users.len())
                .sum::<usize>(),
            5000
        );
        assert_eq!(c.nodes.len(), 16);
    }

    #[test]
    fn namespaces_can_be_added_and_removed() {
        let mut c = Cluster::generate(&ModelConfig::small());
        let n = c.add_namespace(Some("tenant-new"), 2);
        assert_eq!(c.namespaces[&n].buckets.len(), 2);
        assert!(c.delete_namespace("tenant-new"));
        assert!(!c.namespaces.contains_key("tenant-new"));
    }
}
