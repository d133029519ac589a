//! Which gRPC failures are worth retrying, per the OTLP specification, how long to wait
//! before the next try, and the loop that sends one request (metrics, logs or spans) until
//! it gets through or retrying is no longer worth it.

use std::future::Future;
use std::time::Duration;

use pipeline::ExportError;
use pipeline::otlp::collector::logs::v1::ExportLogsPartialSuccess;
use pipeline::otlp::collector::metrics::v1::ExportMetricsPartialSuccess;
use pipeline::otlp::collector::trace::v1::ExportTracePartialSuccess;
use pipeline::stats::ExporterStats;
use prost::Message;
use tokio::time::Instant;
use tonic::Code;

use crate::config::RetryConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Retry, after the server's `RetryInfo` delay if it gave one.
    Retry(Option<Duration>),
    /// Do not retry: the data would be refused again.
    Drop,
}

/// The OTLP/gRPC spec: these codes are retryable; RESOURCE_EXHAUSTED only when the server
/// says when to come back (RetryInfo); everything else is permanent.
pub fn classify(status: &tonic::Status) -> Verdict {
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Verdict::Retry(retry_delay(status.details())),
        Code::ResourceExhausted => match retry_delay(status.details()) {
            Some(d) => Verdict::Retry(Some(d)),
            None => Verdict::Drop,
        },
        _ => Verdict::Drop,
    }
}

// google.rpc.Status, google.protobuf.Any, google.rpc.RetryInfo and google.protobuf.Duration:
// the four messages needed to read a RetryInfo from `grpc-status-details-bin`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The delay of a RetryInfo among the status details, if any.
pub fn retry_delay(details: &[u8]) -> Option<Duration> {
    if details.is_empty() {
        return None;
    }
    let status = RpcStatus::decode(details).ok()?;
    status
        .details
        .iter()
        .filter(|a| a.type_url == RETRY_INFO_TYPE)
        .find_map(|a| RetryInfo::decode(a.value.as_slice()).ok())
        .and_then(|ri| ri.retry_delay)
        .map(|d| {
            Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0))
                + Duration::from_nanos(u64::try_from(d.nanos).unwrap_or(0))
        })
}

/// Exponential backoff with jitter, as the Collector's exporterhelper does it.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cfg: RetryConfig,
}

impl Backoff {
    pub fn new(cfg: &RetryConfig) -> Self {
        Self {
            next: cfg.initial_interval,
            cfg: cfg.clone(),
        }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let base = self.next.as_secs_f64();
        let spread = base * self.cfg.randomization_factor;
        let wait = base - spread + fastrand::f64() * 2.0 * spread;
        self.next = Duration::from_secs_f64(
            (base * self.cfg.multiplier).min(self.cfg.max_interval.as_secs_f64()),
        );
        Duration::from_secs_f64(wait.max(0.0))
    }
}

/// A collector's partial-success answer to an accepted request: what it refused.
pub trait PartialSuccess {
    /// What the refused items are, for the log line: `points`, `log_records`.
    const ITEMS: &'static str;
    fn rejected(&self) -> i64;
    fn error_message(&self) -> &str;
    /// Counts `n` refused items under the exporter's counter for them.
    fn count(stats: &ExporterStats, n: u64);
}

impl PartialSuccess for ExportMetricsPartialSuccess {
    const ITEMS: &'static str = "points";
    fn rejected(&self) -> i64 {
        self.rejected_data_points
    }
    fn error_message(&self) -> &str {
        &self.error_message
    }
    fn count(stats: &ExporterStats, n: u64) {
        stats.record_rejected_points(n);
    }
}

impl PartialSuccess for ExportLogsPartialSuccess {
    const ITEMS: &'static str = "log_records";
    fn rejected(&self) -> i64 {
        self.rejected_log_records
    }
    fn error_message(&self) -> &str {
        &self.error_message
    }
    fn count(stats: &ExporterStats, n: u64) {
        stats.record_rejected_log_records(n);
    }
}

impl PartialSuccess for ExportTracePartialSuccess {
    const ITEMS: &'static str = "spans";
    fn rejected(&self) -> i64 {
        self.rejected_spans
    }
    fn error_message(&self) -> &str {
        &self.error_message
    }
    fn count(stats: &ExporterStats, n: u64) {
        stats.record_dropped_spans("rejected", n);
    }
}

/// Where [`retry_loop`] counts what happens to a request. Metrics and logs count against the
/// exporter's batch counters (and its health); spans have counters of their own, so that
/// the agent's traces never make its metrics look failing.
pub trait Tally {
    /// A transient failure; the request is tried again.
    fn retried(&self, error: String);
    /// The destination accepted the request.
    fn accepted(&self);
    /// Where the items the destination refused are counted ([`PartialSuccess::count`]).
    fn exporter(&self) -> &ExporterStats;
}

impl Tally for ExporterStats {
    fn retried(&self, error: String) {
        self.record_retry(error);
    }
    fn accepted(&self) {
        self.record_request();
    }
    fn exporter(&self) -> &ExporterStats {
        self
    }
}

/// Where a request goes, for the log lines and error messages of [`retry_loop`].
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The exporter's component id.
    pub exporter: &'a str,
    pub endpoint: &'a str,
}

/// Makes attempts until one is accepted, the failure is permanent, or the next wait would
/// take the request past `max_elapsed_time` (0: no limit, as in the Collector). Each
/// attempt yields the collector's partial-success answer, if any, or the gRPC status.
pub async fn retry_loop<F, Fut, P>(
    to: Destination<'_>,
    retry: &RetryConfig,
    stats: &(impl Tally + ?Sized),
    mut attempt: F,
) -> Result<(), ExportError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<P>, tonic::Status>>,
    P: PartialSuccess,
{
    let started = Instant::now();
    let mut backoff = Backoff::new(retry);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let status = match attempt().await {
            Ok(partial) => {
                if let Some(ps) = partial
                    && (ps.rejected() > 0 || !ps.error_message().is_empty())
                {
                    tracing::warn!(exporter = %to.exporter, rejected = ps.rejected(), items = P::ITEMS, message = %ps.error_message(), "collector accepted the request only in part");
                    P::count(stats.exporter(), u64::try_from(ps.rejected()).unwrap_or(0));
                }
                if attempts > 1 {
                    tracing::info!(exporter = %to.exporter, attempts, "export succeeded after retrying");
                }
                stats.accepted();
                return Ok(());
            }
            Err(status) => status,
        };
        let what = format!(
            "export to {} failed: {:?}: {}",
            to.endpoint,
            status.code(),
            status.message()
        );
        let delay = match classify(&status) {
            Verdict::Drop => return Err(ExportError::new("permanent", what)),
            Verdict::Retry(_) if !retry.enabled => {
                return Err(ExportError::new("retry_disabled", what));
            }
            Verdict::Retry(Some(server_delay)) if !server_delay.is_zero() => server_delay,
            // A RetryInfo of 0 s taken literally would resend at once, again and again, for
            // as long as the server keeps answering so: a hot loop against a server that is
            // already short of resources. The backoff paces those retries instead.
            Verdict::Retry(_) => backoff.next_wait(),
        };
        let elapsed = started.elapsed();
        if !retry.max_elapsed_time.is_zero() && elapsed + delay > retry.max_elapsed_time {
            return Err(ExportError::new(
                "retries_exhausted",
                format!("{what} (gave up after {attempts} attempts in {elapsed:?})"),
            ));
        }
        if attempts == 1 {
            tracing::warn!(exporter = %to.exporter, error = %what, retry_in = ?delay, "export failed; retrying");
        } else {
            tracing::debug!(exporter = %to.exporter, error = %what, attempts, retry_in = ?delay, "export failed again; retrying");
        }
        stats.retried(what);
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with_retry_info(code: Code, secs: i64) -> tonic::Status {
        let ri = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: secs,
                nanos: 0,
            }),
        };
        let st = RpcStatus {
            code: code as i32,
            message: "slow down".into(),
            details: vec![Any {
                type_url: RETRY_INFO_TYPE.into(),
                value: ri.encode_to_vec(),
            }],
        };
        tonic::Status::with_details(code, "slow down", st.encode_to_vec().into())
    }

    type Reply = Result<Option<ExportMetricsPartialSuccess>, tonic::Status>;

    fn unavailable() -> Reply {
        Err(tonic::Status::new(Code::Unavailable, "down"))
    }

    /// Backoff without jitter, so that every wait is known.
    fn exact(initial: Duration, max_interval: Duration, max_elapsed: Duration) -> RetryConfig {
        RetryConfig {
            enabled: true,
            initial_interval: initial,
            max_interval,
            max_elapsed_time: max_elapsed,
            multiplier: 2.0,
            randomization_factor: 0.0,
        }
    }

    struct Outcome {
        result: Result<(), ExportError>,
        /// When each attempt was made, from the start of the loop (paused clock).
        attempts: Vec<Duration>,
        stats: std::sync::Arc<ExporterStats>,
    }

    /// Runs the loop against `script`, then `after` once the script is used up.
    async fn run(cfg: &RetryConfig, script: Vec<Reply>, after: fn() -> Reply) -> Outcome {
        let stats = pipeline::PipelineStats::new().register_exporter("otlp", 10);
        let mut replies = std::collections::VecDeque::from(script);
        let mut attempts = Vec::new();
        let t0 = Instant::now();
        let to = Destination {
            exporter: "otlp",
            endpoint: "http://collector:4317",
        };
        let result = retry_loop(to, cfg, &*stats, || {
            attempts.push(t0.elapsed());
            let reply = replies.pop_front().unwrap_or_else(after);
            async move { reply }
        })
        .await;
        Outcome {
            result,
            attempts,
            stats,
        }
    }

    fn secs(v: &[f64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs_f64(*s)).collect()
    }

    fn retry_info(code: Code, secs: i64) -> Reply {
        Err(status_with_retry_info(code, secs))
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_info_delay_is_honoured_over_a_longer_backoff() {
        let cfg = exact(
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(300),
        );
        let o = run(
            &cfg,
            vec![
                retry_info(Code::ResourceExhausted, 7),
                unavailable(),
                Ok(None),
            ],
            unavailable,
        )
        .await;
        assert!(o.result.is_ok(), "{:?}", o.result);
        // 7 s as the server asked, then the backoff's first 60 s for the plain failure.
        assert_eq!(o.attempts, secs(&[0.0, 7.0, 67.0]));
        assert_eq!(o.stats.counts().retries, 2);
        assert_eq!(o.stats.counts().sent_requests, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn resource_exhausted_without_retry_info_is_dropped_after_one_attempt() {
        let cfg = exact(
            Duration::from_secs(1),
            Duration::from_secs(30),
            Duration::from_secs(300),
        );
        let o = run(
            &cfg,
            vec![Err(tonic::Status::new(Code::ResourceExhausted, "full"))],
            || Ok(None),
        )
        .await;
        let e = o.result.unwrap_err();
        assert_eq!(e.kind, "permanent");
        assert_eq!(
            e.message,
            "export to http://collector:4317 failed: ResourceExhausted: full"
        );
        assert_eq!(o.attempts, secs(&[0.0]));
        assert_eq!(o.stats.counts().retries, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_waits_double_from_the_initial_interval() {
        let cfg = exact(
            Duration::from_millis(100),
            Duration::from_secs(10),
            Duration::from_secs(300),
        );
        let o = run(&cfg, vec![unavailable(); 4], || Ok(None)).await;
        assert!(o.result.is_ok(), "{:?}", o.result);
        // Waits of 0.1, 0.2, 0.4 and 0.8 s.
        assert_eq!(o.attempts, secs(&[0.0, 0.1, 0.3, 0.7, 1.5]));
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_waits_stop_growing_at_max_interval() {
        let cfg = exact(
            Duration::from_secs(1),
            Duration::from_secs(3),
            Duration::from_secs(300),
        );
        let o = run(&cfg, vec![unavailable(); 4], || Ok(None)).await;
        assert!(o.result.is_ok(), "{:?}", o.result);
        assert_eq!(o.attempts, secs(&[0.0, 1.0, 3.0, 6.0, 9.0]));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_next_wait_would_pass_max_elapsed_time() {
        let cfg = exact(
            Duration::from_secs(1),
            Duration::from_secs(100),
            Duration::from_secs(10),
        );
        let o = run(&cfg, vec![], unavailable).await;
        // Attempts at 0, 1, 3 and 7 s; the next wait (8 s) would end at 15 s > 10 s.
        assert_eq!(o.attempts, secs(&[0.0, 1.0, 3.0, 7.0]));
        let e = o.result.unwrap_err();
        assert_eq!(e.kind, "retries_exhausted");
        assert_eq!(
            e.message,
            "export to http://collector:4317 failed: Unavailable: down (gave up after 4 attempts in 7s)"
        );
        assert_eq!(o.stats.counts().retries, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ending_exactly_at_max_elapsed_time_is_still_made() {
        // After the attempt at 3 s the wait is 4 s: ending at 7 s is allowed with a limit of
        // 7 s, not with one a nanosecond shorter.
        let at_limit = exact(
            Duration::from_secs(1),
            Duration::from_secs(100),
            Duration::from_secs(7),
        );
        let o = run(&at_limit, vec![], unavailable).await;
        assert_eq!(o.attempts, secs(&[0.0, 1.0, 3.0, 7.0]));
        assert_eq!(o.result.unwrap_err().kind, "retries_exhausted");

        let just_under = RetryConfig {
            max_elapsed_time: Duration::from_secs(7) - Duration::from_nanos(1),
            ..at_limit
        };
        let o = run(&just_under, vec![], unavailable).await;
        assert_eq!(o.attempts, secs(&[0.0, 1.0, 3.0]));
        assert_eq!(o.result.unwrap_err().kind, "retries_exhausted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_delay_past_max_elapsed_time_gives_up_at_once() {
        let cfg = exact(
            Duration::from_secs(1),
            Duration::from_secs(30),
            Duration::from_secs(60),
        );
        let o = run(&cfg, vec![retry_info(Code::ResourceExhausted, 61)], || {
            Ok(None)
        })
        .await;
        assert_eq!(o.attempts, secs(&[0.0]));
        assert_eq!(o.result.unwrap_err().kind, "retries_exhausted");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_max_elapsed_time_retries_without_limit() {
        let cfg = exact(
            Duration::from_secs(1),
            Duration::from_secs(30),
            Duration::ZERO,
        );
        let o = run(&cfg, vec![unavailable(); 50], || Ok(None)).await;
        assert!(o.result.is_ok(), "{:?}", o.result);
        assert_eq!(o.attempts.len(), 51);
        // 1 + 2 + 4 + 8 + 16, then 45 waits at the 30 s cap.
        assert_eq!(o.attempts[50], Duration::from_secs(31 + 45 * 30));
        assert_eq!(o.stats.counts().retries, 50);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_retry_info_delay_waits_the_backoff() {
        let cfg = exact(
            Duration::from_millis(100),
            Duration::from_secs(10),
            Duration::from_secs(300),
        );
        let o = run(
            &cfg,
            vec![
                retry_info(Code::Unavailable, 0),
                retry_info(Code::ResourceExhausted, 0),
                Ok(None),
            ],
            unavailable,
        )
        .await;
        assert!(o.result.is_ok(), "{:?}", o.result);
        assert_eq!(o.attempts, secs(&[0.0, 0.1, 0.3]));
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_retries_fail_at_the_first_transient_error() {
        let cfg = RetryConfig {
            enabled: false,
            ..RetryConfig::default()
        };
        let o = run(&cfg, vec![unavailable()], || Ok(None)).await;
        assert_eq!(o.result.unwrap_err().kind, "retry_disabled");
        assert_eq!(o.attempts, secs(&[0.0]));
    }

    #[tokio::test(start_paused = true)]
    async fn points_refused_in_a_partial_success_are_counted() {
        let partial = ExportMetricsPartialSuccess {
            rejected_data_points: 3,
            error_message: "bad points".into(),
        };
        let o = run(
            &RetryConfig::default(),
            vec![Ok(Some(partial))],
            unavailable,
        )
        .await;
        assert!(o.result.is_ok(), "{:?}", o.result);
        let c = o.stats.counts();
        assert_eq!(c.rejected_points, 3);
        assert_eq!(c.sent_requests, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn log_records_refused_in_a_partial_success_are_counted_apart() {
        let stats = pipeline::PipelineStats::new().register_exporter("otlp", 10);
        let to = Destination {
            exporter: "otlp",
            endpoint: "http://collector:4317",
        };
        let result = retry_loop(to, &RetryConfig::default(), &*stats, || async {
            Ok(Some(ExportLogsPartialSuccess {
                rejected_log_records: 2,
                error_message: "bad records".into(),
            }))
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
        let c = stats.counts();
        assert_eq!((c.rejected_log_records, c.rejected_points), (2, 0));
        assert_eq!(c.sent_requests, 1);
    }

    #[test]
    fn retryable_codes_follow_the_otlp_spec() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert_eq!(
                classify(&tonic::Status::new(code, "x")),
                Verdict::Retry(None),
                "{code:?}"
            );
        }
        for code in [
            Code::Unknown,
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::FailedPrecondition,
            Code::Unimplemented,
            Code::Internal,
        ] {
            assert_eq!(
                classify(&tonic::Status::new(code, "x")),
                Verdict::Drop,
                "{code:?}"
            );
        }
    }

    #[test]
    fn resource_exhausted_is_retried_only_with_retry_info() {
        assert_eq!(
            classify(&tonic::Status::new(Code::ResourceExhausted, "full")),
            Verdict::Drop
        );
        assert_eq!(
            classify(&status_with_retry_info(Code::ResourceExhausted, 7)),
            Verdict::Retry(Some(Duration::from_secs(7)))
        );
        assert_eq!(
            classify(&status_with_retry_info(Code::Unavailable, 2)),
            Verdict::Retry(Some(Duration::from_secs(2)))
        );
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter_inside_the_factor() {
        let cfg = RetryConfig {
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(4),
            multiplier: 2.0,
            randomization_factor: 0.5,
            ..RetryConfig::default()
        };
        let mut b = Backoff::new(&cfg);
        let expected = [1.0, 2.0, 4.0, 4.0, 4.0];
        for base in expected {
            let w = b.next_wait().as_secs_f64();
            assert!(
                w >= base * 0.5 - 1e-9 && w <= base * 1.5 + 1e-9,
                "wait {w} outside {base}±50%"
            );
        }
    }
}
