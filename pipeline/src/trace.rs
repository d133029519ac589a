//! Span helpers. Each collection cycle is a trace: the scheduler opens a root span per
//! receiver run, and receivers open a client span per outbound call with these helpers,
//! which follow the OpenTelemetry HTTP client semantic conventions ([`SEMCONV_SCHEMA_URL`]).
//! The metrics' histograms take their exemplars from the span being recorded in
//! ([`current_ids`]), through a hook the agent installs with its tracer.

use std::sync::OnceLock;
use std::time::SystemTime;

use tracing::Span;
use tracing::field::Empty;

/// The version of the OpenTelemetry semantic conventions the spans follow (`url.template`,
/// `http.request.method`, `http.response.status_code`, `server.*`, `error.type`): the
/// schema URL of their resource and scope.
pub const SEMCONV_SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.26.0";

/// The trace and span id of one recorded observation, with its value and time: an exemplar
/// of the histogram bucket the value fell in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub value: f64,
    pub time: SystemTime,
}

/// Where the ids of the current span come from: `None` outside a recorded (sampled) span.
pub type IdSource = fn() -> Option<([u8; 16], [u8; 8])>;

static IDS: OnceLock<IdSource> = OnceLock::new();

/// Installs the source of [`current_ids`] (once per process: the agent's tracer).
pub fn set_id_source(source: IdSource) {
    let _ = IDS.set(source);
}

/// The trace and span id of the current span, when spans are exported and it is recorded.
pub fn current_ids() -> Option<([u8; 16], [u8; 8])> {
    IDS.get().and_then(|f| f())
}

/// The client span's name: `{method} {url.template}`.
pub fn client_span_name(method: &str, template: &str) -> String {
    format!("{method} {template}")
}

/// A client span for one outbound HTTP call to `url`, whose low-cardinality form is
/// `template` (`/vdc/admin/authnproviders/{id}`): the span is named after it. Credentials in
/// the URL are redacted.
pub fn http_client_span(method: &str, template: &str, url: &str) -> Span {
    let uri: Option<http::Uri> = url.parse().ok();
    let host = uri
        .as_ref()
        .and_then(|u| u.host())
        .unwrap_or_default()
        .to_owned();
    let port = uri
        .as_ref()
        .and_then(|u| {
            u.port_u16().or(match u.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            })
        })
        .unwrap_or(0);
    tracing::info_span!(
        target: "ecs_otel_agent::http",
        "http.client",
        otel.name = %client_span_name(method, template),
        otel.kind = "client",
        otel.status_code = Empty,
        otel.status_message = Empty,
        http.request.method = %method,
        url.template = %template,
        url.full = %redact_url(url),
        server.address = %host,
        // i64: tracing-opentelemetry turns unsigned fields into strings.
        server.port = i64::from(port),
        http.response.status_code = Empty,
        error.type = Empty,
    )
}

/// Records the response status; 4xx and 5xx mark the span as an error.
pub fn record_status(span: &Span, status: u16) {
    span.record("http.response.status_code", i64::from(status));
    if status >= 400 {
        span.record("error.type", status.to_string());
        span.record("otel.status_code", "ERROR");
    }
}

/// Records a failure without a response (timeout, refused, TLS, malformed body).
pub fn record_error(span: &Span, error_type: &str, message: &str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_message", message);
}

/// Replaces user and password in a URL, as the semantic conventions ask.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://REDACTED:REDACTED@{host}{tail}");
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_spans_are_named_after_the_route_template() {
        assert_eq!(
            client_span_name("GET", "/vdc/admin/authnproviders/{id}"),
            "GET /vdc/admin/authnproviders/{id}"
        );
    }

    #[test]
    fn no_ids_without_a_source() {
        // No test of this crate installs a source.
        assert_eq!(current_ids(), None);
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_url("https://admin:secret@ecs:4443/login"),
            "https://REDACTED:REDACTED@ecs:4443/login"
        );
        assert_eq!(redact_url("https://ecs:4443/a@b"), "https://ecs:4443/a@b");
    }
}
