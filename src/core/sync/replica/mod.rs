//! The client's view of a room: the state the server confirmed, with this client's
//! pending changes re-applied on top. Confirmed values are kept only for keys that have
//! pending changes (their *base*); every other key's confirmed value is the engine's.
//!
//! Server changes are applied strictly in position order. Other clients' changes arrive
//! in order (broadcast, catch-up); this client's own arrive as acks, possibly ahead of
//! earlier positions, and wait in `acked` until their turn.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;

use crate::core::conflict::{Hlc, Resolution, Rules, Strategy};
use crate::core::engine::{Recorded, RemoteWrite};
use crate::core::error::CoreError;
use crate::core::model::key_state::KeyState;
use crate::core::model::operation::ConflictInfo;
use crate::core::model::operation::{value_at, OpId, Operation};
use crate::core::protocol::message::{Rejected, SnapshotEntry};
use crate::core::protocol::Committed;
use crate::core::sync::conflicts::{BaseRecord, ConflictBook, Held};
use crate::core::sync::outbox::{decode_record, encode_record, OutboxLoad, OutboxWork};
use crate::core::Engine;

mod apply;

/// A local change not yet acknowledged.
#[derive(Debug, Clone)]
pub(in crate::core::sync) struct Pending {
    /// The change.
    pub(in crate::core::sync) op: Operation,
    /// Sent on the current connection.
    pub(in crate::core::sync) sent: bool,
    /// Sent only once stored, even when its sequence is reserved (another tab made it).
    pub(in crate::core::sync) store_first: bool,
}

impl Pending {
    /// Whether it may be sent, given how far changes are stored and sequences reserved.
    fn ready(&self, durable: u64, reserved: u64) -> bool {
        let limit = if self.store_first {
            durable
        } else {
            durable.max(reserved)
        };
        self.op.id.seq <= limit
    }
}

/// Confirmed state plus pending changes.
#[derive(Debug)]
pub struct Replica {
    pub(in crate::core::sync) position: u64,
    pub(in crate::core::sync) pending: VecDeque<Pending>,
    pub(in crate::core::sync) per_key: FxHashMap<String, usize>,
    pub(in crate::core::sync) bases: FxHashMap<String, KeyState>,
    pub(in crate::core::sync) acked: BTreeMap<u64, (OpId, Option<Resolution>)>,
    pub(in crate::core::sync) ahead: BTreeMap<u64, Committed>,
    pub(in crate::core::sync) durable_seq: u64,
    pub(in crate::core::sync) reserved_seq: u64,
    pub(in crate::core::sync) threshold: Option<usize>,
    pub(in crate::core::sync) work: OutboxWork,
    /// Changes were recorded since the last [`Replica::take_unsent`].
    pub(in crate::core::sync) recorded_since_take: bool,
    pub(in crate::core::sync) dirty_bases: FxHashSet<String>,
    pub(in crate::core::sync) snapshot: Vec<SnapshotEntry>,
    pub(in crate::core::sync) received: u64,
    pub(in crate::core::sync) clock: Hlc,
    pub(in crate::core::sync) held: FxHashMap<String, Held>,
    /// The server state a settled conflict reported, for the key's next change: its
    /// version, and its value at the conflict's path (the fields; empty: the key).
    pub(in crate::core::sync) rebase: FxHashMap<String, (KeyState, Vec<String>)>,
    pub(in crate::core::sync) book: ConflictBook,
    /// A confirmed change did not apply here (see [`Replica::take_diverged`]).
    pub(in crate::core::sync) diverged: bool,
}

impl Replica {
    /// An empty replica; outbox records at or over `threshold` bytes are compressed.
    pub fn new(threshold: Option<usize>) -> Self {
        Self {
            position: 0,
            pending: VecDeque::new(),
            per_key: FxHashMap::default(),
            bases: FxHashMap::default(),
            acked: BTreeMap::new(),
            ahead: BTreeMap::new(),
            durable_seq: 0,
            reserved_seq: 0,
            threshold,
            work: OutboxWork::default(),
            recorded_since_take: false,
            dirty_bases: FxHashSet::default(),
            snapshot: Vec::new(),
            received: 0,
            clock: Hlc::default(),
            held: FxHashMap::default(),
            rebase: FxHashMap::default(),
            book: ConflictBook::default(),
            diverged: false,
        }
    }

    /// Loads the stored outbox (before any local change is recorded). Returns the records
    /// that were corrupt; they are dropped.
    pub fn restore(&mut self, load: OutboxLoad) -> Vec<CoreError> {
        let mut errors = Vec::new();
        let mut ops: Vec<Operation> = Vec::with_capacity(load.ops.len());
        for record in &load.ops {
            match decode_record::<Operation>(record) {
                Ok(op) => ops.push(op),
                Err(e) => errors.push(e),
            }
        }
        ops.sort_unstable_by_key(|op| op.id.seq);
        for (key, record) in &load.bases {
            match decode_record::<BaseRecord>(record) {
                Ok(base) => {
                    self.bases.insert(key.clone(), KeyState::from(&base));
                    if let Some(held) = base.held {
                        self.book.reserve(held.id);
                        self.held.insert(key.clone(), held);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        self.position = self.position.max(load.position);
        for op in ops {
            self.clock.observe(op.conflict.clock);
            self.durable_seq = self.durable_seq.max(op.id.seq);
            *self.per_key.entry(op.key.clone()).or_default() += 1;
            self.pending.push_back(Pending {
                op,
                sent: false,
                store_first: false,
            });
        }
        // A base without pending changes is stale (its last change was confirmed).
        let stale: Vec<String> = self
            .bases
            .keys()
            .filter(|k| !self.per_key.contains_key(*k))
            .cloned()
            .collect();
        for key in stale {
            self.bases.remove(&key);
            self.held.remove(&key);
            self.dirty_bases.insert(key);
        }
        errors
    }

    /// The last server position applied.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Number of changes not yet acknowledged.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no change is waiting for the server.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether `key` has changes the server has not acknowledged.
    pub fn has_pending(&self, key: &str) -> bool {
        self.per_key.contains_key(key)
    }

    /// Whether every change up to sequence `seq` has been acknowledged (or rejected), or
    /// waits on a conflict the app has to settle.
    pub fn done_through(&self, seq: u64) -> bool {
        self.pending
            .iter()
            .find(|p| !self.held.contains_key(&p.op.key))
            .map_or(true, |p| p.op.id.seq > seq)
    }

    /// The highest sequence recorded so far (0: none).
    pub fn last_seq(&self) -> u64 {
        self.pending.back().map_or(0, |p| p.op.id.seq)
    }

    /// Whether a change recorded since the last [`Replica::take_unsent`] may be sent now
    /// (everything else was offered then, or waits for [`Replica::stored`], which sends).
    /// Cheap when nothing was recorded: hosts ask after every task.
    pub fn has_sendable(&self) -> bool {
        self.recorded_since_take
            && self
                .pending
                .iter()
                .find(|p| !p.sent)
                .is_some_and(|p| p.ready(self.durable_seq, self.reserved_seq))
    }

    /// Whether changes were sent on this connection and not answered yet.
    pub fn in_flight(&self) -> bool {
        self.pending.iter().any(|p| p.sent)
    }

    /// Remote changes applied since the last call.
    pub fn take_received(&mut self) -> u64 {
        std::mem::take(&mut self.received)
    }

    /// Records a local change: remembers the key's confirmed value if it is the key's
    /// first pending change, stamps the change for conflict decisions (clock, the
    /// strategy `rules` give its path, the confirmed version it is based on) and stores it.
    pub fn record(&mut self, recorded: Recorded, rules: &Rules, threshold: f64, now: f64) {
        let mut op = recorded.op;
        let previous = recorded.previous;
        if !self.bases.contains_key(&op.key) {
            let base = KeyState {
                value: previous.clone().into(),
                version: op.base_version,
                writers: None,
            };
            self.bases.insert(op.key.clone(), base);
            self.dirty_bases.insert(op.key.clone());
        }
        let scoped = rules.scoped(&op.key, &op.fields);
        let (strategy, scope) = (scoped.strategy.clone(), scoped.depth);
        let rebase = self.rebase.remove(&op.key);
        let confirmed = self.bases.get(&op.key);
        let base_version = match &rebase {
            Some((state, _)) => state.version,
            None => confirmed.map_or(0, |b| b.version),
        };
        // What a conflict at this change's path is judged against: the server state a
        // settled conflict about the same path reported; else, for a whole-key change, the
        // confirmed value; else the value at the path as this client saw it, so that the
        // server tells another client's change there from one elsewhere in the key.
        let base = match rebase {
            Some((state, fields)) if fields[..] == op.fields[..scope] => state.value.0,
            _ if scope == 0 => confirmed.and_then(|b| b.value.0.clone()),
            _ => value_at(previous.as_ref(), &op.fields[..scope]).map(|v| Arc::new(v.clone())),
        };
        let base = base.filter(|_| scope > 0 || strategy.needs_base());
        op.base_version = base_version;
        op.conflict = ConflictInfo {
            clock: self.clock.tick(now),
            threshold: (strategy == Strategy::SmartMerge).then_some(threshold),
            base: base.into(),
            strategy: (strategy != Strategy::LastWriteWins).then_some(strategy),
            scope,
        };
        *self.per_key.entry(op.key.clone()).or_default() += 1;
        self.work
            .puts
            .push((op.id.seq, encode_record(&op, self.threshold)));
        self.work.upto_seq = self.work.upto_seq.max(op.id.seq);
        self.pending.push_back(Pending {
            op,
            sent: false,
            store_first: !recorded.may_send_unstored,
        });
        self.recorded_since_take = true;
    }

    /// Storage work since the last call.
    pub fn take_work(&mut self) -> Option<OutboxWork> {
        for key in std::mem::take(&mut self.dirty_bases) {
            let record = self.bases.get(&key).map(|base| {
                let record = BaseRecord {
                    value: base.value.clone(),
                    version: base.version,
                    held: self.held.get(&key).cloned(),
                };
                encode_record(&record, self.threshold)
            });
            self.work.bases.push((key, record));
        }
        if self.work.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.work))
    }

    /// Changes up to `durable` are stored, and no restart reuses a sequence up to
    /// `reserved`: both may be sent, except that another tab's changes wait for their store.
    pub fn stored(&mut self, durable: u64, reserved: u64) {
        self.durable_seq = self.durable_seq.max(durable);
        self.reserved_seq = self.reserved_seq.max(reserved);
    }

    /// The stored changes not sent on this connection, grouped into messages: an atomic
    /// batch is one message; other changes go in runs of at most `max_ops`. They are
    /// marked sent.
    pub fn take_unsent(&mut self, max_ops: usize) -> Vec<(Vec<Operation>, bool)> {
        let max_ops = max_ops.max(1);
        self.recorded_since_take = false;
        let mut messages: Vec<(Vec<Operation>, bool)> = Vec::new();
        let mut run: Vec<Operation> = Vec::new();
        let mut batch: Option<(u64, Vec<Operation>)> = None;
        let held = &self.held;
        let (durable, reserved) = (self.durable_seq, self.reserved_seq);
        for pending in self.pending.iter_mut().filter(|p| !p.sent) {
            if !pending.ready(durable, reserved) {
                break;
            }
            if held.contains_key(&pending.op.key) {
                continue;
            }
            pending.sent = true;
            let op = pending.op.clone();
            match (op.batch, &mut batch) {
                (Some(id), Some((current, ops))) if *current == id => ops.push(op),
                (Some(id), _) => {
                    if let Some((_, ops)) = batch.take() {
                        messages.push((ops, true));
                    }
                    if !run.is_empty() {
                        messages.push((std::mem::take(&mut run), false));
                    }
                    batch = Some((id, vec![op]));
                }
                (None, _) => {
                    if let Some((_, ops)) = batch.take() {
                        messages.push((ops, true));
                    }
                    run.push(op);
                    if run.len() == max_ops {
                        messages.push((std::mem::take(&mut run), false));
                    }
                }
            }
        }
        if let Some((_, ops)) = batch {
            messages.push((ops, true));
        }
        if !run.is_empty() {
            messages.push((run, false));
        }
        messages
    }

    /// The connection is gone: everything pending is resent on the next one, and early
    /// acks are forgotten (the catch-up delivers those changes again).
    pub fn disconnected(&mut self) {
        self.pending.iter_mut().for_each(|p| p.sent = false);
        self.acked.clear();
        self.ahead.clear();
        self.snapshot.clear();
    }

    /// Takes one change from the server's order (broadcast or catch-up); it is applied
    /// once every earlier position is.
    pub fn apply_committed(&mut self, engine: &mut Engine, committed: Committed) {
        if committed.position <= self.position {
            return;
        }
        self.ahead.insert(committed.position, committed);
        self.drain(engine);
    }

    /// Whether changes wait for an earlier position that has not arrived.
    pub fn has_gap(&self) -> bool {
        !self.ahead.is_empty()
    }

    /// The server accepted `id` at `position` (0: so long ago that the log was compacted),
    /// settling its conflict as `resolution` says.
    pub fn ack(
        &mut self,
        engine: &mut Engine,
        id: OpId,
        position: u64,
        resolution: Option<Resolution>,
    ) {
        if position == 0 || position <= self.position {
            // Already part of the confirmed state (catch-up or snapshot).
            self.forget(engine, &id);
            return;
        }
        self.acked.insert(position, (id, resolution));
        self.drain(engine);
    }

    /// The server rejected a change: a conflict for the app to settle is held (the change
    /// stays pending); anything else is dropped, its key recomputed, and returned.
    pub fn reject(&mut self, engine: &mut Engine, rejected: Rejected) -> Option<Operation> {
        if let Some(report) = rejected.conflict {
            if self.hold(engine, &rejected.id, *report) {
                return None;
            }
        }
        self.forget(engine, &rejected.id)
    }

    /// Drops a pending change the server cannot take (too large); recomputes its key.
    pub fn discard(&mut self, engine: &mut Engine, id: &OpId) -> Option<Operation> {
        self.forget(engine, id)
    }

    /// Drops pending changes up to `seq` that the server processed but never confirmed
    /// here (it rejected them while the rejection could not be delivered). Call after a
    /// catch-up is complete.
    pub fn drop_processed(&mut self, engine: &mut Engine, seq: u64) -> Vec<Operation> {
        let ids: Vec<OpId> = self
            .pending
            .iter()
            .filter(|p| p.op.id.seq <= seq && !self.held.contains_key(&p.op.key))
            .map(|p| p.op.id.clone())
            .collect();
        ids.iter()
            .filter_map(|id| self.forget(engine, id))
            .collect()
    }

    /// One part of a snapshot; the last part replaces the confirmed state. Pending
    /// changes up to `processed` are part of the snapshot already and are dropped.
    pub fn snapshot_part(
        &mut self,
        engine: &mut Engine,
        position: u64,
        entries: Vec<SnapshotEntry>,
        done: bool,
        processed: u64,
    ) {
        self.snapshot.extend(entries);
        if !done {
            return;
        }
        let entries = std::mem::take(&mut self.snapshot);
        let mut keys: Vec<String> = Vec::new();
        let held = &self.held;
        // Acked at or before the snapshot's position but parked behind a hole: the
        // snapshot holds them too.
        let covered: FxHashSet<&OpId> = self
            .acked
            .range(..=position)
            .map(|(_, (id, _))| id)
            .collect();
        let (done_ops, rest): (VecDeque<Pending>, VecDeque<Pending>) =
            std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|p| {
                    (p.op.id.seq <= processed || covered.contains(&p.op.id))
                        && !held.contains_key(&p.op.key)
                });
        self.pending = rest;
        for p in done_ops {
            self.work.deletes.push(p.op.id.seq);
            self.uncount(&p.op.key);
            keys.push(p.op.key);
        }
        let mut seen: FxHashSet<String> = FxHashSet::default();
        for entry in entries {
            seen.insert(entry.key.clone());
            self.set_confirmed(engine, entry.key, entry.value.0, entry.version);
        }
        let mut missing: Vec<String> = engine
            .live_keys()
            .into_iter()
            .chain(self.bases.keys().cloned())
            .chain(keys)
            .filter(|k| !seen.contains(k))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for key in missing {
            self.set_confirmed(engine, key, None, 0);
        }
        // What comes after the snapshot stays, to apply in order.
        self.acked = self.acked.split_off(&(position + 1));
        self.ahead = self.ahead.split_off(&(position + 1));
        self.advance(position);
    }

    fn set_confirmed(
        &mut self,
        engine: &mut Engine,
        key: String,
        value: Option<Arc<Value>>,
        version: u64,
    ) {
        self.received += 1;
        if self.bases.contains_key(&key) {
            let state = KeyState {
                value: value.into(),
                version,
                writers: None,
            };
            self.bases.insert(key.clone(), state);
            self.dirty_bases.insert(key.clone());
            self.show_key(engine, &key, Vec::new(), server(), engine.now_ms());
        } else {
            let at = engine.now_ms();
            engine.apply_remote(RemoteWrite {
                key,
                value,
                version,
                fields: Vec::new(),
                by: server(),
                at,
            });
        }
    }

    fn advance(&mut self, position: u64) {
        if position > self.position {
            self.position = position;
            self.work.position = Some(position);
        }
    }

    /// Applies whatever is next in position order: another change, or an ack of ours.
    fn drain(&mut self, engine: &mut Engine) {
        loop {
            let next = self.position + 1;
            if let Some(committed) = self.ahead.remove(&next) {
                self.acked.remove(&next);
                self.clock.observe(committed.op.conflict.clock);
                if !self.confirm_own(engine, &committed.op.id, committed.resolution.as_ref()) {
                    self.apply_foreign(engine, committed);
                }
            } else if let Some((id, resolution)) = self.acked.remove(&next) {
                self.confirm_own(engine, &id, resolution.as_ref());
            } else {
                return;
            }
            self.advance(next);
        }
    }

    /// Removes a pending change without confirming it and recomputes its key.
    fn forget(&mut self, engine: &mut Engine, id: &OpId) -> Option<Operation> {
        let index = self.pending.iter().position(|p| p.op.id == *id)?;
        let Pending { op, .. } = self.pending.remove(index)?;
        self.work.deletes.push(op.id.seq);
        self.uncount(&op.key);
        let at = engine.now_ms();
        self.show_key(engine, &op.key, Vec::new(), Arc::clone(&op.id.client), at);
        Some(op)
    }

    pub(in crate::core::sync) fn uncount(&mut self, key: &str) {
        if let Some(count) = self.per_key.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                self.per_key.remove(key);
            }
        }
    }
}

pub(super) fn server() -> Arc<str> {
    Arc::from("server")
}
