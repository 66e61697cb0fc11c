//! Tabs of a simulated client: following tabs run the real client core in the follower
//! role on the client's one disk; they make changes (an atomic batch that bumps the
//! client's `f` counter and appends a unique item to `flist`), exchange the real tab
//! messages with the leader, close, and take over when the leader crashes.

use serde_json::json;
use srvra_sync::core::instance::Role;
use srvra_sync::core::model::batch::parse_entries;
use srvra_sync::core::tabs::TabMessage;
use srvra_sync::core::{Engine, Instance};

use super::client::{config, SimClient, SimClock};

/// One following tab.
pub struct SimTab {
    pub id: String,
    pub instance: Instance,
}

/// A change a follower made: which tab, its change number, the item it appended.
#[derive(Debug, Clone)]
pub struct TabChange {
    pub tab: String,
    pub n: u64,
    pub item: String,
}

impl SimTab {
    /// A new tab of `client` on its disk (what the leader stored so far).
    pub fn open(client: &SimClient, id: &str, clock: &SimClock) -> Self {
        let mut engine = Engine::new(config(&client.name), &client.name, Box::new(clock.clone()));
        engine.set_secret(&format!("{}-secret-of-tab-{id}", client.name));
        let mut instance = Instance::new(engine, true);
        instance
            .engine_mut()
            .restore(client.disk.snapshot())
            .expect("restores");
        instance.follow(id);
        Self {
            id: id.to_owned(),
            instance,
        }
    }

    /// The follower's change number of the last change made here, and what the leader
    /// stored and the server acknowledged of them.
    pub fn progress(&self) -> (u64, u64, u64) {
        match self.instance.role() {
            Role::Follower(f) => (f.last(), f.persisted(), f.acknowledged()),
            _ => (0, 0, 0),
        }
    }

    /// One change: an atomic batch bumping `f{client}` and appending a unique item.
    pub fn change(&mut self, client: usize, serial: u64) -> Option<TabChange> {
        let item = format!("{}-{serial}", self.id);
        let entries = json!([
            { "key": format!("f{client}"), "op": "increment", "by": 1 },
            { "key": "flist", "op": "append", "value": item },
        ]);
        let drafts = parse_entries(entries).expect("valid batch");
        self.instance.mutate(|e| e.batch(drafts)).ok()?;
        let (n, _, _) = self.progress();
        Some(TabChange {
            tab: self.id.clone(),
            n,
            item,
        })
    }

    /// Whether the tab has nothing left to say and everything it made is acknowledged.
    pub fn quiet(&self) -> bool {
        let (last, _, acknowledged) = self.progress();
        acknowledged >= last
    }

    /// Messages it has for the other tabs.
    pub fn take_messages(&mut self) -> Vec<TabMessage> {
        self.instance.take_tab_messages()
    }
}
