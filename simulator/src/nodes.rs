//! Each node's own ports: 9101 serves `/stats/dt/DTInitStat` (ECS only; ObjectScale 4.1
//! dropped it) and 9020 the S3 `?ping` (load factor, maintenance mode). Every node listens
//! on its own loopback address (127.x.y.n), the `mgmt_ip` that /vdc/nodes reports, so a
//! client reaches node n at `<mgmt_ip>:9101` exactly as on a real cluster.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use pipeline::http_server::Body;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::faults::Logged;
use crate::model::Version;
use crate::server::Sim;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    DtStats,
    Ping,
}

impl Port {
    pub fn fault_path(self) -> &'static str {
        match self {
            Port::DtStats => "node:9101",
            Port::Ping => "node:ping",
        }
    }
}

fn fmt_num(v: u64, version: Version) -> String {
    // ECS 3.5's dtquery writes its counts as floats ("384.0"); later versions as integers.
    if version == Version::Ecs35 {
        format!("{v}.0")
    } else {
        v.to_string()
    }
}

fn dt_body(sim: &Sim, node: usize) -> String {
    let m = sim.model();
    let o = sim.faults.overrides();
    let (total, unready, unknown) = m.dt_stats(node, &o);
    let v = m.cfg.version;
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<dt_init_stat>\n");
    s.push_str(&format!(
        "  <entry>\n    <total_dt_num>{}</total_dt_num>\n    <unready_dt_num>{}</unready_dt_num>\n    <unknown_dt_num>{}</unknown_dt_num>\n  </entry>\n",
        fmt_num(total, v),
        fmt_num(unready, v),
        fmt_num(unknown, v)
    ));
    if unready > 0 {
        // With problems, dtquery adds one entry per directory-table type that is behind.
        for (kind, share) in [("OB", 2u64), ("LS", 1)] {
            let n = unready * share / 3;
            s.push_str(&format!(
                "  <entry>\n    <type>{kind}</type>\n    <total_dt_num>{}</total_dt_num>\n    <unready_dt_num>{}</unready_dt_num>\n    <unknown_dt_num>0</unknown_dt_num>\n  </entry>\n",
                fmt_num(total * share / 3, v),
                fmt_num(n, v)
            ));
        }
    }
    s.push_str("</dt_init_stat>\n");
    s
}

fn ping_body(sim: &Sim, node: usize, only_load_factor: bool) -> String {
    let m = sim.model();
    let lf = m.load_factor(node, sim.clock.now());
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><PingList xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    s.push_str(&format!("<PingItem><Name>LOAD_FACTOR</Name><Value>{lf}</Value><Status>OK</Status><Text>Load Factor</Text></PingItem>"));
    if !only_load_factor {
        let (status, text) = if sim.faults.overrides().maintenance.contains(&node) {
            ("ON", "Data Node is in Maintenance Mode")
        } else {
            ("OFF", "Data Node is Available")
        };
        s.push_str(&format!("<PingItem><Name>MAINTENANCE_MODE</Name><Status>{status}</Status><Text>{text}</Text></PingItem>"));
    }
    s.push_str("</PingList>");
    s
}

async fn answer(sim: Arc<Sim>, node: usize, port: Port, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let effect = sim.faults.effect(req.method().as_str(), port.fault_path());
    if effect.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(effect.latency_ms)).await;
    }
    if effect.timeout {
        tokio::time::sleep(Duration::from_secs(86_400)).await;
    }
    let (status, mut body, route) = if let Some((status, _)) = effect.error {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            b"injected fault".to_vec(),
            "(fault)",
        )
    } else {
        match (port, path.trim_end_matches('/')) {
            (Port::DtStats, "/stats/dt/DTInitStat") => (
                StatusCode::OK,
                dt_body(&sim, node).into_bytes(),
                "/stats/dt/DTInitStat",
            ),
            (Port::Ping, "") if query.split('&').any(|p| p == "ping") => {
                let lf_only = query.split('&').any(|p| p == "item=load-factor");
                (
                    StatusCode::OK,
                    ping_body(&sim, node, lf_only).into_bytes(),
                    "/?ping",
                )
            }
            _ => (StatusCode::NOT_FOUND, b"not found".to_vec(), "(unknown)"),
        }
    };
    if effect.malformed && status.is_success() {
        body.truncate(body.len() / 2);
    }
    sim.log.record(Logged {
        at_ms: sim.clock.now_ms(),
        method: "GET".into(),
        route: format!("{} {route}", port.fault_path()),
        path: format!("node{node}:{path}"),
        status: status.as_u16(),
        millis: started.elapsed().as_millis() as u64,
    });
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// Binds `ip:port`; accepts for one node until `stop`. A node that is down (faults)
/// closes every connection at once, including those opened before it went down.
pub async fn listen(
    sim: Arc<Sim>,
    node: usize,
    ip: Ipv4Addr,
    port_no: u16,
    port: Port,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(ip), port_no)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else { continue };
            if sim.faults.node_down(node) {
                drop(stream);
                continue;
            }
            let sim = sim.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let sim = sim.clone();
                    async move {
                        // A node that went down since the connection opened: failing the
                        // service makes hyper drop the connection, as a dead host would.
                        if sim.faults.node_down(node) {
                            return Err(std::io::Error::other("node down"));
                        }
                        Ok(answer(sim, node, port, req).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}
