//! The storage layout: what is written can be restored, and changes made before the
//! restore are re-applied on top of it.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{engine, engine_with, visible_state};
use serde_json::json;
use srvra_sync::core::clock::ManualClock;
use srvra_sync::core::config::Config;
use srvra_sync::core::dispatch::event_bus::EventType;
use srvra_sync::core::dispatch::registry::Priority;
use srvra_sync::core::engine::{PersistWork, Snapshot, SEQ_RESERVATION};
use srvra_sync::core::state::persist;
use srvra_sync::core::Engine;

fn snapshot_of(work: &[PersistWork]) -> Snapshot {
    let mut shards = std::collections::BTreeMap::new();
    for w in work {
        for (index, record) in &w.shards {
            shards.insert(*index, record.clone());
        }
    }
    let shards: Vec<(u32, Vec<u8>)> = shards.into_iter().collect();
    Snapshot {
        meta: work.last().map(|w| w.meta.clone()),
        shards,
    }
}

fn fresh(config: Config) -> Engine {
    Engine::new(config, "client-new", Box::new(ManualClock::new(5_000.0)))
}

#[test]
fn restore_brings_back_values_versions_history_and_client_id() {
    let mut e = engine();
    for i in 0..300 {
        e.set_state(&format!("key{i}"), json!({ "n": i })).unwrap();
    }
    e.set_state("key7.n", json!(70)).unwrap();
    e.delete_state("key8").unwrap();
    let mut work = vec![e.take_persist_work().unwrap()];
    assert!(
        e.take_persist_work().is_none(),
        "nothing is dirty after a take"
    );
    e.increment("counter", 1.0).unwrap();
    work.push(e.take_persist_work().unwrap());
    assert_eq!(
        work[1].shards.len(),
        1,
        "only the touched shard is rewritten"
    );

    let mut restored = fresh(Config::default());
    restored.restore(snapshot_of(&work)).unwrap();
    assert_eq!(restored.client_id(), "client-a");
    assert_eq!(visible_state(&restored), visible_state(&e));
    assert_eq!(
        restored.get_version("key8").unwrap(),
        2,
        "tombstones keep versions"
    );
    let history: Vec<_> = restored.get_history("key7").unwrap();
    let original: Vec<_> = e.get_history("key7").unwrap();
    assert_eq!(history, original);
    // Operation ids continue after the restored sequence and the block the first change
    // reserved (303 changes were made; sequences through 1 + SEQ_RESERVATION are claimed).
    restored.set_journal(true);
    restored.set_state("x", json!(1)).unwrap();
    assert_eq!(restored.take_operations()[0].op.id.seq, 2 + SEQ_RESERVATION);
}

#[test]
fn changes_made_before_restore_are_replayed_on_top() {
    let mut old = engine();
    old.set_state("count", json!(10)).unwrap();
    old.set_state("doc", json!({ "a": 1 })).unwrap();
    let work = vec![old.take_persist_work().unwrap()];

    let mut e = fresh(Config::default());
    e.increment("count", 5.0).unwrap();
    e.set_state("doc.b", json!(2)).unwrap();
    e.restore(snapshot_of(&work)).unwrap();
    assert_eq!(e.get_state("count").unwrap(), Some(&json!(15)));
    assert_eq!(
        e.get_state("doc").unwrap(),
        Some(&json!({ "a": 1, "b": 2 }))
    );
    assert_eq!(e.get_version("count").unwrap(), 2);
    assert!(
        e.take_persist_work().is_some(),
        "replayed changes are written back"
    );
}

#[test]
fn a_corrupt_shard_is_reported_and_the_rest_loads() {
    let mut old = engine();
    old.set_state("good", json!(1)).unwrap();
    let mut snapshot = snapshot_of(&[old.take_persist_work().unwrap()]);
    let other = (srvra_sync::core::state::store::shard_of("good") as u32 + 1) % 256;
    snapshot.shards.push((other, "{not json".into()));
    let mut e = fresh(Config::default());
    e.on(EventType::SyncError, Priority::Normal);
    e.restore(snapshot).unwrap();
    assert_eq!(e.get_state("good").unwrap(), Some(&json!(1)));
    assert_eq!(e.keys(), vec!["good"], "keys() decodes every shard");
    let items = common::dispatches(&mut e);
    assert_eq!(items[0]["payload"]["error"]["code"], "CORRUPT_RECORD");
}

#[test]
fn a_meta_record_from_another_layout_is_refused() {
    let mut e = fresh(Config::default());
    let snapshot = Snapshot {
        meta: Some(r#"{"layout":99,"clientId":"x","nextSeq":1}"#.into()),
        shards: vec![],
    };
    assert_eq!(e.restore(snapshot).unwrap_err().code, "UNSUPPORTED_LAYOUT");
}

#[test]
fn first_run_writes_the_generated_client_id() {
    let mut e = fresh(Config::default());
    e.restore(Snapshot::default()).unwrap();
    let work = e.take_persist_work().expect("meta is written on first run");
    assert!(work.meta.contains("client-new"));
    let configured = Config {
        client_id: Some("fixed".into()),
        ..Config::default()
    };
    let mut e = engine_with(configured.clone());
    e.set_state("a", json!(1)).unwrap();
    let mut again = fresh(configured);
    again
        .restore(snapshot_of(&[e.take_persist_work().unwrap()]))
        .unwrap();
    assert_eq!(again.client_id(), "fixed");
}

#[test]
fn shard_records_are_compressed_over_the_threshold_and_corruption_is_caught() {
    let mut e = engine();
    for i in 0..10_000 {
        e.set_state(
            &format!("item{i}"),
            json!({ "title": "a repetitive title", "done": false }),
        )
        .unwrap();
    }
    let work = e.take_persist_work().unwrap();
    assert!(work
        .shards
        .iter()
        .all(|(_, record)| record[0] == srvra_sync::core::state::compress::LZ4));
    let ratio = e.statistics().compression_ratio;
    assert!(ratio > 0.0 && ratio < 0.5, "ratio {ratio}");
    let mut restored = fresh(Config::default());
    restored
        .restore(snapshot_of(std::slice::from_ref(&work)))
        .unwrap();
    assert_eq!(visible_state(&restored), visible_state(&e));

    let mut corrupt = snapshot_of(&[work]);
    let record = &mut corrupt.shards[0].1;
    record.truncate(record.len() / 2);
    let mut damaged = fresh(Config::default());
    damaged.on(EventType::SyncError, Priority::Normal);
    damaged.restore(corrupt).unwrap();
    let keys = damaged.keys().len();
    let items = common::dispatches(&mut damaged);
    assert_eq!(items[0]["payload"]["error"]["code"], "CORRUPT_RECORD");
    assert!(keys > 9_900, "other shards still load");
    assert_eq!(damaged.statistics().keys, keys as u64);
}

#[test]
fn shards_decode_on_first_use_and_late_failures_are_reported() {
    let mut old = engine();
    old.set_state("a", json!(1)).unwrap();
    let work = old.take_persist_work().unwrap();
    let mut snapshot = snapshot_of(&[work]);
    let mut meta = persist::decode_meta(snapshot.meta.as_deref().unwrap()).unwrap();
    // Well-formed enough to load, but missing fields: it fails only when decoded.
    let broken_key = "zz";
    let index = srvra_sync::core::state::store::shard_of(broken_key) as u32;
    assert!(snapshot.shards.iter().all(|(i, _)| *i != index));
    meta.live[index as usize] = 1;
    snapshot.meta = Some(persist::encode_meta(&meta));
    snapshot
        .shards
        .push((index, br#"{"zz":{"v":2,"n":1}}"#.to_vec()));

    let mut e = fresh(Config::default());
    e.on(EventType::SyncError, Priority::Normal);
    e.restore(snapshot).unwrap();
    assert_eq!(e.statistics().keys, 2, "counted at load without decoding");
    assert!(!e.has_dispatches());
    assert_eq!(e.get_state("a").unwrap(), Some(&json!(1)));
    assert_eq!(e.get_state(broken_key).unwrap(), None);
    assert_eq!(e.statistics().keys, 1, "the broken shard's keys are gone");
    let items = common::dispatches(&mut e);
    assert_eq!(items[0]["payload"]["error"]["code"], "CORRUPT_RECORD");
    // Writing to the shard works and rewrites it.
    e.set_state(broken_key, json!(3)).unwrap();
    assert_eq!(e.get_state(broken_key).unwrap(), Some(&json!(3)));
}

#[test]
fn the_client_ids_secret_is_stored_with_it_and_a_reload_presents_the_stored_one() {
    // Issue 29: the server binds a client id to its first secret; every reload and tab of
    // this storage must present that one, not the one it drew at start.
    let mut first = fresh(Config::default());
    first.set_secret("drawn-first");
    first.restore(Snapshot::default()).unwrap();
    first.set_state("a", json!(1)).unwrap();
    let stored = snapshot_of(&[first.take_persist_work().unwrap()]);
    let mut reloaded = Engine::new(
        Config::default(),
        "another-id",
        Box::new(ManualClock::new(6_000.0)),
    );
    reloaded.set_secret("drawn-at-reload");
    reloaded.restore(stored).unwrap();
    assert_eq!(reloaded.client_id(), "client-new");
    assert_eq!(reloaded.secret(), "drawn-first");
    // A record from before secrets: the id stays, the new secret is stored with it.
    let old_meta = persist::encode_meta(&persist::StoredMeta {
        layout: persist::LAYOUT_VERSION,
        client_id: "old-client".into(),
        secret: String::new(),
        next_seq: 5,
        live: Vec::new(),
        tabs: Vec::new(),
    });
    let mut upgraded = fresh(Config::default());
    upgraded.set_secret("new-secret");
    upgraded
        .restore(Snapshot {
            meta: Some(old_meta),
            shards: Vec::new(),
        })
        .unwrap();
    assert_eq!(
        (upgraded.client_id(), upgraded.secret()),
        ("old-client", "new-secret")
    );
    let work = upgraded
        .take_persist_work()
        .expect("the secret is written back");
    assert!(work.meta.contains("new-secret"));
}

#[test]
fn a_configured_id_presents_its_secret_only_once_stored_a_generated_one_at_once() {
    let mut generated = fresh(Config::default());
    generated.set_secret("s");
    generated.restore(Snapshot::default()).unwrap();
    assert_eq!(generated.presentable_secret(), Some("s"));
    // A configured id outlives a secret that was never stored: binding it to one would
    // lock out the next page load, which draws another.
    let configured = Config {
        client_id: Some("fixed".into()),
        ..Config::default()
    };
    let mut fixed = fresh(configured);
    fixed.set_secret("s");
    fixed.restore(Snapshot::default()).unwrap();
    assert_eq!(fixed.presentable_secret(), None);
    fixed.state_stored();
    assert_eq!(fixed.presentable_secret(), Some("s"));
}
