//! A room: the one order of accepted changes, the current state, the per-client
//! watermarks that make delivery exactly-once, and the broadcast to the room's sessions.
//! How a change that conflicts is decided lives in [`Room::decide`], in one place.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;
use srvra_sync::core::operation::{apply, OpId, OpKind, Operation};
use srvra_sync::core::protocol::message::{Rejected, SnapshotEntry};
use srvra_sync::core::protocol::{encode, Committed, ServerMessage};
use tokio::sync::{broadcast, Mutex};

use crate::db::{CommitBatch, Db, DbResult, KeyRow};
use crate::metrics::{inc, Metrics};

/// Broadcast capacity per room; a session that falls further behind catches up from the log.
const BROADCAST_CAPACITY: usize = 1024;

/// Accepted changes of one message, published to the room's sessions.
#[derive(Debug)]
pub struct Published {
    /// Client that sent them (its sessions skip them: it got an ack).
    pub author: Arc<str>,
    /// First and last position covered.
    pub first: u64,
    /// Last position covered.
    pub last: u64,
    /// The encoded `broadcast` frame.
    pub frame: Arc<Vec<u8>>,
}

/// What `submit` did with a message's changes.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// Accepted (or already applied) ids with positions.
    pub acks: Vec<(OpId, u64)>,
    /// Changes that could not apply.
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone)]
struct KeyState {
    value: Option<Arc<Value>>,
    version: u64,
}

#[derive(Debug)]
struct RoomState {
    head: u64,
    compacted: u64,
    keys: HashMap<String, KeyState>,
    watermarks: HashMap<String, u64>,
}

/// One room.
#[derive(Debug)]
pub struct Room {
    name: String,
    state: Mutex<RoomState>,
    tx: broadcast::Sender<Arc<Published>>,
}

/// A room's state at one position, for catch-up decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// Last accepted position.
    pub head: u64,
    /// Log compacted at or before this position.
    pub compacted: u64,
}

impl Room {
    /// Loads a room from the database.
    pub fn load(db: &Db, name: &str) -> DbResult<Self> {
        let row = db.load_room(name)?;
        let keys = row
            .keys
            .into_iter()
            .map(|k| {
                (
                    k.key,
                    KeyState {
                        value: k.value,
                        version: k.version,
                    },
                )
            })
            .collect();
        let state = RoomState {
            head: row.head,
            compacted: row.compacted,
            keys,
            watermarks: row.watermarks.into_iter().collect(),
        };
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        Ok(Self {
            name: name.to_owned(),
            state: Mutex::new(state),
            tx,
        })
    }

    /// The room's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Receives every later publication.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// Highest sequence of `client` processed so far (0: none).
    pub async fn watermark(&self, client: &str) -> u64 {
        let state = self.state.lock().await;
        state.watermarks.get(client).copied().unwrap_or(0)
    }

    /// Head and compaction point now.
    pub async fn position(&self) -> Position {
        let state = self.state.lock().await;
        Position {
            head: state.head,
            compacted: state.compacted,
        }
    }

    /// Every key at the current head.
    pub async fn snapshot(&self) -> (u64, Vec<SnapshotEntry>) {
        let state = self.state.lock().await;
        let entries = state
            .keys
            .iter()
            .map(|(key, k)| SnapshotEntry {
                key: key.clone(),
                value: k.value.clone(),
                version: k.version,
            })
            .collect();
        (state.head, entries)
    }

    /// The conflict decision: the value a change leaves at its key, given the key's
    /// current state. For now the server applies changes in arrival order, so the later
    /// arrival wins (last-write-wins); `increment` and `append` commute by construction.
    /// Returns whether the change was based on an outdated version (a conflict).
    fn decide(current: &KeyState, op: &Operation) -> Result<(Option<Arc<Value>>, bool), Rejected> {
        let conflict = op.base_version < current.version
            && !matches!(op.kind, OpKind::Increment(_) | OpKind::Append(_));
        apply(current.value.as_ref(), &op.fields, &op.kind)
            .map(|next| (next, conflict))
            .map_err(|e| Rejected {
                id: op.id.clone(),
                code: e.code.into(),
                message: e.message,
            })
    }

    /// Applies a message's changes from `client`: drops ids it already applied, decides
    /// the rest in order (an `atomic` message all or none), persists what was accepted in
    /// one transaction, then acknowledges and publishes it.
    pub async fn submit(
        &self,
        db: &Db,
        metrics: &Metrics,
        client: &str,
        ops: Vec<Operation>,
        atomic: bool,
        threshold: Option<usize>,
    ) -> DbResult<Outcome> {
        let mut state = self.state.lock().await;
        let mut outcome = Outcome::default();
        let watermark = state.watermarks.get(client).copied().unwrap_or(0);
        let mut duplicates = Vec::new();
        let mut fresh = Vec::new();
        for op in ops {
            if &*op.id.client != client {
                outcome.rejected.push(Rejected {
                    id: op.id.clone(),
                    code: "FOREIGN_ID".into(),
                    message: format!("change id belongs to client '{}'", op.id.client),
                });
            } else if op.id.seq <= watermark {
                duplicates.push(op.id);
            } else {
                fresh.push(op);
            }
        }

        let mut overlay: HashMap<&str, KeyState> = HashMap::new();
        let mut accepted: Vec<&Operation> = Vec::new();
        let mut conflicts = 0;
        for op in &fresh {
            let current = overlay
                .get(op.key.as_str())
                .or_else(|| state.keys.get(&op.key))
                .cloned()
                .unwrap_or(KeyState {
                    value: None,
                    version: 0,
                });
            match Self::decide(&current, op) {
                Ok((value, conflict)) => {
                    conflicts += u64::from(conflict);
                    overlay.insert(
                        &op.key,
                        KeyState {
                            value,
                            version: current.version + 1,
                        },
                    );
                    accepted.push(op);
                }
                Err(rejected) => outcome.rejected.push(rejected),
            }
        }
        if atomic && accepted.len() != fresh.len() {
            let code = "BATCH_REJECTED";
            for op in accepted.drain(..) {
                let message = "another change of this atomic batch could not apply".to_owned();
                outcome.rejected.push(Rejected {
                    id: op.id.clone(),
                    code: code.into(),
                    message,
                });
            }
            overlay.clear();
            conflicts = 0;
        }

        let first = state.head + 1;
        let committed: Vec<Committed> = accepted
            .iter()
            .enumerate()
            .map(|(i, op)| Committed {
                position: first + i as u64,
                op: (*op).clone(),
            })
            .collect();
        let head = state.head + committed.len() as u64;
        let new_watermark = fresh
            .iter()
            .map(|op| op.id.seq)
            .max()
            .filter(|seq| *seq > watermark);
        if !committed.is_empty() || new_watermark.is_some() {
            let batch = CommitBatch {
                changes: committed.iter().map(|c| (c.position, &c.op)).collect(),
                keys: overlay
                    .iter()
                    .map(|(key, k)| KeyRow {
                        key: (*key).to_owned(),
                        value: k.value.clone(),
                        version: k.version,
                    })
                    .collect(),
                watermark: new_watermark.map(|seq| (client, seq)),
                head,
            };
            tokio::task::block_in_place(|| db.commit(&self.name, &batch))?;
        }

        // Persisted: now the in-memory state may move.
        for (key, k) in overlay {
            state.keys.insert(key.to_owned(), k);
        }
        state.head = head;
        if let Some(seq) = new_watermark {
            state.watermarks.insert(client.to_owned(), seq);
        }
        metrics
            .changes_accepted
            .fetch_add(committed.len() as u64, Ordering::Relaxed);
        metrics
            .changes_rejected
            .fetch_add(outcome.rejected.len() as u64, Ordering::Relaxed);
        metrics.conflicts.fetch_add(conflicts, Ordering::Relaxed);
        outcome
            .acks
            .extend(committed.iter().map(|c| (c.op.id.clone(), c.position)));
        for id in duplicates {
            inc(&metrics.changes_duplicate);
            let position =
                tokio::task::block_in_place(|| db.position_of(&self.name, &id.client, id.seq))?;
            outcome.acks.push((id, position.unwrap_or(0)));
        }
        if !committed.is_empty() {
            let frame = encode(&ServerMessage::Broadcast { changes: committed }, threshold);
            // No receiver is fine: nobody else is in the room.
            let _ = self.tx.send(Arc::new(Published {
                author: Arc::from(client),
                first,
                last: head,
                frame: Arc::new(frame),
            }));
        }
        Ok(outcome)
    }

    /// Drops log entries older than the newest `retain`.
    pub async fn compact(&self, db: &Db, retain: u64) -> DbResult<()> {
        let mut state = self.state.lock().await;
        if state.head.saturating_sub(retain) > state.compacted {
            state.compacted =
                tokio::task::block_in_place(|| db.compact(&self.name, state.head, retain))?;
        }
        Ok(())
    }
}

/// The rooms loaded so far.
#[derive(Debug, Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
}

impl Rooms {
    /// The room `name`, loading it on first use.
    pub async fn get(&self, db: &Db, name: &str) -> DbResult<Arc<Room>> {
        let mut rooms = self.rooms.lock().await;
        if let Some(room) = rooms.get(name) {
            return Ok(Arc::clone(room));
        }
        let room = Arc::new(tokio::task::block_in_place(|| Room::load(db, name))?);
        rooms.insert(name.to_owned(), Arc::clone(&room));
        Ok(room)
    }

    /// Every loaded room.
    pub async fn all(&self) -> Vec<Arc<Room>> {
        self.rooms.lock().await.values().cloned().collect()
    }
}
