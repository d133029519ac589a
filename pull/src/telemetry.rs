//! A pull client's own telemetry: a client span per exchange, and per receiver kind the
//! calls by endpoint and status, their durations, the logins by outcome and the open
//! circuits, emitted as `ecs_otel_agent.<kind>.requests`, `….request.duration`,
//! `….logins` and `….circuit.open`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub use pipeline::MetricDesc;
use pipeline::stats::{DURATION_BOUNDS, DurationHistogram};
use pipeline::trace::Exemplar;
use pipeline::{HistogramValue, SnapshotBuilder, kv};
use tracing::Span;

/// The four client metrics of one receiver kind. Made with [`client_metrics!`] so that a
/// receiver's catalog can hold them as constants.
///
/// [`client_metrics!`]: crate::client_metrics
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientMetrics<'a> {
    /// Counter by `endpoint` and `status` (an HTTP status, `timeout` or `error`).
    pub requests: MetricDesc<'a>,
    /// Histogram by `endpoint`, in seconds.
    pub duration: MetricDesc<'a>,
    /// Counter by `outcome`.
    pub logins: MetricDesc<'a>,
    /// Gauge by `endpoint`: 1 while its breaker refuses calls.
    pub circuit: MetricDesc<'a>,
}

/// The [`ClientMetrics`] of a receiver kind: `client_metrics!("http")` names them
/// `ecs_otel_agent.http.requests` and so on, with general descriptions; a receiver may give
/// its own descriptions (`requests: "…", duration: "…", logins: "…", circuit: "…"`).
#[macro_export]
macro_rules! client_metrics {
    ($kind:literal) => {
        $crate::client_metrics!(
            $kind,
            requests: "Calls by endpoint and status (or timeout, error)",
            duration: "Duration of calls by endpoint",
            logins: "Logins by outcome",
            circuit: "1 while the endpoint's circuit breaker refuses calls",
        )
    };
    ($kind:literal, requests: $r:literal, duration: $d:literal, logins: $l:literal, circuit: $c:literal $(,)?) => {
        $crate::telemetry::ClientMetrics {
            requests: $crate::telemetry::MetricDesc::new(
                concat!("ecs_otel_agent.", $kind, ".requests"),
                "{request}",
                $r,
            ),
            duration: $crate::telemetry::MetricDesc::new(
                concat!("ecs_otel_agent.", $kind, ".request.duration"),
                "s",
                $d,
            ),
            logins: $crate::telemetry::MetricDesc::new(
                concat!("ecs_otel_agent.", $kind, ".logins"),
                "{login}",
                $l,
            ),
            circuit: $crate::telemetry::MetricDesc::new(
                concat!("ecs_otel_agent.", $kind, ".circuit.open"),
                "",
                $c,
            ),
        }
    };
}

#[derive(Debug, Default)]
struct RouteStats {
    by_status: BTreeMap<String, u64>,
    duration: DurationHistogram,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The figures of one client, counted as it goes.
#[derive(Debug)]
pub struct RequestStats {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    logins: Mutex<BTreeMap<String, u64>>,
    /// The start of every counter.
    pub started: SystemTime,
}

impl Default for RequestStats {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestStats {
    pub fn new() -> Self {
        Self {
            routes: Mutex::new(BTreeMap::new()),
            logins: Mutex::new(BTreeMap::new()),
            started: SystemTime::now(),
        }
    }

    /// One call to `route`: its outcome (an HTTP status, `timeout`, `error`) and duration.
    pub fn count(&self, route: &str, outcome: &str, took: Duration) {
        let mut routes = lock(&self.routes);
        let r = routes.entry(route.to_owned()).or_default();
        *r.by_status.entry(outcome.to_owned()).or_insert(0) += 1;
        r.duration.record(took);
    }

    pub fn count_login(&self, outcome: &str) {
        *lock(&self.logins).entry(outcome.to_owned()).or_insert(0) += 1;
    }

    /// A copy of the figures; `open_circuits` from the client's breakers.
    pub fn snapshot(&self, open_circuits: Vec<String>) -> ClientStats {
        let mut s = ClientStats::default();
        for (route, r) in lock(&self.routes).iter() {
            for (status, n) in &r.by_status {
                s.requests.insert((route.clone(), status.clone()), *n);
            }
            let h = r.duration.snapshot();
            if !h.exemplars.is_empty() {
                s.exemplars.insert(route.clone(), h.exemplars);
            }
            s.durations.insert(route.clone(), (h.counts, h.sum));
        }
        s.logins = lock(&self.logins).clone();
        s.open_circuits = open_circuits;
        s
    }
}

/// A copy of a client's figures.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    /// (route, status or error kind) → calls.
    pub requests: BTreeMap<(String, String), u64>,
    /// route → (bucket counts, sum of seconds).
    pub durations: BTreeMap<String, (Vec<u64>, f64)>,
    /// route → the latest call per bucket made inside a recorded span.
    pub exemplars: BTreeMap<String, Vec<Exemplar>>,
    /// outcome → logins.
    pub logins: BTreeMap<String, u64>,
    /// routes whose breaker is open.
    pub open_circuits: Vec<String>,
}

impl ClientStats {
    /// The figures as `metrics`' series, counters from `start`. Every route called has a
    /// circuit gauge (0 or 1).
    pub fn emit(&self, metrics: &ClientMetrics<'_>, start: SystemTime, b: &mut SnapshotBuilder) {
        for ((route, status), n) in &self.requests {
            b.counter(
                &metrics.requests,
                *n,
                start,
                [
                    kv("endpoint", route.as_str()),
                    kv("status", status.as_str()),
                ],
            );
        }
        for (route, (counts, sum)) in &self.durations {
            b.histogram_with_exemplars(
                &metrics.duration,
                &HistogramValue {
                    bounds: &DURATION_BOUNDS,
                    counts,
                    sum: *sum,
                    min: None,
                    max: None,
                },
                self.exemplars.get(route).map_or(&[], Vec::as_slice),
                start,
                [kv("endpoint", route.as_str())],
            );
        }
        for (outcome, n) in &self.logins {
            b.counter(
                &metrics.logins,
                *n,
                start,
                [kv("outcome", outcome.as_str())],
            );
        }
        for route in self
            .requests
            .keys()
            .map(|(r, _)| r)
            .collect::<BTreeSet<_>>()
        {
            let open = self.open_circuits.iter().any(|o| o == route);
            b.gauge(
                &metrics.circuit,
                i64::from(open),
                [kv("endpoint", route.as_str())],
            );
        }
    }
}

/// The client span of one exchange, named `{method} {template}` after the route it is
/// counted under (`GET /vdc/admin/authnproviders/{id}`). With `redact_query`, the query's
/// values (but `Action`'s) stay out of it: they may name private things (key ids).
pub fn client_span(method: &str, template: &str, url: &str, redact_query: bool) -> Span {
    if redact_query {
        pipeline::trace::http_client_span(method, &redact(template), &redact(url))
    } else {
        pipeline::trace::http_client_span(method, template, url)
    }
}

pub use pipeline::trace::{record_error, record_status};

/// `…?Action=GetAccessKeyLastUsed&AccessKeyId=AKIA…` → `…&AccessKeyId=REDACTED`.
pub fn redact(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let q: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("Action", _)) => kv.to_owned(),
            Some((k, _)) => format!("{k}=REDACTED"),
            None => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", q.join("&"))
}

/// An error and its sources, each once: `error sending request: connection refused`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::otlp::metrics::v1::metric::Data;

    const HTTP: ClientMetrics<'static> = crate::client_metrics!("http");

    #[test]
    fn the_names_carry_the_receiver_kind() {
        assert_eq!(HTTP.requests.name, "ecs_otel_agent.http.requests");
        assert_eq!(HTTP.duration.name, "ecs_otel_agent.http.request.duration");
        assert_eq!(HTTP.logins.name, "ecs_otel_agent.http.logins");
        assert_eq!(HTTP.circuit.name, "ecs_otel_agent.http.circuit.open");
        assert_eq!((HTTP.requests.unit, HTTP.duration.unit), ("{request}", "s"));
        let own =
            crate::client_metrics!("x", requests: "r", duration: "d", logins: "l", circuit: "c");
        assert_eq!(
            (own.requests.name, own.requests.description),
            ("ecs_otel_agent.x.requests", "r")
        );
    }

    #[test]
    fn figures_become_series_with_a_circuit_gauge_per_route() {
        let stats = RequestStats::new();
        stats.count("/a", "200", Duration::from_millis(20));
        stats.count("/a", "timeout", Duration::from_secs(1));
        stats.count("/b", "503", Duration::from_millis(3));
        stats.count_login("success");
        let s = stats.snapshot(vec!["/b".into()]);
        assert_eq!(s.requests[&("/a".into(), "200".into())], 1);
        assert_eq!(s.durations["/a"].0.iter().sum::<u64>(), 2);

        let mut b = SnapshotBuilder::new(
            pipeline::resource(vec![]),
            pipeline::scope("test", "0"),
            SystemTime::now(),
        );
        s.emit(&HTTP, stats.started, &mut b);
        let rm = b.build().to_otlp();
        let metrics = &rm.scope_metrics[0].metrics;
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ecs_otel_agent.http.requests",
                "ecs_otel_agent.http.request.duration",
                "ecs_otel_agent.http.logins",
                "ecs_otel_agent.http.circuit.open"
            ]
        );
        let Some(Data::Gauge(g)) = &metrics[3].data else {
            panic!("a gauge")
        };
        let open: Vec<(String, i64)> = g
            .data_points
            .iter()
            .map(|p| {
                let route = format!("{:?}", p.attributes[0].value);
                let v = match p.value {
                    Some(pipeline::otlp::metrics::v1::number_data_point::Value::AsInt(i)) => i,
                    _ => -1,
                };
                (route, v)
            })
            .collect();
        assert_eq!(open.len(), 2);
        assert!(open[0].0.contains("/a") && open[0].1 == 0, "{open:?}");
        assert!(open[1].0.contains("/b") && open[1].1 == 1, "{open:?}");
    }

    #[test]
    fn query_values_but_the_action_are_redacted() {
        assert_eq!(
            redact("https://ecs:4443/iam?Action=GetAccessKeyLastUsed&AccessKeyId=AKIA123"),
            "https://ecs:4443/iam?Action=GetAccessKeyLastUsed&AccessKeyId=REDACTED"
        );
        assert_eq!(
            redact("https://ecs:4443/vdc/nodes"),
            "https://ecs:4443/vdc/nodes"
        );
    }
}
