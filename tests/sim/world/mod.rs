//! The scheduler: one queue of timed events, a network of ordered connections that can
//! break (cleanly, or half-open so the server still receives what was in flight), client
//! partitions, offline periods, client crashes (keeping only flushed storage), server
//! restarts and log compaction, and a random workload of every operation.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use srvra_sync::core::model::operation::OpId;
use srvra_sync::core::sync::Timer;

use super::client::{Disk, SimClient, SimClock};
use super::server::SimServer;
use super::workload;

mod faults;
mod hostile;
mod ids;
mod shared;
mod tabs;

#[derive(Debug, Clone)]
enum Event {
    Work,
    /// The hostile client sends one message.
    Hostile,
    Fault,
    Arrive {
        conn: u64,
    },
    Opened {
        conn: u64,
    },
    ToServer {
        conn: u64,
        frame: Vec<u8>,
    },
    ToClient {
        conn: u64,
        frame: Vec<u8>,
    },
    ClientClosed {
        conn: u64,
        code: u16,
    },
    ServerDrop {
        conn: u64,
    },
    Timer {
        client: usize,
        life: u64,
        timer: Timer,
        generation: u64,
    },
    Flush {
        client: usize,
        life: u64,
    },
    Heal {
        client: usize,
    },
    Online {
        client: usize,
    },
    ServerUp,
    /// A server instance hears that another one committed.
    Notify {
        instance: usize,
    },
    /// A message between two tabs of one client.
    Tab {
        client: usize,
        to: String,
        message: Box<srvra_sync::core::tabs::TabMessage>,
    },
}

struct Conn {
    client: usize,
    life: u64,
    local: u64,
    client_side: bool,
    server_side: bool,
    last_to_server: u64,
    last_to_client: u64,
}

/// Knobs of one run.
pub struct Plan {
    pub clients: usize,
    pub ops: usize,
    pub keys: usize,
    /// Tabs per client (1: no tab sharing).
    pub tabs: usize,
    /// Server instances sharing the stored room (connections alternate between them).
    pub instances: usize,
}

/// One simulated world.
pub struct World {
    rng: StdRng,
    clock: SimClock,
    now: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: Vec<Option<Event>>,
    next_event: u64,
    pub server: SimServer,
    server_up: bool,
    pub clients: Vec<SimClient>,
    lives: Vec<u64>,
    partitioned: Vec<bool>,
    online: Vec<bool>,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    timer_gen: HashMap<(usize, Timer), u64>,
    flush_pending: Vec<bool>,
    ops_left: usize,
    keys: usize,
    faults: bool,
    pub log: Vec<String>,
    /// Last delivery time per (client, sender tab, receiver tab): tab messages keep order.
    tab_last: HashMap<(usize, String, String), u64>,
    /// The hostile client of this run (half the seeds have one).
    mallory: hostile::Mallory,
    /// Every change id clients sent, for the oracle.
    pub ids: ids::IssuedIds,
    /// Changes sent before their write was stored, then lost from the outbox by a crash.
    pub sent_then_lost: usize,
}

impl World {
    pub fn new(seed: u64, plan: &Plan) -> Self {
        let clock = SimClock::default();
        clock.0.set(1_000_000.0);
        let mut rng = StdRng::seed_from_u64(seed);
        let clients = (0..plan.clients)
            .map(|i| {
                let name = format!("c{i}");
                let tab = (plan.tabs > 1).then(|| format!("{name}t0"));
                let mut client =
                    SimClient::boot(&name, Disk::default(), &clock, rng.random(), true, tab);
                for _ in 1..plan.tabs {
                    client.open_tab(&clock);
                }
                client
            })
            .collect();
        let mut world = World {
            rng,
            clock,
            now: 0,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            next_event: 0,
            server: SimServer::new(plan.instances),
            server_up: true,
            clients,
            lives: vec![0; plan.clients],
            partitioned: vec![false; plan.clients],
            online: vec![true; plan.clients],
            conns: HashMap::new(),
            next_conn: 0,
            timer_gen: HashMap::new(),
            flush_pending: vec![false; plan.clients],
            ops_left: plan.ops,
            keys: plan.keys,
            faults: true,
            log: Vec::new(),
            tab_last: HashMap::new(),
            mallory: hostile::Mallory::default(),
            ids: ids::IssuedIds::default(),
            sent_then_lost: 0,
        };
        for i in 0..plan.clients {
            world.collect(i);
        }
        world.at(1, Event::Work);
        world.at(5, Event::Fault);
        if seed % 2 == 0 {
            world.at(3, Event::Hostile);
        }
        world
    }

    fn at(&mut self, delay: u64, event: Event) {
        let index = self.events.len();
        self.events.push(Some(event));
        self.next_event += 1;
        self.queue
            .push(Reverse((self.now + delay, self.next_event, index)));
    }

    fn note(&mut self, what: String) {
        if self.log.len() < 400 {
            self.log.push(format!("t={} {what}", self.now));
        }
    }

    /// Runs the workload with faults, then heals everything and runs until every client
    /// is quiet. Returns `Err` if the world does not settle.
    pub fn run(&mut self) -> Result<(), String> {
        let mut steps = 0u64;
        loop {
            steps += 1;
            if steps > 2_000_000 {
                let states: Vec<String> = self
                    .clients
                    .iter()
                    .map(|c| {
                        let tabs: Vec<_> = c
                            .followers
                            .iter()
                            .map(|t| (t.id.clone(), t.progress()))
                            .collect();
                        format!(
                            "{} {:?} outbox {} write {} leader {:?} tabs {tabs:?}",
                            c.name,
                            c.sync().status(),
                            c.sync().replica().len(),
                            c.instance.wants_write(),
                            c.tab
                        )
                    })
                    .collect();
                return Err(format!(
                    "did not settle within 2,000,000 events: {states:?}"
                ));
            }
            if self.ops_left == 0 && self.faults {
                self.faults = false;
                self.heal_all();
            }
            if !self.faults {
                for client in 0..self.clients.len() {
                    self.resolve_conflicts(client);
                }
                if self.quiet() {
                    return Ok(());
                }
            }
            let Some(Reverse((time, _, index))) = self.queue.pop() else {
                return Err("no events left but not settled".into());
            };
            self.now = time;
            self.clock.0.set(1_000_000.0 + time as f64);
            if let Some(event) = self.events[index].take() {
                self.handle(event);
            }
        }
    }

    fn quiet(&self) -> bool {
        let traffic = self.queue.iter().any(|Reverse((_, _, i))| {
            matches!(
                self.events[*i],
                Some(
                    Event::ToServer { .. }
                        | Event::ToClient { .. }
                        | Event::Arrive { .. }
                        | Event::Opened { .. }
                        | Event::Tab { .. }
                        | Event::Notify { .. }
                )
            )
        });
        !traffic && self.clients.iter().all(SimClient::quiet)
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Work => {
                if self.ops_left > 0 {
                    self.ops_left -= 1;
                    let client = self.rng.random_range(0..self.clients.len());
                    if self.ops_left == 0 {
                        // Every client (and tab) ends its work with a batch.
                        self.final_batches();
                    } else if !self.clients[client].followers.is_empty()
                        && self.rng.random_bool(0.3)
                    {
                        self.tab_change(client);
                    } else {
                        workload::change(
                            &mut self.clients[client],
                            client,
                            &mut self.rng,
                            self.keys,
                        );
                    }
                    self.collect(client);
                    if self.rng.random_bool(0.2) {
                        self.resolve_conflicts(client);
                    }
                    let delay = self.rng.random_range(1..40);
                    self.at(delay, Event::Work);
                }
            }
            Event::Hostile => self.hostile_step(),
            Event::Fault => {
                if self.faults {
                    self.fault();
                    let delay = self.rng.random_range(20..400);
                    self.at(delay, Event::Fault);
                }
            }
            Event::Arrive { conn } => {
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                let client = c.client;
                if !c.client_side {
                    return;
                }
                if !self.server_up || self.partitioned[client] {
                    self.close_both(conn, 1006);
                    return;
                }
                self.server.accept(conn);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.server_side = true;
                }
                let delay = self.delay();
                self.at(delay, Event::Opened { conn });
            }
            Event::Opened { conn } => {
                let Some((client, local)) = self.listening(conn) else {
                    return;
                };
                let sim = &mut self.clients[client];
                sim.with_sync(|s, e| s.opened(e, local, None));
                self.collect(client);
            }
            Event::ToServer { conn, frame } => {
                if !self.conns.get(&conn).is_some_and(|c| c.server_side) || !self.server.has(conn) {
                    return;
                }
                if let Err(e) = self.server_receive(conn, &frame) {
                    self.note(format!("server refused a frame on {conn}: {e}"));
                    self.close_both(conn, 4000);
                }
            }
            Event::ToClient { conn, frame } => {
                let Some((client, local)) = self.listening(conn) else {
                    return;
                };
                let sim = &mut self.clients[client];
                sim.with_sync(|s, e| s.received(e, local, &frame));
                self.collect(client);
            }
            Event::ClientClosed { conn, code } => {
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                if c.life != self.lives[c.client] {
                    return;
                }
                let (client, local) = (c.client, c.local);
                let sim = &mut self.clients[client];
                sim.with_sync(|s, e| s.closed(e, local, code, "simulated"));
                self.collect(client);
            }
            Event::ServerDrop { conn } => {
                self.server.drop_conn(conn);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.server_side = false;
                }
            }
            Event::Timer {
                client,
                life,
                timer,
                generation,
            } => {
                if life != self.lives[client]
                    || self.timer_gen.get(&(client, timer)) != Some(&generation)
                {
                    return;
                }
                let sim = &mut self.clients[client];
                sim.with_sync(|s, e| s.timer(e, timer));
                self.collect(client);
            }
            Event::Flush { client, life } => {
                if life != self.lives[client] {
                    return;
                }
                self.flush_pending[client] = false;
                self.clients[client].flush();
                self.collect(client);
            }
            Event::Heal { client } => self.partitioned[client] = false,
            Event::Online { client } => {
                if !self.online[client] {
                    self.online[client] = true;
                    let c = &mut self.clients[client];
                    c.with_sync(|s, e| s.set_online(e, true));
                    self.collect(client);
                }
            }
            Event::ServerUp => self.server_up = true,
            Event::Notify { instance } => {
                if let Err(e) = self.notified(instance) {
                    self.note(format!("instance {instance} could not catch up: {e}"));
                }
            }
            Event::Tab {
                client,
                to,
                message,
            } => self.deliver_tab_message(client, &to, *message),
        }
    }

    /// The client and its connection id, if the client still listens on `conn`.
    fn listening(&self, conn: u64) -> Option<(usize, u64)> {
        let c = self.conns.get(&conn)?;
        (c.client_side && c.life == self.lives[c.client]).then_some((c.client, c.local))
    }

    fn delay(&mut self) -> u64 {
        if self.rng.random_bool(0.05) {
            self.rng.random_range(50..300)
        } else {
            self.rng.random_range(1..15)
        }
    }

    fn deliver_to_client(&mut self, conn: u64, frame: Vec<u8>) {
        let delay = self.delay();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let at = (self.now + delay).max(c.last_to_client);
        c.last_to_client = at;
        let rel = at - self.now;
        self.at(rel, Event::ToClient { conn, frame });
    }

    /// Turns what client `i`'s loop asked for into events.
    fn collect(&mut self, i: usize) {
        self.collect_tab_messages(i);
        // The end of the client's task: what its reserved sequences allow leaves now, as
        // the browser binding sends it, before the write is stored.
        self.clients[i].instance.send_ready();
        let requests = std::mem::take(&mut *self.clients[i].requests.borrow_mut());
        let life = self.lives[i];
        // The open connection of this client life (at most one).
        let current = self
            .conns
            .iter()
            .filter(|(_, c)| c.client == i && c.life == life && c.client_side)
            .map(|(id, _)| *id)
            .max();
        for frame in requests.sends {
            self.ids.observe(&frame);
            let Some(conn) = current else { continue };
            let delay = self.delay();
            let c = self.conns.get_mut(&conn).expect("conn");
            let at = (self.now + delay).max(c.last_to_server);
            c.last_to_server = at;
            let rel = at - self.now;
            self.at(rel, Event::ToServer { conn, frame });
        }
        if requests.close {
            if let Some(conn) = current {
                // Closed by the client: what was sent still arrives, then the server sees
                // the close.
                let c = self.conns.get_mut(&conn).expect("conn");
                c.client_side = false;
                let at = c.last_to_server.max(self.now) + 1;
                let rel = at - self.now;
                self.at(rel, Event::ServerDrop { conn });
            }
        }
        for local in requests.opens {
            self.next_conn += 1;
            let conn = self.next_conn;
            self.conns.insert(
                conn,
                Conn {
                    client: i,
                    life,
                    local,
                    client_side: true,
                    server_side: false,
                    last_to_server: 0,
                    last_to_client: 0,
                },
            );
            let delay = self.delay();
            self.at(delay, Event::Arrive { conn });
        }
        for (timer, ms) in requests.timers {
            let generation = self.timer_gen.entry((i, timer)).or_default();
            *generation += 1;
            let generation = *generation;
            if let Some(ms) = ms {
                self.at(
                    ms,
                    Event::Timer {
                        client: i,
                        life,
                        timer,
                        generation,
                    },
                );
            }
        }
        if self.clients[i].instance.wants_write() && !self.flush_pending[i] {
            self.flush_pending[i] = true;
            // A write takes a few ms, and sometimes far longer (a busy disk): changes
            // with reserved sequences are sent meanwhile and may be lost by a crash.
            let delay = if self.rng.random_bool(0.2) {
                self.rng.random_range(20..200)
            } else {
                self.rng.random_range(0..6)
            };
            self.at(delay, Event::Flush { client: i, life });
        }
    }

    /// Closes a connection on both sides: in-flight frames are lost.
    fn close_both(&mut self, conn: u64, code: u16) {
        self.server.drop_conn(conn);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.server_side = false;
        if c.client_side {
            c.client_side = false;
            let delay = self.rng.random_range(1..20);
            self.at(delay, Event::ClientClosed { conn, code });
        }
    }

    fn live_conns(&self, client: usize) -> Vec<u64> {
        let mut conns: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.client == client && (c.client_side || c.server_side))
            .map(|(id, _)| *id)
            .collect();
        conns.sort_unstable();
        conns
    }

    /// The server's state: key -> (value, version).
    pub fn server_state(&self) -> BTreeMap<String, (Value, u64)> {
        self.server
            .room
            .keys
            .iter()
            .filter(|(_, k)| k.value.is_some())
            .map(|(key, k)| {
                (
                    key.clone(),
                    (
                        k.value.as_deref().cloned().unwrap_or(Value::Null),
                        k.version,
                    ),
                )
            })
            .collect()
    }

    /// Changes made by every client and still durable (not lost to a crash).
    pub fn made(&self) -> Vec<OpId> {
        self.clients
            .iter()
            .flat_map(|c| c.made.iter().cloned())
            .collect()
    }
}
