//! Presence on the wire: ephemeral per-tab state (who is here, where their cursor is),
//! never stored. What a presence state may be is checked by the SDK and the server alike.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::error::{CoreError, Result};
use crate::core::model::bounds::{value_depth, value_size};
use crate::core::model::slot::Slot;

/// Largest presence state by default, in bytes as JSON (the server's
/// `--max-presence-bytes`).
pub const MAX_PRESENCE_BYTES: usize = 4096;

/// Deepest nesting of a presence state.
pub const MAX_PRESENCE_DEPTH: usize = 16;

/// One tab's presence as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresencePeer {
    /// The client (one per app and device).
    pub client_id: String,
    /// The tab of that client.
    pub tab: String,
    /// The user the server knows from the client's token (none without JWT auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The state; absent when the tab left (or went silent).
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub state: Slot,
    /// When the server last heard from it, ms since the epoch.
    pub last_seen: f64,
}

/// Checks a presence state: a JSON object of at most `max_bytes` (as JSON) and
/// [`MAX_PRESENCE_DEPTH`] levels. `INVALID_PRESENCE` (not an object) or
/// `PRESENCE_TOO_LARGE`.
pub fn check_state(state: &Value, max_bytes: usize) -> Result<()> {
    if !state.is_object() {
        return Err(CoreError::type_error(
            "INVALID_PRESENCE",
            "a presence state is a JSON object (or null to clear it)",
        ));
    }
    let size = value_size(state);
    if size > max_bytes || value_depth(state) > MAX_PRESENCE_DEPTH {
        return Err(CoreError::validation(
            "PRESENCE_TOO_LARGE",
            format!(
                "a presence state may take {max_bytes} bytes and {MAX_PRESENCE_DEPTH} levels; this one takes {size} bytes"
            ),
        ));
    }
    Ok(())
}
