//! The simulated server: the core's `RoomState` (the real decisions) with an in-memory log,
//! speaking the real protocol frames to simulated connections. Everything it decides is
//! "persisted" before it answers, like the reference server's SQLite commit.

use std::collections::HashMap;

use srvra_sync::core::operation::OpId;
use srvra_sync::core::protocol::{decode, encode, ClientMessage, Committed, Limits, ServerMessage};
use srvra_sync::core::room::RoomState;

/// Largest catch-up part, in changes.
const CHUNK: usize = 25;

/// A frame for a client connection.
pub struct Outgoing {
    pub conn: u64,
    pub frame: Vec<u8>,
}

struct Session {
    client: Option<String>,
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
    sessions: HashMap<u64, Session>,
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
        self.sessions.insert(conn, Session { client: None });
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
        match message {
            ClientMessage::Hello {
                client_id,
                position,
                ..
            } => {
                let acknowledged = self.room.watermark(&client_id);
                if let Some(session) = self.sessions.get_mut(&conn) {
                    session.client = Some(client_id.clone());
                }
                send(
                    &mut out,
                    conn,
                    &ServerMessage::Welcome {
                        protocol: 1,
                        client_id,
                        room: "sim".into(),
                        position: self.room.head,
                        acknowledged,
                        max_ops: 1000,
                        max_frame: 1 << 20,
                    },
                );
                for message in self.catch_up(position) {
                    send(&mut out, conn, &message);
                }
            }
            ClientMessage::Ping { nonce } => send(&mut out, conn, &ServerMessage::Pong { nonce }),
            ClientMessage::Changes { ops, atomic } => {
                let Some(client) = self.sessions.get(&conn).and_then(|s| s.client.clone()) else {
                    return Err("changes before hello".into());
                };
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
                let mut acks = decided.acks();
                for id in std::mem::take(&mut decided.duplicates) {
                    let position = self
                        .log
                        .iter()
                        .find(|c| c.op.id == id)
                        .map_or(0, |c| c.position);
                    acks.push((id, position));
                }
                send(
                    &mut out,
                    conn,
                    &ServerMessage::Ack {
                        acks,
                        resolved: decided.resolved(),
                        rejected: decided.rejected,
                    },
                );
                if !decided.committed.is_empty() {
                    let broadcast = ServerMessage::Broadcast {
                        changes: decided.committed,
                    };
                    let mut others: Vec<u64> = self
                        .sessions
                        .iter()
                        .filter(|(c, s)| **c != conn && s.client.is_some())
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

    fn catch_up(&self, position: u64) -> Vec<ServerMessage> {
        let room = &self.room;
        if position < room.compacted || position > room.head {
            let mut entries = room.snapshot();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            let parts: Vec<_> = entries.chunks(CHUNK).map(<[_]>::to_vec).collect();
            let count = parts.len().max(1);
            return (0..count)
                .map(|i| ServerMessage::Snapshot {
                    position: room.head,
                    entries: parts.get(i).cloned().unwrap_or_default(),
                    done: i + 1 == count,
                })
                .collect();
        }
        let missed: Vec<Committed> = self
            .log
            .iter()
            .filter(|c| c.position > position)
            .cloned()
            .collect();
        let parts: Vec<_> = missed.chunks(CHUNK).map(<[_]>::to_vec).collect();
        let count = parts.len().max(1);
        (0..count)
            .map(|i| ServerMessage::CatchUp {
                changes: parts.get(i).cloned().unwrap_or_default(),
                done: i + 1 == count,
            })
            .collect()
    }
}
