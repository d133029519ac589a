//! The `self` receiver: the agent's own process resources and the pipeline's figures
//! (runs, failures, skips and durations per receiver; queue, deliveries and drops per
//! exporter; series and overflow per source), named `ecs_otel_agent_*` on /metrics.

pub mod catalog;
mod factory;

pub use factory::factory;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use async_trait::async_trait;
use pipeline::config::{Problems, Validate};
use pipeline::otlp::resource::v1::Resource;
use pipeline::schedule::{Schedule, ScheduleBlock, ScheduleDefaults, Scheduled};
use pipeline::{
    Collector, HistogramValue, PipelineStats, ReceiverError, ScrapeContext, Snapshot,
    SnapshotBuilder, kv, scope,
};
use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use catalog::*;

/// `receivers: self:`: only the schedule keys (every 15 s by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SelfConfig(pub Scheduled<SelfSettings>);

/// The `self` receiver has nothing to set besides its schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelfSettings {}

impl ScheduleDefaults for SelfSettings {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock {
            collection_interval: Some(Duration::from_secs(15)),
            initial_delay: Some(Duration::from_secs(1)),
            ..ScheduleBlock::default()
        }
    }
}

impl Validate for SelfSettings {
    fn validate(&self, _: &str, _: &mut Problems) {}
}

impl Validate for SelfConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        self.0.validate(path, problems);
    }
}

impl SelfConfig {
    pub fn schedule(&self) -> Schedule {
        self.0.schedule.own(&SelfSettings::default_schedule())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the agent's own process: {0}")]
pub struct SelfError(String);

struct CpuSample {
    at: Instant,
    cpu_ms: u64,
}

pub struct SelfReceiver {
    stats: Arc<PipelineStats>,
    resource: Resource,
    system: Mutex<System>,
    pid: Pid,
    cpus: f64,
    last_cpu: Mutex<Option<CpuSample>>,
    intervals: Vec<(String, Duration)>,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

impl SelfReceiver {
    /// `intervals` are the effective collection intervals of all receivers, reported as
    /// `ecs_otel_agent_receiver_interval_seconds`.
    pub fn new(
        stats: Arc<PipelineStats>,
        resource: Resource,
        intervals: Vec<(String, Duration)>,
    ) -> Result<Self, SelfError> {
        let pid = sysinfo::get_current_pid().map_err(|e| SelfError(e.to_string()))?;
        let system = System::new().map_err(|e| SelfError(e.to_string()))?;
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as f64)
            .unwrap_or(1.0);
        Ok(Self {
            stats,
            resource,
            system: Mutex::new(system),
            pid,
            cpus,
            last_cpu: Mutex::new(None),
            intervals,
        })
    }

    fn process(&self, b: &mut SnapshotBuilder) -> Result<(), ReceiverError> {
        let mut sys = self.system.lock().unwrap_or_else(|p| p.into_inner());
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            false,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        let p = sys.process(self.pid).ok_or_else(|| {
            ReceiverError::new(
                "unavailable",
                "the agent's process is not in the process table",
            )
        })?;
        let cpu_ms = p.accumulated_cpu_time();
        let start = UNIX_EPOCH + Duration::from_secs(p.start_time());
        b.counter(&CPU_TIME, cpu_ms as f64 / 1000.0, start, []);
        let now = Instant::now();
        let mut last = self.last_cpu.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(prev) = last.as_ref() {
            let wall = now.duration_since(prev.at).as_secs_f64();
            if wall > 0.0 {
                let used = cpu_ms.saturating_sub(prev.cpu_ms) as f64 / 1000.0;
                b.gauge(&CPU_UTILIZATION, used / wall / self.cpus, []);
            }
        }
        *last = Some(CpuSample { at: now, cpu_ms });
        b.gauge(&MEMORY_USAGE, p.memory(), []);
        b.gauge(&MEMORY_VIRTUAL, p.virtual_memory(), []);
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            b.gauge(&OPEN_FDS, fds.count(), []);
        }
        Ok(())
    }

    fn pipeline(&self, b: &mut SnapshotBuilder) {
        let start = self.stats.start_time;
        // Only an agent that exports its spans has spans to leave out.
        let traced = self
            .stats
            .exporters()
            .iter()
            .any(|(_, e)| e.carries_spans());
        for (id, r) in self.stats.jobs() {
            let attrs = || [kv("receiver", id.as_str())];
            b.counter(&RECEIVER_RUNS, r.runs(), start, attrs());
            b.counter(&RECEIVER_SKIPPED, r.skipped(), start, attrs());
            for (reason, n) in r.failures() {
                b.counter(
                    &RECEIVER_FAILURES,
                    n,
                    start,
                    [kv("receiver", id.as_str()), kv("reason", reason)],
                );
            }
            let d = r.duration();
            b.histogram_with_exemplars(
                &RECEIVER_DURATION,
                &HistogramValue {
                    bounds: &pipeline::stats::DURATION_BOUNDS,
                    counts: &d.counts,
                    sum: d.sum,
                    min: None,
                    max: None,
                },
                &d.exemplars,
                start,
                attrs(),
            );
            if traced {
                b.counter(
                    &RECEIVER_UNRECORDED_SPANS,
                    r.unrecorded_spans(),
                    start,
                    attrs(),
                );
            }
            if let Some(t) = r.state().last_success {
                let secs = t
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                b.gauge(&RECEIVER_LAST_SUCCESS, secs, attrs());
            }
        }
        for (id, r) in self.stats.jobs() {
            if let Some(backlog) = r.backlog() {
                let attrs = || [kv("receiver", id.as_str())];
                b.gauge(
                    &RECEIVER_BACKLOG_AGE,
                    backlog.age_now().as_secs_f64(),
                    attrs(),
                );
                b.gauge(&RECEIVER_BACKLOG_PARTS, backlog.parts, attrs());
            }
        }
        for (id, interval) in &self.intervals {
            b.gauge(
                &RECEIVER_INTERVAL,
                interval.as_secs_f64(),
                [kv("receiver", id.as_str())],
            );
        }
        for (id, e) in self.stats.exporters() {
            let c = e.counts();
            let attrs = || [kv("exporter", id.as_str())];
            b.gauge(&EXPORTER_QUEUE_SIZE, c.queue_len, attrs());
            b.gauge(&EXPORTER_QUEUE_CAPACITY, e.capacity, attrs());
            b.counter(&EXPORTER_SENT, c.sent_batches, start, attrs());
            b.counter(&EXPORTER_SENT_POINTS, c.sent_points, start, attrs());
            b.counter(&EXPORTER_FAILED, c.failed_batches, start, attrs());
            b.counter(&EXPORTER_DROPPED, c.dropped_batches, start, attrs());
            b.counter(&EXPORTER_RETRIES, c.retries, start, attrs());
            b.counter(&EXPORTER_REJECTED, c.rejected_points, start, attrs());
            // Only exporters of logs pipelines: for the others they would be zeros forever.
            if e.carries_logs() {
                b.counter(
                    &EXPORTER_SENT_LOG_RECORDS,
                    c.sent_log_records,
                    start,
                    attrs(),
                );
                b.counter(
                    &EXPORTER_REJECTED_LOG_RECORDS,
                    c.rejected_log_records,
                    start,
                    attrs(),
                );
            }
        }
        for (id, e) in self.stats.exporters() {
            // Only the traces pipeline's exporter carries spans.
            if !e.carries_spans() {
                continue;
            }
            let c = e.span_counts();
            let attrs = || [kv("exporter", id.as_str())];
            b.gauge(&EXPORTER_SPAN_QUEUE_SIZE, c.queue_len, attrs());
            b.gauge(&EXPORTER_SPAN_QUEUE_CAPACITY, c.queue_capacity, attrs());
            b.counter(&EXPORTER_SENT_SPANS, c.sent, start, attrs());
            b.counter(&EXPORTER_RETRIED_SPANS, c.retried, start, attrs());
            for (reason, n) in c.dropped {
                b.counter(
                    &EXPORTER_DROPPED_SPANS,
                    n,
                    start,
                    [kv("exporter", id.as_str()), kv("reason", reason)],
                );
            }
        }
        for ((exporter, reason), n) in self.stats.dropped_metrics() {
            b.counter(
                &EXPORTER_DROPPED_METRICS,
                n,
                start,
                [kv("exporter", exporter), kv("reason", reason)],
            );
        }
        for (source, n) in self.stats.series() {
            b.gauge(&PROMETHEUS_SERIES, n, [kv("source", source)]);
        }
        for ((source, metric), n) in self.stats.overflow() {
            b.counter(
                &PROMETHEUS_OVERFLOW,
                n,
                start,
                [kv("source", source), kv("metric", metric)],
            );
        }
        for ((exporter, reason), n) in self.stats.auth_failures() {
            b.counter(
                &PROMETHEUS_AUTH_FAILURES,
                n,
                start,
                [kv("exporter", exporter), kv("reason", reason)],
            );
        }
        for ((exporter, reason), n) in self.stats.closed_connections() {
            b.counter(
                &PROMETHEUS_CLOSED_CONNECTIONS,
                n,
                start,
                [kv("exporter", exporter), kv("reason", reason)],
            );
        }
    }
}

#[async_trait]
impl Collector for SelfReceiver {
    async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let mut b = SnapshotBuilder::new(
            self.resource.clone(),
            scope("ecs-otel-agent/receiver/self", VERSION),
            ctx.started,
        );
        b.gauge(&BUILD_INFO, 1, [kv("version", VERSION)]);
        b.gauge(&UPTIME, self.stats.uptime().as_secs_f64(), []);
        self.process(&mut b)?;
        self.pipeline(&mut b);
        Ok(Snapshot::new(vec![b.build()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::otlp::metrics::v1::metric::Data;
    use std::time::SystemTime;
    use tokio_util::sync::CancellationToken;

    /// The integer points of `name` in a self snapshot, each with its attributes as
    /// text, and whether the metric is a sum.
    fn int_points(snap: &pipeline::Snapshot, name: &str) -> (bool, Vec<(String, i64)>) {
        let metrics = &snap.resource_metrics[0].to_otlp().scope_metrics[0].metrics;
        let m = metrics.iter().find(|m| m.name == name).unwrap();
        let (sum, points) = match &m.data {
            Some(Data::Sum(s)) => (true, &s.data_points),
            Some(Data::Gauge(g)) => (false, &g.data_points),
            other => panic!("{name}: {other:?}"),
        };
        let values = points
            .iter()
            .map(|p| {
                let Some(pipeline::otlp::metrics::v1::number_data_point::Value::AsInt(v)) = p.value
                else {
                    panic!("{name}: {p:?}")
                };
                (format!("{:?}", p.attributes), v)
            })
            .collect();
        (sum, values)
    }

    /// One scrape of a self receiver reading `stats`.
    async fn scraped(stats: Arc<PipelineStats>) -> pipeline::Snapshot {
        let recv = SelfReceiver::new(
            stats,
            pipeline::resource([kv("service.name", "ecs-otel-agent")]),
            vec![],
        )
        .unwrap();
        recv.scrape(&ctx()).await.unwrap()
    }

    fn ctx() -> ScrapeContext {
        ScrapeContext {
            job: "self".into(),
            started: SystemTime::now(),
            deadline: tokio::time::Instant::now() + Duration::from_secs(5),
            interval: Duration::from_secs(15),
            cancel: CancellationToken::new(),
            run: 1,
        }
    }

    #[tokio::test]
    async fn emits_only_catalog_metrics_and_reports_the_pipeline() {
        let stats = PipelineStats::new();
        let r = stats.register_job("ecs/prod", Duration::from_secs(60));
        r.record_failure(
            Duration::from_millis(20),
            "timeout",
            "slow".into(),
            pipeline::Impact::Unhealthy,
        );
        r.record_success(Duration::from_millis(30), vec![]);
        r.record_skip();
        stats.register_exporter("otlp", 100).record_dropped(2);
        stats.set_series("ecs/prod", 1234);
        stats.add_overflow("ecs/prod", "emcecs_bucket_storage_bytes", 5);
        stats.add_auth_failure("prometheus", "rate_limited");
        stats.add_closed_connection("prometheus", "write_timeout");
        let recv = SelfReceiver::new(
            stats,
            pipeline::resource([kv("service.name", "ecs-otel-agent")]),
            vec![("ecs/prod".into(), Duration::from_secs(60))],
        )
        .unwrap();
        let snap = recv.scrape(&ctx()).await.unwrap();
        let metrics = &snap.resource_metrics[0].to_otlp().scope_metrics[0].metrics;
        for m in metrics {
            let entry = CATALOG
                .get(&m.name)
                .unwrap_or_else(|| panic!("{} is not in the catalog", m.name));
            assert_eq!(entry.desc.unit, m.unit, "{}", m.name);
        }
        let find = |name: &str| {
            metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        let value_of = |name: &str, attr: &str| -> f64 {
            let points = match &find(name).data {
                Some(Data::Gauge(g)) => &g.data_points,
                Some(Data::Sum(s)) => &s.data_points,
                other => panic!("{other:?}"),
            };
            let p = points
                .iter()
                .find(|p| {
                    attr.is_empty()
                        || p.attributes
                            .iter()
                            .any(|kv| format!("{:?}", kv.value).contains(attr))
                })
                .unwrap_or_else(|| panic!("{name} has no point with {attr}"));
            match p.value {
                Some(pipeline::otlp::metrics::v1::number_data_point::Value::AsInt(i)) => i as f64,
                Some(pipeline::otlp::metrics::v1::number_data_point::Value::AsDouble(d)) => d,
                None => panic!(),
            }
        };
        assert_eq!(value_of("ecs_otel_agent.receiver.runs", "ecs/prod"), 2.0);
        assert_eq!(value_of("ecs_otel_agent.receiver.failures", "timeout"), 1.0);
        assert_eq!(value_of("ecs_otel_agent.receiver.skipped", "ecs/prod"), 1.0);
        assert_eq!(value_of("ecs_otel_agent.exporter.dropped", "otlp"), 2.0);
        assert_eq!(
            value_of("ecs_otel_agent.prometheus.series", "ecs/prod"),
            1234.0
        );
        assert_eq!(
            value_of(
                "ecs_otel_agent.prometheus.series.overflow",
                "emcecs_bucket_storage_bytes"
            ),
            5.0
        );
        assert_eq!(
            value_of("ecs_otel_agent.prometheus.auth.failures", "rate_limited"),
            1.0
        );
        assert_eq!(
            value_of(
                "ecs_otel_agent.prometheus.connections.closed",
                "write_timeout"
            ),
            1.0
        );
        assert_eq!(
            value_of("ecs_otel_agent.receiver.interval", "ecs/prod"),
            60.0
        );
        assert!(value_of("ecs_otel_agent.process.memory.usage", "") > 1e6);
        match &find("ecs_otel_agent.receiver.run.duration").data {
            Some(Data::Histogram(h)) => assert_eq!(h.data_points[0].count, 2),
            other => panic!("{other:?}"),
        }
        assert!(
            !metrics.iter().any(|m| m.name.ends_with(".log_records")),
            "no exporter carries logs"
        );
    }

    #[tokio::test]
    async fn backlogs_are_reported_for_the_collectors_that_have_one() {
        let stats = PipelineStats::new();
        let behind = stats.register_job("ecs/prod/iam", Duration::from_secs(600));
        let up_to_date = stats.register_job("ecs/prod/dashboard", Duration::from_secs(60));
        stats.register_job("ecs/prod/node_stats", Duration::from_secs(60));
        behind.set_backlog(Some(pipeline::Backlog {
            parts: 3,
            oldest: tokio::time::Instant::now().checked_sub(Duration::from_secs(90)),
        }));
        up_to_date.set_backlog(Some(pipeline::Backlog::default()));
        let snap = scraped(stats).await;
        let metrics = &snap.resource_metrics[0].to_otlp().scope_metrics[0].metrics;
        let m = metrics
            .iter()
            .find(|m| m.name == "ecs_otel_agent.receiver.backlog.age")
            .unwrap();
        let Some(Data::Gauge(g)) = &m.data else {
            panic!("{:?}", m.data)
        };
        let age: Vec<(String, f64)> = g
            .data_points
            .iter()
            .map(|p| match p.value {
                Some(pipeline::otlp::metrics::v1::number_data_point::Value::AsDouble(d)) => {
                    (format!("{:?}", p.attributes), d)
                }
                _ => panic!("{p:?}"),
            })
            .collect();
        let (_, parts) = int_points(&snap, "ecs_otel_agent.receiver.backlog.parts");
        assert_eq!(age.len(), 2, "not for node stats: {age:?}");
        fn of<V: Copy>(v: &[(String, V)], job: &str) -> Option<V> {
            v.iter()
                .find(|(a, _)| a.contains(&format!("\"{job}\"")))
                .map(|(_, x)| *x)
        }
        let waited = of(&age, "ecs/prod/iam").unwrap();
        assert!((90.0..100.0).contains(&waited), "{waited}");
        assert_eq!(of(&parts, "ecs/prod/iam"), Some(3));
        assert_eq!(of(&age, "ecs/prod/dashboard"), Some(0.0));
        assert_eq!(of(&parts, "ecs/prod/dashboard"), Some(0));
    }

    #[tokio::test]
    async fn span_counters_are_reported_for_the_traces_exporter_only() {
        let stats = PipelineStats::new();
        stats.register_exporter("prometheus", 64);
        let otlp = stats.register_exporter("otlp", 100);
        otlp.set_carries_spans(8192);
        otlp.set_span_queue_len(3);
        otlp.record_sent_spans(40);
        otlp.record_retried_spans(12);
        otlp.record_dropped_spans("queue_full", 5);
        let snap = scraped(stats).await;
        let values = |name: &str| int_points(&snap, name).1;
        let one = |name: &str| {
            let v = values(name);
            assert_eq!(v.len(), 1, "{name}: {v:?}");
            assert!(v[0].0.contains("otlp"), "{name}: {v:?}");
            v[0].1
        };
        assert_eq!(one("ecs_otel_agent.exporter.span_queue.size"), 3);
        assert_eq!(one("ecs_otel_agent.exporter.span_queue.capacity"), 8192);
        assert_eq!(one("ecs_otel_agent.exporter.sent.spans"), 40);
        assert_eq!(one("ecs_otel_agent.exporter.retried.spans"), 12);
        let dropped = values("ecs_otel_agent.exporter.dropped.spans");
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert!(dropped[0].0.contains("queue_full") && dropped[0].1 == 5);
    }

    #[tokio::test]
    async fn log_records_are_reported_for_the_exporters_of_logs_pipelines_only() {
        let stats = PipelineStats::new();
        stats.register_exporter("prometheus", 64);
        let otlp = stats.register_exporter("otlp", 100);
        otlp.set_carries_logs();
        otlp.record_sent_log_records(7);
        otlp.record_rejected_log_records(2);
        let snap = scraped(stats).await;
        let points = |name: &str| {
            let (sum, v) = int_points(&snap, name);
            assert!(sum, "{name} is not a sum");
            v
        };
        let sent = points("ecs_otel_agent.exporter.sent.log_records");
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0].0.contains("otlp") && sent[0].1 == 7, "{sent:?}");
        let rejected = points("ecs_otel_agent.exporter.rejected.log_records");
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        assert!(
            rejected[0].0.contains("otlp") && rejected[0].1 == 2,
            "{rejected:?}"
        );
        // The points counters stay for every exporter.
        assert_eq!(points("ecs_otel_agent.exporter.sent.points").len(), 2);
    }
}
