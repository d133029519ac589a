//! `${env:VAR}` in receiver settings: a string setting gets the variable's text whatever
//! it looks like, typed settings get typed values, and a wrong type is refused at its path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecs_otel_agent::config::{AgentConfig, from_yaml};
use receiver_ecs::EcsConfig;

/// An ECS receiver whose settings come from `vars`.
fn ecs_from_env(ecs: &str, vars: &[(&str, &str)]) -> Result<AgentConfig, Vec<String>> {
    let yaml = format!(
        "receivers:\n  ecs/prod:\n    endpoint: https://ecs.example.com:4443\n    username: monitor\n{ecs}exporters:\n  prometheus:\n    endpoint: 127.0.0.1:9438\nservice:\n  telemetry:\n    resource:\n      deployment.environment: ${{env:DEPLOYMENT}}\n      ${{env:KEY}}: x\n  pipelines:\n    metrics: {{receivers: [ecs/prod], exporters: [prometheus]}}\n"
    );
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| (name == "DEPLOYMENT").then(|| "production".into()))
    };
    from_yaml(&yaml, &lookup).map_err(|v| v.iter().map(ToString::to_string).collect())
}

fn ecs(cfg: &AgentConfig) -> &EcsConfig {
    cfg.receivers["ecs/prod"]
        .as_any()
        .downcast_ref::<EcsConfig>()
        .expect("an ECS receiver")
}

#[test]
fn a_string_setting_gets_the_variables_text_whatever_it_looks_like() {
    for p in ["123456", "007", "true", "1.50", "-1"] {
        let cfg = ecs_from_env("    password: \"${env:P}\"\n", &[("P", p)])
            .unwrap_or_else(|e| panic!("P={p}: {e:?}"));
        assert_eq!(ecs(&cfg).password.as_ref().map(|s| s.expose()), Some(p));
    }
    // Two such settings in one component, and a plain (unquoted) reference.
    let cfg = ecs_from_env(
        "    password: ${env:P}\n    cluster_name: ${env:C}\n",
        &[("P", "42"), ("C", "2024")],
    )
    .unwrap();
    assert_eq!(ecs(&cfg).password.as_ref().map(|s| s.expose()), Some("42"));
    assert_eq!(ecs(&cfg).cluster_name.as_deref(), Some("2024"));
}

#[test]
fn numeric_and_boolean_settings_still_get_typed_values() {
    let cfg = ecs_from_env(
        "    password: ${env:P}\n    max_concurrent_requests: ${env:N}\n    tls:\n      insecure_skip_verify: ${env:B}\n",
        &[("P", "123"), ("N", "8"), ("B", "true")],
    )
    .unwrap();
    let c = ecs(&cfg);
    assert_eq!(c.max_concurrent_requests, 8);
    assert!(c.tls.insecure_skip_verify);
    assert_eq!(c.password.as_ref().map(|s| s.expose()), Some("123"));
}

#[test]
fn a_variable_of_the_wrong_type_is_still_refused_at_its_path() {
    let e = ecs_from_env(
        "    password: x\n    max_concurrent_requests: ${env:N}\n",
        &[("N", "many")],
    )
    .unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("receivers.ecs/prod.max_concurrent_requests: invalid type: string")
            && e[0].contains("\"many\""),
        "{e:?}"
    );
    let e = ecs_from_env(
        "    password: x\n    tls:\n      insecure_skip_verify: ${env:B}\n",
        &[("B", "8")],
    )
    .unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("receivers.ecs/prod.tls.insecure_skip_verify: invalid type:"),
        "{e:?}"
    );
}

#[test]
fn a_multi_line_variable_sets_no_other_setting() {
    let cluster = "prod\ntls:\n  insecure_skip_verify: true\nmax_concurrent_requests: 64\n";
    let cfg = ecs_from_env(
        "    password: x\n    cluster_name: ${env:CLUSTER}\n",
        &[("CLUSTER", cluster)],
    )
    .unwrap();
    let c = ecs(&cfg);
    assert_eq!(c.cluster_name.as_deref(), Some(cluster));
    assert!(!c.tls.insecure_skip_verify);
    assert_eq!(c.max_concurrent_requests, 4);
}

#[test]
fn keys_keep_their_references_and_values_get_the_text() {
    let cfg = ecs_from_env("    password: x\n", &[("KEY", "k"), ("DEPLOYMENT", "2024")]).unwrap();
    let resource = &cfg.service.telemetry.resource;
    assert_eq!(resource["deployment.environment"], "2024");
    assert_eq!(resource["${env:KEY}"], "x");
    assert!(!resource.contains_key("k"));
}
