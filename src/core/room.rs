//! A room's decisions, without I/O: which changes of a message are accepted, in what
//! order, with what result, and which are duplicates or rejected. The reference server
//! persists and publishes what this decides; the deterministic simulation runs the same
//! code. How a conflicting change is decided lives in [`RoomState::decide`], in one place.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::history::present;
use crate::core::operation::{apply, value_at, OpId, OpKind, Operation};
use crate::core::path::type_name;
use crate::core::protocol::message::{Rejected, SnapshotEntry};
use crate::core::protocol::Committed;

/// A key's state as the server decided it: in the room, and on a client as the confirmed
/// base under its pending changes (stored in the outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// The value, `None` when absent or deleted (JSON `null` is a value).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Arc<Value>>,
    /// Accepted changes to the key so far.
    pub version: u64,
}

/// The kinds of conflict of SPEC section 6: how a change based on an outdated version
/// relates to what the server holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictKind {
    /// Both sides changed the value.
    ModifyModify,
    /// The server deleted what the change modifies.
    DeleteModify,
    /// The change deletes what the server changed.
    ModifyDelete,
    /// Both sides created the key.
    AddAdd,
    /// The change replaces the server's value with one of another type.
    TypeChange,
}

impl ConflictKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ConflictKind; 5] = [
        Self::ModifyModify,
        Self::DeleteModify,
        Self::ModifyDelete,
        Self::AddAdd,
        Self::TypeChange,
    ];

    /// The name used in events and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::ModifyModify => "modify-modify",
            Self::DeleteModify => "delete-modify",
            Self::ModifyDelete => "modify-delete",
            Self::AddAdd => "add-add",
            Self::TypeChange => "type-change",
        }
    }

    /// The conflict `op` is in with the key's `current` state, if any: the change was
    /// based on an older version than the key's. `increment` and `append` commute and
    /// never conflict.
    pub fn classify(current: &KeyState, op: &Operation) -> Option<Self> {
        if op.base_version >= current.version
            || matches!(op.kind, OpKind::Increment(_) | OpKind::Append(_))
        {
            return None;
        }
        let server = value_at(current.value.as_ref(), &op.fields);
        Some(match (&op.kind, server) {
            (OpKind::Delete, _) => Self::ModifyDelete,
            (_, None) if current.value.is_none() => Self::DeleteModify,
            _ if op.base_version == 0 => Self::AddAdd,
            (OpKind::Set(value), Some(server)) if type_name(value) != type_name(server) => {
                Self::TypeChange
            }
            _ => Self::ModifyModify,
        })
    }
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
    /// The conflict of each accepted change based on an outdated version.
    pub conflicts: Vec<ConflictKind>,
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
    /// (last-write-wins); `increment` and `append` commute by construction. Also returns
    /// the conflict the change was in, if any.
    #[allow(clippy::type_complexity)]
    fn decide(
        current: &KeyState,
        op: &Operation,
    ) -> Result<(Option<Arc<Value>>, Option<ConflictKind>), Rejected> {
        let conflict = ConflictKind::classify(current, op);
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
                    decided.conflicts.extend(conflict);
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
            decided.conflicts.clear();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(kind: OpKind, fields: &[&str], base_version: u64) -> Operation {
        Operation {
            id: OpId {
                client: Arc::from("a"),
                seq: 1,
            },
            key: "k".into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            kind,
            base_version,
            timestamp: 0.0,
            batch: None,
        }
    }

    fn key(value: Option<Value>, version: u64) -> KeyState {
        KeyState {
            value: value.map(Arc::new),
            version,
        }
    }

    #[test]
    fn conflicts_are_classified_by_what_each_side_did() {
        let set = |v: Value| OpKind::Set(Arc::new(v));
        let live = key(Some(json!({ "n": 1 })), 3);
        let classify = ConflictKind::classify;
        assert_eq!(
            classify(&live, &op(set(json!({ "n": 2 })), &[], 2)),
            Some(ConflictKind::ModifyModify)
        );
        assert_eq!(
            classify(&live, &op(OpKind::Delete, &[], 2)),
            Some(ConflictKind::ModifyDelete)
        );
        assert_eq!(
            classify(&key(None, 3), &op(set(json!(1)), &[], 2)),
            Some(ConflictKind::DeleteModify)
        );
        assert_eq!(
            classify(&live, &op(set(json!({ "n": 5 })), &[], 0)),
            Some(ConflictKind::AddAdd)
        );
        assert_eq!(
            classify(&live, &op(set(json!(5)), &["n"], 1)),
            Some(ConflictKind::ModifyModify)
        );
        assert_eq!(
            classify(&live, &op(set(json!("text")), &["n"], 1)),
            Some(ConflictKind::TypeChange)
        );
        // Up to date, or commutative: no conflict.
        assert_eq!(classify(&live, &op(set(json!(1)), &[], 3)), None);
        assert_eq!(
            classify(&live, &op(OpKind::Increment(1.0), &["n"], 0)),
            None
        );
        assert_eq!(
            classify(&live, &op(OpKind::Append(json!(1)), &["l"], 0)),
            None
        );
    }
}
