//! Bounded per-key history of values, newest last.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::core::model::slot::Slot;
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
    /// Loaded from storage at `ready` (SPEC 19): subscribers of the keys it sets are told.
    Load,
}

impl Origin {
    /// The name used in events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
            Self::Rollback => "rollback",
            Self::Load => "load",
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
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub value: Slot,
    /// Time of the change, ms since the epoch.
    pub updated_at: f64,
    /// Client id of the author.
    pub updated_by: Arc<str>,
    /// Where it came from.
    pub origin: Origin,
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

/// A key's state. A deleted key keeps its entry (a tombstone) so versions keep counting.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Current value; `None` when deleted.
    pub value: Option<Arc<Value>>,
    /// Number of changes applied to the key.
    pub version: u64,
    /// Time of the last change, ms since the epoch.
    pub updated_at: f64,
    /// Client id of the last author.
    pub updated_by: Arc<str>,
    /// Origin of the last change.
    pub origin: Origin,
    /// Versions before the current one, newest last (the current version is not repeated
    /// here; [`Entry::versions`] adds it).
    pub history: History,
}

impl Entry {
    /// The current version as a history entry.
    pub fn current(&self) -> HistoryEntry {
        HistoryEntry {
            version: self.version,
            value: self.value.clone().into(),
            updated_at: self.updated_at,
            updated_by: Arc::clone(&self.updated_by),
            origin: self.origin,
        }
    }

    /// The kept versions, oldest first and the current one last; empty when `keep` is 0.
    pub fn versions(&self, keep: usize) -> Vec<HistoryEntry> {
        if keep == 0 || self.version == 0 {
            return Vec::new();
        }
        let older = self.history.len().min(keep - 1);
        let skip = self.history.len() - older;
        self.history
            .iter()
            .skip(skip)
            .cloned()
            .chain([self.current()])
            .collect()
    }

    /// The value the key had at `version`, if that version is still kept
    /// (`Some(None)`: the key was deleted then).
    pub fn value_at_version(&self, version: u64, keep: usize) -> Option<Option<Arc<Value>>> {
        if keep == 0 || version == 0 {
            return None;
        }
        if version == self.version {
            return Some(self.value.clone());
        }
        self.history.find(version).map(|h| h.value.0.clone())
    }
}
