//! The built agent with the ECS receiver against the simulator (in this process, so the
//! tests can read its model and inject faults), a real OTLP receiver (rotel) and a real
//! Prometheus server. Every value is checked against the simulator's model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use ecs_sim::{SimConfig, Version};
use testkit::{Proc, Prometheus, TempDir, http_get, loopback, promtool_check_metrics, wait_until};

mod lab;

use lab::{ECS_PASSWORD, Lab};

const USER: &str = "emcmonitor";

struct Setup {
    cfg: std::path::PathBuf,
    agent: Proc,
    lab: Lab,
}

fn setup(version: Version, sim_cfg: impl FnOnce(&mut SimConfig), receivers: &str) -> Setup {
    setup_with(version, sim_cfg, receivers, "")
}

/// `ecs_extra`: more settings of the ECS receiver, indented by 4.
fn setup_with(
    version: Version,
    sim_cfg: impl FnOnce(&mut SimConfig),
    receivers: &str,
    ecs_extra: &str,
) -> Setup {
    let mut sc = SimConfig::small(version);
    sim_cfg(&mut sc);
    let lab = Lab::start("ecs-e2e", sc);
    let cfg = lab.config(&format!(
        r#"
receivers:
  ecs/lab:
    endpoint: {url}
    username: {USER}
    password: ${{env:E2E_ECS_PASSWORD}}
    tls:
      ca_file: {ca}
    collection_interval: 1s
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
  pipelines:
    metrics:
      receivers: [{receivers}]
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
    let agent = lab::spawn_ready(&cfg, lab.health, &[ECS_PASSWORD, ("RUST_LOG", "info")]);
    Setup { cfg, agent, lab }
}

impl Setup {
    fn metrics(&self) -> String {
        let (status, body) = http_get(self.lab.prom, "/metrics", &[]).unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    fn health(&self) -> serde_json::Value {
        let (_, body) = http_get(self.lab.health, "/health", &[]).unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// A clean stop and a new agent process on the same configuration.
    fn restart(&mut self) {
        self.terminate();
        self.agent = lab::spawn_ready(
            &self.cfg,
            self.lab.health,
            &[ECS_PASSWORD, ("RUST_LOG", "info")],
        );
    }

    fn terminate(&mut self) {
        lab::stop(&mut self.agent, "TERM");
    }

    /// SIGTERM, a clean exit, and the session given back to ECS.
    fn stop(mut self) {
        self.terminate();
        assert_eq!(
            self.lab.sim.sim.sessions.count(USER),
            0,
            "the agent logged out\n{}",
            self.agent.output()
        );
        self.lab.stop();
    }
}

/// One sample of a text exposition.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (head, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match head.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (head, ""),
        };
        let mut map = BTreeMap::new();
        let mut rest = labels;
        while let Some((k, v)) = rest.split_once("=\"") {
            let mut val = String::new();
            let mut chars = v.char_indices();
            let mut end = v.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(match n {
                                'n' => '\n',
                                o => o,
                            });
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            map.insert(k.trim_start_matches(',').to_owned(), val);
            rest = &v[end..];
        }
        out.push(Sample {
            name: name.to_owned(),
            labels: map,
            value: value.parse().unwrap(),
        });
    }
    out
}

fn samples<'a>(all: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    all.iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

fn one(all: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = samples(all, name, labels);
    assert_eq!(s.len(), 1, "{name} {labels:?}: {s:?}");
    s[0].value
}

/// Values rotel printed for a metric: (attributes, value) per data point, latest last.
fn rotel_points(out: &str, metric: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    rotel_points_timed(out, metric)
        .into_iter()
        .map(|p| (p.attrs, p.value))
        .collect()
}

/// A data point as rotel printed it.
#[derive(Debug, Clone)]
struct RotelPoint {
    attrs: BTreeMap<String, String>,
    value: f64,
    /// StartTimestamp and Timestamp, nanoseconds.
    start: u64,
    time: u64,
}

fn rotel_points_timed(out: &str, metric: &str) -> Vec<RotelPoint> {
    let mut points = Vec::new();
    let (mut start, mut time) = (0u64, 0u64);
    let mut in_metric = false;
    let mut attrs = BTreeMap::new();
    let mut in_attrs = false;
    for line in out.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("-> Name: ") {
            in_metric = name == metric;
            continue;
        }
        if t.starts_with("Metric #") || t.starts_with("ResourceMetrics #") {
            in_metric = false;
        }
        if !in_metric {
            continue;
        }
        if t.starts_with("NumberDataPoints #") {
            attrs = BTreeMap::new();
            in_attrs = false;
        } else if let Some(v) = t.strip_prefix("StartTimestamp: ") {
            in_attrs = false;
            start = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = t.strip_prefix("Timestamp: ") {
            time = v.trim().parse().unwrap_or(0);
        } else if t == "Data point attributes:" {
            in_attrs = true;
        } else if in_attrs && let Some(kv) = t.strip_prefix("-> ") {
            if let Some((k, v)) = kv.split_once(": ") {
                let v = v
                    .strip_prefix("Str(")
                    .and_then(|v| v.strip_suffix(')'))
                    .unwrap_or(v);
                attrs.insert(k.to_owned(), v.to_owned());
            }
        } else if let Some(v) = t.strip_prefix("Value: ") {
            in_attrs = false;
            if let Ok(v) = v.parse::<f64>() {
                points.push(RotelPoint {
                    attrs: attrs.clone(),
                    value: v,
                    start,
                    time,
                });
            }
        } else if !t.starts_with("-> ") {
            in_attrs = false;
        }
    }
    points
}

/// Whether a span rotel printed has a parent (here: the collection cycle's root span).
fn has_parent(span: &str) -> bool {
    span.lines()
        .find(|l| l.trim_start().starts_with("Parent ID"))
        .and_then(|l| l.split_once(':'))
        .is_some_and(|(_, id)| !id.trim().is_empty())
}

fn check_version(version: Version) {
    let s = setup(version, |_| {}, "ecs/lab, self");
    wait_until(
        Duration::from_secs(30),
        "the cluster's series on /metrics",
        || {
            let m = s.metrics();
            m.contains("emcecs_node_stats_up{") && m.contains("emcecs_capacity_total_bytes{")
        },
    );
    let m = s.lab.sim.model();
    let o = s.lab.sim.sim.faults.overrides();
    let t = s.lab.sim.sim.clock.now();
    // Raw capacity does not move with time; free space does (checked in the receiver's
    // own tests against the model at both ends of a cycle).
    let total = m.capacity(t, &o).total as f64;
    assert_eq!(total, m.capacity(t + 3600, &o).total as f64);

    let body = s.metrics();
    let all = parse_exposition(&body);
    assert_eq!(one(&all, "emcecs_capacity_total_bytes", &[]), total);
    assert_eq!(
        one(&all, "emcecs_nodes", &[("state", "good")]),
        m.nodes.len() as f64
    );
    assert_eq!(
        one(&all, "emcecs_version_info", &[("version", version.build())]),
        1.0
    );
    for sev in ["critical", "error", "warning", "info"] {
        let n: f64 = samples(&all, "emcecs_alerts_unacknowledged", &[("severity", sev)])
            .iter()
            .map(|x| x.value)
            .sum();
        assert_eq!(n, m.unacked(&sev.to_ascii_uppercase()) as f64, "{sev}");
    }
    for ns in m.namespaces.values() {
        assert_eq!(
            one(&all, "emcecs_buckets", &[("namespace", ns.name.as_str())]),
            ns.buckets.len() as f64
        );
    }
    for (i, n) in m.nodes.iter().enumerate() {
        let at = ("node", n.name.as_str());
        assert_eq!(one(&all, "emcecs_node_stats_up", &[at]), 1.0, "{}", n.name);
        let dt = samples(&all, "emcecs_node_dt_tables", &[at, ("state", "total")]);
        if version.has_dt_stats() {
            assert_eq!(dt.len(), 1, "{}", n.name);
            assert_eq!(dt[0].value, m.dt_stats(i, &o).0 as f64);
        } else {
            assert!(dt.is_empty(), "ObjectScale has no 9101: {dt:?}");
        }
    }
    let tx = samples(&all, "emcecs_transaction_latency_seconds", &[]);
    assert_eq!(!tx.is_empty(), version.has_transactions(), "{tx:?}");
    // target_info carries the cluster's identity.
    let ti = samples(&all, "target_info", &[("ecs_cluster_name", "lab")]);
    assert_eq!(ti.len(), 1, "{body}");
    assert_eq!(ti[0].labels["ecs_vdc_name"], m.vdc_name);
    assert_eq!(ti[0].labels["instance"], "lab");

    // promtool accepts the exposition as served.
    let (ok, report) = promtool_check_metrics(body.as_bytes());
    assert!(ok && report.is_empty(), "promtool: {report}");

    // Prometheus stores the same figures.
    let server = Prometheus::start(&[s.lab.prom], "");
    let q = "emcecs_nodes{state=\"good\",instance=\"lab\"}";
    wait_until(
        Duration::from_secs(60),
        "Prometheus to store the cluster",
        || server.query(q).contains("\"result\":[{"),
    );
    let r: serde_json::Value = serde_json::from_str(&server.query(q)).unwrap();
    assert_eq!(
        r["data"]["result"][0]["value"][1],
        serde_json::json!(m.nodes.len().to_string()),
        "{r}"
    );

    // rotel receives the same values, under the cluster's resource, and the spans.
    wait_until(
        Duration::from_secs(30),
        "rotel to print the cluster's metrics and spans",
        || {
            let out = s.lab.rotel.output();
            out.contains("emcecs.capacity.total")
                && out.contains("collect ecs/lab/dashboard")
                && out.contains("/dashboard/zones/localzone")
        },
    );
    let out = s.lab.rotel.output();
    let cap = rotel_points(&out, "emcecs.capacity.total");
    assert!(!cap.is_empty(), "{out}");
    assert!(cap.iter().all(|(_, v)| *v == total), "{cap:?}");
    let good = rotel_points(&out, "emcecs.nodes");
    assert!(
        good.iter()
            .any(|(a, v)| a.get("state").map(String::as_str) == Some("good")
                && *v == m.nodes.len() as f64),
        "{good:?}"
    );
    assert!(
        out.split("Span #").any(|span| span
            .contains("/dashboard/zones/localzone?dataType=current)")
            && span.contains("http.response.status_code: Int(200)")
            && has_parent(span)),
        "no child span of a management call in rotel's output"
    );
    for attr in [
        "ecs.cluster.name: Str(lab)".to_owned(),
        format!("ecs.vdc.name: Str({})", m.vdc_name),
        format!("ecs.version: Str({})", version.build()),
    ] {
        assert!(out.contains(&attr), "{attr} missing from rotel's output");
    }
    drop(m);
    s.stop();
}

#[test]
fn ecs_3_5_series_match_the_model_on_both_exporters() {
    check_version(Version::Ecs35);
}

#[test]
fn ecs_3_8_series_match_the_model_on_both_exporters() {
    check_version(Version::Ecs38);
}

#[test]
fn objectscale_4_1_series_match_the_model_on_both_exporters() {
    check_version(Version::ObjectScale41);
}

#[test]
fn the_token_limit_leaves_the_agent_degraded_without_a_login_storm() {
    // A back-off far longer than the test: every run after the first refusal fails at
    // once, without asking ECS again.
    let s = setup_with(
        Version::Ecs38,
        |c| c.faults.token_limit_reached = true,
        "ecs/lab",
        "    login_backoff: 1h\n",
    );
    // Three failed runs make a receiver unhealthy, except for this reason.
    wait_until(
        Duration::from_secs(30),
        "three failed runs of each collector",
        || {
            let h = s.health();
            ["ecs/lab/dashboard", "ecs/lab/node_stats"].iter().all(|r| {
                h["components"]["receivers"][r]["consecutive_failures"]
                    .as_u64()
                    .is_some_and(|n| n >= 3)
            })
        },
    );
    let h = s.health();
    assert_eq!(h["status"], "degraded", "{h:#}");
    let r = &h["components"]["receivers"]["ecs/lab/dashboard"];
    assert_eq!(r["status"], "degraded", "{h:#}");
    assert_eq!(r["last_error_kind"], "token_limit", "{h:#}");
    let msg = r["last_error"].as_str().unwrap();
    assert!(
        msg.contains("limit of concurrent tokens") && msg.contains(USER),
        "{msg}"
    );
    // One login attempt, then the back-off: no storm however many runs failed.
    let logins = s.lab.sim.sim.log.calls("GET /login");
    assert_eq!(logins, 1, "{}", s.agent.output());
    assert!(
        s.agent.output().contains("ECS login failed"),
        "{}",
        s.agent.output()
    );
    s.stop();
}

#[test]
fn a_dead_node_ends_its_series_and_leaves_an_error_span() {
    let s = setup(Version::Ecs38, |_| {}, "ecs/lab");
    let (dead, ip) = {
        let m = s.lab.sim.model();
        (m.nodes[1].name.clone(), m.nodes[1].mgmt_ip.to_string())
    };
    let dt_of = |name: &str| {
        samples(
            &parse_exposition(&s.metrics()),
            "emcecs_node_dt_tables",
            &[("node", name), ("state", "total")],
        )
        .len()
    };
    wait_until(Duration::from_secs(30), "the node's series", || {
        dt_of(&dead) == 1
    });
    let server = Prometheus::start(&[s.lab.prom], "");
    let q = format!("emcecs_node_dt_tables{{node=\"{dead}\",state=\"total\"}}");
    wait_until(
        Duration::from_secs(60),
        "Prometheus to store the node",
        || server.query(&q).contains("\"result\":[{"),
    );

    s.lab.sim.sim.faults.update(|f| f.nodes_down = vec![1]);
    wait_until(Duration::from_secs(30), "the node's series to end", || {
        dt_of(&dead) == 0
    });
    let all = parse_exposition(&s.metrics());
    assert_eq!(one(&all, "emcecs_node_stats_up", &[("node", &dead)]), 0.0);
    let alive = s.lab.sim.model().nodes[0].name.clone();
    assert_eq!(one(&all, "emcecs_node_stats_up", &[("node", &alive)]), 1.0);
    assert_eq!(
        samples(&all, "emcecs_node_dt_tables", &[("node", &alive)]).len(),
        3
    );
    // Prometheus sees the series end (a staleness marker), not a frozen value.
    wait_until(
        Duration::from_secs(60),
        "Prometheus to mark the series stale",
        || server.query(&q).contains("\"result\":[]"),
    );
    // The failed call is a client span with an error, naming the node's address.
    wait_until(
        Duration::from_secs(30),
        "rotel to print the failed node call",
        || {
            let out = s.lab.rotel.output();
            out.split("Span #").any(|span| {
                span.contains(&format!(
                    "url.full: Str(http://{ip}:9101/stats/dt/DTInitStat)"
                )) && span.contains("STATUS_CODE_ERROR")
                    && span.contains("error.type: Str(transport)")
                    && span.contains("server.port: Int(9101)")
                    && has_parent(span)
            })
        },
    );
    // Health says what is wrong without calling the whole agent broken.
    let h = s.health();
    let r = &h["components"]["receivers"]["ecs/lab/node_stats"];
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains(&dead) && warnings.contains(&ip), "{h:#}");
    assert_eq!(h["status"], "degraded", "{h:#}");
    s.stop();
}

/// The README's first command: `ecs-otel-agent --demo` shows a simulated cluster.
#[test]
fn the_demo_shows_the_simulated_cluster_within_one_interval() {
    let (prom, health) = (loopback(), loopback());
    let mut agent = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_ecs-otel-agent"))
            .arg("--demo")
            .env("ECS_OTEL_PROMETHEUS_ENDPOINT", prom.to_string())
            .env("ECS_OTEL_HEALTH_ENDPOINT", health.to_string()),
    );
    // The demo's interval is 15 s; its first run comes after about a second.
    wait_until(Duration::from_secs(60), "the cluster on /metrics", || {
        http_get(prom, "/metrics", &[]).is_ok_and(|(_, body)| {
            body.contains("emcecs_capacity_total_bytes{")
                && body.contains("emcecs_node_dt_tables{")
                && body.contains("emcecs_cluster_good_nodes{")
                && body.contains("emcecs_bucket_storage_cost_usd{")
                && body.contains("emcecs_namespace_egress_bytes_total{")
                && body.contains("emcecs_iam_users{")
        })
    });
    wait_until(Duration::from_secs(60), "a healthy agent", || {
        http_get(health, "/health", &[]).is_ok_and(|(_, b)| {
            serde_json::from_str::<serde_json::Value>(&b).is_ok_and(|h| h["status"] == "healthy")
        })
    });
    let out = lab::stop(&mut agent, "TERM");
    assert!(out.contains("logged out of ECS"), "{out}");
}

const BILLING: &str = "    collectors:
      billing:
        enabled: true
        collection_interval: 1s
        bucket_tags: [CostCenter]
        pricing:
          storage: {default: 0.02}
          egress:
            - {up_to_gb: 1, price: 0.09}
            - {price: 0.05}
";

/// `emcecs_billing_uptodate_timestamp_seconds` of the exposition (one value for all).
fn exposition_uptodate(all: &[Sample]) -> i64 {
    let u = samples(all, "emcecs_billing_uptodate_timestamp_seconds", &[]);
    assert!(!u.is_empty(), "no billing yet");
    u[0].value as i64
}

/// Every bucket's size and month-to-date ingress, and every namespace's total, on
/// /metrics equal the model at the exposition's uptodate_till.
fn check_billing(s: &Setup, all: &[Sample]) -> i64 {
    use ecs_sim::model::billing::sample_index;
    let u = exposition_uptodate(all);
    let (a, z) = (
        sample_index(pipeline::timefmt::month_start(u - 1)),
        sample_index(u),
    );
    let m = s.lab.sim.model();
    for ns in m.namespaces.values() {
        let mut total = 0;
        for b in ns.buckets.values() {
            let at = [("namespace", ns.name.as_str()), ("bucket", b.name.as_str())];
            let size = b.billing.totals(z).size;
            total += size;
            assert_eq!(one(all, "emcecs_bucket_storage_bytes", &at) as u64, size);
            assert_eq!(
                one(all, "emcecs_bucket_ingress_bytes_total", &at) as u64,
                b.billing.window(a, z).ingress
            );
            let cost = one(all, "emcecs_bucket_storage_cost_usd", &at);
            let expect = size as f64 / (1024.0 * 1024.0 * 1024.0) * 0.02;
            assert!((cost - expect).abs() < 1e-9, "{cost} vs {expect}");
        }
        assert_eq!(
            one(
                all,
                "emcecs_namespace_total_bytes",
                &[("namespace", ns.name.as_str())]
            ) as u64,
            total
        );
    }
    u
}

#[test]
fn billing_series_match_the_model_across_cycles_and_a_restart() {
    let mut s = setup_with(Version::Ecs38, |_| {}, "ecs/lab", BILLING);
    // Mid-slot, far from a month's end: the test then sees the uptodate_till it moves to.
    s.lab.sim.steady_billing_clock();
    let lag = s.lab.sim.model().cfg.billing_lag_secs;
    let expected = ecs_sim::model::billing::uptodate_till(s.lab.sim.sim.clock.now(), lag);
    wait_until(Duration::from_secs(30), "billing on /metrics", || {
        let all = parse_exposition(&s.metrics());
        !samples(&all, "emcecs_billing_uptodate_timestamp_seconds", &[]).is_empty()
            && exposition_uptodate(&all) == expected
    });
    let body = s.metrics();
    let first = parse_exposition(&body);
    let u1 = check_billing(&s, &first);
    let (ok, report) = promtool_check_metrics(body.as_bytes());
    assert!(ok && report.is_empty(), "promtool: {report}");

    // An hour of billing later: the next cycles show the grown cluster.
    s.lab.sim.sim.clock.advance(3600);
    wait_until(Duration::from_secs(30), "the next billing data", || {
        exposition_uptodate(&parse_exposition(&s.metrics())) > u1
    });
    let second = parse_exposition(&s.metrics());
    let u2 = check_billing(&s, &second);
    assert_eq!(u2, u1 + 3600);

    // rotel saw both, each point stamped with the billing data's own time.
    let (ns, bucket) = {
        let m = s.lab.sim.model();
        let ns = m.namespaces.values().next().unwrap();
        (ns.name.clone(), ns.buckets.keys().next().unwrap().clone())
    };
    wait_until(
        Duration::from_secs(30),
        "rotel to print both billing times",
        || {
            let pts = rotel_points_timed(&s.lab.rotel.output(), "emcecs.bucket.ingress");
            [u1, u2].iter().all(|u| {
                pts.iter().any(|p| {
                    p.time == *u as u64 * 1_000_000_000 && p.attrs.get("bucket") == Some(&bucket)
                })
            })
        },
    );
    let out = s.lab.rotel.output();
    let month = pipeline::timefmt::month_start(u2 - 1) as u64 * 1_000_000_000;
    for p in rotel_points_timed(&out, "emcecs.bucket.ingress")
        .iter()
        .filter(|p| p.attrs.get("bucket") == Some(&bucket))
    {
        assert_eq!(p.start, month, "counters start at the month's start: {p:?}");
        let u = (p.time / 1_000_000_000) as i64;
        let m = s.lab.sim.model();
        let b = &m.namespaces[&ns].buckets[&bucket];
        use ecs_sim::model::billing::sample_index;
        let expect = b
            .billing
            .window(sample_index(month as i64 / 1_000_000_000), sample_index(u))
            .ingress;
        assert_eq!(p.value as u64, expect, "at {u}");
    }

    // A restarted agent reports the same counters: nothing lost, nothing doubled.
    let before = one(
        &second,
        "emcecs_namespace_ingress_bytes_total",
        &[("namespace", &ns)],
    );
    s.restart();
    wait_until(Duration::from_secs(30), "billing after the restart", || {
        s.metrics()
            .contains("emcecs_namespace_ingress_bytes_total{")
    });
    let after = parse_exposition(&s.metrics());
    assert_eq!(check_billing(&s, &after), u2);
    assert_eq!(
        one(
            &after,
            "emcecs_namespace_ingress_bytes_total",
            &[("namespace", &ns)]
        ),
        before
    );

    // The FinOps page's queries work against the names Prometheus stores.
    let server = Prometheus::start(&[s.lab.prom], "");
    wait_until(
        Duration::from_secs(60),
        "Prometheus to store billing",
        || {
            server
                .query("emcecs_namespace_bandwidth_cost_usd")
                .contains("\"result\":[{")
        },
    );
    let queries = doc_queries("FINOPS.md");
    assert!(queries.len() >= 10, "{queries:?}");
    run_doc_queries(&server, &queries);
    s.stop();
}

const IAM: &str = "    collectors:
      iam:
        enabled: true
        collection_interval: 5s
        page_size: 3
        probe_timeout: 500ms
";

/// The queries of a docs page's ```promql blocks.
fn doc_queries(page: &str) -> Vec<String> {
    let doc =
        std::fs::read_to_string(format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut queries = Vec::new();
    let mut in_block = false;
    for line in doc.lines() {
        match line.trim() {
            "```promql" => in_block = true,
            "```" => in_block = false,
            q if in_block && !q.is_empty() => queries.push(q.to_owned()),
            _ => {}
        }
    }
    queries
}

/// Runs every query until each has its answer (a threshold may answer nothing; rates
/// need two scrapes), then checks each once more with its own message.
fn run_doc_queries(server: &Prometheus, queries: &[String]) {
    // A threshold may answer nothing; what it compares must answer something, so that a
    // misspelled name cannot pass.
    let answered = |q: &str| {
        let q = [" > ", " < ", " == "]
            .iter()
            .find_map(|op| q.split_once(op).map(|(left, _)| left))
            .unwrap_or(q);
        let r: serde_json::Value = serde_json::from_str(&server.query(q)).unwrap_or_default();
        r["status"] == "success"
            && r["data"]["result"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
    };
    wait_until(
        Duration::from_secs(60),
        "answers to the page's queries",
        || queries.iter().all(|q| answered(q)),
    );
    for q in queries {
        assert!(answered(q), "{q}: {}", server.query(q));
    }
}

#[test]
fn iam_exports_no_secret_key_id_or_policy() {
    let s = setup_with(Version::Ecs38, |_| {}, "ecs/lab", IAM);
    let (namespaces, first_ns): (Vec<String>, String) = {
        let m = s.lab.sim.model();
        let names: Vec<String> = m.namespaces.keys().cloned().collect();
        let first = names[0].clone();
        (names, first)
    };
    // Every namespace read (a loaded machine may take two cycles: the time budget).
    wait_until(
        Duration::from_secs(60),
        "IAM of every namespace on /metrics",
        || {
            let all = parse_exposition(&s.metrics());
            namespaces
                .iter()
                .all(|ns| samples(&all, "emcecs_iam_roles", &[("namespace", ns)]).len() == 1)
        },
    );
    let body = s.metrics();
    let all = parse_exposition(&body);
    // The day-counting names are kept on purpose (the usual alerts read "> 90"):
    // promtool's lint prefers seconds for them, and nothing else.
    let (_, report) = promtool_check_metrics(body.as_bytes());
    let other: Vec<&str> = report
        .lines()
        .filter(|l| !l.ends_with("use base unit \"seconds\" instead of \"days\""))
        .collect();
    assert!(other.is_empty(), "promtool: {report}");
    // Counts equal the model's.
    let mut needles: Vec<String> = vec![
        "monitor-pass".into(),
        "Statement".into(),
        "%22Statement%22".into(),
    ];
    {
        let m = s.lab.sim.model();
        for ns in m.namespaces.values() {
            let n = |t: bool| {
                ns.iam
                    .users
                    .iter()
                    .filter(|u| u.service_account == t)
                    .count() as f64
            };
            let at = |t: &'static str| [("namespace", ns.name.as_str()), ("user_type", t)];
            assert_eq!(one(&all, "emcecs_iam_users", &at("human")), n(false));
            assert_eq!(
                one(&all, "emcecs_iam_users", &at("service_account")),
                n(true)
            );
            assert_eq!(
                one(&all, "emcecs_iam_roles", &[("namespace", ns.name.as_str())]) as usize,
                ns.iam.roles.len()
            );
            for u in &ns.iam.users {
                for k in &u.keys {
                    needles.push(k.id.clone());
                    needles.push(k.secret.clone());
                }
            }
        }
        needles.extend(
            m.mgmt_users
                .iter()
                .filter(|u| u.id != "root")
                .map(|u| u.password.clone()),
        );
    }

    // One trace per cycle with a span per namespace, the calls beneath it.
    wait_until(
        Duration::from_secs(30),
        "rotel to print the namespace spans",
        || {
            let out = s.lab.rotel.output();
            out.contains(&format!("ecs.namespace: Str({first_ns})"))
                && out.contains("/iam?Action=GetAccessKeyLastUsed&AccessKeyId=REDACTED")
        },
    );
    // One span name for every namespace: names are what Jaeger and Tempo group by.
    let out = s.lab.rotel.output();
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Name"))
        .map(|rest| rest.trim_start().trim_start_matches(':').trim())
        .filter(|name| name.starts_with("iam namespace"))
        .collect();
    assert!(!names.is_empty(), "no namespace span in rotel's log");
    assert!(names.iter().all(|n| *n == "iam namespace"), "{names:?}");

    let server = Prometheus::start(&[s.lab.prom], "");
    let queries = doc_queries("SECURITY.md");
    assert!(queries.len() >= 5, "{queries:?}");
    run_doc_queries(&server, &queries);

    // The Grafana dashboards' queries and the alert rules parse in a real Prometheus
    // (their names are checked against the reference in deploy_files.rs; deploy_stack.rs
    // requires series from each).
    let mut exprs: Vec<String> = Vec::new();
    for name in ["operations", "cost", "multi-tenant", "security"] {
        let dash: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../deploy/grafana/dashboards/{name}.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        exprs.extend(
            dash["panels"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
                .filter_map(|t| {
                    t["expr"].as_str().map(|e| {
                        e.replace("$cluster", ".*")
                            .replace("$namespace", ".*")
                            .replace("$__rate_interval", "1m")
                    })
                }),
        );
    }
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/prometheus/alerts.yml"
    ))
    .unwrap();
    exprs.extend(
        rules
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("expr:"))
            .map(|e| e.trim().to_owned()),
    );
    for e in &exprs {
        let r: serde_json::Value = serde_json::from_str(&server.query(e)).unwrap();
        assert_eq!(r["status"], "success", "{e}: {r}");
    }

    // No needle anywhere: the exposition, the OTLP receiver's log (metrics and span
    // attributes), the agent's own logs.
    let haystacks = [
        ("/metrics", s.metrics()),
        ("rotel", s.lab.rotel.output()),
        ("agent logs", s.agent.output()),
    ];
    for (what, text) in &haystacks {
        for n in &needles {
            assert!(!text.contains(n.as_str()), "{what} holds {n:?}");
        }
    }
    s.stop();
}

/// Runs of `job` so far, as /health counts them.
fn runs(s: &Setup, job: &str) -> u64 {
    s.health()["components"]["receivers"][job]["runs"]
        .as_u64()
        .unwrap_or(0)
}

/// Waits until `job` has run `more` more times.
fn wait_runs(s: &Setup, job: &str, more: u64) {
    let until = runs(s, job) + more;
    wait_until(
        Duration::from_secs(30),
        &format!("{more} more runs of {job}"),
        || runs(s, job) >= until,
    );
}

const FLUX: &str = "    collectors:\n      performance:\n        enabled: true\n";

/// The model's value of a Flux field at minute `t`.
fn flux_value(
    s: &Setup,
    measurement: &str,
    field: &str,
    tags: &[(&str, &str)],
    t: i64,
) -> Option<f64> {
    let m = s.lab.sim.model();
    let bucket = if ["cpu", "mem", "net"].contains(&measurement) {
        "monitoring_op"
    } else {
        "monitoring_vdc"
    };
    m.flux_points(bucket, measurement, t, &s.lab.sim.sim.faults.overrides())
        .into_iter()
        .find(|p| {
            p.field == field
                && tags
                    .iter()
                    .all(|(k, v)| p.tags.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|p| p.value)
}

fn check_flux(version: Version) {
    let s = setup_with(version, |_| {}, "ecs/lab", FLUX);
    wait_until(
        Duration::from_secs(30),
        "Flux series on /metrics and in rotel's log",
        || {
            s.metrics()
                .contains("emcecs_transaction_request_rate_per_second{")
                && s.lab.rotel.output().contains("emcecs.node.cpu.utilization")
        },
    );
    // rotel: every point with ECS's minute as its time and the model's value for it.
    let out = s.lab.rotel.output();
    let rates = rotel_points_timed(&out, "emcecs.transaction.request.rate");
    assert!(!rates.is_empty(), "{out}");
    for p in &rates {
        let t = (p.time / 1_000_000_000) as i64;
        assert_eq!(t % 60, 0, "a point at ECS's minute: {p:?}");
        let field = match p.attrs["result"].as_str() {
            "succeeded" => "succeed_request_counter",
            _ => "failed_request_counter",
        };
        assert_eq!(
            Some(p.value),
            flux_value(&s, "cq_performance_transaction", field, &[], t),
            "{p:?}"
        );
    }
    let cpu = rotel_points_timed(&out, "emcecs.node.cpu.utilization");
    let nodes = s.lab.sim.model().nodes.len();
    assert!(cpu.len() >= nodes, "{cpu:?}");
    for p in &cpu {
        let t = (p.time / 1_000_000_000) as i64;
        let idle = flux_value(
            &s,
            "cpu",
            "usage_idle",
            &[("host", p.attrs["node"].as_str())],
            t,
        )
        .unwrap();
        assert_eq!(p.value, ((100.0 - idle) / 100.0).clamp(0.0, 1.0), "{p:?}");
    }
    // /metrics: the newest minute's value.
    let all = parse_exposition(&s.metrics());
    let v = one(
        &all,
        "emcecs_transaction_request_rate_per_second",
        &[("result", "succeeded")],
    );
    let now = s.lab.sim.sim.clock.now() / 60 * 60;
    assert!(
        [now, now - 60, now - 120].iter().any(|t| flux_value(
            &s,
            "cq_performance_transaction",
            "succeed_request_counter",
            &[],
            *t
        ) == Some(v)),
        "{v} is not the model's value of a recent minute"
    );
    let h = s.health();
    assert_eq!(
        h["components"]["receivers"]["ecs/lab/performance"]["status"], "healthy",
        "{h:#}"
    );
    s.stop();
}

#[test]
fn ecs_3_8_flux_series_match_the_model_on_both_exporters() {
    check_flux(Version::Ecs38);
}

#[test]
fn objectscale_4_1_flux_series_match_the_model_on_both_exporters() {
    check_flux(Version::ObjectScale41);
}

#[test]
fn flux_down_leaves_the_agent_degraded_and_the_dashboard_healthy() {
    let s = setup_with(
        Version::Ecs38,
        |c| {
            c.faults.rules.push(ecs_sim::FaultRule {
                path: "/flux/*".into(),
                error_rate: 1.0,
                status: Some(503),
                ..ecs_sim::FaultRule::default()
            })
        },
        "ecs/lab",
        FLUX,
    );
    wait_until(
        Duration::from_secs(30),
        "three failed performance runs",
        || {
            s.health()["components"]["receivers"]["ecs/lab/performance"]["consecutive_failures"]
                .as_u64()
                .is_some_and(|n| n >= 3)
        },
    );
    let h = s.health();
    assert_eq!(h["status"], "degraded", "{h:#}");
    let r = &h["components"]["receivers"];
    assert_eq!(r["ecs/lab/performance"]["status"], "degraded", "{h:#}");
    assert_eq!(r["ecs/lab/dashboard"]["status"], "healthy", "{h:#}");
    assert!(s.metrics().contains("emcecs_capacity_total_bytes{"));
    s.stop();
}

/// The ids of the audit records rotel printed, in the order received.
fn audit_ids(out: &str) -> Vec<String> {
    testkit::rotel_log_records(out)
        .iter()
        .filter_map(|r| r.text("ecs.audit.id").map(str::to_owned))
        .collect()
}

#[test]
fn audit_events_reach_rotel_once_across_cycles_and_a_restart_and_prometheus_counts_them() {
    let dir = TempDir::new("audit-e2e");
    let extra = format!(
        "    collectors:\n      dashboard:\n        enabled: false\n      node_stats:\n        enabled: false\n      audit:\n        enabled: true\n        collection_interval: 1s\n        initial_lookback: 1h\n        state_file: {}\n",
        dir.path().join("audit.json").display()
    );
    let mut s = setup_with(Version::Ecs38, |_| {}, "ecs/lab", &extra);
    let started = s.lab.sim.sim.clock.now() / 60 * 60;
    wait_runs(&s, "ecs/lab/audit", 2);
    // An event between two cycles: logged once.
    let ns = s.lab.sim.model().namespaces.keys().next().unwrap().clone();
    let key = {
        let now = s.lab.sim.sim.clock.now();
        s.lab.sim.sim.model_mut().record_event(
            ecs_sim::model::audit::EventRequest {
                namespace: ns.clone(),
                service_type: "SecretKey".into(),
                event_type: "Created".into(),
                user_id: Some("alice".into()),
                resource_id: "alice".into(),
                description: None,
            },
            now,
        )
    };
    wait_until(
        Duration::from_secs(30),
        "the new key's event in rotel's log",
        || audit_ids(&s.lab.rotel.output()).contains(&key.id),
    );
    wait_runs(&s, "ecs/lab/audit", 2);
    // A restart, then a bucket deleted: the agent goes on from its saved state.
    s.restart();
    let (bucket_ns, bucket) = {
        let m = s.lab.sim.model();
        let (n, x) = m
            .namespaces
            .iter()
            .find(|(_, x)| !x.buckets.is_empty())
            .unwrap();
        (n.clone(), x.buckets.keys().next().unwrap().clone())
    };
    let now = s.lab.sim.sim.clock.now();
    assert!(
        s.lab
            .sim
            .sim
            .model_mut()
            .delete_bucket_at(&bucket_ns, &bucket, now)
    );
    wait_until(
        Duration::from_secs(30),
        "the deletion in rotel's log",
        || {
            testkit::rotel_log_records(&s.lab.rotel.output())
                .iter()
                .any(|r| {
                    r.text("ecs.audit.resource") == Some(bucket.as_str())
                        && r.text("ecs.audit.event_type") == Some("Deleted")
                })
        },
    );
    wait_runs(&s, "ecs/lab/audit", 2);

    let out = s.lab.rotel.output();
    let ids = audit_ids(&out);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event logged twice");
    let end = s.lab.sim.sim.clock.now() / 60 * 60;
    let model: std::collections::BTreeSet<String> = {
        let m = s.lab.sim.model();
        m.namespaces
            .keys()
            .flat_map(|n| m.audit_events(n, started - 3600, end))
            .map(|e| e.id)
            .collect()
    };
    for id in &ids {
        assert!(model.contains(id), "{id} is no event of the model's window");
    }
    // Every event well inside the window was logged (its edges depend on the minute the
    // agent started in).
    let inner: Vec<String> = {
        let m = s.lab.sim.model();
        m.namespaces
            .keys()
            .flat_map(|n| m.audit_events(n, started - 3600 + 60, end - 60))
            .map(|e| e.id)
            .collect()
    };
    for id in &inner {
        assert!(unique.contains(id), "{id} not logged");
    }
    let rec = testkit::rotel_log_records(&out)
        .into_iter()
        .find(|r| r.text("ecs.audit.id") == Some(key.id.as_str()))
        .unwrap();
    assert_eq!(
        rec.text("ecs.audit.privileged_operation"),
        Some("CreateAccessKey")
    );
    assert_eq!(rec.text("user.id"), Some("alice"));
    assert!(
        rec.resource
            .iter()
            .any(|(k, v)| k == "ecs.cluster.name" && v == "Str(lab)")
    );

    // Prometheus stores the counters: the deletion since the restart.
    let server = Prometheus::start(&[s.lab.prom], "");
    let q = format!(
        "emcecs_namespace_privileged_operations_total{{operation=\"DeleteBucket\",namespace=\"{bucket_ns}\"}}"
    );
    wait_until(
        Duration::from_secs(60),
        "Prometheus to store the audit counters",
        || server.query(&q).contains("\"result\":[{"),
    );
    let r: serde_json::Value = serde_json::from_str(&server.query(&q)).unwrap();
    assert_eq!(
        r["data"]["result"][0]["value"][1],
        serde_json::json!("1"),
        "{r}"
    );
    let r = server.query("emcecs_audit_events_total");
    assert!(r.contains("\"service_type\":\"Bucket\""), "{r}");
    s.stop();
}
