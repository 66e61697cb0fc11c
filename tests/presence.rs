//! Presence in the client core: a client alone (no follower tabs) applies the server's
//! presence and keeps nothing to relay, however many updates arrive.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::json;
use srvra_sync::core::config::Config;
use srvra_sync::core::model::slot::Slot;
use srvra_sync::core::protocol::presence::PresencePeer;
use srvra_sync::core::protocol::{encode, ServerMessage};
use srvra_sync::core::sync::{Timer, Timers, Transport};

mod common;

#[derive(Clone, Default)]
struct Opened(Rc<RefCell<Vec<u64>>>);

impl Transport for Opened {
    fn open(&mut self, id: u64, _url: &str) {
        self.0.borrow_mut().push(id);
    }
    fn send(&mut self, _frame: Vec<u8>) {}
    fn close(&mut self, _code: u16, _reason: &str) {}
}

impl Timers for Opened {
    fn start(&mut self, _timer: Timer, _ms: u64) {}
    fn cancel(&mut self, _timer: Timer) {}
}

#[test]
fn a_client_alone_applies_presence_and_keeps_nothing_for_follower_tabs() {
    let config = Config::parse(&json!({ "url": "ws://s/sync", "clientId": "me" })).unwrap();
    let wire = Opened::default();
    let mut instance = common::networked_instance(config, wire.clone());
    let id = wire.0.borrow()[0];
    let welcome = common::welcome(0);
    instance.with_sync(|sync, engine| {
        sync.opened(engine, id, None);
        sync.received(engine, id, &encode(&welcome, None));
        for x in 0..1000 {
            let peer = PresencePeer {
                client_id: "other".into(),
                tab: "t".into(),
                user_id: None,
                state: Slot(Some(Arc::new(json!({ "cursor": x })))),
                last_seen: 0.0,
            };
            let update = ServerMessage::Presence {
                peers: vec![peer],
                full: false,
            };
            sync.received(engine, id, &encode(&update, None));
        }
    });
    assert_eq!(instance.presence_others().len(), 1);
    let kept = instance.with_sync(|sync, _| sync.take_presence_for_tabs().len());
    assert_eq!(
        kept,
        Some(0),
        "nothing queued for follower tabs that do not exist"
    );
}
