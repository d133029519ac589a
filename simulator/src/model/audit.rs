//! Audit events (`/vdc/events`): what changed in a namespace, by whom, at minute precision.
//! Two sources: the changes made through the simulator's controls (namespaces and buckets
//! added or deleted, events recorded on request), kept in a log; and background activity,
//! a closed-form function of (seed, namespace, minute) at about one event per namespace
//! per 20 minutes, so that any window can be recomputed without storing anything.

use serde::Deserialize;

use super::{Cluster, K_EVENT};
use crate::ids::{h, uuid};

/// One background event in this many namespace-minutes.
pub const BACKGROUND_EVERY: u64 = 20;

/// One audit event; `timestamp` is on a minute boundary (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub event_type: String,
    pub user_id: String,
    pub service_type: String,
    pub resource_id: String,
    pub timestamp: i64,
    pub namespace: String,
    pub description: String,
}

impl AuditEvent {
    /// The order of the API: (timestamp, id).
    pub fn key(&self) -> (i64, &str) {
        (self.timestamp, &self.id)
    }
}

/// The body of `POST /__sim/events`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventRequest {
    pub namespace: String,
    pub service_type: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub resource_id: String,
    pub description: Option<String>,
}

/// A namespace that was deleted: its background history stays readable.
#[derive(Debug, Clone)]
pub struct Retired {
    pub name: String,
    pub index: u64,
    pub since: i64,
    pub until: i64,
}

/// The audit state of the model: the recorded events and the deleted namespaces.
#[derive(Debug, Clone, Default)]
pub struct AuditLog {
    pub recorded: Vec<AuditEvent>,
    pub retired: Vec<Retired>,
}

const BUCKET_UPDATES: [&str; 3] = [
    "Bucket ACL updated",
    "Bucket policy updated",
    "Bucket retention updated",
];
const POLICY_UPDATES: [&str; 2] = [
    "IAM policy attached to user",
    "IAM policy detached from user",
];

fn floor_minute(t: i64) -> i64 {
    t - t.rem_euclid(60)
}

impl Cluster {
    /// Records an event at `now` (rounded down to the minute) and returns it.
    pub fn record_event(&mut self, r: EventRequest, now: i64) -> AuditEvent {
        let seq = self.audit.recorded.len() as u64;
        let e = AuditEvent {
            id: format!(
                "urn:storageos:Event:{}",
                uuid(self.cfg.seed, &[K_EVENT, u64::MAX, seq])
            ),
            description: r
                .description
                .unwrap_or_else(|| format!("{} {}", r.service_type, r.event_type)),
            event_type: r.event_type,
            user_id: r.user_id.unwrap_or_else(|| super::ROOT_USER.0.to_owned()),
            service_type: r.service_type,
            resource_id: r.resource_id,
            timestamp: floor_minute(now),
            namespace: r.namespace,
        };
        self.audit.recorded.push(e.clone());
        e
    }

    fn record_change(
        &mut self,
        namespace: &str,
        service: &str,
        kind: &str,
        resource: &str,
        now: i64,
    ) {
        self.record_event(
            EventRequest {
                namespace: namespace.to_owned(),
                service_type: service.to_owned(),
                event_type: kind.to_owned(),
                user_id: None,
                resource_id: resource.to_owned(),
                description: None,
            },
            now,
        );
    }

    /// Adds a namespace at `now` (see `add_namespace`): its creation and its buckets'
    /// are recorded, and its background activity starts then.
    pub fn add_namespace_at(&mut self, name: Option<&str>, buckets: usize, now: i64) -> String {
        let n = self.add_namespace(name, buckets);
        let mut names = Vec::new();
        if let Some(ns) = self.namespaces.get_mut(&n) {
            ns.audit_since = now;
            names.extend(ns.buckets.keys().cloned());
        }
        self.record_change(&n, "Namespace", "Created", &n, now);
        for b in names {
            self.record_change(&n, "Bucket", "Created", &b, now);
        }
        n
    }

    /// Deletes a namespace at `now`, recording it; its history stays readable.
    pub fn delete_namespace_at(&mut self, name: &str, now: i64) -> bool {
        let Some(ns) = self.namespaces.remove(name) else {
            return false;
        };
        self.audit.retired.push(Retired {
            name: ns.name.clone(),
            index: ns.index,
            since: ns.audit_since,
            until: now,
        });
        self.record_change(name, "Namespace", "Deleted", name, now);
        true
    }

    pub fn add_bucket_at(&mut self, namespace: &str, now: i64) -> Option<String> {
        let b = self.add_bucket(namespace)?;
        self.record_change(namespace, "Bucket", "Created", &b, now);
        Some(b)
    }

    pub fn delete_bucket_at(&mut self, namespace: &str, bucket: &str, now: i64) -> bool {
        let deleted = self.delete_bucket(namespace, bucket);
        if deleted {
            self.record_change(namespace, "Bucket", "Deleted", bucket, now);
        }
        deleted
    }

    /// The events of `namespace` with `from <= timestamp <= to` at minute precision
    /// (seconds since the epoch), ordered by (timestamp, id) as the API lists them. The
    /// background has no end: the API asks only up to the model's now.
    pub fn audit_events(&self, namespace: &str, from: i64, to: i64) -> Vec<AuditEvent> {
        let (from, to) = (floor_minute(from), floor_minute(to));
        let mut out: Vec<AuditEvent> = self
            .audit
            .recorded
            .iter()
            .filter(|e| e.namespace == namespace && (from..=to).contains(&e.timestamp))
            .cloned()
            .collect();
        let current = self
            .namespaces
            .get(namespace)
            .map(|ns| (ns.index, ns.audit_since, i64::MAX));
        let retired = self
            .audit
            .retired
            .iter()
            .filter(|r| r.name == namespace)
            .map(|r| (r.index, r.since, r.until));
        for (index, since, until) in current.into_iter().chain(retired) {
            // Background minutes lie strictly between the namespace's creation and
            // deletion minutes, which have recorded events of their own.
            let first = from.max(floor_minute(since).saturating_add(60));
            let last = to.min(floor_minute(until).saturating_sub(60));
            let mut t = first;
            while t <= last {
                if let Some(e) = self.background_event(namespace, index, t) {
                    out.push(e);
                }
                let Some(next) = t.checked_add(60) else {
                    break;
                };
                t = next;
            }
        }
        out.sort_by(|a, b| a.key().cmp(&b.key()));
        out
    }

    /// The background event of a namespace (by index) at minute `t`, if there is one.
    fn background_event(&self, namespace: &str, index: u64, t: i64) -> Option<AuditEvent> {
        let seed = self.cfg.seed;
        let minute = (t / 60) as u64;
        let hh = h(seed, &[K_EVENT, index, minute]);
        if hh % BACKGROUND_EVERY != 0 {
            return None;
        }
        let pick = |shift: u32, len: usize| ((hh >> shift) as usize) % len.max(1);
        let ns = self.namespaces.get(namespace).filter(|n| n.index == index);
        let bucket = ns.and_then(|n| n.buckets.values().nth(pick(20, n.buckets.len())));
        let user = ns.and_then(|n| n.iam.users.get(pick(24, n.iam.users.len())));
        let policy = ns.and_then(|n| n.iam.policies.get(pick(28, n.iam.policies.len())));
        let admin = self
            .mgmt_users
            .get(pick(40, self.mgmt_users.len()))
            .map_or(super::ROOT_USER.0, |u| u.id.as_str())
            .to_owned();
        let user_name = user.map_or_else(
            || format!("user-{:04x}", (hh >> 48) & 0xffff),
            |u| u.name.clone(),
        );
        // Buckets and users that came and went between two looks at the model.
        let scratch_bucket = format!("{namespace}-tmp{:04x}", (hh >> 32) & 0xffff);
        let owner = bucket.map_or_else(|| user_name.clone(), |b| b.owner.clone());
        let (service, kind, resource, who, description) = match (hh >> 8) % 12 {
            0 => (
                "Bucket",
                "Created",
                scratch_bucket,
                owner,
                "Bucket Created".to_owned(),
            ),
            k @ 1..=3 => (
                "Bucket",
                "Updated",
                bucket.map_or(scratch_bucket, |b| b.name.clone()),
                owner,
                BUCKET_UPDATES[k as usize - 1].to_owned(),
            ),
            4 => (
                "Bucket",
                "Deleted",
                scratch_bucket,
                owner,
                "Bucket Deleted".to_owned(),
            ),
            5 => (
                "ObjectUser",
                "Created",
                user_name,
                admin,
                "ObjectUser Created".to_owned(),
            ),
            6 => (
                "ObjectUser",
                "Deleted",
                user_name,
                admin,
                "ObjectUser Deleted".to_owned(),
            ),
            k @ 7..=8 => {
                let key = user
                    .and_then(|u| u.keys.first())
                    .map_or_else(|| format!("AKIA{:016X}", mix_key(hh)), |k| k.id.clone());
                let kind = if k == 7 { "Created" } else { "Deleted" };
                (
                    "SecretKey",
                    kind,
                    key,
                    user_name,
                    format!("SecretKey {kind}"),
                )
            }
            k => {
                let name = policy.map_or_else(
                    || format!("policy-{:04x}", (hh >> 48) & 0xffff),
                    |p| p.name.clone(),
                );
                let (kind, description) = match k {
                    9 => ("Created", "IAM policy created".to_owned()),
                    10 => ("Updated", POLICY_UPDATES[pick(44, 2)].to_owned()),
                    _ => ("Deleted", "IAM policy deleted".to_owned()),
                };
                ("Policy", kind, name, admin, description)
            }
        };
        Some(AuditEvent {
            id: format!(
                "urn:storageos:Event:{}",
                uuid(seed, &[K_EVENT, index, minute])
            ),
            event_type: kind.to_owned(),
            user_id: who,
            service_type: service.to_owned(),
            resource_id: resource,
            timestamp: t,
            namespace: namespace.to_owned(),
            description,
        })
    }
}

fn mix_key(hh: u64) -> u64 {
    crate::ids::mix(hh)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::ModelConfig;
    use super::*;

    const T: i64 = 1_796_014_800;

    #[test]
    fn about_one_background_event_per_namespace_per_twenty_minutes() {
        let c = Cluster::generate(&ModelConfig::small());
        let (from, to) = (T, T + 10 * 86_400);
        let mut total = 0;
        for ns in c.namespaces.keys() {
            let events = c.audit_events(ns, from, to);
            total += events.len();
            assert!(events.windows(2).all(|w| w[0].key() < w[1].key()));
            for e in &events {
                assert_eq!(e.timestamp % 60, 0);
                assert!((from..=to).contains(&e.timestamp));
                assert_eq!(&e.namespace, ns);
                assert!(e.id.starts_with("urn:storageos:Event:"));
            }
        }
        let expected = c.namespaces.len() * 10 * 1440 / BACKGROUND_EVERY as usize;
        assert!(
            total > expected * 8 / 10 && total < expected * 12 / 10,
            "{total} vs {expected}"
        );
        let kinds: BTreeSet<_> = c
            .audit_events("ns0001", from, to)
            .into_iter()
            .map(|e| (e.service_type, e.event_type))
            .collect();
        assert!(kinds.len() >= 8, "{kinds:?}");
    }

    #[test]
    fn windows_are_inclusive_at_minute_precision_and_deterministic() {
        let c = Cluster::generate(&ModelConfig::small());
        let all = c.audit_events("ns0002", T, T + 86_400);
        let e = &all[3];
        // Seconds inside the event's minute still include it, at either end.
        assert_eq!(
            c.audit_events("ns0002", e.timestamp + 59, e.timestamp + 30),
            vec![e.clone()]
        );
        assert_eq!(
            Cluster::generate(&ModelConfig::small()).audit_events("ns0002", T, T + 86_400),
            all
        );
        assert!(
            c.audit_events("no-such-namespace", T, T + 86_400)
                .is_empty()
        );
    }

    #[test]
    fn changes_are_recorded_and_a_deleted_namespace_keeps_its_history() {
        let mut c = Cluster::generate(&ModelConfig::small());
        let now = T + 30;
        let n = c.add_namespace_at(Some("tenant-x"), 2, now);
        let created = c.audit_events(&n, now, now);
        assert_eq!(created.len(), 3);
        assert_eq!(
            created
                .iter()
                .map(|e| (e.service_type.as_str(), e.event_type.as_str()))
                .filter(|k| *k == ("Namespace", "Created"))
                .count(),
            1
        );
        assert!(
            created
                .iter()
                .all(|e| e.timestamp == T && e.user_id == "root")
        );
        // No background before the namespace existed.
        assert!(c.audit_events(&n, T - 86_400, T - 60).is_empty());
        let later = T + 86_400;
        let history = c.audit_events(&n, T, later);
        assert!(history.len() > 3);
        assert!(c.delete_namespace_at(&n, later));
        let after = c.audit_events(&n, T, later + 86_400);
        assert_eq!(after.len(), history.len() + 1);
        let last = after.last().unwrap();
        assert_eq!(
            (last.service_type.as_str(), last.event_type.as_str()),
            ("Namespace", "Deleted")
        );
        let b = c.add_bucket_at("ns0001", later).unwrap();
        assert!(c.delete_bucket_at("ns0001", &b, later));
        let kinds: Vec<_> = c
            .audit_events("ns0001", later, later)
            .into_iter()
            .filter(|e| e.resource_id == b)
            .map(|e| e.event_type)
            .collect();
        assert_eq!(kinds.len(), 2);
    }
}
