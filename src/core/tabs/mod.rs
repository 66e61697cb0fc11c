//! Tabs of one app that share one client (README "Tabs"): pages of one origin with the
//! same database and room. One tab leads (it holds a Web Lock in the browser): it owns the
//! sync loop, the socket and every storage write. The others follow: they apply their
//! changes at once (optimistically), hand them to the leader, and show the leader's state.
//!
//! Tabs talk in [`TabMessage`]s (a BroadcastChannel in the browser; the simulation carries
//! them itself). The leader gives every tab's changes ids from the client's one sequence,
//! so ids stay unique across tabs and reloads, and stores per tab the last change it
//! applied with the state, so changes a tab resends to a new leader apply once.
//!
//! A visible tab is preferred as leader: a hidden leader hands over when a visible
//! follower claims the lead (a background tab's timers are throttled and it may be
//! frozen). The lock then goes to the next tab in line; a hidden one that gets it is
//! claimed from again, so the lead reaches a visible tab.

mod follower;
mod leader;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::core::engine::{Forwarded, KeyWrite};
use crate::core::model::json;
use crate::core::model::operation::Operation;
use crate::core::model::slot::Slot;
use crate::core::protocol::presence::PresencePeer;
pub use follower::Follower;
pub use leader::Leader;

/// How far one tab's changes got in the leader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabProgress {
    /// The tab.
    pub tab: String,
    /// Last change number stored (durable).
    pub persisted: u64,
    /// Last change number the server acknowledged (or that waits on the app's decision
    /// about a conflict).
    pub acknowledged: u64,
}

/// A message between tabs of one client, externally tagged (`{"changes": {...}}`): it
/// decodes without buffering. Internally tagged, it cost a buffering decoder and a second
/// decoder of every type inside (30 KB of the wasm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TabMessage {
    /// A follower started (or saw a new leader): it wants the whole state.
    Hello {
        /// The follower.
        tab: String,
    },
    /// A follower's changes, numbered per tab from 1, in order; `first` numbers `ops[0]`.
    Changes {
        /// The follower.
        tab: String,
        /// Number of the first change.
        first: u64,
        /// The changes, as the follower's engine recorded them.
        ops: Vec<Operation>,
    },
    /// `sync()` in a follower: send everything now.
    Sync {
        /// The follower.
        tab: String,
    },
    /// A follower settles a held conflict (the leader holds it).
    Resolve {
        /// The conflict.
        id: u64,
        /// How.
        how: Settlement,
    },
    /// A tab became the leader: followers resend what it has not stored and ask for state.
    Leader {
        /// The new leader.
        tab: String,
    },
    /// Key states from the leader, after applying followers' changes through `applied`.
    /// `full`: the whole state (keys not listed are absent).
    State {
        /// `(tab, last change number applied)` that changed since the last `state`.
        applied: Vec<(String, u64)>,
        /// The keys.
        writes: Vec<KeyWrite>,
        /// Whether `writes` is every key.
        full: bool,
    },
    /// How far followers' changes got (stored, acknowledged).
    Progress {
        /// One entry per tab that moved.
        tabs: Vec<TabProgress>,
    },
    /// The leader's sync status and counters.
    Status {
        /// `sync.status`.
        status: String,
        /// Changes waiting in the outbox.
        outbox: u64,
        /// `conflict` payloads of conflicts waiting for the app.
        conflicts: Vec<Value>,
        /// Whether the leading tab is hidden (a visible follower then claims the lead).
        #[serde(default)]
        hidden: bool,
    },
    /// A visible follower asks a hidden leader to hand the lead over.
    Claim {
        /// The follower.
        tab: String,
    },
    /// A sync event raised in the leader.
    Event(Forwarded),
    /// A follower's presence state (absent: cleared), for the leader to send.
    SetPresence {
        /// The follower.
        tab: String,
        /// Its state.
        #[serde(default, skip_serializing_if = "Slot::is_absent")]
        state: Slot,
    },
    /// Presence as the server reported it to the leader (`full`: everyone).
    Presence {
        /// The tabs that changed, or everyone.
        peers: Vec<PresencePeer>,
        /// Whether `peers` is everyone.
        full: bool,
    },
}

impl TabMessage {
    /// The message as the tabs' channel carries it (JSON text).
    pub fn encode(&self) -> String {
        // Serialising these plain types cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A message read back from the channel; `None` for one this version cannot read.
    pub fn decode(text: &str) -> Option<Self> {
        crate::core::model::json::decode::<TabMessage>(text.as_bytes()).ok()
    }
}

/// A new tab id: 16 hex digits from two random numbers in `[0, 1)`.
pub fn tab_id(mut random: impl FnMut() -> f64) -> String {
    let mut part = || (random() * 2f64.powi(32)) as u32;
    format!("t{:08x}{:08x}", part(), part())
}

/// Conflict payloads as they travel between tabs (JSON).
pub fn conflicts_json(conflicts: &[crate::core::dispatch::events::ConflictEvent]) -> Vec<Value> {
    conflicts.iter().map(json::to_value).collect()
}

/// How the app settles a held conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Settlement {
    /// `resolve(value)`: the key takes this value (JSON `null` included).
    Set(Value),
    /// `resolve(undefined)`: the key is deleted.
    Delete,
    /// `resolveConflict({ strategy })` with a built-in strategy, by name.
    Strategy(String),
}
