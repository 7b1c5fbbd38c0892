//! The TLS listener: MCP over https with a certificate from a test CA, plain http
//! refused on the TLS port, and a certificate rotation that new connections see
//! while an open connection goes on with the one it was made with.

use std::{sync::Arc, time::Duration};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use reqwest::StatusCode;
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Scratch, ServerProcess, TestIssuer, TestKey, issuer::Mode};

struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "box-mcp test CA");
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for 127.0.0.1 named `cn`: (certificate PEM, key PEM, DER).
    fn leaf(&self, cn: &str) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

/// A raw TLS connection to the server, trusting `ca`.
async fn connect(port: u16, ca: &str) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap().to_owned(), tcp)
        .await
        .unwrap()
}

fn leaf_der(stream: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// One keep-alive `GET /healthz` on `stream`; the status line.
async fn healthz(stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn mcp_over_tls_and_a_rotation_without_dropped_connections() {
    let ca = TestCa::new();
    let dir = Scratch::new();
    let (cert, key) = (dir.path("server.crt"), dir.path("server.key"));
    let (first_pem, first_key, first_der) = ca.leaf("first");
    std::fs::write(&cert, &first_pem).unwrap();
    std::fs::write(&key, &first_key).unwrap();

    let signing = TestKey::generate("key-1");
    let idp = TestIssuer::start(&[&signing], Mode::Up).await;
    let server = ServerProcess::start(
        &idp.url,
        &[
            ("BOX_MCP_TLS__CERT_FILE", cert.to_str().unwrap()),
            ("BOX_MCP_TLS__KEY_FILE", key.to_str().unwrap()),
            ("BOX_MCP_TLS__RELOAD_INTERVAL", "200ms"),
        ],
    )
    .await
    .over_tls(&ca.pem());
    server.wait_ready(Duration::from_secs(10)).await;
    assert!(
        server.resource.starts_with("https://127.0.0.1:"),
        "{}",
        server.resource
    );

    // MCP over TLS: the canonical URL (the token audience) is the https one.
    let token = signing.sign(&idp.claims(&server.resource, "alice"));
    let me = server.whoami(&token).await;
    assert_eq!(me["subject"], "alice");
    let metadata: serde_json::Value = server
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], server.resource);

    // Plain http on the TLS port gets no answer.
    let plain = server.base.replacen("https://", "http://", 1);
    let refused = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        refused.is_err() || refused.unwrap().status() != StatusCode::OK,
        "plain http must not be served on the TLS port"
    );

    // An open connection, made with the first certificate.
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut open = connect(port, &ca.pem()).await;
    assert_eq!(leaf_der(&open), first_der);
    assert_eq!(healthz(&mut open).await, "HTTP/1.1 200 OK");

    // Rotate: a new pair, written the way a careless tool would (key last).
    let (next_pem, next_key, next_der) = ca.leaf("second");
    std::fs::write(&cert, &next_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(&key, &next_key).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = connect(port, &ca.pem()).await;
        if leaf_der(&fresh) == next_der {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections never got the rotated certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The connection opened before the rotation still works.
    assert_eq!(healthz(&mut open).await, "HTTP/1.1 200 OK");
    assert_eq!(server.whoami(&token).await["subject"], "alice");

    let logs = server.stop().await;
    assert!(
        logs.iter().any(|l| l.contains("TLS certificate reloaded")),
        "the rotation was logged"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("does not belong to the certificate")),
        "the half-written pair was refused and logged, not used"
    );
    assert!(
        !logs
            .iter()
            .any(|l| l.contains("BEGIN PRIVATE KEY") || l.contains("PRIVATE KEY-----")),
        "no key material in the log"
    );
}

#[tokio::test]
async fn a_broken_certificate_pair_stops_the_start_with_its_reason() {
    let ca = TestCa::new();
    let dir = Scratch::new();
    let (cert_pem, _, _) = ca.leaf("a");
    let (_, other_key, _) = ca.leaf("b");
    let (cert, key) = (dir.path("a.crt"), dir.path("b.key"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, other_key).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_box-mcp"))
        .args(["config", "check"])
        .env_clear()
        .env("BOX_MCP_TLS__CERT_FILE", &cert)
        .env("BOX_MCP_TLS__KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not belong to the certificate"),
        "{stderr}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_box-mcp"))
        .args(["config", "check"])
        .env_clear()
        .env("BOX_MCP_TLS__CERT_FILE", &cert)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tls.key_file"), "{stderr}");
}

#[test]
fn config_check_refuses_a_plain_http_public_url_or_issuer_off_loopback() {
    let check = |vars: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_box-mcp"));
        command.args(["config", "check"]).env_clear();
        for (k, v) in vars {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, stderr) = check(&[("BOX_MCP_PUBLIC_BASE_URL", "http://mcp.example.com")]);
    assert!(
        !ok && stderr.contains("public_base_url") && stderr.contains("https"),
        "{stderr}"
    );
    let (ok, stderr) = check(&[("BOX_MCP_AUTH__ISSUER", "http://idp.example.com/realms/x")]);
    assert!(
        !ok && stderr.contains("auth.issuer") && stderr.contains("https"),
        "{stderr}"
    );
    // https, or loopback, passes; so does the logged lab switch.
    assert!(check(&[("BOX_MCP_PUBLIC_BASE_URL", "https://mcp.example.com")]).0);
    assert!(check(&[("BOX_MCP_PUBLIC_BASE_URL", "http://127.0.0.1:8000")]).0);
    assert!(
        check(&[
            ("BOX_MCP_PUBLIC_BASE_URL", "http://mcp.example.com"),
            ("BOX_MCP_ALLOW_INSECURE_HTTP", "true"),
        ])
        .0
    );
}
