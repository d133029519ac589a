//! One block (a metric group or a standalone metric) as a job: one read of its source per
//! run, every metric of the block derived from it. A failed read emits each metric's
//! `value_on_error`, or its last values while younger than the service's
//! `keep_last_value`; the run then fails (counted, shown in health) with what it has.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pipeline::otlp::resource::v1::Resource;
use pipeline::{
    Collector, MetricDesc, ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder, kv, scope,
};
use tokio::sync::Semaphore;

use crate::config::{ContentType, MetricSettings, MetricType};
use crate::content::{Filter, Parsed, Sample};
use crate::source::{SharedCache, Source, SourceError};

/// A metric of the block, with its full name and compiled filter.
pub struct Metric {
    pub name: String,
    pub settings: MetricSettings,
    pub filter: Filter,
}

pub struct Block {
    pub source: Source,
    pub content: ContentType,
    pub metrics: Vec<Metric>,
    pub cache: SharedCache,
    /// The service's reads in flight.
    pub permits: Arc<Semaphore>,
    pub resource: Resource,
    pub keep_last_value: Duration,
    pub state: Mutex<State>,
}

/// Per metric, the last samples read and when; per series, when it was first seen (the
/// start of a counter).
#[derive(Default)]
pub struct State {
    last: BTreeMap<String, (Vec<Sample>, SystemTime)>,
    starts: HashMap<(String, Vec<(String, String)>), SystemTime>,
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

    /// The samples of each metric this run: read now, or what a failure leaves.
    fn samples(
        &self,
        parsed: Option<&Parsed>,
        now: SystemTime,
        warnings: &mut Vec<String>,
    ) -> Vec<(usize, Vec<Sample>)> {
        let mut st = lock(&self.state);
        let mut out = Vec::new();
        for (i, m) in self.metrics.iter().enumerate() {
            let fresh = parsed.map(|p| p.samples(&m.filter, &m.settings));
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

    /// `value_on_error` for every series last seen (one series without labels if none).
    fn on_error(&self, st: &State, m: &Metric) -> Option<Vec<Sample>> {
        let v = m.settings.value_on_error?;
        let known: Vec<Sample> = st
            .last
            .get(&m.name)
            .map(|(s, _)| {
                s.iter()
                    .map(|x| Sample {
                        labels: x.labels.clone(),
                        value: v,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(if known.is_empty() {
            vec![Sample {
                labels: Vec::new(),
                value: v,
            }]
        } else {
            known
        })
    }

    fn emit(&self, ctx: &ScrapeContext, samples: Vec<(usize, Vec<Sample>)>) -> Snapshot {
        let mut b = SnapshotBuilder::new(
            self.resource.clone(),
            scope("ecs-otel-agent/receiver/generic", env!("CARGO_PKG_VERSION")),
            ctx.started,
        );
        let mut st = lock(&self.state);
        for (i, series) in samples {
            let m = &self.metrics[i];
            let desc = MetricDesc::new(&m.name, &m.settings.unit, &m.settings.description);
            for s in series {
                let attrs = s.labels.iter().map(|(k, v)| kv(k.clone(), v.clone()));
                match m.settings.kind {
                    MetricType::Gauge => b.gauge(&desc, s.value, attrs),
                    MetricType::Counter => {
                        let start = *st
                            .starts
                            .entry((m.name.clone(), s.labels.clone()))
                            .or_insert(ctx.started);
                        b.counter(&desc, s.value, start, attrs)
                    }
                }
            }
        }
        Snapshot::new(vec![b.build()])
    }
}

#[async_trait]
impl Collector for Block {
    async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let read = self.read(ctx).await;
        let mut warnings = Vec::new();
        let samples = self.samples(read.as_ref().ok(), ctx.started, &mut warnings);
        let mut snapshot = self.emit(ctx, samples);
        match read {
            Ok(_) => {
                snapshot.warnings = warnings;
                Ok(snapshot)
            }
            Err(e) => Err(e.with_partial(snapshot)),
        }
    }
}
