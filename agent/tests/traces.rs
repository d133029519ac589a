//! The agent's traces as Jaeger or Tempo would show them, read from a real OTLP receiver's
//! log (rotel): client spans named after their route template with the HTTP semantic
//! conventions' attributes, under one root span per collection cycle that names the
//! cluster and collector; a failing call marked as an error; and a real Prometheus (exemplar
//! storage on) whose exemplars of the agent's latency histograms lead to those traces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ecs_sim::{FaultRule, SimConfig, Version};
use testkit::{Proc, Prometheus, http_get, wait_until};

mod lab;

use lab::{ECS_PASSWORD, Lab};

/// One span as rotel's detailed debug output prints it.
#[derive(Debug, Clone, Default)]
struct RotelSpan {
    trace_id: String,
    id: String,
    parent: String,
    name: String,
    kind: String,
    status: String,
    attrs: BTreeMap<String, String>,
}

impl RotelSpan {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.get(k).map(String::as_str)
    }
}

/// `Key   : value` → (`Key`, `value`).
fn field(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once(':')?;
    Some((k.trim(), v.trim()))
}

fn rotel_spans(out: &str) -> Vec<RotelSpan> {
    let mut spans = Vec::new();
    for chunk in out.split("Span #").skip(1) {
        let mut s = RotelSpan::default();
        let mut in_attrs = false;
        for line in chunk.lines() {
            let t = line.trim();
            if let Some(kv) = t.strip_prefix("-> ") {
                if in_attrs && let Some((k, v)) = kv.split_once(": ") {
                    s.attrs.insert(k.trim().to_owned(), v.trim().to_owned());
                }
                continue;
            }
            in_attrs = false;
            match field(t) {
                Some(("Trace ID", v)) => s.trace_id = v.to_owned(),
                Some(("Parent ID", v)) => s.parent = v.to_owned(),
                Some(("ID", v)) => s.id = v.to_owned(),
                Some(("Name", v)) => s.name = v.to_owned(),
                Some(("Kind", v)) => s.kind = v.to_owned(),
                Some(("Status code", v)) => s.status = v.to_owned(),
                Some(("Attributes", _)) => in_attrs = true,
                _ => {}
            }
            if t.starts_with("ResourceSpans #") || t.starts_with("ScopeSpans #") {
                break;
            }
        }
        spans.push(s);
    }
    spans
}

struct Setup {
    agent: Proc,
    lab: Lab,
}

fn setup(sim_cfg: impl FnOnce(&mut SimConfig), ecs_extra: &str, service_extra: &str) -> Setup {
    let mut sc = SimConfig::small(Version::Ecs38);
    sim_cfg(&mut sc);
    let lab = Lab::start("traces-e2e", sc);
    let cfg = lab.config(&format!(
        r#"
receivers:
  ecs/lab:
    endpoint: {url}
    username: emcmonitor
    password: ${{env:E2E_ECS_PASSWORD}}
    cluster_name: lab-cluster
    tls:
      ca_file: {ca}
    collection_interval: 2s
    initial_delay: 0s
{ecs_extra}  self:
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
{service_extra}  pipelines:
    metrics:
      receivers: [ecs/lab, self]
      exporters: [prometheus, otlp]
    traces:
      exporters: [otlp]
"#,
        url = lab.sim.url(),
        ca = lab.ca().display(),
        otlp = lab.rotel.grpc,
        prom = lab.prom,
        health = lab.health,
    ));
    let agent = lab::spawn_ready(&cfg, lab.health, &[ECS_PASSWORD]);
    Setup { agent, lab }
}

impl Setup {
    fn stop(mut self) -> String {
        let out = lab::stop(&mut self.agent, "TERM");
        self.lab.stop();
        out
    }

    fn metric(&self, series: &str) -> f64 {
        let (_, body) = http_get(self.lab.prom, "/metrics", &[]).unwrap();
        body.lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

const IAM: &str = "    collectors:\n      iam:\n        enabled: true\n";

#[test]
fn traces_name_their_calls_and_exemplars_lead_to_them() {
    // Every second alerts call fails: a client span with an error in some dashboard cycle.
    let s = setup(
        |c| {
            c.faults.rules.push(FaultRule {
                path: "/vdc/alerts".into(),
                error_rate: 0.5,
                status: Some(503),
                ..FaultRule::default()
            })
        },
        IAM,
        "",
    );
    let server = Prometheus::start_with(&[s.lab.prom], "", &["--enable-feature=exemplar-storage"]);
    let provider = "GET /vdc/admin/authnproviders/{id}";
    wait_until(
        Duration::from_secs(60),
        "rotel to print an IAM cycle and a failed alerts call",
        || {
            let spans = rotel_spans(&s.lab.rotel.output());
            spans.iter().any(|x| x.name == provider)
                && spans
                    .iter()
                    .any(|x| x.name == "GET /vdc/alerts" && x.status.contains("ERROR"))
                && spans.iter().any(|x| {
                    x.name == "collect ecs/lab/iam" && x.attrs.contains_key("ecs.vdc.name")
                })
        },
    );

    // Prometheus keeps exemplars of the call and run durations.
    let exemplar_traces = |metric: &str| -> BTreeSet<String> {
        let body = server.query_exemplars(metric, Duration::from_secs(300));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
            .collect()
    };
    let calls = "ecs_otel_agent_ecs_request_duration_seconds_bucket";
    let runs = "ecs_otel_agent_receiver_run_duration_seconds_bucket";
    wait_until(
        Duration::from_secs(60),
        "Prometheus to store exemplars of both histograms",
        || !exemplar_traces(calls).is_empty() && !exemplar_traces(runs).is_empty(),
    );
    let by_call = exemplar_traces(calls);
    let by_run = exemplar_traces(runs);
    let out = s.lab.rotel.output();
    let spans = rotel_spans(&out);
    let traced: BTreeSet<&str> = spans.iter().map(|x| x.trace_id.as_str()).collect();
    let found = |ids: &BTreeSet<String>| ids.iter().filter(|t| traced.contains(t.as_str())).count();
    assert!(found(&by_call) > 0, "{by_call:?} not in rotel's log");
    assert!(found(&by_run) > 0, "{by_run:?} not in rotel's log");
    // The same histograms over OTLP carry exemplars too (rotel prints them as
    // `-> Trace ID: …` under `Exemplar #n`), naming traces it received.
    let otlp: BTreeSet<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-> Trace ID: "))
        .map(str::to_owned)
        .collect();
    assert!(found(&otlp) > 0, "{otlp:?} not in rotel's log");

    // A provider call: a client span with the conventions' attributes, under its cycle.
    let call = spans.iter().find(|x| x.name == provider).unwrap();
    assert!(call.kind.contains("CLIENT"), "{call:?}");
    assert_eq!(
        call.attr("url.template"),
        Some("Str(/vdc/admin/authnproviders/{id})")
    );
    assert_eq!(call.attr("http.request.method"), Some("Str(GET)"));
    assert_eq!(call.attr("http.response.status_code"), Some("Int(200)"));
    assert_eq!(call.attr("server.address"), Some("Str(127.0.0.1)"));
    assert_eq!(
        call.attr("server.port"),
        Some(format!("Int({})", s.lab.sim.mgmt.port()).as_str())
    );
    assert!(call.attr("error.type").is_none(), "{call:?}");
    let root = spans
        .iter()
        .find(|x| x.id == call.parent && x.trace_id == call.trace_id)
        .unwrap_or_else(|| panic!("no parent of {call:?}"));
    assert_eq!(root.name, "collect ecs/lab/iam");
    assert!(root.kind.contains("INTERNAL"), "{root:?}");
    assert!(root.parent.is_empty(), "{root:?}");
    assert_eq!(root.attr("ecs.cluster.name"), Some("Str(lab-cluster)"));
    let vdc = s.lab.sim.model().vdc_name.clone();
    assert_eq!(
        root.attr("ecs.vdc.name"),
        Some(format!("Str({vdc})").as_str())
    );
    assert_eq!(root.attr("ecs_otel_agent.collector"), Some("Str(iam)"));
    assert_eq!(
        root.attr("ecs_otel_agent.run.outcome"),
        Some("Str(success)")
    );
    assert_eq!(root.attr("ecs.namespaces.read"), Some("Int(5)"));
    assert_eq!(root.attr("ecs.namespaces.postponed"), Some("Int(0)"));
    // Every client span of the cycle counts as a call.
    let children = spans
        .iter()
        .filter(|x| x.trace_id == root.trace_id && x.kind.contains("CLIENT"))
        .count();
    assert_eq!(
        root.attr("ecs_otel_agent.run.calls"),
        Some(format!("Int({children})").as_str()),
        "{root:?}"
    );
    let points: u64 = root
        .attr("ecs_otel_agent.run.points")
        .and_then(|v| v.strip_prefix("Int(")?.strip_suffix(')')?.parse().ok())
        .unwrap();
    assert!(points > 0, "{root:?}");

    // The failed alerts call: status Error, `error.type` the HTTP status.
    let failed = spans
        .iter()
        .find(|x| x.name == "GET /vdc/alerts" && x.status.contains("ERROR"))
        .unwrap();
    assert_eq!(failed.attr("error.type"), Some("Str(503)"));
    assert_eq!(failed.attr("http.response.status_code"), Some("Int(503)"));
    assert_eq!(failed.attr("url.template"), Some("Str(/vdc/alerts)"));
    let dash = spans
        .iter()
        .find(|x| x.id == failed.parent && x.trace_id == failed.trace_id)
        .unwrap();
    assert_eq!(dash.name, "collect ecs/lab/dashboard");

    // IAM's query values stay out of the spans.
    for x in spans.iter().filter(|x| x.name.starts_with("POST /iam")) {
        let url = x
            .attr("url.full")
            .and_then(|v| v.strip_prefix("Str(")?.strip_suffix(')'))
            .unwrap();
        assert!(url.contains("Action="), "{x:?}");
        for (k, v) in url
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .filter_map(|p| p.split_once('='))
        {
            assert!(k == "Action" || v == "REDACTED", "{x:?}");
        }
    }

    // Resource and scope name the conventions' version.
    let schema = "https://opentelemetry.io/schemas/1.26.0";
    assert!(
        out.lines()
            .filter(|l| l.contains("SchemaURL") || l.contains("Schema URL"))
            .filter(|l| l.contains(schema))
            .count()
            >= 2,
        "no schema URL on resource and scope"
    );
    let agent_log = s.stop();
    assert!(!agent_log.contains("panicked"), "{agent_log}");
}

#[test]
fn a_capped_iam_cycle_sends_its_root_and_cap_spans_and_counts_the_rest() {
    let s = setup(
        |_| {},
        IAM,
        "  telemetry:\n    traces:\n      max_spans_per_cycle: 10\n",
    );
    let unrecorded = "ecs_otel_agent_receiver_unrecorded_spans_total{receiver=\"ecs/lab/iam\"";
    wait_until(
        Duration::from_secs(60),
        "an IAM cycle at rotel and spans counted as unrecorded",
        || {
            let spans = rotel_spans(&s.lab.rotel.output());
            spans.iter().any(|x| x.name == "collect ecs/lab/iam") && s.metric(unrecorded) > 0.0
        },
    );
    let spans = rotel_spans(&s.lab.rotel.output());
    let mut left_out = 0u64;
    for root in spans.iter().filter(|x| x.name == "collect ecs/lab/iam") {
        let in_trace = spans.iter().filter(|x| x.trace_id == root.trace_id).count();
        assert!(in_trace <= 11, "{in_trace} spans in {root:?}");
        let calls: u64 = root
            .attr("ecs_otel_agent.run.calls")
            .and_then(|v| v.strip_prefix("Int(")?.strip_suffix(')')?.parse().ok())
            .unwrap();
        let n: u64 = root
            .attr("ecs_otel_agent.run.spans.unrecorded")
            .and_then(|v| v.strip_prefix("Int(")?.strip_suffix(')')?.parse().ok())
            .unwrap_or(0);
        // Calls and namespace spans beyond the first ten.
        assert!(calls > 10 && n >= calls - 10, "{root:?}");
        assert_eq!(in_trace as u64, 11, "{root:?}");
        left_out += n;
    }
    assert!(left_out > 0);
    assert!(s.metric(unrecorded) >= 1.0);
    s.stop();
}

#[test]
fn with_the_always_off_sampler_no_span_leaves_and_no_exemplar_is_kept() {
    let s = setup(
        |_| {},
        "",
        "  telemetry:\n    traces:\n      sampler: always_off\n",
    );
    // Three snapshots of the `self` receiver at rotel: the first cycles' spans, sent at
    // least once a second, would have arrived before them.
    wait_until(
        Duration::from_secs(30),
        "three self snapshots at rotel",
        || {
            s.lab
                .rotel
                .output()
                .lines()
                .filter(|l| l.trim().ends_with("ecs_otel_agent.uptime"))
                .count()
                >= 3
        },
    );
    let out = s.lab.rotel.output();
    assert!(rotel_spans(&out).is_empty(), "spans sent with always_off");
    assert!(!out.contains("Exemplar #"), "an exemplar over OTLP");
    let (_, om) = http_get(
        s.lab.prom,
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    )
    .unwrap();
    assert!(om.contains("ecs_otel_agent_ecs_request_duration_seconds_bucket"));
    assert!(!om.contains(" # {"), "an exemplar on /metrics");
    s.stop();
}
