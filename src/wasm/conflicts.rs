//! `sync.conflictResolver` on the wasm side: merge rules, settling held conflicts,
//! pending conflicts and history. Rules set before the sync loop exists are kept and
//! handed to it when it starts.

use wasm_bindgen::prelude::*;

use crate::core::conflict::Rule;
use crate::core::tabs::Settlement;
use crate::wasm::errors::{to_js, IntoJsResult};
use crate::wasm::sync_core::{parse_json, to_json, SyncCore};

#[wasm_bindgen]
impl SyncCore {
    /// `conflictResolver.setMergeRule(pattern, strategy)`.
    #[wasm_bindgen(js_name = setMergeRule)]
    pub fn set_merge_rule(&self, pattern: &str, strategy: &str) -> Result<(), JsValue> {
        Rule::parse(pattern, strategy).js()?;
        let shared = &self.shared;
        shared
            .merge_rules
            .borrow_mut()
            .push((pattern.to_owned(), strategy.to_owned()));
        let mut instance = shared.instance.borrow_mut();
        instance
            .with_sync(|sync, _| sync.set_merge_rule(pattern, strategy))
            .unwrap_or(Ok(()))
            .js()
    }

    /// `resolve(value)` of held conflict `id`; `value_json` absent deletes the key.
    #[wasm_bindgen(js_name = resolveConflict)]
    pub fn resolve_conflict(&self, id: f64, value_json: Option<String>) -> Result<(), JsValue> {
        self.check_open()?;
        let value = value_json
            .map(|text| parse_json(&text, "the resolved value"))
            .transpose()?;
        self.shared
            .run(|instance| {
                instance
                    .resolve_conflict(id as u64, value.map_or(Settlement::Delete, Settlement::Set))
            })
            .map(|_| ())
            .map_err(|error| to_js(&error))
    }

    /// `conflictResolver.resolveConflict({ strategy, id })` with a built-in strategy.
    #[wasm_bindgen(js_name = resolveConflictWith)]
    pub fn resolve_conflict_with(&self, id: f64, strategy: &str) -> Result<(), JsValue> {
        self.check_open()?;
        self.shared
            .run(|instance| {
                instance.resolve_conflict(id as u64, Settlement::Strategy(strategy.to_owned()))
            })
            .map(|_| ())
            .map_err(|error| to_js(&error))
    }

    /// Conflicts waiting for `resolve(value)`, as a JSON array of `conflict` payloads.
    #[wasm_bindgen(js_name = pendingConflicts)]
    pub fn pending_conflicts(&self) -> String {
        to_json(&self.shared.instance.borrow().pending_conflicts())
    }

    /// `conflictResolver.getConflictHistory()`, as a JSON array.
    #[wasm_bindgen(js_name = conflictHistory)]
    pub fn conflict_history(&self) -> String {
        let instance = self.shared.instance.borrow();
        to_json(
            &instance
                .sync()
                .map(|s| s.conflict_history())
                .unwrap_or_default(),
        )
    }
}
