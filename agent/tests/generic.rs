//! The generic receiver in the agent: the frequency rule on a controllable clock (base 5 s,
//! service 30 s, a group asking for 63 s runs every 65 s), `run_as` (a command of a service
//! running as `nobody` sees nobody's uid), and a service's figures on /metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ecs_otel_agent::config::{AgentConfig, from_yaml};
use ecs_otel_agent::scheduler::{self, Job};
use pipeline::fanout::Fanout;
use pipeline::registry::BuildContext;
use pipeline::{Batch, ExportError, Exporter, PipelineStats};
use testkit::{http_get, loopback, wait_until};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn config(service: &str) -> AgentConfig {
    let yaml = format!(
        "receivers:\n  generic/node:\n{service}exporters:\n  prometheus:\n    endpoint: 127.0.0.1:0\nservice:\n  scheduler:\n    base_interval: 5s\n  pipelines:\n    metrics: {{receivers: [generic/node], exporters: [prometheus]}}\n"
    );
    from_yaml(&yaml, &|_| None).unwrap_or_else(|e| panic!("{e:?}"))
}

/// When each batch arrived, as seconds since the start.
struct Arrivals {
    t0: Instant,
    at: Mutex<Vec<(String, u64)>>,
}

#[async_trait]
impl Exporter for Arrivals {
    async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError> {
        let secs = self.t0.elapsed().as_secs();
        self.at
            .lock()
            .unwrap()
            .push((batch.source.to_string(), secs));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_group_runs_on_its_own_interval_rounded_to_the_base() {
    let cfg = config(
        "    collection_interval: 30s\n    initial_delay: 0s\n    metric_groups:\n      slow:\n        collection_interval: 63s\n        source_type: static\n        source: \"1\"\n        metrics:\n          one: {}\n    standalone_metrics:\n      two:\n        source_type: static\n        source: \"2\"\n",
    );
    let jobs = cfg.scheduled_jobs();
    let interval = |id: &str| jobs.iter().find(|j| j.id == id).unwrap().interval;
    assert_eq!(interval("generic/node/slow"), Duration::from_secs(65));
    assert_eq!(interval("generic/node/two"), Duration::from_secs(30));

    let stats = PipelineStats::new();
    let built = cfg.receivers["generic/node"]
        .build(
            "generic/node",
            &BuildContext {
                stats: stats.clone(),
                resource: pipeline::resource([]),
                service_name: "ecs-otel-agent".into(),
                intervals: Vec::new(),
            },
        )
        .unwrap();
    let t0 = Instant::now();
    let sink = Arc::new(Arrivals {
        t0,
        at: Mutex::default(),
    });
    let mut fanout = Fanout::builder(stats.clone()).exporter("sink", sink.clone(), 100);
    let mut sched = Vec::new();
    for j in &jobs {
        fanout = fanout.route(&j.id, &["sink".into()]);
        let collector = built
            .iter()
            .find(|b| b.name == j.name)
            .unwrap()
            .collector
            .clone();
        sched.push(Job {
            id: j.id.as_str().into(),
            collector,
            interval: j.interval,
            initial_delay: j.initial_delay,
            timeout: j.timeout,
            stats: stats.register_job(&j.id, j.interval),
        });
    }
    let fanout = Arc::new(fanout.start());
    let stop = CancellationToken::new();
    let loops = scheduler::start(sched, fanout.clone(), stop.clone(), Duration::from_secs(1));
    // The first runs come within a second (jitter), then one per interval.
    tokio::time::sleep_until(t0 + Duration::from_secs(200)).await;
    stop.cancel();
    for l in loops {
        l.await.unwrap();
    }
    fanout.shutdown(Duration::from_secs(1)).await;
    let at = sink.at.lock().unwrap().clone();
    let times = |id: &str| -> Vec<u64> {
        at.iter()
            .filter(|(s, _)| s == id)
            .map(|(_, t)| *t)
            .collect()
    };
    // Slower than the receiver's fastest job (30 s): after its first run, moved half of
    // that (15 s) off the ticks it would share with it.
    assert_eq!(times("generic/node/slow"), [0, 80, 145]);
    assert_eq!(times("generic/node/two"), [0, 30, 60, 90, 120, 150, 180]);
}

/// The service's collectors, built as the agent builds them.
fn build(cfg: &AgentConfig) -> Vec<pipeline::registry::BuiltJob> {
    cfg.receivers["generic/node"]
        .build(
            "generic/node",
            &BuildContext {
                stats: PipelineStats::new(),
                resource: pipeline::resource([]),
                service_name: "ecs-otel-agent".into(),
                intervals: Vec::new(),
            },
        )
        .unwrap()
}

/// One run's context, 10 s to go.
fn ctx(job: &str) -> pipeline::ScrapeContext {
    pipeline::ScrapeContext {
        job: job.into(),
        started: std::time::SystemTime::now(),
        deadline: Instant::now() + Duration::from_secs(10),
        interval: Duration::from_secs(30),
        cancel: CancellationToken::new(),
        run: 1,
    }
}

/// The agent's uid, from /proc.
fn agent_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

fn nobody() -> Option<u32> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find(|l| l.starts_with("nobody:"))?
        .split(':')
        .nth(2)?
        .parse()
        .ok()
}

#[tokio::test]
async fn run_as_runs_the_command_as_that_user() {
    if agent_uid() != 0 {
        eprintln!(
            "skipped: run_as needs the agent to run as root (this test runs as uid {})",
            agent_uid()
        );
        return;
    }
    let nobody = nobody().expect("a nobody user in /etc/passwd");
    let cfg = config(
        "    run_as: {user: nobody}\n    standalone_metrics:\n      uid:\n        source_type: command\n        source: [/usr/bin/id, -u]\n        filter: \"(?P<value>\\\\d+)\"\n",
    );
    let built = build(&cfg);
    let s = built[0]
        .collector
        .scrape(&ctx("generic/node/uid"))
        .await
        .unwrap();
    let m = &s.resource_metrics[0].to_otlp().scope_metrics[0].metrics[0];
    let v = match &m.data {
        Some(pipeline::otlp::metrics::v1::metric::Data::Gauge(g)) => g.data_points[0].value,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        v,
        Some(pipeline::otlp::metrics::v1::number_data_point::Value::AsDouble(f64::from(nobody)))
    );
}

#[test]
fn run_as_is_checked_by_validate() {
    let yaml = |user: &str| {
        format!(
            "receivers:\n  generic/node:\n    run_as: {{user: {user}}}\n    standalone_metrics:\n      one: {{source_type: static, source: \"1\"}}\nexporters:\n  prometheus:\n    endpoint: 127.0.0.1:0\nservice:\n  pipelines:\n    metrics: {{receivers: [generic/node], exporters: [prometheus]}}\n"
        )
    };
    let e = from_yaml(&yaml("no-such-user-here"), &|_| None).unwrap_err();
    let line = e[0].to_string();
    if agent_uid() == 0 {
        assert_eq!(
            line,
            "receivers.generic/node.run_as: no user \"no-such-user-here\" in /etc/passwd"
        );
    } else {
        assert!(
            line.starts_with("receivers.generic/node.run_as: the agent does not run as root"),
            "{line}"
        );
    }
}

#[test]
fn a_service_reaches_metrics_through_the_agent() {
    let prom = loopback();
    let health = loopback();
    let yaml = format!(
        "receivers:\n  self:\n    collection_interval: 1s\n    initial_delay: 0s\n  generic/node:\n    collection_interval: 1s\n    initial_delay: 0s\n    metric_groups:\n      load:\n        source_type: file\n        source: /proc/loadavg\n        metrics:\n          load1:\n            filter: \"^(?P<value>[0-9.]+) \"\n      missing:\n        source_type: file\n        source: /nonexistent/counter\n        metrics:\n          gone: {{}}\n    standalone_metrics:\n      planned_capacity:\n        source_type: static\n        source: \"42\"\n        unit: By\nexporters:\n  prometheus:\n    endpoint: {prom}\nextensions:\n  health_check:\n    endpoint: {health}\nservice:\n  extensions: [health_check]\n  scheduler:\n    base_interval: 1s\n  pipelines:\n    metrics: {{receivers: [self, generic/node], exporters: [prometheus]}}\n"
    );
    let cfg = from_yaml(&yaml, &|_| None).unwrap_or_else(|e| panic!("{e:?}"));
    let agent = support::start(cfg);
    wait_until(Duration::from_secs(30), "both series on /metrics", || {
        http_get(prom, "/metrics", &[]).is_ok_and(|(_, b)| {
            b.contains("\nnode_planned_capacity_bytes{") && b.contains("\nnode_load1{")
        })
    });
    let (_, body) = http_get(prom, "/metrics", &[]).unwrap();
    let line = body
        .lines()
        .find(|l| l.starts_with("node_planned_capacity_bytes{"))
        .unwrap();
    assert!(line.ends_with(" 42"), "{line}");
    let load: f64 = body
        .lines()
        .find(|l| l.starts_with("node_load1{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(load >= 0.0, "{load}");
    // Each group is a job: its runs and failures in the self receiver's figures, and in
    // /health.
    wait_until(
        Duration::from_secs(30),
        "the failing group's failures counted",
        || {
            http_get(prom, "/metrics", &[]).is_ok_and(|(_, b)| {
            b.contains("ecs_otel_agent_receiver_failures_total{reason=\"unavailable\",receiver=\"generic/node/missing\"")
                && b.contains("ecs_otel_agent_receiver_runs_total{receiver=\"generic/node/load\"")
        })
        },
    );
    let (_, doc) = http_get(health, "/health", &[]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        doc["components"]["receivers"]["generic/node/load"]["status"], "healthy",
        "{doc}"
    );
    assert_eq!(
        doc["components"]["receivers"]["generic/node/missing"]["last_error_kind"], "unavailable",
        "{doc}"
    );
    assert!(
        doc["components"]["receivers"]["generic/node/missing"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("file /nonexistent/counter")),
        "{doc}"
    );
    agent.stop();
}

#[tokio::test]
async fn run_as_reads_files_with_that_users_permissions() {
    use std::os::unix::fs::PermissionsExt;
    if agent_uid() != 0 {
        eprintln!("skipped: run_as needs the agent to run as root");
        return;
    }
    let dir = testkit::TempDir::new("generic-run-as");
    let f = dir.path().join("secret-count");
    std::fs::write(&f, "7").unwrap();
    // Root may read it; nobody may not.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = config(&format!(
        "    run_as: {{user: nobody}}\n    standalone_metrics:\n      count:\n        source_type: file\n        source: {}\n        filter: \"(?P<value>\\\\d+)\"\n",
        f.display()
    ));
    let built = build(&cfg);
    let e = built[0]
        .collector
        .scrape(&ctx("generic/node/count"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, "refused", "{}", e.message);
    assert!(e.message.contains("not readable by uid"), "{}", e.message);
}
