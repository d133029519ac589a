//! Fuzz tests of the lenient readers every ECS answer goes through: whatever the bytes,
//! no panic and an output no larger than the input allows. `PROPTEST_CASES` sets the
//! number of cases (scripts/fuzz runs many more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use pull::read::{json, xml};
use serde_json::{Map, Value};

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

/// Any JSON value, a few levels deep, with the keys the readers look for.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("_embedded".to_owned()),
        Just("_instances".to_owned()),
        Just("instances".to_owned()),
        Just("t".to_owned()),
        Just("Space".to_owned()),
        Just("xCurrent".to_owned()),
        Just("x".to_owned()),
        "[a-z_]{0,4}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ 0-9.eE+-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("N/A"),
            Just("null"),
            Just("true"),
            Just("no"),
            Just(" 4 ")
        ]
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

/// XML-shaped text: tags, attributes, text, entities and CDATA in any order (most of it
/// unbalanced), and sometimes plain noise.
fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "<[a-zA-Z:]{1,4}( [a-z:]{1,5}=\"[^\"<&]{0,4}\")?>",
        "</[a-zA-Z:]{1,4}>",
        "<[a-z]{1,3} ?/>",
        "[^<&]{0,6}",
        "&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]{0,8}|#[0-9]{0,12}|[a-z]{0,4});",
        "<!\\[CDATA\\[[^\\]]{0,4}\\]\\]>",
        "<\\?xml version=\"1.0\"\\?>",
        "<!--[a-z]{0,3}-->",
        "[<>&\"'/!?=]",
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
        any::<String>(),
    ]
}

/// The tree a text reads into is no more than a small multiple of its size.
fn bounded(input: &str, v: &Value) -> bool {
    serde_json::to_string(v).unwrap().len() <= 16 * input.len() + 64
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn xml_never_panics_and_stays_bounded(text in xmlish()) {
        for (name, v) in [xml::parse(&text), xml::parse_with_attributes(&text)].into_iter().flatten() {
            prop_assert!(name.len() <= text.len());
            prop_assert!(bounded(&text, &v), "{} bytes from {}", serde_json::to_string(&v).unwrap().len(), text.len());
        }
    }

    #[test]
    fn json_readers_never_panic(v in json_value(), key in "[a-z_]{0,4}") {
        let _ = (json::num(&v), json::uint(&v), json::int(&v), json::text(&v), json::boolish(&v));
        let _ = (json::latest(&v), json::current(&v, "x"), json::current(&v, &key));
        let _ = json::unwrap(&v, &key);
        let listed = json::list(&v, &key);
        match v.get(&key) {
            Some(Value::Array(a)) => prop_assert_eq!(listed.len(), a.len()),
            Some(Value::Object(_)) => prop_assert_eq!(listed.len(), 1),
            _ => prop_assert!(listed.is_empty()),
        }
        let items = json::instances(&v);
        prop_assert!(items.len() <= serde_json::to_string(&v).unwrap().len());
        for item in items {
            let _ = (json::num(item), json::uint(item), json::text(item));
        }
    }

    /// Every member of any object reads back through the list and text helpers as it is.
    #[test]
    fn object_members_round_trip(
        members in prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..8)
    ) {
        let v = Value::Object(members.clone().into_iter().collect());
        for (k, member) in &members {
            let listed = json::list(&v, k);
            match member {
                Value::Array(a) => prop_assert_eq!(listed, a.iter().collect::<Vec<_>>()),
                Value::Object(_) => prop_assert_eq!(listed, vec![member]),
                _ => prop_assert!(listed.is_empty()),
            }
            let expected = member.as_str().map(str::trim).filter(|s| !s.is_empty());
            prop_assert_eq!(json::text(&v[k]), expected);
        }
    }

    /// Numbers written as strings, as ECS writes them, read back as the number.
    #[test]
    fn numeric_strings_read_back(u in any::<u64>(), i in any::<i64>(), f in any::<f64>()) {
        prop_assert_eq!(json::uint(&Value::String(format!(" {u} "))), Some(u));
        prop_assert_eq!(json::int(&Value::String(i.to_string())), Some(i));
        let read = json::num(&Value::String(f.to_string()));
        if f.is_finite() {
            prop_assert_eq!(read, Some(f));
        } else {
            prop_assert_eq!(read, None);
        }
    }
}
