//! The deployment kit checked with the real tools: promtool (rule syntax and unit tests),
//! kubernetes-validate (the rendered kustomize overlays against the Kubernetes schemas),
//! the Prometheus Operator's CRD schemas (deploy/tools), the Compose specification's
//! schema (check-jsonschema), systemd-analyze; and the names every file uses against
//! docs/metrics.md. scripts/install-test-deps installs the tools.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use testkit::{TempDir, tool};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .unwrap()
}

fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).unwrap()
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run ({e}); scripts/install-test-deps installs it")
    });
    ok(what, &out);
    out
}

const RULES: [&str; 2] = [
    "deploy/prometheus/recording.yml",
    "deploy/prometheus/alerts.yml",
];
const DASHBOARDS: [&str; 4] = ["operations", "cost", "multi-tenant", "security"];

/// Every `record:` name of recording.yml.
fn recorded() -> BTreeSet<String> {
    read(RULES[0])
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- record:"))
        .map(|n| n.trim().to_owned())
        .collect()
}

/// Every word of `expr` that names an agent metric (or a recorded series) must be in the
/// reference (or recording.yml).
fn check_names(expr: &str, reference: &str, recorded: &BTreeSet<String>) -> usize {
    let mut n = 0;
    for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
        if word.contains(':') {
            if word.contains("emcecs_") || word.contains("ecs_otel_agent_") {
                assert!(
                    recorded.contains(word),
                    "{word} (in {expr}) is not recorded in {}",
                    RULES[0]
                );
                n += 1;
            }
            continue;
        }
        if word.starts_with("emcecs_") || word.starts_with("ecs_otel_agent_") {
            let base = word.strip_suffix("_bucket").unwrap_or(word);
            assert!(
                reference.contains(&format!("`{base}`")),
                "{word} (in {expr}) is not in docs/metrics.md"
            );
            n += 1;
        }
    }
    n
}

fn rule_exprs(file: &str) -> Vec<(String, String)> {
    let docs = YamlLoader::load_from_str(&read(file)).unwrap();
    let mut out = Vec::new();
    for g in docs[0]["groups"].as_vec().unwrap() {
        for r in g["rules"].as_vec().unwrap() {
            let name = r["record"].as_str().or(r["alert"].as_str()).unwrap();
            out.push((name.to_owned(), r["expr"].as_str().unwrap().to_owned()));
        }
    }
    out
}

#[test]
fn rules_pass_promtool_check() {
    let mut cmd = Command::new(tool("PROMTOOL", "promtool"));
    cmd.args(["check", "rules"]).current_dir(root());
    cmd.args(RULES);
    run("promtool check rules", &mut cmd);
}

#[test]
fn rules_pass_their_promtool_unit_tests() {
    let dir = root().join("deploy/prometheus/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let mut cmd = Command::new(tool("PROMTOOL", "promtool"));
    cmd.args(["test", "rules"]).args(&files).current_dir(&dir);
    run("promtool test rules", &mut cmd);
}

/// Each alert has a unit test where it fires and one where it is expected not to.
#[test]
fn every_alert_has_a_firing_and_a_silent_unit_test() {
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("deploy/prometheus/tests")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let docs = YamlLoader::load_from_str(&text).unwrap();
        for t in docs[0]["tests"].as_vec().unwrap() {
            for a in t["alert_rule_test"].as_vec().cloned().unwrap_or_default() {
                let name = a["alertname"].as_str().unwrap().to_owned();
                let alerts = a["exp_alerts"].as_vec().cloned().unwrap_or_default();
                if alerts.is_empty() {
                    silent.insert(name);
                } else {
                    // A test case whose input also holds series that must not alert (more
                    // input series than expected alerts) tests the silent side too.
                    let inputs = t["input_series"].as_vec().map_or(0, Vec::len);
                    if inputs > alerts.len() {
                        silent.insert(name.clone());
                    }
                    firing.insert(name);
                }
            }
        }
    }
    let alerts: Vec<String> = rule_exprs(RULES[1]).into_iter().map(|(n, _)| n).collect();
    assert!(alerts.len() >= 25, "{alerts:?}");
    for a in &alerts {
        assert!(firing.contains(a), "{a}: no unit test where it fires");
        assert!(
            silent.contains(a),
            "{a}: no unit test where it stays silent"
        );
    }
}

#[test]
fn rules_use_names_the_agent_exports() {
    let reference = read("docs/metrics.md");
    let recorded = recorded();
    let mut checked = 0;
    for file in RULES {
        for (_, expr) in rule_exprs(file) {
            checked += check_names(&expr, &reference, &recorded);
        }
    }
    assert!(checked >= 40, "only {checked} names found");
}

#[test]
fn prometheus_scrape_configs_pass_promtool() {
    for file in [
        "otel-configs/prometheus.yml",
        "deploy/compose/prometheus.yml",
    ] {
        let mut cmd = Command::new(tool("PROMTOOL", "promtool"));
        cmd.args(["check", "config", "--syntax-only"])
            .arg(root().join(file));
        run(file, &mut cmd);
    }
}

fn dashboard(name: &str) -> serde_json::Value {
    serde_json::from_str(&read(&format!("deploy/grafana/dashboards/{name}.json"))).unwrap()
}

#[test]
fn the_dashboards_are_what_their_generator_writes() {
    run(
        "deploy/grafana/generate.py --check",
        Command::new("python3")
            .arg(root().join("deploy/grafana/generate.py"))
            .arg("--check"),
    );
}

#[test]
fn the_dashboards_use_names_the_agent_exports_and_link_to_each_other() {
    let reference = read("docs/metrics.md");
    let recorded = recorded();
    let mut used_records = BTreeSet::new();
    for name in DASHBOARDS {
        let dash = dashboard(name);
        let panels = dash["panels"].as_array().unwrap();
        let exprs: Vec<&str> = panels
            .iter()
            .flat_map(|p| {
                p["targets"]
                    .as_array()
                    .map(|t| t.iter())
                    .into_iter()
                    .flatten()
            })
            .filter_map(|t| t["expr"].as_str())
            .collect();
        assert!(exprs.len() >= 8, "{name}: {} queries", exprs.len());
        for e in &exprs {
            assert!(
                check_names(e, &reference, &recorded) > 0,
                "{name}: {e} names no metric"
            );
            used_records.extend(recorded.iter().filter(|r| e.contains(r.as_str())).cloned());
        }
        let vars: Vec<&str> = dash["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert!(
            vars.contains(&"cluster") && vars.contains(&"namespace"),
            "{name}: {vars:?}"
        );
        // Every panel that reads a cluster's series follows the cluster selection.
        for e in &exprs {
            if e.contains("emcecs_") {
                assert!(e.contains("$cluster"), "{name}: {e} ignores $cluster");
            }
        }
        let link = &dash["links"][0];
        assert_eq!(link["type"], "dashboards", "{name}");
        assert_eq!(link["includeVars"], true, "{name}");
        let tag = link["tags"][0].as_str().unwrap();
        for other in DASHBOARDS {
            let tags = dashboard(other)["tags"].clone();
            assert!(
                tags.as_array().unwrap().iter().any(|t| t == tag),
                "{other} lacks tag {tag}"
            );
        }
    }
    // The recorded series are there for the dashboards (and the alerts): most are shown.
    assert!(used_records.len() >= 10, "{used_records:?}");
}

#[test]
fn the_prometheusrule_is_generated_from_the_rules_files() {
    run(
        "scripts/gen-prometheusrule --check",
        Command::new("python3")
            .arg(root().join("scripts/gen-prometheusrule"))
            .arg("--check"),
    );
    // And it holds every group of both files, rule for rule.
    let docs =
        YamlLoader::load_from_str(&read("deploy/kubernetes/base/prometheusrule.yaml")).unwrap();
    let generated = &docs[0]["spec"]["groups"];
    let mut expected: Vec<Yaml> = Vec::new();
    for file in RULES {
        expected.extend(
            YamlLoader::load_from_str(&read(file)).unwrap()[0]["groups"]
                .as_vec()
                .unwrap()
                .clone(),
        );
    }
    assert_eq!(generated.as_vec().unwrap(), &expected);
}

/// `kubectl kustomize` of an overlay, as a list of objects and as the rendered text.
fn render(overlay: &str) -> (Vec<Yaml>, String) {
    let out = run(
        overlay,
        Command::new(tool("KUBECTL", "kubectl"))
            .arg("kustomize")
            .arg(root().join("deploy/kubernetes/overlays").join(overlay)),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    (YamlLoader::load_from_str(&text).unwrap(), text)
}

const OVERLAYS: [&str; 2] = ["standalone", "collector-sidecar"];

#[test]
fn the_kubernetes_overlays_validate_against_the_kubernetes_schemas() {
    let dir = TempDir::new("k8s");
    for overlay in OVERLAYS {
        let (objects, text) = render(overlay);
        let kinds: BTreeSet<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
        for k in [
            "Deployment",
            "Service",
            "ServiceMonitor",
            "PrometheusRule",
            "NetworkPolicy",
            "ConfigMap",
            "Namespace",
        ] {
            assert!(kinds.contains(k), "{overlay}: no {k} in {kinds:?}");
        }
        let file = dir.path().join(format!("{overlay}.yaml"));
        std::fs::write(&file, &text).unwrap();
        // --strict: unknown fields are errors. The CRD objects are only warned about here
        // (no schema in the bundle); the next test validates them.
        let out = run(
            &format!("kubernetes-validate {overlay}"),
            Command::new(tool("KUBERNETES_VALIDATE", "kubernetes-validate"))
                .args(["--strict", "--quiet"])
                .arg(&file),
        );
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!said.contains("ERROR"), "{overlay}: {said}");
    }
}

/// Converts YAML objects to a JSON array (for the CRD validator).
fn to_json(y: &Yaml) -> serde_json::Value {
    match y {
        Yaml::Hash(h) => serde_json::Value::Object(
            h.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), to_json(v)))
                .collect(),
        ),
        Yaml::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Yaml::String(s) => serde_json::Value::String(s.clone()),
        Yaml::Integer(i) => serde_json::Value::from(*i),
        Yaml::Real(r) => serde_json::Value::from(r.parse::<f64>().unwrap()),
        Yaml::Boolean(b) => serde_json::Value::Bool(*b),
        _ => serde_json::Value::Null,
    }
}

#[test]
fn the_servicemonitor_and_prometheusrule_validate_against_the_operator_crd_schemas() {
    let tools = root().join("deploy/tools");
    assert!(
        tools
            .join("node_modules/@kubernetes-models/prometheus-operator")
            .exists(),
        "deploy/tools is not installed: scripts/install-test-deps runs npm ci there"
    );
    for overlay in OVERLAYS {
        let (objects, _) = render(overlay);
        let json = serde_json::Value::Array(objects.iter().map(to_json).collect()).to_string();
        let mut child = Command::new("node")
            .arg(tools.join("validate-crds.mjs"))
            .current_dir(&tools)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        ok(&format!("CRD schemas, {overlay}"), &out);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("valid ServiceMonitor/") && said.contains("valid PrometheusRule/"),
            "{said}"
        );
    }
}

/// The restricted Pod Security Standard's container rules, and a read-only root
/// filesystem, resources and probes on every container.
#[test]
fn the_kubernetes_pods_meet_the_restricted_pod_security_standard() {
    for overlay in OVERLAYS {
        let (objects, _) = render(overlay);
        let ns = objects
            .iter()
            .find(|o| o["kind"].as_str() == Some("Namespace"))
            .unwrap();
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as_str(),
            Some("restricted")
        );
        let deployments: Vec<&Yaml> = objects
            .iter()
            .filter(|o| o["kind"].as_str() == Some("Deployment"))
            .collect();
        assert_eq!(deployments.len(), 1, "{overlay}");
        let pod = &deployments[0]["spec"]["template"]["spec"];
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"].as_bool(),
            Some(true),
            "{overlay}"
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault")
        );
        assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
        assert!(pod["hostNetwork"].is_badvalue() && pod["hostPID"].is_badvalue());
        for c in pod["containers"].as_vec().unwrap() {
            let name = c["name"].as_str().unwrap();
            let sc = &c["securityContext"];
            assert_eq!(
                sc["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{overlay}/{name}"
            );
            assert_eq!(
                sc["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{overlay}/{name}"
            );
            assert_eq!(
                sc["capabilities"]["drop"][0].as_str(),
                Some("ALL"),
                "{overlay}/{name}"
            );
            assert!(sc["capabilities"]["add"].is_badvalue(), "{overlay}/{name}");
            assert!(sc["privileged"].is_badvalue(), "{overlay}/{name}");
            assert!(
                !c["resources"]["requests"]["memory"].is_badvalue(),
                "{overlay}/{name}"
            );
            assert!(
                !c["resources"]["limits"]["memory"].is_badvalue(),
                "{overlay}/{name}"
            );
            assert!(
                !c["livenessProbe"].is_badvalue() && !c["readinessProbe"].is_badvalue(),
                "{overlay}/{name}"
            );
        }
        // The agent talks to the Collector over localhost in the sidecar overlay.
        if overlay == "collector-sidecar" {
            let agent = pod["containers"]
                .as_vec()
                .unwrap()
                .iter()
                .find(|c| c["name"].as_str() == Some("agent"))
                .unwrap();
            let env = agent["env"].as_vec().unwrap();
            assert!(
                env.iter()
                    .any(|e| e["name"].as_str() == Some("OTEL_COLLECTOR_ENDPOINT")
                        && e["value"].as_str() == Some("http://127.0.0.1:4317"))
            );
        }
    }
}

/// `validate` of an agent configuration with the given environment.
fn validate_config(file: &str, env: &[(&str, &str)]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-otel-agent"));
    cmd.args(["validate", "--config"]).arg(root().join(file));
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(file, &mut cmd);
}

#[test]
fn the_shipped_agent_configurations_validate() {
    let env = [
        ("ECS_ENDPOINT", "https://ecs.example.com:4443"),
        ("ECS_USERNAME", "monitor"),
        ("ECS_PASSWORD", "from-the-secret"),
        ("OTEL_COLLECTOR_ENDPOINT", "http://127.0.0.1:4317"),
    ];
    validate_config("deploy/kubernetes/base/agent.yaml", &env);
    validate_config("deploy/compose/agent.yaml", &env);
    // The demo's CA file exists only in the running stack; validate reads it.
    // Any readable PEM bundle stands for it.
    let dir = TempDir::new("compose-demo");
    let demo = read("deploy/compose/agent-demo.yaml")
        .replace("/run/ecs-sim/ca.pem", "/etc/ssl/certs/ca-certificates.crt");
    let file = dir.path().join("agent-demo.yaml");
    std::fs::write(&file, demo).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-otel-agent"))
        .args(["validate", "--config"])
        .arg(&file)
        .env("ECS_PASSWORD", "monitor-pass")
        .output()
        .unwrap();
    ok("deploy/compose/agent-demo.yaml", &out);
}

#[test]
fn the_compose_file_validates_against_the_compose_specification() {
    run(
        "check-jsonschema (compose-spec)",
        Command::new(tool("CHECK_JSONSCHEMA", "check-jsonschema"))
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(root().join("deploy/compose/docker-compose.yml")),
    );
    // Every service has a health check, except the Collector (its image has no shell):
    // collector-health stands for it.
    let docs = YamlLoader::load_from_str(&read("deploy/compose/docker-compose.yml")).unwrap();
    let services = docs[0]["services"].as_hash().unwrap();
    for (name, s) in services {
        let name = name.as_str().unwrap();
        if name != "otel-collector" {
            assert!(
                !s["healthcheck"].is_badvalue(),
                "{name} has no health check"
            );
        }
    }
    assert!(read("deploy/compose/docker-compose.yml").contains("http://otel-collector:13133/"));
}

#[test]
fn the_systemd_unit_passes_systemd_analyze() {
    // verify wants the ExecStart binaries to exist: the unit as installed, with the
    // agent this test built in place of /usr/local/bin/ecs-otel-agent.
    let dir = TempDir::new("systemd");
    let unit = read("deploy/systemd/ecs-otel-agent.service").replace(
        "/usr/local/bin/ecs-otel-agent",
        env!("CARGO_BIN_EXE_ecs-otel-agent"),
    );
    let file = dir.path().join("ecs-otel-agent.service");
    std::fs::write(&file, unit).unwrap();
    let out = run(
        "systemd-analyze verify",
        Command::new(tool("SYSTEMD_ANALYZE", "systemd-analyze"))
            .arg("verify")
            .arg(&file),
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("ecs-otel-agent.service"), "{said}");
    let out = run(
        "systemd-analyze security",
        Command::new(tool("SYSTEMD_ANALYZE", "systemd-analyze"))
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&file),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for ").map(|(_, r)| r))
        .and_then(|r| r.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {text}"));
    assert!(score < 2.0, "exposure {score}:\n{text}");
}
