//! `HttpClientConfig`: where a pull receiver's server is and how to talk to it (TLS,
//! timeouts, extra headers, authentication), checked by `validate` with the path of each
//! problem, and made into a `reqwest` client by `build`.

mod auth;
mod tls;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use pipeline::config::{Problems, Validate, duration, join};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

pub use auth::{Auth, BasicAuth, BearerAuth};
pub use tls::client_config as tls_client_config;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The TLS setup failed (unreadable CA or client certificate, no system roots).
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Auth(String),
    #[error("header {name}: {message}")]
    Header { name: String, message: String },
    #[error("{0}")]
    Client(String),
}

/// TLS of a connection a receiver makes: `tls: {ca_file, cert_file, key_file, server_name,
/// insecure_skip_verify}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsClientConfig {
    /// CA bundle that signs the server's certificate; the system roots when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate and its key, for servers that ask for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Accept any certificate. Logged as a warning at start; for labs only.
    pub insecure_skip_verify: bool,
    /// Name to check the certificate against, when the endpoint is an IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

impl Validate for TlsClientConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if let Some(ca) = &self.ca_file {
            if let Err(e) = pipeline::tls::load_certs(ca) {
                problems.push(join(path, "ca_file"), e.to_string());
            }
            if self.insecure_skip_verify {
                problems.push(path, "set ca_file or insecure_skip_verify, not both");
            }
        }
        pipeline::tls::check_cert_pair(
            self.cert_file.as_ref(),
            self.key_file.as_ref(),
            path,
            problems,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpClientConfig {
    /// `scheme://host:port` of the server.
    pub endpoint: String,
    pub tls: TlsClientConfig,
    /// Deadline of one call (connecting takes at most 10 s of it).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Sent with every call. Values are never logged (they may be credentials).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            request_timeout: Duration::from_secs(30),
            headers: BTreeMap::new(),
            auth: None,
        }
    }
}

impl Validate for HttpClientConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        let ep = self.endpoint.trim();
        match ep.parse::<http::Uri>() {
            _ if ep.is_empty() => problems.push(
                join(path, "endpoint"),
                "required: the server, e.g. https://host:443",
            ),
            Ok(u) if u.authority().is_some_and(|a| a.as_str().contains('@')) => problems.push(
                join(path, "endpoint"),
                "give the credentials in auth, not in the URL (it is logged)",
            ),
            Ok(u)
                if matches!(u.scheme_str(), Some("https") | Some("http")) && u.host().is_some() => {
            }
            _ => problems.push(
                join(path, "endpoint"),
                format!("invalid endpoint {ep:?}; expected http(s)://host:port"),
            ),
        }
        problems.positive(join(path, "request_timeout"), self.request_timeout);
        self.tls.validate(&join(path, "tls"), problems);
        for (name, value) in &self.headers {
            if let Err(message) = header(name, value) {
                problems.push(format!("{}.{name}", join(path, "headers")), message);
            }
        }
        if let Some(a) = &self.auth {
            a.validate(&join(path, "auth"), problems);
        }
    }
}

/// A header from the configuration; the message never quotes the value.
fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    if n == AUTHORIZATION {
        return Err("set credentials in auth, not in headers".into());
    }
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| "the value is not a valid header value".to_owned())?;
    // Custom headers often carry API keys: keep them out of debug output.
    v.set_sensitive(true);
    Ok((n, v))
}

/// A built client and the base URL to send its calls to.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub client: reqwest::Client,
    /// The endpoint without a trailing slash; with `server_name` in place of an IP address
    /// (the client resolves that name to the address).
    pub base: String,
}

impl HttpClientConfig {
    /// `scheme://host:port` without a trailing slash.
    pub fn base_url(&self) -> String {
        self.endpoint.trim_end_matches('/').to_owned()
    }

    /// The client: TLS as configured, the headers and authentication on every call, no
    /// redirects followed (a redirect to elsewhere would carry the credentials along).
    /// The request timeout is the caller's to set per call.
    pub fn build(&self) -> Result<HttpClient, BuildError> {
        self.build_with_default_port(0)
    }

    /// `build`, for an API whose usual port is not its scheme's: with `server_name` set
    /// and no port in the endpoint, connects to `default_port` (0: the scheme's).
    pub fn build_with_default_port(&self, default_port: u16) -> Result<HttpClient, BuildError> {
        let tls = tls::client_config(&self.tls).map_err(BuildError::Tls)?;
        if self.tls.insecure_skip_verify {
            tracing::warn!(endpoint = %self.endpoint, "tls.insecure_skip_verify is set: the server's certificate is not checked");
        }
        let mut defaults = HeaderMap::new();
        for (name, value) in &self.headers {
            let (n, v) = header(name, value).map_err(|message| BuildError::Header {
                name: name.clone(),
                message,
            })?;
            defaults.insert(n, v);
        }
        if let Some(a) = &self.auth {
            defaults.insert(AUTHORIZATION, a.header()?);
        }
        let mut base = self.base_url();
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(self.request_timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(defaults);
        if let Some(name) = &self.tls.server_name {
            // Check the certificate against `server_name` while connecting to the address
            // of the endpoint.
            if let Ok(uri) = base.parse::<http::Uri>()
                && let (Some(host), port) = (uri.host(), uri.port_u16().unwrap_or(default_port))
                && let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>()
            {
                builder = builder.resolve(name, std::net::SocketAddr::new(ip, port));
                base = base.replacen(host, name, 1);
            }
        }
        let client = builder
            .build()
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(HttpClient { client, base })
    }
}

#[cfg(test)]
mod tests;
