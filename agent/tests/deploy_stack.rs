//! The deployment kit against the real thing: the agent with every collector the
//! dashboards read, watching the simulator; a real Prometheus scraping it and evaluating
//! deploy/prometheus/{recording,alerts}.yml. Every query of the four Grafana dashboards
//! (their template variables included) and every recorded series must return series;
//! every alert expression must be accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ecs_sim::{SimConfig, Version};
use testkit::{Prometheus, http_get};
use yaml_rust2::YamlLoader;

mod lab;

use lab::{ECS_PASSWORD, Lab};

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

/// Every `expr` of the dashboards' panels and every template variable's query, with
/// Grafana's variables replaced by what "All" and a one-hour view would give.
fn dashboard_queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in ["operations", "cost", "multi-tenant", "security"] {
        let path = root().join(format!("deploy/grafana/dashboards/{name}.json"));
        let dash: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut exprs: Vec<String> = dash["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t["expr"].as_str().map(str::to_owned))
            .collect();
        // label_values(<selector>, label): the selector must select something.
        for v in dash["templating"]["list"].as_array().unwrap() {
            if let Some(q) = v["query"]["query"].as_str() {
                let inner = q
                    .strip_prefix("label_values(")
                    .and_then(|r| r.rsplit_once(','))
                    .map(|(sel, _)| sel.to_owned())
                    .unwrap();
                exprs.push(inner);
            }
        }
        for e in exprs {
            let q = e
                .replace("$cluster", ".*")
                .replace("$namespace", ".*")
                .replace("$__rate_interval", "1m")
                .replace("$__range", "1h");
            out.push((name.to_owned(), q));
        }
    }
    out
}

/// (record or alert name, expr) of a rules file.
fn rules(file: &str) -> Vec<(Option<String>, Option<String>, String)> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let mut out = Vec::new();
    for g in docs[0]["groups"].as_vec().unwrap() {
        for r in g["rules"].as_vec().unwrap() {
            let s = |k: &str| r[k].as_str().map(str::to_owned);
            out.push((s("record"), s("alert"), s("expr").unwrap()));
        }
    }
    out
}

/// A threshold may answer nothing; what it compares must answer something.
fn compared(q: &str) -> &str {
    [" > ", " < ", " == "]
        .iter()
        .find_map(|op| q.rsplit_once(op).map(|(left, _)| left))
        .unwrap_or(q)
}

fn answer(server: &Prometheus, q: &str) -> serde_json::Value {
    serde_json::from_str(&server.query(q)).unwrap_or_default()
}

fn has_series(server: &Prometheus, q: &str) -> bool {
    let r = answer(server, q);
    r["status"] == "success"
        && r["data"]["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
}

#[test]
fn every_dashboard_query_and_recorded_series_answers_from_the_agent_on_the_simulator() {
    let lab = Lab::start("deploy-stack", SimConfig::small(Version::Ecs38));
    // Every collector a dashboard reads; the OTLP exporter so that its queue is reported.
    // The performance collector's 15 Flux queries get 5 s (a timeout of 4 s): with the
    // 1 s interval (0.8 s timeout) a run on a machine busy compiling showed no Flux series
    // within 120 s, most likely every run timing out.
    let cfg = lab.config(&format!(
        r#"
receivers:
  ecs/lab:
    endpoint: {url}
    username: emcmonitor
    password: ${{env:E2E_ECS_PASSWORD}}
    tls:
      ca_file: {ca}
    collection_interval: 1s
    initial_delay: 0s
    collectors:
      billing:
        enabled: true
        pricing:
          storage: {{default: 0.02}}
          egress:
            - {{up_to_gb: 10240, price: 0.09}}
            - {{price: 0.07}}
      iam:
        enabled: true
        collection_interval: 5s
        probe_timeout: 2s
      performance:
        enabled: true
        collection_interval: 5s
      audit:
        enabled: true
        collection_interval: 5s
        initial_lookback: 1h
  self:
    collection_interval: 1s
exporters:
  prometheus:
    endpoint: {prom}
  otlp:
    endpoint: http://{otlp}
    timeout: 5s
extensions:
  health_check:
    endpoint: {health}
service:
  extensions: [health_check]
  scheduler:
    base_interval: 1s
  pipelines:
    metrics:
      receivers: [ecs/lab, self]
      exporters: [prometheus, otlp]
    logs:
      receivers: [ecs/lab]
      exporters: [otlp]
    traces:
      exporters: [otlp]
"#,
        url = lab.sim.url(),
        ca = lab.ca().display(),
        otlp = lab.rotel.grpc,
        prom = lab.prom,
        health = lab.health,
    ));
    let mut agent = lab::spawn_ready(&cfg, lab.health, &[ECS_PASSWORD, ("RUST_LOG", "warn")]);

    let recording = root().join("deploy/prometheus/recording.yml");
    let alerting = root().join("deploy/prometheus/alerts.yml");
    let server = Prometheus::start_with_rules(&[lab.prom], "", &[&recording, &alerting]);

    let queries = dashboard_queries();
    assert!(queries.len() >= 60, "{}", queries.len());
    let recorded: Vec<String> = rules("deploy/prometheus/recording.yml")
        .into_iter()
        .filter_map(|(record, _, _)| record)
        .collect();
    assert!(recorded.len() >= 10, "{recorded:?}");
    let all_answer = || {
        queries
            .iter()
            .all(|(_, q)| has_series(&server, compared(q)))
            && recorded.iter().all(|r| has_series(&server, r))
    };
    // Rates and the rules need a few scrapes and evaluations; the IAM and audit cycles
    // take a few seconds on a loaded machine.
    let deadline = Duration::from_secs(180);
    let start = std::time::Instant::now();
    while start.elapsed() < deadline && !all_answer() {
        std::thread::park_timeout(Duration::from_millis(500));
    }
    let mut missing = Vec::new();
    for (dash, q) in &queries {
        if !has_series(&server, compared(q)) {
            missing.push(format!("{dash}: {q}: {}", server.query(compared(q))));
        }
    }
    for r in &recorded {
        if !has_series(&server, r) {
            missing.push(format!("recording rule {r}: {}", server.query(r)));
        }
    }
    for (_, alert, expr) in rules("deploy/prometheus/alerts.yml") {
        let r = answer(&server, &expr);
        if r["status"] != "success" {
            missing.push(format!("alert {alert:?}: {expr}: {r}"));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} queries answer nothing:\n{}\n/health: {}\nagent: {}",
        missing.len(),
        queries.len() + recorded.len(),
        missing.join("\n"),
        http_get(lab.health, "/health", &[])
            .map(|(_, b)| b)
            .unwrap_or_default(),
        agent.output()
    );
    agent.kill();
    lab.stop();
}
