//! The state store: per-key value, version, metadata and history, sharded so that
//! persistence can rewrite only the shards a change touched.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::core::history::{History, HistoryEntry, Origin};

/// Number of shards. Part of the storage layout: changing it needs a layout version bump.
pub const SHARDS: usize = 256;

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
    /// Recent versions, newest last.
    pub history: History,
}

/// Who, when and how a change is made.
#[derive(Debug, Clone)]
pub struct ChangeMeta {
    /// Time, ms since the epoch.
    pub at: f64,
    /// Author's client id.
    pub by: Arc<str>,
    /// Origin.
    pub origin: Origin,
}

/// The result of writing one key.
#[derive(Debug, Clone)]
pub struct Written {
    /// Value before the write.
    pub previous: Option<Arc<Value>>,
    /// Version before the write.
    pub previous_version: u64,
    /// Version after the write.
    pub version: u64,
}

/// Stable shard of a key (FNV-1a), part of the storage layout.
pub fn shard_of(key: &str) -> usize {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash as usize % SHARDS
}

/// A set of shard indices changed since they were last written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirtyShards([u64; SHARDS / 64]);

impl DirtyShards {
    /// Marks the shard at `index`.
    pub fn mark(&mut self, index: usize) {
        let index = index % SHARDS;
        self.0[index / 64] |= 1 << (index % 64);
    }

    /// Marks the shard holding `key`.
    pub fn mark_key(&mut self, key: &str) {
        self.mark(shard_of(key));
    }

    /// Whether no shard is marked.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }

    /// The marked indices, ascending; clears the set.
    pub fn take(&mut self) -> Vec<usize> {
        let words = std::mem::take(&mut self.0);
        (0..SHARDS)
            .filter(|i| words[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }
}

/// All keys, split into [`SHARDS`] maps.
#[derive(Debug, Clone)]
pub struct StateStore {
    shards: Vec<FxHashMap<String, Entry>>,
    live_keys: usize,
    history_size: usize,
}

impl StateStore {
    /// An empty store keeping `history_size` versions per key (0 disables history).
    pub fn new(history_size: usize) -> Self {
        Self {
            shards: vec![FxHashMap::default(); SHARDS],
            live_keys: 0,
            history_size,
        }
    }

    /// The entry of a key, including tombstones.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.shards[shard_of(key)].get(key)
    }

    /// The current value of a key, `None` when absent or deleted.
    pub fn value(&self, key: &str) -> Option<&Arc<Value>> {
        self.entry(key).and_then(|e| e.value.as_ref())
    }

    /// The version of a key (0 when never written).
    pub fn version(&self, key: &str) -> u64 {
        self.entry(key).map_or(0, |e| e.version)
    }

    /// Writes a key's next value, bumps its version and records history.
    pub fn write(&mut self, key: &str, value: Option<Arc<Value>>, meta: &ChangeMeta) -> Written {
        let history_size = self.history_size;
        let shard = &mut self.shards[shard_of(key)];
        let entry = match shard.get_mut(key) {
            Some(entry) => entry,
            None => shard.entry(key.to_owned()).or_insert_with(|| Entry {
                value: None,
                version: 0,
                updated_at: meta.at,
                updated_by: Arc::clone(&meta.by),
                origin: meta.origin,
                history: History::default(),
            }),
        };
        let was_live = entry.value.is_some();
        let is_live = value.is_some();
        let previous = std::mem::replace(&mut entry.value, value);
        let previous_version = entry.version;
        entry.version += 1;
        entry.updated_at = meta.at;
        entry.updated_by = Arc::clone(&meta.by);
        entry.origin = meta.origin;
        if history_size > 0 {
            entry.history.push(
                HistoryEntry {
                    version: entry.version,
                    value: entry.value.clone(),
                    updated_at: meta.at,
                    updated_by: Arc::clone(&meta.by),
                    origin: meta.origin,
                },
                history_size,
            );
        }
        let version = entry.version;
        match (was_live, is_live) {
            (false, true) => self.live_keys += 1,
            (true, false) => self.live_keys -= 1,
            _ => {}
        }
        Written {
            previous,
            previous_version,
            version,
        }
    }

    /// Puts a restored entry in place (used when loading from storage).
    pub fn restore(&mut self, key: String, entry: Entry) {
        if entry.value.is_some() {
            self.live_keys += 1;
        }
        if let Some(old) = self.shards[shard_of(&key)].insert(key, entry) {
            if old.value.is_some() {
                self.live_keys -= 1;
            }
        }
    }

    /// Keys with a value (not deleted), in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.shards.iter().flat_map(|s| {
            s.iter()
                .filter(|(_, e)| e.value.is_some())
                .map(|(k, _)| k.as_str())
        })
    }

    /// Number of keys with a value.
    pub fn live_keys(&self) -> usize {
        self.live_keys
    }

    /// The entries of one shard, tombstones included.
    pub fn shard(&self, index: usize) -> &FxHashMap<String, Entry> {
        &self.shards[index]
    }

    /// History length limit per key.
    pub fn history_size(&self) -> usize {
        self.history_size
    }
}
