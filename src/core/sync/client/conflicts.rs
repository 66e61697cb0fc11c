//! The loop's conflict API: merge rules, settling held conflicts, history.

use std::sync::Arc;

use serde_json::Value;

use super::SyncClient;
use crate::core::conflict::Rule;
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
            return Err(CoreError::conflict(
                "UNKNOWN_CONFLICT",
                format!("no conflict {id} is waiting to be resolved"),
            ));
        };
        let result = engine.replace_state(&key, value);
        self.local(engine);
        result.map(|_| replaced)
    }

    /// Conflicts waiting for the app's `resolve(value)`, as `conflict` payloads with ids.
    pub fn pending_conflicts(&self, engine: &Engine) -> Vec<Value> {
        self.replica.held_payloads(engine)
    }

    /// `conflictResolver.getConflictHistory()`: settled conflicts, oldest first.
    pub fn conflict_history(&self) -> Vec<Value> {
        self.replica.conflict_history()
    }
}
