//! The ECS receiver: one cluster per `receivers: ecs/<name>`, one shared management session,
//! and a scheduled collector per enabled `collectors:` entry (`ecs/<name>/dashboard`,
//! `ecs/<name>/node_stats`), each with its own interval and source of series.

pub mod audit;
pub mod billing;
pub mod catalog;
pub mod client;
pub mod cluster;
pub mod config;
pub mod dashboard;
mod factory;
pub mod iam;
pub mod node_stats;
mod parts;
pub mod performance;

use std::sync::Arc;

use async_trait::async_trait;
use pipeline::{ReceiverError, ScrapeContext, Snapshot};

pub use client::ClientError;
pub use cluster::Cluster;
pub use config::{AnswerSizes, CollectorKind, CollectorSchedule, EcsConfig, EcsSettings};
pub use factory::factory;

/// A query parameter value, percent-encoded.
pub use pipeline::percent::encode as percent;

enum Inner {
    Dashboard(dashboard::Dashboard),
    NodeStats(node_stats::NodeStats),
    Billing(Box<billing::Billing>),
    Iam(iam::Iam),
    Performance(performance::Performance),
    Audit(audit::Audit),
}

/// One scheduled collector of a cluster.
pub struct Collector {
    pub kind: CollectorKind,
    pub cluster: Arc<Cluster>,
    inner: Inner,
}

#[async_trait]
impl pipeline::Collector for Collector {
    async fn scrape(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        // The run's root span (the scheduler's): which cluster and collector it is.
        let run = tracing::Span::current();
        run.record("ecs.cluster.name", self.cluster.name.as_str());
        run.record("ecs_otel_agent.collector", self.kind.name());
        let result = match &self.inner {
            Inner::Dashboard(d) => d.collect(ctx).await,
            Inner::NodeStats(n) => n.collect(ctx).await,
            Inner::Billing(b) => b.collect(ctx).await,
            Inner::Iam(i) => i.collect(ctx).await,
            Inner::Performance(p) => p.collect(ctx).await,
            Inner::Audit(a) => a.collect(ctx).await,
        };
        // Learned during the first run.
        if let Some(vdc) = self.cluster.vdc_name() {
            run.record("ecs.vdc.name", vdc.as_str());
        }
        result
    }

    async fn shutdown(&self) {
        self.cluster.shutdown().await;
    }

    fn backlog(&self) -> Option<pipeline::Backlog> {
        match &self.inner {
            Inner::Dashboard(d) => d.backlog(),
            Inner::Iam(i) => Some(i.backlog()),
            _ => None,
        }
    }
}

/// The collectors of one cluster, ready to schedule. `name` is the receiver's name
/// (`prod` of `ecs/prod`), `service_name` the `service.name` of its series.
pub fn collectors(
    name: &str,
    cfg: &EcsConfig,
    service_name: &str,
) -> Result<Vec<(CollectorSchedule, Arc<Collector>)>, ClientError> {
    let cluster = Arc::new(Cluster::new(name, cfg, service_name)?);
    let mut out = Vec::new();
    for (i, s) in cfg.schedules().into_iter().enumerate() {
        // The first collector also reports the shared client's figures.
        let report_client = i == 0;
        let inner = match s.kind {
            CollectorKind::Dashboard => {
                Inner::Dashboard(dashboard::Dashboard::new(cluster.clone(), report_client))
            }
            CollectorKind::NodeStats => {
                Inner::NodeStats(node_stats::NodeStats::new(cluster.clone(), report_client))
            }
            CollectorKind::Iam => Inner::Iam(iam::Iam::new(cluster.clone(), report_client)),
            CollectorKind::Performance => Inner::Performance(performance::Performance::new(
                cluster.clone(),
                report_client,
            )),
            CollectorKind::Audit => Inner::Audit(audit::Audit::new(cluster.clone(), report_client)),
            CollectorKind::Billing => Inner::Billing(Box::new(billing::Billing::new(
                cluster.clone(),
                report_client,
            ))),
        };
        out.push((
            s,
            Arc::new(Collector {
                kind: s.kind,
                cluster: cluster.clone(),
                inner,
            }),
        ));
    }
    Ok(out)
}
