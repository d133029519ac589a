//! System figures at a point in time: capacity from the buckets' billed sizes and the
//! disks, garbage collection, recovery and erasure coding, replication traffic and lag,
//! node and disk health, directory tables and load factors. Values vary with the clock
//! but are functions of it, so a test can ask the model what the API showed.

use std::collections::BTreeSet;

use super::billing::{DAY, sample_index};
use super::{Cluster, K_NODE, K_RG};
use crate::ids::{h, range};

/// Erasure coding 12+4: 16 bytes stored per 12 of user data.
pub const EC_NUM: u64 = 4;
pub const EC_DEN: u64 = 3;

/// Run-time state changed by fault injection that the figures depend on.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Nodes (by index) that are down: bad in the dashboard, their ports refuse.
    pub nodes_down: BTreeSet<usize>,
    /// Directory tables not ready, per node index.
    pub dt_unready: Vec<(usize, u64)>,
    /// Directory tables in an unknown state, per node index.
    pub dt_unknown: Vec<(usize, u64)>,
    /// Nodes (by index) in maintenance mode.
    pub maintenance: BTreeSet<usize>,
    /// Extra replication lag (seconds) added to every replicated RG.
    pub extra_rpo_lag: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    pub total: u64,
    pub allocated: u64,
    pub free: u64,
    pub reserved: u64,
    pub offline: u64,
    pub user_data: u64,
    pub protection: u64,
    pub system_metadata: u64,
    pub geo_copy: u64,
    pub geo_cache: u64,
}

impl Capacity {
    pub fn allocated_percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.allocated as f64 * 100.0 / self.total as f64
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gc {
    pub user_pending: u64,
    pub user_reclaimed: u64,
    pub user_unreclaimable: u64,
    pub system_pending: u64,
    pub system_reclaimed: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Recovery {
    /// Bytes per second.
    pub rate: u64,
    pub bad_chunks_size: u64,
    pub complete_estimate_secs: u64,
    pub ec_rate: u64,
    pub ec_coded_percent: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chunks {
    pub repo_number: u64,
    pub repo_total_seal_size: u64,
    pub xor_number: u64,
    pub xor_total_size: u64,
    pub geo_copy_number: u64,
    pub geo_copy_total_size: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replication {
    /// Bytes per second.
    pub ingress: u64,
    pub egress: u64,
    pub pending_repo: u64,
    pub pending_journal: u64,
    pub pending_xor: u64,
    /// Seconds since the epoch up to which data is replicated.
    pub rpo_timestamp: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeFigures {
    pub good: bool,
    pub disks: u64,
    pub good_disks: u64,
    pub bad_disks: u64,
    pub total: u64,
    pub allocated: u64,
    pub free: u64,
}

/// ECS 3.5's transaction figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Transactions {
    pub read_latency_ms: f64,
    pub write_latency_ms: f64,
    pub read_tps: f64,
    pub write_tps: f64,
    /// Bytes per second.
    pub read_bandwidth: f64,
    pub write_bandwidth: f64,
    pub success_total: u64,
    pub error_total: u64,
}

impl Cluster {
    fn disk_total(&self) -> u64 {
        self.nodes
            .iter()
            .flat_map(|n| &n.disks)
            .map(|d| d.size_bytes)
            .sum()
    }

    /// Σ of the buckets' sizes once the sample holding `t` completed.
    pub fn user_data(&self, t: i64) -> u64 {
        let n = sample_index(t);
        self.namespaces
            .values()
            .flat_map(|ns| ns.buckets.values())
            .map(|b| b.billing.totals(n).size)
            .sum()
    }

    pub fn capacity(&self, t: i64, o: &Overrides) -> Capacity {
        let total = self.disk_total();
        let user_data = self.user_data(t);
        let protection = user_data * EC_NUM / EC_DEN - user_data;
        let system_metadata = total / 50;
        let replicated: u64 = self.rgs.iter().filter(|r| r.zones > 1).count() as u64;
        let geo_copy = user_data / 10 * replicated / (self.rgs.len() as u64).max(1);
        let geo_cache = total / 200;
        let allocated =
            (user_data + protection + system_metadata + geo_copy + geo_cache).min(total);
        let reserved = total / 50;
        let offline: u64 = self
            .nodes
            .iter()
            .flat_map(|n| {
                let down = o.nodes_down.contains(&n.index);
                n.disks.iter().filter(move |d| down || !d.healthy)
            })
            .map(|d| d.size_bytes)
            .sum();
        Capacity {
            total,
            allocated,
            free: total.saturating_sub(allocated + reserved),
            reserved,
            offline,
            user_data,
            protection,
            system_metadata,
            geo_copy,
            geo_cache,
        }
    }

    pub fn gc(&self, t: i64) -> Gc {
        let n = sample_index(t);
        let deleted: u64 = self
            .namespaces
            .values()
            .flat_map(|ns| ns.buckets.values())
            .map(|b| b.billing.window(b.billing.first_sample, n).bytes_deleted)
            .sum();
        let hour = h(self.cfg.seed, &[0x6C, (t / 3600) as u64]);
        let pending = deleted / 400 * range(hour, 1, 5);
        Gc {
            user_pending: pending,
            user_reclaimed: deleted.saturating_sub(pending),
            user_unreclaimable: deleted / 10_000,
            system_pending: pending / 20,
            system_reclaimed: deleted / 15,
        }
    }

    pub fn recovery(&self, t: i64, o: &Overrides) -> Recovery {
        let bad: u64 = self
            .nodes
            .iter()
            .flat_map(|n| n.disks.iter().filter(|d| !d.healthy))
            .map(|d| d.size_bytes / 3)
            .sum::<u64>()
            + o.nodes_down.len() as u64 * 1_000_000_000_000;
        let rate = if bad > 0 { 50_000_000 } else { 0 };
        let minute = h(self.cfg.seed, &[0x7E, (t / 60) as u64]);
        Recovery {
            rate,
            bad_chunks_size: bad,
            complete_estimate_secs: bad.checked_div(rate).unwrap_or(0),
            ec_rate: range(minute, 0, 20_000_000),
            ec_coded_percent: 95.0 + (minute % 500) as f64 / 100.0,
        }
    }

    pub fn chunks(&self, t: i64) -> Chunks {
        let user = self.user_data(t);
        let chunk = 128 * 1024 * 1024;
        Chunks {
            repo_number: user / chunk + 1,
            repo_total_seal_size: user,
            xor_number: user / chunk / 12,
            xor_total_size: user / 12,
            geo_copy_number: user / chunk / 10,
            geo_copy_total_size: user / 10,
        }
    }

    /// Replication figures of one RG.
    pub fn replication(&self, rg: usize, t: i64, o: &Overrides) -> Replication {
        let Some(group) = self.rgs.get(rg) else {
            return Replication::default();
        };
        let n = sample_index(t);
        let last = n.saturating_sub(1);
        let (mut written, mut read) = (0u64, 0u64);
        for b in self
            .namespaces
            .values()
            .flat_map(|ns| ns.buckets.values())
            .filter(|b| b.rg == rg)
        {
            let w = b.billing.window(last, n);
            written += w.ingress;
            read += w.egress;
        }
        if group.zones < 2 {
            return Replication {
                rpo_timestamp: t,
                ..Replication::default()
            };
        }
        let hour = h(self.cfg.seed, &[K_RG, rg as u64, (t / 3600) as u64]);
        let lag = range(hour, 15, 600) as i64 + o.extra_rpo_lag;
        Replication {
            ingress: read / 300 / 4,
            egress: written / 300,
            pending_repo: written / 4 * range(hour >> 10, 1, 3),
            pending_journal: written / 16,
            pending_xor: written / 12,
            rpo_timestamp: t - lag,
        }
    }

    pub fn node_figures(&self, node: usize, t: i64, o: &Overrides) -> NodeFigures {
        self.node_figures_of(node, &self.capacity(t, o), o)
    }

    /// A node's figures given the cluster's capacity at the same time (which sums over
    /// every bucket: compute it once per answer, not once per node).
    pub fn node_figures_of(&self, node: usize, cap: &Capacity, o: &Overrides) -> NodeFigures {
        let Some(n) = self.nodes.get(node) else {
            return NodeFigures::default();
        };
        let total: u64 = n.disks.iter().map(|d| d.size_bytes).sum();
        let all = cap.total.max(1);
        let allocated = (cap.allocated as u128 * total as u128 / all as u128) as u64;
        let bad = n.disks.iter().filter(|d| !d.healthy).count() as u64;
        NodeFigures {
            good: !o.nodes_down.contains(&node),
            disks: n.disks.len() as u64,
            good_disks: n.disks.len() as u64 - bad,
            bad_disks: bad,
            total,
            allocated,
            free: total.saturating_sub(allocated),
        }
    }

    /// 9101 DTInitStat of a node: (total, unready, unknown).
    pub fn dt_stats(&self, node: usize, o: &Overrides) -> (u64, u64, u64) {
        let total = self.nodes.get(node).map_or(0, |n| n.dt_total);
        let of = |set: &[(usize, u64)]| set.iter().find(|(n, _)| *n == node).map_or(0, |(_, u)| *u);
        let unready = of(&o.dt_unready).min(total);
        let unknown = of(&o.dt_unknown).min(total - unready);
        (total, unready, unknown)
    }

    /// S3 `?ping` load factor (active connections) of a node at `t`.
    pub fn load_factor(&self, node: usize, t: i64) -> u64 {
        range(
            h(
                self.cfg.seed,
                &[K_NODE, node as u64, 0x10AD, (t / 60) as u64],
            ),
            5,
            250,
        )
    }

    /// Mean (read, write) latency in milliseconds during the minute holding `t`.
    pub fn latency_ms(&self, t: i64) -> (f64, f64) {
        let minute = h(self.cfg.seed, &[0x7A, (t / 60) as u64]);
        (
            5.0 + (minute % 2000) as f64 / 100.0,
            10.0 + (minute % 4000) as f64 / 100.0,
        )
    }

    pub fn transactions(&self, t: i64) -> Transactions {
        let n = sample_index(t);
        let last = n.saturating_sub(1);
        let (mut created, mut written, mut read) = (0u64, 0u64, 0u64);
        for b in self.namespaces.values().flat_map(|ns| ns.buckets.values()) {
            let w = b.billing.window(last, n);
            created += w.objects_created;
            written += w.ingress;
            read += w.egress;
        }
        let (read_latency_ms, write_latency_ms) = self.latency_ms(t);
        let write_tps = created as f64 / 300.0;
        let read_tps = write_tps * 3.0;
        Transactions {
            read_latency_ms,
            write_latency_ms,
            read_tps,
            write_tps,
            read_bandwidth: read as f64 / 300.0,
            write_bandwidth: written as f64 / 300.0,
            success_total: n * 1000 + (created % 1000),
            error_total: n / DAY * 3,
        }
    }

    /// Unacknowledged alerts by severity.
    pub fn unacked(&self, severity: &str) -> usize {
        self.alerts
            .iter()
            .filter(|a| !a.acknowledged && a.severity == severity)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ModelConfig, ORIGIN};
    use super::*;

    #[test]
    fn capacity_adds_up_and_grows_with_data() {
        let c = Cluster::generate(&ModelConfig::small());
        let o = Overrides::default();
        let t = ORIGIN + 400 * 86_400;
        let cap = c.capacity(t, &o);
        assert!(cap.total > cap.allocated);
        assert_eq!(cap.free, cap.total - cap.allocated - cap.reserved);
        assert_eq!(cap.protection, cap.user_data * 4 / 3 - cap.user_data);
        let later = c.capacity(t + 86_400, &o);
        assert!(later.user_data >= cap.user_data);
    }

    #[test]
    fn a_down_node_is_bad_and_offline() {
        let c = Cluster::generate(&ModelConfig::small());
        let mut o = Overrides::default();
        o.nodes_down.insert(1);
        let t = ORIGIN + 400 * 86_400;
        assert!(!c.node_figures(1, t, &o).good);
        assert!(c.node_figures(0, t, &o).good);
        assert!(
            c.capacity(t, &o).offline >= c.nodes[1].disks.iter().map(|d| d.size_bytes).sum::<u64>()
        );
    }
}
