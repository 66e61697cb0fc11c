//! Taking back decisions applied before their commit: a server applies several messages
//! of a room, then commits them in one transaction; if that commit fails, it undoes them,
//! newest first, so memory again matches what is stored.

use crate::core::model::key_state::KeyState;

use super::{Decided, RoomState};

/// A room's state before one applied decision, to take it back (see
/// [`RoomState::undo_of`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Undo {
    keys: Vec<(String, Option<KeyState>)>,
    head: u64,
    bytes: usize,
    watermark: (String, Option<u64>),
}

impl RoomState {
    /// What [`RoomState::undo`] needs to take `decided` back once applied: the state of
    /// every key it touches, the head, the size and `client`'s watermark, as they are now.
    /// (A server applies several messages before one commit; if the commit fails, it
    /// undoes them newest first.)
    pub fn undo_of(&self, client: &str, decided: &Decided) -> Undo {
        Undo {
            keys: decided
                .keys
                .iter()
                .map(|(key, _)| (key.clone(), self.keys.get(key).cloned()))
                .collect(),
            head: self.head,
            bytes: self.bytes,
            watermark: (client.to_owned(), self.watermarks.get(client).copied()),
        }
    }

    /// Takes back an applied decision (see [`RoomState::undo_of`]).
    pub fn undo(&mut self, undo: Undo) {
        for (key, state) in undo.keys {
            match state {
                Some(state) => self.keys.insert(key, state),
                None => self.keys.remove(&key),
            };
        }
        self.head = undo.head;
        self.bytes = undo.bytes;
        let (client, seq) = undo.watermark;
        match seq {
            Some(seq) => self.watermarks.insert(client, seq),
            None => self.watermarks.remove(&client),
        };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::super::test_ops::op;
    use super::*;
    use crate::core::model::operation::{OpKind, Operation};

    fn set(client: &str, seq: u64, key: &str, value: i64, base: u64) -> Operation {
        op(
            client,
            seq,
            key,
            OpKind::Set(Arc::new(json!(value))),
            base,
            0,
        )
    }

    /// Three messages applied (a new key, an overwrite, a new client), then undone newest
    /// first: the state is the one before, field for field.
    #[test]
    fn undoing_applied_messages_newest_first_restores_the_state_before() {
        let mut room = RoomState::default();
        let first = room.decide_message("a", vec![set("a", 1, "k", 1, 0)], false, 1e15);
        room.apply("a", &first);
        let before = room.clone();
        let mut undos = Vec::new();
        for (client, op) in [
            ("a", set("a", 2, "k", 2, 1)),
            ("b", set("b", 1, "n", 3, 0)),
            ("a", set("a", 3, "n", 4, 1)),
        ] {
            let decided = room.decide_message(client, vec![op], false, 1e15);
            assert_eq!(decided.committed.len(), 1);
            undos.push(room.undo_of(client, &decided));
            room.apply(client, &decided);
        }
        assert_ne!(room, before);
        for undo in undos.into_iter().rev() {
            room.undo(undo);
        }
        assert_eq!(room, before);
    }
}
