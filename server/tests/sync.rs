//! The reference server over real WebSockets on 127.0.0.1: ordering, broadcast,
//! exactly-once, catch-up, snapshots after compaction, atomic batches and metrics.

mod common;

use std::time::Duration;

use common::{item, Client};
use serde_json::json;
use srvra_sync::core::conflict::{ConflictKind, Outcome, Strategy};
use srvra_sync::core::model::operation::ConflictInfo;
use srvra_sync::core::model::operation::{OpKind, Operation};
use srvra_sync::core::protocol::ServerMessage;

fn acks(message: &ServerMessage) -> Vec<u64> {
    match message {
        ServerMessage::Ack { acks, .. } => acks.iter().map(|(_, p)| *p).collect(),
        other => panic!("not an ack: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_ordered_acked_and_broadcast_to_others() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let (mut a, head) = Client::join(server.addr, "a", "room", 0).await;
    assert_eq!(head, 0);
    a.catch_up().await;
    let mut b = Client::joined(server.addr, "b", "room").await;

    let ops = vec![a.set("x", json!(1)), a.op("n", OpKind::Increment(2.0))];
    assert_eq!(acks(&a.submit(ops, false).await), vec![1, 2]);
    match b.recv().await {
        ServerMessage::Broadcast { changes } => {
            assert_eq!(
                changes.iter().map(|c| c.position).collect::<Vec<_>>(),
                vec![1, 2]
            );
            assert_eq!(changes[0].op.key, "x");
        }
        other => panic!("expected broadcast, got {other:?}"),
    }
    let ops = vec![b.set("x", json!(2))];
    assert_eq!(acks(&b.submit(ops, false).await), vec![3]);
    assert!(
        matches!(a.recv().await, ServerMessage::Broadcast { ref changes } if changes[0].position == 3)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_changes_apply_once_across_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Client::joined(server.addr, "a", "room").await;
    let ops: Vec<_> = (0..3)
        .map(|_| a.op("count", OpKind::Increment(1.0)))
        .collect();
    assert_eq!(acks(&a.submit(ops.clone(), false).await), vec![1, 2, 3]);
    drop(a);

    let (mut again, head) = Client::join(server.addr, "a", "room", 3).await;
    assert_eq!(head, 3);
    again.catch_up().await;
    // The same ids again, plus one new change.
    let mut resend = ops.clone();
    again.seq = 3;
    resend.push(again.op("count", OpKind::Increment(1.0)));
    assert_eq!(acks(&again.submit(resend, false).await), vec![4, 1, 2, 3]);

    let (mut observer, _) = Client::join(server.addr, "o", "room", 0).await;
    let parts = observer.catch_up().await;
    let ServerMessage::CatchUp {
        changes,
        done: true,
    } = &parts[0]
    else {
        panic!("{parts:?}")
    };
    assert_eq!(changes.len(), 4, "each change is in the log once");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_catches_up_in_parts_and_compaction_leads_to_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.chunk = 500;
        c.retain = 1000;
        c.compaction_interval = Duration::from_millis(50);
    })
    .await;
    let mut a = Client::joined(server.addr, "a", "room").await;
    for round in 0..6 {
        let ops: Vec<_> = (0..500)
            .map(|i| a.set(&format!("k{}", i % 50), item(round * 500 + i)))
            .collect();
        a.submit(ops, false).await;
    }
    // Let compaction keep only the newest 1,000 of 3,000 changes.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (mut recent, _) = Client::join(server.addr, "r", "room", 2500).await;
    let parts = recent.catch_up().await;
    let changes = common::catch_up_len(&parts);
    assert_eq!(changes, 500);

    let (mut fresh, _) = Client::join(server.addr, "f", "room", 0).await;
    let parts = fresh.catch_up().await;
    let ServerMessage::Snapshot {
        position, entries, ..
    } = &parts[0]
    else {
        panic!("{:?}", parts[0])
    };
    assert_eq!(*position, 3000);
    assert_eq!(entries.len(), 50);
    let k7 = entries.iter().find(|e| e.key == "k7").unwrap();
    assert_eq!(k7.version, 60);
    assert_eq!(k7.value.as_deref(), Some(&item(5 * 500 + 457)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_atomic_batch_with_a_failing_change_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Client::joined(server.addr, "a", "room").await;
    {
        let ops = vec![a.set("text", json!("hello"))];
        a.submit(ops, false)
    }
    .await;
    let batch = vec![a.set("ok", json!(1)), a.op("text", OpKind::Increment(1.0))];
    match a.submit(batch, true).await {
        ServerMessage::Ack { acks, rejected, .. } => {
            assert!(acks.is_empty());
            let codes: Vec<_> = rejected.iter().map(|r| r.code.as_str()).collect();
            assert_eq!(codes, vec!["TYPE_MISMATCH", "BATCH_REJECTED"]);
        }
        other => panic!("{other:?}"),
    }
    let (mut o, head) = Client::join(server.addr, "o", "room", 0).await;
    assert_eq!(head, 1, "nothing of the batch was stored");
    o.catch_up().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_on_the_same_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Client::joined(server.addr, "a", "room").await;
    let ops: Vec<_> = (0..10).map(|i| a.set(&format!("k{i}"), item(i))).collect();
    a.submit(ops, false).await;
    server.shutdown().await;

    let server = common::server(dir.path(), |_| {}).await;
    let (mut again, head) = Client::join(server.addr, "a", "room", 0).await;
    assert_eq!(head, 10);
    let parts = again.catch_up().await;
    assert!(
        matches!(&parts[0], ServerMessage::CatchUp { changes, done: true } if changes.len() == 10)
    );
    // The watermark survived too: a resend is recognised.
    again.seq = 0;
    let resend = vec![again.set("k0", item(0))];
    assert_eq!(acks(&again.submit(resend, false).await), vec![1]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Client::joined(server.addr, "a", "room").await;
    {
        let ops = vec![a.set("k", json!(1))];
        a.submit(ops, false)
    }
    .await;
    let health = common::http_get(server.addr, "/health", "").await.1;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = common::http_get(server.addr, "/metrics", "").await.1;
    assert!(
        metrics.contains("srvra_changes_accepted_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("srvra_connections 1"), "{metrics}");

    // Conflicts are counted by type: b creates `k` too (add-add); a writes again; b
    // then overwrites a's newer version (modify-modify) and deletes it (modify-delete);
    // increments commute.
    let mut b = Client::joined(server.addr, "b", "room").await;
    let add = b.set("k", json!(2));
    b.submit(vec![add], false).await;
    let mut again = a.set("k", json!(4));
    again.base_version = 2;
    a.submit(vec![again], false).await;
    let mut modify = b.set("k", json!(3));
    modify.base_version = 2;
    let mut delete = b.op("k", OpKind::Delete);
    delete.base_version = 2;
    let mut count = b.op("k2", OpKind::Increment(1.0));
    count.base_version = 0;
    b.submit(vec![modify, delete, count], false).await;
    let metrics = common::http_get(server.addr, "/metrics", "").await.1;
    for (kind, n) in [
        ("add-add", 1),
        ("modify-modify", 1),
        ("modify-delete", 1),
        ("type-change", 0),
    ] {
        let line = format!("srvra_conflicts_total{{type=\"{kind}\"}} {n}");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_each_see_every_other_change_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let writers: usize = 5;
    let messages: usize = 20;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let (mut c, _) = Client::join(addr, &format!("w{w}"), "room", 0).await;
            let mut seen = Vec::new();
            for part in c.catch_up().await {
                if let ServerMessage::CatchUp { changes, .. } = part {
                    seen.extend(changes.iter().map(|ch| ch.position));
                }
            }
            let mut acked = 0;
            let mut sent = 0;
            let ops: Vec<_> = (0..3)
                .map(|i| c.set(&format!("k{i}"), item(w as u64)))
                .collect();
            c.send(&srvra_sync::core::protocol::ClientMessage::Changes { ops, atomic: false })
                .await;
            sent += 1;
            while acked < messages || seen.len() < writers * messages * 3 {
                match c.recv().await {
                    ServerMessage::Ack { acks, .. } => {
                        seen.extend(acks.iter().map(|(_, p)| *p));
                        acked += 1;
                        if sent < messages {
                            let ops: Vec<_> = (0..3)
                                .map(|i| c.set(&format!("k{i}"), item(w as u64)))
                                .collect();
                            c.send(&srvra_sync::core::protocol::ClientMessage::Changes {
                                ops,
                                atomic: false,
                            })
                            .await;
                            sent += 1;
                        }
                    }
                    ServerMessage::Broadcast { changes } => {
                        assert!(changes
                            .iter()
                            .all(|ch| *ch.op.id.client != *format!("w{w}")));
                        seen.extend(changes.iter().map(|ch| ch.position));
                    }
                    other => panic!("{other:?}"),
                }
            }
            seen
        }));
    }
    for task in tasks {
        let mut seen = task.await.unwrap();
        seen.sort_unstable();
        let expected: Vec<u64> = (1..=(writers * messages * 3) as u64).collect();
        assert_eq!(seen, expected, "every position exactly once");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_settled_by_each_changes_strategy_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Client::joined(server.addr, "a", "room").await;
    let mut b = Client::joined(server.addr, "b", "room").await;
    let stamp = |mut op: Operation, clock: u64, strategy: Option<Strategy>| {
        op.conflict = ConflictInfo {
            clock,
            strategy,
            ..ConflictInfo::default()
        };
        op
    };
    let first = stamp(a.set("k", json!("a")), 200, None);
    a.submit(vec![first], false).await;
    // b's change is older by clock: last-write-wins keeps a's value, and says so.
    let older = stamp(b.set("k", json!("b")), 100, None);
    let older_id = older.id.clone();
    let ack = b.submit(vec![older], false).await;
    let ServerMessage::Ack { acks, resolved, .. } = ack else {
        panic!("{ack:?}")
    };
    assert_eq!(acks, vec![(older_id.clone(), 2)]);
    assert_eq!(resolved[0].0, older_id);
    assert_eq!(resolved[0].1.outcome, Outcome::Server);
    assert_eq!(resolved[0].1.kind, ConflictKind::AddAdd);
    // a hears of it with the resolution, so it does not apply b's value.
    let ServerMessage::Broadcast { changes } = a.recv().await else {
        panic!("expected a broadcast")
    };
    assert_eq!(
        changes[0].resolution.as_ref().map(|r| &r.outcome),
        Some(&Outcome::Server)
    );
    // A manual change goes back to its author with the server's state.
    let manual = stamp(b.set("k", json!("mine")), 300, Some(Strategy::Manual));
    let ack = b.submit(vec![manual], false).await;
    let ServerMessage::Ack { rejected, .. } = ack else {
        panic!("{ack:?}")
    };
    assert_eq!(rejected[0].code, "CONFLICT");
    let report = rejected[0].conflict.as_ref().expect("a conflict report");
    assert_eq!(report.value.as_deref(), Some(&json!("a")));
    assert_eq!(report.version, 1);
    server.shutdown().await;

    // The key's writers were persisted: after a restart, b's stale write still conflicts
    // and first-write-wins keeps a's value.
    let server = common::server(dir.path(), |_| {}).await;
    let (mut b, _) = Client::join(server.addr, "b", "room", 2).await;
    b.catch_up().await;
    b.seq = 10;
    let stale = stamp(
        b.set("k", json!("late")),
        400,
        Some(Strategy::FirstWriteWins),
    );
    let ack = b.submit(vec![stale], false).await;
    let ServerMessage::Ack { resolved, .. } = ack else {
        panic!("{ack:?}")
    };
    assert_eq!(resolved[0].1.outcome, Outcome::Server);
    assert_eq!(resolved[0].1.kind, ConflictKind::AddAdd);
    // A catch-up from the start carries every resolution from the log.
    let (mut c, _) = Client::join(server.addr, "c", "room", 0).await;
    let parts = c.catch_up().await;
    let ServerMessage::CatchUp { changes, .. } = &parts[0] else {
        panic!("{parts:?}")
    };
    let outcomes: Vec<Option<&str>> = changes
        .iter()
        .map(|c| c.resolution.as_ref().map(|r| r.outcome.name()))
        .collect();
    assert_eq!(outcomes, vec![None, Some("server"), Some("server")]);
    server.shutdown().await;
}

/// A string of `len` hexadecimal digits that LZ4 cannot shrink much (frames keep their size).
fn incompressible(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_falls_behind_every_broadcast_slot_gets_every_change_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |config| {
        config.guards.messages_per_second = 100_000;
        config.guards.send_timeout = Duration::from_secs(120);
    })
    .await;
    // The reader joins and then stops reading: its connection fills, the server's sends
    // to it wait, and the room's broadcasts (more than the 1,024 it keeps per room) pass
    // it by. Sent as bursts of frames, one write each, then from the log.
    let ws = common::connect_slow_reader(server.addr).await;
    let (mut reader, answer) = Client::greet_on(ws, "reader", "room", 0, None, false).await;
    assert!(
        matches!(answer, ServerMessage::Welcome { .. }),
        "{answer:?}"
    );
    assert_eq!(common::catch_up_len(&reader.catch_up().await), 0);
    let mut writer = Client::joined(server.addr, "writer", "room").await;
    let messages = 1300;
    for m in 0..messages {
        let op = writer.set(&format!("k{}", m % 10), json!(incompressible(m, 16 * 1024)));
        let ack = writer.submit(vec![op], false).await;
        assert_eq!(acks(&ack), vec![m + 1]);
    }
    let mut positions = Vec::new();
    let mut caught_up = false;
    while positions.len() < messages as usize {
        match reader.recv().await {
            ServerMessage::Broadcast { changes } => {
                positions.extend(changes.iter().map(|c| c.position));
            }
            ServerMessage::CatchUp { changes, .. } => {
                caught_up = true;
                positions.extend(changes.iter().map(|c| c.position));
            }
            ServerMessage::Presence { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    let expected: Vec<u64> = (1..=messages).collect();
    assert_eq!(positions, expected, "every position once, in order");
    assert!(
        caught_up,
        "the reader fell behind the broadcast slots and caught up from the log"
    );
    server.shutdown().await;
}

/// A session sends the broadcasts waiting for it before it reads its client's next message.
/// Two clients send 40 messages each without waiting for acks; whenever one of its
/// messages is acked, the broadcasts ordered before it are already queued for its session,
/// so they must reach the client before the ack of its next message. (A session that read
/// as often as it forwarded fell behind under load, past the broadcast slots, and caught up
/// from the log, per session: throughput collapsed past capacity.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_forwards_waiting_broadcasts_before_reading_the_next_message() {
    const MESSAGES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Client::joined(server.addr, "a", "room").await;
    let mut b = Client::joined(server.addr, "b", "room").await;

    async fn send_all(client: &mut Client, key: &str) {
        for i in 0..MESSAGES {
            let ops = vec![client.set(key, item(i as u64))];
            client
                .send(&srvra_sync::core::protocol::ClientMessage::Changes { ops, atomic: false })
                .await;
        }
    }
    tokio::join!(send_all(&mut a, "from-a"), send_all(&mut b, "from-b"));

    // Every change is one position, so when `a` hears an ack, every position before its
    // previous ack must have reached it already: as an ack of its own or a broadcast.
    let mut heard = std::collections::BTreeSet::new();
    let (mut previous_ack, mut acked) = (0, 0);
    while heard.len() < 2 * MESSAGES {
        match a.recv().await {
            message @ ServerMessage::Ack { .. } => {
                let position = acks(&message)[0];
                let missing: Vec<u64> = (1..previous_ack).filter(|p| !heard.contains(p)).collect();
                assert!(
                    missing.is_empty(),
                    "the ack at {position} came before b's changes at {missing:?}, \
                     which were ordered before a's previous ack at {previous_ack}"
                );
                heard.insert(position);
                previous_ack = position;
                acked += 1;
            }
            ServerMessage::Broadcast { changes } | ServerMessage::CatchUp { changes, .. } => {
                heard.extend(changes.iter().map(|c| c.position));
            }
            ServerMessage::Presence { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acked, MESSAGES);
    server.shutdown().await;
}
