//! `sync.presence` (SPEC §10): this tab's presence state and who else is present. A tab
//! alone or leading says it over its own socket; a follower hands it to the leader, and
//! says it again to every new leader. Never stored.

use std::sync::Arc;

use serde_json::Value;

use super::{Instance, Role};
use crate::core::error::Result;
use crate::core::model::slot::Slot;
use crate::core::protocol::presence::{check_state, PresencePeer, MAX_PRESENCE_BYTES};
use crate::core::tabs::TabMessage;

impl Instance {
    /// `presence.set(state)`: a JSON object, or `None` (`null`) to clear it.
    /// `INVALID_PRESENCE` (a `TypeError`) or `PRESENCE_TOO_LARGE`; nothing changes then.
    pub fn presence_set(&mut self, state: Option<Value>) -> Result<()> {
        if let Some(state) = &state {
            check_state(state, MAX_PRESENCE_BYTES)?;
        }
        let state = state.map(Arc::new);
        self.presence_mine = state.clone();
        let tab = self.presence_tab.clone();
        match &mut self.role {
            Role::Follower(follower) => follower.set_presence(Slot(state)),
            Role::Alone | Role::Leader(_) => {
                if let Some(sync) = self.sync.as_mut() {
                    sync.set_presence(&mut self.engine, &tab, state);
                }
            }
        }
        self.collect();
        Ok(())
    }

    /// `presence.get()`: this tab's state.
    pub fn presence_get(&self) -> Option<Arc<Value>> {
        self.presence_mine.clone()
    }

    /// `presence.others()`: every other tab present (this client's other tabs included).
    pub fn presence_others(&self) -> Vec<PresencePeer> {
        let client = self.engine.client_id();
        match &self.role {
            Role::Follower(follower) => follower.presence_others(client),
            Role::Alone | Role::Leader(_) => self
                .sync
                .as_ref()
                .map(|sync| sync.presence_others(client))
                .unwrap_or_default(),
        }
    }

    /// This tab's id for presence (set when it leads or follows).
    pub(super) fn set_presence_tab(&mut self, tab: &str) {
        self.presence_tab = tab.to_owned();
        if let Some(sync) = self.sync.as_mut() {
            sync.set_presence_tab(tab);
        }
    }

    /// The sync loop starts (or this tab took over): it says this tab's state.
    pub(super) fn presence_to_sync(&mut self) {
        let tab = self.presence_tab.clone();
        let state = self.presence_mine.clone();
        if let Some(sync) = self.sync.as_mut() {
            sync.set_presence_tab(&tab);
            if state.is_some() {
                sync.set_presence(&mut self.engine, &tab, state);
            }
        }
    }

    /// The leader's part: a follower's state goes out over the socket.
    pub(super) fn presence_from_follower(&mut self, tab: &str, state: Slot) {
        if let Some(sync) = self.sync.as_mut() {
            sync.set_presence(&mut self.engine, tab, state.0);
        }
    }

    /// Presence messages for the followers: what the server said since the last call,
    /// and everyone for a follower that just said hello.
    pub(super) fn presence_for_followers(&mut self, hello: bool) -> Vec<TabMessage> {
        let Some(sync) = self.sync.as_mut() else {
            return Vec::new();
        };
        sync.relay_presence();
        let mut messages: Vec<TabMessage> = sync
            .take_presence_for_tabs()
            .into_iter()
            .map(|(peers, full)| TabMessage::Presence { peers, full })
            .collect();
        if hello {
            messages.push(TabMessage::Presence {
                peers: sync.presence_all(),
                full: true,
            });
        }
        messages
    }

    /// A follower heard of a new leader: its state goes to it again.
    pub(super) fn presence_to_new_leader(&mut self) {
        if let (Role::Follower(follower), Some(state)) = (&mut self.role, &self.presence_mine) {
            follower.set_presence(Slot(Some(Arc::clone(state))));
        }
    }
}
