//! /metrics over TLS, with a certificate made for the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use exporter_prometheus::{PrometheusConfig, PrometheusExporter};
use pipeline::tls::TlsServerSettings;
use pipeline::{Batch, Exporter, MetricDesc, PipelineStats, SnapshotBuilder, kv, resource, scope};
use rustls_pki_types::{CertificateDer, ServerName};
use testkit::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn metrics_are_served_over_tls() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = TempDir::new("prom-tls");
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let cfg = PrometheusConfig {
        endpoint: "127.0.0.1:0".into(),
        tls: Some(TlsServerSettings {
            cert_file,
            key_file,
            client_ca_file: None,
        }),
        ..PrometheusConfig::default()
    };
    let exp = PrometheusExporter::start("prometheus", &cfg, PipelineStats::new())
        .await
        .unwrap();
    let mut b = SnapshotBuilder::new(
        resource([kv("service.name", "t")]),
        scope("t", "1"),
        SystemTime::now(),
    );
    b.gauge(&MetricDesc::new("tls.check", "", "Over TLS"), 42, []);
    exp.export(Arc::new(Batch::new("r".into(), vec![b.build()])))
        .await
        .unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.cert.der().to_vec()))
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(pipeline::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(exp.local_addr())
        .await
        .unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("\ntls_check{instance") || text.contains("\ntls_check{job"),
        "{text}"
    );

    // Plain HTTP on the TLS port gets no metrics.
    let mut plain = tokio::net::TcpStream::connect(exp.local_addr())
        .await
        .unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let read = plain.read_to_end(&mut raw).await;
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // What the server did instead: it closed the connection, at most after a TLS alert
    // record (content type 21), never with an HTTP answer.
    match read {
        Ok(_) => assert!(raw.is_empty() || raw[0] == 21, "not a TLS alert: {raw:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    exp.shutdown().await;
}
