//! The JSON entry points the core uses. Each `serde_json` entry point (`from_str`,
//! `from_slice`, `from_value`, `to_value`) compiles every type's (de)serializer once more,
//! which the browser build pays for in bytes; so text is always decoded from bytes, and
//! JSON values are made by way of text.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::core::error::CoreError;

/// Decodes `T` from JSON text (as bytes, or `str::as_bytes`).
pub fn decode<T: DeserializeOwned>(text: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(text)
}

/// Decodes an argument's JSON text; a `ValidationError` (`INVALID_VALUE`) naming `what`
/// when it is not JSON.
pub fn decode_argument<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, CoreError> {
    decode(text.as_bytes()).map_err(|e| {
        CoreError::validation("INVALID_VALUE", format!("{what} is not valid JSON: {e}"))
    })
}

/// `value` as a JSON value (`Null` if it cannot be one: a map with non-string keys).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_vec(value)
        .and_then(|text| decode(&text))
        .unwrap_or_default()
}

/// Decodes `T` from a JSON value (by way of its text).
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    decode(&serde_json::to_vec(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_round_trip_through_text() {
        let value = json!({ "a": [1, 2.5, "x", null, { "b": true }] });
        assert_eq!(to_value(&value), value);
        let back: Value = from_value(&value).unwrap();
        assert_eq!(back, value);
        assert!(decode::<Value>(b"{").is_err());
    }
}
