//! `--tls-cert` / `--tls-key`: the server terminates TLS itself. A client that trusts the
//! test's self-signed certificate syncs over `wss://`; plain `ws://` to that port fails;
//! a connection that never finishes its handshake does not hold up others.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::json;
use srvra_sync::core::model::operation::{OpId, OpKind, Operation};
use srvra_sync::core::protocol::{decode, encode, ClientMessage, Limits, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

/// Writes a self-signed certificate for 127.0.0.1 and localhost (openssl CLI).
fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs (scripts/setup.sh installs it)");
    assert!(status.success(), "openssl made a certificate");
    (cert, key)
}

/// A TLS connector that trusts exactly `cert`.
fn trusting(cert: &Path) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(der.unwrap()).unwrap();
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls_stream(
    connector: &TlsConnector,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the trusted certificate")
}

fn set(client: &str, seq: u64, key: &str, value: serde_json::Value) -> Operation {
    Operation {
        id: OpId {
            client: Arc::from(client),
            seq,
        },
        key: key.to_owned(),
        fields: vec![],
        kind: OpKind::Set(Arc::new(value)),
        base_version: 0,
        timestamp: 0.0,
        batch: None,
        conflict: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_syncs_over_wss_and_plain_ws_to_the_tls_port_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server = common::server(dir.path(), |c| c.tls = Some((cert.clone(), key.clone()))).await;
    assert!(server.tls);
    let connector = trusting(&cert);

    // A connection that opens TCP and never says anything does not block the others.
    let _idle = TcpStream::connect(server.addr).await.unwrap();

    let url = format!("wss://{}/sync", server.addr);
    let mut clients = Vec::new();
    for id in ["tls-a", "tls-b"] {
        let stream = tls_stream(&connector, server.addr).await;
        let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), stream)
            .await
            .unwrap();
        let hello = ClientMessage::hello(id, "tls", 0);
        ws.send(Message::Binary(encode(&hello, None).into()))
            .await
            .unwrap();
        assert!(matches!(next(&mut ws).await, ServerMessage::Welcome { .. }));
        clients.push(ws);
    }
    let changes = ClientMessage::Changes {
        ops: vec![set("tls-a", 1, "k", json!("over TLS"))],
        atomic: false,
    };
    clients[0]
        .send(Message::Binary(encode(&changes, None).into()))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut clients[0]).await,
        ServerMessage::Ack { .. }
    ));
    match next(&mut clients[1]).await {
        ServerMessage::Broadcast { changes } => assert_eq!(changes[0].op.key, "k"),
        other => panic!("expected the broadcast, got {other:?}"),
    }

    // HTTPS for the other routes.
    let mut https = tls_stream(&connector, server.addr).await;
    https
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    https.read_to_string(&mut answer).await.ok();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Plain ws:// to the TLS port is not a WebSocket.
    let plain = tokio_tungstenite::connect_async(format!("ws://{}/sync", server.addr));
    let plain = tokio::time::timeout(Duration::from_secs(15), plain)
        .await
        .expect("answers or closes");
    assert!(plain.is_err(), "plain WebSocket on the TLS port must fail");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_certificate_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let mut config = srvra_sync_server::ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_path_buf(),
    );
    config.tls = Some((missing.clone(), missing));
    let error = srvra_sync_server::start(config)
        .await
        .expect_err("refuses to start");
    assert!(error.contains("certificate"), "{error}");
}

async fn next<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> ServerMessage
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("open")
            .expect("frame");
        if let Message::Binary(bytes) = frame {
            match decode(&bytes, Limits::default()).expect("valid frame") {
                // The (empty) presence and catch-up after the welcome.
                ServerMessage::CatchUp { .. }
                | ServerMessage::Snapshot { .. }
                | ServerMessage::Presence { .. } => continue,
                message => return message,
            }
        }
    }
}
