//! Several server instances on one PostgreSQL database (SPEC §12): each test starts its
//! own throw-away cluster (`scripts/pg-cluster.sh`) and real instances on loopback.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::processes::{spawn_server, PgCluster};
use common::{item, Client};
use serde_json::json;
use srvra_sync::core::model::operation::OpId;
use srvra_sync::core::protocol::{ClientMessage, Committed, ServerMessage};
use srvra_sync_server::RunningServer;

/// An in-process instance on `url`.
async fn instance(
    url: &str,
    tune: impl FnOnce(&mut srvra_sync_server::ServerConfig),
) -> RunningServer {
    let dir = tempfile::tempdir().unwrap();
    common::server(dir.path(), |c| {
        c.postgres = Some(url.to_owned());
        c.head_check_interval = Duration::from_millis(200);
        tune(c);
    })
    .await
}

/// `N` instances with the default settings on the database at `url`.
async fn instances<const N: usize>(url: &str) -> [RunningServer; N] {
    let mut servers = Vec::with_capacity(N);
    for _ in 0..N {
        servers.push(instance(url, |_| {}).await);
    }
    servers
        .try_into()
        .unwrap_or_else(|_| unreachable!("N servers were started"))
}

/// The acked ids and positions of an ack.
fn acks(message: ServerMessage) -> Vec<(OpId, u64)> {
    match message {
        ServerMessage::Ack { acks, rejected, .. } => {
            assert!(rejected.is_empty(), "rejected: {rejected:?}");
            acks
        }
        other => panic!("expected ack, got {other:?}"),
    }
}

/// The next broadcast's changes (skipping presence).
async fn broadcast(client: &mut Client) -> Vec<Committed> {
    loop {
        match client.recv().await {
            ServerMessage::Broadcast { changes } => return changes,
            ServerMessage::Presence { .. } => continue,
            other => panic!("expected broadcast, got {other:?}"),
        }
    }
}

/// Every change a new client joining at 0 is served, from the log.
async fn log_via(addr: std::net::SocketAddr, id: &str) -> Vec<Committed> {
    let (mut reader, _) = Client::join(addr, id, "room", 0).await;
    reader
        .catch_up()
        .await
        .into_iter()
        .flat_map(|part| match part {
            ServerMessage::CatchUp { changes, .. } => changes,
            other => panic!("expected catch-up, got {other:?}"),
        })
        .collect()
}

/// The room's head and every key (sorted) as a snapshot from the instance at `addr`.
async fn snapshot_via(
    addr: std::net::SocketAddr,
    id: &str,
) -> (u64, Vec<(String, Option<serde_json::Value>, u64)>) {
    let (mut client, answer) = Client::greet(addr, id, "room", 0, None, true).await;
    let head = match answer {
        ServerMessage::Welcome { position, .. } => position,
        other => panic!("expected welcome, got {other:?}"),
    };
    let mut entries: Vec<_> = client
        .catch_up()
        .await
        .into_iter()
        .flat_map(|part| match part {
            ServerMessage::Snapshot { entries, .. } => entries,
            other => panic!("expected snapshot, got {other:?}"),
        })
        .map(|e| (e.key, e.value.as_deref().cloned(), e.version))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    (head, entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_on_three_instances_receive_each_others_changes() {
    let pg = PgCluster::start();
    let servers: [RunningServer; 3] = instances(&pg.url).await;
    let mut clients = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let (mut client, _) = Client::join(server.addr, &format!("c{i}"), "room", 0).await;
        client.catch_up().await;
        clients.push(client);
    }
    for writer in 0..3 {
        let op = clients[writer].set("k", json!(writer));
        let id = op.id.clone();
        let position = acks(clients[writer].submit(vec![op], false).await)[0].1;
        assert_eq!(position, writer as u64 + 1);
        for reader in (0..3).filter(|r| *r != writer) {
            let changes = broadcast(&mut clients[reader]).await;
            assert_eq!(changes.len(), 1);
            assert_eq!((changes[0].position, &changes[0].op.id), (position, &id));
        }
    }
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_different_instances_keep_one_order_without_gaps() {
    let pg = PgCluster::start();
    let servers: [RunningServer; 3] = instances(&pg.url).await;
    let mut writers = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let addr = server.addr;
        writers.push(tokio::spawn(async move {
            let (mut client, _) = Client::join(addr, &format!("w{i}"), "room", 0).await;
            client.catch_up().await;
            let mut acked = Vec::new();
            for round in 0..40u64 {
                // The same keys from every writer: conflicts settled by last-write-wins.
                let ops = (0..5)
                    .map(|k| client.set(&format!("k{k}"), item(round)))
                    .collect();
                acked.extend(acks(client.submit(ops, false).await));
            }
            acked
        }));
    }
    let mut positions = Vec::new();
    let mut ids = HashSet::new();
    for writer in writers {
        for (id, position) in writer.await.unwrap() {
            assert!(ids.insert(id), "an id acked twice");
            positions.push(position);
        }
    }
    positions.sort_unstable();
    let total = positions.len() as u64;
    assert_eq!(total, 3 * 40 * 5);
    assert_eq!(
        positions,
        (1..=total).collect::<Vec<_>>(),
        "gaps or repeats"
    );
    // Every instance serves the same log, in the same order.
    let mut logs = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let log = log_via(server.addr, &format!("r{i}")).await;
        let order: Vec<_> = log.iter().map(|c| (c.position, c.op.id.clone())).collect();
        assert_eq!(order.len() as u64, total);
        logs.push(order);
    }
    assert_eq!(logs[0], logs[1]);
    assert_eq!(logs[0], logs[2]);
    // And the same state at the head.
    let mut states = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let (head, entries) = snapshot_via(server.addr, &format!("s{i}")).await;
        assert_eq!(head, total);
        states.push(entries);
    }
    assert_eq!(states[0], states[1]);
    assert_eq!(states[0], states[2]);
    assert_eq!(states[0].len(), 5);
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resend_through_another_instance_is_applied_once() {
    let pg = PgCluster::start();
    let [one, two] = instances(&pg.url).await;
    // The room is loaded on instance two before the changes exist there.
    let (mut watcher, _) = Client::join(two.addr, "w", "room", 0).await;
    watcher.catch_up().await;
    let (mut a, _) = Client::join(one.addr, "a", "room", 0).await;
    a.catch_up().await;
    let ops: Vec<_> = (0..5).map(|i| a.set(&format!("k{i}"), item(i))).collect();
    let first = acks(a.submit(ops.clone(), false).await);
    drop(a);
    // The client moves to instance two and resends them with one new change.
    let (mut moved, _) = Client::join(two.addr, "a", "room", 0).await;
    moved.catch_up().await;
    moved.seq = 5;
    let mut resend = ops;
    resend.push(moved.set("k5", item(5)));
    let mut second = acks(moved.submit(resend, false).await);
    second.sort_by_key(|(id, _)| id.seq);
    assert_eq!(
        &second[..5],
        &first[..],
        "the resent ids keep their positions"
    );
    assert_eq!(second[5].1, 6);
    assert_eq!(log_via(one.addr, "r1").await.len(), 6);
    assert_eq!(log_via(two.addr, "r2").await.len(), 6);
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_an_instance_mid_burst_loses_no_acknowledged_change() {
    let pg = PgCluster::start();
    let survivor = instance(&pg.url, |_| {}).await;
    let data = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_server(&[
        "--postgres",
        &pg.url,
        "--data",
        data.path().to_str().unwrap(),
    ]);
    let (mut a, _) = Client::join(addr, "a", "room", 0).await;
    a.catch_up().await;
    let mut acked = Vec::new();
    for round in 0..30u64 {
        let ops = (0..20)
            .map(|i| a.set(&format!("k{i}"), item(round)))
            .collect();
        acked.extend(
            acks(a.submit(ops, false).await)
                .into_iter()
                .map(|(id, _)| id),
        );
    }
    // One more message in flight when the instance dies.
    let ops = (0..20).map(|i| a.set(&format!("k{i}"), item(99))).collect();
    a.send(&ClientMessage::Changes { ops, atomic: false }).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let log = log_via(survivor.addr, "b").await;
    let served: HashSet<_> = log.iter().map(|c| c.op.id.clone()).collect();
    assert!(
        acked.iter().all(|id| served.contains(id)),
        "an acked change is lost"
    );
    // Committed or not, the in-flight message is all or nothing, and the order has no gap.
    assert!(
        log.len() == 600 || log.len() == 620,
        "{} changes",
        log.len()
    );
    let positions: Vec<_> = log.iter().map(|c| c.position).collect();
    assert_eq!(positions, (1..=log.len() as u64).collect::<Vec<_>>());
    survivor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_instance_serves_catch_up_and_snapshots_after_compaction() {
    let pg = PgCluster::start();
    let writer = instance(&pg.url, |c| {
        c.retain = 5;
        c.compaction_interval = Duration::from_millis(100);
    })
    .await;
    let reader = instance(&pg.url, |_| {}).await;
    let (mut a, _) = Client::join(writer.addr, "a", "room", 0).await;
    a.catch_up().await;
    for i in 0..30 {
        let op = a.set(&format!("k{}", i % 4), item(i));
        acks(a.submit(vec![op], false).await);
    }
    // Compaction on the writer, observed through the shared storage by the reader.
    let mut compacted = false;
    for _ in 0..100 {
        let (mut probe, _) = Client::join(reader.addr, "p", "room", 0).await;
        let parts = probe.catch_up().await;
        compacted = matches!(parts[0], ServerMessage::Snapshot { .. });
        if compacted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(compacted, "a joiner from 0 never got a snapshot");
    let (head, entries) = snapshot_via(reader.addr, "s").await;
    assert_eq!(head, 30);
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[1].1, Some(item(29)));
    // A joiner that is only a little behind gets the log from the other instance.
    let (mut b, _) = Client::join(reader.addr, "b", "room", 28).await;
    let parts = b.catch_up().await;
    assert_eq!(common::catch_up_len(&parts), 2);
    writer.shutdown().await;
    reader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_migrates_once_and_a_far_behind_instance_reloads_the_room() {
    use srvra_sync_server::store::postgres::Postgres;
    use srvra_sync_server::store::{CommitBatch, Missed, Storage};
    let pg = PgCluster::start();
    tokio::task::block_in_place(|| {
        // Two instances starting on one database: the schema is created once.
        let first = Postgres::connect(&pg.url).expect("connects");
        let second = Postgres::connect(&pg.url).expect("connects again");
        let changes: Vec<Committed> = (1..=10)
            .map(|position| Committed {
                position,
                op: srvra_sync::core::model::operation::Operation {
                    id: OpId {
                        client: "a".into(),
                        seq: position,
                    },
                    key: "k".into(),
                    fields: Vec::new(),
                    kind: srvra_sync::core::model::operation::OpKind::Set(item(position).into()),
                    base_version: position - 1,
                    timestamp: 0.0,
                    batch: None,
                    conflict: Default::default(),
                },
                resolution: None,
            })
            .collect();
        let write = first.begin("room").unwrap();
        write
            .commit(&CommitBatch {
                changes: changes.iter().collect(),
                keys: Vec::new(),
                // One write of a group carries each sender's watermark.
                watermarks: vec![("a", 10), ("b", 4)],
                head: 10,
            })
            .unwrap();
        // A watermark never moves back.
        first
            .begin("room")
            .unwrap()
            .commit(&CommitBatch {
                watermarks: vec![("b", 3), ("c", 1)],
                head: 10,
                ..CommitBatch::default()
            })
            .unwrap();
        match second.missed("room", 7).unwrap() {
            Missed::Changes {
                changes, compacted, ..
            } => {
                assert_eq!(compacted, 0);
                assert_eq!(
                    changes.iter().map(|c| c.position).collect::<Vec<_>>(),
                    [8, 9, 10]
                );
            }
            other => panic!("expected changes, got {other:?}"),
        }
        assert_eq!(first.compact("room", 10, 2, u64::MAX).unwrap(), 8);
        // The log no longer holds what an instance at 3 missed: it reloads the room.
        match second.missed("room", 3).unwrap() {
            Missed::Room(mut row) => {
                assert_eq!((row.head, row.compacted), (10, 8));
                row.watermarks.sort();
                assert_eq!(
                    row.watermarks,
                    [("a".into(), 10), ("b".into(), 4), ("c".into(), 1)]
                );
            }
            other => panic!("expected the room, got {other:?}"),
        }
        assert_eq!(
            second.heads(&["room".into(), "none".into()]).unwrap(),
            [("room".into(), 10)]
        );
    });
    let (client, connection) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions = client
        .query("SELECT version FROM srvra_schema", &[])
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_typed_errors_and_the_shared_rooms_keep_working() {
    use srvra_sync::core::model::operation::OpKind;
    let pg = PgCluster::start();
    let server = instance(&pg.url, |c| c.room_limits.max_value_bytes = 1000).await;
    // A NUL in a room name (PostgreSQL text cannot hold one) is a malformed hello.
    let (mut bad, answer) = Client::hello(server.addr, "x", "ro\0om", 0, None).await;
    assert!(
        matches!(&answer, ServerMessage::Error { code, .. } if code == "MALFORMED_FRAME"),
        "{answer:?}"
    );
    assert_eq!(bad.closed_with().await, 4000);
    let (mut a, _) = Client::join(server.addr, "a", "room", 0).await;
    a.catch_up().await;
    let good = a.set("k", item(1));
    acks(a.submit(vec![good], false).await);
    let nul = a.set("k\0", item(2));
    let large = a.op("big", OpKind::Set(json!("x".repeat(2000)).into()));
    let answer = a.submit(vec![nul, large], false).await;
    let ServerMessage::Ack { rejected, acks, .. } = answer else {
        panic!("expected ack, got {answer:?}");
    };
    assert!(acks.is_empty());
    let codes: Vec<_> = rejected.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["INVALID_KEY", "VALUE_TOO_LARGE"]);
    // Nothing stored was touched, and the room takes more changes.
    let next = a.set("k", item(3));
    assert_eq!(acks_of(a.submit(vec![next], false).await), [2]);
    let (_, entries) = snapshot_via(server.addr, "s").await;
    assert_eq!(entries, [("k".to_owned(), Some(item(3)), 2)]);
    server.shutdown().await;
}

/// The positions of an ack.
fn acks_of(message: ServerMessage) -> Vec<u64> {
    acks(message).into_iter().map(|(_, p)| p).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_recover_when_the_database_drops_their_connections() {
    let pg = PgCluster::start();
    // No periodic head check: only notifications tell instance two about changes.
    let quiet = |c: &mut srvra_sync_server::ServerConfig| {
        c.head_check_interval = Duration::from_secs(3600);
    };
    let (one, two) = (
        instance(&pg.url, quiet).await,
        instance(&pg.url, quiet).await,
    );
    let (mut a, _) = Client::join(one.addr, "a", "room", 0).await;
    a.catch_up().await;
    let (mut b, _) = Client::join(two.addr, "b", "room", 0).await;
    b.catch_up().await;
    let op = a.set("k", item(1));
    acks(a.submit(vec![op], false).await);
    assert_eq!(broadcast(&mut b).await[0].position, 1);

    // The database ends every other session: pooled and listening connections alike.
    let (admin, connection) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let ended = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    assert!(ended.len() >= 4, "{} sessions ended", ended.len());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Writes go on through new connections, and instance two hears of them again.
    let op = a.set("k", item(2));
    assert_eq!(acks_of(a.submit(vec![op], false).await), [2]);
    assert_eq!(broadcast(&mut b).await[0].position, 2);
    one.shutdown().await;
    two.shutdown().await;
}
