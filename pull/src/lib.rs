//! The pull toolkit: what a receiver that polls an HTTP API needs besides its own routes.
//! HTTP client settings with TLS and authentication ([`http_config`]), a limit of calls in
//! flight ([`limit`]), a circuit breaker per endpoint ([`breaker`]), client spans and
//! request figures ([`telemetry`]), lenient readers of JSON and XML answers ([`read`]),
//! and the last good answer served through a few failed cycles ([`last_good`]).

pub mod breaker;
pub mod http_config;
pub mod last_good;
pub mod limit;
pub mod read;
pub mod telemetry;

pub use breaker::{Breaker, Breakers};
pub use http_config::{Auth, BuildError, HttpClient, HttpClientConfig, TlsClientConfig};
pub use last_good::LastGood;
pub use limit::{InFlight, LimitError};
pub use telemetry::{ClientMetrics, ClientStats, RequestStats};
