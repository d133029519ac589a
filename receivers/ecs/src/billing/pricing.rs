//! Costs from billed sizes and the configured model. GB = 1024³ bytes, as ECS bills.
//!
//! - storage (per bucket): `bytes / GB × price(replication group)`, a monthly rate at the
//!   bucket's current size;
//! - bandwidth (per namespace and direction): the month-to-date volume priced tier by
//!   tier: the part of the volume up to the first tier's bound at its price, the part
//!   between the first and second bounds at the second price, and so on.

use super::config::{Pricing, Tier};

pub const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The tiered cost of `bytes`; `None` when no tiers are configured.
pub fn tiered(bytes: u64, tiers: &[Tier]) -> Option<f64> {
    if tiers.is_empty() {
        return None;
    }
    let volume = bytes as f64 / GB;
    let mut cost = 0.0;
    let mut floor = 0.0;
    for t in tiers {
        let ceiling = t.up_to_gb.unwrap_or(f64::INFINITY);
        if volume <= floor {
            break;
        }
        cost += (volume.min(ceiling) - floor) * t.price;
        floor = ceiling;
    }
    Some(cost)
}

impl Pricing {
    /// Price per GB-month of a replication group, if the model sets one.
    pub fn storage_price(&self, replication_group: &str) -> Option<f64> {
        self.storage
            .replication_groups
            .get(replication_group)
            .copied()
            .or(self.storage.default)
    }

    /// Monthly storage cost of `bytes` in `replication_group`.
    pub fn storage_cost(&self, bytes: u64, replication_group: &str) -> Option<f64> {
        self.storage_price(replication_group)
            .map(|p| bytes as f64 / GB * p)
    }

    pub fn has_storage(&self) -> bool {
        self.storage.default.is_some() || !self.storage.replication_groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(up_to_gb: Option<f64>, price: f64) -> Tier {
        Tier { up_to_gb, price }
    }

    #[test]
    fn tiers_price_each_slice_of_the_volume_at_its_own_rate() {
        let tiers = [
            tier(Some(10.0), 0.10),
            tier(Some(50.0), 0.05),
            tier(None, 0.01),
        ];
        let gb = |x: f64| (x * GB) as u64;
        assert_eq!(tiered(0, &tiers), Some(0.0));
        assert!((tiered(gb(4.0), &tiers).unwrap_or(0.0) - 0.4).abs() < 1e-9);
        // 10 × 0.10 + 40 × 0.05 + 50 × 0.01
        assert!((tiered(gb(100.0), &tiers).unwrap_or(0.0) - 3.5).abs() < 1e-9);
        assert_eq!(tiered(gb(1.0), &[]), None);
    }

    #[test]
    fn storage_uses_the_group_price_then_the_default() {
        let mut p = Pricing::default();
        assert_eq!(p.storage_cost(GB as u64, "rg1"), None);
        p.storage.default = Some(0.02);
        p.storage.replication_groups.insert("rg1".into(), 0.03);
        assert_eq!(p.storage_cost(2 * GB as u64, "rg1"), Some(0.06));
        assert_eq!(p.storage_cost(2 * GB as u64, "rg2"), Some(0.04));
    }
}
