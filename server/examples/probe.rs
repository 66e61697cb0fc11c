//! The attacks of issue 11 against the real server binary in its own process, with the
//! server's resident memory, disk and CPU time read from `/proc` after each: the figures of
//! the README's Security table.
//!
//! `cargo build --release -p srvra-sync-server && cargo run --release -p srvra-sync-server --example probe`

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use srvra_sync::core::model::operation::{OpId, OpKind, Operation};
use srvra_sync::core::model::slot::Slot;
use srvra_sync::core::protocol::{encode, ClientMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    child: Child,
    addr: SocketAddr,
    data: tempfile::TempDir,
}

impl Server {
    async fn start(flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let binary = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/release/srvra-sync-server"
        );
        let child = Command::new(binary)
            .args(["--listen", &addr.to_string(), "--data"])
            .arg(data.path())
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("build it first: cargo build --release -p srvra-sync-server");
        for _ in 0..200 {
            if TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self { child, addr, data }
    }

    fn status(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Resident and peak memory, MB.
    fn memory(&self) -> (u64, u64) {
        (self.status("VmRSS:") / 1024, self.status("VmHWM:") / 1024)
    }

    /// CPU time used so far, s.
    fn cpu(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = fields
            .get(11..13)
            .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
        ticks as f64 / 100.0
    }

    fn disk_mb(&self) -> u64 {
        std::fs::read_dir(self.data.path())
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum::<u64>()
            })
            .unwrap_or(0)
            / (1024 * 1024)
    }

    async fn health_ms(&self) -> Option<f64> {
        let started = Instant::now();
        let mut stream = TcpStream::connect(self.addr).await.ok()?;
        let request = format!(
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_string(&mut out))
            .await
            .ok()?
            .ok()?;
        out.contains("200 OK")
            .then(|| started.elapsed().as_secs_f64() * 1000.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn join(addr: SocketAddr, id: &str, room: &str) -> Option<Ws> {
    let (mut ws, _) = connect_async(format!("ws://{addr}/sync")).await.ok()?;
    let hello = ClientMessage::hello(id, room, 0);
    ws.send(Message::Binary(encode(&hello, None).into()))
        .await
        .ok()?;
    Some(ws)
}

fn set(id: &str, seq: u64, key: &str, value: serde_json::Value) -> Operation {
    Operation {
        id: OpId {
            client: Arc::from(id),
            seq,
        },
        key: key.into(),
        fields: vec![],
        kind: OpKind::Set(Arc::new(value)),
        base_version: 0,
        timestamp: 0.0,
        batch: None,
        conflict: Default::default(),
    }
}

async fn send(ws: &mut Ws, ops: Vec<Operation>) -> Option<()> {
    let frame = encode(&ClientMessage::Changes { ops, atomic: false }, Some(1024));
    ws.send(Message::Binary(frame.into())).await.ok()
}

/// Reads frames for `for_ms`, or until the server closes; whether it closed.
async fn drain(ws: &mut Ws, for_ms: u64) -> bool {
    let deadline = Instant::now() + Duration::from_millis(for_ms);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

fn row(attack: &str, server: &Server, note: String) {
    let (rss, peak) = server.memory();
    println!(
        "| {attack} | {rss} MB (peak {peak} MB) | {} MB | {:.2} s | {note} |",
        server.disk_mb(),
        server.cpu()
    );
}

#[tokio::main]
async fn main() {
    println!("| attack | server memory after | disk | server CPU | what happened |");
    println!("| --- | --- | --- | --- | --- |");

    // LZ4: 60 frames of a 7 MiB compressible string (~30 KB each on the wire).
    let server = Server::start(&[]).await;
    let mut ws = join(server.addr, "giant", "room").await.unwrap();
    let mut wire = 0;
    for seq in 1..=60 {
        let op = set("giant", seq, "k", json!("x".repeat(7 * 1024 * 1024)));
        let frame = encode(
            &ClientMessage::Changes {
                ops: vec![op],
                atomic: false,
            },
            Some(1024),
        );
        wire += frame.len();
        ws.send(Message::Binary(frame.into())).await.unwrap();
    }
    drain(&mut ws, 3000).await;
    row(
        "60 LZ4 frames of a 7 MiB string",
        &server,
        format!("{} KB sent; each refused VALUE_TOO_LARGE", wire / 1024),
    );

    // A room filled to its byte limit, then joined by 6 readers and one that never reads.
    for seq in 61..200 {
        let noise: String = (0..900 * 1024)
            .map(|i| char::from(b'a' + ((i * 7 + seq as usize * 13) % 26) as u8))
            .collect();
        send(
            &mut ws,
            vec![set("giant", seq, &format!("k{seq}"), json!(noise))],
        )
        .await;
    }
    drain(&mut ws, 3000).await;
    row(
        "room filled with 900 KB values",
        &server,
        "ROOM_FULL past 64 MiB".into(),
    );
    let mut readers = Vec::new();
    for i in 0..6 {
        let mut reader = join(server.addr, &format!("reader{i}"), "room")
            .await
            .unwrap();
        drain(&mut reader, 1500).await;
        readers.push(reader);
    }
    row(
        "6 joins of that room",
        &server,
        "catch-up in parts of about 1 MiB".into(),
    );
    let stuck = join(server.addr, "stuck", "room").await.unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    row(
        "a joiner that never reads, 25 s later",
        &server,
        "dropped after the 20 s send timeout".into(),
    );
    drop((stuck, readers, ws));
    drop(server);

    // Empty rooms: 10,000 joined and left one after another.
    let server = Server::start(&["--room-idle", "1"]).await;
    let started = Instant::now();
    for i in 0..10_000 {
        if let Some(mut ws) = join(server.addr, "walker", &format!("r{i}")).await {
            let _ = ws.close(None).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    row(
        "10,000 empty rooms from one client",
        &server,
        format!(
            "{:.1} s; idle rooms unloaded",
            started.elapsed().as_secs_f64()
        ),
    );

    // Idle connections from one address.
    let mut held = Vec::new();
    let mut refused = 0;
    for i in 0..2000 {
        match join(server.addr, &format!("idle{i}"), "idle").await {
            Some(ws) => held.push(ws),
            None => refused += 1,
        }
    }
    row(
        "2,000 idle WebSockets from one IP",
        &server,
        format!("{} open, {refused} refused (256 per IP)", held.len()),
    );
    drop(held);

    // Connections that never send a request.
    let mut raw = Vec::new();
    for _ in 0..200 {
        if let Ok(stream) = TcpStream::connect(server.addr).await {
            raw.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut closed = 0;
    for stream in &mut raw {
        let mut buf = [0u8; 8];
        if matches!(
            tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        ) {
            closed += 1;
        }
    }
    let health = server.health_ms().await;
    row(
        "200 TCP connections sending nothing",
        &server,
        format!("{closed} closed after 10 s; /health {health:.1?} ms"),
    );
    drop(raw);
    drop(server);

    // Increments on the largest array allowed, with /health asked meanwhile.
    let server = Server::start(&[]).await;
    let mut ws = join(server.addr, "arr", "room").await.unwrap();
    send(
        &mut ws,
        vec![set("arr", 1, "big", json!(vec![0; 1_000_000]))],
    )
    .await;
    send(&mut ws, vec![set("arr", 2, "arr", json!(vec![0; 100_000]))]).await;
    drain(&mut ws, 500).await;
    let cpu_before = server.cpu();
    let ops: Vec<Operation> = (3..303)
        .map(|seq| {
            let mut op = set("arr", seq, "arr", json!(0));
            op.kind = OpKind::Increment(1.0);
            op.fields = vec!["7".into()];
            op.base_version = 1;
            op
        })
        .collect();
    send(&mut ws, ops).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let health = server.health_ms().await;
    drain(&mut ws, 3000).await;
    row(
        "300 increments on a 100,000-element array",
        &server,
        format!(
            "{:.2} s CPU; /health meanwhile {health:.1?} ms; a 1M-element array is refused",
            server.cpu() - cpu_before
        ),
    );

    // Presence memory: 200 clients, then 1,000 tabs over one connection, each with a
    // ~100-byte state (a name, a colour, a cursor).
    let before = server.memory().0;
    let mut present = Vec::new();
    for i in 0..200 {
        let Some(mut ws) = join(server.addr, &format!("p{i}"), "presence").await else {
            continue;
        };
        let state = json!({ "name": format!("Person {i}"), "color": "#e0457b", "cursor": { "x": 0.25, "y": 0.5 } });
        let message = ClientMessage::Presence {
            tab: "t".into(),
            state: Slot::of(state),
        };
        let _ = ws
            .send(Message::Binary(encode(&message, None).into()))
            .await;
        present.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let per_client = (server.memory().0.saturating_sub(before)) * 1024 / 200;
    row(
        "200 clients present (each its own WebSocket)",
        &server,
        format!("about {per_client} KB per client, connection included"),
    );
    let mut ws = join(server.addr, "tabs", "presence-tabs").await.unwrap();
    drain(&mut ws, 300).await;
    let before = server.memory().0;
    for i in 0..1000 {
        let state = json!({ "name": format!("Tab {i}"), "color": "#2f8a4c", "cursor": { "x": 0.25, "y": 0.5 } });
        let message = ClientMessage::Presence {
            tab: format!("t{i}"),
            state: Slot::of(state),
        };
        if ws
            .send(Message::Binary(encode(&message, None).into()))
            .await
            .is_err()
        {
            break;
        }
        if i % 100 == 99 {
            drain(&mut ws, 250).await;
        }
    }
    drain(&mut ws, 1000).await;
    let per_tab = (server.memory().0.saturating_sub(before)) * 1024 * 1024 / 1000;
    row(
        "1,000 tabs present over one connection",
        &server,
        format!("about {per_tab} bytes per present tab (state and bookkeeping)"),
    );
    drop((present, ws));

    // A flood of pings.
    let mut ws = join(server.addr, "flood", "room").await.unwrap();
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let ping = encode(&ClientMessage::Ping { nonce: sent }, None);
        if ws.send(Message::Binary(ping.into())).await.is_err() {
            break;
        }
        sent += 1;
    }
    let closed = drain(&mut ws, 1000).await;
    row(
        "ping flood",
        &server,
        format!("{sent} sent; closed with RATE_LIMITED: {closed}"),
    );
}
