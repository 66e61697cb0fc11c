//! Subscribers, the event bus and batches on the pure core (README "Paths, operations and batches" and "Subscribers and events").
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{dispatches, engine, sub_calls, visible_state};
use serde_json::json;
use srvra_sync::core::dispatch::event_bus::EventType;
use srvra_sync::core::dispatch::registry::Priority;
use srvra_sync::core::model::batch::parse_entries;

#[test]
fn priorities_order_subscribers_then_subscription_order() {
    let mut e = engine();
    let low = e.subscribe("k", Priority::Low).unwrap();
    let normal1 = e.subscribe("k", Priority::Normal).unwrap();
    let critical = e.subscribe("*", Priority::Critical).unwrap();
    let normal2 = e.subscribe("k", Priority::Normal).unwrap();
    let high = e.subscribe("k", Priority::High).unwrap();
    e.set_state("k", json!(1)).unwrap();
    assert_eq!(
        sub_calls(&dispatches(&mut e)),
        vec![critical, high, normal1, normal2, low]
    );
}

#[test]
fn key_pattern_subscribers_fire_for_the_keys_they_match_only() {
    let mut e = engine();
    let todos = e.subscribe("todo:*", Priority::Normal).unwrap();
    let all = e.subscribe("*", Priority::Normal).unwrap();
    e.set_state("todo:a1", json!({ "title": "x" })).unwrap();
    assert_eq!(sub_calls(&dispatches(&mut e)), vec![todos, all]);
    // Another key's change reaches `'*'` only: nothing crosses to the collection's view.
    e.set_state("note", json!("hi")).unwrap();
    assert_eq!(sub_calls(&dispatches(&mut e)), vec![all]);
    e.set_state("todo:a1.done", json!(true)).unwrap();
    assert_eq!(sub_calls(&dispatches(&mut e)), vec![todos, all]);
    assert!(e.unsubscribe(todos));
    e.set_state("todo:b2", json!({})).unwrap();
    assert_eq!(sub_calls(&dispatches(&mut e)), vec![all]);
}

#[test]
fn path_subscribers_fire_for_changes_above_at_and_below_only() {
    let mut e = engine();
    let alice = e.subscribe("users.alice", Priority::Normal).unwrap();
    let bob = e.subscribe("users.bob", Priority::Normal).unwrap();
    let whole = e.subscribe("users", Priority::Normal).unwrap();
    e.set_state("users.alice.name", json!("A")).unwrap();
    assert_eq!(sub_calls(&dispatches(&mut e)), vec![alice, whole]);
    e.set_state("users", json!({ "bob": {} })).unwrap();
    assert_eq!(sub_calls(&dispatches(&mut e)), vec![alice, bob, whole]);
    e.set_state("other", json!(1)).unwrap();
    assert!(sub_calls(&dispatches(&mut e)).is_empty());
}

#[test]
fn subscribers_get_value_and_previous_value_at_their_path() {
    let mut e = engine();
    e.set_state("u", json!({ "a": 1 })).unwrap();
    let field = e.subscribe("u.a", Priority::Normal).unwrap();
    let whole = e.subscribe("u", Priority::Normal).unwrap();
    e.set_state("u.a", json!(2)).unwrap();
    let items = dispatches(&mut e);
    let sub = items.iter().find(|d| d["k"] == "sub").unwrap();
    // Each id takes its entry of `values` by `at`.
    assert_eq!(sub["ids"], json!([field, whole]));
    assert_eq!(sub["at"], json!([0, 1]));
    assert_eq!(sub["values"][0], json!({ "value": 2, "previousValue": 1 }));
    assert_eq!(
        sub["values"][1],
        json!({ "value": { "a": 2 }, "previousValue": { "a": 1 } })
    );
    assert_eq!(
        sub["update"],
        json!({ "key": "u", "path": "u.a", "version": 2, "origin": "local", "op": "set" })
    );
    // Every id taking the first entry: no `at`.
    let also = e.subscribe("u", Priority::Normal).unwrap();
    e.set_state("u.b", json!(1)).unwrap();
    let items = dispatches(&mut e);
    let sub = items.iter().find(|d| d["k"] == "sub").unwrap();
    assert_eq!(sub["ids"], json!([whole, also]));
    assert!(sub.get("at").is_none(), "{sub}");
}

#[test]
fn unsubscribed_ids_are_not_called() {
    let mut e = engine();
    let a = e.subscribe("k", Priority::Normal).unwrap();
    let b = e.subscribe("k", Priority::Normal).unwrap();
    assert!(e.unsubscribe(a));
    assert!(!e.unsubscribe(a));
    e.set_state("k", json!(1)).unwrap();
    assert_eq!(sub_calls(&dispatches(&mut e)), vec![b]);
}

#[test]
fn events_follow_a_change_in_documented_order() {
    let mut e = engine();
    for event in [
        EventType::StateUpdated,
        EventType::VersionChange,
        EventType::DataChange,
    ] {
        e.on(event, Priority::Normal);
    }
    e.subscribe("k", Priority::Normal).unwrap();
    e.set_state("k", json!({ "x": 1 })).unwrap();
    let kinds: Vec<String> = dispatches(&mut e)
        .iter()
        .map(|d| d["type"].as_str().map_or("sub".to_owned(), str::to_owned))
        .collect();
    assert_eq!(
        kinds,
        ["data-change", "sub", "version-change", "state-updated"]
    );
}

#[test]
fn nothing_is_queued_without_listeners() {
    let mut e = engine();
    e.set_state("k", json!(1)).unwrap();
    assert!(!e.has_dispatches());
}

#[test]
fn batch_fires_subscribers_once_per_key_then_batch_complete() {
    let mut e = engine();
    let sub = e.subscribe("a", Priority::Normal).unwrap();
    e.on(EventType::BatchComplete, Priority::Normal);
    e.on(EventType::DataChange, Priority::Normal);
    let entries = json!([
        { "key": "a.x", "value": 1 },
        { "op": "increment", "key": "a.n", "by": 2 },
        { "key": "b", "value": [1] },
        { "op": "append", "key": "b", "value": 2 }
    ]);
    let applied = e.batch(parse_entries(entries).unwrap()).unwrap();
    assert_eq!(applied.len(), 4);
    let items = dispatches(&mut e);
    assert_eq!(
        items.iter().filter(|d| d["type"] == "data-change").count(),
        4
    );
    assert_eq!(sub_calls(&items), vec![sub]);
    let sub_item = items.iter().find(|d| d["k"] == "sub").unwrap();
    assert_eq!(sub_item["values"][0]["value"], json!({ "x": 1, "n": 2 }));
    assert_eq!(sub_item["update"]["op"], "batch");
    let last = items.last().unwrap();
    assert_eq!(last["type"], "batch-complete");
    assert_eq!(
        last["payload"],
        json!({ "keys": ["a", "b"], "count": 4, "origin": "local" })
    );
    assert_eq!(e.get_state("b").unwrap(), Some(&json!([1, 2])));
}

#[test]
fn a_bad_batch_entry_applies_nothing() {
    let mut e = engine();
    e.set_state("s", json!("text")).unwrap();
    e.on(EventType::DataChange, Priority::Normal);
    let before = visible_state(&e);
    let entries = json!([{ "key": "a", "value": 1 }, { "op": "increment", "key": "s" }]);
    let err = e.batch(parse_entries(entries).unwrap()).unwrap_err();
    assert_eq!(err.code, "TYPE_MISMATCH");
    assert_eq!(visible_state(&e), before);
    assert!(!e.has_dispatches());
    for bad in [
        json!({ "key": "a" }),
        json!([{ "op": "nope", "key": "a" }]),
        json!([{ "key": "a" }]),
        json!([{ "key": "a", "value": 1, "extra": true }]),
        json!([{ "op": "update", "key": "a", "value": 3 }]),
        json!([{ "key": "a..b", "value": 1 }]),
    ] {
        assert!(parse_entries(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn sync_error_reaches_its_handlers() {
    let mut e = engine();
    let id = e.on(EventType::SyncError, Priority::High);
    e.report_error(
        "storage",
        &srvra_sync::core::CoreError::storage("STORAGE_FAILED", "disk full"),
    );
    let items = dispatches(&mut e);
    assert_eq!(items[0]["ids"], json!([id]));
    assert_eq!(items[0]["payload"]["phase"], "storage");
    assert_eq!(items[0]["payload"]["error"]["code"], "STORAGE_FAILED");
    assert_eq!(e.handlers(EventType::SyncError), vec![id]);
    assert!(EventType::parse("no-such-event").is_err());
}
