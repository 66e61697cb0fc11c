//! Conflicts scoped to paths (SPEC 19), through the SDK's sync loop and the real server
//! over WebSockets on 127.0.0.1: a per-path rule scopes detection, the `conflict` payload
//! and `resolve(value)` to its path, and concurrent changes of other paths of the key
//! merge. Issue 27: a manual rule on `tasks.*.title` once reported the whole `tasks` list
//! and `resolve('…')` replaced the list with a string.

mod common;
mod harness;

use std::cell::RefCell;
use std::rc::Rc;

use harness::{config, Peer, Stored};
use serde_json::{json, Value};
use srvra_sync::core::dispatch::events::ConflictEvent;
use srvra_sync::core::Engine;

fn fresh() -> Rc<RefCell<Stored>> {
    Rc::new(RefCell::new(Stored::default()))
}

fn held(peer: &Peer) -> Vec<ConflictEvent> {
    peer.sync().pending_conflicts(peer.engine())
}

/// Two synced peers of room `room`, each with `rules`, after `setup` ran on the first.
async fn pair(
    addr: std::net::SocketAddr,
    room: &str,
    rules: &[(&str, &str)],
    setup: Value,
) -> (Peer, Peer) {
    let mut a = Peer::new(config(addr, room, "alice"), fresh(), true);
    let mut b = Peer::new(config(addr, room, "bob"), fresh(), true);
    for peer in [&mut a, &mut b] {
        for (pattern, strategy) in rules {
            peer.with_sync(|s, _| s.set_merge_rule(pattern, strategy))
                .unwrap();
        }
    }
    for (key, value) in setup.as_object().unwrap() {
        a.change(|e| e.set_state(key, value.clone())).unwrap();
    }
    a.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    let keys: Vec<String> = setup.as_object().unwrap().keys().cloned().collect();
    b.until(10, |p| {
        p.synced() && keys.iter().all(|k| !p.get(k).is_null())
    })
    .await;
    (a, b)
}

/// `late` makes its change offline first (an earlier clock), `early` makes its own and
/// syncs; then `late` comes back: its change arrives last.
async fn concurrently(
    late: &mut Peer,
    late_change: impl FnOnce(&mut Engine),
    early: &mut Peer,
    early_change: impl FnOnce(&mut Engine),
) {
    late.with_sync(|s, e| s.set_online(e, false));
    late.change(late_change);
    early.idle(20).await;
    early.change(early_change);
    early
        .until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    late.with_sync(|s, e| s.set_online(e, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_rule_on_a_path_reports_and_resolves_that_path_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let tasks = json!([
        {"title": "Write Q3 report", "done": false},
        {"title": "Book flights", "done": false}
    ]);
    let (mut a, mut b) = pair(
        server.addr,
        "todo",
        &[("tasks.*.title", "manual")],
        json!({ "tasks": tasks }),
    )
    .await;

    // Bob goes offline and renames the first task; Alice renames it too and ticks the
    // second task off.
    b.with_sync(|s, e| s.set_online(e, false));
    b.change(|e| e.set_state("tasks.0.title", json!("Write Q3 report (draft)")))
        .unwrap();
    a.change(|e| e.set_state("tasks.0.title", json!("Write the Q3 report")))
        .unwrap();
    a.change(|e| e.set_state("tasks.1.done", json!(true)))
        .unwrap();
    a.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    b.with_sync(|s, e| s.set_online(e, true));
    b.until(10, |p| !held(p).is_empty()).await;

    let conflicts = held(&b);
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(c.key, "tasks");
    assert_eq!(c.path, "tasks.0.title");
    assert_eq!(
        c.client_value.as_deref(),
        Some(&json!("Write Q3 report (draft)"))
    );
    assert_eq!(
        c.server_value.as_deref(),
        Some(&json!("Write the Q3 report"))
    );
    assert_eq!(c.base_value.as_deref(), Some(&json!("Write Q3 report")));

    let id = c.id.unwrap();
    b.with_sync(|s, e| s.resolve_conflict(e, id, Some(json!("Write Q3 report (final)"))))
        .unwrap();
    let expected = json!([
        {"title": "Write Q3 report (final)", "done": false},
        {"title": "Book flights", "done": true}
    ]);
    b.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    a.until(10, |p| p.get("tasks") == expected).await;
    assert_eq!(b.get("tasks"), expected);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_toggled_while_another_is_renamed_is_no_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let (mut a, mut b) = pair(
        server.addr,
        "todo",
        &[("task:*.title", "manual")],
        json!({ "task:1": {"title": "Write Q3 report", "done": false} }),
    )
    .await;

    b.with_sync(|s, e| s.set_online(e, false));
    b.change(|e| e.set_state("task:1.title", json!("Write Q3 report (draft)")))
        .unwrap();
    a.change(|e| e.set_state("task:1.done", json!(true)))
        .unwrap();
    a.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    b.with_sync(|s, e| s.set_online(e, true));
    b.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    let expected = json!({"title": "Write Q3 report (draft)", "done": true});
    a.until(10, |p| p.get("task:1") == expected).await;
    assert_eq!(b.get("task:1"), expected);
    assert!(held(&b).is_empty(), "no conflict: {:?}", held(&b));
    assert_eq!(b.engine().statistics().conflicts, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_of_different_fields_both_survive_last_write_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let (mut a, mut b) = pair(
        server.addr,
        "doc",
        &[],
        json!({ "doc": {"title": "t", "body": "b"} }),
    )
    .await;

    // Bob's change is made first (an earlier clock) and arrives last: under the old
    // key-wide detection, last-write-wins dropped it.
    concurrently(
        &mut b,
        |e| {
            e.set_state("doc.body", json!("Bob's body")).unwrap();
        },
        &mut a,
        |e| {
            e.set_state("doc.title", json!("Alice's title")).unwrap();
        },
    )
    .await;
    b.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    let expected = json!({"title": "Alice's title", "body": "Bob's body"});
    a.until(10, |p| p.get("doc") == expected).await;
    assert_eq!(b.get("doc"), expected);

    // The same field still conflicts, and the later clock wins.
    concurrently(
        &mut b,
        |e| {
            e.set_state("doc.title", json!("Bob's title")).unwrap();
        },
        &mut a,
        |e| {
            e.set_state("doc.title", json!("Alice's second title"))
                .unwrap();
        },
    )
    .await;
    b.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    b.until(10, |p| {
        p.get("doc")["title"] == json!("Alice's second title")
    })
    .await;
    assert_eq!(b.engine().statistics().conflicts, 1);
    server.shutdown().await;
}
