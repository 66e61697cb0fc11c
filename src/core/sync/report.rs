//! `sync-error` with `phase: 'rejected'`: a change of this client the server refused.

use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::{ChangeId, ErrorInfo, Payload, SyncErrorEvent};
use crate::core::model::operation::Operation;
use crate::core::Engine;

/// Queues `sync-error` with `phase: 'rejected'` for a change the server refused.
pub fn rejected_event(engine: &mut Engine, op: &Operation, error: ErrorInfo) {
    let event = SyncErrorEvent {
        key: Some(op.key.clone()),
        id: Some(ChangeId {
            client: op.id.client.to_string(),
            seq: op.id.seq,
        }),
        ..SyncErrorEvent::new("rejected", error)
    };
    engine.emit(EventType::SyncError, Payload::SyncError(event), None);
}
