//! Core errors surfaced as JS `Error` subclasses (defined in `js/errors.js`).

use wasm_bindgen::prelude::*;

use crate::core::CoreError;

#[wasm_bindgen(module = "/js/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(kind: &str, code: &str, message: &str) -> JsValue;

    #[wasm_bindgen(js_name = reportPanic)]
    fn report_panic(message: &str);
}

/// Installs (once) a panic hook that reports a typed `sync-error` (`PANIC`) to every live
/// instance before the wasm aborts, instead of a bare `unreachable` trap.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| report_panic(&info.to_string())));
    });
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
