//! How the sync loop describes errors in `sync-error` payloads.

use serde_json::{json, Value};

use crate::core::event_bus::EventType;
use crate::core::operation::Operation;
use crate::core::Engine;

/// An error as the JS side turns it into an `Error` subclass (`kind` picks the class).
pub fn error_json(kind: &str, code: &str, message: &str) -> Value {
    json!({ "kind": kind, "code": code, "message": message })
}

/// Queues `sync-error` with `phase: 'rejected'` for a change the server refused.
pub fn rejected_event(engine: &mut Engine, op: &Operation, error: Value) {
    let payload = json!({
        "phase": "rejected",
        "error": error,
        "key": op.key,
        "id": { "client": &*op.id.client, "seq": op.id.seq },
    });
    engine.emit(EventType::SyncError, payload, None);
}
