//! Browser tests of the wasm binding and its IndexedDB storage, in headless Chromium
//! (`cargo test --target wasm32-unknown-unknown`, run by wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Reflect};
use rexie::{ObjectStore, Rexie, TransactionMode};
use srvra_sync::wasm::SyncCore;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn noop() -> Function {
    Function::new_no_args("")
}

fn core(db: &str) -> SyncCore {
    let config = format!(r#"{{"offline":{{"dbName":"{db}"}}}}"#);
    SyncCore::new(
        &config,
        JsValue::NULL,
        JsValue::UNDEFINED,
        true,
        noop(),
        JsValue::NULL,
    )
    .expect("valid config")
}

fn prop(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).expect("readable property")
}

async fn settle(promise: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

async fn fresh_db(name: &str) {
    // A leftover database from an earlier run would make the test depend on it.
    let _ = Rexie::delete(name).await;
}

#[wasm_bindgen_test]
async fn values_round_trip_as_json() {
    fresh_db("web-roundtrip").await;
    let sync = core("web-roundtrip");
    settle(sync.ready()).await.expect("ready");
    assert_eq!(sync.status(), "synced");
    assert_eq!(
        sync.set_state("doc", r#"{"a":[1,2.5,"x",null,true]}"#)
            .unwrap(),
        1.0
    );
    assert_eq!(
        sync.get_state("doc.a").unwrap().as_deref(),
        Some(r#"[1,2.5,"x",null,true]"#)
    );
    assert_eq!(sync.get_state("missing").unwrap(), None);
    assert_eq!(sync.increment("doc.n", 2.0).unwrap(), 2.0);
    assert_eq!(sync.keys(None), r#"["doc"]"#);
}

#[wasm_bindgen_test]
async fn errors_are_js_error_subclasses_with_codes() {
    fresh_db("web-errors").await;
    let sync = core("web-errors");
    let error = sync.set_state("a..b", "1").unwrap_err();
    assert!(error.is_instance_of::<js_sys::Error>());
    assert_eq!(prop(&error, "name"), "ValidationError");
    assert_eq!(prop(&error, "code"), "INVALID_PATH");
    let error = sync.set_state("k", "{not json").unwrap_err();
    assert_eq!(prop(&error, "code"), "INVALID_VALUE");
    let error = sync.subscribe("k", "urgent").unwrap_err();
    assert!(error.is_instance_of::<js_sys::TypeError>());
    assert_eq!(prop(&error, "code"), "INVALID_PRIORITY");
    assert!(sync.keys(None) == "[]", "failed calls stored nothing");
}

#[wasm_bindgen_test]
fn invalid_config_is_a_type_error_naming_the_field() {
    for (config, field) in [
        (r#"{"historySize":-1}"#, "config.historySize"),
        (r#"{"backoff":{"factor":"x"}}"#, "config.backoff.factor"),
        (r#"{"offline":{"dbName":""}}"#, "config.offline.dbName"),
        (r#"{"colour":"red"}"#, "config.colour"),
    ] {
        let error = SyncCore::new(
            config,
            JsValue::NULL,
            JsValue::UNDEFINED,
            true,
            noop(),
            JsValue::NULL,
        )
        .err()
        .expect("rejected");
        assert!(error.is_instance_of::<js_sys::TypeError>(), "{config}");
        let message = prop(&error, "message").as_string().unwrap();
        assert!(message.contains(field), "{message} names {field}");
    }
}

#[wasm_bindgen_test]
async fn state_survives_a_new_instance_on_the_same_database() {
    fresh_db("web-reload").await;
    let first = core("web-reload");
    settle(first.ready()).await.unwrap();
    for i in 0..500 {
        first
            .set_state(&format!("item{i}"), &format!(r#"{{"n":{i}}}"#))
            .unwrap();
    }
    first.set_state("item3.n", "33").unwrap();
    first.delete_state("item4").unwrap();
    settle(first.when_persisted()).await.expect("persisted");
    let writes = prop(
        &js_sys::JSON::parse(&first.statistics()).unwrap(),
        "storageWrites",
    );
    assert!(
        writes.as_f64().unwrap() <= 2.0,
        "writes are coalesced, got {writes:?}"
    );
    let client = first.client_id();
    settle(first.close()).await.unwrap();
    assert!(
        first.set_state("late", "1").is_err(),
        "closed instances refuse changes"
    );

    let second = core("web-reload");
    settle(second.ready()).await.unwrap();
    assert_eq!(
        second.client_id(),
        client,
        "client id is stable per storage"
    );
    assert_eq!(second.get_state("item3.n").unwrap().as_deref(), Some("33"));
    assert_eq!(second.get_state("item4").unwrap(), None);
    assert_eq!(second.get_version("item4").unwrap(), 2.0);
    assert_eq!(
        second
            .get_history("item3")
            .unwrap()
            .matches("version")
            .count(),
        2
    );
    assert_eq!(
        prop(&js_sys::JSON::parse(&second.statistics()).unwrap(), "keys"),
        499
    );
    settle(second.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn changes_before_ready_are_kept_on_top_of_cached_state() {
    fresh_db("web-early").await;
    let first = core("web-early");
    settle(first.ready()).await.unwrap();
    first.set_state("count", "10").unwrap();
    settle(first.close()).await.unwrap();

    let second = core("web-early");
    second.increment("count", 5.0).unwrap(); // before ready
    settle(second.ready()).await.unwrap();
    assert_eq!(second.get_state("count").unwrap().as_deref(), Some("15"));
    settle(second.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_corrupt_record_is_reported_and_the_rest_loads() {
    fresh_db("web-corrupt").await;
    let first = core("web-corrupt");
    settle(first.ready()).await.unwrap();
    first.set_state("good", "1").unwrap();
    settle(first.close()).await.unwrap();

    let db = Rexie::builder("web-corrupt")
        .version(2)
        .add_object_store(ObjectStore::new("shards"))
        .add_object_store(ObjectStore::new("meta"))
        .add_object_store(ObjectStore::new("outbox"))
        .add_object_store(ObjectStore::new("sync"))
        .build()
        .await
        .unwrap();
    let tx = db
        .transaction(&["shards"], TransactionMode::ReadWrite)
        .unwrap();
    let store = tx.store("shards").unwrap();
    store
        .put(&JsValue::from_str("{garbage"), Some(&JsValue::from(9999)))
        .await
        .unwrap();
    tx.done().await.unwrap();
    db.close();

    let second = core("web-corrupt");
    second.on("sync-error", "normal").unwrap();
    settle(second.ready())
        .await
        .expect("a corrupt shard does not fail the load");
    assert_eq!(second.get_state("good").unwrap().as_deref(), Some("1"));
    let dispatches = second.take_dispatches().expect("sync-error queued");
    assert!(dispatches.contains("CORRUPT_RECORD"), "{dispatches}");
    settle(second.close()).await.unwrap();
}

#[wasm_bindgen_test]
async fn local_only_without_storage_needs_no_indexeddb() {
    let sync = SyncCore::new(
        r#"{"offline":{"enabled":false}}"#,
        JsValue::NULL,
        JsValue::UNDEFINED,
        true,
        noop(),
        JsValue::NULL,
    )
    .unwrap();
    settle(sync.ready()).await.unwrap();
    sync.set_state("a", "1").unwrap();
    settle(sync.when_persisted())
        .await
        .expect("nothing to persist resolves at once");
}
