//! Catching a room's state up from its log: how a server instance that shares its storage
//! with others (SPEC §12) learns what they accepted. Each change is decided again exactly
//! as it was when accepted ([`RoomState::decide`] depends only on the key's state and the
//! stored change), so every instance reaches the state the accepting one persisted.

use crate::core::model::key_state::KeyState;
use crate::core::protocol::Committed;

use super::{slot_size, RoomState};

/// Why a log could not be replayed: the caller reloads the room from its stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayGap {
    /// The change at this position is missing (compacted or quarantined).
    Missing(u64),
    /// The change at this position does not apply to the state it follows.
    Diverged(u64),
}

impl RoomState {
    /// Applies `changes` (the log right after [`RoomState::head`], in order, up to the
    /// stored `head`) as the instance that accepted them did: keys, head, size and each
    /// author's watermark. Changes at or before the head are skipped. On a gap (a missing
    /// position, or the changes ending before `head`) the state keeps every change before
    /// it.
    pub fn replay(&mut self, changes: &[Committed], head: u64) -> Result<(), ReplayGap> {
        for change in changes {
            if change.position <= self.head {
                continue;
            }
            if change.position != self.head + 1 {
                return Err(ReplayGap::Missing(self.head + 1));
            }
            let op = &change.op;
            let current = self
                .keys
                .get(&op.key)
                .cloned()
                .unwrap_or_else(KeyState::absent);
            match Self::decide(&current, op) {
                Ok((Some(next), _)) => {
                    self.bytes = (self.bytes + slot_size(&next.value))
                        .saturating_sub(slot_size(&current.value));
                    self.keys.insert(op.key.clone(), next);
                }
                Ok((None, _)) => {}
                Err(_) => return Err(ReplayGap::Diverged(change.position)),
            }
            let seen = self.watermarks.entry(op.id.client.to_string()).or_insert(0);
            *seen = (*seen).max(op.id.seq);
            self.head = change.position;
        }
        if self.head < head {
            return Err(ReplayGap::Missing(self.head + 1));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::super::test_ops::op;
    use super::*;
    use crate::core::model::operation::OpKind;

    /// Two clients writing the same keys from stale versions (conflicts settled by the
    /// server), increments and deletes: the replaying instance ends where the accepting
    /// one did.
    #[test]
    fn a_replayed_log_reaches_the_accepting_instances_state() {
        let mut accepting = RoomState::default();
        let mut log = Vec::new();
        let messages = [
            (
                "a",
                vec![op(
                    "a",
                    1,
                    "k",
                    OpKind::Set(Arc::new(json!({"x": 1}))),
                    0,
                    10,
                )],
            ),
            (
                "b",
                vec![op("b", 1, "k", OpKind::Set(Arc::new(json!(2))), 0, 5)],
            ),
            ("b", vec![op("b", 2, "n", OpKind::Increment(2.0), 0, 20)]),
            ("a", vec![op("a", 2, "n", OpKind::Increment(3.0), 0, 21)]),
            ("a", vec![op("a", 3, "k", OpKind::Delete, 1, 30)]),
            (
                "b",
                vec![op("b", 3, "k", OpKind::Set(Arc::new(json!(3))), 1, 40)],
            ),
        ];
        for (client, ops) in messages {
            let decided = accepting.decide_message(client, ops, false, 1e15);
            accepting.apply(client, &decided);
            log.extend(decided.committed);
        }
        assert!(
            log.iter().any(|c| c.resolution.is_some()),
            "no conflict was settled"
        );
        let mut replaying = RoomState::default();
        replaying.replay(&log[..2], 2).unwrap();
        // Overlapping and later parts: what was applied is skipped.
        replaying.replay(&log, accepting.head).unwrap();
        assert_eq!(replaying, accepting);
    }

    #[test]
    fn a_hole_in_the_log_stops_the_replay_before_it() {
        let accepting = RoomState::default();
        let ops = (1..=3)
            .map(|seq| op("a", seq, "k", OpKind::Increment(1.0), seq - 1, seq))
            .collect();
        let decided = accepting.decide_message("a", ops, false, 1e15);
        let mut log = decided.committed;
        log.remove(1);
        let mut replaying = RoomState::default();
        assert_eq!(replaying.replay(&log, 3), Err(ReplayGap::Missing(2)));
        assert_eq!(replaying.head, 1);
        assert_eq!(replaying.watermark("a"), 1);
        // A log that ends before the stored head (compacted since) is a gap too.
        assert_eq!(replaying.replay(&log[..1], 3), Err(ReplayGap::Missing(2)));
        assert_eq!(replaying.replay(&[], 1), Ok(()));
    }
}
