//! Fuzz tests of the Prometheus text parser that reads pages users point the generic
//! receiver at: any text parses or fails with a line number, never panics, and what a
//! renderer writes reads back. `PROPTEST_CASES` sets the number of cases (scripts/fuzz
//! runs many more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use receiver_generic::content::prometheus::{self, Kind};

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

/// Lines that look like a page's, most of them slightly wrong.
fn pageish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "# (HELP|TYPE|UNIT|EOF) [a-z_:]{0,6}( (counter|gauge|histogram|summary|untyped|info|x|[^\n]{0,6}))?",
        "[a-z_:]{1,6}(_bucket|_sum|_count|_total|_created)?(\\{([a-z_]{0,3}=\"[^\"\n]{0,4}\"?,?){0,3}\\}?)? ?([+-]?[0-9.eE]{0,6}|[+-]Inf|NaN|x)( [0-9]{0,4})?( # .{0,5})?",
        "[a-z]{1,3}\\{le=\"([0-9.]{1,3}|\\+Inf|x)\"\\} [0-9]{1,3}",
        "[a-z]{1,3}\\{quantile=\"0.[0-9]\"\\} [0-9]{1,3}",
        "[^\n]{0,12}",
    ];
    prop_oneof![
        prop::collection::vec(line, 0..20).prop_map(|l| l.join("\n")),
        any::<String>(),
    ]
}

/// How a renderer writes a sample value.
fn render_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:e}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

type Series = Vec<(Vec<(String, String)>, f64)>;

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_text_parses_or_names_its_line(text in pageish()) {
        match prometheus::parse(&text) {
            Ok(families) => {
                let points: usize = families.iter().map(|f| f.points.len()).sum();
                prop_assert!(points <= text.lines().count());
            }
            Err(e) => prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1)),
        }
    }

    /// Gauges, counters and untyped families with any label values, as a renderer
    /// writes them, read back with the same names, labels and values.
    #[test]
    fn what_a_renderer_writes_reads_back(
        families in prop::collection::btree_map(
            "[a-zA-Z_:][a-zA-Z0-9_:]{0,8}",
            (
                prop::sample::select(vec!["gauge", "counter", "untyped"]),
                any::<String>(),
                prop::collection::btree_map(
                    prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,5}", any::<String>(), 0..4),
                    any::<f64>(),
                    1..4,
                ),
            ),
            1..5,
        )
    ) {
        let mut page = String::new();
        let mut expected: Vec<(String, Series)> = Vec::new();
        for (name, (kind, help, series)) in &families {
            page.push_str(&format!("# HELP {name} {}\n# TYPE {name} {kind}\n", help.replace('\\', "\\\\").replace('\n', "\\n")));
            let mut want = Vec::new();
            for (labels, value) in series {
                let text: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                page.push_str(&format!("{name}{{{}}} {}\n", text.join(","), render_value(*value)));
                want.push((labels.clone().into_iter().collect::<Vec<_>>(), *value));
            }
            expected.push((name.clone(), want));
        }
        page.push_str("# EOF\n");
        let parsed = prometheus::parse(&page).map_err(|e| TestCaseError::fail(format!("{e}\n{page}")))?;
        prop_assert_eq!(parsed.len(), expected.len());
        for (f, (name, want)) in parsed.iter().zip(&expected) {
            prop_assert_eq!(&f.name, name);
            prop_assert!(matches!(f.kind, Kind::Gauge | Kind::Counter | Kind::Untyped));
            prop_assert_eq!(f.points.len(), want.len());
            for (p, (labels, value)) in f.points.iter().zip(want) {
                let mut got = p.labels.clone();
                got.sort();
                prop_assert_eq!(&got, labels);
                let v = p.value.unwrap();
                prop_assert!(v.to_bits() == value.to_bits() || (v.is_nan() && value.is_nan()), "{v} != {value}");
            }
        }
    }
}
