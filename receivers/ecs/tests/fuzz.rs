//! Fuzz tests of what the ECS receiver reads from answers: DTInitStat and ping documents,
//! IAM policy documents, Flux answers and audit event pages. Whatever the answer, no panic
//! and no more output than it holds. `PROPTEST_CASES` sets the number of cases
//! (scripts/fuzz runs many more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use receiver_ecs::audit::{Alert, Event};
use receiver_ecs::iam::policy;
use receiver_ecs::node_stats;
use receiver_ecs::performance::flux;
use serde_json::{Map, Value, json};

/// The default case count unless `PROPTEST_CASES` says otherwise; no regression files
/// written into the source tree (a failure prints its input, which becomes a test).
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c.failure_persistence = None;
    c
}

/// Timestamps as ECS writes them, and near misses (signs, huge fields, extra parts).
fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?Z?",
        "-?[0-9]{1,20}-[+-]?[0-9]{1,3}-[+-]?[0-9]{1,3}T[+-]?[0-9]{1,20}:[+-]?[0-9]{1,20}(:[+-]?[0-9]{1,20}(\\.[0-9]{0,3})?)?(:[0-9])?Z?",
        any::<String>(),
    ]
}

/// Any JSON value, a few levels deep, with the member names the readers look for.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "Series",
            "Columns",
            "Values",
            "_time",
            "_value",
            "_field",
            "head",
            "auditevents",
            "auditevent",
            "alerts",
            "alert",
            "id",
            "timestamp",
            "NextMarker",
            "namespace",
            "symptomCode",
            "acknowledged",
            "Statement",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "Condition",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z_]{0,4}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        timestamp().prop_map(Value::String),
        prop::sample::select(vec![
            "_time", "_value", "_field", "Allow", "Deny", "*", "iam:*", "s3:*", "*:*", "**",
            "?am:*", "s3:Get*", "12.5", "NaN", "inf", "-0",
        ])
        .prop_map(|s| Value::String(s.into())),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// XML-shaped text with DTInitStat's and ping's element names.
fn xmlish() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "entry",
        "type",
        "total_dt_num",
        "unready_dt_num",
        "unknown_dt_num",
        "PingList",
        "PingItem",
        "Name",
        "Value",
        "Status",
        "x",
    ]);
    let piece = prop_oneof![
        name.clone().prop_map(|n| format!("<{n}>")),
        name.prop_map(|n| format!("</{n}>")),
        "[ 0-9.eE+-]{0,22}",
        prop::sample::select(vec![
            "LOAD_FACTOR",
            "MAINTENANCE_MODE",
            "ON",
            "off",
            "&amp;",
            "<x/>"
        ])
        .prop_map(str::to_owned),
        "[^<&]{0,6}",
        "[<>&/]",
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
        any::<String>(),
    ]
}

/// A DTInitStat document with these typed entries and maybe a total one.
fn dt_document(entries: &[(u64, u64, u64)], total: Option<(u64, u64, u64)>) -> String {
    let entry = |(t, r, k): (u64, u64, u64), ty: Option<&str>| {
        let ty = ty.map(|t| format!("<type>{t}</type>")).unwrap_or_default();
        format!(
            "<entry>{ty}<total_dt_num>{t}</total_dt_num><unready_dt_num>{r}</unready_dt_num><unknown_dt_num>{k}</unknown_dt_num></entry>"
        )
    };
    let mut s = String::from("<?xml version=\"1.0\"?><ns2:DirectoryTableInitStat xmlns:ns2=\"x\">");
    for (i, e) in entries.iter().enumerate() {
        s.push_str(&entry(*e, Some(&format!("T{i}"))));
    }
    if let Some(t) = total {
        s.push_str(&entry(t, None));
    }
    s.push_str("</ns2:DirectoryTableInitStat>");
    s
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn dtinitstat_and_ping_never_panic(body in xmlish()) {
        let _ = node_stats::dt_totals(&body);
        let _ = node_stats::ping(&body);
        let _ = node_stats::node_address(&body);
    }

    /// The total entry when there is one, else the sum of the typed ones (saturating).
    #[test]
    fn dtinitstat_totals_read_back(
        entries in prop::collection::vec(any::<(u64, u64, u64)>(), 1..6),
        total in proptest::option::of(any::<(u64, u64, u64)>()),
    ) {
        let got = node_stats::dt_totals(&dt_document(&entries, total)).unwrap();
        let want = total.unwrap_or_else(|| entries.iter().fold((0u64, 0u64, 0u64), |a, e| {
            (a.0.saturating_add(e.0), a.1.saturating_add(e.1), a.2.saturating_add(e.2))
        }));
        prop_assert_eq!(got, want);
    }

    #[test]
    fn policy_documents_never_panic(doc in prop_oneof![
        any::<String>(),
        "[%+a-zA-Z0-9{}\\[\\]\":,*]{0,40}",
        json_value().prop_map(|v| v.to_string()),
    ]) {
        if let Ok(v) = policy::decode(&doc) {
            let grants = policy::over_privilege(&[v]);
            prop_assert!(grants.len() <= 3);
        }
    }

    /// Any JSON document reads the same raw and URL-encoded, as the IAM API sends it.
    #[test]
    fn policy_documents_decode_raw_and_encoded(v in json_value()) {
        let v = json!({"Version": "2012-10-17", "Statement": v});
        let text = v.to_string();
        // What JSON text holds (serde_json's floats need not survive text exactly).
        let v: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(policy::decode(&text).unwrap(), v.clone());
        prop_assert_eq!(policy::decode(&receiver_ecs::percent(&text)).unwrap(), v.clone());
        let grants = policy::over_privilege(&[v]);
        prop_assert!(grants.len() <= 3);
    }

    #[test]
    fn flux_answers_never_panic(answer in json_value(), tags in prop::collection::vec("[a-z_]{0,5}", 0..3)) {
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        if let Ok(t) = flux::parse(&answer, &tags) {
            prop_assert!(t.rows.len() + t.skipped <= answer.to_string().len());
        }
        let wrapped = json!({"Series": [answer]});
        let _ = flux::parse(&wrapped, &tags);
    }

    /// Rows of a well-formed answer come back, or are counted as skipped: none lost.
    #[test]
    fn flux_rows_are_read_or_counted(
        rows in prop::collection::vec((timestamp(), prop_oneof![
            any::<f64>().prop_map(|f| f.to_string()),
            any::<String>(),
        ], "[a-z_]{1,8}", "[A-Z0-9]{0,3}"), 0..12),
    ) {
        let values: Vec<Value> = rows
            .iter()
            .map(|(t, v, f, h)| json!([h, v, t, f]))
            .collect();
        let answer = json!({"Series": [{"Columns": ["head", "_value", "_time", "_field"], "Values": values}]});
        let t = flux::parse(&answer, &["head"]).unwrap();
        prop_assert_eq!(t.rows.len() + t.skipped, rows.len());
        for r in &t.rows {
            prop_assert!(r.value.is_finite());
        }
    }

    #[test]
    fn audit_pages_never_panic(v in json_value(), marker in proptest::option::of("[a-z0-9]{0,4}")) {
        let events = Event::page(&v, marker.as_deref());
        prop_assert!(events.items.len() + events.skipped <= v.to_string().len());
        let alerts = Alert::page(&v, marker.as_deref());
        prop_assert!(alerts.items.len() + alerts.skipped <= v.to_string().len());
        for wrapped in [json!({"auditevents": {"auditevent": v.clone()}}), json!({"alerts": {"alert": v.clone()}})] {
            let _ = Event::page(&wrapped, marker.as_deref());
            let _ = Alert::page(&wrapped, marker.as_deref());
        }
    }

    /// Every event with an id and a readable timestamp is kept, the others counted.
    #[test]
    fn audit_events_are_read_or_counted(
        events in prop::collection::vec((proptest::option::of("[a-z0-9-]{0,8}"), timestamp()), 0..10),
    ) {
        let list: Vec<Value> = events
            .iter()
            .map(|(id, t)| json!({"id": id, "timestamp": t, "namespace": "ns1", "eventType": "Create"}))
            .collect();
        let page = Event::page(&json!({"auditevents": {"auditevent": list}}), None);
        prop_assert_eq!(page.items.len() + page.skipped, events.len());
    }
}
