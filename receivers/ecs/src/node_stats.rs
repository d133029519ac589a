//! The node-stats collector: each node's directory tables (port 9101, ECS only) and load
//! factor and maintenance mode (the S3 port's `?ping`), with a timeout per node so that a
//! dead node does not hold up the others. On ObjectScale 4.x, where 9101 is gone, the
//! node's state comes from `/dashboard/nodes/{id}`. A node that does not answer gets
//! staleness markers for its series, so they end instead of freezing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pipeline::{ReceiverError, ScrapeContext, Snapshot, SnapshotBuilder};
use pull::LastGood;
use pull::last_good::Failed;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::catalog::{compat, *};
use crate::client::parse::{list, num, text, uint};
use crate::client::{Call, ClientError, Family, xml};
use crate::cluster::Cluster;

#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub name: String,
    pub id: String,
    pub ip: String,
}

/// The answer of `/vdc/nodes`: the nodes with an address, and the version they run.
#[derive(Debug, Default)]
struct NodeList {
    nodes: Vec<NodeInfo>,
    version: Option<String>,
}

impl NodeList {
    fn parse(v: &Value) -> Self {
        let items = list(v, "node");
        let nodes = items
            .iter()
            .filter_map(|n| {
                Some(NodeInfo {
                    name: text(&n["nodename"]).unwrap_or("").to_owned(),
                    id: text(&n["nodeid"]).unwrap_or("").to_owned(),
                    ip: node_address(text(&n["mgmt_ip"]).or(text(&n["ip"]))?)?,
                })
            })
            .collect();
        let version = items
            .iter()
            .find_map(|n| text(&n["version"]))
            .map(str::to_owned);
        Self { nodes, version }
    }
}

/// What one node answered.
#[derive(Debug, Default)]
pub(crate) struct NodeResult {
    /// (total, unready, unknown) directory tables.
    dt: Option<(u64, u64, u64)>,
    /// /dashboard/nodes/{id} healthStatus (ObjectScale).
    healthy: Option<bool>,
    stats_error: Option<ClientError>,
    load_factor: Option<f64>,
    maintenance: Option<bool>,
    ping_error: Option<ClientError>,
}

/// A node's last good figures: its stats call's (directory tables, or ObjectScale's
/// health) and its ping's (load factor, maintenance mode), kept apart since either call
/// may fail alone.
#[derive(Debug, Default)]
struct Kept {
    stats: Option<LastGood<StatsFigures>>,
    ping: Option<LastGood<(Option<f64>, Option<bool>)>>,
}

/// The directory tables (total, unready, unknown) and ObjectScale's health of a node.
type StatsFigures = (Option<(u64, u64, u64)>, Option<bool>);

pub struct NodeStats {
    cluster: Arc<Cluster>,
    report_client: bool,
    /// By node address.
    kept: Mutex<BTreeMap<String, Kept>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A node's address from `/vdc/nodes`: an IPv4 or IPv6 address, a host name, or the old
/// `10.247.179.238:11001:20069:10901` form (an IPv4 address followed by ports).
pub fn node_address(s: &str) -> Option<String> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    if s.is_empty() {
        return None;
    }
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Some(s.to_owned());
    }
    match s.split_once(':') {
        Some((v4, _)) if v4.parse::<std::net::Ipv4Addr>().is_ok() => Some(v4.to_owned()),
        _ => Some(s.to_owned()),
    }
}

impl NodeInfo {
    /// The address as a URL needs it (`[fd00::10]`).
    fn url_host(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]", self.ip)
        } else {
            self.ip.clone()
        }
    }
}

/// Totals of a DTInitStat document: the entry without a `type` (or the sum of all).
pub fn dt_totals(body: &str) -> Result<(u64, u64, u64), String> {
    let (_, root) = xml::parse(body)?;
    let entries = list(&root, "entry");
    if entries.is_empty() {
        return Err("no <entry> element".into());
    }
    let read = |e: &Value, k: &str| uint(&e[k]);
    let pick: Vec<&Value> = match entries.iter().find(|e| e.get("type").is_none()) {
        Some(e) => vec![*e],
        None => entries,
    };
    let mut t = (0u64, 0u64, 0u64);
    for e in pick {
        let total = read(e, "total_dt_num").ok_or("entry without a readable total_dt_num")?;
        t.0 = t.0.saturating_add(total);
        t.1 = t.1.saturating_add(read(e, "unready_dt_num").unwrap_or(0));
        t.2 = t.2.saturating_add(read(e, "unknown_dt_num").unwrap_or(0));
    }
    Ok(t)
}

/// LOAD_FACTOR value and MAINTENANCE_MODE status of a `?ping` answer.
pub fn ping(body: &str) -> Result<(Option<f64>, Option<bool>), String> {
    let (_, root) = xml::parse(body)?;
    let mut lf = None;
    let mut mm = None;
    for item in list(&root, "PingItem") {
        match text(&item["Name"]).unwrap_or("") {
            "LOAD_FACTOR" => lf = num(&item["Value"]),
            "MAINTENANCE_MODE" => mm = text(&item["Status"]).map(|s| s.eq_ignore_ascii_case("ON")),
            _ => {}
        }
    }
    // Old answers have one item whose Value is the load factor (paychex reads that).
    if lf.is_none()
        && let Some(first) = list(&root, "PingItem").first()
    {
        lf = num(&first["Value"]);
    }
    Ok((lf, mm))
}

impl NodeStats {
    pub fn new(cluster: Arc<Cluster>, report_client: bool) -> Self {
        Self {
            cluster,
            report_client,
            kept: Mutex::new(BTreeMap::new()),
        }
    }

    /// Keeps each node's good figures and serves them, for `keep_last_good_cycles`
    /// failed cycles, to a node whose call failed (its `up` still says 0: that is this
    /// cycle's news). A kept figure served is a warning; one too old is dropped and its
    /// series end. Nodes no longer listed are forgotten.
    fn serve_last_good(&self, results: &mut [(NodeInfo, NodeResult)], warnings: &mut Vec<String>) {
        let keep = self.cluster.cfg.keep_last_good_cycles;
        let mut kept = lock(&self.kept);
        kept.retain(|ip, _| results.iter().any(|(n, _)| &n.ip == ip));
        for (n, r) in results.iter_mut() {
            let k = kept.entry(n.ip.clone()).or_default();
            let what = format!("node {} ({})", n.name, n.ip);
            if r.stats_error.is_none() {
                k.stats = Some(LastGood::new((r.dt, r.healthy)));
            } else if let Some((dt, healthy)) = serve(&mut k.stats, keep, &what, "stats", warnings)
            {
                r.dt = dt;
                r.healthy = healthy;
            }
            if r.ping_error.is_none() {
                k.ping = Some(LastGood::new((r.load_factor, r.maintenance)));
            } else if let Some((lf, mm)) = serve(&mut k.ping, keep, &what, "ping", warnings) {
                r.load_factor = lf;
                r.maintenance = mm;
            }
        }
    }

    async fn node(&self, n: NodeInfo, family: Family, deadline: Instant) -> (NodeInfo, NodeResult) {
        let cfg = &self.cluster.cfg.collectors.node_stats;
        let timeout = cfg
            .node_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let client = &self.cluster.client;
        let stats = async {
            if family.has_dt_stats() {
                let url = format!("http://{}:{}/stats/dt/DTInitStat", n.url_host(), cfg.port);
                let a = client
                    .node_get("node:/stats/dt/DTInitStat", &url, timeout)
                    .await?;
                let body = String::from_utf8_lossy(&a.body);
                dt_totals(&body)
                    .map(|t| (Some(t), None))
                    .map_err(|m| ClientError::Malformed {
                        route: format!("{} {}", n.ip, "/stats/dt/DTInitStat"),
                        message: m,
                    })
            } else {
                let call = Call::get(
                    "/dashboard/nodes/{id}",
                    format!(
                        "/dashboard/nodes/{}?dataType=current",
                        crate::percent(&n.id)
                    ),
                )
                .until(Instant::now() + timeout);
                let v = client.json(call).await?;
                Ok((
                    None,
                    text(&v["healthStatus"]).map(|h| h.eq_ignore_ascii_case("good")),
                ))
            }
        };
        let ping_call = async {
            if cfg.ping_port == 0 {
                return Ok((None, None));
            }
            let url = format!("http://{}:{}/?ping", n.url_host(), cfg.ping_port);
            let a = client.node_get("node:/?ping", &url, timeout).await?;
            ping(&String::from_utf8_lossy(&a.body)).map_err(|m| ClientError::Malformed {
                route: format!("{} /?ping", n.ip),
                message: m,
            })
        };
        let (s, p) = tokio::join!(stats, ping_call);
        let mut r = NodeResult::default();
        match s {
            Ok((dt, healthy)) => {
                r.dt = dt;
                r.healthy = healthy;
            }
            Err(e) => r.stats_error = Some(e),
        }
        match p {
            Ok((lf, mm)) => {
                r.load_factor = lf;
                r.maintenance = mm;
            }
            Err(e) => r.ping_error = Some(e),
        }
        (n, r)
    }

    pub async fn collect(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let cl = &self.cluster;
        let mut warnings = Vec::new();
        let listed = match self.list_nodes(ctx, &mut warnings).await {
            Ok(l) => l,
            Err(e) => return Err(self.listing_failed(ctx, e, warnings)),
        };
        if let Some(version) = &listed.version {
            cl.client.set_version(version);
        }
        cl.identify(ctx.deadline).await;
        let family = cl.client.family().map_or(Family::Ecs36, |f| f.0);
        let mut results = self
            .poll(listed.nodes, family, ctx.deadline, &mut warnings)
            .await;
        self.serve_last_good(&mut results, &mut warnings);
        let mut b = cl.builder(ctx.started);
        for (n, r) in &results {
            emit(&mut b, n, r, family, cl.cfg.compatibility_names);
            if let Some(e) = &r.stats_error {
                warnings.push(format!("node {} ({}): {e}", n.name, n.ip));
            }
            if let Some(e) = &r.ping_error {
                warnings.push(format!("node {} ({}) ping: {e}", n.name, n.ip));
            }
        }
        if self.report_client {
            cl.report_client(&mut b);
        }
        let snapshot = Snapshot {
            resource_metrics: vec![b.build()],
            resource_logs: Vec::new(),
            warnings,
        };
        outcome(&results, snapshot)
    }

    /// The nodes of `/vdc/nodes`, and the ECS version they run.
    async fn list_nodes(
        &self,
        ctx: &ScrapeContext,
        warnings: &mut Vec<String>,
    ) -> Result<NodeList, ClientError> {
        let v = self
            .cluster
            .fetch(
                "node_stats /vdc/nodes",
                "/vdc/nodes",
                "/vdc/nodes",
                ctx.deadline,
                warnings,
            )
            .await?;
        Ok(NodeList::parse(&v))
    }

    fn listing_failed(
        &self,
        ctx: &ScrapeContext,
        e: ClientError,
        warnings: Vec<String>,
    ) -> ReceiverError {
        let mut b = self.cluster.builder(ctx.started);
        if self.report_client {
            self.cluster.report_client(&mut b);
        }
        let partial = Snapshot {
            resource_metrics: vec![b.build()],
            resource_logs: Vec::new(),
            warnings,
        };
        e.receiver_error(format!("cannot list the nodes: {e}"))
            .with_partial(partial)
    }

    /// Every node's answers, all nodes at once, sorted by node name.
    async fn poll(
        &self,
        nodes: Vec<NodeInfo>,
        family: Family,
        deadline: Instant,
        warnings: &mut Vec<String>,
    ) -> Vec<(NodeInfo, NodeResult)> {
        let mut tasks = tokio::task::JoinSet::new();
        let me = Arc::new(Self::new(self.cluster.clone(), false));
        for n in nodes {
            let me = me.clone();
            // Spawned tasks do not inherit the span: hand it over, so the calls stay
            // children of the cycle's trace.
            tasks.spawn(
                async move { me.node(n, family, deadline).await }
                    .instrument(tracing::Span::current()),
            );
        }
        let mut results = Vec::new();
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(x) => results.push(x),
                Err(e) => warnings.push(format!("node task failed: {e}")),
            }
        }
        results.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        results
    }
}

/// The kept value of a failed call while young enough (with a warning), else `None`.
fn serve<T: Clone>(
    kept: &mut Option<LastGood<T>>,
    keep: u32,
    what: &str,
    call: &str,
    warnings: &mut Vec<String>,
) -> Option<T> {
    let k = kept.as_mut()?;
    match k.fail(keep) {
        Failed::Served(n) => {
            warnings.push(format!(
                "{what} {call}: serving the last good answer ({n} of {keep} cycles)"
            ));
            Some(k.value.clone())
        }
        Failed::Expired => {
            *kept = None;
            warnings.push(format!(
                "{what} {call}: the last good answer is too old and its series expired"
            ));
            None
        }
    }
}

/// The cycle's result: an authentication failure of any node, or no node answering its
/// stats call, fails it (with what was read).
fn outcome(
    results: &[(NodeInfo, NodeResult)],
    snapshot: Snapshot,
) -> Result<Snapshot, ReceiverError> {
    let all_failed = !results.is_empty() && results.iter().all(|(_, r)| r.stats_error.is_some());
    if let Some((_, r)) = results
        .iter()
        .find(|(_, r)| r.stats_error.as_ref().is_some_and(|e| e.is_login_refused()))
    {
        let e = r
            .stats_error
            .clone()
            .unwrap_or(ClientError::Setup(String::new()));
        return Err(e.receiver_error(e.to_string()).with_partial(snapshot));
    }
    if all_failed {
        return Err(
            ReceiverError::new("unavailable", "no node answered its stats call")
                .with_partial(snapshot),
        );
    }
    Ok(snapshot)
}

fn emit(b: &mut SnapshotBuilder, n: &NodeInfo, r: &NodeResult, family: Family, compat_on: bool) {
    let node = [n.name.as_str(), n.ip.as_str()];
    let with = |state| [n.name.as_str(), n.ip.as_str(), state];
    let ip = [n.ip.as_str()];
    let answered = r.stats_error.is_none();
    NODE_UP.record(b, i64::from(answered && r.healthy != Some(false)), node);
    if family.has_dt_stats() {
        emit_dt(b, r.dt, node, with, ip, compat_on);
    }
    match r.load_factor {
        Some(lf) => {
            NODE_LOAD.record(b, lf, node);
            if compat_on {
                compat::ACTIVE_CONNECTIONS.record(b, lf, ip);
            }
        }
        None if r.ping_error.is_some() => {
            NODE_LOAD.stale(b, node);
            if compat_on {
                compat::ACTIVE_CONNECTIONS.stale(b, ip);
            }
        }
        None => {}
    }
    match r.maintenance {
        Some(m) => NODE_MAINTENANCE.record(b, i64::from(m), node),
        None if r.ping_error.is_some() => NODE_MAINTENANCE.stale(b, node),
        None => {}
    }
}

/// The directory tables, or staleness markers for a node that did not answer.
fn emit_dt<'a>(
    b: &mut SnapshotBuilder,
    dt: Option<(u64, u64, u64)>,
    node: [&'a str; 2],
    with: impl Fn(&'a str) -> [&'a str; 3],
    ip: [&str; 1],
    compat_on: bool,
) {
    let Some((total, unready, unknown)) = dt else {
        for s in ["total", "unready", "unknown"] {
            NODE_DT.stale(b, with(s));
        }
        NODE_DT_READY.stale(b, node);
        if compat_on {
            for d in [compat::DT_TOTAL, compat::DT_UNREADY, compat::DT_UNKNOWN] {
                d.stale(b, ip);
            }
        }
        return;
    };
    NODE_DT.record(b, total, with("total"));
    NODE_DT.record(b, unready, with("unready"));
    NODE_DT.record(b, unknown, with("unknown"));
    if total > 0 {
        NODE_DT_READY.record(
            b,
            total.saturating_sub(unready + unknown) as f64 / total as f64,
            node,
        );
    }
    if compat_on {
        compat::DT_TOTAL.record(b, total, ip);
        compat::DT_UNREADY.record(b, unready, ip);
        compat::DT_UNKNOWN.record(b, unknown, ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dt_totals_take_the_untyped_entry_and_accept_floats() {
        let doc = "<x><entry><total_dt_num>384.0</total_dt_num><unready_dt_num>12.0</unready_dt_num><unknown_dt_num>0</unknown_dt_num></entry><entry><type>OB</type><total_dt_num>256</total_dt_num><unready_dt_num>8</unready_dt_num></entry></x>";
        assert_eq!(dt_totals(doc), Ok((384, 12, 0)));
        let typed_only = "<x><entry><type>A</type><total_dt_num>10</total_dt_num></entry><entry><type>B</type><total_dt_num>5</total_dt_num><unready_dt_num>1</unready_dt_num></entry></x>";
        assert_eq!(dt_totals(typed_only), Ok((15, 1, 0)));
        assert!(dt_totals("<x><entry><total_dt_num>").is_err());
        assert!(dt_totals("<x></x>").is_err());
    }

    #[test]
    fn node_addresses_in_every_form() {
        assert_eq!(node_address("10.1.2.3").as_deref(), Some("10.1.2.3"));
        assert_eq!(
            node_address("10.247.179.238:11001:20069:10901").as_deref(),
            Some("10.247.179.238")
        );
        assert_eq!(node_address("fd00::10").as_deref(), Some("fd00::10"));
        assert_eq!(node_address("[fd00::10]").as_deref(), Some("fd00::10"));
        assert_eq!(
            node_address("node1.ecs.example").as_deref(),
            Some("node1.ecs.example")
        );
        assert_eq!(node_address(" "), None);
        let n = NodeInfo {
            name: "n".into(),
            id: "i".into(),
            ip: "fd00::10".into(),
        };
        assert_eq!(n.url_host(), "[fd00::10]");
    }

    #[test]
    fn ping_items() {
        let doc = "<PingList xmlns=\"x\"><PingItem><Name>LOAD_FACTOR</Name><Value>42</Value></PingItem><PingItem><Name>MAINTENANCE_MODE</Name><Status>OFF</Status></PingItem></PingList>";
        assert_eq!(ping(doc), Ok((Some(42.0), Some(false))));
    }
}
