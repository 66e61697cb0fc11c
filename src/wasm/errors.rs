//! Core errors surfaced as JS `Error` subclasses (defined in `js/errors.js`).

use wasm_bindgen::prelude::*;

use crate::core::CoreError;

#[wasm_bindgen(module = "/js/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(kind: &str, code: &str, message: &str) -> JsValue;
}

/// The JS error object for a core error.
pub fn to_js(error: &CoreError) -> JsValue {
    make_error(error.kind.name(), error.code, &error.message)
}

/// Converts core results for returning to JS.
pub trait IntoJsResult<T> {
    /// Maps the error into its JS error object.
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJsResult<T> for Result<T, CoreError> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js(&e))
    }
}
