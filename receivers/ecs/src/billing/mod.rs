//! The billing collector: sizes, objects and traffic of every namespace and bucket from
//! `/object/billing`, with the fewest calls the API allows (bulk POSTs over batches of
//! namespaces, with bucket detail), and costs from the configured model.
//!
//! Time: every billing point carries `uptodate_till` (ECS's metering lags ~15 minutes) as
//! its time. Traffic counters are month-to-date sums read from a fixed origin (the UTC
//! month's start) at every read, with that origin as their start time: an agent restart
//! loses and doubles nothing, and no state is kept on disk. When a month ends, the cycle
//! that first sees the new month still reports the old month's complete window once, so
//! its last minutes are not lost to `increase()`.

mod answer;
pub mod config;
mod emit;
pub mod fetch;
pub mod pricing;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pipeline::timefmt::{month_start, next_month_start};
use pipeline::{ReceiverError, ScrapeContext, Snapshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::catalog::*;
use crate::client::parse::{int, list, text, unwrap};
use crate::client::{Call, ClientError};
use crate::cluster::Cluster;
use fetch::{Answer, NamespaceFigures, NamespaceSample};

/// Replication-group names change rarely: read them this often.
const VPOOLS_EVERY: Duration = Duration::from_secs(3600);
/// The bucket that stands for the buckets beyond `max_buckets`.
pub const OTHER: &str = "__other__";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A namespace's (block, notification) quota in GB, from a list entry or a quota answer.
fn quota_of(v: &serde_json::Value) -> Option<(i64, i64)> {
    Some((int(&v["blockSize"])?, int(&v["notificationSize"])?))
}

/// Each batch's namespaces and what the bulk call answered for them.
type BatchResults<T> = Vec<(Vec<String>, Result<Vec<Answer<T>>, ClientError>)>;

/// The month-to-date window last read: `[period, end)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    period: i64,
    end: i64,
}

#[derive(Default)]
struct State {
    info: BTreeMap<String, pull::LastGood<NamespaceFigures>>,
    month: BTreeMap<String, pull::LastGood<NamespaceSample>>,
    trend: BTreeMap<String, pull::LastGood<NamespaceSample>>,
    /// The month-to-date window of `month`.
    window: Option<Window>,
    /// The namespaces the last sample read asked for (answered or not).
    sampled: std::collections::BTreeSet<String>,
    vpools: HashMap<String, String>,
    vpools_read: Option<Instant>,
    /// Namespace → (block, notification) quota in GB, -1 for none.
    quotas: BTreeMap<String, (i64, i64)>,
    /// Per namespace: which buckets make up `__other__`, and since when.
    other: BTreeMap<String, (Vec<String>, SystemTime)>,
}

pub struct Billing {
    cluster: Arc<Cluster>,
    report_client: bool,
    state: Mutex<State>,
    names: CostNames,
    /// Configured tag key → its attribute (`CostCenter` → `tag_cost_center`).
    tag_labels: Vec<(String, String)>,
}

/// The attribute of a bucket tag: `tag_` and the key in snake case, as Prometheus
/// labels are written (`CostCenter` → `tag_cost_center`, `app-name` → `tag_app_name`).
pub fn tag_label(key: &str) -> String {
    let mut out = String::from("tag_");
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = true;
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out
}

/// The cost metrics' names end with the configured currency.
struct CostNames {
    bucket_storage: String,
    ns_storage: String,
    ns_bandwidth: String,
}

impl CostNames {
    fn new(currency: &str) -> Self {
        let swap = |n: &str| format!("{}.{currency}", n.trim_end_matches(".usd"));
        Self {
            bucket_storage: swap(BILL_BUCKET_STORAGE_COST.entry.desc.name),
            ns_storage: swap(BILL_NS_STORAGE_COST.entry.desc.name),
            ns_bandwidth: swap(BILL_NS_BANDWIDTH_COST.entry.desc.name),
        }
    }
}

/// What one cycle read (or kept), ready to emit.
struct Cycle {
    namespaces: Vec<String>,
    warnings: Vec<String>,
    errors: Vec<ClientError>,
}

impl Billing {
    pub fn new(cluster: Arc<Cluster>, report_client: bool) -> Self {
        if !cluster.cfg.collectors.billing.pricing.requests.is_empty() {
            tracing::warn!(cluster = %cluster.name, "collectors.billing.pricing.requests: ECS's billing API reports no request counts, so no operation cost can be computed (see the metrics reference)");
        }
        let names = CostNames::new(&cluster.cfg.collectors.billing.currency_suffix());
        let tag_labels = cluster
            .cfg
            .collectors
            .billing
            .bucket_tags
            .iter()
            .map(|k| (k.clone(), tag_label(k)))
            .collect();
        Self {
            cluster,
            report_client,
            state: Mutex::new(State::default()),
            names,
            tag_labels,
        }
    }

    /// The namespaces to read, with their quotas; `None` when the list could not be read.
    async fn namespaces(&self, deadline: Instant, c: &mut Cycle) -> Option<Vec<String>> {
        let cl = &self.cluster;
        let mut names = Vec::new();
        let mut quotas = BTreeMap::new();
        let listed = cl
            .each_namespace(deadline, |n| {
                let Some(name) = crate::cluster::namespace_name(n) else {
                    return;
                };
                names.push(name.to_owned());
                if let Some(q) = quota_of(n) {
                    quotas.insert(name.to_owned(), q);
                }
            })
            .await;
        if let Err(e) = listed {
            c.warnings
                .push(format!("{e}; the last known namespaces are read"));
            c.errors.push(e);
            return None;
        }
        let wanted = &cl.cfg.collectors.billing.namespaces;
        if !wanted.is_empty() {
            for w in wanted {
                if !names.contains(w) {
                    c.warnings.push(format!(
                        "namespace {w:?} (collectors.billing.namespaces) does not exist on the cluster"
                    ));
                }
            }
            names.retain(|n| wanted.contains(n));
        }
        // Older releases list only id, name and link: their quotas have a call each.
        let unlisted: Vec<String> = names
            .iter()
            .filter(|n| !quotas.contains_key(*n))
            .cloned()
            .collect();
        if !unlisted.is_empty() {
            self.read_quotas(unlisted, deadline, &mut quotas, c).await;
        }
        lock(&self.state).quotas = quotas;
        tracing::Span::current().record("ecs.namespaces.read", names.len() as i64);
        Some(names)
    }

    /// Each namespace's `/object/namespaces/namespace/{ns}/quota`, the client bounding the
    /// calls in flight. A failure leaves that namespace without quota series this cycle.
    async fn read_quotas(
        &self,
        names: Vec<String>,
        deadline: Instant,
        quotas: &mut BTreeMap<String, (i64, i64)>,
        c: &mut Cycle,
    ) {
        let mut tasks = tokio::task::JoinSet::new();
        for ns in names {
            let cl = self.cluster.clone();
            let read = async move {
                let path = format!("/object/namespaces/namespace/{}/quota", crate::percent(&ns));
                let call = Call::get("/object/namespaces/namespace/{namespace}/quota", path);
                let r = cl.client.json(call.until(deadline)).await;
                (ns, r)
            };
            tasks.spawn(read.instrument(tracing::Span::current()));
        }
        let (mut failed, mut first) = (0, None);
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok((ns, Ok(v))) => match quota_of(unwrap(&v, "namespace_quota_details")) {
                    Some(q) => {
                        quotas.insert(ns, q);
                    }
                    None => failed += 1,
                },
                Ok((_, Err(e))) => {
                    failed += 1;
                    first.get_or_insert(e);
                }
                Err(_) => failed += 1,
            }
        }
        if failed > 0 {
            let why = first.map_or("no quota in the answer".to_owned(), |e| e.to_string());
            c.warnings
                .push(format!("quotas of {failed} namespaces not read: {why}"));
        }
    }

    /// Replication group id → name, refreshed hourly.
    async fn vpools(&self, deadline: Instant, c: &mut Cycle) {
        let due = lock(&self.state)
            .vpools_read
            .is_none_or(|t| t.elapsed() >= VPOOLS_EVERY);
        if !due {
            return;
        }
        match self
            .cluster
            .client
            .json(Call::get("/vdc/data-service/vpools", "/vdc/data-service/vpools").until(deadline))
            .await
        {
            Ok(v) => {
                let map: HashMap<String, String> = list(&v, "data_service_vpool")
                    .iter()
                    .filter_map(|p| {
                        Some((text(&p["id"])?.to_owned(), text(&p["name"])?.to_owned()))
                    })
                    .collect();
                let mut st = lock(&self.state);
                st.vpools = map;
                st.vpools_read = Some(Instant::now());
            }
            Err(e) => {
                c.warnings
                    .push(format!("{e}; replication groups shown by id"));
            }
        }
    }

    /// Runs `read` over every batch of `names`; each namespace's answer, or the error of
    /// its batch.
    async fn batches<T, F, Fut>(&self, names: &[String], read: F) -> BatchResults<T>
    where
        T: Send + 'static,
        F: Fn(Arc<Cluster>, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Answer<T>>, ClientError>> + Send + 'static,
    {
        let size = self.cluster.cfg.collectors.billing.batch_size.max(1);
        let mut tasks = tokio::task::JoinSet::new();
        let mut chunks = HashMap::new();
        for (i, chunk) in names.chunks(size).enumerate() {
            let fut = read(self.cluster.clone(), chunk.to_vec());
            // Spawned tasks do not inherit the span: hand it over, so the calls stay
            // children of the cycle's trace. The client's semaphore bounds them.
            let handle =
                tasks.spawn(async move { (i, fut.await) }.instrument(tracing::Span::current()));
            chunks.insert(handle.id(), (i, chunk.to_vec()));
        }
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next_with_id().await {
            match r {
                Ok((id, (i, result))) => {
                    if let Some((_, chunk)) = chunks.remove(&id) {
                        out.push((i, chunk, result));
                    }
                }
                // A task that died still accounts for its namespaces.
                Err(e) => {
                    if let Some((i, chunk)) = chunks.remove(&e.id()) {
                        let failed = ClientError::Setup(format!("billing batch task failed: {e}"));
                        out.push((i, chunk, Err(failed)));
                    }
                }
            }
        }
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, c, r)| (c, r)).collect()
    }

    pub async fn collect(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let deadline = ctx.deadline;
        let mut c = Cycle {
            namespaces: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        };
        let listed = self.namespaces(deadline, &mut c).await;
        let auth = |c: &Cycle| c.errors.iter().find(|e| e.is_login_refused()).cloned();
        if let Some(e) = auth(&c) {
            return Err(self.failure(ctx, &c, e));
        }
        c.namespaces = match listed {
            Some(n) => n,
            None => lock(&self.state).info.keys().cloned().collect(),
        };
        self.vpools(deadline, &mut c).await;

        self.read_sizes(deadline, &mut c).await;
        if let Some(e) = auth(&c) {
            return Err(self.failure(ctx, &c, e));
        }

        if let Some(u) = self.samples_due(ctx, &c) {
            self.read_samples(u, deadline, &mut c).await;
        }

        let snapshot = self.emit(ctx, &mut c);
        let nothing = lock(&self.state).info.is_empty() && !c.namespaces.is_empty();
        if nothing && let Some(e) = c.errors.first().cloned() {
            return Err(e
                .receiver_error(format!("no billing figure could be read: {e}"))
                .with_partial(snapshot));
        }
        if let Some(e) = self.unknown_groups() {
            return Err(ReceiverError::new("config", e).with_partial(snapshot));
        }
        Ok(snapshot)
    }

    /// Every namespace's sizes, merged into what is kept.
    async fn read_sizes(&self, deadline: Instant, c: &mut Cycle) {
        let keep = self.cluster.cfg.keep_last_good_cycles;
        let results = self
            .batches(&c.namespaces, move |cl, batch| async move {
                fetch::info(&cl, &batch, deadline).await
            })
            .await;
        let mut st = lock(&self.state);
        // Namespaces gone from the list are gone: their series end now.
        st.info.retain(|k, _| c.namespaces.contains(k));
        st.month.retain(|k, _| c.namespaces.contains(k));
        st.trend.retain(|k, _| c.namespaces.contains(k));
        merge(
            &mut st.info,
            results,
            keep,
            "sizes",
            c,
            |f: &NamespaceFigures| &f.name,
        );
    }

    /// The end of the samples to read, when they are due: the oldest uptodate_till read
    /// this cycle (a namespace served from an older read must not pull the window back).
    fn samples_due(&self, ctx: &ScrapeContext, c: &Cycle) -> Option<i64> {
        let cfg = &self.cluster.cfg.collectors.billing;
        let st = lock(&self.state);
        let u = st
            .info
            .values()
            .filter(|k| k.failures == 0)
            .filter_map(|k| k.value.uptodate)
            .min()?;
        // Due when the billing data has moved on by sample_interval since the last read
        // (billing time, not the agent's), or a namespace has none yet.
        let every = cfg.sample_interval.unwrap_or(ctx.interval).as_secs() as i64;
        let due = st.window.is_none_or(|w| u - w.end >= every)
            || c.namespaces.iter().any(|n| !st.sampled.contains(n));
        (cfg.include_samples && due).then_some(u)
    }

    async fn read_samples(&self, u: i64, deadline: Instant, c: &mut Cycle) {
        let cfg = &self.cluster.cfg.collectors.billing;
        let keep = self.cluster.cfg.keep_last_good_cycles;
        let period = month_start(u - 1);
        // A month that ended since the last read is first reported complete, once.
        let window = match lock(&self.state).window {
            Some(w) if w.period < period && w.end < next_month_start(w.period) => Window {
                period: w.period,
                end: next_month_start(w.period),
            },
            // ECS's uptodate_till went back (as it may while ECS rebuilds its metering):
            // a shorter window would make the counters go down.
            Some(w) if w.period == period && u < w.end => return,
            _ => Window { period, end: u },
        };
        let trend_start = u - cfg.trend_window.as_secs() as i64;
        let names = c.namespaces.clone();
        let (month, trend) = tokio::join!(
            self.batches(&names, move |cl, batch| async move {
                fetch::sample(&cl, &batch, window.period, window.end, deadline).await
            }),
            self.batches(&names, move |cl, batch| async move {
                fetch::sample(&cl, &batch, trend_start, u, deadline).await
            }),
        );
        let mut st = lock(&self.state);
        if st.window.is_some_and(|w| w.period != window.period) {
            // A new month: last month's sums must not be served as this month's.
            st.month.clear();
        }
        merge(
            &mut st.month,
            month,
            keep,
            "month-to-date traffic",
            c,
            |s: &NamespaceSample| &s.name,
        );
        merge(
            &mut st.trend,
            trend,
            keep,
            "cost trend",
            c,
            |s: &NamespaceSample| &s.name,
        );
        st.window = Some(window);
        st.sampled = names.into_iter().collect();
    }

    /// Replication groups the cost model names that the cluster does not have.
    fn unknown_groups(&self) -> Option<String> {
        let st = lock(&self.state);
        if st.vpools.is_empty() {
            return None;
        }
        let known: Vec<&String> = st.vpools.values().collect();
        let unknown: Vec<&String> = self
            .cluster
            .cfg
            .collectors
            .billing
            .pricing
            .storage
            .replication_groups
            .keys()
            .filter(|g| !known.contains(g))
            .collect();
        (!unknown.is_empty()).then(|| {
            let mut k: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            k.sort();
            format!(
                "collectors.billing.pricing.storage.replication_groups: {} not on this cluster (its replication groups: {})",
                unknown
                    .iter()
                    .map(|g| format!("{g:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                k.join(", ")
            )
        })
    }

    fn failure(&self, ctx: &ScrapeContext, c: &Cycle, e: ClientError) -> ReceiverError {
        let mut b = self.cluster.builder(ctx.started);
        if self.report_client {
            self.cluster.report_client(&mut b);
        }
        e.receiver_error(e.to_string()).with_partial(Snapshot {
            resource_metrics: vec![b.build()],
            resource_logs: Vec::new(),
            warnings: c.warnings.clone(),
        })
    }
}

/// Folds a read's per-batch results into the cache: fresh answers replace, namespaces
/// reported gone leave, and the namespaces of a failed batch keep their last good answer
/// for `keep` failed cycles, then leave (their series end).
fn merge<T: Clone>(
    cache: &mut BTreeMap<String, pull::LastGood<T>>,
    results: BatchResults<T>,
    keep: u32,
    what: &str,
    c: &mut Cycle,
    name_of: impl Fn(&T) -> &String,
) {
    for (batch, r) in results {
        match r {
            Ok(answers) => {
                let mut answered = std::collections::HashSet::new();
                for a in answers {
                    match a {
                        Answer::Found(v) => {
                            answered.insert(name_of(&v).clone());
                            cache.insert(name_of(&v).clone(), pull::LastGood::new(v));
                        }
                        Answer::Gone(n) => {
                            answered.insert(n.clone());
                            cache.remove(&n);
                        }
                    }
                }
                // A namespace the answer left out is not fresh: count it as failed.
                let missing: Vec<&String> =
                    batch.iter().filter(|n| !answered.contains(*n)).collect();
                for n in &missing {
                    let _ = pull::last_good::fail_in(cache, *n, keep);
                }
                if let Some(first) = missing.first() {
                    c.warnings.push(format!(
                        "{what}: ECS's answer left out {} of the {} namespaces asked for (first {first:?})",
                        missing.len(),
                        batch.len(),
                    ));
                }
            }
            Err(e) => {
                let mut kept = 0;
                let mut expired = 0;
                for n in &batch {
                    match pull::last_good::fail_in(cache, n, keep) {
                        Some(pull::last_good::Failed::Served(_)) => kept += 1,
                        Some(pull::last_good::Failed::Expired) => expired += 1,
                        None => {}
                    }
                }
                let first = batch.first().map(String::as_str).unwrap_or("");
                c.warnings.push(format!(
                    "{what} of {} namespaces from {first:?} on: {e}; {kept} served from the last good read, {expired} expired",
                    batch.len()
                ));
                tracing::warn!(what, namespaces = batch.len(), first, error = %e, kept, expired, "billing batch failed");
                c.errors.push(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_left_out_of_an_answer_ages_like_a_failure() {
        let ns = |n: &str| NamespaceFigures {
            name: n.to_owned(),
            ..NamespaceFigures::default()
        };
        let mut cache = BTreeMap::new();
        let mut c = Cycle {
            namespaces: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        };
        let batch = vec!["a".to_owned(), "b".to_owned()];
        let both = vec![Answer::Found(ns("a")), Answer::Found(ns("b"))];
        merge(
            &mut cache,
            vec![(batch.clone(), Ok(both))],
            1,
            "sizes",
            &mut c,
            |f| &f.name,
        );
        assert_eq!(cache.len(), 2);
        // "b" is missing from the next two answers: kept once, then dropped.
        for expected in [2, 1] {
            let only_a = vec![Answer::Found(ns("a"))];
            merge(
                &mut cache,
                vec![(batch.clone(), Ok(only_a))],
                1,
                "sizes",
                &mut c,
                |f| &f.name,
            );
            assert_eq!(cache.len(), expected);
        }
        assert!(!c.warnings.is_empty());
        assert!(
            c.warnings.iter().all(|w| w.contains("left out 1 of the 2")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn tag_keys_become_snake_case_labels() {
        assert_eq!(tag_label("CostCenter"), "tag_cost_center");
        assert_eq!(tag_label("Owner"), "tag_owner");
        assert_eq!(tag_label("app-name"), "tag_app_name");
        assert_eq!(tag_label("DataClass2"), "tag_data_class2");
    }
}
