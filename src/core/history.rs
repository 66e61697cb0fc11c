//! Bounded per-key history of values, newest last.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Made by this client.
    Local,
    /// Received from the server.
    Remote,
    /// Made by `rollback`.
    Rollback,
}

impl Origin {
    /// The name used in events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
            Self::Rollback => "rollback",
        }
    }
}

/// One version of a key. `value: None` records a deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The key's version after this change.
    pub version: u64,
    /// The whole key value after this change (`None`: deleted; JSON `null` is `Some`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Arc<Value>>,
    /// Time of the change, ms since the epoch.
    pub updated_at: f64,
    /// Client id of the author.
    pub updated_by: Arc<str>,
    /// Where it came from.
    pub origin: Origin,
}

/// Reads a field that is present as `Some`, even when it holds JSON `null`
/// (an absent field is `None` through `#[serde(default)]`).
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Arc<Value>>, D::Error> {
    Value::deserialize(d).map(|v| Some(Arc::new(v)))
}

/// At most `limit` entries, oldest dropped first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    entries: VecDeque<HistoryEntry>,
}

impl History {
    /// Builds a history from stored entries (oldest first), keeping the newest `limit`.
    pub fn from_entries(entries: Vec<HistoryEntry>, limit: usize) -> Self {
        let mut history = Self {
            entries: entries.into(),
        };
        history.trim(limit);
        history
    }

    /// Appends an entry and drops the oldest beyond `limit`.
    pub fn push(&mut self, entry: HistoryEntry, limit: usize) {
        self.entries.push_back(entry);
        self.trim(limit);
    }

    fn trim(&mut self, limit: usize) {
        while self.entries.len() > limit {
            self.entries.pop_front();
        }
    }

    /// The entry with this version, if still kept.
    pub fn find(&self, version: u64) -> Option<&HistoryEntry> {
        self.entries.iter().rev().find(|e| e.version == version)
    }

    /// Entries, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &HistoryEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Number of entries kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
