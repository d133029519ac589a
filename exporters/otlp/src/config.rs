use std::collections::BTreeMap;
use std::time::Duration;

use pipeline::config::{Problems, Secret, Validate, duration, join};
use pipeline::tls::TlsClientSettings;
use serde::{Deserialize, Serialize};

/// `exporters: otlp:`, in the shape of the Collector's otlp exporter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OtlpConfig {
    /// `http://host:4317` (plaintext), `https://host:4317` (TLS), or `host:4317` (TLS unless
    /// `tls.insecure`).
    pub endpoint: String,
    pub tls: TlsClientSettings,
    /// gRPC metadata sent with every request (e.g. `authorization`). Values never print.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    pub compression: Compression,
    /// Deadline of one export request.
    #[serde(with = "duration")]
    pub timeout: Duration,
    pub sending_queue: SendingQueue,
    pub retry_on_failure: RetryConfig,
    /// Requests are split so that none encodes larger than this: 4 MiB is the default
    /// limit of gRPC servers, the Collector's included.
    pub max_request_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Gzip,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SendingQueue {
    /// Batches (one receiver snapshot each) waiting to be sent; when full, the oldest is
    /// dropped and counted.
    pub queue_size: usize,
    /// The agent's own spans waiting to be sent, when this exporter is the traces
    /// pipeline's; when full, the oldest span is dropped and counted.
    pub span_queue_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    pub enabled: bool,
    #[serde(with = "duration")]
    pub initial_interval: Duration,
    #[serde(with = "duration")]
    pub max_interval: Duration,
    /// A request still failing after this long is dropped (counted): retrying stops when
    /// the next wait would end past it. `0` means no limit, as in the Collector: the
    /// request is retried until it gets through or the agent stops.
    #[serde(with = "duration")]
    pub max_elapsed_time: Duration,
    pub multiplier: f64,
    /// Each wait is the backoff ± this fraction, so that many agents do not retry in step.
    pub randomization_factor: f64,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://localhost:4317".into(),
            tls: TlsClientSettings::default(),
            headers: BTreeMap::new(),
            compression: Compression::Gzip,
            timeout: Duration::from_secs(10),
            sending_queue: SendingQueue::default(),
            retry_on_failure: RetryConfig::default(),
            max_request_bytes: 4 * 1024 * 1024 - 64 * 1024,
        }
    }
}

impl Default for SendingQueue {
    fn default() -> Self {
        Self {
            queue_size: 100,
            span_queue_size: 8192,
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

/// How the endpoint is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `scheme://host:port` as tonic wants it.
    pub uri: String,
    pub tls: bool,
}

impl OtlpConfig {
    pub fn target(&self) -> Result<Target, String> {
        let e = self.endpoint.trim();
        let (tls, rest) = if let Some(r) = e.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = e.strip_prefix("https://") {
            (true, r)
        } else if e.contains("://") {
            return Err(format!(
                "unsupported scheme in {e:?}; use http:// or https://"
            ));
        } else {
            (!self.tls.insecure, e)
        };
        let authority = rest.trim_end_matches('/');
        let valid = authority
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !valid || authority.contains('/') {
            return Err(format!(
                "invalid endpoint {e:?}; expected host:port, http://host:port or https://host:port"
            ));
        }
        let scheme = if tls { "https" } else { "http" };
        Ok(Target {
            uri: format!("{scheme}://{authority}"),
            tls,
        })
    }
}

impl Validate for OtlpConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        match self.target() {
            Err(e) => problems.push(join(path, "endpoint"), e),
            Ok(t) => {
                if !t.tls && (self.tls.ca_file.is_some() || self.tls.cert_file.is_some()) {
                    problems.push(
                        join(path, "tls"),
                        "the endpoint is plaintext (http://), so ca_file/cert_file would be ignored; use https://",
                    );
                }
            }
        }
        if self.tls.insecure_skip_verify {
            problems.push(
                join(path, "tls.insecure_skip_verify"),
                "not supported for OTLP; give the collector's CA with tls.ca_file",
            );
        }
        self.tls.validate(&join(path, "tls"), problems);
        for (k, v) in &self.headers {
            let p = join(&join(path, "headers"), k);
            if tonic::metadata::MetadataKey::<tonic::metadata::Ascii>::from_bytes(k.as_bytes())
                .is_err()
            {
                problems.push(
                    &p,
                    "invalid gRPC metadata key (lowercase letters, digits, '-', '_', '.')",
                );
            }
            if tonic::metadata::MetadataValue::<tonic::metadata::Ascii>::try_from(v.expose())
                .is_err()
            {
                problems.push(&p, "invalid header value (printable ASCII only)");
            }
        }
        problems.positive(join(path, "timeout"), self.timeout);
        if self.sending_queue.queue_size == 0 {
            problems.push(join(path, "sending_queue.queue_size"), "must be at least 1");
        }
        if self.sending_queue.span_queue_size == 0 {
            problems.push(
                join(path, "sending_queue.span_queue_size"),
                "must be at least 1",
            );
        }
        let r = &self.retry_on_failure;
        let rp = join(path, "retry_on_failure");
        problems.positive(join(&rp, "initial_interval"), r.initial_interval);
        if r.max_interval < r.initial_interval {
            problems.push(
                join(&rp, "max_interval"),
                "must not be less than initial_interval",
            );
        }
        if r.multiplier.is_nan() || r.multiplier < 1.0 {
            problems.push(join(&rp, "multiplier"), "must be at least 1");
        }
        if !(0.0..=1.0).contains(&r.randomization_factor) {
            problems.push(join(&rp, "randomization_factor"), "must be between 0 and 1");
        }
        if self.max_request_bytes < 64 * 1024 {
            problems.push(join(path, "max_request_bytes"), "must be at least 65536");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(endpoint: &str, insecure: bool) -> Result<Target, String> {
        OtlpConfig {
            endpoint: endpoint.into(),
            tls: TlsClientSettings {
                insecure,
                ..Default::default()
            },
            ..OtlpConfig::default()
        }
        .target()
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            target("http://localhost:4317", false).unwrap(),
            Target {
                uri: "http://localhost:4317".into(),
                tls: false
            }
        );
        assert_eq!(
            target("https://otel:4317/", false).unwrap(),
            Target {
                uri: "https://otel:4317".into(),
                tls: true
            }
        );
        assert!(target("otel:4317", false).unwrap().tls);
        assert!(!target("otel:4317", true).unwrap().tls);
        assert!(target("otel", false).is_err());
        assert!(target("grpc://otel:4317", false).is_err());
        assert!(target("http://otel:4317/v1/metrics", false).is_err());
    }
}
