//! The audit collector against the simulator: every audit event of every namespace and
//! every newly raised alert as one log record and in the counters, once each across
//! cycles, a restart, and a read that stopped half-way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ecs_sim::model::alerts::AlertRequest;
use ecs_sim::model::audit::{AuditEvent, EventRequest};
use ecs_sim::{FaultRule, Version};
use pipeline::Snapshot;
use pipeline::otlp::common::v1::any_value::Value as Any;
use pipeline::otlp::logs::v1::LogRecord;
use receiver_ecs::CollectorKind::Audit;
use support::expect::{Expect, client_metric};
use support::*;
use testkit::TempDir;

/// A frozen cluster with only the audit collector, reading an hour back on its first
/// start and keeping its state in `dir`.
async fn audit_env(version: Version, dir: &TempDir) -> Env {
    let mut env = start_frozen(version, |_| {}).await;
    let c = &mut env.cfg.collectors;
    c.dashboard.schedule.enabled = false;
    c.node_stats.schedule.enabled = false;
    c.audit.schedule.enabled = true;
    c.audit.initial_lookback = Duration::from_secs(3600);
    c.audit.state_file = Some(dir.path().join("audit.json"));
    env
}

fn now_minute(env: &Env) -> i64 {
    env.sim.sim.clock.now() / 60 * 60
}

fn records(s: &Snapshot) -> Vec<&LogRecord> {
    s.resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| &sl.log_records)
        .collect()
}

fn attr(r: &LogRecord, key: &str) -> String {
    match r
        .attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
    {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Every event of every namespace of the model in `[from, to]`, by id.
fn model_events(env: &Env, from: i64, to: i64) -> BTreeMap<String, AuditEvent> {
    let m = env.sim.model();
    m.namespaces
        .keys()
        .flat_map(|ns| m.audit_events(ns, from, to))
        .map(|e| (e.id.clone(), e))
        .collect()
}

/// The privileged operation of an event, as docs/AUDIT.md maps the simulator's types.
fn privileged(e: &AuditEvent) -> Option<&'static str> {
    let d = e.description.to_ascii_lowercase();
    Some(match (e.service_type.as_str(), e.event_type.as_str()) {
        ("Bucket", "Deleted") => "DeleteBucket",
        ("Bucket", "Updated") if d.contains("policy") => "PutBucketPolicy",
        ("Bucket", "Updated") if d.contains("acl") => "PutBucketAcl",
        ("Bucket", "Updated") if d.contains("retention") => "PutBucketRetention",
        ("Namespace", "Created") => "CreateNamespace",
        ("Namespace", "Deleted") => "DeleteNamespace",
        ("Policy", "Created") => "CreatePolicy",
        ("Policy", "Updated") => "UpdatePolicy",
        ("Policy", "Deleted") => "DeletePolicy",
        ("ObjectUser", "Created") => "CreateUser",
        ("ObjectUser", "Deleted") => "DeleteUser",
        ("SecretKey", "Created") => "CreateAccessKey",
        ("SecretKey", "Deleted") => "DeleteAccessKey",
        _ => return None,
    })
}

/// The counters after `seen`: events by namespace, service and event type, and the
/// privileged operations among them.
fn counters(seen: &BTreeMap<String, AuditEvent>) -> Expect {
    let mut events: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    let mut ops: BTreeMap<(String, &str), f64> = BTreeMap::new();
    for e in seen.values() {
        *events
            .entry((
                e.namespace.clone(),
                e.service_type.clone(),
                e.event_type.clone(),
            ))
            .or_default() += 1.0;
        if let Some(op) = privileged(e) {
            *ops.entry((e.namespace.clone(), op)).or_default() += 1.0;
        }
    }
    let mut x = Expect::default();
    for ((ns, st, et), n) in events {
        x.set_at(
            "emcecs.audit.events",
            &[
                ("namespace", &ns),
                ("service_type", &st),
                ("event_type", &et),
            ],
            n,
            None,
            None,
        );
    }
    for ((ns, op), n) in ops {
        x.set_at(
            "emcecs.namespace.privileged_operations",
            &[("namespace", &ns), ("operation", op)],
            n,
            None,
            None,
        );
    }
    x
}

/// Compares the cycle's log records with `want` (one each) and checks each against its
/// event; returns their ids.
fn check_records(
    s: &Snapshot,
    want: &BTreeMap<String, AuditEvent>,
    what: &str,
) -> BTreeSet<String> {
    let got: Vec<&LogRecord> = records(s)
        .into_iter()
        .filter(|r| r.event_name == "ecs.audit")
        .collect();
    let ids: Vec<String> = got.iter().map(|r| attr(r, "ecs.audit.id")).collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "{what}: an event logged twice");
    let want_ids: BTreeSet<String> = want.keys().cloned().collect();
    assert_eq!(unique, want_ids, "{what}: events logged");
    for r in got {
        let e = &want[&attr(r, "ecs.audit.id")];
        assert_eq!(
            r.time_unix_nano,
            e.timestamp as u64 * 1_000_000_000,
            "{what}"
        );
        assert_eq!(attr(r, "ecs.namespace"), e.namespace);
        assert_eq!(attr(r, "ecs.audit.service_type"), e.service_type);
        assert_eq!(attr(r, "ecs.audit.event_type"), e.event_type);
        assert_eq!(attr(r, "user.id"), e.user_id);
        assert_eq!(attr(r, "ecs.audit.resource"), e.resource_id);
        let body = match r.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(Any::StringValue(s)) => s.clone(),
            _ => String::new(),
        };
        assert_eq!(body, e.description);
        let op = privileged(e);
        assert_eq!(
            attr(r, "ecs.audit.privileged_operation"),
            op.unwrap_or(""),
            "{what}: {e:?}"
        );
        assert_eq!(r.severity_text, if op.is_some() { "WARN" } else { "INFO" });
    }
    unique
}

fn check_counters(s: &Snapshot, seen: &BTreeMap<String, AuditEvent>, what: &str) {
    let audit_counter =
        |n: &str| n == "emcecs.audit.events" || n == "emcecs.namespace.privileged_operations";
    expect::compare(
        s,
        &counters(seen),
        |n| client_metric(n) || !audit_counter(n),
        what,
    );
}

#[tokio::test]
async fn every_event_once_across_cycles_and_a_restart() {
    for version in [Version::Ecs38, Version::ObjectScale41] {
        let dir = TempDir::new("audit-state");
        let env = audit_env(version, &dir).await;
        let origin = now_minute(&env) - 3600;
        let cs = env.collectors();
        let s = ok_at(&env, &of(&cs, Audit), 1).await;
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let mut seen = model_events(&env, origin, now_minute(&env));
        assert!(
            seen.len() > 3,
            "the model's background has events: {}",
            seen.len()
        );
        check_records(&s, &seen, "first cycle");
        check_counters(&s, &seen, "first cycle");
        assert_eq!(value(&s, "emcecs.audit.lag", &[]), 0.0);

        // Ten minutes on, a bucket deleted through the API and an alert raised.
        env.sim.sim.clock.advance(600);
        let now = env.sim.sim.clock.now();
        let (ns, bucket) = {
            let m = env.sim.model();
            let (ns, n) = m
                .namespaces
                .iter()
                .find(|(_, n)| !n.buckets.is_empty())
                .unwrap();
            (ns.clone(), n.buckets.keys().next().unwrap().clone())
        };
        assert!(env.sim.sim.model_mut().delete_bucket_at(&ns, &bucket, now));
        let alert = {
            let mut m = env.sim.sim.model_mut();
            let a = m
                .raise_alert(
                    AlertRequest {
                        severity: "CRITICAL".into(),
                        kind: "DiskFailure".into(),
                        description: "disk 3 of node 1 failed".into(),
                        namespace: None,
                        symptom_code: Some(2001),
                    },
                    now,
                )
                .unwrap();
            a.id.clone()
        };
        let s = ok_at(&env, &of(&cs, Audit), 2).await;
        let all = model_events(&env, origin, now_minute(&env));
        let new: BTreeMap<String, AuditEvent> = all
            .iter()
            .filter(|(id, _)| !seen.contains_key(*id))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert!(
            new.values()
                .any(|e| e.resource_id == bucket && e.event_type == "Deleted")
        );
        check_records(&s, &new, "second cycle");
        seen.extend(new);
        check_counters(&s, &seen, "second cycle");
        let alerts: Vec<&LogRecord> = records(&s)
            .into_iter()
            .filter(|r| r.event_name == "ecs.alert")
            .collect();
        assert_eq!(alerts.len(), 1, "the alert raised, once");
        assert_eq!(attr(alerts[0], "ecs.alert.id"), alert);
        assert_eq!(alerts[0].severity_text, "CRITICAL");
        assert_eq!(
            value(&s, "emcecs.alerts.raised", &[("severity", "critical")]),
            1.0
        );
        finish(&env, &cs).await;

        // A restarted agent (new collectors, the same state file) goes on from there.
        env.sim.sim.clock.advance(600);
        let cs = env.collectors();
        let s = ok_at(&env, &of(&cs, Audit), 1).await;
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let all = model_events(&env, origin, now_minute(&env));
        let new: BTreeMap<String, AuditEvent> = all
            .iter()
            .filter(|(id, _)| !seen.contains_key(*id))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        check_records(&s, &new, "after the restart");
        check_counters(&s, &new, "after the restart (counters start again)");
        assert!(
            !records(&s).iter().any(|r| r.event_name == "ecs.alert"),
            "the alert is not raised again"
        );
        finish(&env, &cs).await;
    }
}

#[tokio::test]
async fn a_read_stopped_half_way_keeps_what_it_read_and_repeats_nothing() {
    let dir = TempDir::new("audit-state");
    let mut env = audit_env(Version::Ecs38, &dir).await;
    env.cfg.collectors.audit.page_size = 1;
    env.cfg.collectors.audit.alerts = false;
    let origin = now_minute(&env) - 3600;
    // Every third call fails: most namespaces stop somewhere in their pages.
    env.sim.sim.faults.update(|f| {
        f.rules.push(FaultRule {
            path: "/vdc/events".into(),
            error_rate: 1.0 / 3.0,
            ..FaultRule::default()
        })
    });
    let cs = env.collectors();
    let audit = of(&cs, Audit);
    let first = match run_at(&audit, 1, Duration::from_secs(20), env.sim_time()).await {
        Ok(s) => s,
        Err(e) => *e.partial.unwrap(),
    };
    assert!(!first.warnings.is_empty());
    let all = model_events(&env, origin, now_minute(&env));
    let first_ids: BTreeSet<String> = records(&first)
        .iter()
        .map(|r| attr(r, "ecs.audit.id"))
        .collect();
    assert!(
        !first_ids.is_empty() && first_ids.len() < all.len(),
        "{} of {}",
        first_ids.len(),
        all.len()
    );
    env.sim.sim.faults.update(|f| f.rules.clear());
    let second = ok_at(&env, &audit, 2).await;
    let rest: BTreeMap<String, AuditEvent> = all
        .iter()
        .filter(|(id, _)| !first_ids.contains(*id))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check_records(&second, &rest, "the rest, once");
    check_counters(&second, &all, "every event counted once");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn privileged_operations_are_counted_and_logged_as_warnings() {
    let dir = TempDir::new("audit-state");
    let env = audit_env(Version::Ecs38, &dir).await;
    let cs = env.collectors();
    let audit = of(&cs, Audit);
    ok_at(&env, &audit, 1).await;
    env.sim.sim.clock.advance(60);
    let ns = env.sim.model().namespaces.keys().next().unwrap().clone();
    let now = env.sim.sim.clock.now();
    let key = env.sim.sim.model_mut().record_event(
        EventRequest {
            namespace: ns.clone(),
            service_type: "SecretKey".into(),
            event_type: "Created".into(),
            user_id: Some("alice@corp".into()),
            resource_id: "alice".into(),
            description: None,
        },
        now,
    );
    let s = ok_at(&env, &audit, 2).await;
    let r = records(&s)
        .into_iter()
        .find(|r| attr(r, "ecs.audit.id") == key.id)
        .expect("the new key's event is logged");
    assert_eq!(attr(r, "ecs.audit.privileged_operation"), "CreateAccessKey");
    assert_eq!(attr(r, "user.id"), "alice@corp");
    assert_eq!(r.severity_text, "WARN");
    assert!(
        value(
            &s,
            "emcecs.namespace.privileged_operations",
            &[("namespace", &ns), ("operation", "CreateAccessKey")]
        ) >= 1.0
    );
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_state_file_that_does_not_parse_is_named_and_nothing_is_repeated() {
    let dir = TempDir::new("audit-state");
    let env = audit_env(Version::Ecs38, &dir).await;
    std::fs::write(dir.path().join("audit.json"), b"{ not json").unwrap();
    let cs = env.collectors();
    let s = ok_at(&env, &of(&cs, Audit), 1).await;
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("audit.json"), "{}", s.warnings[0]);
    // Starting from now: only the current minute's events, not the hour before.
    let now = now_minute(&env);
    check_records(&s, &model_events(&env, now, now), "from now");
    // The state is written again, whole.
    let saved = std::fs::read_to_string(dir.path().join("audit.json")).unwrap();
    assert!(saved.contains("\"namespaces\""), "{saved}");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_stop_longer_than_max_catch_up_is_read_back_that_far_and_the_rest_is_a_gap() {
    let dir = TempDir::new("audit-state");
    let mut env = audit_env(Version::Ecs38, &dir).await;
    env.cfg.collectors.audit.max_catch_up = Duration::from_secs(3600);
    env.cfg.collectors.audit.initial_lookback = Duration::ZERO;
    let cs = env.collectors();
    let audit = of(&cs, Audit);
    let s = ok_at(&env, &audit, 1).await;
    assert_eq!(value(&s, "emcecs.audit.gap", &[]), 0.0);
    env.sim.sim.clock.advance(3 * 3600);
    let s = ok_at(&env, &audit, 2).await;
    let now = now_minute(&env);
    check_records(&s, &model_events(&env, now - 3600, now), "the last hour");
    assert_eq!(value(&s, "emcecs.audit.gap", &[]), 2.0 * 3600.0);
    finish(&env, &cs).await;
}
