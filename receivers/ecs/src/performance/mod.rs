//! The performance collector (ECS 3.6+, ObjectScale): request rates, errors, latency and
//! throughput of the VDC, by protocol head, method and namespace, the nodes' CPU, memory,
//! network and disk bandwidth, and recovery and rebalancing progress, from the Flux API
//! (`POST /flux/api/external/v2/query`), which replaced the dashboard's transaction
//! figures in ECS 3.6.
//!
//! Each measurement is one query asking for the points since the previous cycle (relative
//! to ECS's clock, with a minute of overlap; points already read are skipped), never more
//! than the hour ECS allows. Each point keeps its own time. An agent that could not ask
//! for more than an hour reports the rest as a gap (`emcecs_performance_gap_seconds_total`)
//! instead of pretending to have it.

pub mod catalog;
pub mod config;
mod emit;
pub mod flux;
mod queries;
mod window;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use pipeline::{Impact, ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder};
use serde_json::json;
use tokio::time::Instant;

use crate::client::{Call, ClientError, Family};
use crate::cluster::Cluster;
use flux::{Query, Table};
use queries::Kind;
pub use window::{MAX_RANGE, Window};

/// The route every query is counted and broken under.
pub const ROUTE: &str = "/flux/api/external/v2/query";

pub struct Performance {
    cluster: Arc<Cluster>,
    report_client: bool,
    started: SystemTime,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    windows: HashMap<&'static str, Window>,
    /// The longest range ECS accepts: an hour, unless it refused one (then halved).
    max_range: Option<Duration>,
    /// Seconds never read, per measurement, since the agent started.
    gaps: HashMap<&'static str, f64>,
    /// The namespaces with series of their own, as last chosen.
    namespaces: HashSet<String>,
    told_unavailable: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One query's outcome.
struct Read {
    kind: Kind,
    query: Query,
    /// The cycle's time: the next window reaches back to here.
    sent: SystemTime,
    result: Result<Table, ClientError>,
}

impl Performance {
    pub fn new(cluster: Arc<Cluster>, report_client: bool) -> Self {
        Self {
            cluster,
            report_client,
            started: SystemTime::now(),
            state: Mutex::new(State::default()),
        }
    }

    fn queries(&self) -> Vec<(Kind, Query)> {
        let s = &self.cluster.cfg.collectors.performance;
        queries::ALL
            .into_iter()
            .filter(|(k, _)| s.max_namespaces > 0 || !k.per_namespace())
            .filter(|(k, _)| s.nodes || !k.per_node())
            .collect()
    }

    pub async fn collect(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let cl = &self.cluster;
        cl.identify(ctx.deadline).await;
        let mut b = cl.builder(ctx.started);
        if self.report_client {
            cl.report_client(&mut b);
        }
        if matches!(cl.client.family(), Some((Family::Ecs35, _))) {
            let mut st = lock(&self.state);
            if !st.told_unavailable {
                st.told_unavailable = true;
                tracing::info!(cluster = %cl.name, "ECS before 3.6 has no Flux performance data; the dashboard collector reports its transactions");
            }
            return Ok(Snapshot::new(vec![b.build()]));
        }
        let reads = self.read_all(ctx).await;
        let mut warnings = Vec::new();
        let outcome = self.emit(&mut b, reads, &mut warnings);
        let mut snapshot = Snapshot::new(vec![b.build()]);
        snapshot.warnings = warnings;
        match outcome {
            Outcome::Some => Ok(snapshot),
            Outcome::Unavailable(e) => {
                let mut snapshot = snapshot;
                snapshot.warnings = vec![format!(
                    "the Flux API is not there ({e}): ECS 3.6 or later, or ObjectScale, serves it; this collector has nothing to read"
                )];
                Ok(snapshot)
            }
            // Flux is a service of its own on the cluster: while it is down the agent is
            // working (its other collectors say whether the cluster answers), and a
            // restart would not bring it back. A refused login stays what it is.
            Outcome::None(e) => {
                let impact = if e.is_login_refused() {
                    e.impact()
                } else {
                    Impact::Degraded
                };
                Err(e
                    .receiver_error(format!("no Flux measurement could be read: {e}"))
                    .with_impact(impact)
                    .with_partial(snapshot))
            }
        }
    }

    async fn read_all(&self, ctx: &ScrapeContext) -> Vec<Read> {
        let min_window = ctx.interval.max(Duration::from_secs(60));
        let mut tasks = tokio::task::JoinSet::new();
        for (kind, query) in self.queries() {
            let cluster = self.cluster.clone();
            let deadline = ctx.deadline;
            let plan = {
                let mut st = lock(&self.state);
                let max = st.max_range.unwrap_or(MAX_RANGE);
                st.windows
                    .entry(query.measurement)
                    .or_default()
                    .plan(ctx.started, min_window, max)
            };
            let sent = ctx.started;
            tasks.spawn(async move {
                let result = query_once(&cluster, &query, plan.range, deadline).await;
                (kind, query, sent, plan, result)
            });
        }
        let mut reads = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let Ok((kind, query, sent, plan, result)) = done else {
                continue;
            };
            let result = match result {
                Err(e) if is_range_refusal(&e) => {
                    self.retry_shorter(&query, plan.range, ctx.deadline, e)
                        .await
                }
                r => r,
            };
            if result.is_ok() && plan.gap > Duration::ZERO {
                *lock(&self.state)
                    .gaps
                    .entry(query.measurement)
                    .or_insert(0.0) += plan.gap.as_secs_f64();
            }
            reads.push(Read {
                kind,
                query,
                sent,
                result,
            });
        }
        reads.sort_by_key(|r| queries::ALL.iter().position(|(k, _)| *k == r.kind));
        reads
    }

    /// ECS refused the range: ask for half as much from now on (at least a minute).
    async fn retry_shorter(
        &self,
        query: &Query,
        refused: Duration,
        deadline: Instant,
        e: ClientError,
    ) -> Result<Table, ClientError> {
        let shorter = (refused / 2).max(Duration::from_secs(60));
        if shorter >= refused {
            return Err(e);
        }
        {
            let mut st = lock(&self.state);
            let max = st.max_range.unwrap_or(MAX_RANGE);
            if shorter < max {
                tracing::warn!(cluster = %self.cluster.name, refused_secs = refused.as_secs(), now_secs = shorter.as_secs(), error = %e, "Flux refused the range asked for; asking for less from now on");
                st.max_range = Some(shorter);
            }
        }
        query_once(&self.cluster, query, shorter, deadline).await
    }

    fn emit(
        &self,
        b: &mut SnapshotBuilder,
        reads: Vec<Read>,
        warnings: &mut Vec<String>,
    ) -> Outcome {
        let mut st = lock(&self.state);
        let max_ns = self.cluster.cfg.collectors.performance.max_namespaces;
        let mut first_error: Option<ClientError> = None;
        let mut not_found = 0;
        let total = reads.len();
        let mut tables: Vec<(Kind, Vec<flux::Row>)> = Vec::new();
        for r in reads {
            match r.result {
                Ok(t) => {
                    if t.skipped > 0 {
                        warnings.push(format!(
                            "{ROUTE} {}: {} rows without a usable time or value skipped",
                            r.query.measurement, t.skipped
                        ));
                    }
                    let w = st.windows.entry(r.query.measurement).or_default();
                    let fresh = w.take_new(t.rows, r.sent);
                    tables.push((r.kind, fresh));
                }
                Err(e) => {
                    if matches!(e, ClientError::Status { status: 404, .. }) {
                        not_found += 1;
                    }
                    warnings.push(format!("{}: {e}", r.query.measurement));
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some((_, rows)) = tables
            .iter()
            .find(|(k, _)| *k == Kind::TransactionsByNamespace)
            && !rows.is_empty()
        {
            st.namespaces = emit::busiest(rows, max_ns);
        }
        let c = emit::Context {
            namespaces: &st.namespaces,
            counters_start: self.cluster.client.started,
        };
        for (kind, rows) in tables.iter_mut() {
            let mut rows = std::mem::take(rows);
            if kind.per_namespace() {
                rows = emit::fold_others(rows, c.namespaces);
            }
            emit::newest_first(&mut rows);
            emit::rows(b, *kind, &rows, &c);
        }
        for (m, secs) in &st.gaps {
            catalog::GAP.record(b, *secs, self.started, [*m]);
        }
        match first_error {
            Some(e) if tables.is_empty() && not_found == total => Outcome::Unavailable(e),
            Some(e) if tables.is_empty() => Outcome::None(e),
            _ => Outcome::Some,
        }
    }
}

enum Outcome {
    Some,
    Unavailable(ClientError),
    None(ClientError),
}

async fn query_once(
    cluster: &Cluster,
    query: &Query,
    range: Duration,
    deadline: Instant,
) -> Result<Table, ClientError> {
    let body = json!({ "query": query.text(range) });
    let call = Call::post_json(ROUTE, ROUTE, &body).until(deadline);
    cluster
        .client
        .read_json(call, |answer| {
            flux::read(answer, query.tags).map_err(|e| match e {
                flux::Unreadable::Json(e) => crate::client::invalid_json(ROUTE, false, answer, &e),
                flux::Unreadable::Shape(message) => ClientError::Malformed {
                    route: format!("{ROUTE} {}", query.measurement),
                    message,
                },
            })
        })
        .await
}

/// ECS refuses a range over its limit (one hour) with a 400 naming the range.
fn is_range_refusal(e: &ClientError) -> bool {
    matches!(e, ClientError::Status { status: 400, message, .. } if message.to_ascii_lowercase().contains("range"))
}
