//! `receivers: generic/<service>:` as a receiver kind: one job per metric group and per
//! standalone metric (`generic/<service>/<name>`), so that each has its own schedule, its
//! own figures in the `self` receiver and its own entry in /health; the service's jobs
//! share its read slots (`max_parallel`) and its read cache.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline::kv;
use pipeline::registry::{
    BuildContext, BuildError, BuiltJob, ConfigFactory, JobSpec, ReceiverFactory, ReceiverSpec,
};
use pipeline::schedule::ScheduleBlock;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::collect::{Block, Metric};
use crate::config::{GenericConfig, MetricSettings, SourceSettings};
use crate::content::Filter;
use crate::source::{Cache, RunAs, Source};

/// The `generic` receiver kind.
pub fn factory() -> Arc<dyn ReceiverFactory> {
    ConfigFactory::<GenericConfig>::new("generic", &[])
}

/// A block of the service: its job name, where it is configured, its schedule keys, what
/// it reads and its metrics.
struct Part {
    name: String,
    path: String,
    schedule: ScheduleBlock,
    source: SourceSettings,
    content: crate::config::ContentType,
    metrics: Vec<(String, MetricSettings)>,
}

impl GenericConfig {
    fn parts(&self) -> Vec<Part> {
        let groups = self.metric_groups.iter().map(|(name, g)| Part {
            name: name.clone(),
            path: format!("metric_groups.{name}"),
            schedule: g.schedule,
            source: g.source(),
            content: g.content_type,
            metrics: g
                .metrics
                .iter()
                .map(|(n, m)| (n.clone(), m.clone()))
                .collect(),
        });
        let standalone = self.standalone_metrics.iter().map(|(name, m)| Part {
            name: name.clone(),
            path: format!("standalone_metrics.{name}"),
            schedule: m.schedule,
            source: m.source(),
            content: m.content_type,
            metrics: vec![(name.clone(), m.metric())],
        });
        groups
            .chain(standalone)
            .filter(|p| p.schedule.enabled)
            .collect()
    }

    fn prefix(&self, service: &str) -> String {
        self.metric_prefix
            .clone()
            .unwrap_or_else(|| format!("{service}."))
    }
}

impl ReceiverSpec for GenericConfig {
    fn jobs(&self) -> Vec<JobSpec> {
        if !self.0.schedule.enabled {
            return Vec::new();
        }
        let own = self.schedule();
        self.parts()
            .into_iter()
            .map(|p| JobSpec {
                name: Some(p.name),
                config_path: p.path,
                schedule: p.schedule.resolve(&own, Duration::ZERO),
                receiver_interval: p.schedule.collection_interval.map(|_| own.interval),
            })
            .collect()
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn build(&self, id: &str, cx: &BuildContext) -> Result<Vec<BuiltJob>, BuildError> {
        let service = id.split_once('/').map_or(id, |(_, n)| n);
        let run_as = match &self.run_as {
            Some(r) => Some(RunAs::resolve(&r.user, r.group.as_deref()).map_err(BuildError)?),
            None => None,
        };
        let cache = Arc::new(Cache::default());
        let permits = Arc::new(Semaphore::new(self.max_parallel));
        let resource = pipeline::resource([
            kv("service.name", cx.service_name.as_str()),
            kv("service.instance.id", id),
        ]);
        let prefix = self.prefix(service);
        let mut out = Vec::new();
        for p in self.parts() {
            let source = Source::new(p.source, run_as)
                .map_err(|e| BuildError(format!("{}: {e}", p.path)))?;
            let metrics = p
                .metrics
                .into_iter()
                .map(|(n, settings)| {
                    let filter = Filter::new(p.content, &settings)
                        .map_err(|e| BuildError(format!("{}.metrics.{n}: {e}", p.path)))?;
                    Ok(Metric {
                        name: format!("{prefix}{n}"),
                        settings,
                        filter,
                    })
                })
                .collect::<Result<Vec<_>, BuildError>>()?;
            let block = Block {
                source,
                prefix: prefix.clone(),
                content: p.content,
                metrics,
                cache: cache.clone(),
                permits: permits.clone(),
                resource: resource.clone(),
                keep_last_value: self.keep_last_value,
                state: Mutex::default(),
            };
            out.push(BuiltJob {
                name: Some(p.name),
                collector: Arc::new(block),
            });
        }
        Ok(out)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
