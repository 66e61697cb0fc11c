//! A following tab: its changes apply here at once and go to the leader; the leader's key
//! states replace this tab's, except for keys with changes the leader has not applied yet
//! (their state waits until it has, so a change never flickers back).

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;

use super::{KeyWrite, Settlement, TabMessage};
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::Payload;
use crate::core::engine::Recorded;
use crate::core::model::operation::Operation;
use crate::core::model::slot::Slot;
use crate::core::protocol::presence::PresencePeer;
use crate::core::sync::presence::PresenceView;
use crate::core::Engine;

/// The follower's side of the tab protocol.
#[derive(Debug)]
pub struct Follower {
    tab: String,
    next: u64,
    /// Changes not yet acknowledged, by number (resent to a new leader).
    kept: VecDeque<(u64, Operation)>,
    applied: u64,
    persisted: u64,
    acknowledged: u64,
    /// Per key, changes the leader has not applied yet.
    unapplied: FxHashMap<String, usize>,
    /// The leader's latest state of keys that still have unapplied changes.
    deferred: FxHashMap<String, KeyWrite>,
    status: String,
    /// The leader reported `synced` at least once since this tab followed it.
    synced_once: bool,
    conflicts: Vec<Value>,
    outgoing: Vec<TabMessage>,
    /// Whether this tab is visible, and whether the leader says it is hidden.
    visible: bool,
    leader_hidden: bool,
    /// A claim was sent to the current hidden leader.
    claimed: bool,
    /// Who is present, as the leader relays it.
    presence: PresenceView,
}

impl Follower {
    /// The follower `tab`; it asks the leader for the whole state.
    pub fn new(tab: &str) -> Self {
        Self {
            tab: tab.to_owned(),
            next: 1,
            kept: VecDeque::new(),
            applied: 0,
            persisted: 0,
            acknowledged: 0,
            unapplied: FxHashMap::default(),
            deferred: FxHashMap::default(),
            status: "initial".to_owned(),
            synced_once: false,
            conflicts: Vec::new(),
            outgoing: vec![TabMessage::Hello {
                tab: tab.to_owned(),
            }],
            visible: false,
            leader_hidden: false,
            claimed: false,
            presence: PresenceView::default(),
        }
    }

    /// A follower that continues tab `tab`'s numbering after change `last` (a leader that
    /// handed over: the stored mark of its tab must not make its next changes look
    /// applied already).
    pub fn resume(tab: &str, last: u64) -> Self {
        Self {
            next: last + 1,
            applied: last,
            persisted: last,
            acknowledged: last,
            ..Self::new(tab)
        }
    }

    /// This tab became visible or hidden.
    pub fn set_visible(&mut self, visible: bool) {
        self.visible = visible;
        self.claim_if_due();
    }

    /// A visible follower claims the lead from a hidden leader, once per leader.
    fn claim_if_due(&mut self) {
        if self.visible && self.leader_hidden && !self.claimed {
            self.claimed = true;
            self.outgoing.push(TabMessage::Claim {
                tab: self.tab.clone(),
            });
        }
    }

    /// This tab's id.
    pub fn tab(&self) -> &str {
        &self.tab
    }

    /// Everyone present but this tab, as the leader relays it.
    pub fn presence_others(&self, client: &str) -> Vec<PresencePeer> {
        self.presence.others(client, &self.tab)
    }

    /// Presence the leader relays: the view moves, and `presence` is raised if it changed.
    fn take_presence(&mut self, engine: &mut Engine, peers: Vec<PresencePeer>, full: bool) {
        let client = engine.client_id().to_owned();
        if self.presence.apply(peers, full, &client, &self.tab) {
            self.presence.emit(engine, &client, &self.tab);
        }
    }

    /// Sends this tab's presence state to the leader.
    pub fn set_presence(&mut self, state: Slot) {
        self.outgoing.push(TabMessage::SetPresence {
            tab: self.tab.clone(),
            state,
        });
    }

    /// The number of the last change made here (0: none).
    pub fn last(&self) -> u64 {
        self.next - 1
    }

    /// The last change number the leader stored.
    pub fn persisted(&self) -> u64 {
        self.persisted
    }

    /// The last change number the server acknowledged.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    /// Whether the leader has reported `synced` since this tab followed it (the first
    /// catch-up is applied there, and so here).
    pub fn synced_once(&self) -> bool {
        self.synced_once
    }

    /// `sync.status` as the leader reports it.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Conflicts waiting for the app, as the leader reports them.
    pub fn conflicts(&self) -> &[Value] {
        &self.conflicts
    }

    /// Whether `key` has changes the server has not acknowledged.
    pub fn has_pending(&self, key: &str) -> bool {
        self.kept.iter().any(|(_, op)| op.key == key)
    }

    /// The changes the server has not acknowledged: the number of the first, and all of
    /// them in order (`None`: there are none).
    pub fn unacknowledged(&self) -> Option<(u64, Vec<Operation>)> {
        let (first, _) = self.kept.front()?;
        Some((*first, self.kept.iter().map(|(_, op)| op.clone()).collect()))
    }

    /// Changes made here, to number and hand to the leader.
    pub fn record(&mut self, recorded: Vec<Recorded>) {
        if recorded.is_empty() {
            return;
        }
        let first = self.next;
        let ops: Vec<Operation> = recorded.into_iter().map(|r| r.op).collect();
        for op in &ops {
            *self.unapplied.entry(op.key.clone()).or_default() += 1;
            self.kept.push_back((self.next, op.clone()));
            self.next += 1;
        }
        self.outgoing.push(TabMessage::Changes {
            tab: self.tab.clone(),
            first,
            ops,
        });
    }

    /// `sync()`: asks the leader to send now; returns the change number to wait for.
    pub fn sync(&mut self) -> u64 {
        self.outgoing.push(TabMessage::Sync {
            tab: self.tab.clone(),
        });
        self.last()
    }

    /// Settles a held conflict: the leader holds it.
    pub fn resolve(&mut self, id: u64, how: Settlement) {
        self.outgoing.push(TabMessage::Resolve { id, how });
    }

    /// Messages for the leader.
    pub fn take_outgoing(&mut self) -> Vec<TabMessage> {
        std::mem::take(&mut self.outgoing)
    }

    /// A message from the leader.
    pub fn receive(&mut self, engine: &mut Engine, message: TabMessage) {
        match message {
            TabMessage::State {
                applied,
                writes,
                full,
            } => {
                if let Some((_, n)) = applied.iter().find(|(tab, _)| *tab == self.tab) {
                    self.mark_applied(*n);
                }
                self.apply_state(engine, writes, full);
            }
            TabMessage::Progress { tabs } => {
                if let Some(p) = tabs.into_iter().find(|p| p.tab == self.tab) {
                    self.persisted = self.persisted.max(p.persisted);
                    self.acknowledged = self.acknowledged.max(p.acknowledged);
                    let acknowledged = self.acknowledged;
                    self.kept.retain(|(n, _)| *n > acknowledged);
                }
            }
            TabMessage::Status {
                status,
                outbox,
                conflicts,
                hidden,
            } => {
                self.leader_hidden = hidden;
                self.claim_if_due();
                self.synced_once |= status == "synced";
                if status != self.status {
                    self.status = status;
                }
                let stats = engine.stats_mut();
                stats.outbox_length = outbox;
                stats.conflicts_pending = conflicts.len() as u64;
                self.conflicts = conflicts;
            }
            TabMessage::Presence { peers, full } => self.take_presence(engine, peers, full),
            TabMessage::Event(forwarded) => {
                if let Ok(event) = EventType::parse(&forwarded.event) {
                    engine.emit(
                        event,
                        Payload::Forwarded(forwarded.payload),
                        forwarded.detail,
                    );
                }
            }
            TabMessage::Leader { tab } if tab != self.tab => self.new_leader(),
            _ => {}
        }
    }

    /// A new leader: what it may not have stored is resent (it skips what it has), and the
    /// whole state is asked for again.
    fn new_leader(&mut self) {
        // A new leader may be hidden too: its status says so, and is claimed from again.
        self.claimed = false;
        self.leader_hidden = false;
        let persisted = self.persisted;
        self.applied = persisted;
        self.unapplied.clear();
        for (n, op) in &self.kept {
            if *n > persisted {
                *self.unapplied.entry(op.key.clone()).or_default() += 1;
            }
        }
        if let Some((first, ops)) = self.unacknowledged() {
            self.outgoing.push(TabMessage::Changes {
                tab: self.tab.clone(),
                first,
                ops,
            });
        }
        self.outgoing.push(TabMessage::Hello {
            tab: self.tab.clone(),
        });
    }

    /// The leader applied this tab's changes through `n`.
    fn mark_applied(&mut self, n: u64) {
        if n <= self.applied {
            return;
        }
        for (number, op) in &self.kept {
            if *number > self.applied && *number <= n {
                if let Some(count) = self.unapplied.get_mut(&op.key) {
                    *count -= 1;
                    if *count == 0 {
                        self.unapplied.remove(&op.key);
                    }
                }
            }
        }
        self.applied = n;
    }

    fn apply_state(&mut self, engine: &mut Engine, writes: Vec<KeyWrite>, full: bool) {
        let mut listed: FxHashSet<String> = FxHashSet::default();
        for write in writes {
            if full {
                listed.insert(write.key.clone());
            }
            if self.unapplied.contains_key(&write.key) {
                self.deferred.insert(write.key.clone(), write);
            } else {
                self.deferred.remove(&write.key);
                engine.apply_key_write(write);
            }
        }
        // Keys whose changes the leader has now applied, and that this state did not list.
        let ready: Vec<String> = self
            .deferred
            .keys()
            .filter(|key| !self.unapplied.contains_key(*key))
            .cloned()
            .collect();
        for key in ready {
            if let Some(write) = self.deferred.remove(&key) {
                engine.apply_key_write(write);
            }
        }
        if full {
            // Keys this tab has that the leader has never known: gone.
            let gone: Vec<String> = engine
                .live_keys()
                .into_iter()
                .filter(|key| !listed.contains(key) && !self.unapplied.contains_key(key))
                .collect();
            for key in gone {
                let version = engine.version_of(&key) + 1;
                let at = engine.now_ms();
                let by: Arc<str> = engine.client_id().into();
                engine.apply_key_write(KeyWrite {
                    key,
                    value: Slot::ABSENT,
                    version,
                    at,
                    by,
                });
            }
        }
    }
}
