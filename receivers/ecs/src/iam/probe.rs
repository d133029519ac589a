//! Reachability of authentication providers' servers (`server_urls` of
//! `/vdc/admin/authnproviders/{id}`): a TCP connect, then for `ldap://` an anonymous
//! RootDSE search — no bind, no credentials — whose answer proves an LDAP server is
//! there. `ldaps://` stops at the TCP connect (a TLS handshake would need the provider's
//! CA). Each probe has its own timeout.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

/// An LDAPv3 SearchRequest for the RootDSE: message 1, base "", scope base, filter
/// (objectClass=*), no attributes.
const ROOT_DSE_SEARCH: [u8; 39] = [
    0x30, 0x25, 0x02, 0x01, 0x01, 0x63, 0x20, 0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02,
    0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0x87, 0x0b, b'o', b'b', b'j', b'e', b'c', b't',
    b'C', b'l', b'a', b's', b's', 0x30, 0x00,
];

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// `host:port` as the provider lists it.
    pub server: String,
    pub up: bool,
    /// Until the connect (and the LDAP answer) or the failure.
    pub took: Duration,
    /// Why it is down: `refused`, `timeout`, `unresolved`, `not_ldap`, `bad_url`, ...
    pub error: Option<&'static str>,
}

/// Scheme, host and port of a server URL (`ldap://h:389`, `ldaps://h`, `h:389`,
/// `ldap://[2001:db8::1]:389`); user information before `@` is dropped.
pub fn parse_url(url: &str) -> Option<(&str, String, u16)> {
    let (scheme, rest) = url.trim().split_once("://").unwrap_or(("ldap", url.trim()));
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = if scheme.eq_ignore_ascii_case("ldaps") {
        636
    } else {
        389
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default,
            None => return None,
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), default),
        }
    };
    (!host.is_empty()).then_some((scheme, host, port))
}

pub async fn probe(url: &str, deadline: Duration) -> Probe {
    let started = Instant::now();
    let down = |server: String, error| Probe {
        server,
        up: false,
        took: started.elapsed(),
        error: Some(error),
    };
    let Some((scheme, host, port)) = parse_url(url) else {
        // Not the URL itself: it may carry credentials.
        return down("(unreadable URL)".to_owned(), "bad_url");
    };
    let server = format!("{host}:{port}");
    let work = async {
        let mut s = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "refused",
                std::io::ErrorKind::NotFound => "unresolved",
                _ => "unreachable",
            })?;
        if scheme.eq_ignore_ascii_case("ldap") {
            s.write_all(&ROOT_DSE_SEARCH).await.map_err(|_| "closed")?;
            let mut first = [0u8; 1];
            let n = s.read(&mut first).await.map_err(|_| "closed")?;
            // Every LDAP message is a BER SEQUENCE.
            if n == 0 || first[0] != 0x30 {
                return Err("not_ldap");
            }
        }
        Ok::<_, &'static str>(())
    };
    match timeout(deadline, work).await {
        Ok(Ok(())) => Probe {
            server,
            up: true,
            took: started.elapsed(),
            error: None,
        },
        Ok(Err(e)) => down(server, e),
        Err(_) => down(server, "timeout"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(
            parse_url("ldap://10.0.0.1:389"),
            Some(("ldap", "10.0.0.1".into(), 389))
        );
        assert_eq!(
            parse_url("ldaps://ad.corp.example"),
            Some(("ldaps", "ad.corp.example".into(), 636))
        );
        assert_eq!(
            parse_url("ldap://[2001:db8::1]:1389/"),
            Some(("ldap", "2001:db8::1".into(), 1389))
        );
        assert_eq!(
            parse_url("ldaps://[2001:db8::1]"),
            Some(("ldaps", "2001:db8::1".into(), 636))
        );
        assert_eq!(
            parse_url("ldap://bind:secret@dc1.corp:3268"),
            Some(("ldap", "dc1.corp".into(), 3268))
        );
        assert_eq!(parse_url("ldap://"), None);
    }

    #[test]
    fn the_root_dse_search_is_well_formed_ber() {
        // SEQUENCE length covers the rest; the SearchRequest's length covers its tail.
        assert_eq!(ROOT_DSE_SEARCH[1] as usize, ROOT_DSE_SEARCH.len() - 2);
        assert_eq!(ROOT_DSE_SEARCH[6] as usize, ROOT_DSE_SEARCH.len() - 7);
    }
}
