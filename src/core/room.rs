//! A room's decisions, without I/O: which changes of a message are accepted, in what
//! order, with what result, and which are duplicates or rejected. The reference server
//! persists and publishes what this decides; the deterministic simulation runs the same
//! code. How a conflicting change is decided lives in [`RoomState::decide`], in one place.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::core::operation::{apply, OpId, OpKind, Operation};
use crate::core::protocol::message::{Rejected, SnapshotEntry};
use crate::core::protocol::Committed;

/// A key's state on the server.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyState {
    /// The value, `None` when absent or deleted.
    pub value: Option<Arc<Value>>,
    /// Accepted changes to the key so far.
    pub version: u64,
}

/// The state of one room.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomState {
    /// Last accepted position.
    pub head: u64,
    /// The log is compacted up to this position.
    pub compacted: u64,
    /// Every key ever written.
    pub keys: HashMap<String, KeyState>,
    /// Per client, the highest sequence processed.
    pub watermarks: HashMap<String, u64>,
}

/// What one `changes` message does, decided before anything is persisted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decided {
    /// Accepted changes with their positions, in order.
    pub committed: Vec<Committed>,
    /// The final state of every key the accepted changes touched.
    pub keys: Vec<(String, KeyState)>,
    /// The client's new watermark, when it moves.
    pub watermark: Option<u64>,
    /// The head after the message.
    pub head: u64,
    /// Changes that cannot apply.
    pub rejected: Vec<Rejected>,
    /// Changes processed before (acked with the position they got, if any).
    pub duplicates: Vec<OpId>,
    /// Accepted changes based on an outdated version.
    pub conflicts: u64,
}

impl Decided {
    /// Whether anything must be persisted.
    pub fn is_empty(&self) -> bool {
        self.committed.is_empty() && self.watermark.is_none()
    }
}

impl RoomState {
    /// The highest sequence of `client` processed so far (0: none).
    pub fn watermark(&self, client: &str) -> u64 {
        self.watermarks.get(client).copied().unwrap_or(0)
    }

    /// Every key at the head.
    pub fn snapshot(&self) -> Vec<SnapshotEntry> {
        self.keys
            .iter()
            .map(|(key, k)| SnapshotEntry {
                key: key.clone(),
                value: k.value.clone(),
                version: k.version,
            })
            .collect()
    }

    /// The conflict decision: the value a change leaves at its key, given the key's
    /// current state. For now changes apply in arrival order, so the later arrival wins
    /// (last-write-wins); `increment` and `append` commute by construction. Returns
    /// whether the change was based on an outdated version (a conflict).
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

    /// Decides a message's changes from `client`: drops ids it already processed, decides
    /// the rest in order (an `atomic` message all or none). Changes nothing.
    pub fn decide_message(&self, client: &str, ops: Vec<Operation>, atomic: bool) -> Decided {
        let mut decided = Decided::default();
        let watermark = self.watermark(client);
        let mut fresh = Vec::new();
        for op in ops {
            if &*op.id.client != client {
                decided.rejected.push(Rejected {
                    id: op.id.clone(),
                    code: "FOREIGN_ID".into(),
                    message: format!("change id belongs to client '{}'", op.id.client),
                });
            } else if op.id.seq <= watermark {
                decided.duplicates.push(op.id);
            } else {
                fresh.push(op);
            }
        }
        decided.watermark = fresh
            .iter()
            .map(|op| op.id.seq)
            .max()
            .filter(|seq| *seq > watermark);

        let mut overlay: HashMap<&str, KeyState> = HashMap::new();
        let mut accepted: Vec<&Operation> = Vec::new();
        let mut rejected = Vec::new();
        for op in &fresh {
            let current = overlay
                .get(op.key.as_str())
                .or_else(|| self.keys.get(&op.key))
                .cloned()
                .unwrap_or(KeyState {
                    value: None,
                    version: 0,
                });
            match Self::decide(&current, op) {
                Ok((value, conflict)) => {
                    decided.conflicts += u64::from(conflict);
                    let version = current.version + 1;
                    overlay.insert(&op.key, KeyState { value, version });
                    accepted.push(op);
                }
                Err(rejection) => rejected.push(rejection),
            }
        }
        if atomic && !rejected.is_empty() {
            for op in accepted.drain(..) {
                rejected.push(Rejected {
                    id: op.id.clone(),
                    code: "BATCH_REJECTED".into(),
                    message: "another change of this atomic batch could not apply".into(),
                });
            }
            overlay.clear();
            decided.conflicts = 0;
        }
        decided.rejected.extend(rejected);
        let first = self.head + 1;
        decided.committed = accepted
            .iter()
            .enumerate()
            .map(|(i, op)| Committed {
                position: first + i as u64,
                op: (*op).clone(),
            })
            .collect();
        decided.head = self.head + decided.committed.len() as u64;
        decided.keys = overlay
            .into_iter()
            .map(|(key, state)| (key.to_owned(), state))
            .collect();
        decided
    }

    /// Makes a decision current (after it was persisted).
    pub fn apply(&mut self, client: &str, decided: &Decided) {
        for (key, state) in &decided.keys {
            self.keys.insert(key.clone(), state.clone());
        }
        self.head = decided.head;
        if let Some(seq) = decided.watermark {
            self.watermarks.insert(client.to_owned(), seq);
        }
    }
}
