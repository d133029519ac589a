use std::path::Path;

use pipeline::config::Secret;
use pipeline::tls::TlsServerSettings;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use testkit::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn problems(c: &HttpClientConfig) -> Vec<String> {
    let mut p = Problems::default();
    c.validate("receivers.http/a", &mut p);
    p.into_vec().into_iter().map(|p| p.to_string()).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A CA, a server certificate for `localhost` and a client certificate, all in PEM files.
struct Pki {
    ca: PathBuf,
    server: TlsServerSettings,
    client_cert: PathBuf,
    client_key: PathBuf,
    _dir: TempDir,
}

fn pki() -> Pki {
    let dir = TempDir::new("pull-tls");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into()]);
    let (client_cert, client_key) = leaf(vec!["agent".into()]);
    let ca = write(dir.path(), "ca.pem", &ca_cert.pem());
    Pki {
        server: TlsServerSettings {
            cert_file: write(dir.path(), "server.pem", &server_cert),
            key_file: write(dir.path(), "server.key", &server_key),
            client_ca_file: Some(ca.clone()),
        },
        ca,
        client_cert: write(dir.path(), "client.pem", &client_cert),
        client_key: write(dir.path(), "client.key", &client_key),
        _dir: dir,
    }
}

/// A TLS server that answers each request with the request's head as its body.
async fn echo_server(tls: &TlsServerSettings) -> u16 {
    let acceptor = tokio_rustls::TlsAcceptor::from(pipeline::tls::server_config(tls).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    head.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.write_all(&head).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

async fn get(c: &HttpClientConfig) -> Result<String, String> {
    let client = c.build().map_err(|e| e.to_string())?;
    let resp = client
        .client
        .get(format!("{}/x", client.base))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| crate::telemetry::error_chain(&e))?;
    resp.text().await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_client_certificate_signed_by_the_servers_ca_is_accepted_and_required() {
    let pki = pki();
    let port = echo_server(&pki.server).await;
    let mut c = HttpClientConfig {
        endpoint: format!("https://localhost:{port}"),
        tls: TlsClientConfig {
            ca_file: Some(pki.ca.clone()),
            cert_file: Some(pki.client_cert.clone()),
            key_file: Some(pki.client_key.clone()),
            ..TlsClientConfig::default()
        },
        ..HttpClientConfig::default()
    };
    assert!(problems(&c).is_empty(), "{:?}", problems(&c));
    let head = get(&c).await.unwrap();
    assert!(head.starts_with("GET /x HTTP/1.1"), "{head}");

    // The address, checked against the name the certificate carries.
    c.endpoint = format!("https://127.0.0.1:{port}/");
    c.tls.server_name = Some("localhost".into());
    assert!(get(&c).await.is_ok());

    c.tls.cert_file = None;
    c.tls.key_file = None;
    assert!(
        get(&c).await.is_err(),
        "the server wants a client certificate"
    );
}

#[tokio::test]
async fn a_server_certificate_of_another_ca_is_refused_unless_told_not_to_check() {
    let (ours, theirs) = (pki(), pki());
    let server = TlsServerSettings {
        client_ca_file: None,
        ..theirs.server.clone()
    };
    let port = echo_server(&server).await;
    let mut c = HttpClientConfig {
        endpoint: format!("https://localhost:{port}"),
        tls: TlsClientConfig {
            ca_file: Some(ours.ca.clone()),
            ..TlsClientConfig::default()
        },
        ..HttpClientConfig::default()
    };
    assert!(get(&c).await.is_err());
    c.tls.ca_file = None;
    c.tls.insecure_skip_verify = true;
    assert!(get(&c).await.is_ok());
}

#[tokio::test]
async fn headers_and_auth_go_with_every_call() {
    let pki = pki();
    let server = TlsServerSettings {
        client_ca_file: None,
        ..pki.server.clone()
    };
    let port = echo_server(&server).await;
    let token = write(pki._dir.path(), "token", "t0k3n\n");
    let mut c = HttpClientConfig {
        endpoint: format!("https://localhost:{port}"),
        tls: TlsClientConfig {
            ca_file: Some(pki.ca.clone()),
            ..TlsClientConfig::default()
        },
        headers: BTreeMap::from([("X-Tenant".into(), "blue".into())]),
        auth: Some(Auth::Bearer(BearerAuth { token_file: token })),
        ..HttpClientConfig::default()
    };
    let head = get(&c).await.unwrap().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer t0k3n\r\n"), "{head}");
    assert!(head.contains("x-tenant: blue\r\n"), "{head}");

    c.auth = Some(Auth::Basic(BasicAuth {
        username: "user".into(),
        password: Some(Secret::new("pass")),
        password_file: None,
    }));
    let head = get(&c).await.unwrap();
    assert!(
        head.contains("authorization: Basic dXNlcjpwYXNz\r\n"),
        "{head}"
    );
}

#[test]
fn auth_headers_are_sensitive_and_read_their_files() {
    let dir = TempDir::new("pull-auth");
    let basic = Auth::Basic(BasicAuth {
        username: "Aladdin".into(),
        password: None,
        password_file: Some(write(dir.path(), "pw", "open sesame\n")),
    });
    let h = basic.header().unwrap();
    assert_eq!(h, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert!(h.is_sensitive());
    let missing = Auth::Bearer(BearerAuth {
        token_file: dir.path().join("nope"),
    });
    assert!(
        missing
            .header()
            .unwrap_err()
            .to_string()
            .starts_with("cannot read ")
    );
    let empty = Auth::Bearer(BearerAuth {
        token_file: write(dir.path(), "empty", "\n"),
    });
    assert!(
        empty
            .header()
            .unwrap_err()
            .to_string()
            .ends_with(" is empty")
    );
}

#[test]
fn problems_carry_their_path() {
    let dir = TempDir::new("pull-validate");
    let missing = dir.path().join("nope.pem");
    let c = HttpClientConfig {
        endpoint: String::new(),
        request_timeout: Duration::ZERO,
        tls: TlsClientConfig {
            ca_file: Some(missing.clone()),
            insecure_skip_verify: true,
            cert_file: Some(missing),
            ..TlsClientConfig::default()
        },
        headers: BTreeMap::from([
            ("bad name".into(), "v".into()),
            ("X-Ok".into(), "line\nbreak".into()),
        ]),
        auth: Some(Auth::Basic(BasicAuth::default())),
    };
    let p = problems(&c);
    let at = |prefix: &str| p.iter().any(|m| m.starts_with(prefix));
    for prefix in [
        "receivers.http/a.endpoint: required",
        "receivers.http/a.request_timeout: must be greater than 0s",
        "receivers.http/a.tls.ca_file: cannot read certificates from ",
        "receivers.http/a.tls: set ca_file or insecure_skip_verify, not both",
        "receivers.http/a.tls.key_file: cert_file is set, so key_file is required",
        "receivers.http/a.headers.bad name: \"bad name\" is not a valid header name",
        "receivers.http/a.headers.X-Ok: the value is not a valid header value",
        "receivers.http/a.auth.basic.username: required",
        "receivers.http/a.auth.basic: set password or password_file",
    ] {
        assert!(at(prefix), "{prefix} not in {p:#?}");
    }
    assert_eq!(p.len(), 9, "{p:#?}");
    assert!(
        !p.iter().any(|m| m.contains("line\nbreak")),
        "values are never quoted"
    );

    let ok = HttpClientConfig {
        endpoint: "https://user:pw@host:443".into(),
        ..HttpClientConfig::default()
    };
    assert_eq!(
        problems(&ok),
        ["receivers.http/a.endpoint: give the credentials in auth, not in the URL (it is logged)"]
    );
}

#[test]
fn read_from_yaml_like_trees() {
    let c: HttpClientConfig = serde_json::from_value(serde_json::json!({
        "endpoint": "https://h:8443/",
        "request_timeout": "5s",
        "tls": {"ca_file": "/ca.pem", "server_name": "h.example"},
        "auth": {"bearer": {"token_file": "/var/run/token"}},
    }))
    .unwrap();
    assert_eq!(c.base_url(), "https://h:8443");
    assert_eq!(c.request_timeout, Duration::from_secs(5));
    assert_eq!(c.tls.server_name.as_deref(), Some("h.example"));
    assert!(matches!(c.auth, Some(Auth::Bearer(_))));
    let basic: Auth =
        serde_json::from_value(serde_json::json!({"basic": {"username": "u", "password": "p"}}))
            .unwrap();
    assert!(matches!(basic, Auth::Basic(ref b) if b.password == Some(Secret::new("p"))));
}
