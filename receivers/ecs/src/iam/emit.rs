//! The IAM series: per namespace its users, keys, groups, roles, policies and the
//! over-privileged entities, then the management users and authentication providers.

use std::collections::BTreeMap;

use pipeline::SnapshotBuilder;

use super::config::IamConfig;
use super::{NamespaceFacts, Provider, UserFacts, entity_label};
use crate::catalog::*;

/// Ages as of `now`, the cycle's time, which every point of the cycle carries;
/// `threshold` is the inactivity threshold in seconds.
pub(super) struct Ages {
    pub now: i64,
    pub threshold: i64,
}

impl Ages {
    fn days(&self, t: i64) -> u64 {
        ((self.now - t).max(0) / 86_400) as u64
    }
}

fn user_type(u: &UserFacts) -> &'static str {
    if u.service {
        "service_account"
    } else {
        "human"
    }
}

pub(super) fn namespace(
    b: &mut SnapshotBuilder,
    cfg: &IamConfig,
    ns: &str,
    f: &NamespaceFacts,
    ages: &Ages,
) {
    for t in ["human", "service_account"] {
        let of_type = f.users.iter().filter(|u| user_type(u) == t);
        IAM_USERS.record(b, of_type.clone().count() as u64, [ns, t]);
        let active = of_type
            .filter(|u| {
                u.last_activity
                    .is_some_and(|l| ages.now - l <= ages.threshold)
            })
            .count();
        IAM_USERS_ACTIVE.record(b, active as u64, [ns, t]);
    }
    users(b, cfg, ns, f, ages);
    policies(b, cfg, ns, f);
}

/// Each user's inactivity and credential age (for a user with a label), and the access
/// keys by status.
fn users(b: &mut SnapshotBuilder, cfg: &IamConfig, ns: &str, f: &NamespaceFacts, ages: &Ages) {
    let mut keys_by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for u in &f.users {
        let label = entity_label(cfg, ns, &u.name);
        if cfg.track_inactive_users
            && let Some(l) = &label
        {
            let (since, activity) = match u.last_activity {
                Some(t) => (Some(t), "seen"),
                None => (u.created, "never"),
            };
            if let Some(t) = since
                && ages.now - t > ages.threshold
            {
                IAM_USER_INACTIVE.record(b, ages.days(t), [ns, l.as_str(), user_type(u), activity]);
            }
        }
        let mut oldest: BTreeMap<&str, i64> = BTreeMap::new();
        for (status, created) in &u.keys {
            *keys_by_status.entry(status.as_str()).or_insert(0) += 1;
            if let Some(c) = created {
                let e = oldest.entry(status.as_str()).or_insert(*c);
                *e = (*e).min(*c);
            }
        }
        if let Some(l) = &label {
            for (status, created) in oldest {
                IAM_CREDENTIAL_AGE.record(
                    b,
                    ages.days(created),
                    [ns, l.as_str(), "access_key", status],
                );
            }
        }
    }
    for status in ["active", "inactive"] {
        keys_by_status.entry(status).or_insert(0);
    }
    for (status, n) in keys_by_status {
        IAM_ACCESS_KEYS.record(b, n, [ns, status]);
    }
}

fn policies(b: &mut SnapshotBuilder, cfg: &IamConfig, ns: &str, f: &NamespaceFacts) {
    IAM_GROUPS.record(b, f.groups as u64, [ns]);
    IAM_ROLES.record(b, f.roles as u64, [ns]);
    IAM_POLICIES.record(b, f.managed_policies as u64, [ns, "managed"]);
    IAM_POLICIES.record(b, f.inline_policies as u64, [ns, "inline"]);
    for kind in ["user", "group", "role"] {
        let n = f.attachments.get(kind).copied().unwrap_or(0);
        IAM_ATTACHMENTS.record(b, n as u64, [ns, kind]);
    }
    for kind in ["user", "role"] {
        let n = f.over.iter().filter(|(k, _, _)| *k == kind).count();
        IAM_OVERPRIV.record(b, n as u64, [ns, kind]);
    }
    for (kind, name, grants) in &f.over {
        if let Some(l) = entity_label(cfg, ns, name) {
            let grants = grants
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(",");
            IAM_OVERPRIV_ENTITY.record(b, 1, [ns, kind, l.as_str(), grants.as_str()]);
        }
    }
    if f.unreadable > 0 {
        IAM_UNREADABLE.record(b, f.unreadable as u64, [ns]);
    }
}

pub(super) fn mgmt_users(b: &mut SnapshotBuilder, by_role: &BTreeMap<&'static str, u64>) {
    for (role, n) in by_role {
        MGMT_USERS.record(b, *n, [*role]);
    }
}

/// The providers and their servers' probes; a warning for each server that failed.
pub(super) fn providers(b: &mut SnapshotBuilder, list: &[Provider], warnings: &mut Vec<String>) {
    for p in list {
        let (name, mode) = (p.name.as_str(), p.mode.as_str());
        AUTH_ENABLED.record(b, i64::from(p.enabled), [name, mode]);
        for r in &p.probes {
            let server = [name, mode, r.server.as_str()];
            AUTH_AVAILABLE.record(b, i64::from(r.up), server);
            if r.up {
                AUTH_RESPONSE.record(b, r.took.as_secs_f64(), server);
            } else if let Some(why) = r.error {
                warnings.push(format!(
                    "authentication provider {} server {}: {why}",
                    p.name, r.server
                ));
            }
        }
    }
}
