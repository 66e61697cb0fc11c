//! Tabs in the world: messages between the tabs of one client (ordered per pair of tabs,
//! lost when a tab is gone), followers' changes, and the final batches.

use rand::Rng;
use serde_json::json;
use srvra_sync::core::model::batch::parse_entries;
use srvra_sync::core::tabs::TabMessage;

use super::{Event, World};

impl World {
    /// Takes the messages every tab of client `i` has for the others and schedules them.
    pub(super) fn collect_tab_messages(&mut self, i: usize) {
        let client = &mut self.clients[i];
        let Some(leader) = client.tab.clone() else {
            return;
        };
        let mut outgoing: Vec<(String, Vec<TabMessage>)> =
            vec![(leader.clone(), client.instance.take_tab_messages())];
        for tab in &mut client.followers {
            outgoing.push((tab.id.clone(), tab.take_messages()));
        }
        let mut tabs: Vec<String> = vec![leader];
        tabs.extend(client.followers.iter().map(|t| t.id.clone()));
        for (from, messages) in outgoing {
            for message in messages {
                for to in tabs.iter().filter(|t| **t != from) {
                    let delay = self.rng.random_range(0..4);
                    let last = self
                        .tab_last
                        .entry((i, from.clone(), to.clone()))
                        .or_default();
                    let at = (self.now + delay).max(*last);
                    *last = at;
                    let rel = at - self.now;
                    self.at(
                        rel,
                        Event::Tab {
                            client: i,
                            to: to.clone(),
                            message: Box::new(message.clone()),
                        },
                    );
                }
            }
        }
    }

    /// A tab message arrives, if its tab is still there. It crosses the channel as the
    /// browser's does, encoded and decoded (a `null` value once came back absent).
    pub(super) fn deliver_tab_message(&mut self, i: usize, to: &str, message: TabMessage) {
        let Some(message) = TabMessage::decode(&message.encode()) else {
            panic!("a tab message does not decode: {message:?}");
        };
        let client = &mut self.clients[i];
        if client.tab.as_deref() == Some(to) {
            client.instance.tab_receive(message);
            if client.instance.wants_step_down() {
                self.hand_over(i);
                return;
            }
        } else if let Some(tab) = client.followers.iter_mut().find(|t| t.id == to) {
            tab.instance.tab_receive(message);
        } else {
            return;
        }
        self.collect(i);
    }

    /// The leading tab of client `i` goes to the background and a follower comes to the
    /// front: the follower claims the lead (through the real tab messages).
    pub(super) fn switch_tabs(&mut self, i: usize) {
        let client = &mut self.clients[i];
        let index = self.rng.random_range(0..client.followers.len());
        client.instance.set_visible(false);
        for (k, tab) in client.followers.iter_mut().enumerate() {
            tab.instance.set_visible(k == index);
        }
        let id = client.followers[index].id.clone();
        self.note(format!("c{i} leader hidden, follower {id} visible"));
        self.collect(i);
    }

    /// The hidden leader of client `i` hands over to a visible follower.
    fn hand_over(&mut self, i: usize) {
        self.note(format!("c{i} hidden leader hands over"));
        // What the old loop asked for (its close) first; its timers and socket then end.
        self.collect(i);
        let (seed, online) = self.end_leader_loop(i, 1000);
        let old = self.clients[i].tab.clone();
        self.clients[i].hand_over(seed, online);
        let new = self.clients[i].tab.clone();
        self.note(format!("c{i} lead {old:?} -> {new:?}"));
        self.collect(i);
    }

    /// The leading tab of client `i` stops (crash or hand-over): its connections close with
    /// `code`, its timers and late events are ignored. Returns a seed and the online state
    /// for the next leader's loop.
    pub(super) fn end_leader_loop(&mut self, i: usize, code: u16) -> (u64, bool) {
        for conn in self.live_conns(i) {
            self.close_both(conn, code);
        }
        self.lives[i] += 1;
        self.flush_pending[i] = false;
        (self.rng.random(), self.online[i])
    }

    /// A change in one of client `i`'s following tabs.
    pub(super) fn tab_change(&mut self, i: usize) {
        let index = self.rng.random_range(0..self.clients[i].followers.len());
        self.tab_change_at(i, index);
    }

    fn tab_change_at(&mut self, i: usize, index: usize) {
        let client = &mut self.clients[i];
        client.serial += 1;
        let serial = client.serial;
        if let Some(change) = client.followers[index].change(i, serial) {
            self.note(format!("c{i} tab {} change {}", change.tab, change.n));
            self.clients[i].tab_changes.push(change);
        }
    }

    /// Every client and tab ends its work with an atomic batch.
    pub(super) fn final_batches(&mut self) {
        for i in 0..self.clients.len() {
            let entries = json!([
                { "key": format!("n{i}"), "op": "increment", "by": 1 },
                { "key": "list", "op": "append", "value": format!("{i}-last") },
            ]);
            self.clients[i].change(|e| parse_entries(entries).is_ok_and(|d| e.batch(d).is_ok()));
            for index in 0..self.clients[i].followers.len() {
                self.tab_change_at(i, index);
            }
            self.collect(i);
        }
    }
}
