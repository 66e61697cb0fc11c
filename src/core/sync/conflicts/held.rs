//! The replica's conflict handling: conflicts the server settled (events, history) and
//! conflicts held for the app to settle with `resolve(value)`.

use std::sync::Arc;

use serde_json::Value;

use super::{at_path, Held, Seen};
use crate::core::conflict::{Choice, ConflictReport, Resolution};
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::{ConflictEvent, ConflictRecord, Payload};
use crate::core::error::CoreError;
use crate::core::model::key_state::KeyState;
use crate::core::model::operation::{apply, OpId, OpKind, Operation};
use crate::core::sync::replica::Pending;
use crate::core::sync::replica::Replica;
use crate::core::Engine;

/// What settling a held conflict did (see [`Replica::resolve_held`]).
#[derive(Debug)]
pub struct Settled {
    /// The key.
    pub key: String,
    /// The fields of the conflict's path (empty: the key).
    pub path: Vec<String>,
    /// The sequences of the dropped changes.
    pub dropped: Vec<u64>,
    /// Dropped changes of other paths of the key, to make again: `(fields, kind)`.
    pub again: Vec<(Vec<String>, OpKind)>,
}

/// Whether a change at `fields` touches the path `path` (one is a prefix of the other).
fn overlaps(fields: &[String], path: &[String]) -> bool {
    let n = fields.len().min(path.len());
    fields[..n] == path[..n]
}

impl Replica {
    /// A change of this client was settled by the server after a conflict: `conflict`
    /// and `conflict-resolved` events, history, counters.
    pub(in crate::core::sync) fn resolved_by_server(
        &mut self,
        engine: &mut Engine,
        op: &Operation,
        resolution: &Resolution,
        server: Option<Arc<Value>>,
        after: Option<Arc<Value>>,
    ) {
        let path = op.conflict_fields();
        let server = at_path(server.as_ref(), path);
        // A scoped change carries its base at the path (absent: none there).
        let base = op.conflict.base.0.clone();
        let strategy = op.conflict.strategy();
        let from = if path.is_empty() {
            base.as_ref().or(server.as_ref())
        } else {
            base.as_ref()
        };
        let client = op.apply_in_scope(from).ok().flatten();
        let seen = Seen {
            key: &op.key,
            path,
            kind: resolution.kind,
            strategy,
            client,
            server,
            base,
        };
        let after = at_path(after.as_ref(), path);
        self.book
            .resolved_by_server(engine, seen, resolution, after.as_ref());
        self.count(engine);
    }

    /// Holds the conflict the server reported on pending change `id`: the key's changes
    /// stay pending and unsent until the app settles it. False when `id` is not pending.
    pub(in crate::core::sync) fn hold(
        &mut self,
        engine: &mut Engine,
        id: &OpId,
        report: ConflictReport,
    ) -> bool {
        let Some(pending) = self.pending.iter_mut().find(|p| p.op.id == *id) else {
            return false;
        };
        pending.sent = false;
        let key = pending.op.key.clone();
        let base = pending.op.conflict.base.clone();
        let path = pending.op.conflict_fields().to_vec();
        self.dirty_bases.insert(key.clone());
        if let Some(held) = self.held.get_mut(&key) {
            // A later change of the same key: one conflict, against the newest state.
            if report.version > held.report.version {
                held.report = report;
            }
            return true;
        }
        let mut held = Held {
            id: 0,
            report,
            base,
            path,
        };
        let seen = held.seen(&key, engine.value_of(&key));
        held.id = self.book.hold(engine, seen, held.report.escalated);
        self.held.insert(key, held);
        self.count(engine);
        true
    }

    /// Emits `conflict` again for every held conflict (after a reload).
    pub fn announce_held(&mut self, engine: &mut Engine) {
        for payload in self.held_payloads(engine) {
            engine.emit(EventType::Conflict, Payload::Conflict(payload), None);
        }
        self.count(engine);
    }

    /// The app settled held conflict `id`: every pending change of the key not in flight
    /// (the ones the server reported and any made since) is dropped, and the next change
    /// recorded for the key is based on the server state the conflict reported. A
    /// conflict scoped to a path (SPEC 19) keeps the key's changes of other paths: they
    /// are returned to be made again, after the settlement (their sequences are behind
    /// changes sent meanwhile, so they cannot be sent as they are).
    pub fn resolve_held(
        &mut self,
        engine: &mut Engine,
        id: u64,
        value: Option<&Arc<Value>>,
    ) -> Option<Settled> {
        let key = self.held.iter().find(|(_, h)| h.id == id)?.0.clone();
        let held = self.held.remove(&key)?;
        let client = engine.value_of(&key).cloned();
        let unsent = |p: &Pending| p.op.key == key && !p.sent;
        let dropped: Vec<u64> = self
            .pending
            .iter()
            .filter(|p| unsent(p))
            .map(|p| p.op.id.seq)
            .collect();
        let again: Vec<(Vec<String>, OpKind)> = self
            .pending
            .iter()
            .filter(|p| unsent(p) && !overlaps(&p.op.fields, &held.path))
            .map(|p| (p.op.fields.clone(), p.op.kind.clone()))
            .collect();
        self.pending.retain(|p| !unsent(p));
        for _ in &dropped {
            self.uncount(&key);
        }
        self.work.deletes.extend(&dropped);
        self.dirty_bases.insert(key.clone());
        // The key shows its confirmed state again (plus changes still in flight).
        let (me, at) = (Arc::from(engine.client_id()), engine.now_ms());
        self.show_key(engine, &key, Vec::new(), me, at);
        self.book
            .resolved_by_app(engine, held.seen(&key, client.as_ref()), value);
        let based_on = KeyState {
            value: held.report.value,
            version: held.report.version,
            writers: None,
        };
        self.rebase
            .insert(key.clone(), (based_on, held.path.clone()));
        self.count(engine);
        Some(Settled {
            key,
            path: held.path,
            dropped,
            again,
        })
    }

    /// Whether settling held conflict `id` with `value` (`None`: delete) applies on the
    /// key as it will show once the conflict's changes are dropped; `None` when no such
    /// conflict is held. A settlement that does not apply (a path inside a value that is
    /// no longer an object) must change nothing.
    pub fn check_settlement(
        &self,
        engine: &Engine,
        id: u64,
        value: Option<&Arc<Value>>,
    ) -> Option<Result<(), CoreError>> {
        let (key, held) = self.held.iter().find(|(_, h)| h.id == id)?;
        let mut shown = self
            .bases
            .get(key)
            .map_or_else(|| engine.value_of(key).cloned(), |b| b.value.0.clone());
        let keeps =
            |p: &&Pending| p.op.key == *key && (p.sent || !overlaps(&p.op.fields, &held.path));
        for pending in self.pending.iter().filter(keeps) {
            if let Ok(next) = apply(shown.as_ref(), &pending.op.fields, &pending.op.kind) {
                shown = next;
            }
        }
        let kind = value.map_or(OpKind::Delete, |v| OpKind::Set(Arc::clone(v)));
        Some(apply(shown.as_ref(), &held.path, &kind).map(|_| ()))
    }

    /// The value `choice` gives held conflict `id` (`Some(None)`: delete the key), or
    /// `None` when no such conflict is held. The clock order is the server's: this
    /// client's latest change of the key against the rival write the server reported.
    pub fn choose_held(
        &self,
        engine: &Engine,
        id: u64,
        choice: Choice,
    ) -> Option<Option<Arc<Value>>> {
        let (key, held) = self.held.iter().find(|(_, h)| h.id == id)?;
        let clock = self
            .pending
            .iter()
            .filter(|p| &p.op.key == key)
            .map(|p| p.op.conflict.clock)
            .max()
            .unwrap_or(0);
        let client_wins = held.report.rival.as_ref().map_or(true, |rival| {
            (clock, engine.client_id()) > (rival.clock, &*rival.client)
        });
        Some(choice.value(
            held.base.as_ref(),
            held.report.value.as_ref(),
            at_path(engine.value_of(key), &held.path).as_ref(),
            client_wins,
        ))
    }

    /// The conflicts settled so far, oldest first.
    pub fn conflict_history(&self) -> Vec<ConflictRecord> {
        self.book.history()
    }

    /// The held conflicts as `conflict` payloads (with ids), oldest first.
    pub fn held_payloads(&self, engine: &Engine) -> Vec<ConflictEvent> {
        let mut held: Vec<(&String, &Held)> = self.held.iter().collect();
        held.sort_unstable_by_key(|(_, h)| h.id);
        held.into_iter()
            .map(|(key, held)| {
                let seen = held.seen(key, engine.value_of(key));
                seen.held_payload(held.id, held.report.escalated)
            })
            .collect()
    }

    /// Ids of the conflicts held for the app.
    pub fn held_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.held.values().map(|h| h.id).collect();
        ids.sort_unstable();
        ids
    }

    fn count(&self, engine: &mut Engine) {
        let stats = engine.stats_mut();
        stats.conflicts = self.book.detected;
        stats.conflicts_resolved = self.book.resolved;
        stats.conflicts_pending = self.held.len() as u64;
    }
}
