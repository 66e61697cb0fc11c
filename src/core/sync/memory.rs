//! Storage of the state cache and the outbox in memory, with the browser's semantics: one
//! write stores changed shards, the meta record and outbox work together (outbox puts
//! before deletes). Native hosts (the loop's tests, the simulation) use it; what it holds
//! is what a restart keeps.

use std::collections::BTreeMap;

use crate::core::engine::Snapshot;
use crate::core::instance::Write;
use crate::core::sync::outbox::OutboxLoad;

/// Stored records.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    shards: BTreeMap<u32, Vec<u8>>,
    meta: Option<String>,
    ops: BTreeMap<u64, Vec<u8>>,
    bases: BTreeMap<String, Vec<u8>>,
    position: u64,
}

impl MemoryStorage {
    /// Stores one [`Write`] of a client core, all of it at once.
    pub fn write(&mut self, write: &Write) {
        if let Some(state) = &write.state {
            self.shards.extend(state.shards.iter().cloned());
            self.meta = Some(state.meta.clone());
        }
        for work in &write.outbox {
            self.ops.extend(work.puts.iter().cloned());
            for seq in &work.deletes {
                self.ops.remove(seq);
            }
            for (key, record) in &work.bases {
                match record {
                    Some(record) => self.bases.insert(key.clone(), record.clone()),
                    None => self.bases.remove(key),
                };
            }
            if let Some(position) = work.position {
                self.position = position;
            }
        }
    }

    /// The state cache, for [`crate::core::Engine::restore`].
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            meta: self.meta.clone(),
            shards: self.shards.iter().map(|(i, r)| (*i, r.clone())).collect(),
        }
    }

    /// The outbox, for [`crate::core::sync::SyncClient::restore`].
    pub fn outbox(&self) -> OutboxLoad {
        OutboxLoad {
            ops: self.ops.values().cloned().collect(),
            bases: self
                .bases
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            position: self.position,
        }
    }

    /// Number of changes in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.ops.len()
    }

    /// The highest change sequence in the outbox (0: none).
    pub fn last_seq(&self) -> u64 {
        self.ops.keys().last().copied().unwrap_or(0)
    }
}
