//! The ECS benches' common parts: the simulator's large preset as its own process (so its
//! memory is not counted), its admin endpoint, and running a collector the way the
//! scheduler does.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pipeline::{Collector as _, ScrapeContext, Snapshot};
use receiver_ecs::{Collector, CollectorKind, CollectorSchedule, EcsConfig, EcsSettings};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Runs the simulator next to this binary (or `$ECS_SIM`) with `args`; returns it and
/// the base URL its first line announces.
pub fn spawn_sim(args: &[&OsStr]) -> (Child, String) {
    let bin = std::env::var("ECS_SIM")
        .ok()
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("ecs-sim")))
        })
        .unwrap_or_else(|| "ecs-sim".into());
    let mut child = match Command::new(&bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot start {}: {e} (build it: cargo build --release -p ecs-sim)",
            bin.display()
        ),
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("https://") || w.starts_with("http://"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_digit()).to_owned())
        .unwrap_or_else(|| panic!("no URL in the simulator's first line: {line:?}"));
    (child, base)
}

/// `ecs-sim --preset large`, over HTTPS with its certificate in a temporary folder.
pub struct LargeSim {
    child: Child,
    pub base: String,
    pub ca: PathBuf,
    dir: PathBuf,
    http: reqwest::Client,
}

impl LargeSim {
    /// Starts the simulator next to this binary (or `$ECS_SIM`).
    pub fn start() -> LargeSim {
        let dir = std::env::temp_dir().join(format!("ecs-bench-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("{}: {e}", dir.display());
        }
        let ca = dir.join("ca.pem");
        let (child, base) = spawn_sim(&[
            "--preset".as_ref(),
            "large".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--cert-out".as_ref(),
            ca.as_os_str(),
        ]);
        let tls = pipeline::tls::load_certs(&ca)
            .ok()
            .and_then(|certs| {
                let mut roots = rustls::RootCertStore::empty();
                for c in certs {
                    roots.add(c).ok()?;
                }
                rustls::ClientConfig::builder_with_provider(pipeline::tls::provider())
                    .with_safe_default_protocol_versions()
                    .ok()
                    .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            })
            .unwrap_or_else(|| panic!("cannot trust {}", ca.display()));
        let http = match reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
        {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        LargeSim {
            child,
            base,
            ca,
            dir,
            http,
        }
    }

    /// A receiver configuration for it (monitor user, its CA).
    pub fn config(&self) -> EcsConfig {
        let mut cfg = EcsConfig::new(EcsSettings {
            endpoint: self.base.clone(),
            username: "emcmonitor".into(),
            password: Some(pipeline::config::Secret::new("monitor-pass")),
            cluster_name: Some("bench".into()),
            ..EcsSettings::default()
        });
        cfg.tls.ca_file = Some(self.ca.clone());
        cfg
    }

    /// [`LargeSim::config`] with only the IAM collector on, its directory probes given 1 s.
    pub fn iam_config(&self) -> EcsConfig {
        let mut cfg = self.config();
        cfg.collectors.dashboard.schedule.enabled = false;
        cfg.collectors.node_stats.schedule.enabled = false;
        cfg.collectors.iam.schedule.enabled = true;
        cfg.collectors.iam.probe_timeout = Duration::from_secs(1);
        cfg
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<String>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/__sim{path}", self.base));
        if let Some(b) = body {
            req = req.body(b);
        }
        let r = match req.send().await {
            Ok(r) => r,
            Err(e) => panic!("/__sim{path}: {e}"),
        };
        match r.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(e) => panic!("/__sim{path}: {e}"),
        }
    }

    /// The raw answer of one management call (logged in as the monitor user): what the
    /// agent's client would read, for the parsing benches.
    pub async fn answer(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Vec<u8> {
        let login = self
            .http
            .get(format!("{}/login", self.base))
            .basic_auth("emcmonitor", Some("monitor-pass"))
            .send()
            .await;
        let token = match login {
            Ok(r) => r
                .headers()
                .get("x-sds-auth-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("/login: no token")),
            Err(e) => panic!("/login: {e}"),
        };
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-SDS-AUTH-TOKEN", &token)
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let answer = match req.send().await {
            Ok(r) => match r.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => panic!("{path}: {e}"),
            },
            Err(e) => panic!("{path}: {e}"),
        };
        // One session per call: the user's tokens are limited.
        let _ = self
            .http
            .get(format!("{}/logout", self.base))
            .header("X-SDS-AUTH-TOKEN", &token)
            .send()
            .await;
        answer
    }

    /// `/__sim/stats`: requests per route, sessions, the model's sizes.
    pub async fn stats(&self) -> Value {
        self.admin(reqwest::Method::GET, "/stats", None).await
    }

    /// Clears the request log.
    pub async fn reset(&self) {
        self.admin(reqwest::Method::POST, "/reset", None).await;
    }

    /// Replaces the fault rules (`{"rules":[…]}`).
    pub async fn faults(&self, json: &str) {
        self.admin(reqwest::Method::PUT, "/faults", Some(json.to_owned()))
            .await;
    }
}

impl Drop for LargeSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Management and node calls since the last reset, logins aside (not part of a cycle).
/// The collectors of one cluster built from a configuration (one session).
pub struct Collectors(Vec<(CollectorSchedule, Arc<Collector>)>);

impl Collectors {
    pub fn build(cfg: &EcsConfig) -> Collectors {
        match receiver_ecs::collectors("bench", cfg, "ecs-otel-agent") {
            Ok(b) => Collectors(b),
            Err(e) => panic!("collectors: {e}"),
        }
    }

    pub fn of(&self, k: CollectorKind) -> Arc<Collector> {
        match self.0.iter().find(|(_, c)| c.kind == k) {
            Some((_, c)) => c.clone(),
            None => panic!("no {k:?} collector"),
        }
    }

    /// Ends the session, as the agent does at shutdown.
    pub async fn shutdown(&self) {
        for (_, c) in &self.0 {
            c.shutdown().await;
        }
    }
}

/// Buckets of each namespace, from the simulator's `/stats` model figures.
pub fn buckets_per_namespace(model: &Value) -> Vec<u64> {
    model["buckets_per_namespace"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

pub fn cycle_calls(stats: &Value) -> u64 {
    let total = stats["requests"].as_u64().unwrap_or(0);
    let logins = stats["routes"]["GET /login"]["calls"].as_u64().unwrap_or(0);
    total - logins
}

/// Data points of a snapshot.
pub fn points(s: &Snapshot) -> usize {
    s.resource_metrics
        .iter()
        .map(pipeline::ResourcePoints::data_points)
        .sum()
}

/// One run of a collector as the scheduler makes it; panics on failure or warnings.
pub async fn scrape(c: &Collector, run: u64, timeout: Duration) -> (Snapshot, Duration) {
    scrape_expecting(c, run, timeout, |_| false).await
}

/// As [`scrape`], with the warnings `expected` accepts.
pub async fn scrape_expecting(
    c: &Collector,
    run: u64,
    timeout: Duration,
    expected: impl Fn(&str) -> bool,
) -> (Snapshot, Duration) {
    let ctx = ScrapeContext {
        job: "ecs/bench".into(),
        started: SystemTime::now(),
        deadline: tokio::time::Instant::now() + timeout,
        interval: Duration::from_secs(300),
        cancel: CancellationToken::new(),
        run,
    };
    let t = Instant::now();
    match c.scrape(&ctx).await {
        Ok(s) if s.warnings.iter().all(|w| expected(w)) => (s, t.elapsed()),
        Ok(s) => panic!("{:?} cycle with warnings: {:?}", c.kind, s.warnings),
        Err(e) => panic!("{:?} cycle failed: {} {}", c.kind, e.kind, e.message),
    }
}
