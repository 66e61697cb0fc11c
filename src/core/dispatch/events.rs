//! What the engine asks its host to deliver: subscriber calls and events, in order.
//! Values are carried as snapshots (`Arc`) and a field path, and only serialised when the
//! host takes them, so queuing a notification never deep-copies state.

use std::borrow::Cow;
use std::sync::Arc;

use serde::ser::{Serialize, Serializer};
use serde_json::Value;

use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::registry::RegistrationId;
use crate::core::error::{CoreError, ErrorKind};
use crate::core::model::path::get_in;

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
    /// `sync-complete`.
    SyncComplete(SyncComplete),
    /// `reconnecting`.
    Reconnecting(Reconnecting),
    /// `network-status`: `online` or `offline`.
    NetworkStatus(&'static str),
    /// `conflict`.
    Conflict(ConflictEvent),
    /// `conflict-resolved`.
    ConflictResolved(ConflictResolvedEvent),
    /// `sync-error` (the host turns `error` into an Error object).
    SyncError(SyncErrorEvent),
    /// An event the leading tab raised, as it sent it (typed there).
    Forwarded(Value),
    /// `presence`: everyone present but this tab.
    Presence(PresenceEvent),
}

/// `presence`: the other tabs present in the room (this client's other tabs included).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PresenceEvent {
    /// `{ clientId, tab, userId?, state, lastSeen }` of each.
    pub others: Vec<crate::core::protocol::presence::PresencePeer>,
}

/// `sync-complete`: after a flush was acknowledged or a catch-up finished.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncComplete {
    /// Changes acknowledged since the last `sync-complete`.
    pub sent: u64,
    /// Changes received from others since the last one.
    pub received: u64,
    /// Confirmed position in the room's order.
    pub position: u64,
}

/// `reconnecting`: a connection attempt failed; the next one is in `delay` ms.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reconnecting {
    /// Attempts since the last good connection, from 1.
    pub attempt: u32,
    /// ms until the next attempt.
    pub delay: u64,
}

/// `sync-error`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncErrorEvent {
    /// Where it happened (`storage`, `rejected`, `server`, `connect`, ...).
    pub phase: &'static str,
    /// What went wrong.
    pub error: ErrorInfo,
    /// The key concerned, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For `phase: 'rejected'`: the change the server refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<ChangeId>,
}

impl SyncErrorEvent {
    /// A `sync-error` for `error` in `phase`.
    pub fn new(phase: &'static str, error: ErrorInfo) -> Self {
        Self {
            phase,
            error,
            key: None,
            id: None,
        }
    }
}

/// A change's id as events show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChangeId {
    /// The client that made it.
    pub client: String,
    /// Its sequence number.
    pub seq: u64,
}

/// `conflict`: what the server found, for the author of the change.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConflictEvent {
    /// The key.
    pub key: String,
    /// The dotted path the conflict is about: the key, or the path of the merge rule (or
    /// change) it is scoped to (SPEC 19). The values below are the values at this path.
    pub path: String,
    /// `modify-modify`, `delete-modify`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The strategy that applies.
    pub strategy: String,
    /// What this client's changes made of the path (`null`: absent).
    pub client_value: Option<Arc<Value>>,
    /// The server's value there.
    pub server_value: Option<Arc<Value>>,
    /// The value the changes were based on.
    pub base_value: Option<Arc<Value>>,
    /// Set when the conflict is held for the app (`resolve(value)` takes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Set when held: whether `smart-merge` escalated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated: Option<bool>,
}

/// `conflict-resolved`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConflictResolvedEvent {
    /// The key.
    pub key: String,
    /// The dotted path the conflict was about (see [`ConflictEvent::path`]).
    pub path: String,
    /// The kind of conflict.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The strategy that settled it.
    pub strategy: String,
    /// `client`, `server`, `merged` or `resolved`.
    pub outcome: &'static str,
    /// The value at `path` after it (`null`: absent).
    pub value: Option<Arc<Value>>,
}

/// One entry of `conflictResolver.getConflictHistory()`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConflictRecord {
    /// The conflict as it was reported.
    #[serde(flatten)]
    pub conflict: ConflictEvent,
    /// How it ended.
    pub outcome: &'static str,
    /// The key's value after it.
    pub value: Option<Arc<Value>>,
    /// When it ended, ms since the epoch.
    pub at: f64,
}

/// A serialisable description of an error (the host picks the Error class by `kind`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorInfo {
    /// JS class family (`validation`, `storage`, ...).
    pub kind: &'static str,
    /// Stable code (owned: the server's codes arrive over the wire).
    pub code: Cow<'static, str>,
    /// Message.
    pub message: String,
}

impl ErrorInfo {
    /// An error of `kind` with `code` and `message`.
    pub fn new(
        kind: ErrorKind,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.name(),
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<&CoreError> for ErrorInfo {
    fn from(error: &CoreError) -> Self {
        Self::new(error.kind, error.code, error.message.clone())
    }
}

/// One delivery the host must perform, in queue order.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "k")]
pub enum Dispatch {
    /// Call these subscribers, in the order of `ids`, each with its entry of `values`.
    #[serde(rename = "sub")]
    Subscribers {
        /// Subscription ids in dispatch order.
        ids: Vec<RegistrationId>,
        /// For each id, its index into `values`; empty when every id takes the first
        /// (the host reads one flat array of numbers: the common dispatch stays small).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        at: Vec<usize>,
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
