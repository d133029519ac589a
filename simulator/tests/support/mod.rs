//! Shared by the simulator's tests: a running simulator, a real HTTPS client, and the
//! XML-to-tree reading that the conformance checks use.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod openapi;
pub mod xml;

use std::sync::Arc;

use ecs_sim::{RunningSim, SimConfig, Version};
use rustls_pki_types::pem::PemObject;
use serde_json::Value;

pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

/// A client for plain-HTTP ports (reqwest still wants a TLS configuration).
pub fn plain_client(timeout: std::time::Duration) -> reqwest::Client {
    tls_client_timeout(None, timeout)
}

pub fn tls_client(ca_pem: Option<&str>) -> reqwest::Client {
    tls_client_timeout(ca_pem, std::time::Duration::from_secs(30))
}

pub fn tls_client_timeout(ca_pem: Option<&str>, timeout: std::time::Duration) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(pipeline::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .build()
        .unwrap()
}

pub async fn start(version: Version) -> RunningSim {
    start_with(SimConfig::small(version)).await
}

pub async fn start_with(cfg: SimConfig) -> RunningSim {
    ecs_sim::start(cfg).await.unwrap()
}

impl Client {
    pub fn new(sim: &RunningSim) -> Client {
        Client {
            http: tls_client(sim.cert_pem.as_deref()),
            base: sim.url().replace("127.0.0.1", "localhost"),
            token: None,
        }
    }

    pub async fn login(sim: &RunningSim) -> Client {
        let mut c = Client::new(sim);
        let r = c.login_as("root", "ChangeMe").await;
        assert_eq!(r.status, 200, "{}", r.body);
        c.token = Some(r.headers["x-sds-auth-token"].to_str().unwrap().to_owned());
        c
    }

    pub async fn login_as(&self, user: &str, password: &str) -> Resp {
        let r = self
            .http
            .get(format!("{}/login", self.base))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }

    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = r.text().await.unwrap();
        Resp {
            status,
            content_type,
            headers,
            body,
        }
    }

    fn req(&self, method: reqwest::Method, path: &str, json: bool) -> reqwest::RequestBuilder {
        let mut b = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            b = b.header("X-SDS-AUTH-TOKEN", t);
        }
        if json {
            b = b.header("Accept", "application/json");
        }
        b
    }

    pub async fn get(&self, path: &str, json: bool) -> Resp {
        Self::read(
            self.req(reqwest::Method::GET, path, json)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path, true).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    pub async fn post(
        &self,
        path: &str,
        json: bool,
        content_type: Option<&str>,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut b = self.req(reqwest::Method::POST, path, json);
        if let Some(ct) = content_type {
            b = b.header("Content-Type", ct);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        Self::read(b.body(body.to_owned()).send().await.unwrap()).await
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: &str) -> Value {
        let r = self
            .http
            .request(method, format!("{}/__sim{}", self.base, path))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// The simulator as a shared handle for tests that read the model directly.
pub fn sim_of(s: &RunningSim) -> Arc<ecs_sim::Sim> {
    s.sim.clone()
}
