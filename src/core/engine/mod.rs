//! The state engine: applies operations to the store, records them, and queues the
//! notifications and persistence work they cause. One per `SrvraDataSync` instance.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use crate::core::clock::Clock;
use crate::core::config::Config;
use crate::core::dispatch::event_bus::{EventBus, EventType};
use crate::core::dispatch::events::{Dispatch, ErrorInfo, Payload, SyncErrorEvent};
use crate::core::dispatch::notify::{self, KeyChange, OpChange};
use crate::core::dispatch::registry::{Priority, RegistrationId};
use crate::core::dispatch::subscriptions::Subscriptions;
use crate::core::error::{CoreError, Result};
use crate::core::model::batch::Draft;
use crate::core::model::bounds;
use crate::core::model::history::{HistoryEntry, Origin};
use crate::core::model::json;
use crate::core::model::operation::{apply, value_at, OpId, OpKind, Operation};
use crate::core::model::path::Path;
use crate::core::state::stats::{CompressionTotals, Stats};
use crate::core::state::store::{ChangeMeta, DirtyShards, StateStore};

mod persistence;
mod remote;
mod tabs;
mod types;

pub use remote::{Recorded, RemoteWrite};
pub use tabs::{Forwarded, KeyWrite};
pub use types::{PersistWork, Snapshot, WithMetadata};

/// What a mutation returns: the changed key's version after the change.
pub type Version = u64;

/// How [`Engine::commit`] records a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// One change: a delta when `enableDeltaUpdates`; deleting nothing changes nothing.
    Single,
    /// An atomic batch of changes.
    Batch,
    /// A key's whole value, never a delta, recorded even when it changes nothing here (a
    /// settled conflict resubmitted: the server's value may differ from this view).
    Replace,
}

/// How many sequences one stored meta record claims ahead of use. A restart continues
/// after the claim, so a change sent before its record was stored can never have its id
/// reused after a crash; the gap this leaves in a client's sequences is harmless.
pub const SEQ_RESERVATION: u64 = 1024;

/// The state engine.
pub struct Engine {
    config: Config,
    client: Arc<str>,
    next_seq: u64,
    store: StateStore,
    subs: Subscriptions,
    bus: EventBus,
    stats: Stats,
    clock: Box<dyn Clock>,
    queue: Vec<Dispatch>,
    changes: u64,
    dirty: DirtyShards,
    compression: CompressionTotals,
    restored: bool,
    meta_dirty: bool,
    /// Sequences below this are claimed by the meta record the next write stores (see
    /// [`SEQ_RESERVATION`]).
    reserved_to: u64,
    /// Changes made before cached state was restored, with the key's value before each.
    before_restore: Vec<(Operation, Option<Arc<Value>>)>,
    journal: Option<Vec<Recorded>>,
    /// Set while `replace_state` runs: a delete of an absent value is still recorded.
    /// What the tab layer needs: the feed, forwarded events, per-tab marks.
    tabs: tabs::TabState,
    /// Per collection, the last position known (see [`crate::core::collection`]).
    pub(crate) tails: types::Tails,
    /// The secret that proves `client` is ours to the server (empty: none; see
    /// [`Engine::set_secret`]).
    secret: String,
    /// Whether `secret` is stored (it came from the meta record, or a write of it was).
    secret_stored: bool,
}

impl Engine {
    /// A new engine. `client_id` is used unless the config or restored storage names one.
    pub fn new(config: Config, client_id: &str, clock: Box<dyn Clock>) -> Self {
        let client: Arc<str> = config.client_id.as_deref().unwrap_or(client_id).into();
        let store = StateStore::new(config.effective_history());
        Self {
            config,
            client,
            next_seq: 1,
            store,
            subs: Subscriptions::default(),
            bus: EventBus::default(),
            stats: Stats {
                compression_ratio: 1.0,
                ..Stats::default()
            },
            clock,
            queue: Vec::new(),
            changes: 0,
            dirty: DirtyShards::default(),
            compression: CompressionTotals::default(),
            restored: false,
            meta_dirty: false,
            reserved_to: 0,
            before_restore: Vec::new(),
            journal: None,
            tabs: tabs::TabState::default(),
            tails: Default::default(),
            secret: String::new(),
            secret_stored: false,
        }
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This client's id.
    pub fn client_id(&self) -> &str {
        &self.client
    }

    /// The secret stored with the client id (empty: none).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The secret to prove the client id with in `hello`, once that is safe: the server
    /// binds the id to the first secret it sees. A generated id is stored with its secret
    /// in one record, so they live and die together: presented at once. An id the app
    /// configured outlives a secret that was never stored (the page may close before its
    /// first write and draw another, and would then be refused): presented once stored
    /// (a hello before that binds nothing; the next one does).
    pub fn presentable_secret(&self) -> Option<&str> {
        let generated = self.config.client_id.is_none();
        (!self.secret.is_empty() && (self.secret_stored || generated)).then_some(&*self.secret)
    }

    /// A write of the state (and so of the meta record with the secret) is stored.
    pub fn state_stored(&mut self) {
        self.secret_stored = true;
    }

    /// Gives a freshly generated client id its secret (the host draws both at random); a
    /// restored meta record brings back the stored pair instead. Stored with the meta
    /// record, so every tab and reload of this client presents the same one.
    pub fn set_secret(&mut self, secret: &str) {
        self.secret = secret.to_owned();
        self.meta_dirty = true;
    }

    /// The sequence the next recorded change gets (sequences are never reused).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Starts (or stops) keeping every recorded operation for [`Engine::take_operations`].
    pub fn set_journal(&mut self, on: bool) {
        if !on {
            self.journal = None;
        } else if self.journal.is_none() {
            // Turning it on again keeps what it holds (changes made before `ready`).
            self.journal = Some(Vec::new());
        }
    }

    /// Operations recorded since the last call (needs [`Engine::set_journal`]). Changes
    /// made before cached state was restored appear once, when they are replayed.
    pub fn take_operations(&mut self) -> Vec<Recorded> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    // ---- mutations -------------------------------------------------------------------

    /// `setState(path, value)`.
    pub fn set_state(&mut self, path: &str, value: Value) -> Result<Version> {
        self.single(path, OpKind::Set(Arc::new(value)))
    }

    /// Sets (`None`: deletes) the value at `path` (a key, or a path inside one) as a
    /// change that carries the whole value, never a delta, and is recorded even when it
    /// changes nothing here: how a settled conflict is resubmitted (the server's value
    /// may differ from this view).
    pub fn replace_state(&mut self, path: &str, value: Option<Value>) -> Result<Version> {
        let kind = match value {
            Some(value) => OpKind::Set(Arc::new(value)),
            None => OpKind::Delete,
        };
        let path = Path::parse(path)?;
        let mut applied = self.commit(vec![Draft { path, kind }], Origin::Local, Mode::Replace)?;
        Ok(applied.remove(0))
    }

    /// Makes a dropped local change again as a new change (a held conflict's settlement
    /// keeps the key's changes of other paths this way).
    pub fn make_again(&mut self, path: &str, kind: OpKind) -> Result<Version> {
        self.single(path, kind)
    }

    /// `updateState(path, partial)`: shallow-merges fields into the object at `path`.
    pub fn update_state(&mut self, path: &str, partial: Map<String, Value>) -> Result<Version> {
        self.single(path, OpKind::Merge(partial))
    }

    /// `deleteState(path)`.
    pub fn delete_state(&mut self, path: &str) -> Result<Version> {
        self.single(path, OpKind::Delete)
    }

    /// `increment(path, by)`.
    pub fn increment(&mut self, path: &str, by: f64) -> Result<Version> {
        if !by.is_finite() {
            return Err(CoreError::type_error(
                "INVALID_NUMBER",
                "increment needs a finite number",
            ));
        }
        self.single(path, OpKind::Increment(by))
    }

    /// `append(path, item)`.
    pub fn append(&mut self, path: &str, item: Value) -> Result<Version> {
        self.single(path, OpKind::Append(item))
    }

    /// `batch(entries)`: all drafts apply, or none does.
    pub fn batch(&mut self, drafts: Vec<Draft>) -> Result<Vec<Version>> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        self.commit(drafts, Origin::Local, Mode::Batch)
    }

    /// `rollback(key, version)`: makes that version's value current again, as a new change.
    pub fn rollback(&mut self, key: &str, version: u64) -> Result<Version> {
        if !self.config.enable_versioning || self.store.history_size() == 0 {
            return Err(CoreError::validation(
                "VERSIONING_DISABLED",
                "rollback needs enableVersioning and a historySize above 0",
            ));
        }
        let path = Self::key_only(key, "rollback")?;
        let kept = self
            .store
            .entry(&path.key)
            .and_then(|e| e.value_at_version(version, self.store.history_size()));
        let Some(value) = kept else {
            return Err(CoreError::validation(
                "VERSION_NOT_FOUND",
                format!("key '{key}' has no version {version} in its history"),
            ));
        };
        let kind = match value {
            Some(value) => OpKind::Set(value),
            None => OpKind::Delete,
        };
        self.stats.rollbacks += 1;
        let mut applied =
            self.commit(vec![Draft { path, kind }], Origin::Rollback, Mode::Single)?;
        Ok(applied.remove(0))
    }

    fn key_only(key: &str, what: &str) -> Result<Path> {
        let path = Path::parse(key)?;
        if !path.fields.is_empty() {
            return Err(CoreError::validation(
                "INVALID_PATH",
                format!("{what} takes a key, not the dotted path '{key}'"),
            ));
        }
        Ok(path)
    }

    fn single(&mut self, path: &str, kind: OpKind) -> Result<Version> {
        let path = Path::parse(path)?;
        let mut applied = self.commit(vec![Draft { path, kind }], Origin::Local, Mode::Single)?;
        Ok(applied.remove(0))
    }

    /// Computes every draft's resulting key value against the store plus the earlier drafts,
    /// without changing anything. `None` marks a draft that changes nothing.
    #[allow(clippy::type_complexity)]
    fn plan(&self, drafts: &[Draft], mode: Mode) -> Result<Vec<Option<Option<Arc<Value>>>>> {
        let mut overlay: FxHashMap<&str, Option<Arc<Value>>> = FxHashMap::default();
        let mut plan = Vec::with_capacity(drafts.len());
        for draft in drafts {
            bounds::check_depth(&draft.path.fields, &draft.kind)?;
            let key = draft.path.key.as_str();
            let current = match overlay.get(key) {
                Some(value) => value.as_ref(),
                None => self.store.value(key),
            };
            if matches!(draft.kind, OpKind::Delete)
                && value_at(current, &draft.path.fields).is_none()
                && mode != Mode::Replace
            {
                plan.push(None);
                continue;
            }
            let next = apply(current, &draft.path.fields, &draft.kind)?;
            if drafts.len() > 1 {
                overlay.insert(key, next.clone());
            }
            plan.push(Some(next));
        }
        Ok(plan)
    }

    pub(super) fn commit(
        &mut self,
        drafts: Vec<Draft>,
        origin: Origin,
        mode: Mode,
    ) -> Result<Vec<Version>> {
        let plan = self.plan(&drafts, mode)?;
        let batch = mode == Mode::Batch;
        let at = self.clock.now_ms();
        let meta = ChangeMeta {
            at,
            by: Arc::clone(&self.client),
            origin,
        };
        // A batch is named by the sequence of its first change: sequences are never reused
        // (they are stored), so neither are batch ids, also across reloads, where the
        // outbox still holds batches of the previous page.
        let batch_id = batch.then_some(self.next_seq);
        let notify = !self.subs.is_empty() || !self.bus.is_empty();
        let mut touched: Vec<KeyChange> = Vec::new();
        // Position of each key in `touched`, so large batches stay linear.
        let mut touched_at: FxHashMap<String, usize> = FxHashMap::default();
        let mut results = Vec::with_capacity(drafts.len());
        let mut count = 0;
        for (draft, next) in drafts.into_iter().zip(plan) {
            let Some(next) = next else {
                let version = self.store.version(&draft.path.key);
                results.push(version);
                continue;
            };
            count += 1;
            let written = self.store.write(&draft.path.key, next, &meta);
            self.dirty.mark_key(&draft.path.key);
            self.fed(&draft.path.key);
            let previous = self.journal.is_some().then(|| written.previous.clone());
            if notify {
                let current = self.store.value(&draft.path.key).cloned();
                notify::data_change(
                    &self.bus,
                    &mut self.queue,
                    OpChange {
                        key: &draft.path.key,
                        fields: &draft.path.fields,
                        value: current.clone(),
                        version: written.version,
                    },
                    origin,
                    at,
                );
                match touched_at.get(&draft.path.key).map(|&i| &mut touched[i]) {
                    Some(t) => {
                        t.current = current;
                        t.version = written.version;
                        t.changed.push(draft.path.fields.clone());
                        t.op = "batch";
                    }
                    None => {
                        touched_at.insert(draft.path.key.clone(), touched.len());
                        touched.push(KeyChange {
                            key: draft.path.key.clone(),
                            previous: written.previous,
                            previous_version: written.previous_version,
                            current,
                            version: written.version,
                            changed: vec![draft.path.fields.clone()],
                            op: if batch { "batch" } else { draft.kind.name() },
                        });
                    }
                }
            }
            results.push(written.version);
            let previous = previous.flatten();
            let kind = match mode {
                // A replacement carries the whole value: the server's may differ from ours.
                Mode::Replace => draft.kind,
                Mode::Single | Mode::Batch => {
                    self.delta(previous.as_ref(), &draft.path.fields, draft.kind)
                }
            };
            self.record(
                Operation {
                    id: OpId {
                        client: Arc::clone(&self.client),
                        seq: 0,
                    },
                    key: draft.path.key,
                    fields: draft.path.fields,
                    kind,
                    base_version: written.previous_version,
                    timestamp: at,
                    batch: batch_id,
                    conflict: Default::default(),
                },
                previous,
                origin,
            );
        }
        if count > 0 {
            self.changes += 1;
        }
        self.stats.operations += count;
        self.stats.local_operations += count;
        self.stats.batches += u64::from(batch && count > 0);
        for change in &touched {
            notify::key_settled(&self.subs, &self.bus, &mut self.queue, change, origin, at);
        }
        if batch && count > 0 {
            let keys = touched.into_iter().map(|t| t.key).collect();
            notify::batch_complete(&self.bus, &mut self.queue, keys, count as usize, origin, at);
        }
        Ok(results)
    }

    fn record(&mut self, mut op: Operation, previous: Option<Arc<Value>>, origin: Origin) {
        op.id.seq = self.next_seq;
        self.next_seq += 1;
        if self.restored && self.next_seq + SEQ_RESERVATION / 2 > self.reserved_to {
            // Claim the next block ahead of use: once stored, changes with sequences below
            // it may be sent before their own records are (see `PersistWork::reserved`).
            self.reserved_to = self.next_seq + SEQ_RESERVATION;
            self.meta_dirty = true;
        }
        if !self.restored {
            // Journaled when replayed on top of the restored state.
            self.before_restore.push((op, previous));
        } else if let Some(journal) = &mut self.journal {
            journal.push(Recorded {
                op,
                previous,
                may_send_unstored: origin != Origin::Remote,
            });
        }
    }

    // ---- reads -----------------------------------------------------------------------

    /// The distinct keys written after state generation `generation`, or `None` when not
    /// all are known (see [`StateStore::written_since`]).
    pub fn written_since(&self, generation: u64) -> Option<Vec<&str>> {
        self.store.written_since(generation)
    }

    /// The value at `path`, if any.
    pub fn get_state(&self, path: &str) -> Result<Option<&Value>> {
        let path = Path::parse(path)?;
        Ok(value_at(self.store.value(&path.key), &path.fields))
    }

    /// The value at `path` with the key's metadata, if any.
    pub fn get_with_metadata(&self, path: &str) -> Result<Option<WithMetadata<'_>>> {
        let path = Path::parse(path)?;
        let Some(entry) = self.store.entry(&path.key) else {
            return Ok(None);
        };
        let value = value_at(entry.value.as_ref(), &path.fields);
        Ok(value.map(|value| WithMetadata {
            value,
            version: entry.version,
            updated_at: entry.updated_at,
            updated_by: &entry.updated_by,
            pending: false,
        }))
    }

    /// A key's version (0 when never written).
    pub fn get_version(&self, key: &str) -> Result<u64> {
        Ok(self.store.version(&Self::key_only(key, "getVersion")?.key))
    }

    /// A key's history, oldest first.
    pub fn get_history(&self, key: &str) -> Result<Vec<HistoryEntry>> {
        let path = Self::key_only(key, "getHistory")?;
        Ok(self
            .store
            .entry(&path.key)
            .map_or_else(Vec::new, |e| e.versions(self.store.history_size())))
    }

    /// Keys holding a value, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.store.keys().collect();
        keys.sort_unstable();
        keys
    }

    /// Keys holding a value that start with `start`, with their values, in no order.
    pub fn values_with_prefix<'a>(
        &'a self,
        start: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Arc<Value>)> + 'a {
        self.store
            .keys()
            .filter(move |key| key.starts_with(start))
            .filter_map(|key| Some((key, self.store.value(key)?)))
    }

    /// `keys(pattern)`: keys holding a value whose whole name `pattern` matches (`*`
    /// matches any run of characters, SPEC 16), sorted.
    pub fn keys_matching(&self, pattern: &str) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .store
            .keys()
            .filter(|key| crate::core::model::path::glob(pattern, key))
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Current statistics.
    pub fn statistics(&self) -> Stats {
        Stats {
            keys: self.store.live_keys() as u64,
            compression_ratio: self.compression.ratio(),
            ..self.stats.clone()
        }
    }

    /// Counts a subscriber callback that threw (reported by the host).
    pub fn count_subscriber_error(&mut self) {
        self.stats.subscriber_errors += 1;
    }

    // ---- subscriptions and events ----------------------------------------------------

    /// `stateManager.subscribe(pathOrKey, fn, { priority })`: returns the id.
    pub fn subscribe(&mut self, target: &str, priority: Priority) -> Result<RegistrationId> {
        self.subs.subscribe(target, priority)
    }

    /// `stateManager.unsubscribe(id)`.
    pub fn unsubscribe(&mut self, id: RegistrationId) -> bool {
        self.subs.unsubscribe(id)
    }

    /// `eventBus.subscribe(type, fn, { priority })`: returns the id.
    pub fn on(&mut self, event: EventType, priority: Priority) -> RegistrationId {
        self.bus.subscribe(event, priority)
    }

    /// `eventBus.unsubscribe(id)`.
    pub fn off(&mut self, id: RegistrationId) -> bool {
        self.bus.unsubscribe(id)
    }

    /// Handler ids for an event raised by the host, in dispatch order.
    pub fn handlers(&self, event: EventType) -> Vec<RegistrationId> {
        self.bus.handlers(event)
    }

    /// Queues a `sync-error` event for a failure in `phase`.
    pub fn report_error(&mut self, phase: &'static str, error: &CoreError) {
        let payload = || Payload::SyncError(SyncErrorEvent::new(phase, ErrorInfo::from(error)));
        let as_json = || json::to_value(&payload());
        self.forward(EventType::SyncError, as_json, None);
        if self.bus.has(EventType::SyncError) {
            let payload = payload();
            let at = self.clock.now_ms();
            self.queue
                .push(notify::event(&self.bus, EventType::SyncError, payload, at));
        }
    }

    /// Whether deliveries are waiting.
    pub fn has_dispatches(&self) -> bool {
        !self.queue.is_empty() || self.store.has_errors()
    }

    /// Takes the waiting deliveries, in order. Cached shards that failed to decode since
    /// the last call are reported here as `sync-error`.
    pub fn take_dispatches(&mut self) -> Vec<Dispatch> {
        for error in self.store.take_errors() {
            self.report_error("storage", &error);
        }
        std::mem::take(&mut self.queue)
    }
}
