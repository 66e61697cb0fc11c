//! Test helpers: a server on a free loopback port and a protocol-speaking client.
#![allow(dead_code)]

pub mod processes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use srvra_sync::core::model::operation::{OpId, OpKind, Operation};
use srvra_sync::core::protocol::{decode, encode, ClientMessage, Limits, ServerMessage};
use srvra_sync_server::{start, RunningServer, ServerConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

/// Starts a server on 127.0.0.1 with its data in `dir`.
pub async fn server(dir: &std::path::Path, tune: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    tune(&mut config);
    start(config).await.expect("server starts")
}

/// A raw protocol client.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub id: String,
    pub seq: u64,
}

/// Connects without saying hello.
pub async fn connect(addr: SocketAddr) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let (ws, _) = connect_async(format!("ws://{addr}/sync"))
        .await
        .expect("connects");
    ws
}

/// Connects without saying hello, with a 4 KiB receive buffer: a client that stops reading
/// fills its connection after a few frames and the server's sends to it wait (a slow reader).
pub async fn connect_slow_reader(addr: SocketAddr) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let stream = socket.connect(addr).await.expect("connects");
    let (ws, _) =
        tokio_tungstenite::client_async(format!("ws://{addr}/sync"), MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrades");
    ws
}

impl Client {
    /// A new client in `room`: joined from position 0, its catch-up read.
    pub async fn joined(addr: SocketAddr, id: &str, room: &str) -> Self {
        let (mut client, _) = Self::join(addr, id, room, 0).await;
        client.catch_up().await;
        client
    }

    /// Connects, says hello for `room` from `position`, and reads the welcome.
    pub async fn join(addr: SocketAddr, id: &str, room: &str, position: u64) -> (Self, u64) {
        Self::join_with_token(addr, id, room, position, None).await
    }

    /// [`Client::join`] presenting `token`.
    pub async fn join_with_token(
        addr: SocketAddr,
        id: &str,
        room: &str,
        position: u64,
        token: Option<&str>,
    ) -> (Self, u64) {
        match Self::hello(addr, id, room, position, token).await {
            (client, ServerMessage::Welcome { position, .. }) => (client, position),
            (_, other) => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Connects, says hello, and returns the server's first answer (`welcome`, or the
    /// `error` of a refusal).
    pub async fn hello(
        addr: SocketAddr,
        id: &str,
        room: &str,
        position: u64,
        token: Option<&str>,
    ) -> (Self, ServerMessage) {
        Self::greet(addr, id, room, position, token, false).await
    }

    /// [`Client::hello`], asking for a snapshot instead of a catch-up when `snapshot`.
    pub async fn greet(
        addr: SocketAddr,
        id: &str,
        room: &str,
        position: u64,
        token: Option<&str>,
        snapshot: bool,
    ) -> (Self, ServerMessage) {
        Self::greet_on(connect(addr).await, id, room, position, token, snapshot).await
    }

    /// [`Client::greet`] on a connection already open (see [`connect_slow_reader`]).
    pub async fn greet_on(
        ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
        id: &str,
        room: &str,
        position: u64,
        token: Option<&str>,
        snapshot: bool,
    ) -> (Self, ServerMessage) {
        let mut client = Client {
            ws,
            id: id.to_owned(),
            seq: 0,
        };
        let mut hello = ClientMessage::hello(id, room, position);
        if let ClientMessage::Hello {
            token: t,
            snapshot: s,
            ..
        } = &mut hello
        {
            *t = token.map(str::to_owned);
            *s = snapshot;
        }
        client.send(&hello).await;
        let answer = client.recv().await;
        (client, answer)
    }

    /// Connects and says hello for `room` from 0 with `secret` (the one the SDK stores
    /// with its client id); returns the server's first answer.
    pub async fn hello_with_secret(
        addr: SocketAddr,
        id: &str,
        room: &str,
        secret: Option<&str>,
    ) -> (Self, ServerMessage) {
        let mut client = Client {
            ws: connect(addr).await,
            id: id.to_owned(),
            seq: 0,
        };
        let mut hello = ClientMessage::hello(id, room, 0);
        if let ClientMessage::Hello { secret: s, .. } = &mut hello {
            *s = secret.map(str::to_owned);
        }
        client.send(&hello).await;
        let answer = client.recv().await;
        (client, answer)
    }

    /// Sends a protocol message.
    pub async fn send(&mut self, message: &ClientMessage) {
        self.ws
            .send(Message::Binary(encode(message, Some(1024)).into()))
            .await
            .expect("sends");
    }

    /// The next protocol message (fails the test after 10 s).
    pub async fn recv(&mut self) -> ServerMessage {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a message within 10 s")
                .expect("stream open")
                .expect("frame ok");
            match frame {
                Message::Binary(bytes) => {
                    return decode(&bytes, Limits::default()).expect("valid frame")
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next message, or `None` once the connection closed.
    pub async fn recv_raw(&mut self) -> Option<ServerMessage> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Binary(bytes)) => return decode(&bytes, Limits::default()).ok(),
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                _ => return None,
            }
        }
    }

    /// Reads catch-up (or snapshot) parts until `done`; returns what they carried
    /// (presence messages are skipped).
    pub async fn catch_up(&mut self) -> Vec<ServerMessage> {
        let mut parts = Vec::new();
        loop {
            let message = self.recv().await;
            if matches!(message, ServerMessage::Presence { .. }) {
                continue;
            }
            let done = matches!(
                message,
                ServerMessage::CatchUp { done: true, .. }
                    | ServerMessage::Snapshot { done: true, .. }
            );
            parts.push(message);
            if done {
                return parts;
            }
        }
    }

    /// A new operation of this client.
    pub fn op(&mut self, key: &str, kind: OpKind) -> Operation {
        self.seq += 1;
        Operation {
            id: OpId {
                client: Arc::from(self.id.as_str()),
                seq: self.seq,
            },
            key: key.to_owned(),
            fields: vec![],
            kind,
            base_version: 0,
            timestamp: 0.0,
            batch: None,
            conflict: Default::default(),
        }
    }

    /// A `set` operation.
    pub fn set(&mut self, key: &str, value: Value) -> Operation {
        self.op(key, OpKind::Set(Arc::new(value)))
    }

    /// Sends changes and returns the ack.
    pub async fn submit(&mut self, ops: Vec<Operation>, atomic: bool) -> ServerMessage {
        self.send(&ClientMessage::Changes { ops, atomic }).await;
        loop {
            match self.recv().await {
                ack @ ServerMessage::Ack { .. } => return ack,
                ServerMessage::Broadcast { .. } | ServerMessage::Presence { .. } => continue,
                other => panic!("expected ack, got {other:?}"),
            }
        }
    }

    /// Waits for the close frame; returns its code.
    pub async fn closed_with(&mut self) -> u16 {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("closes in time");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) | None => return u16::from(CloseCode::Status),
                Some(Ok(_)) => continue,
                Some(Err(_)) => return 0,
            }
        }
    }
}

/// How many changes catch-up parts carry (fails on anything but `catch-up`).
pub fn catch_up_len(parts: &[ServerMessage]) -> usize {
    parts
        .iter()
        .map(|p| match p {
            ServerMessage::CatchUp { changes, .. } => changes.len(),
            other => panic!("expected catch-up, got {other:?}"),
        })
        .sum()
}

/// A JSON object used in tests.
pub fn item(i: u64) -> Value {
    json!({ "n": i, "s": format!("v{i}") })
}

/// `GET path` over plain HTTP with extra header lines; returns the status and the whole
/// response text.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}
