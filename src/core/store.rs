//! The state store: per-key value, version, metadata and history, sharded so that
//! persistence can rewrite only the shards a change touched.

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::core::error::CoreError;
use crate::core::history::{History, HistoryEntry, Origin};
use crate::core::persist::decode_shard;

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

/// One shard: its entries, decoded on first use from the cached record it was loaded with.
#[derive(Debug, Default)]
struct Shard {
    entries: OnceCell<FxHashMap<String, Entry>>,
    /// Validated JSON of the cached record, until decoded.
    cached: RefCell<Option<Vec<u8>>>,
    /// Live keys in `cached` (counted when the record was validated).
    cached_live: Cell<usize>,
}

/// All keys, split into [`SHARDS`] maps. Cached shards are decoded lazily, so loading
/// costs only reading and validating the records; a shard's entries are built the first
/// time any key in it is touched.
#[derive(Debug)]
pub struct StateStore {
    shards: Vec<Shard>,
    live_keys: Cell<usize>,
    history_size: usize,
    errors: RefCell<Vec<CoreError>>,
}

impl StateStore {
    /// An empty store keeping `history_size` versions per key (0 disables history).
    pub fn new(history_size: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            live_keys: Cell::new(0),
            history_size,
            errors: RefCell::new(Vec::new()),
        }
    }

    /// Attaches a validated cached record (JSON) to shard `index`, holding `live` keys.
    /// It is decoded on first use.
    pub fn attach(&mut self, index: usize, json: Vec<u8>, live: usize) {
        let shard = &mut self.shards[index % SHARDS];
        let replaced = match shard.entries.take() {
            Some(map) => map.values().filter(|e| e.value.is_some()).count(),
            None if shard.cached.get_mut().is_some() => shard.cached_live.get(),
            None => 0,
        };
        *shard.cached.get_mut() = Some(json);
        shard.cached_live.set(live);
        self.live_keys.set(self.live_keys.get() - replaced + live);
    }

    /// The entries of shard `index`, decoding its cached record on first use. A record
    /// that fails to decode leaves the shard empty and is kept for [`Self::take_errors`].
    fn map(&self, index: usize) -> &FxHashMap<String, Entry> {
        let shard = &self.shards[index];
        shard.entries.get_or_init(|| {
            let Some(json) = shard.cached.borrow_mut().take() else {
                return FxHashMap::default();
            };
            decode_shard(&json, self.history_size).unwrap_or_else(|error| {
                self.live_keys
                    .set(self.live_keys.get() - shard.cached_live.get());
                self.errors.borrow_mut().push(error);
                FxHashMap::default()
            })
        })
    }

    fn map_mut(&mut self, index: usize) -> &mut FxHashMap<String, Entry> {
        self.map(index);
        match self.shards[index].entries.get_mut() {
            Some(map) => map,
            None => unreachable!("map() initialised the shard"),
        }
    }

    /// Decoding failures of cached shards since the last call.
    pub fn take_errors(&mut self) -> Vec<CoreError> {
        std::mem::take(self.errors.get_mut())
    }

    /// Whether decoding failures are waiting.
    pub fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// The entry of a key, including tombstones.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.map(shard_of(key)).get(key)
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
        let shard = self.map_mut(shard_of(key));
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
        let live = self.live_keys.get_mut();
        match (was_live, is_live) {
            (false, true) => *live += 1,
            (true, false) => *live -= 1,
            _ => {}
        }
        Written {
            previous,
            previous_version,
            version,
        }
    }

    /// Keys with a value (not deleted), in no particular order. Decodes every shard.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        (0..SHARDS).flat_map(|index| {
            self.map(index)
                .iter()
                .filter(|(_, e)| e.value.is_some())
                .map(|(k, _)| k.as_str())
        })
    }

    /// Number of keys with a value.
    pub fn live_keys(&self) -> usize {
        self.live_keys.get()
    }

    /// The entries of one shard, tombstones included.
    pub fn shard(&self, index: usize) -> &FxHashMap<String, Entry> {
        self.map(index)
    }

    /// History length limit per key.
    pub fn history_size(&self) -> usize {
        self.history_size
    }
}
