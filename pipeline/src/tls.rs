//! TLS settings and their loading, shared by the servers (Prometheus, health) and the
//! clients (OTLP, ECS). rustls with the `ring` provider everywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use crate::config::{Problems, Validate, join};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificates from {path}: {message}")]
    Certs { path: String, message: String },
    #[error("cannot read a private key from {path}: {message}")]
    Key { path: String, message: String },
    #[error("invalid TLS setup: {0}")]
    Setup(String),
}

/// TLS for a server the agent runs: `tls: {cert_file, key_file, client_ca_file}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsServerSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<PathBuf>,
}

impl Validate for TlsServerSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if let Err(e) = load_certs(&self.cert_file) {
            problems.push(join(path, "cert_file"), e.to_string());
        }
        if let Err(e) = load_key(&self.key_file) {
            problems.push(join(path, "key_file"), e.to_string());
        }
        if let Some(ca) = &self.client_ca_file
            && let Err(e) = load_certs(ca)
        {
            problems.push(join(path, "client_ca_file"), e.to_string());
        }
        if problems.is_empty()
            && let Err(e) = server_config(self)
        {
            problems.push(path, e.to_string());
        }
    }
}

/// TLS for a connection the agent makes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsClientSettings {
    /// No TLS at all (plain `http://`).
    #[serde(default)]
    pub insecure: bool,
    /// TLS, but the server's certificate is not checked. Logged as a warning at start.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// CA bundle that signs the server's certificate; the system roots when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, for servers that ask for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name_override: Option<String>,
}

/// A client certificate and its key, given together: both must load.
pub fn check_cert_pair(
    cert_file: Option<&PathBuf>,
    key_file: Option<&PathBuf>,
    path: &str,
    problems: &mut Problems,
) {
    match (cert_file, key_file) {
        (Some(c), Some(k)) => {
            if let Err(e) = load_certs(c) {
                problems.push(join(path, "cert_file"), e.to_string());
            }
            if let Err(e) = load_key(k) {
                problems.push(join(path, "key_file"), e.to_string());
            }
        }
        (Some(_), None) => problems.push(
            join(path, "key_file"),
            "cert_file is set, so key_file is required",
        ),
        (None, Some(_)) => problems.push(
            join(path, "cert_file"),
            "key_file is set, so cert_file is required",
        ),
        (None, None) => {}
    }
}

impl Validate for TlsClientSettings {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if let Some(ca) = &self.ca_file
            && let Err(e) = load_certs(ca)
        {
            problems.push(join(path, "ca_file"), e.to_string());
        }
        check_cert_pair(
            self.cert_file.as_ref(),
            self.key_file.as_ref(),
            path,
            problems,
        );
        if self.insecure && (self.ca_file.is_some() || self.cert_file.is_some()) {
            problems.push(
                join(path, "insecure"),
                "insecure disables TLS, so ca_file and cert_file would be ignored",
            );
        }
    }
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::Certs {
        path: path.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".into()));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration for HTTP/1.1.
pub fn server_config(s: &TlsServerSettings) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = load_certs(&s.cert_file)?;
    let key = load_key(&s.key_file)?;
    let client_roots = match &s.client_ca_file {
        Some(ca) => Some(load_certs(ca)?),
        None => None,
    };
    build_server_config(certs, key, client_roots)
}

/// The same from PEM text held in memory (a generated self-signed certificate).
pub fn server_config_pem(
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certs {
            path: "(memory)".into(),
            message: e.to_string(),
        })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| TlsError::Key {
        path: "(memory)".into(),
        message: e.to_string(),
    })?;
    build_server_config(certs, key, None)
}

fn build_server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<Vec<CertificateDer<'static>>>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let builder = match client_roots {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in ca {
                roots
                    .add(c)
                    .map_err(|e| TlsError::Setup(format!("client_ca_file: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| TlsError::Setup(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
