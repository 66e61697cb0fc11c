//! The tab half of the client core: becoming the leader or a follower, taking over when
//! the leader is gone, and the messages between tabs (see [`crate::core::tabs`]).

use serde_json::Value;

use super::{Instance, Role};
use crate::core::conflict::Choice;
use crate::core::engine::Snapshot;
use crate::core::error::{CoreError, Result};
use crate::core::sync::conflicts::unknown_conflict;
use crate::core::sync::{OutboxLoad, SyncClient};
use crate::core::tabs::{conflicts_json, Follower, Leader, Settlement, TabMessage};

impl Instance {
    /// This tab leads: it will own the sync loop and the writes.
    pub fn lead(&mut self, tab: &str) {
        self.engine.set_journal(true);
        // The feed starts with the first follower's hello (which gets the whole state): a
        // tab alone pays nothing for what no one would read.
        self.engine.set_feed(false);
        self.role = Role::Leader(Leader::new(tab));
        self.set_presence_tab(tab);
        self.tell_visibility();
    }

    /// This tab follows the leading tab.
    pub fn follow(&mut self, tab: &str) {
        self.engine.set_journal(true);
        self.role = Role::Follower(Follower::new(tab));
        self.set_presence_tab(tab);
        self.presence_to_new_leader();
        self.tell_visibility();
        // Changes made before `ready` go to the leader like any later one.
        self.hand_over();
    }

    /// The role.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Whether this tab follows another (which does the storage writes).
    pub fn is_follower(&self) -> bool {
        matches!(self.role, Role::Follower(_))
    }

    /// `getStatistics()`: the engine's counters and this tab's part.
    pub fn statistics(&self) -> crate::core::state::stats::Stats {
        let mut stats = self.engine.statistics();
        stats.tab = match self.role {
            Role::Alone => "alone",
            Role::Leader(_) => "leader",
            Role::Follower(_) => "follower",
        };
        stats.url = self.sync.as_ref().and_then(|s| s.url()).map(str::to_owned);
        stats.storage = if self.persists() { "ok" } else { "unavailable" };
        stats
    }

    /// A follower takes over as leader (the leader closed or crashed): the state is
    /// reloaded from storage (what the old leader stored; subscribers see what differs),
    /// the sync loop starts on the stored outbox, and this tab's own changes the old
    /// leader had not stored are applied (once: the stored per-tab mark skips the rest).
    pub fn take_over(
        &mut self,
        snapshot: Snapshot,
        outbox: OutboxLoad,
        sync: Option<SyncClient>,
        online: bool,
    ) -> Result<()> {
        let Role::Follower(follower) = &self.role else {
            return Ok(());
        };
        let tab = follower.tab().to_owned();
        let kept = follower.unacknowledged();
        self.engine.reload(snapshot)?;
        // Changes recorded before the reload belong to the follower's past.
        drop(self.engine.take_operations());
        self.lead(&tab);
        if let Some(sync) = sync {
            self.start_sync(sync, outbox, online);
        }
        if let Some((first, ops)) = kept {
            self.tab_receive(TabMessage::Changes { tab, first, ops });
        }
        Ok(())
    }

    /// This tab became visible or hidden (a hidden leader hands over to a visible
    /// follower that claims the lead).
    pub fn set_visible(&mut self, visible: bool) {
        self.visible = visible;
        self.tell_visibility();
        if visible {
            // Back from the background (perhaps from sleep): check the socket now.
            if let Some(sync) = self.sync.as_mut() {
                sync.check_connection(&mut self.engine);
            }
        }
    }

    /// The role hears whether the page is visible (also after the role changed).
    fn tell_visibility(&mut self) {
        match &mut self.role {
            Role::Leader(leader) => leader.set_hidden(!self.visible),
            Role::Follower(follower) => follower.set_visible(self.visible),
            Role::Alone => {}
        }
    }

    /// Whether this tab leads, is hidden, and a visible follower claimed the lead.
    pub fn wants_step_down(&self) -> bool {
        matches!(&self.role, Role::Leader(leader) if leader.should_step_down())
    }

    /// Stops the sync loop of a leader that hands over (the socket closes; what is not
    /// written yet still has to be written before [`Instance::step_down`]).
    pub fn stop_leading(&mut self) {
        if let Some(sync) = self.sync.as_mut() {
            sync.shutdown(&mut self.engine);
        }
        self.collect();
    }

    /// The leader becomes a follower (after [`Instance::stop_leading`] and once nothing is
    /// left to write): its state stays; the next leader sends its stored changes.
    pub fn step_down(&mut self) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let tab = leader.tab().to_owned();
        self.sync = None;
        self.engine.set_feed(false);
        let last = self.engine.tab_mark(&tab);
        self.role = Role::Follower(Follower::resume(&tab, last));
        self.tell_visibility();
    }

    /// A message from another tab.
    pub fn tab_receive(&mut self, message: TabMessage) {
        match &mut self.role {
            Role::Leader(leader) => match message {
                TabMessage::Changes { tab, first, ops } => {
                    for error in leader.apply(&mut self.engine, &tab, first, ops) {
                        self.engine.report_error("tab", &error);
                    }
                    self.hand_over();
                }
                TabMessage::Hello { .. } => {
                    if !self.engine.feeding() {
                        self.engine.set_feed(true);
                    }
                    leader.hello(&self.engine);
                    for message in self.presence_for_followers(true) {
                        self.relay_to_followers(message);
                    }
                }
                TabMessage::SetPresence { tab, state } => self.presence_from_follower(&tab, state),
                TabMessage::Sync { .. } => drop(self.sync_now()),
                TabMessage::Claim { .. } => leader.claim(),
                TabMessage::Resolve { id, how } => {
                    let result = self.resolve_conflict(id, how);
                    // Two tabs resolving one conflict is a race, not an error: the first wins.
                    if let Err(error) = result {
                        if error.code != "UNKNOWN_CONFLICT" {
                            self.engine.report_error("tab", &error);
                        }
                    }
                }
                _ => {}
            },
            Role::Follower(follower) => {
                let new_leader = matches!(message, TabMessage::Leader { .. });
                follower.receive(&mut self.engine, message);
                if new_leader {
                    self.presence_to_new_leader();
                }
            }
            Role::Alone => {}
        }
        self.collect();
    }

    /// Queues a message for the followers (when this tab leads).
    fn relay_to_followers(&mut self, message: TabMessage) {
        if let Role::Leader(leader) = &mut self.role {
            leader.send(message);
        }
    }

    /// Messages for the other tabs.
    pub fn take_tab_messages(&mut self) -> Vec<TabMessage> {
        let persisted = self.persisted();
        match &mut self.role {
            Role::Leader(leader) => {
                if let Some(sync) = self.sync.as_mut() {
                    for (peers, full) in sync.take_presence_for_tabs() {
                        leader.send(TabMessage::Presence { peers, full });
                    }
                }
                leader.take_messages(&mut self.engine, self.sync.as_ref(), persisted)
            }
            Role::Follower(follower) => follower.take_outgoing(),
            Role::Alone => Vec::new(),
        }
    }

    /// `sync.status`: the sync loop's, or the leader's as a follower hears it.
    pub fn status_name(&self) -> Option<&str> {
        match (&self.role, self.sync.as_ref()) {
            (Role::Follower(follower), _) => Some(follower.status()),
            (_, Some(sync)) => Some(sync.status().name()),
            (_, None) => None,
        }
    }

    /// Whether `key` has changes the server has not acknowledged.
    pub fn has_pending(&self, key: &str) -> bool {
        match (&self.role, self.sync.as_ref()) {
            (Role::Follower(follower), _) => follower.has_pending(key),
            (_, Some(sync)) => sync.replica().has_pending(key),
            (_, None) => false,
        }
    }

    /// `conflict` payloads of the conflicts waiting for the app.
    pub fn pending_conflicts(&self) -> Vec<Value> {
        match (&self.role, self.sync.as_ref()) {
            (Role::Follower(follower), _) => follower.conflicts().to_vec(),
            (_, Some(sync)) => conflicts_json(&sync.pending_conflicts(&self.engine)),
            (_, None) => Vec::new(),
        }
    }

    /// Settles held conflict `id`: `resolve(value)`, or `resolveConflict({ strategy })`
    /// with a built-in strategy (`mine`, `theirs`, `last-write-wins`, `first-write-wins`,
    /// `smart-merge`). A follower hands it to the leader, which holds the conflict.
    /// Returns the replaced changes' sequences.
    pub fn resolve_conflict(&mut self, id: u64, how: Settlement) -> Result<Vec<u64>> {
        let choice = match &how {
            Settlement::Set(_) | Settlement::Delete => None,
            Settlement::Strategy(name) => Some(Choice::parse(name)?.ok_or_else(|| {
                CoreError::type_error(
                    "INVALID_STRATEGY",
                    format!("'{name}' is not a built-in strategy (custom strategies run in JS)"),
                )
            })?),
        };
        let result = match (&mut self.role, self.sync.as_mut(), how, choice) {
            (Role::Follower(follower), _, how, _) => {
                follower.resolve(id, how);
                Ok(Vec::new())
            }
            (_, Some(sync), _, Some(choice)) => {
                sync.resolve_conflict_with(&mut self.engine, id, choice)
            }
            (_, Some(sync), Settlement::Set(value), None) => {
                sync.resolve_conflict(&mut self.engine, id, Some(value))
            }
            (_, Some(sync), Settlement::Delete, None) => {
                sync.resolve_conflict(&mut self.engine, id, None)
            }
            _ => Err(unknown_conflict(id)),
        };
        self.collect();
        result
    }
}
