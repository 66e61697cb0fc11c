//! A room's decisions, without I/O: which changes of a message are accepted, in what
//! order, with what result, and which are duplicates or rejected. The reference server
//! persists and publishes what this decides; the deterministic simulation runs the same
//! code. How a conflicting change is decided lives in [`RoomState::decide`], in one place.

pub mod presence;
pub mod replay;
pub mod session;
#[cfg(test)]
mod test_ops;
pub mod undo;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use crate::core::conflict::ConflictKind;
use crate::core::conflict::{hlc, verdict, Resolution, Verdict};
use crate::core::model::bounds;
use crate::core::model::key_state::{KeyState, Writers};
use crate::core::model::operation::{apply, OpId, Operation};
use crate::core::protocol::message::{Rejected, SnapshotEntry};
use crate::core::protocol::Committed;

/// What one room may hold, so no client can grow a room (and every joiner's catch-up)
/// without bound: the size of one key's value, keys ever written, and all values together.
/// Sizes are of the value as JSON text ([`bounds::value_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    /// Largest value of one key, in bytes.
    pub max_value_bytes: usize,
    /// Most keys a room may have written (deleted ones count until compaction).
    pub max_keys: usize,
    /// Most bytes all of a room's values may take together.
    pub max_bytes: usize,
}

impl Default for RoomLimits {
    fn default() -> Self {
        Self {
            max_value_bytes: 1024 * 1024,
            max_keys: 100_000,
            max_bytes: 64 * 1024 * 1024,
        }
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
    /// What the room may hold.
    pub limits: RoomLimits,
    /// Size of all values, as [`RoomState::count_bytes`] measures it.
    pub bytes: usize,
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
    /// The kind of every conflict detected (settled or reported to the author).
    pub conflicts: Vec<ConflictKind>,
    /// The room's [`RoomState::bytes`] after the message.
    pub bytes: usize,
}

impl Decided {
    /// Whether anything must be persisted.
    pub fn is_empty(&self) -> bool {
        self.committed.is_empty() && self.watermark.is_none()
    }

    /// The accepted changes' ids and positions, for the `ack`.
    pub fn acks(&self) -> Vec<(OpId, u64)> {
        self.committed
            .iter()
            .map(|c| (c.op.id.clone(), c.position))
            .collect()
    }

    /// How conflicts among the accepted changes were settled, for the `ack`.
    pub fn resolved(&self) -> Vec<(OpId, Resolution)> {
        self.committed
            .iter()
            .filter_map(|c| Some((c.op.id.clone(), c.resolution.clone()?)))
            .collect()
    }
}

impl RoomState {
    /// The highest sequence of `client` processed so far (0: none).
    pub fn watermark(&self, client: &str) -> u64 {
        self.watermarks.get(client).copied().unwrap_or(0)
    }

    /// Measures every value once (after loading), for the room's byte limit.
    pub fn count_bytes(&mut self) {
        self.bytes = self.keys.values().map(|k| slot_size(&k.value)).sum();
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

    /// The key's next state after `op`, as its conflict strategy settles it, with the
    /// resolution of a conflict the server settled. `None` state: the key stays.
    #[allow(clippy::type_complexity)]
    fn decide(
        current: &KeyState,
        op: &Operation,
    ) -> Result<(Option<KeyState>, Option<Resolution>), Rejected> {
        let rejected = |code: &str, message: String| Rejected {
            id: op.id.clone(),
            code: code.into(),
            message,
            conflict: None,
        };
        let next = |value: Option<Arc<Value>>| KeyState {
            value: value.into(),
            version: current.version + 1,
            writers: Some(Writers::after(
                current.writers.as_ref(),
                op,
                current.version + 1,
            )),
        };
        match verdict(current, op) {
            Verdict::Apply(resolution) => apply(current.value.as_ref(), &op.fields, &op.kind)
                .map(|value| (Some(next(value)), resolution))
                .map_err(|e| rejected(e.code, e.message)),
            Verdict::Skip(resolution) => Ok((None, Some(resolution))),
            Verdict::Replace(value, resolution) => Ok((Some(next(Some(value))), Some(resolution))),
            Verdict::Report(report) => {
                let message = format!(
                    "{} conflict on '{}' for the author to settle ({})",
                    report.kind.name(),
                    op.key,
                    report.strategy
                );
                let mut rejection = rejected("CONFLICT", message);
                rejection.conflict = Some(Box::new(report));
                Err(rejection)
            }
        }
    }

    /// Refuses a change whose value would be over `max_value_bytes`, or that would take
    /// the room past its bytes (`over_bytes`) or keys (`over_keys`).
    fn check_size(
        &self,
        op: &Operation,
        size: usize,
        over_bytes: bool,
        over_keys: bool,
    ) -> Result<(), Rejected> {
        let limits = &self.limits;
        let (code, message) = if size > limits.max_value_bytes {
            let max = limits.max_value_bytes;
            (
                "VALUE_TOO_LARGE",
                format!("the key's value would be {size} bytes; the limit is {max}"),
            )
        } else if over_bytes {
            (
                "ROOM_FULL",
                format!("the room's values would exceed {} bytes", limits.max_bytes),
            )
        } else if over_keys {
            (
                "ROOM_FULL",
                format!("the room already has {} keys", limits.max_keys),
            )
        } else {
            return Ok(());
        };
        Err(Rejected {
            id: op.id.clone(),
            code: code.into(),
            message,
            conflict: None,
        })
    }

    /// Decides a message's changes from `client`: drops ids it already processed, decides
    /// the rest in order (an `atomic` message all or none). Clock stamps more than
    /// [`hlc::MAX_SKEW_MS`] ahead of `now_ms` are capped. Changes nothing.
    pub fn decide_message(
        &self,
        client: &str,
        ops: Vec<Operation>,
        atomic: bool,
        now_ms: f64,
    ) -> Decided {
        let mut decided = Decided::default();
        let watermark = self.watermark(client);
        let mut fresh = Vec::new();
        let mut invalid = Vec::new();
        let mut seqs = std::collections::HashSet::new();
        for op in ops {
            if &*op.id.client != client {
                decided.rejected.push(Rejected {
                    id: op.id.clone(),
                    code: "FOREIGN_ID".into(),
                    message: format!("change id belongs to client '{}'", op.id.client),
                    conflict: None,
                });
            } else if op.id.seq == 0 {
                // Sequences start at 1: a 0 was acknowledged as already processed (at
                // position 0) and never applied (issue 29).
                invalid.push(Rejected {
                    id: op.id,
                    code: "INVALID_SEQ".into(),
                    message: "change sequences start at 1".into(),
                    conflict: None,
                });
            } else if op.id.seq <= watermark || !seqs.insert(op.id.seq) {
                // Processed before, or repeated within this message: one application.
                decided.duplicates.push(op.id);
            } else if let Err(error) = bounds::check_received(&op, watermark) {
                // Bounded before anything walks it: too deep, not finite, or a sequence
                // that would hide the client's later changes.
                invalid.push(Rejected {
                    id: op.id,
                    code: error.code.into(),
                    message: error.message,
                    conflict: None,
                });
            } else {
                let mut op = op;
                op.conflict.clock = hlc::cap(op.conflict.clock, now_ms);
                fresh.push(op);
            }
        }
        if atomic && !invalid.is_empty() {
            for op in fresh.drain(..) {
                invalid.push(Rejected {
                    id: op.id,
                    code: "BATCH_REJECTED".into(),
                    message: "another change of this atomic batch could not apply".into(),
                    conflict: None,
                });
            }
        }
        decided.rejected.append(&mut invalid);
        decided.watermark = fresh
            .iter()
            .map(|op| op.id.seq)
            .max()
            .filter(|seq| *seq > watermark);

        let mut overlay: HashMap<&str, KeyState> = HashMap::new();
        let mut accepted: Vec<(&Operation, Option<Resolution>)> = Vec::new();
        let mut rejected = Vec::new();
        let (mut bytes, mut keys) = (self.bytes, self.keys.len());
        for op in &fresh {
            let current = overlay
                .get(op.key.as_str())
                .or_else(|| self.keys.get(&op.key))
                .cloned()
                .unwrap_or_else(KeyState::absent);
            let is_new = !overlay.contains_key(op.key.as_str()) && !self.keys.contains_key(&op.key);
            if op.base_version > current.version {
                // No client can have seen a version the room never reached; taken as is,
                // such a change would skip conflict detection.
                rejected.push(Rejected {
                    id: op.id.clone(),
                    code: "INVALID_BASE_VERSION".into(),
                    message: format!(
                        "based on version {} of a key at version {}",
                        op.base_version, current.version
                    ),
                    conflict: None,
                });
                continue;
            }
            match Self::decide(&current, op) {
                Ok((Some(next), resolution)) => {
                    let size = slot_size(&next.value);
                    let after = (bytes + size).saturating_sub(slot_size(&current.value));
                    if let Err(rejection) = self.check_size(
                        op,
                        size,
                        after > bytes && after > self.limits.max_bytes,
                        is_new && keys >= self.limits.max_keys,
                    ) {
                        rejected.push(rejection);
                        continue;
                    }
                    bytes = after;
                    keys += usize::from(is_new);
                    overlay.insert(&op.key, next);
                    accepted.push((op, resolution));
                }
                Ok((None, resolution)) => accepted.push((op, resolution)),
                Err(rejection) => rejected.push(rejection),
            }
        }
        if atomic && !rejected.is_empty() {
            for (op, _) in accepted.drain(..) {
                rejected.push(Rejected {
                    id: op.id.clone(),
                    code: "BATCH_REJECTED".into(),
                    message: "another change of this atomic batch could not apply".into(),
                    conflict: None,
                });
            }
            overlay.clear();
            bytes = self.bytes;
        }
        decided.bytes = bytes;
        decided.conflicts = rejected
            .iter()
            .filter_map(|r| r.conflict.as_ref().map(|c| c.kind))
            .chain(
                accepted
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().map(|r| r.kind)),
            )
            .collect();
        decided.rejected.extend(rejected);
        let first = self.head + 1;
        decided.committed = accepted
            .into_iter()
            .enumerate()
            .map(|(i, (op, resolution))| Committed {
                position: first + i as u64,
                op: op.clone(),
                resolution,
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
        self.bytes = decided.bytes;
        if let Some(seq) = decided.watermark {
            self.watermarks.insert(client.to_owned(), seq);
        }
    }
}

/// The size of a key's value (0 when absent).
fn slot_size(value: &Option<Arc<Value>>) -> usize {
    value.as_deref().map_or(0, bounds::value_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conflict::{Outcome, Strategy};
    use crate::core::model::key_state::Writer;
    use crate::core::model::operation::{ConflictInfo, OpKind};
    use serde_json::{json, Value};
    use std::sync::Arc;

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
            conflict: Default::default(),
        }
    }

    /// A key last written by client `b` at clock 100.
    fn key(value: Option<Value>, version: u64) -> KeyState {
        KeyState {
            value: value.map(Arc::new).into(),
            version,
            writers: Some(Writers {
                last: Writer {
                    client: Arc::from("b"),
                    clock: 100,
                    version,
                },
                other: None,
            }),
        }
    }

    fn room_with(state: KeyState) -> RoomState {
        RoomState {
            head: state.version,
            keys: HashMap::from([("k".to_owned(), state)]),
            ..RoomState::default()
        }
    }

    fn with(mut op: Operation, strategy: Strategy, clock: u64, base: Option<Value>) -> Operation {
        op.conflict = ConflictInfo {
            clock,
            strategy: Some(strategy),
            threshold: None,
            base: base.map(Arc::new).into(),
            ..ConflictInfo::default()
        };
        op
    }

    #[test]
    fn last_write_wins_by_clock_and_first_write_wins_keeps_the_server_value() {
        let set = |v: Value| OpKind::Set(Arc::new(v));
        let room = room_with(key(Some(json!(1)), 2));
        let late = with(
            op(set(json!(2)), &[], 1),
            Strategy::LastWriteWins,
            200,
            None,
        );
        let decided = room.decide_message("a", vec![late], false, 0.0);
        assert_eq!(decided.keys[0].1.value.as_deref(), Some(&json!(2)));
        let outcome = decided.committed[0].resolution.as_ref().map(|r| &r.outcome);
        assert_eq!(outcome, Some(&Outcome::Client));

        let early = with(op(set(json!(2)), &[], 1), Strategy::LastWriteWins, 50, None);
        let decided = room.decide_message("a", vec![early], false, 0.0);
        assert!(decided.keys.is_empty(), "the key stays");
        assert_eq!(decided.committed.len(), 1, "still committed, as skipped");
        let outcome = decided.committed[0].resolution.as_ref().map(|r| &r.outcome);
        assert_eq!(outcome, Some(&Outcome::Server));

        let first = with(
            op(set(json!(2)), &[], 1),
            Strategy::FirstWriteWins,
            900,
            None,
        );
        let decided = room.decide_message("a", vec![first], false, 0.0);
        assert!(decided.keys.is_empty());
        assert_eq!(decided.conflicts, vec![ConflictKind::ModifyModify]);
    }

    #[test]
    fn a_clients_own_later_change_is_no_conflict() {
        let set = |v: Value| OpKind::Set(Arc::new(v));
        let mut state = key(Some(json!(1)), 5);
        state.writers = Some(Writers {
            last: Writer {
                client: Arc::from("a"),
                clock: 100,
                version: 5,
            },
            other: Some(Writer {
                client: Arc::from("b"),
                clock: 90,
                version: 3,
            }),
        });
        let room = room_with(state);
        let next = with(op(set(json!(2)), &[], 3), Strategy::FirstWriteWins, 1, None);
        let decided = room.decide_message("a", vec![next], false, 0.0);
        assert!(decided.conflicts.is_empty());
        assert_eq!(decided.keys[0].1.version, 6);
    }

    #[test]
    fn smart_merge_merges_fields_or_escalates_below_the_threshold() {
        let base = json!({ "a": 1, "b": 1 });
        let room = room_with(key(Some(json!({ "a": 2, "b": 1 })), 2));
        let client = with(
            op(OpKind::Set(Arc::new(json!({ "a": 1, "b": 3 }))), &[], 1),
            Strategy::SmartMerge,
            200,
            Some(base.clone()),
        );
        let decided = room.decide_message("a", vec![client], false, 0.0);
        assert_eq!(
            decided.keys[0].1.value.as_deref(),
            Some(&json!({ "a": 2, "b": 3 }))
        );
        let both = with(
            op(OpKind::Set(Arc::new(json!({ "a": 3, "b": 1 }))), &[], 1),
            Strategy::SmartMerge,
            200,
            Some(base),
        );
        let decided = room.decide_message("a", vec![both], false, 0.0);
        let report = decided.rejected[0].conflict.as_ref().unwrap();
        assert!(report.escalated);
        assert_eq!(report.version, 2);
    }

    #[test]
    fn manual_conflicts_go_back_to_the_author_and_far_future_clocks_are_capped() {
        let room = room_with(key(Some(json!(1)), 2));
        let manual = with(
            op(OpKind::Set(Arc::new(json!(5))), &[], 1),
            Strategy::Manual,
            hlc::Hlc::default().tick(1e12),
            None,
        );
        let decided = room.decide_message("a", vec![manual.clone()], false, 1_000.0);
        assert_eq!(decided.rejected[0].code, "CONFLICT");
        assert!(decided.committed.is_empty());
        let mut fresh = manual;
        fresh.base_version = 2;
        let decided = room.decide_message("a", vec![fresh], false, 1_000.0);
        let clock = decided.committed[0].op.conflict.clock;
        assert_eq!(hlc::wall(clock), 1_000 + hlc::MAX_SKEW_MS);
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
