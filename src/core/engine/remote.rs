//! The engine's side of network sync: what local changes record for the outbox, how
//! changes decided by the server are written, and the events the sync loop raises.

use std::sync::Arc;

use serde_json::Value;

use super::Engine;
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::Payload;
use crate::core::dispatch::notify::{self, KeyChange, OpChange};
use crate::core::model::delta;
use crate::core::model::history::Origin;
use crate::core::model::json;
use crate::core::model::operation::{value_at, OpKind, Operation};
use crate::core::state::stats::Stats;
use crate::core::state::store::ChangeMeta;

/// A local change as the journal records it: the operation and the key's value before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The operation (its id is final).
    pub op: Operation,
    /// The whole key's value before the operation.
    pub previous: Option<Arc<Value>>,
    /// Whether it may be sent before it is stored: not when another tab made it (that
    /// tab applies it again if this one stops before storing it, so an early send could
    /// reach the server twice).
    pub may_send_unstored: bool,
}

/// A key's value as decided by the server (plus this client's pending changes on top).
#[derive(Debug, Clone)]
pub struct RemoteWrite {
    /// The key.
    pub key: String,
    /// Its value now, `None` when deleted.
    pub value: Option<Arc<Value>>,
    /// Its version now.
    pub version: u64,
    /// Fields the server's changes touched (for `data-change`); empty: the whole key.
    pub fields: Vec<String>,
    /// Author of the change.
    pub by: Arc<str>,
    /// Time of the change, ms since the epoch.
    pub at: f64,
}

impl Engine {
    /// The operation kind to record for a local change: with `enableDeltaUpdates`, a
    /// `set` of an object over an object records only the leaves that changed.
    pub(super) fn delta(
        &self,
        previous: Option<&Arc<Value>>,
        fields: &[String],
        kind: OpKind,
    ) -> OpKind {
        if !self.config.enable_delta_updates {
            return kind;
        }
        match &kind {
            OpKind::Set(new) => {
                match value_at(previous, fields).and_then(|old| delta::diff(old, new)) {
                    Some(patch) => OpKind::Patch(patch),
                    None => kind,
                }
            }
            _ => kind,
        }
    }

    /// A key's whole value, without parsing a path.
    pub fn value_of(&self, key: &str) -> Option<&Arc<Value>> {
        self.store.value(key)
    }

    /// A key's version, without parsing a path.
    pub fn version_of(&self, key: &str) -> u64 {
        self.store.version(key)
    }

    /// Every key that holds a value.
    pub fn live_keys(&self) -> Vec<String> {
        self.store.keys().map(str::to_owned).collect()
    }

    /// Writes a key as the server decided it and queues the same deliveries as a local
    /// change, with origin `remote`. Does nothing when value and version are unchanged.
    pub fn apply_remote(&mut self, write: RemoteWrite) {
        let unchanged = self.store.version(&write.key) == write.version
            && self.store.value(&write.key) == write.value.as_ref();
        if unchanged {
            return;
        }
        let meta = ChangeMeta {
            at: write.at,
            by: write.by,
            origin: Origin::Remote,
        };
        let written =
            self.store
                .write_versioned(&write.key, write.value, &meta, Some(write.version));
        self.dirty.mark_key(&write.key);
        self.fed(&write.key);
        self.changes += 1;
        self.stats.operations += 1;
        self.stats.remote_operations += 1;
        self.notify_remote(
            write.key,
            write.fields,
            (written.previous, written.previous_version),
            write.at,
        );
    }

    /// Queues the deliveries of a key that changed by a remote write (or a reload):
    /// `data-change` at `fields`, then the key's subscribers and `state-updated`.
    pub(super) fn notify_remote(
        &mut self,
        key: String,
        fields: Vec<String>,
        (previous, previous_version): (Option<Arc<Value>>, u64),
        at: f64,
    ) {
        if self.subs.is_empty() && self.bus.is_empty() {
            return;
        }
        let current = self.store.value(&key).cloned();
        let version = self.store.version(&key);
        notify::data_change(
            &self.bus,
            &mut self.queue,
            OpChange {
                key: &key,
                fields: &fields,
                value: current.clone(),
                version,
            },
            Origin::Remote,
            at,
        );
        let change = KeyChange {
            key,
            previous,
            previous_version,
            current,
            version,
            changed: vec![fields],
            op: "remote",
        };
        notify::key_settled(
            &self.subs,
            &self.bus,
            &mut self.queue,
            &change,
            Origin::Remote,
            at,
        );
    }

    /// Queues a sync event (`network-status`, `reconnecting`, `sync-complete`,
    /// `sync-error`, `conflict`, ...) with its payload and an optional `meta.detail`.
    pub fn emit(&mut self, event: EventType, payload: Payload, detail: Option<String>) {
        self.forward(event, || json::to_value(&payload), detail.clone());
        if self.bus.has(event) {
            let at = self.clock.now_ms();
            let mut dispatch = notify::event(&self.bus, event, payload, at);
            if let crate::core::dispatch::events::Dispatch::Event { detail: d, .. } = &mut dispatch
            {
                *d = detail;
            }
            self.queue.push(dispatch);
        }
    }

    /// Counters the sync loop maintains (bytes, outbox length, reconnects, round trip).
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// The time now, from the engine's clock.
    pub fn now_ms(&self) -> f64 {
        self.clock.now_ms()
    }
}
