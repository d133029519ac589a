//! One block (a metric group or a standalone metric) as a job: one read of its source per
//! run, every metric of the block derived from it. A failed read emits each metric's
//! `value_on_error`, or its last values while younger than the service's
//! `keep_last_value`; the run then fails (counted, shown in health) with what it has.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pipeline::otlp::resource::v1::Resource;
use pipeline::{
    Collector, MetricDesc, ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder, kv, scope,
};
use tokio::sync::Semaphore;

use crate::config::{ContentType, MetricSettings, MetricType};
use crate::content::prometheus::{self, Target};
use crate::content::{Filter, Parsed, Reading, Sample};
use crate::cumulative::Starts;
use crate::source::{SharedCache, Source, SourceError};

/// A metric of the block, with its full name and compiled filter.
pub struct Metric {
    pub name: String,
    pub settings: MetricSettings,
    pub filter: Filter,
}

pub struct Block {
    pub source: Source,
    /// The service's metric prefix, put before imported family names.
    pub prefix: String,
    pub content: ContentType,
    pub metrics: Vec<Metric>,
    pub cache: SharedCache,
    /// The service's reads in flight.
    pub permits: Arc<Semaphore>,
    pub resource: Resource,
    pub keep_last_value: Duration,
    pub state: Mutex<State>,
}

/// Per metric, what was last read and when; per cumulative series, its start.
#[derive(Default)]
pub struct State {
    last: BTreeMap<String, (Reading, SystemTime)>,
    starts: Starts,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Block {
    async fn read(&self, ctx: &ScrapeContext) -> Result<Parsed, ReceiverError> {
        let _permit = tokio::time::timeout_at(ctx.deadline, self.permits.acquire())
            .await
            .map_err(|_| ReceiverError::new("timeout", "no read slot before the deadline"))?
            .map_err(|_| ReceiverError::new("config", "the service is shutting down"))?;
        let body = self
            .cache
            .read(&self.source, ctx.deadline)
            .await
            .map_err(|e: SourceError| ReceiverError::new(e.kind(), self.place(&e.to_string())))?;
        Parsed::new(self.content, &body)
            .map_err(|e| ReceiverError::new("malformed", self.place(&e.0)))
    }

    fn place(&self, what: &str) -> String {
        format!("{}: {what}", self.source.key())
    }

    /// What each metric has this run: read now, or what a failure leaves.
    fn readings(
        &self,
        parsed: Option<&Parsed>,
        now: SystemTime,
        warnings: &mut Vec<String>,
    ) -> Vec<(usize, Reading)> {
        let mut st = lock(&self.state);
        let mut out = Vec::new();
        for (i, m) in self.metrics.iter().enumerate() {
            let fresh = parsed.map(|p| p.read(&m.filter, &m.settings));
            match fresh {
                Some(Ok(s)) => {
                    st.last.insert(m.name.clone(), (s.clone(), now));
                    out.push((i, s));
                }
                failed => {
                    if let Some(Err(e)) = failed {
                        warnings.push(format!("{}: {e}", m.name));
                    }
                    if let Some(v) = self.on_error(&st, m) {
                        out.push((i, v));
                    } else if let Some((s, at)) = st.last.get(&m.name)
                        && now.duration_since(*at).unwrap_or_default() <= self.keep_last_value
                    {
                        out.push((i, s.clone()));
                    } else {
                        st.last.remove(&m.name);
                    }
                }
            }
        }
        out
    }

    /// `value_on_error` for every series last seen (one series without labels if none);
    /// imported families have no single value and keep their last values instead.
    fn on_error(&self, st: &State, m: &Metric) -> Option<Reading> {
        let v = m.settings.value_on_error?;
        if self.content == ContentType::Prometheus {
            return None;
        }
        let known: Vec<Sample> = st
            .last
            .get(&m.name)
            .map(|(r, _)| match r {
                Reading::Samples(s) => s.as_slice(),
                Reading::Families(_) => &[],
            })
            .map(|s| {
                s.iter()
                    .map(|x| Sample {
                        labels: x.labels.clone(),
                        value: v,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Reading::Samples(if known.is_empty() {
            vec![Sample {
                labels: Vec::new(),
                value: v,
            }]
        } else {
            known
        }))
    }

    fn emit(&self, ctx: &ScrapeContext, readings: Vec<(usize, Reading)>) -> Snapshot {
        let mut b = SnapshotBuilder::new(
            self.resource.clone(),
            scope("ecs-otel-agent/receiver/generic", env!("CARGO_PKG_VERSION")),
            ctx.started,
        );
        let mut st = lock(&self.state);
        st.starts.begin();
        for (i, reading) in readings {
            let m = &self.metrics[i];
            match reading {
                Reading::Samples(series) => {
                    self.emit_samples(&mut b, &mut st.starts, ctx.started, m, series)
                }
                Reading::Families(families) => {
                    let mut t = Target {
                        builder: &mut b,
                        starts: &mut st.starts,
                        prefix: &self.prefix,
                        now: ctx.started,
                    };
                    prometheus::emit(&mut t, &m.settings, &families);
                }
            }
        }
        Snapshot::new(vec![b.build()])
    }

    fn emit_samples(
        &self,
        b: &mut SnapshotBuilder,
        starts: &mut Starts,
        now: SystemTime,
        m: &Metric,
        series: Vec<Sample>,
    ) {
        let desc = MetricDesc::new(&m.name, &m.settings.unit, &m.settings.description);
        for s in series {
            let attrs = s.labels.iter().map(|(k, v)| kv(k.clone(), v.clone()));
            match m.settings.kind {
                MetricType::Gauge => b.gauge(&desc, s.value, attrs),
                MetricType::Counter => {
                    let start = starts.start(&m.name, &s.labels, s.value, now, None);
                    b.counter(&desc, s.value, start, attrs)
                }
            }
        }
    }
}

#[async_trait]
impl Collector for Block {
    async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let read = self.read(ctx).await;
        let mut warnings = Vec::new();
        let readings = self.readings(read.as_ref().ok(), ctx.started, &mut warnings);
        let mut snapshot = self.emit(ctx, readings);
        match read {
            Ok(_) => {
                snapshot.warnings = warnings;
                Ok(snapshot)
            }
            Err(e) => Err(e.with_partial(snapshot)),
        }
    }
}
