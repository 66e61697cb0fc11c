//! What the loop does with each message from the server: one method per message type.

use rustc_hash::FxHashMap;

use super::{Phase, SyncClient};
use crate::core::conflict::Resolution;
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::{ErrorInfo, Payload, SyncErrorEvent};
use crate::core::error::ErrorKind;
use crate::core::model::operation::OpId;
use crate::core::protocol::message::{Committed, Rejected, SnapshotEntry};
use crate::core::protocol::{close, ServerMessage, PROTOCOL_VERSION};
use crate::core::sync::io::Timer;
use crate::core::sync::report::rejected_event;
use crate::core::sync::status::Status;
use crate::core::Engine;

impl SyncClient {
    /// Dispatches a decoded server message.
    pub(super) fn handle(&mut self, engine: &mut Engine, message: ServerMessage) {
        match message {
            ServerMessage::Welcome {
                protocol,
                acknowledged,
                max_ops,
                max_frame,
                ..
            } => self.on_welcome(engine, protocol, acknowledged, max_ops, max_frame),
            ServerMessage::CatchUp { changes, done } => self.on_catch_up(engine, changes, done),
            ServerMessage::Snapshot {
                position,
                entries,
                done,
            } => self.on_snapshot(engine, position, entries, done),
            ServerMessage::Broadcast { changes } => self.on_broadcast(engine, changes),
            ServerMessage::Ack {
                acks,
                rejected,
                resolved,
            } => self.on_ack(engine, acks, rejected, resolved),
            ServerMessage::Pong { nonce } => self.on_pong(engine, nonce),
            ServerMessage::Presence { peers, full } => self.on_presence(engine, peers, full),
            // A fatal error is reported once, with the close that follows it.
            ServerMessage::Error {
                fatal: true,
                message,
                ..
            } => self.server_reason = Some(message),
            ServerMessage::Error { code, message, .. } => {
                let error = ErrorInfo::new(ErrorKind::Network, code, message);
                let payload = Payload::SyncError(SyncErrorEvent::new("server", error));
                engine.emit(EventType::SyncError, payload, None);
            }
        }
        if self.replica.take_diverged() {
            // A confirmed change did not apply here: this client's confirmed state is not
            // the server's. A snapshot of the room replaces it.
            self.want_snapshot = true;
            self.restart_connection(engine, "resync after divergence");
        }
    }

    fn on_welcome(
        &mut self,
        engine: &mut Engine,
        protocol: u32,
        acknowledged: u64,
        max_ops: u64,
        max_frame: u64,
    ) {
        self.answered(engine);
        if protocol != u32::from(PROTOCOL_VERSION) {
            self.io
                .transport
                .close(close::UNSUPPORTED_PROTOCOL, "protocol");
            self.lost(
                engine,
                close::UNSUPPORTED_PROTOCOL,
                "the server speaks another protocol version",
            );
            return;
        }
        if let Some(c) = self.connection.as_mut() {
            c.phase = Phase::CatchingUp;
        }
        self.acknowledged = acknowledged;
        self.max_ops = usize::try_from(max_ops).unwrap_or(usize::MAX).max(1);
        self.max_frame = usize::try_from(max_frame).unwrap_or(usize::MAX);
        let timers = &mut self.io.timers;
        timers.cancel(Timer::HeartbeatTimeout);
        timers.start(Timer::Heartbeat, self.config.heartbeat_interval);
        timers.start(Timer::Stable, self.config.heartbeat_interval.min(10_000));
        timers.start(Timer::Reconcile, self.config.sync_interval);
        self.presence_welcomed(engine);
        // Online only once the server welcomed this client: an attempt that fails
        // (refused, silent, closed before the welcome) never reports `online`.
        self.set_status(engine, Status::Syncing, "catching-up");
    }

    fn on_catch_up(&mut self, engine: &mut Engine, changes: Vec<Committed>, done: bool) {
        for committed in changes {
            self.replica.apply_committed(engine, committed);
        }
        self.caught_up(engine, done);
    }

    fn on_snapshot(
        &mut self,
        engine: &mut Engine,
        position: u64,
        entries: Vec<SnapshotEntry>,
        done: bool,
    ) {
        let processed = self.acknowledged;
        self.replica
            .snapshot_part(engine, position, entries, done, processed);
        if done {
            self.want_snapshot = false;
        }
        self.caught_up(engine, done);
    }

    fn on_broadcast(&mut self, engine: &mut Engine, changes: Vec<Committed>) {
        for committed in changes {
            self.replica.apply_committed(engine, committed);
        }
        // Early acks of this client's changes may have become confirmed.
        self.flush(engine);
    }

    fn on_ack(
        &mut self,
        engine: &mut Engine,
        acks: Vec<(OpId, u64)>,
        rejected: Vec<Rejected>,
        resolved: Vec<(OpId, Resolution)>,
    ) {
        self.answered(engine);
        self.acked_since += acks.len() as u64;
        let compacted = acks.iter().any(|(_, position)| *position == 0);
        let mut resolved: FxHashMap<OpId, Resolution> = resolved.into_iter().collect();
        for (id, position) in acks {
            let resolution = resolved.remove(&id);
            self.replica.ack(engine, id, position, resolution);
        }
        if compacted && self.replica.has_gap() {
            // The missing position is ours but only the compacted log had it: a fresh
            // catch-up (or snapshot) fills it.
            return self.restart_connection(engine, "gap in the server's order");
        }
        for rejection in rejected {
            let error = ErrorInfo::new(
                ErrorKind::Validation,
                rejection.code.clone(),
                rejection.message.clone(),
            );
            if let Some(op) = self.replica.reject(engine, rejection) {
                rejected_event(engine, &op, error);
            }
        }
        self.flush(engine);
    }

    /// The server answered a hello or changes message: the round trip since the oldest
    /// one unanswered (`getStatistics().lastRoundTripMs`).
    fn answered(&mut self, engine: &mut Engine) {
        if let Some(at) = self.asked_at.take() {
            engine.stats_mut().last_round_trip_ms = Some((engine.now_ms() - at).max(0.0));
        }
    }

    fn on_pong(&mut self, engine: &mut Engine, nonce: u64) {
        if nonce == self.nonce {
            self.io.timers.cancel(Timer::HeartbeatTimeout);
            let rtt = engine.now_ms() - self.ping_at;
            engine.stats_mut().last_round_trip_ms = Some(rtt.max(0.0));
            let interval = self.config.heartbeat_interval;
            self.io.timers.start(Timer::Heartbeat, interval);
        }
    }
}
