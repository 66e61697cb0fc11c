//! The faults the scheduler injects (breaks, partitions, offline periods, crashes, server
//! restarts, compaction), healing them, and the app settling held conflicts.

use rand::Rng;

use super::{Event, World};
use crate::sim::client::{Disk, SimClient};
use crate::sim::workload;

impl World {
    pub(super) fn heal_all(&mut self) {
        self.note("heal all".into());
        if !self.server_up {
            self.server_up = true;
        }
        for i in 0..self.clients.len() {
            self.partitioned[i] = false;
            if !self.online[i] {
                self.online[i] = true;
                let c = &mut self.clients[i];
                c.with_sync(|s, e| s.set_online(e, true));
                self.collect(i);
            }
        }
    }

    pub(super) fn fault(&mut self) {
        let client = self.rng.random_range(0..self.clients.len());
        match self.rng.random_range(0..100) {
            0..=24 => {
                for conn in self.live_conns(client) {
                    self.note(format!("break conn {conn} of c{client}"));
                    self.close_both(conn, 1006);
                }
            }
            25..=39 => {
                // Half-open: the client gives up, the server keeps receiving for a while.
                for conn in self.live_conns(client) {
                    let Some(c) = self.conns.get_mut(&conn) else {
                        continue;
                    };
                    if c.client_side {
                        c.client_side = false;
                        self.note(format!("half-open conn {conn} of c{client}"));
                        let delay = self.rng.random_range(1..10);
                        self.at(delay, Event::ClientClosed { conn, code: 1006 });
                        let later = self.rng.random_range(50..800);
                        self.at(later, Event::ServerDrop { conn });
                    }
                }
            }
            40..=49 => {
                self.note(format!("partition c{client}"));
                self.partitioned[client] = true;
                for conn in self.live_conns(client) {
                    self.close_both(conn, 1006);
                }
                let heal = self.rng.random_range(100..3000);
                self.at(heal, Event::Heal { client });
            }
            50..=59 => {
                if self.online[client] {
                    self.note(format!("offline c{client}"));
                    self.online[client] = false;
                    let c = &mut self.clients[client];
                    c.with_sync(|s, e| s.set_online(e, false));
                    self.collect(client);
                    let back = self.rng.random_range(100..3000);
                    self.at(back, Event::Online { client });
                }
            }
            60..=74 => self.crash(client),
            75..=84 => {
                self.note("server restart".into());
                // Sorted: the order of the random draws must not depend on hashing.
                let mut conns = self.server.restart();
                conns.extend(self.conns.keys().copied());
                conns.sort_unstable();
                conns.dedup();
                for conn in conns {
                    self.close_both(conn, 1006);
                }
                self.server_up = false;
                let up = self.rng.random_range(10..1500);
                self.at(up, Event::ServerUp);
            }
            _ => {
                let retain = self.rng.random_range(0..30);
                self.note(format!("compact, retain {retain}"));
                self.server.compact(retain);
            }
        }
    }

    /// The app settles every conflict `client` holds (see [`workload::resolve`]).
    pub(super) fn resolve_conflicts(&mut self, client: usize) {
        for note in workload::resolve(&mut self.clients[client], &mut self.rng) {
            self.note(format!("c{client} {note}"));
        }
        self.collect(client);
    }

    fn crash(&mut self, client: usize) {
        if !self.clients[client].followers.is_empty() {
            return self.crash_tab(client);
        }
        self.note(format!("crash c{client}"));
        for conn in self.live_conns(client) {
            self.close_both(conn, 1001);
        }
        self.lives[client] += 1;
        self.flush_pending[client] = false;
        let name = self.clients[client].name.clone();
        let seed: u64 = self.rng.random();
        let online = self.online[client];
        let placeholder = SimClient::boot(&name, Disk::default(), &self.clock, seed, false, None);
        self.count_lost_sends(client);
        let old = std::mem::replace(&mut self.clients[client], placeholder);
        let (disk, kept) = old.crash();
        let mut fresh = SimClient::boot(&name, disk, &self.clock, seed, online, None);
        fresh.made = kept;
        fresh.durable = fresh.made.last().map_or(0, |id| id.seq);
        self.clients[client] = fresh;
        self.collect(client);
    }

    /// Adds to the tally the changes `client` sent that its crash is about to lose from
    /// its outbox (sent before their write was stored).
    fn count_lost_sends(&mut self, client: usize) {
        let client = &self.clients[client];
        let stored = client.durable.max(client.disk.last_seq());
        self.sent_then_lost += self.ids.sent_unstored(&client.made, stored);
    }

    /// A tab of a client whose tabs share it goes away: a follower closes (its unstored
    /// changes are gone), or the leader crashes and the first follower takes over from
    /// the disk. A new tab opens either way.
    fn crash_tab(&mut self, client: usize) {
        let followers = self.clients[client].followers.len();
        if self.rng.random_bool(0.3) {
            return self.switch_tabs(client);
        }
        if self.rng.random_bool(0.5) {
            let index = self.rng.random_range(0..followers);
            let id = self.clients[client].followers[index].id.clone();
            self.note(format!("c{client} closes follower tab {id}"));
            self.clients[client].close_tab(index);
        } else {
            self.note(format!(
                "c{client} leader tab crashes; a follower takes over"
            ));
            let (seed, online) = self.end_leader_loop(client, 1001);
            self.count_lost_sends(client);
            self.clients[client].take_over(seed, online);
            let led = self.clients[client].tab.clone();
            self.note(format!("c{client} now led by {led:?}"));
        }
        let clock = self.clock.clone();
        self.clients[client].open_tab(&clock);
        self.collect(client);
    }
}
