//! One WebSocket connection: `hello`/`welcome`, catch-up, then changes, acks, broadcasts
//! and pings until either side closes. Protocol violations get an `error` message and a
//! documented close code; they never touch stored state. What to say is decided by the
//! core's [`ServerSession`] (shared with the simulation); this file does the I/O.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use srvra_sync::core::protocol::message::Rejected;
use srvra_sync::core::protocol::{decode, ClientMessage, FrameError, ServerMessage};
use srvra_sync::core::room::session::{Forward, Refusal, ServerSession, SessionLimits};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::{sleep_until, Instant};

use crate::app::App;
use crate::auth::{self, Access};
use crate::metrics::{inc, Refused};
use crate::rate::Bucket;
use crate::room::{Published, Room, Sender, StoredLog};

mod admit;
mod presence;
mod send;

/// Close codes (also in `docs/PROTOCOL.md`).
pub use srvra_sync::core::protocol::close;

/// Most broadcasts forwarded in one write before the session looks at its client again.
const MAX_BURST: usize = 64;

/// Session ids, unique within the process.
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Why a session ends abnormally: an error message and close code for the client.
type Fatal = Refusal;

/// A storage failure: the detail (SQL, paths) goes to the server's log, never to clients.
fn storage_failed(error: crate::store::DbError) -> Fatal {
    eprintln!("srvra-sync-server: storage failed: {}", error.0);
    Fatal::new(
        "STORAGE_FAILED",
        "the server could not read or store this room; try again later",
        close::INTERNAL,
    )
}

struct Session {
    /// Unique per connection.
    id: u64,
    app: Arc<App>,
    /// The peer's address, for limits per IP.
    ip: IpAddr,
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
    /// What to say, decided without I/O.
    core: ServerSession,
    /// When anything (a frame, a pong) last came from the client.
    heard: Instant,
    /// Messages and operations this connection may still send.
    messages: Bucket,
    ops: Bucket,
    /// The room, once joined (its presence is left when the session ends).
    room: Option<Arc<Room>>,
    /// The token's user, stamped on this session's presence.
    user: Option<String>,
    /// How long the client may be silent before its presence vanishes (its heartbeat).
    window: std::time::Duration,
    /// Whether its presence is hidden for silence.
    silent: bool,
}

/// Runs one connection from `ip` to its end.
pub async fn run(socket: WebSocket, app: Arc<App>, ip: IpAddr) {
    inc(&app.metrics.connections);
    let (sink, stream) = socket.split();
    let limits = SessionLimits {
        max_ops: app.config.max_ops,
        max_frame: app.config.limits.max_frame,
        chunk: app.config.chunk,
        part_bytes: app.config.part_bytes,
    };
    let guards = &app.config.guards;
    let mut session = Session {
        app: Arc::clone(&app),
        ip,
        sink,
        stream,
        core: ServerSession::new(limits),
        id: NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        heard: Instant::now(),
        messages: Bucket::new(guards.messages_per_second),
        ops: Bucket::new(guards.ops_per_second),
        room: None,
        user: None,
        window: guards.idle_timeout,
        silent: false,
    };
    let result = session.serve().await;
    session.leave_presence();
    if let Some(client) = session.core.client() {
        let buckets = (session.messages.clone(), session.ops.clone());
        app.paces.give_back(client, buckets);
    }
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
            snapshot,
            heartbeat,
            secret,
        }) = hello?
        else {
            return Err(Fatal::new(
                "HELLO_REQUIRED",
                "the first message must be hello",
                close::HELLO_REQUIRED,
            ));
        };
        self.core.hello(protocol, &client_id, &room)?;
        // The client's pace goes on from its last connection.
        let guards = &self.app.config.guards;
        (self.messages, self.ops) = self.app.paces.take(
            &client_id,
            guards.messages_per_second,
            guards.ops_per_second,
        );
        let grant = self
            .admit(token.as_deref(), secret.as_deref(), &client_id, &room)
            .await?;
        let Some(room) = self
            .app
            .rooms
            .get(&*self.app.db, &room)
            .await
            .map_err(storage_failed)?
        else {
            self.app.metrics.refused(Refused::Rooms);
            return Err(Fatal::new(
                "OVERLOADED",
                "the server holds as many rooms as it may; try again later",
                close::OVERLOADED,
            ));
        };
        if self.app.db.shared() {
            // Other instances may have written it since this one last heard.
            room.refresh(
                &*self.app.db,
                &self.app.metrics,
                self.app.config.compression_threshold,
            )
            .await
            .map_err(storage_failed)?;
        }
        let mut updates = room.subscribe();
        let mut presence = room.subscribe_presence();
        self.room = Some(Arc::clone(&room));
        self.user = grant.user.clone();
        if let Some(ms) = heartbeat {
            let ms = std::time::Duration::from_millis(ms);
            self.window = ms.clamp(std::time::Duration::from_secs(1), self.window);
        }
        let welcome = room
            .with_state(|state| self.core.welcome(room.name(), state))
            .await;
        self.send(&welcome).await?;
        self.send_all_presence(&room).await?;
        self.catch_up(&room, position, snapshot).await?;

        let mut shutdown = self.app.shutdown.clone();
        let guards = self.app.config.guards.clone();
        let mut pings = tokio::time::interval(guards.ping_interval);
        pings.tick().await;
        // The token's end, as a deadline (far away without one).
        let expires = grant.expires.map_or(Instant::now() + FOREVER, |at| {
            let left = at.duration_since(SystemTime::now()).unwrap_or_default();
            Instant::now() + left.min(FOREVER)
        });
        // One timer for the session's deadlines (silence, idle, token expiry), moved only
        // when they move: a timer per loop turn cost a timer-wheel entry per broadcast.
        let mut armed = self.next_deadline(expires, guards.idle_timeout);
        let deadline = sleep_until(armed);
        tokio::pin!(deadline);
        loop {
            let next = self.next_deadline(expires, guards.idle_timeout);
            if next != armed {
                armed = next;
                deadline.as_mut().reset(next);
            }
            // Biased, in this order: the room's broadcasts go out before the client's next
            // message is read. Under a load the server cannot take, a session that read as
            // often as it forwarded fell behind by a burst per message it submitted, then
            // past the broadcast slots, and caught up from the log (decoding and encoding
            // every change again, per session): accepted changes fell to a fifth. Reading
            // only once the broadcasts are out makes a sender wait for the room instead.
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    return Err(Fatal::new("SHUTTING_DOWN", "the server is shutting down", close::GOING_AWAY));
                }
                () = &mut deadline => self.deadline_passed(&room, expires, guards.idle_timeout)?,
                _ = pings.tick() => {
                    self.send_raw(Message::Ping(Default::default())).await?;
                }
                update = updates.recv() => match update {
                    Ok(published) => self.forward(&room, published, &mut updates).await?,
                    Err(RecvError::Lagged(_)) => self.catch_up(&room, self.core.sent(), false).await?,
                    Err(RecvError::Closed) => return Ok(()),
                },
                frame = presence.recv() => match frame {
                    Ok(frame) => self.send_frame(frame.to_vec()).await?,
                    Err(RecvError::Lagged(_)) => self.send_all_presence(&room).await?,
                    Err(RecvError::Closed) => return Ok(()),
                },
                message = self.next_message() => match message? {
                    None => return Ok(()),
                    Some(message) => {
                        self.heard_again(&room);
                        self.handle(&room, message, grant.access).await?;
                    }
                },
            }
        }
    }

    /// The earliest of the session's deadlines: the token's expiry, the idle timeout, and
    /// (while its presence shows) the client's heartbeat window.
    fn next_deadline(&self, expires: Instant, idle: std::time::Duration) -> Instant {
        let mut next = expires.min(self.heard + idle);
        if !self.silent {
            next = next.min(self.heard + self.window);
        }
        next
    }

    /// A deadline passed: the token expired, the session idled out, or the client went
    /// silent (its presence vanishes; the session stays).
    fn deadline_passed(
        &mut self,
        room: &Room,
        expires: Instant,
        idle: std::time::Duration,
    ) -> Result<(), Fatal> {
        let now = Instant::now();
        if now >= expires {
            return Err(auth::expired());
        }
        if now >= self.heard + idle {
            self.app.metrics.refused(Refused::Idle);
            return Err(Fatal::new(
                "IDLE",
                "nothing came from the client in time",
                close::IDLE,
            ));
        }
        if !self.silent && now >= self.heard + self.window {
            self.went_silent(room);
        }
        Ok(())
    }

    /// Takes a message's share of this connection's rate; over it, the session ends with
    /// `RATE_LIMITED` (the client reconnects after its backoff).
    fn pace(&mut self, ops: usize) -> Result<(), Fatal> {
        if self.messages.take(1) && self.ops.take(ops) {
            return Ok(());
        }
        self.app.metrics.refused(Refused::MessageRate);
        Err(Fatal::new(
            "RATE_LIMITED",
            "too many messages or operations from this connection",
            close::RATE_LIMITED,
        ))
    }

    async fn handle(
        &mut self,
        room: &Room,
        message: ClientMessage,
        access: Access,
    ) -> Result<(), Fatal> {
        let ops = match &message {
            ClientMessage::Changes { ops, .. } => ops.len(),
            _ => 0,
        };
        self.pace(ops)?;
        match message {
            ClientMessage::Hello {
                protocol,
                client_id,
                room,
                ..
            } => self.core.hello(protocol, &client_id, &room),
            ClientMessage::Ping { nonce } => self.send(&ServerMessage::Pong { nonce }).await,
            ClientMessage::Presence { tab, state } => self.set_presence(room, &tab, state).await,
            ClientMessage::Changes { ops, .. } if access == Access::Read => {
                self.core.check_changes(&ops)?;
                self.app.metrics.refused(Refused::Forbidden);
                let rejected = ops
                    .into_iter()
                    .map(|op| Rejected {
                        id: op.id,
                        code: "FORBIDDEN".into(),
                        message: "this token may only read this room".into(),
                        conflict: None,
                    })
                    .collect();
                let ack = ServerMessage::Ack {
                    acks: Vec::new(),
                    resolved: Vec::new(),
                    rejected,
                };
                self.send(&ack).await
            }
            ClientMessage::Changes { ops, atomic } => {
                self.core.check_changes(&ops)?;
                let threshold = self.app.config.compression_threshold;
                let client = self.core.client().unwrap_or_default().to_owned();
                let ack = room
                    .submit(
                        &*self.app.db,
                        &self.app.metrics,
                        Sender {
                            client: &client,
                            session: self.id,
                        },
                        ops,
                        atomic,
                        threshold,
                    )
                    .await
                    .map_err(storage_failed)?;
                // `sent` moves only through the room's publications, which arrive in
                // position order; this message's own publication will advance it.
                self.send(&ack).await
            }
        }
    }

    /// Sends a publication unless it is this connection's own or already covered, with
    /// up to [`MAX_BURST`] more already waiting; catches up from the log when it fell behind.
    async fn forward(
        &mut self,
        room: &Room,
        published: Arc<Published>,
        updates: &mut broadcast::Receiver<Arc<Published>>,
    ) -> Result<(), Fatal> {
        // Broadcasts already waiting go out with this one in a single write: under load a
        // session takes a burst of them, and a flush (a send syscall) per frame per session
        // was the server's largest cost after storage.
        let mut next = Some(published);
        let (mut fed, mut behind) = (0, false);
        while let Some(published) = next.take() {
            let own = published.session == self.id;
            match self.core.forward(published.first, published.last, own) {
                Forward::Skip => {}
                Forward::CatchUp => behind = true,
                Forward::Send => {
                    self.feed(Message::Binary(published.frame.clone())).await?;
                    inc(&self.app.metrics.broadcasts_sent);
                    fed += 1;
                }
            }
            if fed < MAX_BURST && !behind {
                next = match updates.try_recv() {
                    Ok(published) => Some(published),
                    Err(TryRecvError::Lagged(_)) => {
                        behind = true;
                        None
                    }
                    Err(TryRecvError::Empty | TryRecvError::Closed) => None,
                };
            }
        }
        self.flush().await?;
        if behind {
            self.catch_up(room, self.core.sent(), false).await?;
        }
        Ok(())
    }

    /// Sends everything after `position`: from the log when it still holds it (and no
    /// `snapshot` was asked for), else a snapshot. Always ends with a part marked `done`.
    async fn catch_up(&mut self, room: &Room, position: u64, snapshot: bool) -> Result<(), Fatal> {
        // Decided and read under one lock: the snapshot is of the head it names.
        let (head, snapshot) = room
            .with_state(|state| {
                let snapshot = ServerSession::needs_snapshot(position, state, snapshot);
                (state.head, snapshot.then(|| state.snapshot()))
            })
            .await;
        let mut parts = match snapshot {
            Some(entries) => {
                inc(&self.app.metrics.snapshots);
                self.core.catch_up_by_snapshot(head, entries)
            }
            None => {
                inc(&self.app.metrics.catch_ups);
                self.core.catch_up_from_log(position, head)
            }
        };
        let app = Arc::clone(&self.app);
        let log = StoredLog {
            db: &*app.db,
            room: room.name(),
        };
        loop {
            while let Some(part) =
                tokio::task::block_in_place(|| parts.next_part(&log)).map_err(storage_failed)?
            {
                self.send(&part).await?;
            }
            if !parts.fell_short() {
                return Ok(());
            }
            // The log lacks a change (set aside as unreadable): the rest comes as a
            // snapshot of the room, whose state includes it.
            inc(&self.app.metrics.snapshots);
            let (head, entries) = room.with_state(|s| (s.head, s.snapshot())).await;
            parts = self.core.catch_up_by_snapshot(head, entries);
        }
    }

    /// The next protocol message; `None` when the client closed.
    async fn next_message(&mut self) -> Result<Option<ClientMessage>, Fatal> {
        loop {
            let Some(frame) = self.stream.next().await else {
                return Ok(None);
            };
            let frame = frame.map_err(transport_error)?;
            self.heard = Instant::now();
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

    /// Sends the error message (if the socket still works) and closes with its code;
    /// each step within the send timeout.
    async fn fail(&mut self, fatal: Fatal) {
        if fatal.close != close::NORMAL {
            let error = ServerMessage::Error {
                code: fatal.code.to_owned(),
                message: fatal.message.clone(),
                fatal: true,
                close_code: Some(fatal.close),
            };
            if self.send(&error).await.is_err() {
                return;
            }
        }
        let reason: String = fatal.message.chars().take(100).collect();
        let close = Message::Close(Some(CloseFrame {
            code: fatal.close,
            reason: reason.into(),
        }));
        if self.send_raw(close).await.is_ok() {
            // The closing handshake: what the client sent meanwhile is read and dropped
            // until its close arrives (for at most CLOSE_DRAIN). Closing the socket with
            // unread data resets it, and the client then loses the close frame and its
            // code (seen as 1006 or a reset instead of, say, RATE_LIMITED).
            let drain = async {
                while let Some(Ok(message)) = self.stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_DRAIN, drain).await;
            let timeout = self.app.config.guards.send_timeout;
            let _ = tokio::time::timeout(timeout, self.sink.close()).await;
        }
    }
}

/// Longest wait for the client's close after the server closed a session.
const CLOSE_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// A deadline that never comes in practice.
const FOREVER: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// A WebSocket read error as the protocol reports it: a frame or message over the
/// transport's size limit is `FRAME_TOO_LARGE` (1009), recognised by the library's error
/// type (`tungstenite` pinned to the version axum uses), anything else `MALFORMED_FRAME`.
fn transport_error(error: axum::Error) -> Fatal {
    let text = error.to_string();
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(inner) if matches!(*inner, tungstenite::Error::Capacity(_)) => {
            Fatal::from(FrameError::TooLarge)
        }
        _ => Fatal::new(
            "MALFORMED_FRAME",
            format!("WebSocket error: {text}"),
            close::MALFORMED,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::CapacityError;

    #[test]
    fn a_transport_size_error_is_frame_too_large_by_type_and_others_are_malformed() {
        let too_long = tungstenite::Error::Capacity(CapacityError::MessageTooLong {
            size: 10,
            max_size: 1,
        });
        let fatal = transport_error(axum::Error::new(too_long));
        assert_eq!(fatal.close, 1009);
        let other = transport_error(axum::Error::new(tungstenite::Error::ConnectionClosed));
        assert_eq!(other.code, "MALFORMED_FRAME");
    }
}
