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

/// The Flux reader over an answer's text.
fn flux_parse(v: &Value, tags: &[&str]) -> Result<flux::Table, String> {
    flux::read(v.to_string().as_bytes(), tags).map_err(|e| format!("{e:?}"))
}

/// The Flux reader as it was over a `Value` tree: the oracle the typed reader must agree
/// with, whatever the answer.
fn flux_tree(answer: &Value, tags: &[&str]) -> Result<Vec<flux::Row>, usize> {
    let Some(series) = answer.get("Series").and_then(Value::as_array) else {
        return Err(usize::MAX);
    };
    let mut rows = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let (columns, values) = match (s.get("Columns"), s.get("Values")) {
            (None | Some(Value::Null), None | Some(Value::Null)) => continue,
            (Some(Value::Array(c)), Some(Value::Array(v))) => (c, v),
            (Some(Value::Array(_)), None | Some(Value::Null)) => continue,
            _ => return Err(i),
        };
        let names: Vec<&str> = columns.iter().map(|c| c.as_str().unwrap_or("")).collect();
        let find = |name: &str| names.iter().position(|n| *n == name);
        let (Some(time), Some(value), Some(field)) =
            (find("_time"), find("_value"), find("_field"))
        else {
            return Err(i);
        };
        for row in values {
            let Some(row) = row.as_array() else { continue };
            let cell = |i: usize| row.get(i).and_then(Value::as_str);
            let v = match row.get(value) {
                Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
                Some(Value::Number(n)) => n.as_f64(),
                _ => None,
            };
            let Some(v) = v.filter(|v| v.is_finite()) else {
                continue;
            };
            let (Some(t), Some(f)) = (
                cell(time).and_then(pipeline::timefmt::parse_minute),
                cell(field),
            ) else {
                continue;
            };
            rows.push(flux::Row {
                time: t,
                field: f.to_owned(),
                value: v,
                tags: tags
                    .iter()
                    .map(|t| find(t).and_then(cell).unwrap_or("").to_owned())
                    .collect(),
            });
        }
    }
    Ok(rows)
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
        if let Ok(t) = flux_parse(&answer, &tags) {
            prop_assert!(t.rows.len() + t.skipped <= answer.to_string().len());
        }
        let wrapped = json!({"Series": [answer]});
        let _ = flux_parse(&wrapped, &tags);
    }

    /// The typed reader reads what the tree reader read: the same rows, or an error.
    #[test]
    fn flux_reader_agrees_with_the_tree(
        answer in json_value(),
        series in json_value(),
        tags in prop::collection::vec(prop_oneof![Just("_field".to_owned()), "[a-z_]{0,5}"], 0..3),
    ) {
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        for a in [answer, json!({"Series": [series.clone()]}), json!({"Series": [{"Columns": ["_time", "_value", "_field", "x"], "Values": series}]})] {
            let typed = flux_parse(&a, &tags).map(|t| t.rows);
            let tree = flux_tree(&a, &tags);
            prop_assert_eq!(typed.is_ok(), tree.is_ok(), "{}", a);
            if let (Ok(x), Ok(y)) = (typed, tree) {
                prop_assert_eq!(x, y);
            }
        }
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
        let t = flux_parse(&answer, &["head"]).unwrap();
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

mod billing_oracle {
    //! The bulk billing reader as it was over a `Value` tree: the oracle the typed reader
    //! must agree with.
    use receiver_ecs::billing::fetch::{Answer, BucketFigures, Item, NamespaceFigures};
    use receiver_ecs::client::parse::{list, num, text, uint};
    use serde_json::Value;

    fn kb(v: &Value) -> Option<u64> {
        num(v)
            .filter(|k| *k >= 0.0)
            .map(|k| (k * 1024.0).round() as u64)
    }

    fn bucket(b: &Value) -> Option<BucketFigures> {
        let wrapped = b["TagSet"].get("Tag").is_some();
        let tags = list(
            if wrapped { &b["TagSet"] } else { b },
            if wrapped { "Tag" } else { "TagSet" },
        )
        .iter()
        .filter_map(|t| {
            Some((
                text(&t["Key"])?.to_owned(),
                text(&t["Value"]).unwrap_or("").to_owned(),
            ))
        })
        .collect();
        Some(BucketFigures {
            name: text(&b["name"])?.to_owned(),
            vpool: text(&b["vpool_id"]).unwrap_or("").to_owned(),
            size: kb(&b["total_size"])?,
            objects: uint(&b["total_objects"]).unwrap_or(0),
            mpu_size: kb(&b["total_mpu_size"]).unwrap_or(0),
            mpu_parts: uint(&b["total_mpu_parts"]).unwrap_or(0),
            tags,
        })
    }

    fn items<'a>(v: &'a Value, root: &str) -> Vec<&'a Value> {
        let list_key = [format!("{root}s"), format!("{root}_infos")]
            .into_iter()
            .find(|k| v.get(k).is_some())
            .unwrap_or_default();
        match v.get(&list_key) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) if o.get(root).is_some() => list(o, root),
            Some(o @ Value::Object(_)) => vec![o],
            _ => match v {
                Value::Array(a) => a.iter().collect(),
                _ => list(v, root),
            },
        }
    }

    /// The namespaces read, or the kind of error.
    pub fn read_info(v: &Value) -> Result<Vec<Item<NamespaceFigures>>, &'static str> {
        let keys = [
            "namespace_billing_infos",
            "namespace_billing_info_infos",
            "namespace_billing_info",
        ];
        if !v.is_array() && !keys.iter().any(|k| v.get(k).is_some()) {
            return Err("missing_fields");
        }
        let mut out = Vec::new();
        for item in items(v, "namespace_billing_info") {
            let Some(name) = text(&item["namespace"]).map(str::to_owned) else {
                return Err("malformed");
            };
            if text(&item["valid_namespace"]).is_some_and(|v| v.eq_ignore_ascii_case("false")) {
                out.push((Answer::Gone(name), None));
                continue;
            }
            let Some(size) = kb(&item["total_size"]) else {
                return Err("malformed");
            };
            let marker = text(&item["next_marker"])
                .or_else(|| text(&item["NextMarker"]))
                .map(str::to_owned);
            out.push((
                Answer::Found(NamespaceFigures {
                    size,
                    objects: uint(&item["total_objects"]).unwrap_or(0),
                    mpu_size: kb(&item["total_mpu_size"]).unwrap_or(0),
                    mpu_parts: uint(&item["total_mpu_parts"]).unwrap_or(0),
                    uptodate: text(&item["uptodate_till"])
                        .and_then(pipeline::timefmt::parse_minute),
                    buckets: list(item, "bucket_billing_info")
                        .into_iter()
                        .filter_map(bucket)
                        .collect(),
                    name,
                }),
                marker,
            ));
        }
        Ok(out)
    }
}

/// A field's value in any of the shapes ECS (or a broken proxy) might send.
fn billing_scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<u32>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (0.0f64..1e9).prop_map(Value::from),
        "[0-9]{1,6}(\\.[0-9]{1,3})?".prop_map(Value::String),
        prop_oneof![
            Just("N/A"),
            Just("false"),
            Just("FALSE"),
            Just(" "),
            Just("2026-11-30T05:04:00Z")
        ]
        .prop_map(|s| Value::String(s.into())),
        "[a-z ]{0,4}".prop_map(Value::String),
        Just(json!([1, "a"])),
        Just(json!({"a": 1})),
    ]
    .boxed()
}

/// An object with some of `keys`, each with a value from `value`.
fn some_of(keys: &'static [&'static str], value: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop::collection::vec((prop::sample::select(keys), value), 0..keys.len() + 2)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
        .boxed()
}

/// A list the way ECS may write it: an array (with the odd non-object), one object, or
/// something else.
fn listish(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        prop::collection::vec(prop_oneof![4 => item.clone(), 1 => billing_scalar()], 0..4)
            .prop_map(Value::Array),
        item,
        billing_scalar(),
    ]
    .boxed()
}

fn bulk_info() -> impl Strategy<Value = Value> {
    let tag = some_of(&["Key", "Value"], billing_scalar());
    let tag_set = prop_oneof![
        listish(tag.clone()),
        listish(tag).prop_map(|l| json!({ "Tag": l })),
    ]
    .boxed();
    let bucket = (
        some_of(
            &[
                "name",
                "vpool_id",
                "total_size",
                "total_objects",
                "total_mpu_size",
                "total_mpu_parts",
            ],
            billing_scalar(),
        ),
        proptest::option::of(tag_set),
    )
        .prop_map(|(mut b, t)| {
            if let (Some(t), Some(o)) = (t, b.as_object_mut()) {
                o.insert("TagSet".into(), t);
            }
            b
        })
        .boxed();
    let item = (
        some_of(
            &[
                "namespace",
                "valid_namespace",
                "total_size",
                "total_objects",
                "total_mpu_size",
                "total_mpu_parts",
                "uptodate_till",
                "next_marker",
                "NextMarker",
            ],
            billing_scalar(),
        ),
        proptest::option::of(listish(bucket)),
    )
        .prop_map(|(mut i, b)| {
            if let (Some(b), Some(o)) = (b, i.as_object_mut()) {
                o.insert("bucket_billing_info".into(), b);
            }
            i
        })
        .boxed();
    let list = listish(item);
    prop_oneof![
        list.clone()
            .prop_map(|l| json!({ "namespace_billing_infos": l })),
        list.clone()
            .prop_map(|l| json!({ "namespace_billing_info_infos": l })),
        list.clone()
            .prop_map(|l| json!({ "namespace_billing_info": l })),
        list.clone()
            .prop_map(|l| json!({ "namespace_billing_infos": { "namespace_billing_info": l } })),
        list.clone()
            .prop_map(|l| json!({ "namespace_billing_infos": null, "namespace_billing_info": l })),
        list,
        Just(json!({})),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// The typed billing reader reads what the tree reader read: the same namespaces and
    /// buckets, or the same kind of error.
    #[test]
    fn billing_reader_agrees_with_the_tree(v in bulk_info()) {
        let typed = receiver_ecs::billing::fetch::read_info(v.to_string().as_bytes())
            .map_err(|e| e.kind());
        let tree = billing_oracle::read_info(&v);
        prop_assert_eq!(typed, tree, "{}", v);
    }
}
