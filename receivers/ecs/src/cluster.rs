//! What the collectors of one cluster share: the client (one session), the cluster's
//! identity for the resource, and the last good answer of each endpoint, served for a few
//! cycles when a later call fails.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use pipeline::otlp::resource::v1::Resource;
use pipeline::{SnapshotBuilder, kv};
use pull::LastGood;
use pull::last_good::Failed;
use serde_json::Value;
use tokio::time::Instant;

use crate::catalog::*;
use crate::client::parse::{list, text};
use crate::client::{Call, ClientError, EcsClient};
use crate::config::EcsConfig;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Cluster {
    pub name: String,
    pub cfg: EcsConfig,
    pub client: EcsClient,
    /// `service.name` of the cluster's resource (the `job` label).
    pub service_name: String,
    vdc: Mutex<Option<(String, String)>>,
    last_good: Mutex<BTreeMap<String, LastGood<Value>>>,
    logged_out: AtomicBool,
}

impl Cluster {
    pub fn new(name: &str, cfg: &EcsConfig, service_name: &str) -> Result<Self, ClientError> {
        Ok(Self {
            name: cfg.cluster_name.clone().unwrap_or_else(|| name.to_owned()),
            cfg: cfg.clone(),
            client: EcsClient::new(cfg)?,
            service_name: service_name.to_owned(),
            vdc: Mutex::new(None),
            last_good: Mutex::new(BTreeMap::new()),
            logged_out: AtomicBool::new(false),
        })
    }

    /// The VDC's name, once learned.
    pub fn vdc_name(&self) -> Option<String> {
        lock(&self.vdc).as_ref().map(|(name, _)| name.clone())
    }

    pub fn set_vdc(&self, name: &str, id: &str) {
        *lock(&self.vdc) = Some((name.to_owned(), id.to_owned()));
    }

    /// Learns the VDC's name and id (one `/dashboard/zones/localzone` call) unless a
    /// collector already did, so that every collector reports under the same resource
    /// from its first cycle on. A failure only leaves them out until a later cycle.
    pub async fn identify(&self, deadline: Instant) {
        if lock(&self.vdc).is_some() {
            return;
        }
        let call =
            Call::get("/dashboard/zones/localzone", "/dashboard/zones/localzone").until(deadline);
        match self.client.json(call).await {
            Ok(z) => {
                if let (Some(name), Some(id)) = (text(&z["name"]), text(&z["id"])) {
                    self.set_vdc(name, id);
                }
            }
            Err(e) => {
                tracing::debug!(cluster = %self.name, error = %e, "VDC identity not read yet")
            }
        }
    }

    /// The resource every series of this cluster is reported under.
    pub fn resource(&self) -> Resource {
        let mut attrs = vec![
            kv("service.name", self.service_name.as_str()),
            kv("service.instance.id", self.name.as_str()),
            kv("ecs.cluster.name", self.name.as_str()),
        ];
        if let Some((name, id)) = lock(&self.vdc).clone() {
            attrs.push(kv("ecs.vdc.name", name));
            attrs.push(kv("ecs.vdc.id", id));
        }
        if let Some((_, version)) = self.client.family() {
            attrs.push(kv("ecs.version", version));
        }
        if let Ok(uri) = self.client.endpoint().parse::<http::Uri>()
            && let Some(host) = uri.host()
        {
            attrs.push(kv("server.address", host));
        }
        pipeline::resource(attrs)
    }

    /// A JSON call; on failure, the last good answer kept under `key` while it is no
    /// older than `keep_last_good_cycles` failures. Failures become `warnings`. `key`
    /// names the collector's read (`dashboard /vdc/nodes`): two collectors reading the
    /// same route keep their own answers and their own failure counts.
    pub async fn fetch(
        &self,
        key: &str,
        route: &str,
        path: &str,
        deadline: Instant,
        warnings: &mut Vec<String>,
    ) -> Result<Value, ClientError> {
        match self
            .client
            .json(Call::get(route, path).until(deadline))
            .await
        {
            Ok(v) => {
                self.remember(key, &v);
                Ok(v)
            }
            Err(e) => self.fallback(key, e, warnings),
        }
    }

    /// Keeps `v` as the last good answer of `key`.
    pub fn remember(&self, key: &str, v: &Value) {
        lock(&self.last_good).insert(key.to_owned(), LastGood::new(v.clone()));
    }

    /// After a failed read of `key`: its last good answer while young enough, else `e`.
    pub fn fallback(
        &self,
        key: &str,
        e: ClientError,
        warnings: &mut Vec<String>,
    ) -> Result<Value, ClientError> {
        let keep = self.cfg.keep_last_good_cycles;
        let mut lg = lock(&self.last_good);
        let Some(kept) = lg.get_mut(key) else {
            warnings.push(e.to_string());
            tracing::warn!(cluster = %self.name, read = key, error = %e, "call failed");
            return Err(e);
        };
        match kept.fail(keep) {
            Failed::Served(n) => {
                warnings.push(format!(
                    "{e}; serving the last good answer ({n} of {keep} cycles)"
                ));
                tracing::warn!(cluster = %self.name, read = key, error = %e, cycles = n, keep, "call failed; last good answer served");
                Ok(kept.value.clone())
            }
            Failed::Expired => {
                lg.remove(key);
                warnings.push(format!(
                    "{e}; the last good answer is too old and its series expired"
                ));
                tracing::warn!(cluster = %self.name, read = key, error = %e, "call failed; last good answer expired");
                Err(e)
            }
        }
    }

    /// Hands each entry of `/object/namespaces` to `each`, following `NextMarker`
    /// (1,000 a page; at most 10,000 pages, against a marker that never ends).
    pub async fn each_namespace(
        &self,
        deadline: Instant,
        mut each: impl FnMut(&Value),
    ) -> Result<(), ClientError> {
        let mut marker: Option<String> = None;
        for _ in 0..10_000 {
            let path = match &marker {
                Some(m) => format!("/object/namespaces?limit=1000&marker={}", crate::percent(m)),
                None => "/object/namespaces?limit=1000".to_owned(),
            };
            let v = self
                .client
                .json(Call::get("/object/namespaces", path).until(deadline))
                .await?;
            list(&v, "namespace").into_iter().for_each(&mut each);
            match text(&v["NextMarker"]) {
                Some(m) if Some(m) != marker.as_deref() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        Ok(())
    }

    /// Logs out, once, however many collectors share the cluster.
    pub async fn shutdown(&self) {
        if !self.logged_out.swap(true, Ordering::SeqCst) {
            self.client.logout().await;
        }
    }

    /// The client's own figures.
    pub fn report_client(&self, b: &mut SnapshotBuilder) {
        self.client.stats().emit(&CLIENT, self.client.started, b);
    }

    pub fn builder(&self, time: SystemTime) -> SnapshotBuilder {
        SnapshotBuilder::new(
            self.resource(),
            pipeline::scope("ecs-otel-agent/receiver/ecs", env!("CARGO_PKG_VERSION")),
            time,
        )
    }
}

/// A namespace entry's name (`name`, else `id`).
pub fn namespace_name(n: &Value) -> Option<&str> {
    text(&n["name"]).or(text(&n["id"]))
}
