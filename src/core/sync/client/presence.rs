//! The sync loop's part in presence: this socket's tabs' states go out throttled (the
//! last one wins) once the server welcomed the client, and again after every reconnect;
//! the server's `presence` messages update the view, raise `presence`, and are kept for
//! the follower tabs.

use std::sync::Arc;

use serde_json::Value;

use super::{Phase, SyncClient};
use crate::core::protocol::presence::PresencePeer;
use crate::core::protocol::ClientMessage;
use crate::core::sync::io::Timer;
use crate::core::Engine;

impl SyncClient {
    /// This tab's id, which its own presence is said under.
    pub fn set_presence_tab(&mut self, tab: &str) {
        self.presence_tab = tab.to_owned();
    }

    /// Tab `tab` (this one or a follower) says `state` (`None` clears it).
    pub fn set_presence(&mut self, engine: &mut Engine, tab: &str, state: Option<Arc<Value>>) {
        self.presence_out.set(tab, state);
        self.flush_presence(engine);
    }

    /// What tab `tab` last said.
    pub fn presence_of(&self, tab: &str) -> Option<Arc<Value>> {
        self.presence_out.get(tab)
    }

    /// Everyone present but this tab.
    pub fn presence_others(&self, client: &str) -> Vec<PresencePeer> {
        self.presence.others(client, &self.presence_tab)
    }

    /// Everyone present, for a follower that asks.
    pub fn presence_all(&self) -> Vec<PresencePeer> {
        self.presence.all()
    }

    /// Keep presence messages for follower tabs (this tab leads and has followers).
    pub fn relay_presence(&mut self) {
        self.relay_presence = true;
    }

    /// Presence messages the follower tabs have not been given yet.
    pub fn take_presence_for_tabs(&mut self) -> Vec<(Vec<PresencePeer>, bool)> {
        std::mem::take(&mut self.presence_for_tabs)
    }

    /// Sends what changed, unless a throttle period runs or the server has not welcomed
    /// this connection yet; then starts a throttle period.
    pub(super) fn flush_presence(&mut self, engine: &mut Engine) {
        let welcomed = self
            .connection
            .as_ref()
            .is_some_and(|c| matches!(c.phase, Phase::CatchingUp | Phase::Live));
        if !welcomed || self.presence_out.throttled || !self.presence_out.has_unsent() {
            return;
        }
        for (tab, state) in self.presence_out.take_unsent() {
            self.send(engine, &ClientMessage::Presence { tab, state });
        }
        if self.config.presence_throttle > 0 {
            self.presence_out.throttled = true;
            self.io
                .timers
                .start(Timer::Presence, self.config.presence_throttle);
        }
    }

    /// The server welcomed a new connection: every tab's state is said again.
    pub(super) fn presence_welcomed(&mut self, engine: &mut Engine) {
        self.presence_out.resend_all();
        self.presence_out.throttled = false;
        self.io.timers.cancel(Timer::Presence);
        self.flush_presence(engine);
    }

    /// A `presence` message from the server.
    pub(super) fn on_presence(
        &mut self,
        engine: &mut Engine,
        peers: Vec<PresencePeer>,
        full: bool,
    ) {
        if self.relay_presence {
            self.presence_for_tabs.push((peers.clone(), full));
        }
        let client = engine.client_id().to_owned();
        if self
            .presence
            .apply(peers, full, &client, &self.presence_tab)
        {
            self.presence.emit(engine, &client, &self.presence_tab);
        }
    }

    /// The connection is gone: nobody is known present until the next welcome.
    pub(super) fn presence_gone(&mut self, engine: &mut Engine) {
        self.io.timers.cancel(Timer::Presence);
        self.presence_out.throttled = false;
        if self.presence.clear() {
            if self.relay_presence {
                self.presence_for_tabs.push((Vec::new(), true));
            }
            let client = engine.client_id().to_owned();
            self.presence.emit(engine, &client, &self.presence_tab);
        }
    }
}
