//! `sync.presence` on the wasm side: converts and delegates to the client core
//! ([`crate::core::Instance::presence_set`] and friends).

use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::wasm::errors::IntoJsResult;
use crate::wasm::sync_core::{parse_json, to_json, SyncCore};

#[wasm_bindgen]
impl SyncCore {
    /// `presence.set(state)`: `state_json` is an object, or `null` to clear.
    #[wasm_bindgen(js_name = presenceSet)]
    pub fn presence_set(&self, state_json: &str) -> Result<(), JsValue> {
        self.check_open()?;
        let state = match parse_json(state_json, "the presence state")? {
            Value::Null => None,
            state => Some(state),
        };
        self.shared
            .run(|instance| instance.presence_set(state))
            .js()
    }

    /// `presence.get()` as JSON (`null` when none).
    #[wasm_bindgen(js_name = presenceGet)]
    pub fn presence_get(&self) -> String {
        to_json(&self.shared.instance.borrow().presence_get())
    }

    /// `presence.others()` as JSON.
    #[wasm_bindgen(js_name = presenceOthers)]
    pub fn presence_others(&self) -> String {
        to_json(&self.shared.instance.borrow().presence_others())
    }
}
