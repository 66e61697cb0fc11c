//! The client core (`Instance`) without a browser: what one write stores, batch ids across
//! reloads, and two tabs of one client (leader and follower) exchanging the real tab
//! messages over one in-memory disk, including a leader that crashes before its write.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::{json, Value};
use srvra_sync::core::clock::ManualClock;
use srvra_sync::core::config::Config;
use srvra_sync::core::engine::SEQ_RESERVATION;
use srvra_sync::core::model::batch::parse_entries;
use srvra_sync::core::model::operation::Operation;
use srvra_sync::core::sync::outbox::decode_record;
use srvra_sync::core::sync::{Io, MemoryStorage, SyncClient, Timer, Timers, Transport};
use srvra_sync::core::tabs::TabMessage;
use srvra_sync::core::{Engine, Instance};

struct Nowhere;

impl Transport for Nowhere {
    fn open(&mut self, _id: u64, _url: &str) {}
    fn send(&mut self, _frame: Vec<u8>) {}
    fn close(&mut self, _code: u16, _reason: &str) {}
}

impl Timers for Nowhere {
    fn start(&mut self, _timer: Timer, _ms: u64) {}
    fn cancel(&mut self, _timer: Timer) {}
}

fn config() -> Config {
    Config::parse(&json!({ "url": "ws://nowhere/sync", "clientId": "c" })).unwrap()
}

fn sync_client() -> SyncClient {
    let io = Io {
        transport: Box::new(Nowhere),
        timers: Box::new(Nowhere),
        random: Box::new(|| 0.5),
    };
    SyncClient::new(config(), io)
}

/// An instance on `disk`, offline (it never connects); `role` is applied before the loop
/// starts: `Some(true)` leads, `Some(false)` follows (and starts no loop).
fn boot(disk: &MemoryStorage, role: Option<(&str, bool)>) -> Instance {
    let engine = Engine::new(config(), "c", Box::new(ManualClock::new(1_000.0)));
    let mut instance = Instance::new(engine, true);
    instance.engine_mut().restore(disk.snapshot()).unwrap();
    match role {
        Some((tab, false)) => instance.follow(tab),
        Some((tab, true)) => {
            instance.lead(tab);
            instance.start_sync(sync_client(), disk.outbox(), false);
        }
        None => instance.start_sync(sync_client(), disk.outbox(), false),
    }
    instance
}

fn write(instance: &mut Instance, disk: &mut MemoryStorage) {
    while let Some(w) = instance.take_write() {
        disk.write(&w);
        instance.written(&w);
    }
}

fn batch(instance: &mut Instance, entries: Value) {
    let drafts = parse_entries(entries).unwrap();
    instance.mutate(|e| e.batch(drafts)).unwrap();
}

fn stored_ops(disk: &MemoryStorage) -> Vec<Operation> {
    let mut ops: Vec<Operation> = disk
        .outbox()
        .ops
        .iter()
        .map(|r| decode_record(r).unwrap())
        .collect();
    ops.sort_by_key(|op| op.id.seq);
    ops
}

/// Delivers every message `from` has to `to`; returns how many.
fn pump(from: &mut Instance, to: &mut Instance) -> usize {
    let messages = from.take_tab_messages();
    let count = messages.len();
    for message in messages {
        // What crosses a BroadcastChannel is text.
        let text = serde_json::to_string(&message).unwrap();
        to.tab_receive(serde_json::from_str::<TabMessage>(&text).unwrap());
    }
    count
}

#[test]
fn a_batch_made_after_a_reload_never_shares_an_id_with_a_stored_batch() {
    let mut disk = MemoryStorage::default();
    let mut before = boot(&disk, None);
    batch(
        &mut before,
        json!([{ "key": "a", "value": 1 }, { "key": "b", "value": 1 }]),
    );
    write(&mut before, &mut disk);
    drop(before);
    let mut after = boot(&disk, None);
    batch(
        &mut after,
        json!([{ "key": "c", "value": 1 }, { "key": "d", "value": 1 }]),
    );
    write(&mut after, &mut disk);
    let ids: Vec<Option<u64>> = stored_ops(&disk).iter().map(|op| op.batch).collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[2], ids[3]);
    assert_ne!(
        ids[0], ids[2],
        "two batches would be sent as one atomic message: {ids:?}"
    );
}

#[test]
fn without_storage_a_write_stores_nothing_and_encodes_no_state() {
    let engine = Engine::new(
        Config::parse(&json!({ "offline": { "enabled": false } })).unwrap(),
        "c",
        Box::new(ManualClock::new(1_000.0)),
    );
    let mut instance = Instance::new(engine, false);
    instance.engine_mut().skip_restore();
    instance
        .mutate(|e| e.set_state("big", json!("x".repeat(5_000))))
        .unwrap();
    assert!(instance.take_write().is_none(), "nothing to store");
    assert_eq!(instance.persisted(), instance.engine().changes());
    assert_eq!(
        instance.engine().statistics().compression_ratio,
        1.0,
        "no shard was encoded (and counted as compressed)"
    );
}

#[test]
fn a_followers_change_reaches_the_leader_and_comes_back_as_stored_and_shared() {
    let mut disk = MemoryStorage::default();
    let mut leader = boot(&disk, Some(("L", true)));
    let mut follower = boot(&disk, Some(("F", false)));
    pump(&mut leader, &mut follower); // the leader announces itself
    pump(&mut follower, &mut leader); // hello
    pump(&mut leader, &mut follower); // the whole state
    follower.mutate(|e| e.increment("count", 2.0)).unwrap();
    batch(
        &mut follower,
        json!([{ "key": "x", "value": 1 }, { "op": "increment", "key": "count", "by": 3 }]),
    );
    assert_eq!(
        follower.engine().get_state("count").unwrap(),
        Some(&json!(5))
    );
    assert_eq!(follower.persist_target(), 3, "three changes made here");
    pump(&mut follower, &mut leader);
    assert_eq!(leader.engine().get_state("count").unwrap(), Some(&json!(5)));
    pump(&mut leader, &mut follower);
    assert!(follower.persisted_mark() < 3, "not stored yet");
    write(&mut leader, &mut disk);
    pump(&mut leader, &mut follower);
    assert_eq!(follower.persisted_mark(), 3, "the leader stored them");
    // One change id sequence for the client: the follower's changes are the client's own.
    let ops = stored_ops(&disk);
    let seqs: Vec<u64> = ops.iter().map(|op| op.id.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(ops[1].batch, ops[2].batch, "the batch stays one batch");
    assert_ne!(ops[0].batch, ops[1].batch);
    // The leader's own change reaches the follower.
    leader
        .mutate(|e| e.set_state("y", json!("from the leader")))
        .unwrap();
    pump(&mut leader, &mut follower);
    assert_eq!(
        follower.engine().get_state("y").unwrap(),
        Some(&json!("from the leader"))
    );
    assert_eq!(
        follower.engine().get_version("y").unwrap(),
        leader.engine().get_version("y").unwrap()
    );
}

#[test]
fn a_follower_taking_over_applies_its_unstored_changes_once() {
    let mut disk = MemoryStorage::default();
    let mut leader = boot(&disk, Some(("L", true)));
    let mut follower = boot(&disk, Some(("F", false)));
    pump(&mut leader, &mut follower);
    pump(&mut follower, &mut leader);
    pump(&mut leader, &mut follower);
    // Stored by the leader: applied, written, and the follower heard so.
    follower.mutate(|e| e.increment("n", 1.0)).unwrap();
    pump(&mut follower, &mut leader);
    write(&mut leader, &mut disk);
    // Applied by the leader but never written: the leader crashes.
    follower.mutate(|e| e.increment("n", 10.0)).unwrap();
    pump(&mut follower, &mut leader);
    assert_eq!(leader.engine().get_state("n").unwrap(), Some(&json!(11)));
    drop(leader);
    // The follower never heard how far its changes got; it resends both to itself.
    follower
        .take_over(disk.snapshot(), disk.outbox(), Some(sync_client()), false)
        .unwrap();
    assert_eq!(
        follower.engine().get_state("n").unwrap(),
        Some(&json!(11)),
        "each once"
    );
    write(&mut follower, &mut disk);
    let ops = stored_ops(&disk);
    let increments: Vec<(u64, Value)> = ops
        .iter()
        .map(|op| (op.id.seq, serde_json::to_value(&op.kind).unwrap()))
        .collect();
    assert_eq!(
        increments,
        [
            (1, json!({ "increment": 1.0 })),
            (2 + SEQ_RESERVATION, json!({ "increment": 10.0 }))
        ],
        "the stored change kept its id; the lost one got the first past the stored \
         reservation (its own id may have reached the server before the crash)"
    );
}

#[test]
fn a_hidden_leader_agrees_to_hand_over_to_a_visible_follower_that_claims() {
    let disk = MemoryStorage::default();
    let mut leader = boot(&disk, Some(("L", true)));
    let mut follower = boot(&disk, Some(("F", false)));
    follower.set_visible(true);
    pump(&mut leader, &mut follower);
    pump(&mut follower, &mut leader);
    pump(&mut leader, &mut follower);
    assert!(!leader.wants_step_down(), "a visible leader keeps the lead");
    leader.set_visible(false);
    pump(&mut leader, &mut follower); // the status says the leader is hidden
    assert!(
        pump(&mut follower, &mut leader) > 0,
        "the visible follower claims"
    );
    assert!(leader.wants_step_down());
    leader.stop_leading();
    leader.step_down();
    assert!(matches!(
        leader.role(),
        srvra_sync::core::instance::Role::Follower(_)
    ));
    assert!(leader.sync().is_none());
    // A hidden follower never claims.
    let mut other = boot(&disk, Some(("G", false)));
    other.set_visible(false);
    other.tab_receive(TabMessage::Status {
        status: "synced".into(),
        outbox: 0,
        conflicts: Vec::new(),
        hidden: true,
    });
    assert!(!other
        .take_tab_messages()
        .iter()
        .any(|m| matches!(m, TabMessage::Claim { .. })));
}

/// An instance as the browser loads one: changes made right after construction (before
/// `ready`), then the stored state, then this tab's part (`lead`: true leads, false follows).
fn load_after_early_changes(disk: &MemoryStorage, lead: bool) -> Instance {
    let engine = Engine::new(config(), "c", Box::new(ManualClock::new(1_000.0)));
    let mut instance = Instance::new(engine, true);
    instance
        .mutate(|e| e.set_state("early", json!("before ready")))
        .unwrap();
    batch(&mut instance, json!([{ "key": "early-batch", "value": 1 }]));
    instance.engine_mut().restore(disk.snapshot()).unwrap();
    if lead {
        instance.lead("t1");
        instance.start_sync(sync_client(), disk.outbox(), false);
    } else {
        instance.follow("t2");
    }
    instance
}

#[test]
fn changes_made_before_ready_reach_the_outbox_of_a_leading_tab() {
    let mut disk = MemoryStorage::default();
    let mut leader = load_after_early_changes(&disk, true);
    write(&mut leader, &mut disk);
    let keys: Vec<String> = stored_ops(&disk).into_iter().map(|op| op.key).collect();
    assert_eq!(keys, ["early", "early-batch"]);
}

#[test]
fn changes_made_before_ready_in_a_following_tab_go_to_the_leader() {
    let mut disk = MemoryStorage::default();
    let mut leader = boot(&disk, Some(("t1", true)));
    let mut follower = load_after_early_changes(&disk, false);
    pump(&mut follower, &mut leader);
    write(&mut leader, &mut disk);
    let keys: Vec<String> = stored_ops(&disk).into_iter().map(|op| op.key).collect();
    assert_eq!(keys, ["early", "early-batch"]);
}

#[test]
fn a_followers_resolution_keeps_null_apart_from_delete_between_tabs() {
    use srvra_sync::core::tabs::Settlement;
    for how in [
        Settlement::Set(json!(null)),
        Settlement::Delete,
        Settlement::Strategy("mine".into()),
    ] {
        let message = TabMessage::Resolve { id: 3, how };
        let text = serde_json::to_string(&message).unwrap();
        let back: TabMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text, "{text}");
        match (&message, &back) {
            (TabMessage::Resolve { how: a, .. }, TabMessage::Resolve { how: b, .. }) => {
                assert_eq!(a, b)
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn without_storage_changes_made_before_ready_are_kept_and_queued_for_the_server() {
    // Issue 27: with `offline: { enabled: false }`, writes before `ready` were shown
    // locally and never sent (skipping the restore dropped them).
    let config = Config::parse(&json!({
        "url": "ws://nowhere/sync",
        "clientId": "c",
        "offline": { "enabled": false }
    }))
    .unwrap();
    let engine = Engine::new(config.clone(), "c", Box::new(ManualClock::new(1_000.0)));
    let mut instance = Instance::new(engine, true);
    instance
        .mutate(|e| e.set_state("early", json!("before ready")))
        .unwrap();
    batch(&mut instance, json!([{ "key": "early-batch", "value": 1 }]));
    instance.engine_mut().skip_restore();
    let io = Io {
        transport: Box::new(Nowhere),
        timers: Box::new(Nowhere),
        random: Box::new(|| 0.5),
    };
    instance.start_sync(SyncClient::new(config, io), Default::default(), false);
    instance.mutate(|e| e.set_state("after", json!(2))).unwrap();
    let replica = instance.sync().unwrap().replica();
    assert_eq!(replica.len(), 3, "every change waits for the server");
    assert_eq!(
        instance.engine().get_state("early").unwrap(),
        Some(&json!("before ready"))
    );
}

#[test]
fn a_null_value_stays_null_between_tabs_and_absent_stays_absent() {
    // Issue 27 item 13: a chaos soak found a tab holding nothing where its leader held
    // `null`: the tab message's value was an `Option` that read `null` back as absent.
    use srvra_sync::core::model::slot::Slot;
    use srvra_sync::core::tabs::KeyWrite;
    let write = |value: Slot| KeyWrite {
        key: "k".into(),
        value,
        version: 3,
        at: 1.0,
        by: "c".into(),
    };
    let message = TabMessage::State {
        applied: Vec::new(),
        writes: vec![write(Slot::of(json!(null))), write(Slot::ABSENT)],
        full: false,
    };
    let TabMessage::State { writes, .. } = TabMessage::decode(&message.encode()).unwrap() else {
        panic!("a state message")
    };
    assert_eq!(writes[0].value, Slot::of(json!(null)));
    assert_eq!(writes[1].value, Slot::ABSENT);
}
