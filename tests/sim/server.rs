//! The simulated server: the core's `RoomState` (the real decisions) and `ServerSession`
//! per connection (the reference server's hello, catch-up and ack logic), with an
//! in-memory log, speaking the real protocol frames to simulated connections. Everything
//! it decides is "persisted" before it answers, like the reference server's SQLite commit.

use std::collections::HashMap;

use srvra_sync::core::model::operation::OpId;
use srvra_sync::core::protocol::{decode, encode, ClientMessage, Committed, Limits, ServerMessage};
use srvra_sync::core::room::session::{RoomLog, ServerSession, SessionLimits};
use srvra_sync::core::room::RoomState;

/// Largest catch-up part, in changes.
const CHUNK: usize = 25;

/// A frame for a client connection.
pub struct Outgoing {
    pub conn: u64,
    pub frame: Vec<u8>,
}

/// What the simulated server allows (catch-up parts are small, to cut them often).
const LIMITS: SessionLimits = SessionLimits {
    max_ops: 1000,
    max_frame: 1 << 20,
    chunk: CHUNK,
    // Small, so parts are also cut by bytes.
    part_bytes: 2048,
};

/// The retained log.
struct MemoryLog<'a>(&'a [Committed]);

impl RoomLog for MemoryLog<'_> {
    type Error = String;

    fn changes_between(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<Committed>, String> {
        Ok(self
            .0
            .iter()
            .filter(|c| c.position > after && c.position <= upto)
            .take(limit)
            .cloned()
            .collect())
    }

    fn position_of(&self, id: &OpId) -> Result<u64, String> {
        Ok(self
            .0
            .iter()
            .find(|c| c.op.id == *id)
            .map_or(0, |c| c.position))
    }
}

/// The server's durable state plus its sessions (lost on restart).
pub struct SimServer {
    pub room: RoomState,
    /// The retained log (positions `compacted + 1 ..= head`).
    log: Vec<Committed>,
    /// Every change ever accepted, for the checks (not part of the server).
    pub all_committed: Vec<Committed>,
    /// Every change ever rejected, for the checks.
    pub all_rejected: Vec<OpId>,
    /// Conflicts reported back to their authors to settle.
    pub reported: usize,
    sessions: HashMap<u64, ServerSession>,
}

impl SimServer {
    pub fn new() -> Self {
        Self {
            room: RoomState::default(),
            log: Vec::new(),
            all_committed: Vec::new(),
            all_rejected: Vec::new(),
            reported: 0,
            sessions: HashMap::new(),
        }
    }

    /// A connection opened.
    pub fn accept(&mut self, conn: u64) {
        self.sessions.insert(conn, ServerSession::new(LIMITS));
    }

    /// A connection ended (either side).
    pub fn drop_conn(&mut self, conn: u64) {
        self.sessions.remove(&conn);
    }

    /// Whether the server still has this connection.
    pub fn has(&self, conn: u64) -> bool {
        self.sessions.contains_key(&conn)
    }

    /// Restart: every session is gone; the room and log were persisted.
    pub fn restart(&mut self) -> Vec<u64> {
        self.sessions.drain().map(|(conn, _)| conn).collect()
    }

    /// Drops log entries older than the newest `retain`.
    pub fn compact(&mut self, retain: u64) {
        let upto = self.room.head.saturating_sub(retain);
        if upto > self.room.compacted {
            self.log.retain(|c| c.position > upto);
            self.room.compacted = upto;
        }
    }

    /// Handles one frame from `conn`; returns the frames to send. `Err` closes the
    /// connection (a malformed frame: never expected from the real client).
    pub fn receive(&mut self, conn: u64, frame: &[u8], now: f64) -> Result<Vec<Outgoing>, String> {
        let message: ClientMessage = decode(frame, Limits::default()).map_err(|e| e.message())?;
        let mut out = Vec::new();
        let send = |out: &mut Vec<Outgoing>, conn: u64, message: &ServerMessage| {
            out.push(Outgoing {
                conn,
                frame: encode(message, Some(512)),
            });
        };
        let Some(session) = self.sessions.get_mut(&conn) else {
            return Ok(out);
        };
        match message {
            ClientMessage::Hello {
                protocol,
                client_id,
                position,
                snapshot,
                ..
            } => {
                session
                    .hello(protocol, &client_id, "sim")
                    .map_err(|r| r.message)?;
                send(&mut out, conn, &session.welcome("sim", &self.room));
                let mut parts = if ServerSession::needs_snapshot(position, &self.room, snapshot) {
                    let mut entries = self.room.snapshot();
                    entries.sort_by(|a, b| a.key.cmp(&b.key));
                    session.catch_up_by_snapshot(self.room.head, entries)
                } else {
                    session.catch_up_from_log(position, self.room.head)
                };
                while let Some(part) = parts.next_part(&MemoryLog(&self.log))? {
                    send(&mut out, conn, &part);
                }
                // The simulated log never lacks a position.
                if parts.fell_short() {
                    return Err("the simulated log lacks a position".into());
                }
            }
            ClientMessage::Ping { nonce } => send(&mut out, conn, &ServerMessage::Pong { nonce }),
            // The simulated clients say no presence; the reference server's is tested over
            // real sockets (server/tests/presence.rs, tests/e2e/presence.test.mjs).
            ClientMessage::Presence { .. } => {}
            ClientMessage::Changes { ops, atomic } => {
                session.check_changes(&ops).map_err(|r| r.message)?;
                let client = session.client().unwrap_or_default().to_owned();
                let mut decided = self.room.decide_message(&client, ops, atomic, now);
                self.room.apply(&client, &decided);
                self.log.extend(decided.committed.iter().cloned());
                self.all_committed.extend(decided.committed.iter().cloned());
                self.all_rejected
                    .extend(decided.rejected.iter().map(|r| r.id.clone()));
                self.reported += decided
                    .rejected
                    .iter()
                    .filter(|r| r.conflict.is_some())
                    .count();
                let ack = ServerSession::ack(&mut decided, &MemoryLog(&self.log))?;
                send(&mut out, conn, &ack);
                if !decided.committed.is_empty() {
                    let broadcast = ServerMessage::Broadcast {
                        changes: decided.committed,
                    };
                    let mut others: Vec<u64> = self
                        .sessions
                        .iter()
                        .filter(|(c, s)| **c != conn && s.client().is_some())
                        .map(|(c, _)| *c)
                        .collect();
                    others.sort_unstable();
                    for other in others {
                        send(&mut out, other, &broadcast);
                    }
                }
            }
        }
        Ok(out)
    }
}
