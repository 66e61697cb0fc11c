//! The sync loop: connection lifecycle (hello, catch-up, live), sending the outbox,
//! heartbeats, reconnects with backoff, online/offline, and the status and events of
//! README "Subscribers and events". It does no I/O itself; see [`crate::core::sync::io`].

use crate::core::config::Config;
use crate::core::conflict::{Rules, Strategy};
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::{ErrorInfo, Payload, Reconnecting, SyncComplete};
use crate::core::engine::Recorded;
use crate::core::error::ErrorKind;
use crate::core::protocol::presence::PresencePeer;
use crate::core::protocol::{
    close, decode, ClientMessage, Limits, ServerMessage, PROTOCOL_VERSION,
};
use crate::core::sync::backoff;
use crate::core::sync::io::{Io, Timer};
use crate::core::sync::outbox::{OutboxLoad, OutboxWork};
use crate::core::sync::presence::{PresenceOut, PresenceView};
use crate::core::sync::replica::Replica;
use crate::core::sync::report::rejected_event;
use crate::core::sync::status::Status;
use crate::core::{CoreError, Engine};

mod messages;
mod presence;
mod send;

/// Largest frame the client accepts from the server (catch-up parts can be large).
const INBOUND: Limits = Limits {
    // The server's catch-up parts may compress well; they are bounded by size.
    containers_per_byte: 0,
    max_frame: 64 * 1024 * 1024,
    max_payload: 256 * 1024 * 1024,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Opening,
    Hello,
    CatchingUp,
    Live,
}

#[derive(Debug)]
struct Connection {
    id: u64,
    phase: Phase,
}

/// The client side of sync for one `SrvraDataSync` instance.
pub struct SyncClient {
    config: Config,
    io: Io,
    pub(in crate::core::sync) replica: Replica,
    status: Status,
    connection: Option<Connection>,
    next_connection: u64,
    online: bool,
    stopped: bool,
    failures: u32,
    error_reported: bool,
    acknowledged: u64,
    max_ops: usize,
    max_frame: usize,
    nonce: u64,
    ping_at: f64,
    /// When the oldest unanswered hello or changes message went out: its answer (the
    /// welcome, an ack) measures the round trip before the first heartbeat does.
    asked_at: Option<f64>,
    /// A catch-up was applied since this loop started (`whenSynced()`).
    caught_up_once: bool,
    acked_since: u64,
    pub(in crate::core::sync) rules: Rules,
    server_reason: Option<String>,
    /// Ask for a snapshot in the next hello (after a divergence), until one arrived.
    want_snapshot: bool,
    /// Which of `config.urls` the client uses; a failed connection moves it on.
    url_index: usize,
    /// Who else is present, as the server reports it.
    presence: PresenceView,
    /// What this socket's tabs say.
    presence_out: PresenceOut,
    /// This tab's id, for its own presence.
    presence_tab: String,
    /// Presence messages for the follower tabs (kept only while `relay_presence`: a leader
    /// with followers forwards them).
    presence_for_tabs: Vec<(Vec<PresencePeer>, bool)>,
    relay_presence: bool,
}

impl SyncClient {
    /// A loop for `config` (whose `url` is set), with its I/O.
    pub fn new(config: Config, io: Io) -> Self {
        let default = Strategy::parse(&config.merge_strategy).unwrap_or(Strategy::LastWriteWins);
        let rules = Rules::new(default);
        let threshold = config
            .compression
            .enabled
            .then_some(config.compression.threshold as usize);
        Self {
            replica: Replica::new(threshold),
            config,
            io,
            status: Status::Initial,
            connection: None,
            next_connection: 0,
            online: true,
            stopped: false,
            failures: 0,
            error_reported: false,
            acknowledged: 0,
            max_ops: usize::MAX,
            max_frame: usize::MAX,
            nonce: 0,
            ping_at: 0.0,
            asked_at: None,
            caught_up_once: false,
            acked_since: 0,
            rules,
            server_reason: None,
            want_snapshot: false,
            url_index: 0,
            presence: PresenceView::default(),
            presence_out: PresenceOut::default(),
            presence_tab: "main".into(),
            presence_for_tabs: Vec::new(),
            relay_presence: false,
        }
    }

    /// The server URL this client connects to now (`getStatistics().url`).
    pub fn url(&self) -> Option<&str> {
        self.config.urls.get(self.url_index).map(String::as_str)
    }

    /// `sync.status`.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The confirmed state and pending changes.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Loads the stored outbox; corrupt records are reported as `sync-error`.
    pub fn restore(&mut self, engine: &mut Engine, load: OutboxLoad) {
        for error in self.replica.restore(load) {
            engine.report_error("storage", &error);
        }
        self.save(engine);
    }

    /// Starts syncing: connects now, or waits for `online`.
    pub fn start(&mut self, engine: &mut Engine, online: bool) {
        self.online = online;
        self.replica.announce_held(engine);
        if online {
            self.connect();
        } else {
            self.set_status(engine, Status::Offline, "browser-offline");
        }
    }

    /// Takes the engine's new local changes into the outbox.
    pub fn local(&mut self, engine: &mut Engine) {
        let recorded = engine.take_operations();
        self.record(engine, recorded);
    }

    /// Takes local changes the host already took from the engine into the outbox.
    pub fn record(&mut self, engine: &mut Engine, recorded: Vec<Recorded>) {
        for recorded in recorded {
            let threshold = self.config.auto_resolve_threshold;
            let now = engine.now_ms();
            self.replica.record(recorded, &self.rules, threshold, now);
        }
        self.save(engine);
    }

    /// Changes up to `durable` are stored and sequences up to `reserved` are claimed
    /// (see [`crate::core::sync::Replica::stored`]); sends what that allows when connected.
    pub fn stored(&mut self, engine: &mut Engine, durable: u64, reserved: u64) {
        self.replica.stored(durable, reserved);
        self.flush(engine);
    }

    /// Sends what may be sent now (the host calls this once per task, after the task's
    /// changes, so a burst goes coalesced).
    pub fn send_ready(&mut self, engine: &mut Engine) {
        if self.wants_send() {
            self.flush(engine);
        }
    }

    /// `sync.sync()`: sends everything stored now.
    pub fn sync_now(&mut self, engine: &mut Engine) {
        self.local(engine);
        self.flush(engine);
    }

    /// Connection `id` is open; `token` is the credential resolved for it.
    pub fn opened(&mut self, engine: &mut Engine, id: u64, token: Option<String>) {
        let Some(connection) = self.current(id) else {
            return;
        };
        if connection.phase != Phase::Opening {
            return;
        }
        connection.phase = Phase::Hello;
        // The welcome is due within heartbeatTimeout, like a pong.
        let timeout = self.config.heartbeat_timeout;
        self.io.timers.start(Timer::HeartbeatTimeout, timeout);
        let hello = ClientMessage::Hello {
            protocol: u32::from(PROTOCOL_VERSION),
            client_id: engine.client_id().to_owned(),
            room: self.config.room.clone(),
            position: self.replica.position(),
            token,
            snapshot: self.want_snapshot,
            heartbeat: Some(self.config.heartbeat_interval + self.config.heartbeat_timeout),
            secret: engine.presentable_secret().map(str::to_owned),
        };
        self.asked_at = Some(engine.now_ms());
        self.send(engine, &hello);
    }

    /// A frame arrived on connection `id`.
    pub fn received(&mut self, engine: &mut Engine, id: u64, frame: &[u8]) {
        if self.current(id).is_none() {
            return;
        }
        engine.stats_mut().bytes_received += frame.len() as u64;
        match decode::<ServerMessage>(frame, INBOUND) {
            Ok(message) => self.handle(engine, message),
            Err(error) => {
                let error = CoreError::network("MALFORMED_FRAME", error.message());
                engine.report_error("protocol", &error);
                self.io.transport.close(close::MALFORMED, "malformed frame");
                self.lost(engine, close::ABNORMAL, "malformed frame from the server");
            }
        }
        self.save(engine);
    }

    /// Connection `id` closed (or never opened) with `code`.
    pub fn closed(&mut self, engine: &mut Engine, id: u64, code: u16, reason: &str) {
        if self.current(id).is_some() {
            self.lost(engine, code, reason);
            self.save(engine);
        }
    }

    /// A timer fired.
    pub fn timer(&mut self, engine: &mut Engine, timer: Timer) {
        match timer {
            Timer::Retry => {
                if !self.stopped && self.online && self.connection.is_none() {
                    engine.stats_mut().reconnects += 1;
                    self.connect();
                }
            }
            Timer::Heartbeat => {
                if self.connection.is_some() {
                    self.nonce += 1;
                    self.ping_at = engine.now_ms();
                    let ping = ClientMessage::Ping { nonce: self.nonce };
                    self.send(engine, &ping);
                    let timeout = self.config.heartbeat_timeout;
                    self.io.timers.start(Timer::HeartbeatTimeout, timeout);
                }
            }
            Timer::HeartbeatTimeout => {
                if self.connection.is_some() {
                    self.io.transport.close(close::NORMAL, "heartbeat timeout");
                    self.lost(engine, close::ABNORMAL, "no answer within heartbeatTimeout");
                }
            }
            Timer::Presence => {
                self.presence_out.throttled = false;
                self.flush_presence(engine);
            }
            Timer::Stable => {
                self.failures = 0;
                self.error_reported = false;
            }
            Timer::Reconcile => {
                if self.replica.has_gap() {
                    self.restart_connection(engine, "gap in the server's order");
                }
                self.flush(engine);
                if self.connection.is_some() {
                    self.io
                        .timers
                        .start(Timer::Reconcile, self.config.sync_interval);
                }
            }
        }
        self.save(engine);
    }

    /// Whether a catch-up from the server was applied since this loop started.
    pub fn caught_up_once(&self) -> bool {
        self.caught_up_once
    }

    /// The browser went online or offline.
    pub fn set_online(&mut self, engine: &mut Engine, online: bool) {
        if online == self.online {
            return;
        }
        self.online = online;
        if self.stopped {
            return;
        }
        if online {
            self.failures = 0;
            self.io.timers.cancel(Timer::Retry);
            if self.connection.is_none() {
                self.connect();
            } else {
                self.check_connection(engine);
            }
        } else {
            self.io.timers.cancel(Timer::Retry);
            if self.connection.is_some() {
                self.io.transport.close(close::NORMAL, "browser offline");
                self.drop_connection(engine);
            }
            self.set_status(engine, Status::Offline, "browser-offline");
        }
        self.save(engine);
    }

    /// The page came back (visible again, or online) or a timer fired far too late (the
    /// device slept): ask the server at once (a ping, answered within
    /// `heartbeatTimeout`) instead of trusting a socket that may have died meanwhile.
    pub fn check_connection(&mut self, engine: &mut Engine) {
        let welcomed = self
            .connection
            .as_ref()
            .is_some_and(|c| matches!(c.phase, Phase::CatchingUp | Phase::Live));
        if welcomed {
            self.timer(engine, Timer::Heartbeat);
        }
    }

    /// Stops the loop: closes the socket and stops the timers. The outbox stays stored.
    pub fn shutdown(&mut self, engine: &mut Engine) {
        self.stopped = true;
        self.io.timers.cancel(Timer::Retry);
        if self.connection.is_some() {
            self.io.transport.close(close::NORMAL, "closed");
            self.drop_connection(engine);
        }
        self.set_status(engine, Status::Offline, "closed");
        self.save(engine);
    }

    // ---- internals -------------------------------------------------------------------

    fn current(&mut self, id: u64) -> Option<&mut Connection> {
        self.connection.as_mut().filter(|c| c.id == id)
    }

    fn connect(&mut self) {
        self.next_connection += 1;
        let id = self.next_connection;
        self.connection = Some(Connection {
            id,
            phase: Phase::Opening,
        });
        let url = self.url().unwrap_or_default().to_owned();
        self.io.transport.open(id, &url);
    }

    /// A catch-up or snapshot part arrived; the last one makes the connection live.
    fn caught_up(&mut self, engine: &mut Engine, done: bool) {
        if !done {
            self.set_status(engine, Status::PartialSync, "catching-up");
            return;
        }
        for op in self.replica.drop_processed(engine, self.acknowledged) {
            let error = ErrorInfo::new(
                ErrorKind::Validation,
                "REJECTED",
                "the server rejected this change while this client was disconnected",
            );
            rejected_event(engine, &op, error);
        }
        if let Some(c) = self.connection.as_mut() {
            c.phase = Phase::Live;
        }
        self.caught_up_once = true;
        let received = self.replica.take_received();
        let position = self.replica.position();
        let payload = Payload::SyncComplete(SyncComplete {
            sent: 0,
            received,
            position,
        });
        engine.emit(EventType::SyncComplete, payload, None);
        self.flush(engine);
    }

    /// Drops the connection and reconnects (after the usual backoff).
    fn restart_connection(&mut self, engine: &mut Engine, reason: &str) {
        if self.connection.is_some() {
            self.io.transport.close(close::NORMAL, reason);
            self.lost(engine, close::ABNORMAL, reason);
        }
    }

    fn drop_connection(&mut self, engine: &mut Engine) {
        self.connection = None;
        self.presence_gone(engine);
        self.replica.disconnected();
        self.asked_at = None;
        for timer in [
            Timer::Heartbeat,
            Timer::HeartbeatTimeout,
            Timer::Stable,
            Timer::Reconcile,
        ] {
            self.io.timers.cancel(timer);
        }
    }

    /// The connection ended: stop for a fatal close, else schedule a reconnect.
    fn lost(&mut self, engine: &mut Engine, code: u16, reason: &str) {
        self.drop_connection(engine);
        let explained = self.server_reason.take();
        if self.stopped {
            return;
        }
        if close::is_fatal(code) {
            self.stopped = true;
            let reason = explained.as_deref().unwrap_or(reason);
            let message = format!("the server refused this client (close {code}): {reason}");
            let error = CoreError::network(close::error_code(code), message);
            self.set_status(engine, Status::Error, close::error_code(code));
            engine.report_error("connect", &error);
            return;
        }
        if code == close::TOKEN_EXPIRED {
            // The next connection asks the `token` function again.
            let message = "the server closed the connection: the token expired";
            engine.report_error("connect", &CoreError::network("TOKEN_EXPIRED", message));
        }
        if !self.online {
            self.set_status(engine, Status::Offline, "browser-offline");
            return;
        }
        // The next attempt goes to the next server URL, after the same backoff.
        self.url_index = (self.url_index + 1) % self.config.urls.len().max(1);
        // One `reconnecting` per failed attempt since the last good connection (the
        // attempt count), and the `sync-error` right after the `retryAttempts`-th.
        self.failures = self.failures.saturating_add(1);
        let delay = backoff::delay(&self.config.backoff, self.failures, (self.io.random)());
        self.io.timers.start(Timer::Retry, delay);
        if self.status != Status::Error {
            self.status = Status::Reconnecting;
        }
        let payload = Payload::Reconnecting(Reconnecting {
            attempt: self.failures,
            delay,
        });
        engine.emit(EventType::Reconnecting, payload, Some(reason.to_owned()));
        // An outage stays `reconnecting` (issue 27: it showed as `error`, the status of a
        // refused token, after ~1.6 s); the app hears it once, as this `sync-error`.
        // `error` is kept for refusals that retrying cannot fix (the fatal closes above).
        if self.failures >= self.config.retry_attempts.max(1) as u32 && !self.error_reported {
            self.error_reported = true;
            let message = format!(
                "{} connection attempts in a row failed (last: close {code} {reason}); retrying",
                self.failures
            );
            engine.report_error("connect", &CoreError::network("CONNECTION_FAILED", message));
        }
    }

    fn set_status(&mut self, engine: &mut Engine, status: Status, reason: &str) {
        if status == self.status {
            return;
        }
        self.status = status;
        engine.emit(
            EventType::NetworkStatus,
            Payload::NetworkStatus(status.network()),
            Some(reason.to_owned()),
        );
    }

    fn save(&mut self, engine: &mut Engine) {
        engine.stats_mut().outbox_length = self.replica.len() as u64;
    }

    /// Outbox work (changes to store or remove, bases, position) since the last call; the
    /// host stores it together with the state and then reports [`SyncClient::durable`].
    pub fn take_work(&mut self) -> Option<OutboxWork> {
        self.replica.take_work()
    }
}
