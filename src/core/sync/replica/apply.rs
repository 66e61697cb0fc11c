//! How the replica applies what the server confirmed: its own changes, other clients'
//! changes, and the view of a key (confirmed base plus pending changes) it shows.
//!
//! One policy when a confirmed change does not apply here (the server applied it, so
//! this client's confirmed state is not the server's): it is reported as `sync-error`
//! `DIVERGED` (phase `sync`), the key keeps the server's version, and the loop replaces
//! the whole confirmed state with a snapshot of the room ([`Replica::take_diverged`]).

use std::sync::Arc;

use serde_json::Value;

use super::{Pending, Replica};
use crate::core::conflict::{Outcome, Resolution};
use crate::core::engine::RemoteWrite;
use crate::core::error::CoreError;
use crate::core::model::key_state::KeyState;
use crate::core::model::operation::{apply, OpId};
use crate::core::model::slot::Slot;
use crate::core::protocol::Committed;
use crate::core::Engine;

impl Replica {
    /// Moves a pending change of this client into the confirmed state, as the server
    /// settled it.
    pub(super) fn confirm_own(
        &mut self,
        engine: &mut Engine,
        id: &OpId,
        resolution: Option<&Resolution>,
    ) -> bool {
        let Some(index) = self.pending.iter().position(|p| p.op.id == *id) else {
            return false;
        };
        let Some(Pending { op, .. }) = self.pending.remove(index) else {
            return false;
        };
        self.work.deletes.push(op.id.seq);
        self.uncount(&op.key);
        let base = self.bases.entry(op.key.clone()).or_insert(KeyState {
            value: Slot::ABSENT,
            version: op.base_version,
            writers: None,
        });
        let server = base.value.0.clone();
        match resolution.map(|r| &r.outcome) {
            Some(Outcome::Server) => {}
            Some(Outcome::Merged(value)) => {
                base.value = Slot(Some(Arc::clone(value)));
                base.version += 1;
            }
            Some(Outcome::Client) | None => {
                match apply(base.value.as_ref(), &op.fields, &op.kind) {
                    Ok(next) => base.value = next.into(),
                    Err(error) => self.diverged = report_divergence(engine, &op.key, &error),
                }
                base.version += 1;
            }
        }
        let after = base.value.0.clone();
        self.dirty_bases.insert(op.key.clone());
        if let Some(resolution) = resolution {
            self.resolved_by_server(engine, &op, resolution, server, after);
        }
        self.show_key(engine, &op.key, op.fields, op.id.client, op.timestamp);
        true
    }

    /// Applies another client's change, as the server settled it.
    pub(super) fn apply_foreign(&mut self, engine: &mut Engine, committed: Committed) {
        self.received += 1;
        let op = committed.op;
        let merged = match committed.resolution.map(|r| r.outcome) {
            Some(Outcome::Server) => return,
            Some(Outcome::Merged(value)) => Some(value),
            _ => None,
        };
        let next = |current: Option<&Arc<Value>>| match &merged {
            Some(value) => Ok(Some(Arc::clone(value))),
            None => apply(current, &op.fields, &op.kind),
        };
        if let Some(base) = self.bases.get_mut(&op.key) {
            match next(base.value.as_ref()) {
                Ok(value) => base.value = value.into(),
                Err(error) => self.diverged = report_divergence(engine, &op.key, &error),
            }
            base.version += 1;
            self.dirty_bases.insert(op.key.clone());
            self.show_key(engine, &op.key, op.fields, op.id.client, op.timestamp);
            return;
        }
        let version = engine.version_of(&op.key) + 1;
        match next(engine.value_of(&op.key)) {
            Ok(value) => engine.apply_remote(RemoteWrite {
                key: op.key,
                value,
                version,
                fields: op.fields,
                by: op.id.client,
                at: op.timestamp,
            }),
            Err(error) => self.diverged = report_divergence(engine, &op.key, &error),
        }
    }

    /// Writes a key's view (base plus its pending changes) into the engine; drops the
    /// base once nothing is pending for the key. A pending change that no longer applies
    /// on the base is left out of the view (the server will reject it, and that rejection
    /// reports it); it is not a divergence, as nothing confirmed is wrong.
    pub(in crate::core::sync) fn show_key(
        &mut self,
        engine: &mut Engine,
        key: &str,
        fields: Vec<String>,
        by: Arc<str>,
        at: f64,
    ) {
        let Some(base) = self.bases.get(key) else {
            return;
        };
        let mut value = base.value.0.clone();
        let mut version = base.version;
        if self.per_key.contains_key(key) {
            for pending in self.pending.iter().filter(|p| p.op.key == key) {
                if let Ok(next) = apply(value.as_ref(), &pending.op.fields, &pending.op.kind) {
                    value = next;
                    version += 1;
                }
            }
        } else {
            self.bases.remove(key);
            self.dirty_bases.insert(key.to_owned());
        }
        engine.apply_remote(RemoteWrite {
            key: key.to_owned(),
            value,
            version,
            fields,
            by,
            at,
        });
    }

    /// Whether a confirmed change failed to apply since the last call: the confirmed
    /// state must be replaced by a snapshot.
    pub fn take_diverged(&mut self) -> bool {
        std::mem::take(&mut self.diverged)
    }
}

/// Reports that confirmed change on `key` did not apply; returns `true` (diverged).
fn report_divergence(engine: &mut Engine, key: &str, error: &CoreError) -> bool {
    let error = CoreError::internal(
        "DIVERGED",
        format!(
            "a change the server confirmed on '{key}' does not apply here ({}): resyncing from a snapshot",
            error.message
        ),
    );
    engine.report_error("sync", &error);
    true
}
