//! The audit collector: every namespace's audit events (`/vdc/events`: who created,
//! changed or deleted what) and newly raised alerts (`/vdc/alerts`), each as one OTLP log
//! record and counted (`emcecs_audit_events_total`,
//! `emcecs_namespace_privileged_operations_total`, `emcecs_alerts_raised_total`).
//!
//! Each cycle reads, per namespace, the window from where the last complete read ended
//! (less `overlap`, for events stamped late) to now. ECS stamps events to the minute, so
//! windows overlap and an event is recognised by its id: it is counted and logged once.
//! The read position and the ids of the overlap are saved in `state_file`, so that a
//! restart neither repeats nor skips events. A namespace whose read stopped half-way keeps
//! what it read (those ids are remembered) and is read again from the same point.

pub mod catalog;
pub mod config;
mod model;
pub mod privileged;
mod records;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use pipeline::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline::timefmt::{minute, secs};
use pipeline::{ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder, unix_nanos};
use tokio::time::Instant;

use crate::client::{Call, ClientError};
use crate::cluster::Cluster;
pub use model::{Alert, Event, Page};
use state::{Cursor, State};

/// Pages read per namespace and cycle at most (against a marker that never ends).
const MAX_PAGES: usize = 1000;

pub struct Audit {
    cluster: Arc<Cluster>,
    report_client: bool,
    started: SystemTime,
    inner: Mutex<Inner>,
}

struct Inner {
    state: State,
    /// A problem with the saved state, reported with the next cycle.
    state_problem: Option<String>,
    /// How far before the first cycle a namespace never read starts (until the state
    /// has its origin).
    lookback: i64,
    events: BTreeMap<(String, String, String), u64>,
    privileged: BTreeMap<(String, &'static str), u64>,
    alerts: BTreeMap<String, u64>,
    gap_secs: f64,
    /// The longest time a read of this cycle could not reach back to (every namespace
    /// stopped for the same time: one gap, not one per namespace).
    cycle_gap: i64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A window's read of one namespace (or of the alerts).
struct Read<T> {
    namespace: String,
    start: i64,
    gap: i64,
    page: Page<T>,
    error: Option<ClientError>,
}

impl Audit {
    pub fn new(cluster: Arc<Cluster>, report_client: bool) -> Self {
        let s = &cluster.cfg.collectors.audit;
        let endpoint = cluster.cfg.base_url();
        let lookback = i64::try_from(s.initial_lookback.as_secs()).unwrap_or(0);
        // The origin is set by the first cycle, from its time.
        let (state, state_problem, lookback) = match &s.state_file {
            None => (State::new(&endpoint, 0), None, lookback),
            Some(path) => match State::load(path, &endpoint) {
                Ok(Some(st)) => (st, None, 0),
                Ok(None) => (State::new(&endpoint, 0), None, lookback),
                // What was read before is unknown: starting now repeats nothing.
                Err(e) => (
                    State::new(&endpoint, 0),
                    Some(format!(
                        "{e}; starting from now (events before are not read)"
                    )),
                    0,
                ),
            },
        };
        if let Some(p) = &state_problem {
            tracing::warn!(cluster = %cluster.name, problem = %p, "audit state not used");
        }
        Self {
            cluster,
            report_client,
            started: SystemTime::now(),
            inner: Mutex::new(Inner {
                state,
                state_problem,
                lookback,
                events: BTreeMap::new(),
                privileged: BTreeMap::new(),
                alerts: BTreeMap::new(),
                gap_secs: 0.0,
                cycle_gap: 0,
            }),
        }
    }

    pub async fn collect(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let cl = &self.cluster;
        cl.identify(ctx.deadline).await;
        let now = secs(ctx.started) / 60 * 60;
        let mut warnings = Vec::new();
        {
            let mut inner = lock(&self.inner);
            if let Some(p) = inner.state_problem.take() {
                warnings.push(p);
            }
            if inner.state.origin == 0 {
                inner.state.origin = now - inner.lookback;
            }
        }
        let (namespaces, list_error) = self.namespaces(ctx.deadline, &mut warnings).await;
        let events = self.read_events(&namespaces, now, ctx.deadline).await;
        let alerts = match cl.cfg.collectors.audit.alerts {
            true => Some(self.read_alerts(now, ctx.deadline).await),
            false => None,
        };
        let listed: BTreeSet<&str> = namespaces.listed.iter().map(String::as_str).collect();
        let read_any = events.iter().any(|r| r.error.is_none())
            || alerts.as_ref().is_some_and(|a| a.error.is_none());
        let first_error = list_error
            .or_else(|| events.iter().find_map(|r| r.error.clone()))
            .or_else(|| alerts.as_ref().and_then(|a| a.error.clone()));
        let overlap = i64::try_from(cl.cfg.collectors.audit.overlap.as_secs()).unwrap_or(300);
        let observed = unix_nanos(SystemTime::now());
        let mut records = Vec::new();
        let mut b = cl.builder(ctx.started);
        {
            let mut inner = lock(&self.inner);
            for r in events {
                inner.apply_events(
                    r,
                    (now, overlap),
                    &listed,
                    observed,
                    &mut records,
                    &mut warnings,
                );
            }
            if let Some(a) = alerts {
                inner.apply_alerts(a, (now, overlap), observed, &mut records, &mut warnings);
            }
            inner.gap_secs += std::mem::take(&mut inner.cycle_gap) as f64;
            inner.emit(&mut b, self.started, now);
            if let Some(path) = &cl.cfg.collectors.audit.state_file
                && let Err(e) = inner.state.save(path)
            {
                tracing::warn!(cluster = %cl.name, error = %e, "audit state not saved");
                warnings.push(format!("{e}; a restart will repeat or skip events"));
            }
        }
        if self.report_client {
            cl.report_client(&mut b);
        }
        let mut snapshot = Snapshot::new(vec![b.build()]);
        snapshot.warnings = warnings;
        if !records.is_empty() {
            snapshot.resource_logs = vec![self.logs(records)];
        }
        match first_error {
            Some(e) if !read_any => Err(e
                .receiver_error(format!("no audit event could be read: {e}"))
                .with_partial(snapshot)),
            _ => Ok(snapshot),
        }
    }

    fn logs(&self, log_records: Vec<LogRecord>) -> ResourceLogs {
        ResourceLogs {
            resource: Some(self.cluster.resource()),
            scope_logs: vec![ScopeLogs {
                scope: Some(pipeline::scope(
                    "ecs-otel-agent/receiver/ecs",
                    env!("CARGO_PKG_VERSION"),
                )),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }

    /// The namespaces to read: the configured ones, or every listed one; plus those read
    /// before and no longer listed (deleted), for a last read of their final events.
    async fn namespaces(
        &self,
        deadline: Instant,
        warnings: &mut Vec<String>,
    ) -> (Targets, Option<ClientError>) {
        let configured = &self.cluster.cfg.collectors.audit.namespaces;
        let mut error = None;
        let listed = if configured.is_empty() {
            let mut names = Vec::new();
            match self
                .cluster
                .each_namespace(deadline, |n| {
                    names.extend(crate::cluster::namespace_name(n).map(str::to_owned))
                })
                .await
            {
                Ok(()) => names,
                Err(e) => {
                    warnings.push(format!("{e}; reading the namespaces known from before"));
                    error = Some(e);
                    lock(&self.inner).state.namespaces.keys().cloned().collect()
                }
            }
        } else {
            configured.clone()
        };
        let mut all: BTreeSet<String> = listed.iter().cloned().collect();
        all.extend(lock(&self.inner).state.namespaces.keys().cloned());
        (
            Targets {
                listed,
                all: all.into_iter().collect(),
            },
            error,
        )
    }

    /// Every namespace's window, read concurrently (the client bounds calls in flight).
    async fn read_events(
        &self,
        targets: &Targets,
        now: i64,
        deadline: Instant,
    ) -> Vec<Read<Event>> {
        let s = &self.cluster.cfg.collectors.audit;
        let overlap = i64::try_from(s.overlap.as_secs()).unwrap_or(300);
        let catch_up = i64::try_from(s.max_catch_up.as_secs()).unwrap_or(86_400);
        let mut plans: Vec<(Option<i64>, String, i64, i64)> = {
            let inner = lock(&self.inner);
            targets
                .all
                .iter()
                .map(|ns| {
                    let until = inner.state.namespaces.get(ns).map(|c| c.until);
                    let (start, gap) = window(until, inner.state.origin, now, overlap, catch_up);
                    (until, ns.clone(), start, gap)
                })
                .collect()
        };
        // The longest unread first (never read, then the oldest end of a complete read):
        // on a cluster too slow to read every namespace in one cycle, the ones the
        // deadline cut off come first next time instead of being cut off again (the
        // client's semaphore lets calls in about in the order they ask).
        plans.sort_by_key(|(until, _, _, _)| *until);
        let mut tasks = tokio::task::JoinSet::new();
        for (_, ns, start, gap) in plans {
            let cluster = self.cluster.clone();
            let limit = s.page_size;
            tasks.spawn(async move {
                let base = format!(
                    "/vdc/events?namespace={}&start_time={}&end_time={}&limit={limit}",
                    crate::percent(&ns),
                    crate::percent(&minute(start)),
                    crate::percent(&minute(now)),
                );
                let (page, error) =
                    pages(&cluster, "/vdc/events", &base, deadline, Event::page).await;
                Read {
                    namespace: ns,
                    start,
                    gap,
                    page,
                    error,
                }
            });
        }
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next().await {
            if let Ok(r) = r {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        out
    }

    async fn read_alerts(&self, now: i64, deadline: Instant) -> Read<Alert> {
        let s = &self.cluster.cfg.collectors.audit;
        let overlap = i64::try_from(s.overlap.as_secs()).unwrap_or(300);
        let catch_up = i64::try_from(s.max_catch_up.as_secs()).unwrap_or(86_400);
        let (start, gap) = {
            let inner = lock(&self.inner);
            window(
                inner.state.alerts.as_ref().map(|c| c.until),
                inner.state.origin,
                now,
                overlap,
                catch_up,
            )
        };
        let base = format!(
            "/vdc/alerts?start_time={}&end_time={}&limit=1000",
            crate::percent(&minute(start)),
            crate::percent(&minute(now)),
        );
        let (page, error) = pages(&self.cluster, "/vdc/alerts", &base, deadline, Alert::page).await;
        Read {
            namespace: String::new(),
            start,
            gap,
            page,
            error,
        }
    }
}

struct Targets {
    listed: Vec<String>,
    all: Vec<String>,
}

/// Where a window starts, and the seconds before it that will never be read.
fn window(until: Option<i64>, origin: i64, now: i64, overlap: i64, catch_up: i64) -> (i64, i64) {
    let floor = now - catch_up;
    match until {
        Some(u) if u - overlap < floor => (floor, (floor - u).max(0)),
        Some(u) => (u - overlap, 0),
        None => (origin.max(floor).min(now), 0),
    }
}

/// Every page of a listing; what was read before an error is kept.
async fn pages<T>(
    cluster: &Cluster,
    route: &'static str,
    base: &str,
    deadline: Instant,
    parse: fn(&serde_json::Value, Option<&str>) -> Page<T>,
) -> (Page<T>, Option<ClientError>) {
    let mut all = Page::default();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let path = match &marker {
            Some(m) => format!("{base}&marker={}", crate::percent(m)),
            None => base.to_owned(),
        };
        let v = match cluster
            .client
            .json(Call::get(route, path).until(deadline))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                all.next = marker;
                return (all, Some(e));
            }
        };
        let page = parse(&v, marker.as_deref());
        all.items.extend(page.items);
        all.skipped += page.skipped;
        match page.next {
            Some(n) => marker = Some(n),
            None => return (all, None),
        }
    }
    all.next = marker;
    (all, None)
}

impl Inner {
    fn apply_events(
        &mut self,
        r: Read<Event>,
        (now, overlap): (i64, i64),
        listed: &BTreeSet<&str>,
        observed: u64,
        records: &mut Vec<LogRecord>,
        warnings: &mut Vec<String>,
    ) {
        // A namespace never read whole starts its next window where this one started.
        let cursor = self
            .state
            .namespaces
            .entry(r.namespace.clone())
            .or_insert_with(|| Cursor::new(r.start + overlap));
        let mut events = r.page.items;
        events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        for e in events {
            if !cursor.first_time(&e.id, e.time) {
                continue;
            }
            let op = privileged::operation(&e.service_type, &e.event_type, &e.description);
            *self
                .events
                .entry((
                    r.namespace.clone(),
                    e.service_type.clone(),
                    e.event_type.clone(),
                ))
                .or_insert(0) += 1;
            if let Some(op) = op {
                *self
                    .privileged
                    .entry((r.namespace.clone(), op))
                    .or_insert(0) += 1;
            }
            records.push(records::event(&e, op, observed));
        }
        if r.page.skipped > 0 {
            warnings.push(format!(
                "/vdc/events namespace {}: {} events without an id or a time skipped",
                r.namespace, r.page.skipped
            ));
        }
        match (&r.error, r.page.next.is_some()) {
            (Some(e), _) => warnings.push(format!(
                "/vdc/events namespace {}: {e}; what was read is kept, the rest is read next cycle",
                r.namespace
            )),
            (None, true) => warnings.push(format!(
                "/vdc/events namespace {}: more than {MAX_PAGES} pages; the rest is read next cycle",
                r.namespace
            )),
            (None, false) => {
                cursor.advance(now, overlap);
                self.cycle_gap = self.cycle_gap.max(r.gap);
                if !listed.contains(r.namespace.as_str()) {
                    self.state.namespaces.remove(&r.namespace);
                }
            }
        }
    }
}

impl Inner {
    fn apply_alerts(
        &mut self,
        r: Read<Alert>,
        (now, overlap): (i64, i64),
        observed: u64,
        records: &mut Vec<LogRecord>,
        warnings: &mut Vec<String>,
    ) {
        let cursor = self
            .state
            .alerts
            .get_or_insert_with(|| Cursor::new(r.start + overlap));
        let mut alerts = r.page.items;
        alerts.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        for a in alerts {
            // The window reaches back by the overlap; an alert older than the first
            // window was raised before the agent looked.
            if a.time < r.start || !cursor.first_time(&a.id, a.time) {
                continue;
            }
            *self
                .alerts
                .entry(a.severity.to_ascii_lowercase())
                .or_insert(0) += 1;
            records.push(records::alert(&a, observed));
        }
        if r.page.skipped > 0 {
            warnings.push(format!(
                "/vdc/alerts: {} alerts without an id or a time skipped",
                r.page.skipped
            ));
        }
        match &r.error {
            Some(e) => warnings.push(format!(
                "{e}; the alerts read are kept, the rest is read next cycle"
            )),
            None if r.page.next.is_some() => warnings.push(format!(
                "/vdc/alerts: more than {MAX_PAGES} pages; the rest is read next cycle"
            )),
            None => {
                cursor.advance(now, overlap);
                self.cycle_gap = self.cycle_gap.max(r.gap);
            }
        }
    }

    fn emit(&self, b: &mut SnapshotBuilder, start: SystemTime, now: i64) {
        for ((ns, st, et), n) in &self.events {
            catalog::EVENTS.record(b, *n, start, [ns.as_str(), st.as_str(), et.as_str()]);
        }
        for ((ns, op), n) in &self.privileged {
            catalog::PRIVILEGED.record(b, *n, start, [ns.as_str(), *op]);
        }
        for (sev, n) in &self.alerts {
            catalog::ALERTS_RAISED.record(b, *n, start, [sev.as_str()]);
        }
        if let Some(oldest) = self.state.oldest() {
            catalog::LAG.record(b, (now - oldest).max(0) as f64, ());
        }
        catalog::GAP.record(b, self.gap_secs, start, ());
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn a_window_starts_an_overlap_before_the_last_read_and_reports_what_is_too_old() {
        // Read up to 10_000: the next window starts 300 s before.
        assert_eq!(window(Some(10_000), 0, 10_600, 300, 86_400), (9_700, 0));
        // Stopped two days: one day is read, the rest is a gap.
        assert_eq!(
            window(Some(10_000), 0, 10_000 + 2 * 86_400, 300, 86_400),
            (10_000 + 86_400, 86_400)
        );
        // A namespace never read starts at the origin.
        assert_eq!(window(None, 5_000, 10_000, 300, 86_400), (5_000, 0));
    }
}
