//! `ecs-otel-agent validate`: each kind of bad configuration, and the exact message the
//! user gets for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use testkit::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ecs-otel-agent");

/// A valid base configuration; cases replace parts of it.
const GOOD: &str = "receivers:
  self:
    collection_interval: 15s
exporters:
  prometheus:
    endpoint: 0.0.0.0:9438
  otlp:
    endpoint: http://localhost:4317
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
service:
  extensions: [health_check]
  pipelines:
    metrics:
      receivers: [self]
      exporters: [prometheus, otlp]
";

fn validate(yaml: &str) -> (i32, String, String) {
    validate_with_env(yaml, &[])
}

/// `validate` with these environment variables set (and `OTLP_TOKEN` unset).
fn validate_with_env(yaml: &str, vars: &[(&str, &str)]) -> (i32, String, String) {
    let dir = TempDir::new("validate");
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&path)
        .env_remove("OTLP_TOKEN")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The configuration is refused and `expected` is one of the printed lines.
fn refused_with(yaml: &str, expected: &str) {
    let (code, _, stderr) = validate(yaml);
    assert_eq!(code, 1, "accepted:\n{yaml}");
    assert!(
        stderr.lines().any(|l| l == format!("error: {expected}")),
        "expected line\n  error: {expected}\ngot\n{stderr}"
    );
}

/// The configuration is refused with a line that is the agent's own `prefix` and `suffix`
/// around text from a library or the OS (not pinned: it changes with their versions), which
/// holds every one of `fragments`.
fn refused_with_parts(yaml: &str, prefix: &str, fragments: &[&str], suffix: &str) {
    let (code, _, stderr) = validate(yaml);
    assert_eq!(code, 1, "accepted:\n{yaml}");
    let prefix = format!("error: {prefix}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line starting with\n  {prefix}\ngot\n{stderr}"));
    let middle = &line[prefix.len()..];
    assert!(
        middle.len() > suffix.len() && middle.ends_with(suffix),
        "expected {suffix:?} at the end of\n  {line}"
    );
    for f in fragments {
        assert!(middle.contains(f), "{f:?} missing from\n  {line}");
    }
}

#[test]
fn the_base_configuration_is_valid() {
    let (code, stdout, stderr) = validate(GOOD);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("configuration is valid\n"), "{stdout}");
}

#[test]
fn invalid_socket_address() {
    refused_with(
        &GOOD.replace("0.0.0.0:9438", "0.0.0.0:99999"),
        "exporters.prometheus.endpoint: invalid socket address \"0.0.0.0:99999\"; expected host:port, e.g. 0.0.0.0:9438",
    );
}

#[test]
fn unknown_key_in_a_component() {
    refused_with(
        &GOOD.replace("collection_interval", "colection_interval"),
        "receivers.self.colection_interval: unknown key",
    );
}

#[test]
fn unknown_top_level_key() {
    refused_with(
        &format!("{GOOD}recievers: {{}}\n"),
        "recievers: unknown key (expected one of receivers, exporters, extensions, service)",
    );
}

#[test]
fn unknown_receiver_type() {
    refused_with(
        &GOOD.replace(
            "  self:\n    collection_interval: 15s",
            "  self: {}\n  snmp: {}",
        ),
        "receivers.snmp: unknown receiver type \"snmp\" (known: ecs, self, generic)",
    );
}

#[test]
fn malformed_duration() {
    refused_with_parts(
        &GOOD.replace("15s", "15 fortnights"),
        "receivers.self.collection_interval: invalid duration \"15 fortnights\" (",
        &["fortnights"],
        "); write it like 15s, 1m30s or 500ms",
    );
}

#[test]
fn pipeline_names_an_undefined_receiver() {
    refused_with(
        &GOOD.replace("receivers: [self]", "receivers: [self, ecs/prod]"),
        "service.pipelines.metrics.receivers: receiver \"ecs/prod\" is not defined under receivers",
    );
}

#[test]
fn missing_environment_variable() {
    refused_with(
        &GOOD.replace("    endpoint: http://localhost:4317", "    endpoint: http://localhost:4317\n    headers:\n      authorization: \"Bearer ${env:OTLP_TOKEN}\""),
        "exporters.otlp.headers.authorization: environment variable OTLP_TOKEN is not set (referenced as ${env:OTLP_TOKEN})",
    );
}

#[test]
fn unknown_enum_value() {
    refused_with_parts(
        &GOOD.replace(
            "    endpoint: http://localhost:4317",
            "    endpoint: http://localhost:4317\n    compression: zip",
        ),
        "exporters.otlp.compression: ",
        &["zip", "gzip", "none"],
        "",
    );
}

#[test]
fn unknown_page_compression() {
    refused_with_parts(
        &GOOD.replace(
            "    endpoint: 0.0.0.0:9438",
            "    endpoint: 0.0.0.0:9438\n    page_compression: zstd",
        ),
        "exporters.prometheus.page_compression: ",
        &["zstd", "none", "lz4"],
        "",
    );
    let packed = GOOD.replace(
        "    endpoint: 0.0.0.0:9438",
        "    endpoint: 0.0.0.0:9438\n    page_compression: lz4",
    );
    let (code, _, err) = validate(&packed);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn wrong_value_type() {
    refused_with_parts(
        &GOOD.replace(
            "    endpoint: 0.0.0.0:9438",
            "    endpoint: 0.0.0.0:9438\n    max_series_per_metric: many",
        ),
        "exporters.prometheus.max_series_per_metric: ",
        &["\"many\""],
        "",
    );
}

#[test]
fn basic_auth_with_a_plain_password_instead_of_a_hash() {
    refused_with(
        &GOOD.replace(
            "    endpoint: 0.0.0.0:9438",
            "    endpoint: 0.0.0.0:9438\n    basic_auth_users:\n      admin: secret",
        ),
        "exporters.prometheus.basic_auth_users.admin: not a bcrypt hash (expected $2a$, $2b$ or $2y$ followed by cost and 53 characters; make one with `htpasswd -nbBC 10 USER PASSWORD`)",
    );
}

#[test]
fn tls_certificate_that_does_not_exist() {
    refused_with_parts(
        &GOOD.replace("    endpoint: 0.0.0.0:9438", "    endpoint: 0.0.0.0:9438\n    tls:\n      cert_file: /nonexistent/cert.pem\n      key_file: /nonexistent/key.pem"),
        "exporters.prometheus.tls.cert_file: cannot read certificates from /nonexistent/cert.pem: ",
        &[],
        "",
    );
}

#[test]
fn timeout_not_below_the_interval() {
    refused_with(
        &GOOD.replace(
            "collection_interval: 15s",
            "collection_interval: 15s\n    timeout: 20s",
        ),
        "receivers.self.timeout: must be shorter than the effective collection interval 15s (a run still going when the next is due is skipped)",
    );
}

#[test]
fn spans_sent_to_a_prometheus_exporter() {
    refused_with(
        &format!("{GOOD}    traces:\n      exporters: [prometheus]\n"),
        "service.pipelines.traces.exporters: exporter \"prometheus\" cannot carry spans; use an otlp exporter",
    );
}

#[test]
fn a_logs_pipeline_to_otlp_is_valid() {
    let (code, stdout, stderr) = validate(&format!(
        "{GOOD}    logs:\n      receivers: [self]\n      exporters: [otlp]\n    logs/audit:\n      receivers: [self]\n      exporters: [otlp]\n"
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
}

#[test]
fn logs_sent_to_a_prometheus_exporter() {
    refused_with(
        &format!("{GOOD}    logs:\n      receivers: [self]\n      exporters: [otlp, prometheus]\n"),
        "service.pipelines.logs.exporters: exporter \"prometheus\" cannot carry logs; use an otlp exporter",
    );
}

#[test]
fn a_logs_pipeline_names_an_undefined_exporter_or_receiver() {
    let yaml = format!(
        "{GOOD}    logs/audit:\n      receivers: [ecs/prod]\n      exporters: [otlp/audit]\n"
    );
    refused_with(
        &yaml,
        "service.pipelines.logs/audit.exporters: exporter \"otlp/audit\" is not defined under exporters",
    );
    refused_with(
        &yaml,
        "service.pipelines.logs/audit.receivers: receiver \"ecs/prod\" is not defined under receivers",
    );
}

#[test]
fn an_empty_logs_pipeline() {
    let yaml = format!("{GOOD}    logs: {{}}\n");
    refused_with(
        &yaml,
        "service.pipelines.logs.receivers: a logs pipeline needs at least one receiver",
    );
    refused_with(
        &yaml,
        "service.pipelines.logs.exporters: a logs pipeline needs at least one exporter",
    );
}

#[test]
fn an_unknown_pipeline_type_lists_the_known_ones() {
    refused_with(
        &format!("{GOOD}    profiles:\n      receivers: [self]\n      exporters: [otlp]\n"),
        "service.pipelines.profiles: unknown pipeline type \"profiles\" (metrics, traces or logs)",
    );
}

#[test]
fn two_servers_on_one_port() {
    refused_with(
        &GOOD.replace("0.0.0.0:13133", "0.0.0.0:9438"),
        "extensions.health_check.endpoint: endpoint 0.0.0.0:9438 is also used by exporters.prometheus.endpoint",
    );
}

#[test]
fn otlp_endpoint_without_a_port() {
    refused_with(
        &GOOD.replace("http://localhost:4317", "otel-collector"),
        "exporters.otlp.endpoint: invalid endpoint \"otel-collector\"; expected host:port, http://host:port or https://host:port",
    );
}

#[test]
fn processors_are_refused_with_a_reason() {
    refused_with(
        &format!("processors:\n  batch: {{}}\n{GOOD}"),
        "processors: this agent has no processors; remove the section (and processors from pipelines)",
    );
}

#[test]
fn no_pipeline() {
    refused_with(
        &GOOD.replace("  pipelines:\n    metrics:\n      receivers: [self]\n      exporters: [prometheus, otlp]\n", ""),
        "service.pipelines: no pipeline defined; add e.g. metrics: {receivers: [self], exporters: [prometheus]}",
    );
}

#[test]
fn broken_yaml() {
    refused_with_parts(
        "receivers:\n  self: [\n",
        "not valid YAML: ",
        &["line 3"],
        "",
    );
}

#[test]
fn every_problem_is_printed_at_once() {
    let yaml = GOOD
        .replace("0.0.0.0:9438", "0.0.0.0:99999")
        .replace("collection_interval", "colection_interval")
        .replace("http://localhost:4317", "otel-collector");
    let (code, _, stderr) = validate(&yaml);
    assert_eq!(code, 1);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 3, "{stderr}");
    assert!(stderr.contains("3 problems in "), "{stderr}");
}

#[test]
fn print_config_fills_defaults_and_redacts_secrets() {
    let dir = TempDir::new("print-config");
    let path = dir.path().join("agent.yaml");
    let yaml = GOOD.replace(
        "    endpoint: http://localhost:4317",
        "    endpoint: http://localhost:4317\n    headers:\n      authorization: \"Bearer ${env:OTLP_TOKEN}\"",
    );
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(BIN)
        .args(["print-config", "--config"])
        .arg(&path)
        .env("OTLP_TOKEN", "tok-9f8e7d6c")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("tok-9f8e7d6c"), "{text}");
    assert!(text.contains("authorization: \"[REDACTED]\""), "{text}");
    assert!(text.contains("metric_expiration: 5m"), "{text}");
    assert!(text.contains("base_interval: 5s"), "{text}");
}

#[test]
fn shipped_agent_configurations_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../otel-configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name == "demo.yaml" || name == "generic.yaml" || name.starts_with("agent")) {
            continue;
        }
        // The demo's values come from the simulator `--demo` starts.
        let out = if name == "demo.yaml" {
            Command::new(BIN).args(["--demo", "validate"]).output()
        } else {
            Command::new(BIN)
                .args(["validate", "--config"])
                .arg(&path)
                .env("ECS_PASSWORD", "from-the-environment")
                .output()
        }
        .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "demo.yaml, agent.yaml and generic.yaml at least"
    );
}

/// The base configuration with an ECS receiver whose block is `ecs` (indented by 4).
fn with_ecs(ecs: &str) -> String {
    GOOD.replace(
        "receivers:\n  self:",
        &format!("receivers:\n  ecs/prod:\n{ecs}  self:"),
    )
    .replace("receivers: [self]", "receivers: [ecs/prod, self]")
}

const ECS_OK: &str =
    "    endpoint: https://ecs.example.com:4443\n    username: monitor\n    password: secret\n";

#[test]
fn a_complete_ecs_receiver_is_valid_and_its_password_is_redacted() {
    let (code, _, stderr) = validate(&with_ecs(ECS_OK));
    assert_eq!(code, 0, "{stderr}");
    let dir = TempDir::new("validate");
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, with_ecs(ECS_OK)).unwrap();
    let out = Command::new(BIN)
        .args(["print-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("password: \"[REDACTED]\""), "{text}");
    assert!(text.contains("max_concurrent_requests: 4"), "{text}");
}

#[test]
fn a_password_of_digits_from_the_environment_is_accepted() {
    let yaml = with_ecs(&ECS_OK.replace("password: secret", "password: \"${env:ECS_PASSWORD}\""));
    let (code, _, stderr) = validate_with_env(&yaml, &[("ECS_PASSWORD", "123456")]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn ecs_receiver_without_endpoint_or_password() {
    let yaml = with_ecs("    username: monitor\n");
    refused_with(
        &yaml,
        "receivers.ecs/prod.endpoint: required: the management API, e.g. https://ecs.example.com:4443",
    );
    refused_with(
        &yaml,
        "receivers.ecs/prod: set password (e.g. \"${env:ECS_PASSWORD}\") or password_file",
    );
}

#[test]
fn ecs_endpoint_that_is_not_a_url() {
    refused_with(
        &with_ecs(&ECS_OK.replace("https://ecs.example.com:4443", "ecs.example.com")),
        "receivers.ecs/prod.endpoint: invalid endpoint \"ecs.example.com\"; expected https://host:port (the management API, port 4443)",
    );
    refused_with(
        &with_ecs(&ECS_OK.replace(":4443", ":4443/api")),
        "receivers.ecs/prod.endpoint: give only scheme, host and port, not a path (\"/api\")",
    );
}

#[test]
fn ecs_tls_ca_file_and_skip_verify_together() {
    let dir = TempDir::new("validate-ca");
    let missing = dir.path().join("nope.pem");
    let yaml = with_ecs(&format!(
        "{ECS_OK}    tls:\n      ca_file: {}\n      insecure_skip_verify: true\n",
        missing.display()
    ));
    refused_with(
        &yaml,
        "receivers.ecs/prod.tls: set ca_file or insecure_skip_verify, not both",
    );
    let (_, _, stderr) = validate(&yaml);
    assert!(
        stderr.contains("receivers.ecs/prod.tls.ca_file: ") && stderr.contains("nope.pem"),
        "{stderr}"
    );
}

#[test]
fn ecs_limits_and_collectors() {
    refused_with(
        &with_ecs(&format!("{ECS_OK}    max_concurrent_requests: 0\n")),
        "receivers.ecs/prod.max_concurrent_requests: must be between 1 and 64 (ECS tolerates few concurrent management calls; 4 is the default)",
    );
    refused_with(
        &with_ecs(&format!(
            "{ECS_OK}    collectors:\n      dashboard: {{enabled: false}}\n      node_stats: {{enabled: false}}\n"
        )),
        "receivers.ecs/prod.collectors: every collector is disabled; enable at least one (dashboard, node_stats, billing, iam, performance, audit)",
    );
    let (code, _, stderr) = validate(&with_ecs(&format!(
        "{ECS_OK}    collectors:\n      dashbaord: {{enabled: false}}\n"
    )));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("receivers.ecs/prod.collectors") && stderr.contains("dashbaord"),
        "{stderr}"
    );
}

#[test]
fn a_collector_may_not_run_more_often_than_its_receiver() {
    refused_with(
        &with_ecs(&format!(
            "{ECS_OK}    collection_interval: 2m\n    collectors:\n      dashboard: {{collection_interval: 1m}}\n"
        )),
        "receivers.ecs/prod.collectors.dashboard.collection_interval: 1m is shorter than the receiver's collection_interval 2m; a collector may not run more often than its receiver",
    );
    // Billing's own default (5 minutes) is shorter than this receiver's: it follows the
    // receiver instead, and the configuration is valid.
    let (code, _, stderr) = validate(&with_ecs(&format!(
        "{ECS_OK}    collection_interval: 10m\n    collectors:\n      billing: {{enabled: true}}\n      node_stats: {{collection_interval: 12m}}\n"
    )));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn settings_that_do_nothing_are_warned_about_with_their_path() {
    let (code, stdout, stderr) = validate(&with_ecs(&format!(
        "{ECS_OK}    collectors:\n      iam: {{enabled: true, monitor_sts_tokens: true}}\n      billing:\n        enabled: true\n        pricing: {{requests: {{get: 0.0004}}}}\n"
    )));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    for line in [
        "warning: receivers.ecs/prod.collectors.iam.monitor_sts_tokens: accepted but does nothing: ECS has no API listing STS sessions",
        "warning: receivers.ecs/prod.collectors.billing.pricing.requests: accepted but not used: no ECS billing API reports operation counts, so no request cost is computed",
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "missing\n  {line}\nin\n{stderr}"
        );
    }
    // The same settings under a disabled collector are not read at all: no warning.
    let (code, _, stderr) = validate(&with_ecs(&format!(
        "{ECS_OK}    collectors:\n      iam: {{enabled: false, monitor_sts_tokens: true}}\n"
    )));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning:"), "{stderr}");
}

#[test]
fn ecs_password_file_that_does_not_exist() {
    let (code, _, stderr) = validate(&with_ecs(
        "    endpoint: https://ecs.example.com:4443\n    username: monitor\n    password_file: /nonexistent/ecs-password\n",
    ));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("receivers.ecs/prod.password_file")
            && stderr.contains("/nonexistent/ecs-password"),
        "{stderr}"
    );
}

#[test]
fn billing_cost_model_errors_name_their_place() {
    let billing = |extra: &str| {
        with_ecs(&format!(
            "{ECS_OK}    collectors:\n      billing:\n        enabled: true\n{extra}"
        ))
    };
    let (code, _, stderr) = validate(&billing(""));
    assert_eq!(code, 0, "{stderr}");
    refused_with(
        &billing("        pricing:\n          storage: {default: -0.02}\n"),
        "receivers.ecs/prod.collectors.billing.pricing.storage.default: price must be a non-negative number, not -0.02",
    );
    refused_with(
        &billing(
            "        pricing:\n          egress:\n            - {up_to_gb: 100, price: 0.09}\n            - {up_to_gb: 50, price: 0.05}\n            - {price: 0.01}\n",
        ),
        "receivers.ecs/prod.collectors.billing.pricing.egress[1].up_to_gb: tiers overlap: 50 GB is not above the previous tier's 100 GB",
    );
    refused_with(
        &billing(
            "        pricing:\n          ingress:\n            - {up_to_gb: 100, price: 0.01}\n",
        ),
        "receivers.ecs/prod.collectors.billing.pricing.ingress[0]: the last tier must have no up_to_gb (it prices everything above the others)",
    );
    refused_with(
        &billing("        pricing:\n          currency: dollars\n"),
        "receivers.ecs/prod.collectors.billing.pricing.currency: \"dollars\" is not an ISO 4217 code (three letters, e.g. USD)",
    );
    refused_with(
        &billing("        pricing:\n          requests: {fetch: 0.1}\n"),
        "receivers.ecs/prod.collectors.billing.pricing.requests.fetch: unknown operation class \"fetch\" (known: get, put, delete, list, head, post, copy)",
    );
    refused_with(
        &billing("        trend_window: 7m\n"),
        "receivers.ecs/prod.collectors.billing.trend_window: must be a multiple of 5 minutes (ECS's billing samples), not 420s",
    );
    // The key names of earlier configurations are accepted.
    let (code, _, stderr) = validate(&billing(
        "        poll_interval: 300s\n        namespaces: [tenant1]\n        include_samples: true\n        sample_interval: 3600s\n",
    ));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn iam_settings_errors_name_their_place() {
    let iam = |extra: &str| {
        with_ecs(&format!(
            "{ECS_OK}    collectors:\n      iam:\n        enabled: true\n{extra}"
        ))
    };
    let (code, _, stderr) = validate(&iam(
        "        poll_interval: 600s\n        track_inactive_users: true\n        inactive_threshold_days: 90\n        monitor_sts_tokens: true\n        auth_providers: [ldap-primary]\n",
    ));
    assert_eq!(code, 0, "earlier key names: {stderr}");
    refused_with(
        &iam("        entity_labels: hash\n"),
        "receivers.ecs/prod.collectors.iam.entity_label_salt: required with entity_labels: hash (without a salt, a name's hash can be found by hashing guesses)",
    );
    refused_with(
        &iam("        service_accounts: {tag: service}\n"),
        "receivers.ecs/prod.collectors.iam.service_accounts.tag: \"service\" is not key=value (e.g. type=service)",
    );
    refused_with(
        &iam("        page_size: 5000\n"),
        "receivers.ecs/prod.collectors.iam.page_size: must be between 1 and 1000 (IAM's MaxItems)",
    );
    let (code, _, stderr) = validate(&iam("        format: yaml\n"));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("receivers.ecs/prod.collectors.iam.format") && stderr.contains("yaml"),
        "{stderr}"
    );
}

#[test]
fn ecs_endpoint_with_credentials_in_it() {
    let (code, _, stderr) = validate(&with_ecs(&ECS_OK.replace(
        "https://ecs.example.com",
        "https://admin:secret@ecs.example.com",
    )));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("receivers.ecs/prod.endpoint: give the credentials in username and password, not in the URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
}

#[test]
fn durations_beyond_a_year_are_refused() {
    let (code, _, stderr) = validate(&GOOD.replace(
        "collection_interval: 15s",
        "collection_interval: 1000000000y",
    ));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("receivers.self.collection_interval")
            && stderr.contains("longer than a year"),
        "{stderr}"
    );
}

#[test]
fn a_traces_ratio_outside_zero_to_one_is_refused() {
    refused_with(
        &GOOD.replace(
            "service:\n",
            "service:\n  telemetry:\n    traces:\n      sampler: traceidratio\n      ratio: 1.5\n",
        ),
        "service.telemetry.traces.ratio: 1.5 is not a share between 0 and 1",
    );
}

#[test]
fn every_sampler_is_accepted() {
    for s in [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_traceidratio",
    ] {
        let yaml = GOOD.replace(
            "service:\n",
            &format!(
                "service:\n  telemetry:\n    traces:\n      sampler: {s}\n      ratio: 0.25\n      max_spans_per_cycle: 100\n"
            ),
        );
        let (code, _, stderr) = validate(&yaml);
        assert_eq!(code, 0, "{s}: {stderr}");
    }
}
