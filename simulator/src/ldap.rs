//! Directory servers for the model's authentication providers: the agent probes each
//! provider's `server_urls`, and in the demo and the tests those must be real sockets. Each
//! answers any LDAP request with a successful SearchResultDone — enough for an anonymous
//! RootDSE probe, nothing more (no bind, no data).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// LDAPMessage { messageID 1, searchResDone { resultCode success, "", "" } }.
const SEARCH_DONE: [u8; 14] = [
    0x30, 0x0c, 0x02, 0x01, 0x01, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
];

pub async fn listen(
    ip: Ipv4Addr,
    port: u16,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(ip), port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => a,
            };
            let Ok((mut stream, _)) = accepted else {
                continue;
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                loop {
                    let n = tokio::select! {
                        _ = stop.cancelled() => return,
                        r = stream.read(&mut buf) => r,
                    };
                    match n {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            if stream.write_all(&SEARCH_DONE).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Ok((addr, task))
}
