//! `url` as an array (SPEC §12): the client connects to the first URL, moves to the next
//! on every failure (after the same backoff), wraps around, and reports the URL it uses in
//! `getStatistics().url`. Driven through the client core with a recording transport.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::json;
use srvra_sync::core::config::Config;
use srvra_sync::core::protocol::encode;
use srvra_sync::core::sync::{Timer, Timers, Transport};
use srvra_sync::core::Instance;

mod common;

#[derive(Clone, Default)]
struct Recorder(Rc<RefCell<Vec<(u64, String)>>>);

impl Transport for Recorder {
    fn open(&mut self, id: u64, url: &str) {
        self.0.borrow_mut().push((id, url.to_owned()));
    }
    fn send(&mut self, _frame: Vec<u8>) {}
    fn close(&mut self, _code: u16, _reason: &str) {}
}

impl Timers for Recorder {
    fn start(&mut self, _timer: Timer, _ms: u64) {}
    fn cancel(&mut self, _timer: Timer) {}
}

fn client(url: serde_json::Value) -> (Instance, Recorder) {
    let config = Config::parse(&json!({ "url": url, "clientId": "me" })).unwrap();
    let wire = Recorder::default();
    (common::networked_instance(config, wire.clone()), wire)
}

/// The newest connection attempt fails (or, once open, drops); the retry timer fires.
fn fail_and_retry(instance: &mut Instance, wire: &Recorder) {
    let (id, _) = wire.0.borrow().last().cloned().unwrap();
    instance.with_sync(|sync, engine| {
        sync.closed(engine, id, 1006, "gone");
        sync.timer(engine, Timer::Retry);
    });
}

fn urls(wire: &Recorder) -> Vec<String> {
    wire.0.borrow().iter().map(|(_, url)| url.clone()).collect()
}

#[test]
fn a_failed_connection_moves_to_the_next_url_and_wraps_around() {
    let (mut instance, wire) = client(json!(["ws://a/sync", "ws://b/sync", "ws://c/sync"]));
    assert_eq!(instance.statistics().url.as_deref(), Some("ws://a/sync"));
    for _ in 0..3 {
        fail_and_retry(&mut instance, &wire);
    }
    assert_eq!(
        urls(&wire),
        ["ws://a/sync", "ws://b/sync", "ws://c/sync", "ws://a/sync"]
    );
    assert_eq!(instance.statistics().url.as_deref(), Some("ws://a/sync"));
}

#[test]
fn a_working_connection_that_drops_also_moves_on() {
    let (mut instance, wire) = client(json!(["ws://a/sync", "ws://b/sync"]));
    let (id, _) = wire.0.borrow()[0].clone();
    instance.with_sync(|sync, engine| {
        sync.opened(engine, id, None);
        sync.received(engine, id, &encode(&common::welcome(0), None));
    });
    fail_and_retry(&mut instance, &wire);
    assert_eq!(urls(&wire), ["ws://a/sync", "ws://b/sync"]);
    assert_eq!(instance.statistics().url.as_deref(), Some("ws://b/sync"));
}

#[test]
fn one_url_stays_and_bad_urls_are_refused() {
    let (mut instance, wire) = client(json!("ws://only/sync"));
    fail_and_retry(&mut instance, &wire);
    assert_eq!(urls(&wire), ["ws://only/sync", "ws://only/sync"]);
    for bad in [json!([]), json!(["ws://a/sync", "http://b"]), json!(7)] {
        let error = Config::parse(&json!({ "url": bad })).unwrap_err();
        assert_eq!(error.code, "INVALID_CONFIG", "{bad}");
    }
    assert!(!Config::parse(&json!({ "url": null })).unwrap().networked());
}
