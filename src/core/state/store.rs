//! The state store: per-key value, version, metadata and history, sharded so that
//! persistence can rewrite only the shards a change touched.

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::core::error::CoreError;
use crate::core::model::history::{Entry, History, Origin};
use crate::core::state::persist::decode_shard;
use crate::core::state::write_log::WriteLog;

/// Number of shards. Part of the storage layout: changing it needs a layout version bump.
pub const SHARDS: usize = 256;

/// Moves whenever any store of this process changes what a read can return (a write, an
/// attached record, a new store). Readers cache values and keep them while it stays put;
/// when it moves, [`StateStore::written_since`] names the keys whose values they drop.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current state generation (see [`GENERATION`]): equal values mean no store changed
/// in between.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Moves the generation on; returns the new one.
fn changed() -> u64 {
    GENERATION.fetch_add(1, Ordering::Relaxed) + 1
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
    /// The stored (packed) record, until decoded.
    cached: RefCell<Option<Vec<u8>>>,
    /// Keys with a value in this shard.
    live: Cell<usize>,
}

/// All keys, split into [`SHARDS`] maps. Cached shards are decoded lazily: loading only
/// keeps the stored records, and a shard's entries are built (and a corrupt record found)
/// the first time any key in it is touched.
#[derive(Debug)]
pub struct StateStore {
    shards: Vec<Shard>,
    live_keys: Cell<usize>,
    history_size: usize,
    errors: RefCell<Vec<CoreError>>,
    written: WriteLog,
}

impl StateStore {
    /// An empty store keeping `history_size` versions per key (0 disables history).
    pub fn new(history_size: usize) -> Self {
        let generation = changed();
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            live_keys: Cell::new(0),
            history_size,
            errors: RefCell::new(Vec::new()),
            written: WriteLog::new(generation),
        }
    }

    /// Attaches a stored record to shard `index` (which must be empty), holding `live`
    /// keys. With a count it is decoded on first use; without one, at once.
    pub fn attach(&mut self, index: usize, record: Vec<u8>, live: Option<usize>) {
        self.written.reset(changed());
        let shard = &mut self.shards[index % SHARDS];
        *shard.cached.get_mut() = Some(record);
        shard.live.set(live.unwrap_or(0));
        self.live_keys.set(self.live_keys.get() + live.unwrap_or(0));
        if live.is_none() {
            self.map(index % SHARDS);
        }
    }

    /// The entries of shard `index`, decoding its cached record on first use. A record
    /// that fails to decode leaves the shard empty and is kept for [`Self::take_errors`].
    fn map(&self, index: usize) -> &FxHashMap<String, Entry> {
        let shard = &self.shards[index];
        shard.entries.get_or_init(|| {
            let Some(record) = shard.cached.borrow_mut().take() else {
                return FxHashMap::default();
            };
            let map = decode_shard(&record, self.history_size).unwrap_or_else(|error| {
                self.errors.borrow_mut().push(error);
                FxHashMap::default()
            });
            let live = map.values().filter(|e| e.value.is_some()).count();
            self.live_keys
                .set(self.live_keys.get() - shard.live.get() + live);
            shard.live.set(live);
            map
        })
    }

    fn map_mut(&mut self, index: usize) -> &mut FxHashMap<String, Entry> {
        self.map(index);
        match self.shards[index].entries.get_mut() {
            Some(map) => map,
            None => unreachable!("map() initialised the shard"),
        }
    }

    /// Live keys per shard, for the meta record.
    pub fn live_counts(&self) -> Vec<u32> {
        self.shards.iter().map(|s| s.live.get() as u32).collect()
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
        self.write_versioned(key, value, meta, None)
    }

    /// Like [`StateStore::write`], with the new version given (`None`: the next one).
    /// Remote changes carry the version the server gave the key.
    pub fn write_versioned(
        &mut self,
        key: &str,
        value: Option<Arc<Value>>,
        meta: &ChangeMeta,
        version: Option<u64>,
    ) -> Written {
        self.written.push(changed(), key);
        let history_size = self.history_size;
        let index = shard_of(key);
        let shard = self.map_mut(index);
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
        if history_size > 1 && entry.version > 0 {
            let before = entry.current();
            entry.history.push(before, history_size - 1);
        }
        let previous = std::mem::replace(&mut entry.value, value);
        let previous_version = entry.version;
        entry.version = version.unwrap_or(entry.version + 1);
        entry.updated_at = meta.at;
        entry.updated_by = Arc::clone(&meta.by);
        entry.origin = meta.origin;
        let version = entry.version;
        let delta = |n: usize| match (was_live, is_live) {
            (false, true) => n + 1,
            (true, false) => n - 1,
            _ => n,
        };
        let shard_live = &self.shards[index].live;
        shard_live.set(delta(shard_live.get()));
        self.live_keys.set(delta(self.live_keys.get()));
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

    /// The distinct keys written after state generation `generation` (see [`generation`]),
    /// or `None` when they are not all known: a reader that cached values then keeps those
    /// of other keys, or else drops everything.
    pub fn written_since(&self, generation: u64) -> Option<Vec<&str>> {
        self.written.since(generation)
    }

    /// History length limit per key.
    pub fn history_size(&self) -> usize {
        self.history_size
    }
}
