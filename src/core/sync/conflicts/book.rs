//! What the client keeps about conflicts: held conflicts and the stored base records
//! they live in, the `conflict` / `conflict-resolved` events, the history and counters.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::conflict::{ConflictKind, ConflictReport, Resolution, Strategy};
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::{
    ConflictEvent, ConflictRecord, ConflictResolvedEvent, Payload,
};
use crate::core::model::key_state::KeyState;
use crate::core::model::operation::value_at;
use crate::core::model::path::dotted;
use crate::core::model::slot::Slot;
use crate::core::Engine;

/// Conflicts kept in `getConflictHistory()`, oldest dropped first.
pub const HISTORY_LIMIT: usize = 1000;

/// A conflict waiting for the app's `resolve(value)`. The key's changes stay pending
/// (and unsent) until then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// Id handed to `resolve`.
    pub id: u64,
    /// What the server reported.
    pub report: ConflictReport,
    /// The value the changes were based on (at `path` when scoped).
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub base: Slot,
    /// The fields of the path the conflict is about (SPEC 19); empty: the whole key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

/// A stored base: the key's confirmed state and the conflict held on it, if any.
/// Reads records written before conflicts were stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseRecord {
    /// Confirmed value.
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub value: Slot,
    /// Confirmed version.
    pub version: u64,
    /// The held conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

/// What happened to one conflict, for events and history.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    /// The key.
    pub key: &'a str,
    /// The fields of the path the conflict is about (empty: the key); the values below
    /// are at that path.
    pub path: &'a [String],
    /// Its kind.
    pub kind: ConflictKind,
    /// The strategy that applies.
    pub strategy: Strategy,
    /// What this client's changes would have made of the key.
    pub client: Option<Arc<Value>>,
    /// The server's value.
    pub server: Option<Arc<Value>>,
    /// The value the changes were based on.
    pub base: Option<Arc<Value>>,
}

impl Held {
    /// The conflict as the app sees it, with `client` (the key's local value) as the
    /// client's side. An escalated `smart-merge` is settled like `manual`.
    pub fn seen<'a>(&'a self, key: &'a str, client: Option<&Arc<Value>>) -> Seen<'a> {
        let strategy = if self.report.escalated {
            Strategy::Manual
        } else {
            self.report.strategy.clone()
        };
        Seen {
            key,
            path: &self.path,
            client: at_path(client, &self.path),
            kind: self.report.kind,
            strategy,
            server: self.report.value.0.clone(),
            base: self.base.0.clone(),
        }
    }
}

impl Seen<'_> {
    /// The `conflict` payload of a conflict held for the app as `id`.
    pub fn held_payload(&self, id: u64, escalated: bool) -> ConflictEvent {
        ConflictEvent {
            id: Some(id),
            escalated: Some(escalated),
            ..self.payload()
        }
    }

    fn payload(&self) -> ConflictEvent {
        ConflictEvent {
            key: self.key.to_owned(),
            path: dotted(self.key, self.path),
            kind: self.kind.name(),
            strategy: self.strategy.name().to_owned(),
            client_value: self.client.clone(),
            server_value: self.server.clone(),
            base_value: self.base.clone(),
            id: None,
            escalated: None,
        }
    }

    fn resolved(&self, outcome: &'static str, value: Option<&Arc<Value>>) -> ConflictResolvedEvent {
        ConflictResolvedEvent {
            key: self.key.to_owned(),
            path: dotted(self.key, self.path),
            kind: self.kind.name(),
            strategy: self.strategy.name().to_owned(),
            outcome,
            value: value.cloned(),
        }
    }
}

/// Conflict history and counters.
#[derive(Debug, Default)]
pub struct ConflictBook {
    next_id: u64,
    history: VecDeque<ConflictRecord>,
    /// Conflicts detected on this client's changes.
    pub detected: u64,
    /// Conflicts settled (by the server or by the app).
    pub resolved: u64,
}

impl ConflictBook {
    /// A conflict the server settled: `conflict`, then `conflict-resolved` with the
    /// key's value after it.
    pub fn resolved_by_server(
        &mut self,
        engine: &mut Engine,
        seen: Seen<'_>,
        resolution: &Resolution,
        value: Option<&Arc<Value>>,
    ) {
        self.detected += 1;
        self.resolved += 1;
        let payload = seen.payload();
        engine.emit(
            EventType::Conflict,
            Payload::Conflict(payload.clone()),
            None,
        );
        let outcome = resolution.outcome.name();
        let done = seen.resolved(outcome, value);
        engine.emit(
            EventType::ConflictResolved,
            Payload::ConflictResolved(done),
            None,
        );
        self.remember(engine, payload, outcome, value);
    }

    /// A new conflict for the app to settle: emits `conflict`; returns its id.
    pub fn hold(&mut self, engine: &mut Engine, seen: Seen<'_>, escalated: bool) -> u64 {
        self.detected += 1;
        self.next_id += 1;
        let payload = seen.held_payload(self.next_id, escalated);
        engine.emit(EventType::Conflict, Payload::Conflict(payload), None);
        self.next_id
    }

    /// Keeps new ids above `id` (a held conflict restored from storage).
    pub fn reserve(&mut self, id: u64) {
        self.next_id = self.next_id.max(id);
    }

    /// The app settled a held conflict with `value`.
    pub fn resolved_by_app(
        &mut self,
        engine: &mut Engine,
        seen: Seen<'_>,
        value: Option<&Arc<Value>>,
    ) {
        self.resolved += 1;
        let done = seen.resolved("resolved", value);
        engine.emit(
            EventType::ConflictResolved,
            Payload::ConflictResolved(done),
            None,
        );
        self.remember(engine, seen.payload(), "resolved", value);
    }

    /// The conflicts settled so far, oldest first.
    pub fn history(&self) -> Vec<ConflictRecord> {
        self.history.iter().cloned().collect()
    }

    fn remember(
        &mut self,
        engine: &Engine,
        conflict: ConflictEvent,
        outcome: &'static str,
        value: Option<&Arc<Value>>,
    ) {
        if self.history.len() == HISTORY_LIMIT {
            self.history.pop_front();
        }
        self.history.push_back(ConflictRecord {
            conflict,
            outcome,
            value: value.cloned(),
            at: engine.now_ms(),
        });
    }
}

/// The error for a conflict id that is not (or no longer) held.
pub fn unknown_conflict(id: u64) -> crate::core::CoreError {
    crate::core::CoreError::conflict(
        "UNKNOWN_CONFLICT",
        format!("no conflict {id} is waiting to be resolved"),
    )
}

impl From<&BaseRecord> for KeyState {
    fn from(record: &BaseRecord) -> Self {
        KeyState {
            value: record.value.clone(),
            version: record.version,
            writers: None,
        }
    }
}

/// The value at `path` inside a key's value `root` (the whole value for an empty path).
pub fn at_path(root: Option<&Arc<Value>>, path: &[String]) -> Option<Arc<Value>> {
    if path.is_empty() {
        return root.cloned();
    }
    value_at(root, path).map(|v| Arc::new(v.clone()))
}
