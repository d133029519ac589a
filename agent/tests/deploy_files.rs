//! The shipped Prometheus files are checked by promtool, and the Kubernetes manifest's
//! embedded agent configuration validates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use testkit::{TempDir, tool};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `promtool check <args> <file>`, run beside the file (its relative paths resolve there).
fn promtool_check(args: &[&str], file: &str) {
    let path = root().join(file);
    let out = Command::new(tool("PROMTOOL", "promtool"))
        .arg("check")
        .args(args)
        .arg(&path)
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{file}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_pass_promtool() {
    promtool_check(&["rules"], "deploy/prometheus/alerts.yml");
}

#[test]
fn prometheus_scrape_config_passes_promtool() {
    promtool_check(&["config", "--syntax-only"], "otel-configs/prometheus.yml");
}

#[test]
fn kubernetes_manifest_embeds_a_valid_agent_configuration() {
    let manifest =
        std::fs::read_to_string(root().join("deploy/kubernetes/ecs-otel-agent.yaml")).unwrap();
    let start = manifest.find("  agent.yaml: |\n").unwrap() + "  agent.yaml: |\n".len();
    let body: String = manifest[start..]
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let dir = TempDir::new("k8s-config");
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, body).unwrap();
    // As the Deployment's env (one value, two from the credentials Secret) provides them.
    assert!(manifest.contains("secretKeyRef: {name: ecs-otel-agent-credentials, key: password}"));
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-otel-agent"))
        .args(["validate", "--config"])
        .arg(&path)
        .env("ECS_ENDPOINT", "https://ecs.example.com:4443")
        .env("ECS_USERNAME", "monitor")
        .env("ECS_PASSWORD", "from-the-secret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_use_names_the_agent_exports() {
    let rules = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yml")).unwrap();
    let reference = std::fs::read_to_string(root().join("docs/metrics.md")).unwrap();
    let mut checked = 0;
    for line in rules
        .lines()
        .filter(|l| l.trim_start().starts_with("expr:"))
    {
        let expr = line.trim_start().trim_start_matches("expr:");
        let names = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("emcecs_") || w.starts_with("ecs_otel_agent_"));
        for name in names {
            assert!(
                reference.contains(&format!("`{name}`")),
                "{name} (in {expr}) is not in docs/metrics.md"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} names found");
}

#[test]
fn the_grafana_dashboard_is_json_and_uses_names_the_agent_exports() {
    let text = std::fs::read_to_string(root().join("deploy/grafana/ecs-otel-agent.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let reference = std::fs::read_to_string(root().join("docs/metrics.md")).unwrap();
    let mut exprs: Vec<String> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    exprs.extend(
        dash["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["query"].as_str().map(str::to_owned)),
    );
    assert!(exprs.len() >= 20, "{exprs:?}");
    for expr in &exprs {
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("emcecs_") || w.starts_with("ecs_otel_agent_"))
        {
            assert!(
                reference.contains(&format!("`{name}`")),
                "{name} (in {expr}) is not in docs/metrics.md"
            );
        }
    }
}
