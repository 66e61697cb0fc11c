//! Presence on the client (SPEC §10): what this client's tabs say (sent over the one
//! socket, throttled, last state wins, and said again after every reconnect) and what the
//! server reports of everyone else. Never stored.

use std::sync::Arc;

use serde_json::Value;

use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::{Payload, PresenceEvent};
use crate::core::engine::Engine;
use crate::core::model::slot::Slot;
use crate::core::protocol::presence::PresencePeer;

/// Everyone present as the server reported them, seen from one tab (sorted by client and
/// tab; a `Vec`, which measured smaller in the wasm than a map for the few tabs of a room).
#[derive(Debug, Clone, Default)]
pub struct PresenceView {
    peers: Vec<PresencePeer>,
}

fn order(peer: &PresencePeer, client: &str, tab: &str) -> std::cmp::Ordering {
    (peer.client_id.as_str(), peer.tab.as_str()).cmp(&(client, tab))
}

impl PresenceView {
    /// Takes in a `presence` message (`full`: everyone); whether anyone but tab `tab` of
    /// `client` (the one looking) changed.
    pub fn apply(&mut self, peers: Vec<PresencePeer>, full: bool, client: &str, tab: &str) -> bool {
        let mut changed = false;
        if full {
            changed = self
                .peers
                .iter()
                .any(|p| !(p.client_id == client && p.tab == tab));
            self.peers.clear();
        }
        for peer in peers {
            let own = peer.client_id == client && peer.tab == tab;
            let found = self
                .peers
                .binary_search_by(|p| order(p, &peer.client_id, &peer.tab));
            let moved = match (found, peer.state.is_absent()) {
                (Ok(at), true) => {
                    self.peers.remove(at);
                    true
                }
                (Err(_), true) => false,
                (Ok(at), false) => {
                    let moved = self.peers[at] != peer;
                    self.peers[at] = peer;
                    moved
                }
                (Err(at), false) => {
                    self.peers.insert(at, peer);
                    true
                }
            };
            changed |= moved && !own;
        }
        changed
    }

    /// Everyone but tab `tab` of `client` (this tab), in a stable order.
    pub fn others(&self, client: &str, tab: &str) -> Vec<PresencePeer> {
        self.peers
            .iter()
            .filter(|p| !(p.client_id == client && p.tab == tab))
            .cloned()
            .collect()
    }

    /// Everyone, as one full `presence` message (for a follower that just arrived).
    pub fn all(&self) -> Vec<PresencePeer> {
        self.peers.clone()
    }

    /// The connection is gone: nobody is known to be present any more.
    pub fn clear(&mut self) -> bool {
        let had = !self.peers.is_empty();
        self.peers.clear();
        had
    }

    /// Raises `presence` with the others as tab `tab` of `client` sees them.
    pub fn emit(&self, engine: &mut Engine, client: &str, tab: &str) {
        let others = self.others(client, tab);
        engine.emit(
            EventType::Presence,
            Payload::Presence(PresenceEvent { others }),
            None,
        );
    }
}

/// What the tabs this socket carries say, and what the server has not heard yet.
#[derive(Debug, Clone, Default)]
pub struct PresenceOut {
    states: Vec<(String, Arc<Value>)>,
    unsent: Vec<String>,
    /// A throttle period is running: updates wait for its end.
    pub throttled: bool,
}

impl PresenceOut {
    /// Tab `tab` says `state` (`None`: clears it); it goes out at the next send.
    pub fn set(&mut self, tab: &str, state: Option<Arc<Value>>) {
        self.states.retain(|(t, _)| t != tab);
        if let Some(state) = state {
            self.states.push((tab.to_owned(), state));
        }
        if !self.unsent.iter().any(|t| t == tab) {
            self.unsent.push(tab.to_owned());
        }
    }

    /// The state tab `tab` last said.
    pub fn get(&self, tab: &str) -> Option<Arc<Value>> {
        self.states
            .iter()
            .find(|(t, _)| t == tab)
            .map(|(_, state)| Arc::clone(state))
    }

    /// Whether something waits to be sent.
    pub fn has_unsent(&self) -> bool {
        !self.unsent.is_empty()
    }

    /// What to send now: each changed tab's latest state (absent: cleared).
    pub fn take_unsent(&mut self) -> Vec<(String, Slot)> {
        std::mem::take(&mut self.unsent)
            .into_iter()
            .map(|tab| {
                let state = Slot(self.get(&tab));
                (tab, state)
            })
            .collect()
    }

    /// A new connection: every tab's state is said again.
    pub fn resend_all(&mut self) {
        self.unsent = self.states.iter().map(|(tab, _)| tab.clone()).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn peer(client: &str, tab: &str, state: Option<Value>) -> PresencePeer {
        PresencePeer {
            client_id: client.into(),
            tab: tab.into(),
            user_id: None,
            state: Slot(state.map(Arc::new)),
            last_seen: 0.0,
        }
    }

    #[test]
    fn a_view_applies_full_and_partial_updates_and_hides_this_tab() {
        let mut view = PresenceView::default();
        let everyone = vec![
            peer("a", "t", Some(json!({}))),
            peer("b", "t", Some(json!({}))),
        ];
        assert!(view.apply(everyone, true, "a", "t"));
        assert_eq!(view.others("a", "t").len(), 1);
        // This tab's own echo is no change for it.
        let echo = vec![peer("a", "t", Some(json!({ "x": 1 })))];
        assert!(!view.apply(echo, false, "a", "t"));
        assert!(view.apply(vec![peer("b", "t", None)], false, "a", "t"));
        assert!(!view.apply(vec![peer("b", "t", None)], false, "a", "t"));
        assert_eq!(view.others("a", "t").len(), 0);
        assert_eq!(view.all().len(), 1);
    }

    #[test]
    fn the_latest_state_of_each_tab_is_sent_once_and_again_after_reconnecting() {
        let mut out = PresenceOut::default();
        out.set("t1", Some(Arc::new(json!({"x": 1}))));
        out.set("t1", Some(Arc::new(json!({"x": 2}))));
        out.set("t2", Some(Arc::new(json!({}))));
        out.set("t2", None);
        let sent = out.take_unsent();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].1, Slot::of(json!({"x": 2})));
        assert!(sent[1].1.is_absent());
        assert!(!out.has_unsent());
        out.resend_all();
        assert_eq!(out.take_unsent().len(), 1);
    }
}
