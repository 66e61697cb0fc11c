//! A key's state as the server decided it (value, version, who wrote it): what the room
//! keeps per key, what conflict detection compares a change with, and what a client keeps
//! as the confirmed base under its pending changes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::core::conflict::hlc::Stamp;
use crate::core::model::operation::Operation;
use crate::core::model::slot::Slot;

/// A key's state as the server decided it: in the room, and on a client as the confirmed
/// base under its pending changes (stored in the outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// The value, `None` when absent or deleted (JSON `null` is a value).
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub value: Slot,
    /// Accepted changes to the key so far.
    pub version: u64,
    /// Who wrote the key, for conflict detection and last-write-wins (kept by the
    /// server only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writers: Option<Writers>,
}

impl KeyState {
    /// An absent key that was never written.
    pub fn absent() -> Self {
        Self {
            value: Slot::ABSENT,
            version: 0,
            writers: None,
        }
    }
}

/// One write to a key: who made it, its clock stamp, the version it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writer {
    /// Its client id.
    pub client: Arc<str>,
    /// Its change's clock stamp.
    pub clock: Stamp,
    /// The key's version after it.
    pub version: u64,
}

/// A key's latest write, and the latest write by any other client: enough to tell
/// whether a change based on some version missed another client's write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writers {
    /// The latest write.
    pub last: Writer,
    /// The latest write by a client other than `last`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<Writer>,
}

impl Writers {
    /// The writers after `op` made `version`.
    pub fn after(previous: Option<&Writers>, op: &Operation, version: u64) -> Self {
        let last = Writer {
            client: Arc::clone(&op.id.client),
            clock: op.conflict.clock,
            version,
        };
        let other = match previous {
            Some(p) if p.last.client == last.client => p.other.clone(),
            Some(p) => Some(p.last.clone()),
            None => None,
        };
        Self { last, other }
    }

    /// The latest write by a client other than `client`.
    pub fn latest_not_by(&self, client: &str) -> Option<&Writer> {
        if &*self.last.client == client {
            self.other.as_ref()
        } else {
            Some(&self.last)
        }
    }
}
