//! Collections on the pure core (SPEC 19, README "Collections"): items in order, moves,
//! edits that write only their fields, removes, and what is refused.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::engine;
use serde_json::json;
use srvra_sync::core::collection::Place;

fn titles(e: &srvra_sync::core::Engine) -> Vec<String> {
    e.collection_list("todo")
        .unwrap()
        .into_iter()
        .map(|i| i.value["title"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn items_are_listed_in_order_and_moves_write_only_the_position() {
    let mut e = engine();
    let ids: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|t| {
            e.collection_add("todo", json!({ "title": t, "done": false }))
                .unwrap()
        })
        .collect();
    assert_eq!(titles(&e), ["a", "b", "c", "d"]);
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 4, "{ids:?}");

    e.collection_move("todo", &ids[3], Place::Before(ids[0].clone()))
        .unwrap();
    assert_eq!(titles(&e), ["d", "a", "b", "c"]);
    e.collection_move("todo", &ids[3], Place::After(ids[1].clone()))
        .unwrap();
    assert_eq!(titles(&e), ["a", "b", "d", "c"]);
    e.collection_move("todo", &ids[0], Place::After(ids[2].clone()))
        .unwrap();
    assert_eq!(titles(&e), ["b", "d", "c", "a"]);
    // A move writes `order` only: the last change of the key is at that path.
    let key = format!("todo:{}", ids[0]);
    assert_eq!(
        e.get_state(&format!("{key}.title")).unwrap(),
        Some(&json!("a"))
    );

    e.collection_update("todo", &ids[1], json!({ "done": true }))
        .unwrap();
    assert_eq!(
        e.get_state(&format!("todo:{}.done", ids[1])).unwrap(),
        Some(&json!(true))
    );
    e.collection_remove("todo", &ids[2]).unwrap();
    assert_eq!(titles(&e), ["b", "d", "a"]);
    // Adds after a remove still go last.
    e.collection_add("todo", json!({ "title": "e" })).unwrap();
    assert_eq!(titles(&e), ["b", "d", "a", "e"]);
    assert_eq!(e.keys_matching("todo:*").len(), 4);
}

#[test]
fn a_collection_refuses_its_order_field_non_objects_bad_prefixes_and_unknown_ids() {
    let mut e = engine();
    fn code<T: std::fmt::Debug>(r: Result<T, srvra_sync::core::CoreError>) -> &'static str {
        r.unwrap_err().code
    }
    assert_eq!(
        code(e.collection_add("todo", json!({ "order": "a0" }))),
        "RESERVED_FIELD"
    );
    assert_eq!(
        code(e.collection_add("todo", json!("text"))),
        "INVALID_VALUE"
    );
    assert_eq!(code(e.collection_add("to.do", json!({}))), "INVALID_PATH");
    assert_eq!(code(e.collection_add("", json!({}))), "INVALID_PATH");
    assert_eq!(
        code(e.collection_update("todo", "nope", json!({ "a": 1 }))),
        "NOT_FOUND"
    );
    let id = e.collection_add("todo", json!({ "title": "x" })).unwrap();
    assert_eq!(
        code(e.collection_update("todo", &id, json!({ "order": "zz" }))),
        "RESERVED_FIELD"
    );
    assert_eq!(
        code(e.collection_move("todo", &id, Place::Before("nope".into()))),
        "NOT_FOUND"
    );
    assert_eq!(
        e.collection_list("todo").unwrap().len(),
        1,
        "nothing refused was applied"
    );
}

#[test]
fn ten_thousand_appends_stay_ordered() {
    let mut e = engine();
    let mut last = String::new();
    for i in 0..10_000 {
        let id = e.collection_add("big", json!({ "n": i })).unwrap();
        let order = e
            .get_state(&format!("big:{id}.order"))
            .unwrap()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert!(order > last, "{order} after {last}");
        last = order;
    }
    let list = e.collection_list("big").unwrap();
    assert!(list
        .iter()
        .enumerate()
        .all(|(i, item)| item.value["n"] == json!(i)));
}
