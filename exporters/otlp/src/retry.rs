//! Which gRPC failures are worth retrying, per the OTLP specification, and how long to
//! wait before the next try.

use std::time::Duration;

use prost::Message;
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
