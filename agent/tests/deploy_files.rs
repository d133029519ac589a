//! The shipped Prometheus files are checked by promtool, and the Kubernetes manifest's
//! embedded agent configuration validates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use testkit::{TempDir, tool};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn alert_rules_pass_promtool() {
    let out = Command::new(tool("PROMTOOL", "promtool"))
        .args(["check", "rules"])
        .arg(root().join("deploy/prometheus/alerts.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_scrape_config_passes_promtool() {
    let out = Command::new(tool("PROMTOOL", "promtool"))
        .args(["check", "config", "--syntax-only"])
        .arg(root().join("otel-configs/prometheus.yml"))
        .current_dir(root().join("otel-configs"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
