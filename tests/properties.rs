//! Property tests of the core: batch atomicity, rollback, history bounds, subscriber order,
//! path parsing and the storage round trip.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{dispatches, engine_with, sub_calls, visible_state};
use proptest::prelude::*;
use serde_json::{json, Value};
use srvra_sync::core::config::Config;
use srvra_sync::core::dispatch::registry::Priority;
use srvra_sync::core::engine::Snapshot;
use srvra_sync::core::model::batch::{parse_entries, parse_entries_text};
use srvra_sync::core::model::path::Path;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(str::to_owned)
}

fn path() -> impl Strategy<Value = String> {
    (
        key(),
        prop::option::of(prop::sample::select(vec!["x", "y", "x.z"])),
    )
        .prop_map(|(k, f)| f.map_or(k.clone(), |f| format!("{k}.{f}")))
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::from),
        Just(json!({ "x": 1 })),
        Just(json!([1, 2])),
    ]
}

fn entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        (path(), leaf()).prop_map(|(k, v)| json!({ "key": k, "value": v })),
        path().prop_map(|k| json!({ "op": "delete", "key": k })),
        (path(), -5i64..5).prop_map(|(k, by)| json!({ "op": "increment", "key": k, "by": by })),
        (path(), leaf()).prop_map(|(k, v)| json!({ "op": "append", "key": k, "value": v })),
        (path(), leaf())
            .prop_map(|(k, v)| json!({ "op": "update", "key": k, "value": { "f": v } })),
    ]
}

/// One batch entry as JSON text, valid or not: fields drawn with repeats and strays, any
/// value in any field, now and then not an object at all.
fn entry_text() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["op", "key", "value", "by", "extra"]);
    let field_value = prop_oneof![
        leaf(),
        prop::sample::select(vec![
            "set",
            "update",
            "delete",
            "increment",
            "append",
            "nope",
            "a",
            "a.x",
            "a..b"
        ])
        .prop_map(Value::from),
    ];
    prop_oneof![
        9 => prop::collection::vec((name, field_value), 0..5).prop_map(|fields| {
            let body: Vec<String> = fields.iter().map(|(n, v)| format!("\"{n}\":{v}")).collect();
            format!("{{{}}}", body.join(","))
        }),
        1 => leaf().prop_map(|v| v.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `batch` reads its JSON text as it would read the parsed value: the same drafts, or
    /// the same error (its direct path must not accept or refuse anything differently).
    #[test]
    fn batch_text_reads_as_its_json_value(entries in prop::collection::vec(entry_text(), 0..6)) {
        let text = format!("[{}]", entries.join(","));
        let value: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(parse_entries_text(&text), parse_entries(value), "{}", text);
    }

    /// A batch either applies exactly like its entries one by one, or fails and changes nothing.
    #[test]
    fn batch_is_atomic(setup in prop::collection::vec(entry(), 0..12), batch in prop::collection::vec(entry(), 1..8)) {
        let mut e = engine_with(Config::default());
        for item in &setup {
            let _ = e.batch(parse_entries(json!([item])).unwrap());
        }
        let before = visible_state(&e);
        let mut one_by_one = engine_with(Config::default());
        for item in &setup {
            let _ = one_by_one.batch(parse_entries(json!([item])).unwrap());
        }
        let sequential: Result<Vec<_>, _> = batch
            .iter()
            .map(|item| one_by_one.batch(parse_entries(json!([item])).unwrap()))
            .collect();
        match e.batch(parse_entries(Value::Array(batch.clone())).unwrap()) {
            Ok(_) => {
                prop_assert!(sequential.is_ok());
                let values = |s: Vec<(String, Option<Value>, u64)>| s.into_iter().map(|(k, v, _)| (k, v)).collect::<Vec<_>>();
                prop_assert_eq!(values(visible_state(&e)), values(visible_state(&one_by_one)));
            }
            Err(_) => {
                prop_assert!(sequential.is_err());
                prop_assert_eq!(visible_state(&e), before);
            }
        }
    }

    /// History keeps at most `historySize` consecutive versions, newest last, and rolling
    /// back to any of them restores that value as a new version.
    #[test]
    fn history_bounds_and_rollback(values in prop::collection::vec(leaf(), 1..40), size in 1u64..10, pick in any::<prop::sample::Index>()) {
        let mut e = engine_with(Config { history_size: size, ..Config::default() });
        for v in &values {
            e.set_state("k", v.clone()).unwrap();
        }
        let history: Vec<_> = e.get_history("k").unwrap();
        prop_assert_eq!(history.len(), values.len().min(size as usize));
        prop_assert!(history.windows(2).all(|w| w[1].version == w[0].version + 1));
        prop_assert_eq!(history.last().unwrap().version, values.len() as u64);
        let target = &history[pick.index(history.len())];
        let version = e.rollback("k", target.version).unwrap();
        prop_assert_eq!(version, values.len() as u64 + 1);
        prop_assert_eq!(e.get_state("k").unwrap(), target.value.as_deref());
    }

    /// Subscribers run by priority, then in subscription order.
    #[test]
    fn subscriber_order(priorities in prop::collection::vec(0u8..4, 1..20)) {
        let mut e = engine_with(Config::default());
        let all = [Priority::Critical, Priority::High, Priority::Normal, Priority::Low];
        let mut expected: Vec<(Priority, u32)> = priorities
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let target = if i % 3 == 0 { "*" } else { "k" };
                (all[*p as usize], e.subscribe(target, all[*p as usize]).unwrap())
            })
            .collect();
        expected.sort();
        e.set_state("k", json!(1)).unwrap();
        let calls = sub_calls(&dispatches(&mut e));
        prop_assert_eq!(calls, expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    }

    /// Path parsing never panics, and a parsed path prints back to its input.
    #[test]
    fn path_parsing(text in "[a-z.*0-9]{0,12}") {
        if let Ok(path) = Path::parse(&text) {
            prop_assert_eq!(path.dotted(), text.clone());
            prop_assert!(!text.split('.').any(str::is_empty));
        } else {
            prop_assert!(text.is_empty() || text.split('.').any(str::is_empty) || text.split('.').next() == Some("*"));
        }
    }

    /// Whatever was written restores to the same visible state.
    #[test]
    fn storage_round_trip(ops in prop::collection::vec(entry(), 0..30)) {
        let mut e = engine_with(Config::default());
        let mut records = std::collections::BTreeMap::new();
        let mut meta = None;
        for item in &ops {
            let _ = e.batch(parse_entries(json!([item])).unwrap());
            if let Some(work) = e.take_persist_work() {
                records.extend(work.shards);
                meta = Some(work.meta);
            }
        }
        let mut fresh = srvra_sync::core::Engine::new(Config::default(), "other", Box::new(srvra_sync::core::clock::SystemClock));
        fresh.restore(Snapshot { meta, shards: records.into_iter().collect() }).unwrap();
        prop_assert_eq!(visible_state(&fresh), visible_state(&e));
    }
}

proptest! {
    /// Packing round-trips at any threshold, and unpacking arbitrary bytes never panics.
    #[test]
    fn compression_round_trip_and_garbage(data in prop::collection::vec(any::<u8>(), 0..4096), threshold in prop::option::of(0usize..2048), garbage in prop::collection::vec(any::<u8>(), 0..64)) {
        use srvra_sync::core::state::compress::{pack, unpack};
        let packed = pack(&data, threshold);
        let unpacked = unpack(&packed.bytes).unwrap();
        prop_assert_eq!(unpacked.as_ref(), data.as_slice());
        let _ = unpack(&garbage);
    }
}
