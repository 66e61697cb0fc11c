//! What the engine asks its host to deliver: subscriber calls and events, in order.
//! Values are carried as snapshots (`Arc`) and a field path, and only serialised when the
//! host takes them, so queuing a notification never deep-copies state.

use std::sync::Arc;

use serde::ser::{Serialize, Serializer};
use serde_json::Value;

use crate::core::error::CoreError;
use crate::core::event_bus::EventType;
use crate::core::path::get_in;
use crate::core::registry::RegistrationId;

/// The value at `fields` inside a key snapshot; serialises as that value.
#[derive(Debug, Clone)]
pub struct ValueAt {
    /// The whole key value (`None`: absent).
    pub root: Option<Arc<Value>>,
    /// Fields below the key.
    pub fields: Vec<String>,
}

impl ValueAt {
    /// The value addressed, if present.
    pub fn get(&self) -> Option<&Value> {
        self.root
            .as_deref()
            .and_then(|root| get_in(root, &self.fields))
    }

    /// Whether nothing is at the path (serialised as an absent field: `undefined` in JS).
    pub fn is_missing(&self) -> bool {
        self.get().is_none()
    }
}

impl Serialize for ValueAt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

/// What a group of subscribers watching the same path receive.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathValues {
    /// Value now.
    #[serde(skip_serializing_if = "ValueAt::is_missing")]
    pub value: ValueAt,
    /// Value before the change.
    #[serde(skip_serializing_if = "ValueAt::is_missing")]
    pub previous_value: ValueAt,
}

/// The `update` argument of a subscriber call (minus `previousValue`, which is per path).
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpdateInfo {
    /// The key changed.
    pub key: String,
    /// Dotted path of the change (the key itself for a batch).
    pub path: String,
    /// The key's version after the change.
    pub version: u64,
    /// `local`, `remote` or `rollback`.
    pub origin: &'static str,
    /// Operation name (`set`, `update`, `delete`, `increment`, `append`, `batch`).
    pub op: &'static str,
}

/// Payloads of events raised by the core.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// `data-change` and `state-updated`.
    Change {
        /// The key.
        key: String,
        /// Dotted path changed.
        path: String,
        /// New value at `path`.
        #[serde(skip_serializing_if = "ValueAt::is_missing")]
        value: ValueAt,
        /// Key version after the change.
        version: u64,
        /// Origin name.
        origin: &'static str,
    },
    /// `version-change`.
    #[serde(rename_all = "camelCase")]
    Version {
        /// The key.
        key: String,
        /// New version.
        version: u64,
        /// Version before.
        previous_version: u64,
    },
    /// `batch-complete`.
    Batch {
        /// Keys touched, in first-touch order.
        keys: Vec<String>,
        /// Number of operations applied.
        count: usize,
        /// Origin name.
        origin: &'static str,
    },
    /// A sync event's payload, already JSON.
    Json(Value),
    /// `sync-error` raised by the core (the host turns `error` into an Error object).
    Error {
        /// Where it happened (`storage`, `subscriber`, ...).
        phase: &'static str,
        /// What went wrong.
        error: ErrorInfo,
    },
}

/// A serialisable description of a [`CoreError`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErrorInfo {
    /// JS class family (`validation`, `storage`, ...).
    pub kind: &'static str,
    /// Stable code.
    pub code: &'static str,
    /// Message.
    pub message: String,
}

impl From<&CoreError> for ErrorInfo {
    fn from(error: &CoreError) -> Self {
        use crate::core::error::ErrorKind;
        let kind = match error.kind {
            ErrorKind::Type => "type",
            ErrorKind::Validation => "validation",
            ErrorKind::Storage => "storage",
            ErrorKind::Network => "network",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Internal => "internal",
        };
        Self {
            kind,
            code: error.code,
            message: error.message.clone(),
        }
    }
}

/// One delivery the host must perform, in queue order.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "k")]
pub enum Dispatch {
    /// Call these subscribers: `calls` pairs a subscription id with an index into `values`.
    #[serde(rename = "sub")]
    Subscribers {
        /// `(subscription id, index into values)` in dispatch order.
        calls: Vec<(RegistrationId, usize)>,
        /// One entry per distinct watched path.
        values: Vec<PathValues>,
        /// Shared update description.
        update: UpdateInfo,
    },
    /// Call these event handlers with `payload`.
    #[serde(rename = "evt")]
    Event {
        /// Event name.
        #[serde(rename = "type", serialize_with = "event_name")]
        event: EventType,
        /// Handler ids in dispatch order.
        ids: Vec<RegistrationId>,
        /// The payload.
        payload: Payload,
        /// ms since the epoch.
        ts: f64,
        /// `meta.detail` (why a `network-status` changed).
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

fn event_name<S: Serializer>(event: &EventType, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(event.name())
}
