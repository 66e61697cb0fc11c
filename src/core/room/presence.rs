//! A room's presence, without I/O: each tab's ephemeral state, which session carries it,
//! and what to tell the room when it changes. Kept in memory only, bounded per state and
//! per room; a session that goes silent has its tabs hidden until it is heard again.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::core::error::{CoreError, Result};
use crate::core::model::bounds::value_size;
use crate::core::model::slot::Slot;
use crate::core::protocol::presence::{check_state, PresencePeer};

/// Bounds on a room's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceLimits {
    /// Largest state, in bytes as JSON.
    pub max_bytes: usize,
    /// Most tabs present in one room.
    pub max_peers: usize,
    /// Most tabs of one client present in one room (one connection once took every slot
    /// of a room, and everyone else got `PRESENCE_FULL`).
    pub max_tabs_per_client: usize,
}

impl Default for PresenceLimits {
    fn default() -> Self {
        Self {
            max_bytes: crate::core::protocol::presence::MAX_PRESENCE_BYTES,
            max_peers: 1000,
            max_tabs_per_client: 32,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    session: u64,
    user: Option<Arc<str>>,
    state: Arc<Value>,
    last_seen: f64,
    /// The session went silent: not shown until it is heard again.
    hidden: bool,
}

/// Every tab present in a room, by `(client, tab)`.
#[derive(Debug, Clone, Default)]
pub struct RoomPresence {
    entries: BTreeMap<(String, String), Entry>,
    limits: PresenceLimits,
    bytes: usize,
}

impl RoomPresence {
    /// No one present yet; states within `limits`.
    pub fn new(limits: PresenceLimits) -> Self {
        Self {
            entries: BTreeMap::new(),
            limits,
            bytes: 0,
        }
    }

    /// Tabs of `client` present (hidden ones included).
    fn tabs_of(&self, client: &str) -> usize {
        self.entries
            .range((client.to_owned(), String::new())..)
            .take_while(|((c, _), _)| c == client)
            .count()
    }

    /// Tabs present (hidden ones included), and the bytes of their states.
    pub fn size(&self) -> (usize, usize) {
        (self.entries.len(), self.bytes)
    }

    /// Sets (or, with `None`, clears) the presence of `client`'s `tab`, carried by
    /// `session` for `user`, at `now`. Returns the update to tell the room.
    pub fn set(
        &mut self,
        session: u64,
        client: &str,
        tab: &str,
        user: Option<&str>,
        state: Option<Arc<Value>>,
        now: f64,
    ) -> Result<PresencePeer> {
        let key = (client.to_owned(), tab.to_owned());
        let Some(state) = state else {
            self.remove(&key);
            return Ok(left(&key, user, now));
        };
        check_state(&state, self.limits.max_bytes)?;
        if tab.is_empty() || tab.len() > 64 {
            return Err(CoreError::validation(
                "INVALID_PRESENCE",
                "a tab id is 1 to 64 bytes",
            ));
        }
        let new = !self.entries.contains_key(&key);
        if new && self.tabs_of(client) >= self.limits.max_tabs_per_client {
            return Err(CoreError::validation(
                "PRESENCE_FULL",
                format!(
                    "this client already has {} tabs present in this room",
                    self.limits.max_tabs_per_client
                ),
            ));
        }
        if new && self.entries.len() >= self.limits.max_peers {
            return Err(CoreError::validation(
                "PRESENCE_FULL",
                format!(
                    "this room already has {} tabs present",
                    self.limits.max_peers
                ),
            ));
        }
        self.remove(&key);
        self.bytes += value_size(&state);
        let entry = Entry {
            session,
            user: user.map(Arc::from),
            state,
            last_seen: now,
            hidden: false,
        };
        let peer = shown(&key, &entry);
        self.entries.insert(key, entry);
        Ok(peer)
    }

    /// Every visible tab, for a joining session.
    pub fn all(&self) -> Vec<PresencePeer> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.hidden)
            .map(|(key, e)| shown(key, e))
            .collect()
    }

    /// `session` ended: its tabs leave. Returns the updates.
    pub fn end_session(&mut self, session: u64, now: f64) -> Vec<PresencePeer> {
        let gone: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, e)| e.session == session)
            .map(|(key, e)| (key.clone(), e.user.clone(), e.hidden))
            .collect();
        gone.into_iter()
            .filter_map(|(key, user, hidden)| {
                self.remove(&key);
                (!hidden).then(|| left(&key, user.as_deref(), now))
            })
            .collect()
    }

    /// `session` went silent (`hidden`) or was heard again: its tabs vanish from, or come
    /// back to, everyone's view. Returns the updates.
    pub fn set_hidden(&mut self, session: u64, hidden: bool, now: f64) -> Vec<PresencePeer> {
        self.entries
            .iter_mut()
            .filter(|(_, e)| e.session == session && e.hidden != hidden)
            .map(|(key, e)| {
                e.hidden = hidden;
                if hidden {
                    left(key, e.user.as_deref(), now)
                } else {
                    e.last_seen = now;
                    shown(key, e)
                }
            })
            .collect()
    }

    fn remove(&mut self, key: &(String, String)) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes = self.bytes.saturating_sub(value_size(&old.state));
        }
    }
}

fn shown(key: &(String, String), entry: &Entry) -> PresencePeer {
    PresencePeer {
        client_id: key.0.clone(),
        tab: key.1.clone(),
        user_id: entry.user.as_deref().map(str::to_owned),
        state: Slot(Some(Arc::clone(&entry.state))),
        last_seen: entry.last_seen,
    }
}

fn left(key: &(String, String), user: Option<&str>, now: f64) -> PresencePeer {
    PresencePeer {
        client_id: key.0.clone(),
        tab: key.1.clone(),
        user_id: user.map(str::to_owned),
        state: Slot::ABSENT,
        last_seen: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(v: Value) -> Option<Arc<Value>> {
        Some(Arc::new(v))
    }

    #[test]
    fn tabs_join_leave_and_hide_with_their_session() {
        let mut room = RoomPresence::new(PresenceLimits::default());
        room.set(1, "a", "t1", Some("ada"), state(json!({"x": 1})), 10.0)
            .unwrap();
        room.set(1, "a", "t2", Some("ada"), state(json!({"x": 2})), 10.0)
            .unwrap();
        room.set(2, "b", "t1", None, state(json!({"y": 1})), 10.0)
            .unwrap();
        assert_eq!(room.all().len(), 3);
        let hidden = room.set_hidden(1, true, 20.0);
        assert_eq!(hidden.len(), 2);
        assert!(hidden.iter().all(|p| p.state.is_absent()));
        assert_eq!(room.all().len(), 1);
        let back = room.set_hidden(1, false, 30.0);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].last_seen, 30.0);
        let gone = room.end_session(1, 40.0);
        assert_eq!(gone.len(), 2);
        assert_eq!(room.all().len(), 1);
        let cleared = room.set(2, "b", "t1", None, None, 50.0).unwrap();
        assert!(cleared.state.is_absent());
        assert_eq!(room.size(), (0, 0));
    }

    #[test]
    fn bad_states_and_full_rooms_are_refused_without_changing_anything() {
        let limits = PresenceLimits {
            max_bytes: 64,
            max_peers: 1,
            max_tabs_per_client: 32,
        };
        let mut room = RoomPresence::new(limits);
        let error = room
            .set(1, "a", "t", None, state(json!([1])), 0.0)
            .unwrap_err();
        assert_eq!(error.code, "INVALID_PRESENCE");
        let big = json!({ "s": "x".repeat(100) });
        assert_eq!(
            room.set(1, "a", "t", None, state(big), 0.0)
                .unwrap_err()
                .code,
            "PRESENCE_TOO_LARGE"
        );
        room.set(1, "a", "t", None, state(json!({})), 0.0).unwrap();
        assert_eq!(
            room.set(2, "b", "t", None, state(json!({})), 0.0)
                .unwrap_err()
                .code,
            "PRESENCE_FULL"
        );
        assert_eq!(room.all().len(), 1);
    }

    #[test]
    fn one_client_cannot_take_a_rooms_every_presence_slot() {
        let limits = PresenceLimits {
            max_bytes: 64,
            max_peers: 10,
            max_tabs_per_client: 3,
        };
        let mut room = RoomPresence::new(limits);
        for tab in ["t1", "t2", "t3"] {
            room.set(1, "greedy", tab, None, state(json!({})), 0.0)
                .unwrap();
        }
        let error = room
            .set(1, "greedy", "t4", None, state(json!({})), 0.0)
            .unwrap_err();
        assert_eq!(error.code, "PRESENCE_FULL");
        // Its own tabs update; another client still gets a slot.
        room.set(1, "greedy", "t1", None, state(json!({ "x": 1 })), 0.0)
            .unwrap();
        room.set(2, "honest", "t1", None, state(json!({})), 0.0)
            .unwrap();
        assert_eq!(room.size().0, 4);
    }
}
