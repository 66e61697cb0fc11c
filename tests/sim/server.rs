//! The simulated server: one or more instances sharing one stored room and log, like
//! reference servers on one PostgreSQL database (SPEC §12). Each instance runs the core's
//! `RoomState` (the real decisions, and `replay` to take what the others stored) and a
//! `ServerSession` per connection (the reference server's hello, catch-up, ack and
//! forwarding logic), speaking the real protocol frames to simulated connections. What an
//! instance decides is "committed" to the shared store before it answers; an instance
//! writing first takes what others committed (the row lock of the real backend), and hears
//! of other instances' commits later (`refresh`, the notification).

use std::collections::HashMap;

use srvra_sync::core::model::operation::OpId;
use srvra_sync::core::protocol::{decode, encode, ClientMessage, Committed, Limits, ServerMessage};
use srvra_sync::core::room::session::{
    check_owner, Forward, RoomLog, ServerSession, SessionLimits,
};
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

/// A connection's session and the instance it is on.
struct Session {
    instance: usize,
    core: ServerSession,
}

/// The stored room and log (durable) plus the instances' memory and sessions (lost on
/// restart).
pub struct SimServer {
    /// The room as stored.
    pub room: RoomState,
    /// The retained log (positions `compacted + 1 ..= head`).
    log: Vec<Committed>,
    /// Each instance's room in memory.
    instances: Vec<RoomState>,
    /// Every change ever accepted, for the checks (not part of the server).
    pub all_committed: Vec<Committed>,
    /// Every change ever rejected, for the checks.
    pub all_rejected: Vec<OpId>,
    /// Conflicts reported back to their authors to settle.
    pub reported: usize,
    /// Changes instances took from the shared log, and rooms reloaded whole.
    pub replayed: usize,
    pub reloaded: usize,
    /// Log catch-ups that went on as snapshots (the log compacted meanwhile).
    pub snapshots_after_compaction: usize,
    sessions: HashMap<u64, Session>,
    /// Who owns each client id: the secret it was first claimed with (stored, like the
    /// reference server's `owners` table).
    owners: HashMap<String, String>,
}

/// Appends `message` for `conn`.
fn send(out: &mut Vec<Outgoing>, conn: u64, message: &ServerMessage) {
    out.push(Outgoing {
        conn,
        frame: encode(message, Some(512)),
    });
}

impl SimServer {
    /// A server of `instances` instances (connection `c` goes to instance `c % instances`).
    pub fn new(instances: usize) -> Self {
        Self {
            room: RoomState::default(),
            log: Vec::new(),
            instances: vec![RoomState::default(); instances.max(1)],
            all_committed: Vec::new(),
            all_rejected: Vec::new(),
            reported: 0,
            replayed: 0,
            reloaded: 0,
            snapshots_after_compaction: 0,
            sessions: HashMap::new(),
            owners: HashMap::new(),
        }
    }

    /// Whether client id `id` was claimed with a secret.
    pub fn is_claimed(&self, id: &str) -> bool {
        self.owners.contains_key(id)
    }

    /// How many instances there are.
    pub fn instances(&self) -> usize {
        self.instances.len()
    }

    /// The instance a connection is served by.
    pub fn instance_of(&self, conn: u64) -> usize {
        (conn % self.instances.len() as u64) as usize
    }

    /// A connection opened.
    pub fn accept(&mut self, conn: u64) {
        let instance = self.instance_of(conn);
        self.sessions.insert(
            conn,
            Session {
                instance,
                core: ServerSession::new(LIMITS),
            },
        );
    }

    /// A connection ended (either side).
    pub fn drop_conn(&mut self, conn: u64) {
        self.sessions.remove(&conn);
    }

    /// Whether the server still has this connection.
    pub fn has(&self, conn: u64) -> bool {
        self.sessions.contains_key(&conn)
    }

    /// Restart: every session is gone, and each instance loads the room as stored.
    pub fn restart(&mut self) -> Vec<u64> {
        for instance in &mut self.instances {
            *instance = self.room.clone();
        }
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

    /// Whether every instance holds the room as stored (once every notice was heard).
    pub fn instances_agree(&self) -> Result<(), String> {
        for (i, state) in self.instances.iter().enumerate() {
            if state.head != self.room.head || state.keys != self.room.keys {
                return Err(format!(
                    "instance {i} at {} holds another room than the stored one at {}",
                    state.head, self.room.head
                ));
            }
        }
        Ok(())
    }

    /// Instance `i` takes what the others stored (its write lock, its notification, or a
    /// joiner's hello) and forwards it to its sessions.
    pub fn refresh(&mut self, i: usize) -> Result<Vec<Outgoing>, String> {
        let mut out = Vec::new();
        let state = &mut self.instances[i];
        state.compacted = state.compacted.max(self.room.compacted);
        if state.head >= self.room.head {
            return Ok(out);
        }
        let first = state.head + 1;
        let missed: Vec<Committed> = self
            .log
            .iter()
            .filter(|c| c.position > state.head)
            .cloned()
            .collect();
        if state.replay(&missed, self.room.head).is_err() {
            // Compacted past this instance's head: the room as stored.
            self.reloaded += 1;
            *state = self.room.clone();
            state.compacted = self.room.compacted;
            return Ok(out);
        }
        state.compacted = self.room.compacted;
        self.replayed += missed.len();
        let last = state.head;
        self.publish(&mut out, i, None, first, last, missed)?;
        Ok(out)
    }

    /// Forwards changes `first..=last` to instance `i`'s sessions, as the reference
    /// server's sessions do with a publication (`own`: the sending connection).
    fn publish(
        &mut self,
        out: &mut Vec<Outgoing>,
        i: usize,
        own: Option<u64>,
        first: u64,
        last: u64,
        changes: Vec<Committed>,
    ) -> Result<(), String> {
        let broadcast = ServerMessage::Broadcast { changes };
        let mut conns: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.instance == i && s.core.client().is_some())
            .map(|(c, _)| *c)
            .collect();
        conns.sort_unstable();
        for conn in conns {
            let Some(session) = self.sessions.get_mut(&conn) else {
                continue;
            };
            match session.core.forward(first, last, own == Some(conn)) {
                Forward::Skip => {}
                Forward::Send => send(out, conn, &broadcast),
                Forward::CatchUp => {
                    let position = session.core.sent();
                    self.catch_up(out, conn, position, false)?;
                }
            }
        }
        Ok(())
    }

    /// Sends `conn` everything after `position` its instance holds: from the log, or as a
    /// snapshot.
    fn catch_up(
        &mut self,
        out: &mut Vec<Outgoing>,
        conn: u64,
        position: u64,
        snapshot: bool,
    ) -> Result<(), String> {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return Ok(());
        };
        let state = &self.instances[session.instance];
        let mut parts = if ServerSession::needs_snapshot(position, state, snapshot) {
            let mut entries = state.snapshot();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            session.core.catch_up_by_snapshot(state.head, entries)
        } else {
            session.core.catch_up_from_log(position, state.head)
        };
        while let Some(part) = parts.next_part(&MemoryLog(&self.log))? {
            send(out, conn, &part);
        }
        if parts.fell_short() {
            // Another instance compacted what this one's sessions still needed: the rest
            // as a snapshot, as the reference server does.
            self.snapshots_after_compaction += 1;
            let mut entries = state.snapshot();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            let mut parts = session.core.catch_up_by_snapshot(state.head, entries);
            while let Some(part) = parts.next_part(&MemoryLog(&self.log))? {
                send(out, conn, &part);
            }
        }
        Ok(())
    }

    /// Handles one frame from `conn`; returns the frames to send. `Err` closes the
    /// connection (a malformed frame: never expected from the real client).
    pub fn receive(&mut self, conn: u64, frame: &[u8], now: f64) -> Result<Vec<Outgoing>, String> {
        let message: ClientMessage = decode(frame, Limits::default()).map_err(|e| e.message())?;
        let Some(i) = self.sessions.get(&conn).map(|s| s.instance) else {
            return Ok(Vec::new());
        };
        // Shared storage: the instance first takes what the others stored, as the
        // reference server does at a hello and under a write's lock.
        let mut out = match message {
            ClientMessage::Hello { .. } | ClientMessage::Changes { .. } => self.refresh(i)?,
            _ => Vec::new(),
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
                secret,
                ..
            } => {
                session
                    .core
                    .hello(protocol, &client_id, "sim")
                    .map_err(|r| r.message)?;
                // The id belongs to the first secret it was claimed with, as on the
                // reference server (which stores a hash of it).
                if let Some(secret) = &secret {
                    self.owners
                        .entry(client_id.clone())
                        .or_insert_with(|| secret.clone());
                }
                check_owner(
                    self.owners.get(&client_id).map(String::as_str),
                    secret.as_deref(),
                )
                .map_err(|r| r.message)?;
                send(
                    &mut out,
                    conn,
                    &session.core.welcome("sim", &self.instances[i]),
                );
                self.catch_up(&mut out, conn, position, snapshot)?;
            }
            ClientMessage::Ping { nonce } => send(&mut out, conn, &ServerMessage::Pong { nonce }),
            // The simulated clients say no presence; the reference server's is tested over
            // real sockets (server/tests/presence.rs, tests/e2e/presence.test.mjs).
            ClientMessage::Presence { .. } => {}
            ClientMessage::Changes { ops, atomic } => {
                session.core.check_changes(&ops).map_err(|r| r.message)?;
                let client = session.core.client().unwrap_or_default().to_owned();
                let state = &mut self.instances[i];
                let first = state.head + 1;
                let mut decided = state.decide_message(&client, ops, atomic, now);
                state.apply(&client, &decided);
                // Committed: the stored room moves with it.
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
                // The reference server writes the ack straight to the socket, while what
                // the instance took from the others reaches the session through the room's
                // channel: the ack may arrive first.
                let at = out.iter().position(|o| o.conn == conn).unwrap_or(out.len());
                out.insert(
                    at,
                    Outgoing {
                        conn,
                        frame: encode(&ack, Some(512)),
                    },
                );
                if !decided.committed.is_empty() {
                    let last = decided.head;
                    self.publish(&mut out, i, Some(conn), first, last, decided.committed)?;
                }
            }
        }
        Ok(out)
    }
}
