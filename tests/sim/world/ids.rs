//! An oracle for change ids: each id a client sends names one change, across crashes and
//! restarts. A change may leave before its write is stored; if the client crashes then,
//! the next life must not give its id to another change (the server would drop that one as
//! a resend).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use srvra_sync::core::model::operation::{OpId, Operation};
use srvra_sync::core::protocol::{decode, ClientMessage, Limits};

/// Every change id seen on the way to the server, with what it named.
#[derive(Default)]
pub struct IssuedIds {
    seen: HashMap<OpId, String>,
    /// Ids that named two different changes.
    pub reused: Vec<String>,
}

impl IssuedIds {
    /// Notes the changes in a frame a client sent.
    pub fn observe(&mut self, frame: &[u8]) {
        let Ok(ClientMessage::Changes { ops, .. }) = decode(frame, Limits::default()) else {
            return;
        };
        for op in ops {
            let print = fingerprint(&op);
            match self.seen.entry(op.id.clone()) {
                Entry::Occupied(first) if *first.get() != print => self.reused.push(format!(
                    "change id {:?} named {} and then {print}",
                    op.id,
                    first.get()
                )),
                Entry::Occupied(_) => {}
                Entry::Vacant(slot) => {
                    slot.insert(print);
                }
            }
        }
    }
}

impl IssuedIds {
    /// How many of a client's changes `made` were sent with a sequence above `stored`
    /// (what a crash now loses from its outbox though the server may have it).
    pub fn sent_unstored(&self, made: &[OpId], stored: u64) -> usize {
        made.iter()
            .filter(|id| id.seq > stored && self.seen.contains_key(id))
            .count()
    }
}

/// What a change does and when it was made: the same on every resend of it.
fn fingerprint(op: &Operation) -> String {
    format!("{} {:?} {:?} @{}", op.key, op.fields, op.kind, op.timestamp)
}
