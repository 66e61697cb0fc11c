//! The engine's side of tabs that share one client (README "Tabs"): the feed of key
//! writes the leading tab sends to the others, sync events forwarded to them, the per-tab
//! marks that make a resent change apply once, other tabs' changes applied as this
//! client's own, and reloading the stored state when a tab takes over as leader.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Engine, Mode, RemoteWrite};
use crate::core::dispatch::event_bus::EventType;
use crate::core::engine::Snapshot;
use crate::core::error::Result;
use crate::core::model::batch::Draft;
use crate::core::model::history::Origin;
use crate::core::model::operation::Operation;
use crate::core::model::path::Path;
use crate::core::model::slot::Slot;
use crate::core::state::store::SHARDS;

/// A key's state as the leading tab holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyWrite {
    /// The key.
    pub key: String,
    /// Its value; absent when deleted. A [`Slot`]: a `null` value stays `null` between
    /// tabs (an `Option` read `null` back as absent; issue 27's chaos soak found a tab
    /// holding nothing where the leader held `null`).
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub value: Slot,
    /// Its version.
    pub version: u64,
    /// Time of its last change.
    pub at: f64,
    /// Author of its last change.
    pub by: Arc<str>,
}

/// A sync event raised in the leading tab, for the other tabs to raise too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forwarded {
    /// Event name.
    pub event: String,
    /// Its payload.
    pub payload: Value,
    /// `meta.detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Per-tab state the engine keeps for the tab layer.
#[derive(Debug, Default)]
pub(super) struct TabState {
    /// Keys written since the last [`Engine::take_feed`], when feeding.
    pub feed: Option<Vec<String>>,
    /// Sync events raised since the last [`Engine::take_forwarded`], when forwarding.
    pub forwarded: Option<Vec<Forwarded>>,
    /// `(tab, last change number applied)`: stored with the state, so a change a tab
    /// resends after a leader's crash applies once.
    pub marks: Vec<(String, u64)>,
}

/// Marks kept at most (the oldest tabs are forgotten first).
const MAX_MARKS: usize = 64;

impl Engine {
    /// Starts (or stops) recording written keys and sync events for other tabs.
    pub fn set_feed(&mut self, on: bool) {
        self.tabs.feed = on.then(Vec::new);
        self.tabs.forwarded = on.then(Vec::new);
    }

    /// Whether written keys and sync events are recorded for other tabs.
    pub fn feeding(&self) -> bool {
        self.tabs.feed.is_some()
    }

    pub(super) fn fed(&mut self, key: &str) {
        if let Some(feed) = &mut self.tabs.feed {
            feed.push(key.to_owned());
        }
    }

    pub(super) fn forward(
        &mut self,
        event: EventType,
        payload: impl FnOnce() -> Value,
        detail: Option<String>,
    ) {
        if let Some(forwarded) = &mut self.tabs.forwarded {
            forwarded.push(Forwarded {
                event: event.name().to_owned(),
                payload: payload(),
                detail,
            });
        }
    }

    /// The state of every key written since the last call, each once, in order.
    pub fn take_feed(&mut self) -> Vec<KeyWrite> {
        let Some(feed) = self.tabs.feed.as_mut() else {
            return Vec::new();
        };
        let keys = std::mem::take(feed);
        let mut seen = rustc_hash::FxHashSet::default();
        keys.into_iter()
            .filter(|key| seen.insert(key.clone()))
            .filter_map(|key| self.key_write(&key))
            .collect()
    }

    /// Sync events raised since the last call.
    pub fn take_forwarded(&mut self) -> Vec<Forwarded> {
        self.tabs
            .forwarded
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Every key the engine knows, deleted ones included (with their version).
    pub fn full_state(&self) -> Vec<KeyWrite> {
        (0..SHARDS)
            .flat_map(|index| self.store.shard(index).keys())
            .filter_map(|key| self.key_write(key))
            .collect()
    }

    fn key_write(&self, key: &str) -> Option<KeyWrite> {
        let entry = self.store.entry(key)?;
        Some(KeyWrite {
            key: key.to_owned(),
            value: entry.value.clone().into(),
            version: entry.version,
            at: entry.updated_at,
            by: Arc::clone(&entry.updated_by),
        })
    }

    /// Writes a key as the leading tab holds it (origin `remote` for this tab).
    pub fn apply_key_write(&mut self, write: KeyWrite) {
        self.apply_remote(RemoteWrite {
            key: write.key,
            value: write.value.into_inner(),
            version: write.version,
            fields: Vec::new(),
            by: write.by,
            at: write.at,
        });
    }

    /// The last change number of `tab` applied here (0: none).
    pub fn tab_mark(&self, tab: &str) -> u64 {
        self.tabs
            .marks
            .iter()
            .find(|(t, _)| t == tab)
            .map_or(0, |(_, n)| *n)
    }

    /// Every tab's mark.
    pub fn tab_marks(&self) -> &[(String, u64)] {
        &self.tabs.marks
    }

    /// Records that `tab`'s changes through `n` are applied; stored with the next write.
    pub fn set_tab_mark(&mut self, tab: &str, n: u64) {
        self.tabs.marks.retain(|(t, _)| t != tab);
        self.tabs.marks.push((tab.to_owned(), n));
        if self.tabs.marks.len() > MAX_MARKS {
            self.tabs.marks.remove(0);
        }
        self.meta_dirty = true;
    }

    /// Applies changes another tab of this client made, as this client's own changes
    /// (they are recorded, stored and sent like local ones; this tab's subscribers see
    /// origin `remote`): one change, or one atomic batch when `batch`. A change that no
    /// longer applies here is an error and changes nothing.
    pub fn apply_tab_ops(&mut self, ops: Vec<Operation>, batch: bool) -> Result<()> {
        let drafts = ops
            .into_iter()
            .map(|op| Draft {
                path: Path {
                    key: op.key,
                    fields: op.fields,
                },
                kind: op.kind,
            })
            .collect();
        let mode = if batch { Mode::Batch } else { Mode::Single };
        self.commit(drafts, Origin::Remote, mode).map(drop)
    }

    /// Replaces the state with what storage holds (a tab taking over as leader), and
    /// notifies subscribers of every key whose value or version differs (origin `remote`).
    pub fn reload(&mut self, snapshot: Snapshot) -> Result<()> {
        let before: FxHashMap<String, (Option<Arc<Value>>, u64)> = (0..SHARDS)
            .flat_map(|index| self.store.shard(index).iter())
            .map(|(key, entry)| (key.clone(), (entry.value.clone(), entry.version)))
            .collect();
        // A follower's own sequence numbers were never used: continue the stored one.
        self.next_seq = 1;
        self.load_snapshot(snapshot, false)?;
        let mut keys: Vec<String> = before.keys().cloned().collect();
        keys.extend(
            (0..SHARDS)
                .flat_map(|index| self.store.shard(index).keys())
                .filter(|key| !before.contains_key(*key))
                .cloned(),
        );
        for key in keys {
            let now = self.key_write(&key);
            let (value, version) = now
                .as_ref()
                .map_or((None, 0), |w| (w.value.0.clone(), w.version));
            let Some((old_value, old_version)) = before.get(&key) else {
                if value.is_some() {
                    let at = now.as_ref().map_or(0.0, |w| w.at);
                    self.notify_remote(key, Vec::new(), (None, 0), at);
                }
                continue;
            };
            if *old_value != value || *old_version != version {
                let at = now.as_ref().map_or_else(|| self.clock.now_ms(), |w| w.at);
                let previous = (old_value.clone(), *old_version);
                self.notify_remote(key, Vec::new(), previous, at);
            }
        }
        Ok(())
    }
}
