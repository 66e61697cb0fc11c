//! The engine's persistence: what a write stores (dirty shards and the meta record), and
//! loading cached state back (also again, when a tab takes over as leader).

use std::sync::Arc;

use super::Engine;
use crate::core::dispatch::notify::{self, KeyChange};
use crate::core::engine::{PersistWork, Recorded, Snapshot};
use crate::core::error::{CoreError, Result};
use crate::core::model::history::Origin;
use crate::core::model::operation::{apply, OpId, Operation};
use crate::core::state::persist::{self, StoredMeta, LAYOUT_VERSION};
use crate::core::state::store::{ChangeMeta, StateStore, SHARDS};

impl Engine {
    /// Number of committed changes so far (the unit `whenPersisted` waits on).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Encodes every shard changed since the last call, plus the meta record.
    pub fn take_persist_work(&mut self) -> Option<PersistWork> {
        if self.dirty.is_empty() && !self.meta_dirty {
            return None;
        }
        self.meta_dirty = false;
        let config = &self.config.compression;
        let threshold = config.enabled.then_some(config.threshold as usize);
        let mut shards = Vec::new();
        for index in self.dirty.take() {
            let packed = persist::encode_shard(self.store.shard(index), threshold);
            if let Some(raw_len) = packed.raw_len {
                self.compression.add(raw_len, packed.bytes.len());
            }
            shards.push((index as u32, packed.bytes));
        }
        Some(PersistWork {
            upto: self.changes,
            shards,
            meta: self.meta_record(),
            reserved: self.claimed_seq(),
        })
    }

    /// Whether [`Engine::take_persist_work`] has something to encode.
    pub fn has_persist_work(&self) -> bool {
        !self.dirty.is_empty() || self.meta_dirty
    }

    /// Forgets what changed since the last take without encoding it (nothing is stored).
    pub fn discard_persist_work(&mut self) {
        self.dirty.take();
        self.meta_dirty = false;
    }

    /// Marks shards dirty again (their write failed and must be retried).
    pub fn mark_dirty(&mut self, shards: impl Iterator<Item = u32>) {
        shards.for_each(|index| self.dirty.mark(index as usize));
        // The meta record (and the sequences it claims) was not stored either.
        self.meta_dirty = true;
    }

    /// Counts a completed storage write (reported by the host).
    pub fn count_storage_write(&mut self) {
        self.stats.storage_writes += 1;
    }

    /// The `next_seq` the meta record stores: past every sequence used and reserved.
    fn claimed_seq(&self) -> u64 {
        self.next_seq.max(self.reserved_to)
    }

    fn meta_record(&self) -> String {
        persist::encode_meta(&StoredMeta {
            layout: LAYOUT_VERSION,
            client_id: self.client.to_string(),
            secret: self.secret.clone(),
            next_seq: self.claimed_seq(),
            live: self.store.live_counts(),
            tabs: self.tabs.marks.clone(),
        })
    }

    /// Loads cached state at `ready`: subscribers of the keys it sets are told (origin
    /// `load`, SPEC 19), so that a view rendered before `ready` shows it. Changes made
    /// before this call are re-applied on top of it, in order, as new versions. A corrupt
    /// shard is skipped and reported as `sync-error`.
    pub fn restore(&mut self, snapshot: Snapshot) -> Result<()> {
        self.load_snapshot(snapshot, true)
    }

    /// Loads `snapshot` as the state; `notify`: tell subscribers of the loaded keys.
    pub(super) fn load_snapshot(&mut self, snapshot: Snapshot, notify: bool) -> Result<()> {
        let meta = snapshot
            .meta
            .as_deref()
            .map(persist::decode_meta)
            .transpose()?;
        self.meta_dirty = meta.is_none();
        if let Some(meta) = &meta {
            if self.config.client_id.is_none() {
                self.client = meta.client_id.as_str().into();
            }
            // The stored id's secret; a record from before secrets keeps the new one,
            // written back with the next meta record.
            if *meta.client_id == *self.client && !meta.secret.is_empty() {
                self.secret = meta.secret.clone();
                self.secret_stored = true;
            } else {
                self.meta_dirty = true;
            }
            self.next_seq = self.next_seq.max(meta.next_seq);
            self.tabs.marks = meta.tabs.clone();
        }
        let mut store = StateStore::new(self.config.effective_history());
        let counts = meta.as_ref().map(|m| &m.live).filter(|c| c.len() == SHARDS);
        for (index, record) in &snapshot.shards {
            let index = *index as usize;
            if index < SHARDS {
                let live = counts.and_then(|c| c.get(index)).map(|n| *n as usize);
                store.attach(index, record.clone(), live);
            } else {
                let error = CoreError::storage(
                    "CORRUPT_RECORD",
                    format!("cached shard {index} is outside the layout"),
                );
                self.report_error("storage", &error);
            }
        }
        let pending = std::mem::take(&mut self.before_restore);
        self.store = store;
        self.restored = true;
        if notify {
            self.notify_loaded();
        }
        for (op, _) in pending {
            self.replay(op);
        }
        Ok(())
    }

    fn replay(&mut self, op: Operation) {
        let current = self.store.value(&op.key);
        match apply(current, &op.fields, &op.kind) {
            Ok(next) => {
                let meta = ChangeMeta {
                    at: op.timestamp,
                    by: Arc::clone(&self.client),
                    origin: Origin::Local,
                };
                let written = self.store.write(&op.key, next, &meta);
                self.dirty.mark_key(&op.key);
                self.fed(&op.key);
                self.changes += 1;
                let op = Operation {
                    id: OpId {
                        client: Arc::clone(&self.client),
                        seq: 0,
                    },
                    base_version: written.previous_version,
                    ..op
                };
                self.record(op, written.previous, Origin::Local);
            }
            Err(error) => self.report_error("restore", &error),
        }
    }

    /// Tells the subscribers of every loaded key (all keys for `'*'`) its value.
    fn notify_loaded(&mut self) {
        if self.subs.is_empty() {
            return;
        }
        let keys: Vec<String> = if self.subs.has_wildcard() {
            self.live_keys()
        } else {
            self.subs
                .keys()
                .filter(|key| self.store.value(key).is_some())
                .map(str::to_owned)
                .collect()
        };
        for key in keys {
            let Some(current) = self.store.value(&key).cloned() else {
                continue;
            };
            let change = KeyChange {
                version: self.store.version(&key),
                key,
                previous: None,
                previous_version: 0,
                current: Some(current),
                changed: vec![Vec::new()],
                op: "load",
            };
            notify::subscribers(&self.subs, &mut self.queue, &change, Origin::Load);
        }
    }

    /// Whether cached state has been loaded (or there was none to load).
    pub fn is_restored(&self) -> bool {
        self.restored
    }

    /// Marks the engine restored without storage (offline persistence disabled). Changes
    /// made before this stay as they are and are recorded now, in order, so that they are
    /// sent like any change (SPEC 19: writes before `ready` are kept in every
    /// configuration; issue 27 found them shown locally and never sent).
    pub fn skip_restore(&mut self) {
        self.restored = true;
        let made = std::mem::take(&mut self.before_restore);
        if let Some(journal) = &mut self.journal {
            journal.extend(made.into_iter().map(|(op, previous)| Recorded {
                op,
                previous,
                may_send_unstored: true,
            }));
        }
    }
}
