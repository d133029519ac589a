//! ECS simulator: a faithful stand-in for the Dell EMC ECS / ObjectScale management API,
//! for the agent's demo, tests and benchmarks. See docs/SIMULATOR.md.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ecs_sim::SimError> {
//! let sim = ecs_sim::start(ecs_sim::SimConfig::default()).await?;
//! println!("management API at {}", sim.url());
//! # Ok(()) }
//! ```

pub mod api;
pub mod clock;
pub mod faults;
pub mod format;
pub mod ids;
pub mod ldap;
pub mod model;
pub mod nodes;
pub mod server;
pub mod sessions;
pub mod timefmt;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};

use pipeline::http_server;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use faults::{FaultConfig, FaultRule};
pub use model::{Cluster, ModelConfig, Version};
pub use server::Sim;
pub use sessions::SessionConfig;

/// How the simulator runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    pub model: ModelConfig,
    /// Management API address (ECS: port 4443).
    pub listen: SocketAddr,
    /// HTTPS with a generated self-signed certificate (as ECS); plain HTTP when false.
    pub tls: bool,
    #[serde(skip)]
    pub sessions: SessionConfig,
    pub faults: FaultConfig,
    /// First three octets of the nodes' loopback addresses (`127.a.b`); picked at random
    /// (and retried) when unset, so several simulators can run side by side.
    pub node_net: Option<[u8; 3]>,
    pub dt_port: u16,
    pub ping_port: u16,
    /// IAM list page size when the caller gives no MaxItems.
    pub iam_page: usize,
    /// Buckets per page of namespace billing detail (`next_marker`).
    pub billing_detail_page: usize,
    /// Serve a directory server for each enabled authentication provider (on the nodes'
    /// loopback network, port `ldap_port`) and list it in the provider's `server_urls`;
    /// when false, the providers keep documentation addresses that never answer.
    pub ldap: bool,
    pub ldap_port: u16,
    /// Freeze the clock at this second (since the epoch): it then moves only by
    /// `clock.advance`, so every time-dependent figure is the same on every run.
    pub frozen_at: Option<i64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 4443)),
            tls: true,
            sessions: SessionConfig::default(),
            faults: FaultConfig::default(),
            node_net: None,
            dt_port: 9101,
            ping_port: 9020,
            iam_page: 100,
            billing_detail_page: 100,
            ldap: true,
            ldap_port: 1389,
            frozen_at: None,
        }
    }
}

impl SimConfig {
    /// The small model of `version` on a free loopback port: what tests start.
    pub fn small(version: Version) -> Self {
        Self {
            model: ModelConfig {
                version,
                ..ModelConfig::small()
            },
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot make the TLS certificate: {0}")]
    Tls(String),
    #[error("no free loopback network for the nodes' ports after {0} attempts (is port {1} free?)")]
    NodeNet(usize, u16),
}

/// A running simulator.
pub struct RunningSim {
    pub sim: Arc<Sim>,
    pub mgmt: SocketAddr,
    pub tls: bool,
    /// PEM of the self-signed certificate, for clients that verify it (`ca_file`).
    pub cert_pem: Option<String>,
    /// Each node's address for its 9101 / 9020 ports.
    pub node_ips: Vec<Ipv4Addr>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSim {
    /// `https://127.0.0.1:<port>` (or http).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.mgmt
        )
    }

    pub fn model(&self) -> std::sync::RwLockReadGuard<'_, Cluster> {
        self.sim.model()
    }

    /// For tests of billing: moves the clock into the middle of a 5-minute billing slot,
    /// at least three hours before a month ends, so that anything shorter than two
    /// minutes sees one `uptodate_till` and one month.
    pub fn steady_billing_clock(&self) {
        let lag = self.model().cfg.billing_lag_secs;
        let billing_now = |sim: &Sim| sim.clock.now() - lag;
        let t = billing_now(&self.sim);
        if pipeline::timefmt::next_month_start(t) - t < 3 * 3600 {
            self.sim.clock.advance(4 * 3600);
        }
        let t = billing_now(&self.sim);
        let into = t.rem_euclid(model::SAMPLE);
        self.sim
            .clock
            .advance((150 - into).rem_euclid(model::SAMPLE));
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn random_net() -> [u8; 3] {
    [127, fastrand::u8(16..250), fastrand::u8(1..250)]
}

/// Starts the management API and the node ports. Must run inside a Tokio runtime.
pub async fn start(cfg: SimConfig) -> Result<RunningSim, SimError> {
    let clock = Arc::new(match cfg.frozen_at {
        Some(at) => clock::Clock::frozen(at),
        None => clock::Clock::default(),
    });
    let mut cluster = Cluster::generate(&cfg.model);
    let stop = CancellationToken::new();

    // The nodes' loopback network: try random /24s until every port binds.
    let attempts = if cfg.node_net.is_some() { 1 } else { 20 };
    let version = cfg.model.version;
    let mut bound: Option<Vec<Ipv4Addr>> = None;
    for _ in 0..attempts {
        let net = cfg.node_net.unwrap_or_else(random_net);
        let ips: Vec<Ipv4Addr> = (0..cluster.nodes.len())
            .map(|i| Ipv4Addr::new(net[0], net[1], net[2], (i + 1) as u8))
            .collect();
        // Probe that the ports are free before committing to this network.
        let mut ok = true;
        for ip in &ips {
            for port in [cfg.dt_port, cfg.ping_port] {
                if std::net::TcpListener::bind((*ip, port)).is_err() {
                    ok = false;
                }
            }
        }
        for i in 0..cluster.authn_providers.len() {
            let ip = Ipv4Addr::new(net[0], net[1], net[2], 201 + i as u8);
            if cfg.ldap && std::net::TcpListener::bind((ip, cfg.ldap_port)).is_err() {
                ok = false;
            }
        }
        if ok {
            bound = Some(ips);
            break;
        }
    }
    let Some(node_ips) = bound else {
        return Err(SimError::NodeNet(attempts, cfg.dt_port));
    };
    for (node, ip) in cluster.nodes.iter_mut().zip(&node_ips) {
        node.mgmt_ip = *ip;
    }
    // Directory servers after the nodes on the same network (.201, .202, ...).
    let mut ldap_ips = Vec::new();
    if cfg.ldap
        && let Some(first) = node_ips.first()
    {
        let o = first.octets();
        for (i, p) in cluster.authn_providers.iter_mut().enumerate() {
            if p.disabled {
                continue;
            }
            let ip = Ipv4Addr::new(o[0], o[1], o[2], 201 + i as u8);
            p.server_urls = vec![format!("ldap://{ip}:{}", cfg.ldap_port)];
            ldap_ips.push(ip);
        }
    }
    let seed = cfg.model.seed;
    let sim = Arc::new(Sim {
        model: RwLock::new(cluster),
        clock: clock.clone(),
        sessions: sessions::Sessions::new(cfg.sessions.clone(), seed, clock),
        faults: faults::Faults::new(cfg.faults.clone()),
        log: faults::RequestLog::default(),
        iam_page: cfg.iam_page,
        billing_detail_page: cfg.billing_detail_page.max(1),
    });

    let mut tasks = Vec::new();
    for (i, ip) in node_ips.iter().enumerate() {
        let mut ports = vec![(cfg.ping_port, nodes::Port::Ping)];
        if version.has_dt_stats() {
            ports.push((cfg.dt_port, nodes::Port::DtStats));
        }
        for (port_no, port) in ports {
            let (_, task) = nodes::listen(sim.clone(), i, *ip, port_no, port, stop.clone())
                .await
                .map_err(|source| SimError::Bind {
                    addr: format!("{ip}:{port_no}"),
                    source,
                })?;
            tasks.push(task);
        }
    }

    for ip in ldap_ips {
        let (_, task) = ldap::listen(ip, cfg.ldap_port, stop.clone())
            .await
            .map_err(|source| SimError::Bind {
                addr: format!("{ip}:{}", cfg.ldap_port),
                source,
            })?;
        tasks.push(task);
    }

    let (tls, cert_pem) = if cfg.tls {
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .map_err(|e| SimError::Tls(e.to_string()))?;
        let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
        let tls = pipeline::tls::server_config_pem(&cert_pem, &key_pem)
            .map_err(|e| SimError::Tls(e.to_string()))?;
        (Some(tls), Some(cert_pem))
    } else {
        (None, None)
    };
    let listener = http_server::bind(cfg.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let mgmt = listener.local_addr().map_err(|source| SimError::Bind {
        addr: cfg.listen.to_string(),
        source,
    })?;
    let handler_sim = sim.clone();
    tasks.push(http_server::spawn(
        listener,
        tls,
        Arc::new(move |req| server::handle(handler_sim.clone(), req)),
        stop.clone(),
    ));
    tracing::info!(mgmt = %mgmt, version = version.as_str(), nodes = node_ips.len(), namespaces = sim.model().namespaces.len(), "ECS simulator listening");
    Ok(RunningSim {
        sim,
        mgmt,
        tls: cfg.tls,
        cert_pem,
        node_ips,
        stop,
        tasks,
    })
}
