//! The loop's conflict API: merge rules, settling held conflicts, history.

use std::sync::Arc;

use serde_json::Value;

use super::unknown_conflict;
use crate::core::conflict::{Choice, Rule};
use crate::core::dispatch::events::{ConflictEvent, ConflictRecord};
use crate::core::model::path::dotted;
use crate::core::sync::client::SyncClient;
use crate::core::{CoreError, Engine};

impl SyncClient {
    /// `conflictResolver.setMergeRule(pattern, strategy)`: applies to changes made from
    /// now on.
    pub fn set_merge_rule(&mut self, pattern: &str, strategy: &str) -> Result<(), CoreError> {
        self.rules.add(Rule::parse(pattern, strategy)?);
        Ok(())
    }

    /// The app settled held conflict `id` with `value` (`None`: delete it): the pending
    /// changes of the conflict's path (the key, or the path a merge rule scoped it to)
    /// are replaced by one change of that path to `value`, based on the server state the
    /// conflict reported, and sent. Returns the replaced changes' sequences.
    pub fn resolve_conflict(
        &mut self,
        engine: &mut Engine,
        id: u64,
        value: Option<Value>,
    ) -> Result<Vec<u64>, CoreError> {
        let resolved = value.clone().map(Arc::new);
        self.replica
            .check_settlement(engine, id, resolved.as_ref())
            .ok_or_else(|| unknown_conflict(id))??;
        let Some(settled) = self.replica.resolve_held(engine, id, resolved.as_ref()) else {
            return Err(unknown_conflict(id));
        };
        // A conflict scoped to a path is settled at that path only (SPEC 19); the key's
        // changes of other paths are made again after it.
        let result = engine.replace_state(&dotted(&settled.key, &settled.path), value);
        for (fields, kind) in settled.again {
            let path = dotted(&settled.key, &fields);
            if let Err(error) = engine.make_again(&path, kind) {
                engine.report_error("conflict", &error);
            }
        }
        self.local(engine);
        result.map(|_| settled.dropped)
    }

    /// `resolveConflict({ strategy })` with a built-in `choice`: settles held conflict
    /// `id` with the value that choice gives it, as [`SyncClient::resolve_conflict`] does.
    pub fn resolve_conflict_with(
        &mut self,
        engine: &mut Engine,
        id: u64,
        choice: Choice,
    ) -> Result<Vec<u64>, CoreError> {
        let value = self
            .replica
            .choose_held(engine, id, choice)
            .ok_or_else(|| unknown_conflict(id))?;
        self.resolve_conflict(engine, id, value.map(|v| (*v).clone()))
    }

    /// Conflicts waiting for the app's `resolve(value)`, as `conflict` payloads with ids.
    pub fn pending_conflicts(&self, engine: &Engine) -> Vec<ConflictEvent> {
        self.replica.held_payloads(engine)
    }

    /// `conflictResolver.getConflictHistory()`: settled conflicts, oldest first.
    pub fn conflict_history(&self) -> Vec<ConflictRecord> {
        self.replica.conflict_history()
    }
}
