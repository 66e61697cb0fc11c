//! State manager operations on the pure core (README "Paths, operations and batches").
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{engine, engine_with, visible_state};
use serde_json::json;
use srvra_sync::core::config::Config;
use srvra_sync::core::engine::RemoteWrite;
use srvra_sync::core::state::store::generation;
use srvra_sync::core::ErrorKind;

#[test]
fn set_and_get_whole_values_and_dotted_paths() {
    let mut e = engine();
    let applied = e
        .set_state("users", json!({ "alice": { "name": "Alice" } }))
        .unwrap();
    assert_eq!(applied, 1);
    e.set_state("users.bob.name", json!("Bob")).unwrap();
    assert_eq!(
        e.get_state("users.alice.name").unwrap(),
        Some(&json!("Alice"))
    );
    assert_eq!(
        e.get_state("users.bob").unwrap(),
        Some(&json!({ "name": "Bob" }))
    );
    assert_eq!(e.get_version("users").unwrap(), 2);
    assert_eq!(e.get_state("users.carol").unwrap(), None);
    assert_eq!(e.get_state("nobody").unwrap(), None);
}

#[test]
fn array_indices_address_items() {
    let mut e = engine();
    e.set_state("list", json!([{ "t": "a" }, { "t": "b" }]))
        .unwrap();
    e.set_state("list.1.t", json!("B")).unwrap();
    assert_eq!(
        e.get_state("list").unwrap(),
        Some(&json!([{ "t": "a" }, { "t": "B" }]))
    );
    let err = e.set_state("list.5.t", json!("x")).unwrap_err();
    assert_eq!(err.code, "INDEX_OUT_OF_RANGE");
    assert_eq!(e.get_version("list").unwrap(), 2);
}

#[test]
fn writing_inside_a_scalar_fails_and_changes_nothing() {
    let mut e = engine();
    e.set_state("n", json!(5)).unwrap();
    let before = visible_state(&e);
    let err = e.set_state("n.field", json!(1)).unwrap_err();
    assert_eq!(
        (err.kind, err.code),
        (ErrorKind::Validation, "PATH_NOT_CONTAINER")
    );
    assert_eq!(visible_state(&e), before);
}

#[test]
fn invalid_paths_are_validation_errors() {
    let mut e = engine();
    for bad in ["", ".a", "a.", "a..b", "*"] {
        let err = e.set_state(bad, json!(1)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation, "path {bad:?}");
    }
    assert!(e.keys().is_empty());
}

#[test]
fn update_merges_fields_shallowly() {
    let mut e = engine();
    e.set_state("profile", json!({ "name": "A", "prefs": { "x": 1 } }))
        .unwrap();
    let partial = json!({ "age": 3, "prefs": { "y": 2 } });
    e.update_state("profile", partial.as_object().unwrap().clone())
        .unwrap();
    assert_eq!(
        e.get_state("profile").unwrap(),
        Some(&json!({ "name": "A", "age": 3, "prefs": { "y": 2 } }))
    );
    e.set_state("s", json!("text")).unwrap();
    let err = e
        .update_state("s", partial.as_object().unwrap().clone())
        .unwrap_err();
    assert_eq!(err.code, "TYPE_MISMATCH");
}

#[test]
fn delete_removes_keys_and_fields_and_keeps_counting_versions() {
    let mut e = engine();
    e.set_state("a", json!({ "x": 1, "y": 2 })).unwrap();
    e.delete_state("a.x").unwrap();
    assert_eq!(e.get_state("a").unwrap(), Some(&json!({ "y": 2 })));
    assert_eq!(e.delete_state("a").unwrap(), 3);
    assert_eq!(e.get_state("a").unwrap(), None);
    assert!(e.keys().is_empty());
    // Deleting what is not there is a no-op.
    assert_eq!(e.delete_state("a").unwrap(), 3);
    assert_eq!(e.set_state("a", json!(1)).unwrap(), 4);
}

#[test]
fn increment_and_append_build_values() {
    let mut e = engine();
    e.increment("c", 2.0).unwrap();
    e.increment("c", 3.0).unwrap();
    assert_eq!(e.get_state("c").unwrap(), Some(&json!(5)));
    e.increment("c", 0.5).unwrap();
    assert_eq!(e.get_state("c").unwrap(), Some(&json!(5.5)));
    e.append("log", json!("a")).unwrap();
    e.append("log", json!({ "b": 1 })).unwrap();
    assert_eq!(e.get_state("log").unwrap(), Some(&json!(["a", { "b": 1 }])));
    e.increment("doc.count", 1.0).unwrap();
    assert_eq!(e.get_state("doc").unwrap(), Some(&json!({ "count": 1 })));
    assert_eq!(e.increment("log", 1.0).unwrap_err().code, "TYPE_MISMATCH");
    assert_eq!(e.append("c", json!(1)).unwrap_err().code, "TYPE_MISMATCH");
    assert_eq!(
        e.increment("c", f64::NAN).unwrap_err().kind,
        ErrorKind::Type
    );
}

#[test]
fn history_is_bounded_and_newest_last() {
    let mut e = engine_with(Config {
        history_size: 3,
        ..Config::default()
    });
    for i in 0..10 {
        e.set_state("k", json!(i)).unwrap();
    }
    let history = e.get_history("k").unwrap();
    let versions: Vec<u64> = history.iter().map(|h| h.version).collect();
    assert_eq!(versions, vec![8, 9, 10]);
    assert_eq!(history[2].value.as_deref(), Some(&json!(9)));
}

#[test]
fn rollback_is_a_new_change() {
    let mut e = engine();
    e.set_state("doc", json!({ "v": 1 })).unwrap();
    e.set_state("doc.v", json!(2)).unwrap();
    e.delete_state("doc").unwrap();
    assert_eq!(e.rollback("doc", 1).unwrap(), 4);
    assert_eq!(e.get_state("doc").unwrap(), Some(&json!({ "v": 1 })));
    let last = e.get_history("doc").unwrap().last().unwrap().clone();
    assert_eq!(last.origin.name(), "rollback");
    // Rolling back to the deletion deletes again.
    e.rollback("doc", 3).unwrap();
    assert_eq!(e.get_state("doc").unwrap(), None);
    assert_eq!(e.rollback("doc", 99).unwrap_err().code, "VERSION_NOT_FOUND");
    assert_eq!(e.rollback("doc.v", 1).unwrap_err().code, "INVALID_PATH");
    assert_eq!(e.statistics().rollbacks, 2);
}

#[test]
fn rollback_needs_versioning() {
    let mut e = engine_with(Config {
        enable_versioning: false,
        ..Config::default()
    });
    e.set_state("k", json!(1)).unwrap();
    assert!(e.get_history("k").unwrap().is_empty());
    assert_eq!(e.rollback("k", 1).unwrap_err().code, "VERSIONING_DISABLED");
}

#[test]
fn metadata_and_statistics() {
    let mut e = engine();
    e.set_state("a.b", json!(true)).unwrap();
    let meta = serde_json::to_value(e.get_with_metadata("a.b").unwrap().unwrap()).unwrap();
    assert_eq!(
        meta,
        json!({ "value": true, "version": 1, "updatedAt": 1000.0, "updatedBy": "client-a", "pending": false })
    );
    assert!(e.get_with_metadata("a.zzz").unwrap().is_none());
    let stats = e.statistics();
    assert_eq!(
        (stats.operations, stats.local_operations, stats.keys),
        (1, 1, 1)
    );
}

#[test]
fn every_mutation_is_recorded_as_an_operation() {
    let mut e = engine();
    e.set_journal(true);
    e.set_state("a", json!(1)).unwrap();
    e.increment("a", 2.0).unwrap();
    let recorded = e.take_operations();
    assert_eq!(recorded[1].previous.as_deref(), Some(&json!(1)));
    let ops: Vec<_> = recorded.into_iter().map(|r| r.op).collect();
    assert_eq!(ops.len(), 2);
    assert_eq!((ops[0].id.seq, ops[1].id.seq), (1, 2));
    assert_eq!((ops[0].base_version, ops[1].base_version), (0, 1));
    assert_eq!(&*ops[1].id.client, "client-a");
    let wire = serde_json::to_value(&ops[1]).unwrap();
    assert_eq!(wire["kind"], serde_json::json!({ "increment": 2.0 }));
    assert_eq!(wire["key"], "a");
}

#[test]
fn set_state_of_an_object_records_only_the_changed_leaves() {
    let mut e = engine();
    e.set_journal(true);
    e.set_state("doc", json!({"a": 1, "b": {"c": 2}, "d": 3}))
        .unwrap();
    e.set_state("doc", json!({"a": 1, "b": {"c": 5}})).unwrap();
    let ops: Vec<_> = e.take_operations().into_iter().map(|r| r.op).collect();
    let wire = serde_json::to_value(&ops[1]).unwrap();
    assert_eq!(
        wire["kind"],
        json!({ "patch": [{ "path": ["b", "c"], "value": 5 }, { "path": ["d"] }] })
    );
    assert_eq!(
        e.get_state("doc").unwrap(),
        Some(&json!({"a": 1, "b": {"c": 5}}))
    );

    let mut plain = engine_with(Config::parse(&json!({ "enableDeltaUpdates": false })).unwrap());
    plain.set_journal(true);
    plain.set_state("doc", json!({"a": 1})).unwrap();
    plain.set_state("doc", json!({"a": 2})).unwrap();
    let ops = plain.take_operations();
    assert!(matches!(
        ops[1].op.kind,
        srvra_sync::core::model::operation::OpKind::Set(_)
    ));
}

#[test]
fn a_change_that_would_nest_a_value_past_100_levels_is_refused_and_changes_nothing() {
    let mut e = engine();
    let path: Vec<&str> = std::iter::repeat("a").take(60).collect();
    let mut deep = json!(1);
    for _ in 0..41 {
        deep = json!({ "b": deep });
    }
    let error = e
        .set_state(&format!("k.{}", path.join(".")), deep.clone())
        .unwrap_err();
    assert_eq!(error.code, "VALUE_TOO_DEEP", "60 fields + 41 levels");
    assert_eq!(e.get_state("k").unwrap(), None);
    // One level less fits.
    let deep = deep["b"].clone();
    e.set_state(&format!("k.{}", path.join(".")), deep).unwrap();
    assert_eq!(e.get_version("k").unwrap(), 1);
}

#[test]
fn readers_learn_which_keys_were_written_since_their_generation() {
    let mut e = engine();
    e.set_state("a", json!({ "x": 1 })).unwrap();
    e.set_state("a.x", json!(2)).unwrap();
    let seen = generation();
    assert_eq!(e.written_since(seen), Some(vec![]));
    e.set_state("b.c", json!(1)).unwrap();
    e.rollback("a", 1).unwrap();
    e.apply_remote(RemoteWrite {
        key: "r".into(),
        value: Some(json!("from the server").into()),
        version: 7,
        fields: vec![],
        by: "other".into(),
        at: 0.0,
    });
    assert_eq!(e.written_since(seen), Some(vec!["a", "b", "r"]));
    assert_eq!(e.written_since(generation()), Some(vec![]));
    // A reader from before the store existed keeps nothing.
    assert_eq!(engine().written_since(seen), None);
}
