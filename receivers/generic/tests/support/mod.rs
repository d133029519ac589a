//! Decoding a service block as the agent does, building its jobs and running one.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pipeline::config::Problems;
use pipeline::decode::Decoder;
use pipeline::registry::{BuildContext, ReceiverSpec};
use pipeline::{Collector, PipelineStats, ReceiverError, ScrapeContext, Snapshot};
use receiver_generic::GenericConfig;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The service's block decoded as the agent decodes it, or its problems.
pub fn decode(v: Value) -> Result<GenericConfig, Vec<String>> {
    let mut problems = Problems::default();
    let restore = |_: &mut Value, _: &str, _: &str| false;
    let c =
        Decoder::new(&mut problems, &restore).decode::<GenericConfig>(&v, "receivers.generic/node");
    if problems.is_empty() {
        Ok(c.unwrap())
    } else {
        Err(problems
            .into_vec()
            .iter()
            .map(ToString::to_string)
            .collect())
    }
}

/// The service's jobs by name.
pub fn build(cfg: &GenericConfig) -> BTreeMap<String, Arc<dyn Collector>> {
    let cx = BuildContext {
        stats: PipelineStats::new(),
        resource: pipeline::resource([]),
        service_name: "ecs-otel-agent".into(),
        intervals: Vec::new(),
    };
    cfg.build("generic/node", &cx)
        .unwrap()
        .into_iter()
        .map(|j| (j.name.unwrap(), j.collector))
        .collect()
}

/// One run of a job.
pub async fn run(
    c: &Arc<dyn Collector>,
    run: u64,
    timeout: Duration,
) -> Result<Snapshot, ReceiverError> {
    let ctx = ScrapeContext {
        job: "generic/node/x".into(),
        started: SystemTime::now(),
        deadline: Instant::now() + timeout,
        interval: Duration::from_secs(30),
        cancel: CancellationToken::new(),
        run,
    };
    c.scrape(&ctx).await
}
