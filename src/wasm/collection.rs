//! `sync.collection(prefix)` on the wasm side: converts arguments and delegates to the
//! core's collection operations (`core::collection`).

use wasm_bindgen::prelude::*;

use crate::core::collection::Place;
use crate::wasm::errors::IntoJsResult;
use crate::wasm::sync_core::{parse_json, to_json, SyncCore};

#[wasm_bindgen]
impl SyncCore {
    /// `sync.collection(prefix)`: throws `INVALID_PATH` for a prefix no key can start with.
    #[wasm_bindgen(js_name = checkCollectionPrefix)]
    pub fn check_collection_prefix(&self, prefix: &str) -> Result<(), JsValue> {
        crate::core::collection::check_prefix(prefix).js()
    }

    /// `collection(prefix).add(value)`; returns the new item's id.
    #[wasm_bindgen(js_name = collectionAdd)]
    pub fn collection_add(&self, prefix: &str, value_json: &str) -> Result<String, JsValue> {
        let value = parse_json(value_json, "value")?;
        self.change(|e| e.collection_add(prefix, value))
    }

    /// `collection(prefix).update(id, partial)`.
    #[wasm_bindgen(js_name = collectionUpdate)]
    pub fn collection_update(
        &self,
        prefix: &str,
        id: &str,
        partial_json: &str,
    ) -> Result<(), JsValue> {
        let partial = parse_json(partial_json, "partial")?;
        self.change(|e| e.collection_update(prefix, id, partial))
    }

    /// `collection(prefix).remove(id)`.
    #[wasm_bindgen(js_name = collectionRemove)]
    pub fn collection_remove(&self, prefix: &str, id: &str) -> Result<(), JsValue> {
        self.change(|e| e.collection_remove(prefix, id))
    }

    /// `collection(prefix).move(id, { before } | { after })`: `before` says which.
    #[wasm_bindgen(js_name = collectionMove)]
    pub fn collection_move(
        &self,
        prefix: &str,
        id: &str,
        before: bool,
        other: String,
    ) -> Result<(), JsValue> {
        let place = if before {
            Place::Before(other)
        } else {
            Place::After(other)
        };
        self.change(|e| e.collection_move(prefix, id, place))
    }

    /// `collection(prefix).list()` as JSON: `[{ id, value }]` in order.
    #[wasm_bindgen(js_name = collectionList)]
    pub fn collection_list(&self, prefix: &str) -> Result<String, JsValue> {
        let instance = self.shared.instance.borrow();
        instance
            .engine()
            .collection_list(prefix)
            .map(|items| to_json(&items))
            .js()
    }
}
