//! The client core: one `SrvraDataSync` instance without its I/O. It owns the engine, the
//! sync loop (when a `url` is set) and the bookkeeping of what is written and what is
//! durable, so every host (the browser binding, the native test peer and the deterministic
//! simulation) runs the same chain:
//!
//! mutate → journal → `Replica::record` → outbox work → one write of state and outbox →
//! `written` → durable → send.
//!
//! Each stored meta record also reserves a block of change sequences ahead of use
//! ([`crate::core::engine::SEQ_RESERVATION`]); a change whose sequence is reserved is sent
//! at the end of the task that made it ([`Instance::send_ready`]), while its write is
//! still being stored. It stays in the outbox until acknowledged, like any other; a crash
//! before its write loses it locally (the server may have it), and never reuses its id.
//!
//! The host only performs the write it is handed ([`Instance::take_write`]) and reports
//! the result ([`Instance::written`] or [`Instance::write_failed`]). Tabs of one app share
//! one client: see [`crate::core::tabs`] and the tab half of this type in `tabs.rs`.

use std::sync::Arc;

use serde_json::Value;

use crate::core::engine::PersistWork;
use crate::core::error::{CoreError, Result};
use crate::core::sync::{OutboxLoad, OutboxWork, SyncClient};
use crate::core::tabs::{Follower, Leader};
use crate::core::Engine;

mod presence;
mod tabs;

/// This instance's part among the tabs that share its client.
#[derive(Debug)]
pub enum Role {
    /// The only one (no tab sharing: no storage, or no tab support).
    Alone,
    /// The leading tab: owns the sync loop and the writes.
    Leader(Leader),
    /// A following tab: hands its changes to the leader.
    Follower(Follower),
}

/// What one storage write must store, together (one IndexedDB transaction in the browser).
#[derive(Debug, Default)]
pub struct Write {
    /// Changed state shards and the meta record; `None` when only the outbox changed.
    pub state: Option<PersistWork>,
    /// Outbox work, in order.
    pub outbox: Vec<OutboxWork>,
}

impl Write {
    /// The highest change sequence this write makes durable (0: none).
    pub fn upto_seq(&self) -> u64 {
        self.outbox.iter().map(|w| w.upto_seq).max().unwrap_or(0)
    }
}

/// One SDK instance: engine, optional sync loop, and what is written and durable.
pub struct Instance {
    engine: Engine,
    sync: Option<SyncClient>,
    /// Whether state and outbox are stored (`offline.enabled`); when not, a write is
    /// "done" at once and changes are as durable as they will get.
    persist: bool,
    /// Outbox work taken from the loop, waiting for the next write.
    outbox: Vec<OutboxWork>,
    /// The engine's change counter at the last completed write.
    persisted: u64,
    /// Leader, follower, or alone.
    role: Role,
    /// Whether the page is visible; every role this instance takes hears it.
    visible: bool,
    /// This tab's presence state, and the id it is said under.
    presence_mine: Option<Arc<Value>>,
    presence_tab: String,
}

impl Instance {
    /// An instance around `engine` (whose journal is switched on when `networked`).
    /// `persist` is `offline.enabled`.
    pub fn new(mut engine: Engine, networked: bool) -> Self {
        engine.set_journal(networked);
        let persist = engine.config().offline.enabled;
        Self {
            engine,
            sync: None,
            persist,
            outbox: Vec::new(),
            persisted: 0,
            role: Role::Alone,
            visible: true,
            presence_mine: None,
            presence_tab: "main".into(),
        }
    }

    /// The engine, for reads.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, for subscriptions, events and deliveries (not for changes: those go
    /// through [`Instance::mutate`]).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The sync loop, once started.
    pub fn sync(&self) -> Option<&SyncClient> {
        self.sync.as_ref()
    }

    /// Whether state and outbox are written to storage.
    pub fn persists(&self) -> bool {
        self.persist
    }

    /// There is no storage after all (no IndexedDB, and `offline.fallback: 'memory'`):
    /// state and outbox stay in memory, and changes made so far are kept (SPEC 14).
    pub fn without_storage(&mut self) {
        self.persist = false;
        self.engine.skip_restore();
    }

    /// Starts the sync loop on top of the restored state: loads the stored outbox, takes
    /// changes made before the load into it, and connects (or waits for `online`).
    pub fn start_sync(&mut self, mut sync: SyncClient, outbox: OutboxLoad, online: bool) {
        let engine = &mut self.engine;
        sync.restore(engine, outbox);
        sync.local(engine);
        sync.start(engine, online);
        self.sync = Some(sync);
        self.presence_to_sync();
        self.collect();
    }

    /// Runs a local change and hands what it recorded to the sync loop (every mutation,
    /// single or batch, takes this one path).
    pub fn mutate<T>(&mut self, f: impl FnOnce(&mut Engine) -> Result<T>) -> Result<T> {
        let out = f(&mut self.engine);
        self.hand_over();
        self.collect();
        out
    }

    /// Hands what the engine recorded to the sync loop, or to the leading tab; without
    /// either, it is dropped.
    fn hand_over(&mut self) {
        match (&mut self.role, self.sync.as_mut()) {
            (Role::Follower(follower), _) => follower.record(self.engine.take_operations()),
            (_, Some(sync)) => sync.local(&mut self.engine),
            (_, None) => drop(self.engine.take_operations()),
        }
    }

    /// Runs `f` on the sync loop and the engine (an I/O report, `sync()`, a conflict
    /// resolution). Returns `None` when there is no sync loop.
    pub fn with_sync<T>(&mut self, f: impl FnOnce(&mut SyncClient, &mut Engine) -> T) -> Option<T> {
        let sync = self.sync.as_mut()?;
        let out = f(sync, &mut self.engine);
        self.collect();
        Some(out)
    }

    /// Whether there is something to write.
    pub fn wants_write(&self) -> bool {
        let follower = matches!(self.role, Role::Follower(_));
        !follower && (!self.outbox.is_empty() || self.engine.has_persist_work())
    }

    /// The next write: everything changed since the last one. `None` when nothing did.
    /// Without persistence the state is not encoded at all (only the outbox bookkeeping
    /// travels, and the host reports it written at once).
    pub fn take_write(&mut self) -> Option<Write> {
        if matches!(self.role, Role::Follower(_)) {
            // The leading tab writes; a follower's state is the leader's.
            self.engine.discard_persist_work();
            return None;
        }
        self.collect();
        let state = if self.persist {
            self.engine.take_persist_work()
        } else {
            self.engine.discard_persist_work();
            None
        };
        let outbox = std::mem::take(&mut self.outbox);
        (state.is_some() || !outbox.is_empty()).then_some(Write { state, outbox })
    }

    /// `write` is stored: its changes are durable and may be sent, and so may changes
    /// whose sequences the stored meta record reserved.
    pub fn written(&mut self, write: &Write) {
        let mut reserved = 0;
        if let Some(state) = &write.state {
            self.engine.count_storage_write();
            self.engine.state_stored();
            self.persisted = self.persisted.max(state.upto);
            reserved = state.reserved.saturating_sub(1);
        }
        let durable = write.upto_seq();
        if let Some(sync) = self.sync.as_mut() {
            if durable > 0 || reserved > 0 {
                sync.stored(&mut self.engine, durable, reserved);
            }
        }
        self.collect();
    }

    /// Sends the changes that may leave before their write is stored (their sequences are
    /// reserved). The host calls this once per task, after the task's changes: a burst is
    /// sent coalesced, and a change does not wait for its storage commit.
    pub fn send_ready(&mut self) {
        if matches!(self.role, Role::Follower(_)) {
            return;
        }
        if let Some(sync) = self.sync.as_mut() {
            sync.send_ready(&mut self.engine);
            self.collect();
        }
    }

    /// Whether [`Instance::send_ready`] has something to send.
    pub fn wants_send(&self) -> bool {
        self.sync.as_ref().is_some_and(SyncClient::wants_send)
    }

    /// `write` failed: its shards are marked dirty again and its outbox work goes back to
    /// the front of the queue for the next write; the error is reported as `sync-error`.
    pub fn write_failed(&mut self, write: Write, error: &CoreError) {
        if let Some(state) = &write.state {
            self.engine
                .mark_dirty(state.shards.iter().map(|(index, _)| *index));
        }
        self.engine.report_error("storage", error);
        let later = std::mem::take(&mut self.outbox);
        self.outbox = write.outbox;
        self.outbox.extend(later);
    }

    /// The change counter that is durable: every change made so far when nothing is
    /// stored, else the counter of the last completed write.
    pub fn persisted(&self) -> u64 {
        if self.persist {
            self.persisted
        } else {
            self.engine.changes()
        }
    }

    /// What `whenPersisted()` waits for now: a mark that [`Instance::persisted_mark`]
    /// reaches once every change made so far is durable.
    pub fn persist_target(&self) -> u64 {
        match &self.role {
            Role::Follower(follower) => follower.last(),
            _ => self.engine.changes(),
        }
    }

    /// How far changes are durable, in the unit of [`Instance::persist_target`].
    pub fn persisted_mark(&self) -> u64 {
        match &self.role {
            Role::Follower(follower) => follower.persisted(),
            _ => self.persisted(),
        }
    }

    /// `sync()`: sends now; returns the mark [`Instance::synced_through`] must reach,
    /// `None` when there is no server.
    pub fn sync_now(&mut self) -> Option<u64> {
        let mark = match (&mut self.role, self.sync.as_mut()) {
            (Role::Follower(follower), _) => Some(follower.sync()),
            (_, Some(sync)) => {
                sync.sync_now(&mut self.engine);
                Some(sync.replica().last_seq())
            }
            (_, None) => None,
        };
        self.collect();
        mark
    }

    /// Whether the server has answered every change up to `mark` (from
    /// [`Instance::sync_now`]).
    pub fn synced_through(&self, mark: u64) -> bool {
        match (&self.role, self.sync.as_ref()) {
            // `u64::MAX`: everything (promises of a leader that handed over).
            (Role::Follower(follower), _) if mark == u64::MAX => {
                follower.status() == "synced" && follower.acknowledged() >= follower.last()
            }
            (Role::Follower(follower), _) => follower.acknowledged() >= mark,
            (_, Some(sync)) => sync.replica().done_through(mark),
            (_, None) => true,
        }
    }

    /// `whenSynced()`: whether this instance's first catch-up is applied (as a follower:
    /// the leader reported `synced`); true at once without a server.
    pub fn has_synced(&self) -> bool {
        match (&self.role, self.sync.as_ref()) {
            (Role::Follower(follower), _) => follower.synced_once(),
            (_, Some(sync)) => sync.caught_up_once(),
            (_, None) => !self.engine.config().networked(),
        }
    }

    /// Takes the loop's outbox work for the next write.
    fn collect(&mut self) {
        if let Some(work) = self.sync.as_mut().and_then(SyncClient::take_work) {
            self.outbox.push(work);
        }
    }
}
