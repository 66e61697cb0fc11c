//! A simulated SDK instance: the real client core (`Instance`: engine, sync loop, write
//! bookkeeping), the same one the browser binding drives, with I/O that records what the
//! loop asked for (the world turns it into events) and storage that keeps only what a
//! write stored, like IndexedDB across a crash.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::{json, Value};
use srvra_sync::core::clock::Clock;
use srvra_sync::core::config::Config;
use srvra_sync::core::model::operation::OpId;
use srvra_sync::core::sync::{Io, MemoryStorage, SyncClient, Timer, Timers, Transport};
use srvra_sync::core::{CoreError, Engine, Instance};

use super::tabs::{SimTab, TabChange};

/// The simulation's clock, shared by every engine.
#[derive(Clone, Default)]
pub struct SimClock(pub Rc<Cell<f64>>);

impl Clock for SimClock {
    fn now_ms(&self) -> f64 {
        self.0.get()
    }
}

/// What the loop asked for since the world last looked.
#[derive(Default)]
pub struct Requests {
    pub opens: Vec<u64>,
    pub sends: Vec<Vec<u8>>,
    pub close: bool,
    pub timers: Vec<(Timer, Option<u64>)>,
}

type Shared = Rc<RefCell<Requests>>;

struct SimTransport(Shared);

impl Transport for SimTransport {
    fn open(&mut self, id: u64, _url: &str) {
        self.0.borrow_mut().opens.push(id);
    }
    fn send(&mut self, frame: Vec<u8>) {
        self.0.borrow_mut().sends.push(frame);
    }
    fn close(&mut self, _code: u16, _reason: &str) {
        self.0.borrow_mut().close = true;
    }
}

struct SimTimers(Shared);

impl Timers for SimTimers {
    fn start(&mut self, timer: Timer, ms: u64) {
        self.0.borrow_mut().timers.push((timer, Some(ms)));
    }
    fn cancel(&mut self, timer: Timer) {
        self.0.borrow_mut().timers.push((timer, None));
    }
}

/// What survives a crash: the last flushed state cache and outbox.
pub type Disk = MemoryStorage;

/// One SDK instance.
pub struct SimClient {
    pub name: String,
    pub instance: Instance,
    pub requests: Shared,
    pub disk: Disk,
    /// Changes made and not lost to a crash, in order.
    pub made: Vec<OpId>,
    /// Highest sequence flushed.
    pub durable: u64,
    /// The leading tab's id, when the client's tabs share it.
    pub tab: Option<String>,
    /// The following tabs.
    pub followers: Vec<SimTab>,
    /// Every change a follower made.
    pub tab_changes: Vec<TabChange>,
    /// The last change number stored, of tabs that closed or took over.
    pub tab_persisted: BTreeMap<String, u64>,
    /// Tabs opened so far (for ids) and follower changes made (for unique items).
    pub serial: u64,
}

/// The merge rules every simulated client sets (`k0.b`: manual, scoped to that path; other
/// paths of `k0` and other keys: last-write-wins).
pub const RULES: [(&str, &str); 5] = [
    ("k0.b", "manual"),
    ("k1", "first-write-wins"),
    ("k2", "smart-merge"),
    ("k3", "manual"),
    ("k3.a", "last-write-wins"),
];

/// A sync loop for client `name` whose I/O requests go to `requests`.
fn sync_client(name: &str, requests: &Shared, seed: u64) -> SyncClient {
    let mut state = seed | 1;
    let io = Io {
        transport: Box::new(SimTransport(Rc::clone(requests))),
        timers: Box::new(SimTimers(Rc::clone(requests))),
        random: Box::new(move || {
            // xorshift: deterministic jitter per client.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        }),
    };
    let mut sync = SyncClient::new(config(name), io);
    for (pattern, strategy) in RULES {
        sync.set_merge_rule(pattern, strategy).expect("valid rule");
    }
    sync
}

/// The config every simulated client uses.
pub fn config(name: &str) -> Config {
    Config::parse(&json!({
        "url": "ws://sim/sync",
        "clientId": name,
        "heartbeatInterval": 1000,
        "heartbeatTimeout": 1500,
        "retryAttempts": 3,
        "backoff": { "initialDelay": 20, "maxDelay": 800, "factor": 2, "jitter": true },
        "historySize": 3,
        "batchSize": 7,
        "compression": { "enabled": true, "threshold": 128 },
    }))
    .expect("valid config")
}

impl SimClient {
    /// Starts an instance on `disk` (empty for a new client); `tab` makes it the leading
    /// tab of tabs that share the client.
    pub fn boot(
        name: &str,
        disk: Disk,
        clock: &SimClock,
        seed: u64,
        online: bool,
        tab: Option<String>,
    ) -> Self {
        let mut engine = Engine::new(config(name), name, Box::new(clock.clone()));
        // A fresh secret each boot, as the browser draws one: the stored one must win.
        engine.set_secret(&format!("{name}-secret-{seed}"));
        let mut instance = Instance::new(engine, true);
        let snapshot = disk.snapshot();
        instance.engine_mut().restore(snapshot).expect("restores");
        if let Some(tab) = &tab {
            instance.lead(tab);
        }
        let requests: Shared = Rc::default();
        let sync = sync_client(name, &requests, seed);
        instance.start_sync(sync, disk.outbox(), online);
        Self {
            name: name.to_owned(),
            instance,
            requests,
            disk,
            made: Vec::new(),
            durable: 0,
            tab,
            followers: Vec::new(),
            tab_changes: Vec::new(),
            tab_persisted: BTreeMap::new(),
            serial: 0,
        }
    }

    /// Opens a following tab.
    pub fn open_tab(&mut self, clock: &SimClock) {
        self.serial += 1;
        let id = format!("{}t{}", self.name, self.serial);
        let tab = SimTab::open(self, &id, clock);
        self.followers.push(tab);
    }

    /// Follower `index` closes (or crashes): what the leader had not stored of its
    /// changes is gone with it.
    pub fn close_tab(&mut self, index: usize) {
        let tab = self.followers.remove(index);
        let (_, persisted, _) = tab.progress();
        self.tab_persisted.insert(tab.id, persisted);
    }

    /// The leading tab crashed: what it had not written is gone, and the first follower
    /// takes over from the disk with a new sync loop.
    pub fn take_over(&mut self, seed: u64, online: bool) {
        let durable = self.durable.max(self.disk.last_seq());
        self.made.retain(|id| id.seq <= durable);
        self.durable = durable;
        self.promote_first_follower(seed, online);
    }

    /// The first follower (first in line for the lock) takes over from the disk with a new
    /// sync loop; returns the instance and id of the tab that led.
    fn promote_first_follower(&mut self, seed: u64, online: bool) -> (Instance, Option<String>) {
        let next = self.followers.remove(0);
        let (_, persisted, _) = next.progress();
        self.tab_persisted.insert(next.id.clone(), persisted);
        self.requests = Rc::default();
        let sync = sync_client(&self.name, &self.requests, seed);
        let mut instance = next.instance;
        instance
            .take_over(self.disk.snapshot(), self.disk.outbox(), Some(sync), online)
            .expect("takes over");
        let old = std::mem::replace(&mut self.instance, instance);
        (old, self.tab.replace(next.id))
    }

    /// The sync loop.
    pub fn sync(&self) -> &SyncClient {
        self.instance.sync().expect("started")
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.instance.engine()
    }

    /// Runs `f` on the sync loop (an I/O report).
    pub fn with_sync(&mut self, f: impl FnOnce(&mut SyncClient, &mut Engine)) {
        self.instance.with_sync(f);
    }

    /// Runs a local change through the client core, as the binding does for every
    /// mutation (single or batch); the changes it recorded count as made.
    pub fn change(&mut self, f: impl FnOnce(&mut Engine) -> bool) {
        let before = self.instance.engine().next_seq();
        let _ = self.instance.mutate(|e| {
            if f(e) {
                Ok(())
            } else {
                Err(CoreError::validation("SIM", "the change did not apply"))
            }
        });
        let after = self.instance.engine().next_seq();
        let client: std::sync::Arc<str> = self.name.as_str().into();
        self.made.extend((before..after).map(|seq| OpId {
            client: client.clone(),
            seq,
        }));
    }

    /// Settles held conflict `id` with `value` (`None`: delete), as the app's
    /// `resolve(value)` would; the resubmitted change counts as made.
    pub fn resolve(&mut self, id: u64, value: Option<Value>) {
        let before = self.sync().replica().last_seq();
        let result = self
            .instance
            .with_sync(|sync, engine| sync.resolve_conflict(engine, id, value))
            .expect("started");
        let after = self.sync().replica().last_seq();
        if let Ok(replaced) = &result {
            self.made.retain(|m| !replaced.contains(&m.seq));
        }
        if result.is_ok() && after > before {
            self.made.push(OpId {
                client: self.name.as_str().into(),
                seq: after,
            });
        }
    }

    /// The leading tab hands over to the first follower (it was hidden and a visible one
    /// claimed the lead): it stops its loop, writes everything, and follows; the follower
    /// takes over from the disk.
    pub fn hand_over(&mut self, seed: u64, online: bool) {
        self.instance.stop_leading();
        while let Some(write) = self.instance.take_write() {
            self.disk.write(&write);
            self.durable = self.durable.max(write.upto_seq());
            self.instance.written(&write);
        }
        self.instance.step_down();
        let (stepped, old) = self.promote_first_follower(seed, online);
        self.followers.push(SimTab {
            id: old.expect("a leading tab"),
            instance: stepped,
        });
    }

    /// Performs the core's next write, like one IndexedDB transaction, and reports it.
    pub fn flush(&mut self) {
        if let Some(write) = self.instance.take_write() {
            self.disk.write(&write);
            self.durable = self.durable.max(write.upto_seq());
            self.instance.written(&write);
        }
    }

    /// Crash: everything not flushed is gone, including changes never made durable.
    pub fn crash(self) -> (Disk, Vec<OpId>) {
        let durable = self.durable.max(self.disk.last_seq());
        let kept = self
            .made
            .into_iter()
            .filter(|id| id.seq <= durable)
            .collect();
        (self.disk, kept)
    }

    /// Whether the client is caught up and has nothing left to send or store.
    pub fn quiet(&self) -> bool {
        self.sync().status() == srvra_sync::core::sync::Status::Synced
            && self.sync().replica().is_empty()
            && !self.instance.wants_write()
            && self.followers.iter().all(SimTab::quiet)
    }

    /// Every key with its value and version (deleted keys as null).
    pub fn state(&self) -> BTreeMap<String, (Value, u64)> {
        state_of(self.engine())
    }
}

/// Every key of `engine` with its value and version.
pub fn state_of(engine: &Engine) -> BTreeMap<String, (Value, u64)> {
    engine
        .live_keys()
        .into_iter()
        .map(|k| {
            let v = engine
                .value_of(&k)
                .map(|v| (**v).clone())
                .unwrap_or(Value::Null);
            let version = engine.version_of(&k);
            (k, (v, version))
        })
        .collect()
}
