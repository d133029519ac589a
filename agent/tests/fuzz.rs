//! Fuzz test of the configuration loader: any text, YAML-shaped or not, with anchors,
//! aliases, tags and `${env:…}` references, loads or fails with problems that say where.
//! Never a panic, and a bounded time and memory (the loader's bounds refuse alias bombs
//! and deep nesting). `PROPTEST_CASES` sets the number of cases (scripts/fuzz runs many
//! more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecs_otel_agent::config::from_yaml;
use proptest::prelude::*;

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

const GOOD: &str = "receivers:
  self:
    collection_interval: 15s
exporters:
  prometheus:
    endpoint: 127.0.0.1:0
  otlp:
    endpoint: http://127.0.0.1:4317
service:
  telemetry:
    logs:
      level: info
  pipelines:
    metrics:
      receivers: [self]
      exporters: [prometheus, otlp]
";

/// Scalars a user might write, none of which needs a name lookup to check.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "~",
            "null",
            "true",
            "no",
            "0",
            "-1",
            "1e400",
            "15s",
            "0s",
            "1m30s",
            "5 parsecs",
            "127.0.0.1:0",
            "0.0.0.0:99999",
            "http://127.0.0.1:4317",
            "[]",
            "{}",
            "[self]",
            "\"\"",
            "''",
            "\"${env:X}\"",
            "${env:X}",
            "${env:NOPE}",
            "${env:NOPE:-7}",
            "$$",
            "${",
            "*a",
            "&a x",
            "&a",
            "!!binary aGk=",
            "!!int x",
            "!!float 1",
            "!custom x",
            "|\n  text",
            ">-\n  folded",
            "verbose",
            "debug",
            "json",
            "gzip",
            "- x",
            "? x",
            ": x",
            "\"\\u0000\"",
            "'it''s'",
            "\t",
            "#",
            "x #c",
        ])
        .prop_map(str::to_owned),
        "[0-9 .smh-]{0,8}",
    ]
}

/// Lines of a configuration, with anchors, aliases, merges and document markers, at any
/// indentation.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "receivers",
        "exporters",
        "extensions",
        "service",
        "processors",
        "self",
        "self/x",
        "ecs/prod",
        "generic/node",
        "prometheus",
        "otlp",
        "health_check",
        "pipelines",
        "metrics",
        "logs",
        "traces",
        "telemetry",
        "level",
        "endpoint",
        "username",
        "password",
        "password_file",
        "collection_interval",
        "timeout",
        "compression",
        "scheduler",
        "base_interval",
        "shutdown_timeout",
        "<<",
        "&a d",
        "x",
        "",
    ]);
    let line = prop_oneof![
        (0usize..4, key.clone(), scalar())
            .prop_map(|(i, k, v)| format!("{}{k}: {v}", "  ".repeat(i))),
        (0usize..4, key.clone()).prop_map(|(i, k)| format!("{}{k}:", "  ".repeat(i))),
        (0usize..4, scalar()).prop_map(|(i, v)| format!("{}- {v}", "  ".repeat(i))),
        (0usize..4, key).prop_map(|(i, k)| format!("{}{k}: &a", "  ".repeat(i))),
        prop::sample::select(vec![
            "---",
            "...",
            "%YAML 1.2",
            "<<: *a",
            "- *a",
            "x: [*a, *a, *a]",
            "\t"
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(line, 0..30).prop_map(|l| l.join("\n"))
}

/// The base configuration with one line's value replaced.
fn mutated() -> impl Strategy<Value = String> {
    let lines = GOOD.lines().count();
    (0..lines, scalar()).prop_map(|(n, v)| {
        GOOD.lines()
            .enumerate()
            .map(|(i, l)| match (i == n, l.split_once(": ")) {
                (true, Some((k, _))) => format!("{k}: {v}"),
                (true, None) => format!("{l} {v}"),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Problems without a path are about the document as a whole.
fn document_level(message: &str) -> bool {
    [
        "not valid YAML",
        "line ",
        "the configuration must be a mapping",
        "unknown key",
    ]
    .iter()
    .any(|p| message.starts_with(p))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_text_loads_or_says_where_it_is_wrong(text in prop_oneof![yamlish(), mutated(), any::<String>()]) {
        let env = |name: &str| (name == "X").then(|| "1".to_owned());
        if let Err(problems) = from_yaml(&text, &env) {
            prop_assert!(!problems.is_empty());
            for p in &problems {
                prop_assert!(!p.message.is_empty(), "{problems:?}");
                prop_assert!(!p.path.is_empty() || document_level(&p.message), "{p}");
                prop_assert!(p.message.len() < 4096 + text.len(), "{p}");
            }
        }
    }
}
