//! One WebSocket connection: `hello`/`welcome`, catch-up, then changes, acks, broadcasts
//! and pings until either side closes. Protocol violations get an `error` message and a
//! documented close code; they never touch stored state.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use srvra_sync::core::protocol::{
    decode, encode, ClientMessage, FrameError, ServerMessage, PROTOCOL_VERSION,
};
use tokio::sync::broadcast::error::RecvError;

use crate::http::App;
use crate::metrics::inc;
use crate::room::{Published, Room, Sender};

/// Close codes (also in `docs/PROTOCOL.md`).
pub use srvra_sync::core::protocol::close;

/// Session ids, unique within the process.
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Why a session ends abnormally: an error message and close code for the client.
struct Fatal {
    code: &'static str,
    message: String,
    close: u16,
}

impl Fatal {
    fn new(code: &'static str, message: impl Into<String>, close: u16) -> Self {
        Self {
            code,
            message: message.into(),
            close,
        }
    }
}

impl From<FrameError> for Fatal {
    fn from(error: FrameError) -> Self {
        Self {
            code: error.code(),
            message: error.message(),
            close: error.close_code(),
        }
    }
}

impl From<crate::db::DbError> for Fatal {
    fn from(error: crate::db::DbError) -> Self {
        Self::new(
            "STORAGE_FAILED",
            format!("the server could not store changes: {}", error.0),
            close::INTERNAL,
        )
    }
}

struct Session {
    /// Unique per connection.
    id: u64,
    app: Arc<App>,
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
    client: String,
    /// Position up to which the client has everything: other clients' changes sent, its
    /// own acknowledged. Advances only in position order.
    sent: u64,
}

/// Runs one connection to its end.
pub async fn run(socket: WebSocket, app: Arc<App>) {
    inc(&app.metrics.connections);
    let (sink, stream) = socket.split();
    let mut session = Session {
        app: Arc::clone(&app),
        sink,
        stream,
        client: String::new(),
        sent: 0,
        id: NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    };
    let result = session.serve().await;
    if let Err(fatal) = result {
        if fatal.close != close::NORMAL && fatal.close != close::GOING_AWAY {
            inc(&app.metrics.frames_rejected);
        }
        session.fail(fatal).await;
    }
    app.metrics
        .connections
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

impl Session {
    async fn serve(&mut self) -> Result<(), Fatal> {
        let hello = tokio::time::timeout(self.app.config.hello_timeout, self.next_message())
            .await
            .map_err(|_| Fatal::new("HELLO_REQUIRED", "no hello in time", close::HELLO_REQUIRED))?;
        let Some(ClientMessage::Hello {
            protocol,
            client_id,
            room,
            position,
            token,
        }) = hello?
        else {
            return Err(Fatal::new(
                "HELLO_REQUIRED",
                "the first message must be hello",
                close::HELLO_REQUIRED,
            ));
        };
        if protocol != u32::from(PROTOCOL_VERSION) {
            return Err(FrameError::UnsupportedVersion(protocol.min(255) as u8).into());
        }
        if self
            .app
            .config
            .auth_token
            .as_ref()
            .is_some_and(|t| token.as_ref() != Some(t))
        {
            return Err(Fatal::new(
                "UNAUTHORIZED",
                "missing or wrong token",
                close::UNAUTHORIZED,
            ));
        }
        for (what, value) in [("clientId", &client_id), ("room", &room)] {
            if value.is_empty() || value.len() > 256 {
                return Err(Fatal::new(
                    "MALFORMED_FRAME",
                    format!("{what} must be 1 to 256 bytes"),
                    close::MALFORMED,
                ));
            }
        }
        self.client = client_id.clone();
        let room = self.app.rooms.get(&self.app.db, &room).await?;
        let mut updates = room.subscribe();
        let now = room.position().await;
        self.send(&ServerMessage::Welcome {
            protocol: u32::from(PROTOCOL_VERSION),
            client_id,
            room: room.name().to_owned(),
            position: now.head,
            acknowledged: room.watermark(&self.client).await,
            max_ops: self.app.config.max_ops as u64,
            max_frame: self.app.config.limits.max_frame as u64,
        })
        .await?;
        self.catch_up(&room, position).await?;

        let mut shutdown = self.app.shutdown.clone();
        loop {
            tokio::select! {
                message = self.next_message() => match message? {
                    None => return Ok(()),
                    Some(message) => self.handle(&room, message).await?,
                },
                update = updates.recv() => match update {
                    Ok(published) => self.forward(&room, &published).await?,
                    Err(RecvError::Lagged(_)) => self.catch_up(&room, self.sent).await?,
                    Err(RecvError::Closed) => return Ok(()),
                },
                _ = shutdown.changed() => {
                    return Err(Fatal::new("SHUTTING_DOWN", "the server is shutting down", close::GOING_AWAY));
                }
            }
        }
    }

    async fn handle(&mut self, room: &Room, message: ClientMessage) -> Result<(), Fatal> {
        match message {
            ClientMessage::Hello { .. } => Err(Fatal::new(
                "HELLO_REQUIRED",
                "hello may be sent only once",
                close::HELLO_REQUIRED,
            )),
            ClientMessage::Ping { nonce } => self.send(&ServerMessage::Pong { nonce }).await,
            ClientMessage::Changes { ops, atomic } => {
                let max = self.app.config.max_ops;
                if ops.len() > max {
                    let message = format!(
                        "{} operations in one message; the limit is {max}",
                        ops.len()
                    );
                    return Err(Fatal::new("TOO_MANY_OPS", message, close::TOO_MANY_OPS));
                }
                let threshold = self.app.config.compression_threshold;
                let outcome = room
                    .submit(
                        &self.app.db,
                        &self.app.metrics,
                        Sender {
                            client: &self.client,
                            session: self.id,
                        },
                        ops,
                        atomic,
                        threshold,
                    )
                    .await?;
                // `sent` moves only through the room's publications, which arrive in
                // position order; this message's own publication will advance it.
                self.send(&ServerMessage::Ack {
                    acks: outcome.acks,
                    rejected: outcome.rejected,
                    resolved: outcome.resolved,
                })
                .await
            }
        }
    }

    /// Sends a publication unless it is this client's own or already covered.
    async fn forward(&mut self, room: &Room, published: &Published) -> Result<(), Fatal> {
        if published.last <= self.sent {
            return Ok(());
        }
        if published.first > self.sent + 1 {
            return self.catch_up(room, self.sent).await;
        }
        if published.session == self.id {
            self.sent = published.last;
            return Ok(());
        }
        self.send_frame(published.frame.to_vec()).await?;
        inc(&self.app.metrics.broadcasts_sent);
        self.sent = published.last;
        Ok(())
    }

    /// Sends everything after `position`: from the log when it still holds it, else a
    /// snapshot. Always ends with a part marked `done`.
    async fn catch_up(&mut self, room: &Room, position: u64) -> Result<(), Fatal> {
        let now = room.position().await;
        if position < now.compacted || position > now.head {
            inc(&self.app.metrics.snapshots);
            let (head, entries) = room.snapshot().await;
            let chunk = self.app.config.chunk.max(1);
            let parts = entries.len().div_ceil(chunk).max(1);
            let mut entries = entries.into_iter();
            for part in 0..parts {
                let entries: Vec<_> = entries.by_ref().take(chunk).collect();
                self.send(&ServerMessage::Snapshot {
                    position: head,
                    entries,
                    done: part + 1 == parts,
                })
                .await?;
            }
            self.sent = head;
            return Ok(());
        }
        inc(&self.app.metrics.catch_ups);
        let mut from = position;
        loop {
            let chunk = self.app.config.chunk.max(1);
            let db = &self.app.db;
            let changes = tokio::task::block_in_place(|| {
                db.changes_between(room.name(), from, now.head, chunk)
            })?;
            from = changes.last().map_or(now.head, |c| c.position);
            let done = from >= now.head;
            self.send(&ServerMessage::CatchUp { changes, done }).await?;
            if done {
                break;
            }
        }
        // Later changes arrive as publications, which start after `now.head`.
        self.sent = now.head;
        Ok(())
    }

    /// The next protocol message; `None` when the client closed.
    async fn next_message(&mut self) -> Result<Option<ClientMessage>, Fatal> {
        loop {
            let Some(frame) = self.stream.next().await else {
                return Ok(None);
            };
            let frame = frame.map_err(|e| {
                let text = e.to_string();
                if text.contains("too long")
                    || text.contains("too big")
                    || text.contains("Space limit")
                {
                    Fatal::from(FrameError::TooLarge)
                } else {
                    Fatal::new(
                        "MALFORMED_FRAME",
                        format!("WebSocket error: {text}"),
                        close::MALFORMED,
                    )
                }
            })?;
            match frame {
                Message::Binary(bytes) => return Ok(Some(decode(&bytes, self.app.config.limits)?)),
                Message::Text(_) => {
                    return Err(Fatal::new(
                        "MALFORMED_FRAME",
                        "text frames are not part of the protocol",
                        close::MALFORMED,
                    ))
                }
                Message::Close(_) => return Ok(None),
                Message::Ping(_) | Message::Pong(_) => continue,
            }
        }
    }

    async fn send(&mut self, message: &ServerMessage) -> Result<(), Fatal> {
        self.send_frame(encode(message, self.app.config.compression_threshold))
            .await
    }

    async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), Fatal> {
        self.sink
            .send(Message::Binary(frame.into()))
            .await
            .map_err(|_| Fatal::new("GONE", "the client went away", close::NORMAL))
    }

    /// Sends the error message (if the socket still works) and closes with its code.
    async fn fail(&mut self, fatal: Fatal) {
        if fatal.close != close::NORMAL {
            let error = ServerMessage::Error {
                code: fatal.code.to_owned(),
                message: fatal.message.clone(),
                fatal: true,
                close_code: Some(fatal.close),
            };
            let _ = self.send(&error).await;
        }
        let reason: String = fatal.message.chars().take(100).collect();
        let _ = self
            .sink
            .send(Message::Close(Some(CloseFrame {
                code: fatal.close,
                reason: reason.into(),
            })))
            .await;
        let _ = self.sink.close().await;
    }
}
