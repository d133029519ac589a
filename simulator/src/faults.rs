//! Fault injection, set in the configuration and changed at run time through the admin
//! endpoint: latency, errors (rate, status, ECS code), requests that never answer,
//! malformed bodies, missing or "N/A" fields, nodes down, the token limit reached,
//! directory tables not ready, replication lag, Flux answers reordered, empty or limited
//! to another range. And the request log with counters per endpoint, so tests and
//! benchmarks can count the calls the agent made.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::system::Overrides;

/// One rule, applied to the requests whose path matches `path` (`*` matches anything,
/// e.g. `/object/billing/*`; node ports are `node:9101` and `node:ping`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    pub path: String,
    /// Only this method (GET, POST) when set.
    pub method: Option<String>,
    /// Added before answering.
    pub latency_ms: u64,
    /// Fraction of matching requests answered with an error (spread evenly, not random,
    /// so that a test sees the same sequence every run).
    pub error_rate: f64,
    /// Status of injected errors (default 500).
    pub status: Option<u16>,
    /// ECS error code of injected errors (default 6000, service unavailable).
    pub code: Option<u32>,
    /// Never answer: the connection stays open until the client gives up.
    pub timeout: bool,
    /// Answer 200 with a body cut in half.
    pub malformed: bool,
    /// Fields removed from the answer (any depth).
    pub missing_fields: Vec<String>,
    /// Fields whose value becomes "N/A" (any depth).
    pub na_fields: Vec<String>,
    /// Apply to the next N matching requests only.
    pub times: Option<u64>,
}

/// All faults: the rules and the cluster-wide states.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    pub rules: Vec<FaultRule>,
    /// Node indices whose ports refuse connections and that show as bad.
    pub nodes_down: Vec<usize>,
    /// Every login is refused as if the user held 100 tokens.
    pub token_limit_reached: bool,
    /// (node index, unready directory tables).
    pub dt_unready: Vec<(usize, u64)>,
    /// (node index, directory tables in an unknown state).
    pub dt_unknown: Vec<(usize, u64)>,
    /// Node indices in maintenance mode: `?ping` says MAINTENANCE_MODE ON and the
    /// dashboard counts them in `numMaintenanceNodes`.
    pub maintenance: Vec<usize>,
    /// Seconds added to every replicated RG's lag.
    pub extra_rpo_lag_secs: i64,
    /// `/object/namespaces` lists each namespace with only `id`, `name` and `link`, as
    /// older releases do: quotas come only from `/object/namespaces/namespace/{ns}/quota`.
    pub minimal_namespace_list: bool,
    /// Every Flux answer lists its columns (and each row's cells) in yet another order.
    pub flux_reorder_columns: bool,
    /// Every Flux query gets the empty answer.
    pub flux_empty: bool,
    /// The longest Flux range served, in seconds (default 3600: one hour).
    pub flux_max_range_secs: Option<i64>,
}

/// What a rule asks of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effect {
    pub latency_ms: u64,
    pub timeout: bool,
    pub error: Option<(u16, u32)>,
    pub malformed: bool,
    pub missing_fields: Vec<String>,
    pub na_fields: Vec<String>,
}

fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            let Some(pos) = rest.find(p) else {
                return false;
            };
            rest = &rest[pos + p.len()..];
        }
    }
    true
}

#[derive(Debug)]
struct Active {
    rule: FaultRule,
    seen: u64,
    applied: u64,
}

#[derive(Debug, Default)]
struct State {
    config: FaultConfig,
    active: Vec<Active>,
}

#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let f = Self::default();
        f.set(config);
        f
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, config: FaultConfig) {
        let mut st = self.lock();
        st.active = config
            .rules
            .iter()
            .cloned()
            .map(|rule| Active {
                rule,
                seen: 0,
                applied: 0,
            })
            .collect();
        st.config = config;
    }

    pub fn get(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    /// Applies `f` to the configuration (e.g. add a rule, take a node down).
    pub fn update(&self, f: impl FnOnce(&mut FaultConfig)) {
        let mut cfg = self.get();
        f(&mut cfg);
        self.set(cfg);
    }

    pub fn overrides(&self) -> Overrides {
        let st = self.lock();
        Overrides {
            nodes_down: st
                .config
                .nodes_down
                .iter()
                .copied()
                .collect::<BTreeSet<_>>(),
            dt_unready: st.config.dt_unready.clone(),
            dt_unknown: st.config.dt_unknown.clone(),
            maintenance: st.config.maintenance.iter().copied().collect(),
            extra_rpo_lag: st.config.extra_rpo_lag_secs,
        }
    }

    pub fn token_limit_reached(&self) -> bool {
        self.lock().config.token_limit_reached
    }

    pub fn node_down(&self, node: usize) -> bool {
        self.lock().config.nodes_down.contains(&node)
    }

    /// The combined effect of every rule matching this request.
    pub fn effect(&self, method: &str, path: &str) -> Effect {
        let mut st = self.lock();
        let mut e = Effect::default();
        for a in st.active.iter_mut() {
            let r = &a.rule;
            if !glob(&r.path, path)
                || r.method
                    .as_deref()
                    .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            if r.times.is_some_and(|n| a.applied >= n) {
                continue;
            }
            a.seen += 1;
            a.applied += 1;
            e.latency_ms += r.latency_ms;
            e.timeout |= r.timeout;
            e.malformed |= r.malformed;
            e.missing_fields.extend(r.missing_fields.iter().cloned());
            e.na_fields.extend(r.na_fields.iter().cloned());
            if r.error_rate > 0.0 {
                let before = ((a.seen - 1) as f64 * r.error_rate).floor();
                let now = (a.seen as f64 * r.error_rate).floor();
                if now > before {
                    e.error = Some((r.status.unwrap_or(500), r.code.unwrap_or(6000)));
                }
            }
        }
        e
    }
}

/// One request as the log keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Logged {
    pub at_ms: i64,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: u16,
    pub millis: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RouteStats {
    pub calls: u64,
    pub by_status: BTreeMap<u16, u64>,
}

#[derive(Debug, Default)]
struct LogState {
    recent: VecDeque<Logged>,
    routes: BTreeMap<String, RouteStats>,
    total: u64,
}

/// Counters per endpoint (`GET /object/billing/namespace/{namespace}/info`) and the last
/// requests.
#[derive(Debug, Default)]
pub struct RequestLog {
    state: Mutex<LogState>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// A management request being answered; counted in flight until dropped (also when the
/// client hangs up and the answer is abandoned).
#[derive(Debug)]
pub struct InFlight<'a>(&'a RequestLog);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

const KEEP: usize = 2000;

impl RequestLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, entry: Logged) {
        let mut st = self.lock();
        st.total += 1;
        let r = st
            .routes
            .entry(format!("{} {}", entry.method, entry.route))
            .or_default();
        r.calls += 1;
        *r.by_status.entry(entry.status).or_insert(0) += 1;
        if st.recent.len() >= KEEP {
            st.recent.pop_front();
        }
        st.recent.push_back(entry);
    }

    /// Calls per `METHOD route`.
    pub fn routes(&self) -> BTreeMap<String, RouteStats> {
        self.lock().routes.clone()
    }

    /// Calls of one `METHOD route` (0 if never called).
    pub fn calls(&self, method_route: &str) -> u64 {
        self.lock().routes.get(method_route).map_or(0, |r| r.calls)
    }

    /// Calls whose `METHOD route` starts with `prefix`.
    pub fn calls_matching(&self, prefix: &str) -> u64 {
        self.lock()
            .routes
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, r)| r.calls)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.lock().total
    }

    pub fn recent(&self, limit: usize) -> Vec<Logged> {
        let st = self.lock();
        st.recent.iter().rev().take(limit).cloned().collect()
    }

    pub fn reset(&self) {
        *self.lock() = LogState::default();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Marks a management request in flight until the guard is dropped.
    pub fn begin(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    /// Management requests being answered now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The most management requests answered at once since the start (or the last reset):
    /// how a test sees the agent's in-flight limit from the server's side.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(
            "/object/billing/*",
            "/object/billing/namespace/ns1/info"
        ));
        assert!(glob("*/info", "/object/billing/namespace/ns1/info"));
        assert!(glob("/object/*/ns1/*", "/object/billing/ns1/info"));
        assert!(!glob("/object/billing/*", "/object/bucket"));
        assert!(glob("/login", "/login"));
    }

    #[test]
    fn error_rates_are_evenly_spread_and_times_limit_a_rule() {
        let f = Faults::new(FaultConfig {
            rules: vec![FaultRule {
                path: "/vdc/*".into(),
                error_rate: 0.25,
                ..Default::default()
            }],
            ..Default::default()
        });
        let errors = (0..100)
            .filter(|_| f.effect("GET", "/vdc/nodes").error.is_some())
            .count();
        assert_eq!(errors, 25);
        let f = Faults::new(FaultConfig {
            rules: vec![FaultRule {
                path: "/login".into(),
                error_rate: 1.0,
                status: Some(401),
                times: Some(1),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(f.effect("GET", "/login").error, Some((401, 6000)));
        assert_eq!(f.effect("GET", "/login").error, None);
    }
}
