//! The loop's conflict API: merge rules, settling held conflicts, history.

use std::sync::Arc;

use serde_json::Value;

use super::unknown_conflict;
use crate::core::conflict::{Choice, Rule};
use crate::core::dispatch::events::{ConflictEvent, ConflictRecord};
use crate::core::sync::client::SyncClient;
use crate::core::{CoreError, Engine};

impl SyncClient {
    /// `conflictResolver.setMergeRule(pattern, strategy)`: applies to changes made from
    /// now on.
    pub fn set_merge_rule(&mut self, pattern: &str, strategy: &str) -> Result<(), CoreError> {
        self.rules.add(Rule::parse(pattern, strategy)?);
        Ok(())
    }

    /// The app settled held conflict `id` with `value` (`None`: delete the key): the
    /// key's pending changes are replaced by one change to `value`, based on the server
    /// state the conflict reported, and sent. Returns the replaced changes' sequences.
    pub fn resolve_conflict(
        &mut self,
        engine: &mut Engine,
        id: u64,
        value: Option<Value>,
    ) -> Result<Vec<u64>, CoreError> {
        let resolved = value.clone().map(Arc::new);
        let Some((key, replaced)) = self.replica.resolve_held(engine, id, resolved.as_ref()) else {
            return Err(unknown_conflict(id));
        };
        let result = engine.replace_state(&key, value);
        self.local(engine);
        result.map(|_| replaced)
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
