//! Protocol messages. Every message is a JSON object with exactly one entry: the
//! message type and its fields (externally tagged, which decodes without buffering).

use serde::{Deserialize, Serialize};

use crate::core::conflict::{ConflictReport, Resolution};
use crate::core::model::slot::Slot;

use crate::core::model::operation::{OpId, Operation};
use crate::core::protocol::presence::PresencePeer;

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientMessage {
    /// First message on a connection.
    #[serde(rename_all = "camelCase")]
    Hello {
        /// Protocol version the client speaks.
        protocol: u32,
        /// The client's stable id.
        client_id: String,
        /// Room to join.
        room: String,
        /// Last server position the client has applied (0: none).
        position: u64,
        /// Credential, if the server needs one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// Catch up by a snapshot of the room's state, not by changes (a client whose
        /// confirmed state diverged asks for this).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        snapshot: bool,
        /// The client's `heartbeatInterval + heartbeatTimeout`, ms: its presence vanishes
        /// when nothing came from it for that long.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heartbeat: Option<u64>,
        /// The secret stored with the client id: the server binds the id to the first
        /// secret it sees, and refuses the id with another secret or without one, so no
        /// one else can speak (and skip sequences) for this client, also without JWT.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
    /// Changes to apply, in order; `atomic` ones are applied all or none.
    Changes {
        /// The operations, at most the server's `maxOps`.
        ops: Vec<Operation>,
        /// Whether the ops form one atomic batch.
        #[serde(default)]
        atomic: bool,
    },
    /// Liveness check; the server answers `pong` with the same nonce.
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// A tab's presence state (absent: cleared). Never stored.
    Presence {
        /// The tab (each tab of a client has its own presence).
        tab: String,
        /// The state, a JSON object.
        #[serde(default, skip_serializing_if = "Slot::is_absent")]
        state: Slot,
    },
}

impl ClientMessage {
    /// A `hello` of this protocol version for `client_id` joining `room` from `position`,
    /// with no token, secret or heartbeat (set them on the value): what tools and tests
    /// send; the SDK's loop fills every field.
    pub fn hello(client_id: &str, room: &str, position: u64) -> Self {
        Self::Hello {
            protocol: u32::from(crate::core::protocol::PROTOCOL_VERSION),
            client_id: client_id.to_owned(),
            room: room.to_owned(),
            position,
            token: None,
            snapshot: false,
            heartbeat: None,
            secret: None,
        }
    }
}

/// One accepted change with its place in the room's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Committed {
    /// Position in the room's order (1, 2, ...).
    pub position: u64,
    /// The change.
    pub op: Operation,
    /// How the server settled the change's conflict, if it was in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

/// A key's state in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// The key.
    pub key: String,
    /// Its value; absent when deleted (JSON `null` is a value).
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub value: Slot,
    /// Its version.
    pub version: u64,
}

/// A change the server could not apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// Its id.
    pub id: OpId,
    /// Stable code (e.g. `TYPE_MISMATCH`).
    pub code: String,
    /// Explanation.
    pub message: String,
    /// The conflict its author has to settle (code `CONFLICT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Box<ConflictReport>>,
}

fn default_max_ops() -> u64 {
    1000
}

fn default_max_frame() -> u64 {
    1024 * 1024
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerMessage {
    /// Answer to `hello`.
    #[serde(rename_all = "camelCase")]
    Welcome {
        /// Protocol version in use.
        protocol: u32,
        /// The client id the server recorded.
        client_id: String,
        /// The room joined.
        room: String,
        /// The room's current position.
        position: u64,
        /// Highest change sequence of this client the server has processed (accepted or
        /// rejected); changes up to it must not be resent.
        #[serde(default)]
        acknowledged: u64,
        /// Most operations the server takes in one `changes` message.
        #[serde(default = "default_max_ops")]
        max_ops: u64,
        /// Largest frame the server accepts, in bytes.
        #[serde(default = "default_max_frame")]
        max_frame: u64,
    },
    /// Answer to `changes`, after everything accepted was persisted. `acks` lists accepted
    /// ids with their positions (a resent id gets the position it was first accepted at,
    /// or 0 once that part of the log was compacted); `rejected` lists changes that could
    /// not apply (an atomic message is rejected whole). Every id of the message appears in
    /// exactly one of the two lists.
    Ack {
        /// Accepted ids and their positions.
        acks: Vec<(OpId, u64)>,
        /// Changes that could not apply.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rejected: Vec<Rejected>,
        /// How conflicts among the accepted changes were settled.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resolved: Vec<(OpId, Resolution)>,
    },
    /// Changes accepted from other clients, in order.
    Broadcast {
        /// The changes.
        changes: Vec<Committed>,
    },
    /// Changes since the client's position; `done` on the last part.
    #[serde(rename = "catch-up")]
    CatchUp {
        /// The changes, in order.
        changes: Vec<Committed>,
        /// Whether this is the last part.
        done: bool,
    },
    /// The room's full state at `position` (sent when the log before the client's position
    /// was compacted away).
    Snapshot {
        /// Position the snapshot reflects.
        position: u64,
        /// Every key.
        entries: Vec<SnapshotEntry>,
        /// Whether this is the last part.
        done: bool,
    },
    /// Answer to `ping`.
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// Presence of the room's tabs: every one (`full`, on joining) or those that changed
    /// (a peer without `state` left).
    Presence {
        /// The tabs.
        peers: Vec<PresencePeer>,
        /// Whether `peers` is everyone present.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        full: bool,
    },
    /// Something was wrong; `fatal` errors are followed by a close with `close_code`.
    #[serde(rename_all = "camelCase")]
    Error {
        /// Stable code (see the close code table).
        code: String,
        /// Explanation.
        message: String,
        /// Whether the server closes the connection.
        fatal: bool,
        /// The WebSocket close code that follows a fatal error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        close_code: Option<u16>,
    },
}
