//! How changes and key states are stored as text, the same in every backend, and how
//! rows that no longer parse are set aside instead of failing every read of the room.

use std::sync::Arc;

use srvra_sync::core::model::key_state::KeyState;
use srvra_sync::core::protocol::Committed;

use super::{DbResult, KeyRow};

/// A change as stored: its operation and resolution as JSON text.
pub struct StoredChange {
    /// The operation.
    pub op: String,
    /// How the server settled its conflict, if it did.
    pub resolution: Option<String>,
}

/// Encodes a change for its row.
pub fn encode_change(change: &Committed) -> DbResult<StoredChange> {
    Ok(StoredChange {
        op: serde_json::to_string(&change.op)?,
        resolution: change
            .resolution
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    })
}

/// Decodes a change row.
pub fn decode_change(
    position: u64,
    op: &str,
    resolution: Option<&str>,
) -> Result<Committed, serde_json::Error> {
    Ok(Committed {
        position,
        op: serde_json::from_str(op)?,
        resolution: resolution.map(serde_json::from_str).transpose()?,
    })
}

/// A key's state as stored: value and writers as JSON text (none: absent).
pub struct StoredKey {
    /// The value.
    pub value: Option<String>,
    /// Who wrote it last.
    pub writers: Option<String>,
}

/// Encodes a key's state for its row.
pub fn encode_key(state: &KeyState) -> DbResult<StoredKey> {
    Ok(StoredKey {
        value: state
            .value
            .as_deref()
            .map(serde_json::to_string)
            .transpose()?,
        writers: state
            .writers
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    })
}

/// Decodes a key row.
pub fn decode_key(
    key: String,
    value: Option<&str>,
    version: u64,
    writers: Option<&str>,
) -> Result<KeyRow, serde_json::Error> {
    let value = value.map(serde_json::from_str).transpose()?.map(Arc::new);
    let writers = writers.map(serde_json::from_str).transpose()?;
    Ok(KeyRow {
        key,
        state: KeyState {
            value: value.into(),
            version,
            writers,
        },
    })
}

/// A row that no longer parses (written by an older, unbounded server), to set aside.
pub struct Unreadable {
    /// Its position (0 for a key's state).
    pub position: u64,
    /// The key, for a key's state.
    pub key: Option<String>,
    /// The stored text.
    pub stored: Option<String>,
    /// Why it does not parse.
    pub reason: String,
}

/// Logs a newly quarantined row (once per row, not once per read).
pub fn log_quarantined(room: &str, row: &Unreadable) {
    eprintln!(
        "srvra-sync-server: quarantined an unreadable change in room {room:?} at {}: {}",
        row.position, row.reason
    );
}
