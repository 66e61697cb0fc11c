//! The SDK's sync loop (core `SyncClient`) against the real server in-process, over real
//! WebSockets on 127.0.0.1: convergence, offline work across a reload, exactly-once,
//! server restarts, rejections and fatal closes.

mod common;
mod harness;

use std::cell::RefCell;
use std::rc::Rc;

use harness::{config, Peer, Stored};
use serde_json::json;
use srvra_sync::core::protocol::ServerMessage;
use srvra_sync::core::sync::Status;

fn fresh() -> Rc<RefCell<Stored>> {
    Rc::new(RefCell::new(Stored::default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_converge_on_every_kind_of_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Peer::new(config(server.addr, "r", "a"), fresh(), true);
    let mut b = Peer::new(config(server.addr, "r", "b"), fresh(), true);
    a.until(10, Peer::synced).await;
    b.until(10, Peer::synced).await;

    a.change(|e| {
        e.set_state(
            "doc",
            json!({"title": "x", "tags": ["t"], "n": {"deep": 1}}),
        )
    })
    .unwrap();
    a.change(|e| e.increment("count", 2.0)).unwrap();
    b.change(|e| e.increment("count", 3.0)).unwrap();
    b.change(|e| e.append("log", json!("b1"))).unwrap();
    a.change(|e| e.append("log", json!("a1"))).unwrap();
    // A delta update: only the changed leaf travels.
    a.change(|e| {
        e.set_state(
            "doc",
            json!({"title": "y", "tags": ["t"], "n": {"deep": 1}}),
        )
    })
    .unwrap();
    let drafts = srvra_sync::core::model::batch::parse_entries(json!([
        {"key": "x", "value": 1},
        {"key": "y", "value": 2}
    ]))
    .unwrap();
    b.change(|e| e.batch(drafts)).unwrap();

    for _ in 0..3 {
        a.until(10, |p| {
            p.synced() && p.get("x") == json!(1) && p.get("count") == json!(5)
        })
        .await;
        b.until(10, |p| p.synced() && p.get("doc")["title"] == json!("y"))
            .await;
        a.idle(50).await;
        b.idle(50).await;
    }
    for key in ["doc", "count", "log", "x", "y"] {
        assert_eq!(a.get(key), b.get(key), "key {key}");
        assert_eq!(
            a.engine().version_of(key),
            b.engine().version_of(key),
            "version of {key}"
        );
    }
    assert_eq!(a.get("count"), json!(5));
    assert_eq!(a.get("log").as_array().unwrap().len(), 2);
    assert_eq!(
        a.get("doc"),
        json!({"title": "y", "tags": ["t"], "n": {"deep": 1}})
    );
    assert!(a.sync().replica().is_empty() && b.sync().replica().is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_changes_survive_a_reload_and_arrive_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut b = Peer::new(config(server.addr, "r", "b"), fresh(), true);
    let stored = fresh();
    let mut a = Peer::new(config(server.addr, "r", "a"), Rc::clone(&stored), true);
    a.until(10, Peer::synced).await;
    a.change(|e| e.increment("n", 1.0)).unwrap();
    a.until(10, Peer::synced).await;

    a.with_sync(|s, e| s.set_online(e, false));
    assert_eq!(a.status(), Status::Offline);
    for _ in 0..50 {
        a.change(|e| e.increment("n", 1.0)).unwrap();
    }
    a.change(|e| e.set_state("note", json!("offline"))).unwrap();
    assert_eq!(a.sync().replica().len(), 51);
    drop(a);

    // Reload while still offline: state and outbox come back from storage.
    let mut a = Peer::new(config(server.addr, "r", "a"), Rc::clone(&stored), false);
    assert_eq!(a.get("n"), json!(51));
    assert_eq!(a.sync().replica().len(), 51);
    a.with_sync(|s, e| s.set_online(e, true));
    a.until(10, Peer::synced).await;
    b.until(10, |p| {
        p.get("n") == json!(51) && p.get("note") == json!("offline")
    })
    .await;
    b.idle(300).await;
    assert_eq!(b.get("n"), json!(51), "no change applied twice");
    assert!(
        stored.borrow().disk.outbox_len() == 0,
        "acknowledged changes leave the outbox"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_changes_after_a_lost_ack_apply_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let stored = fresh();
    let mut a = Peer::new(config(server.addr, "r", "a"), Rc::clone(&stored), true);
    a.until(10, Peer::synced).await;
    for _ in 0..20 {
        a.change(|e| e.increment("n", 1.0)).unwrap();
    }
    // Reload before reading any ack: the outbox still holds all 20, some already applied.
    drop(a);
    let mut a = Peer::new(config(server.addr, "r", "a"), Rc::clone(&stored), true);
    a.until(10, Peer::synced).await;
    let mut b = Peer::new(config(server.addr, "r", "b"), fresh(), true);
    b.until(10, |p| p.synced() && p.get("n") == json!(20)).await;
    assert_eq!(a.get("n"), json!(20));
    assert_eq!(a.engine().version_of("n"), b.engine().version_of("n"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reconnect_by_themselves_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let addr = server.addr;
    let mut a = Peer::new(config(addr, "r", "a"), fresh(), true);
    let mut b = Peer::new(config(addr, "r", "b"), fresh(), true);
    a.until(10, Peer::synced).await;
    a.change(|e| e.set_state("k", json!(1))).unwrap();
    a.until(10, Peer::synced).await;
    server.shutdown().await;
    a.until(10, |p| p.status() != Status::Synced).await;
    a.change(|e| e.set_state("k", json!(2))).unwrap();

    let server = common::server(dir.path(), |c| c.listen = addr).await;
    a.until(20, Peer::synced).await;
    b.until(20, |p| p.synced() && p.get("k") == json!(2)).await;
    assert!(a.engine().statistics().reconnects >= 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_server_rejects_is_dropped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Peer::new(config(server.addr, "r", "a"), fresh(), true);
    let mut b = Peer::new(config(server.addr, "r", "b"), fresh(), true);
    a.until(10, Peer::synced).await;
    b.until(10, Peer::synced).await;
    // b goes offline and increments a number that a turns into a string meanwhile.
    b.change(|e| e.set_state("v", json!(1))).unwrap();
    b.until(10, Peer::synced).await;
    a.until(10, |p| p.get("v") == json!(1)).await;
    b.with_sync(|s, e| s.set_online(e, false));
    b.change(|e| e.increment("v", 1.0)).unwrap();
    a.change(|e| e.set_state("v", json!("text"))).unwrap();
    a.until(10, Peer::synced).await;
    let errors = b.engine_mut().on(
        srvra_sync::core::dispatch::event_bus::EventType::SyncError,
        srvra_sync::core::dispatch::registry::Priority::Normal,
    );
    b.with_sync(|s, e| s.set_online(e, true));
    b.until(10, |p| p.synced()).await;
    assert_eq!(b.get("v"), json!("text"));
    let dispatches = serde_json::to_string(&b.engine_mut().take_dispatches()).unwrap();
    assert!(dispatches.contains("TYPE_MISMATCH"), "{dispatches}");
    assert!(dispatches.contains(&format!("[{errors}]")), "{dispatches}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_stops_retrying_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.auth = srvra_sync_server::auth::Auth::Shared("right".into())
    })
    .await;
    let mut a = Peer::new(config(server.addr, "r", "a"), fresh(), false);
    a.token = Some("wrong".into());
    let errors = a.engine_mut().on(
        srvra_sync::core::dispatch::event_bus::EventType::SyncError,
        srvra_sync::core::dispatch::registry::Priority::Normal,
    );
    a.with_sync(|s, e| s.set_online(e, true));
    a.until(10, |p| p.status() == Status::Error).await;
    a.idle(400).await;
    assert_eq!(a.status(), Status::Error);
    assert_eq!(
        a.engine().statistics().reconnects,
        0,
        "a fatal close is not retried"
    );
    let reported = serde_json::to_value(a.engine_mut().take_dispatches()).unwrap();
    let errors: Vec<_> = reported
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["ids"] == json!([errors]))
        .collect();
    assert_eq!(errors.len(), 1, "reported once: {errors:?}");
    assert_eq!(errors[0]["payload"]["error"]["code"], "UNAUTHORIZED");

    let mut ok = Peer::new(config(server.addr, "r", "b"), fresh(), false);
    ok.token = Some("right".into());
    ok.with_sync(|s, e| s.set_online(e, true));
    ok.until(10, Peer::synced).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_stays_reconnecting_past_retry_attempts() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut a = Peer::new(config(port, "r", "a"), fresh(), true);
    // An ordinary outage is not a refusal (issue 27): past `retryAttempts` (3) the status
    // stays `reconnecting` while it retries.
    a.until(10, |p| p.engine().statistics().reconnects >= 4)
        .await;
    assert_eq!(a.status(), Status::Reconnecting);
    let stats = a.engine().statistics();
    assert!(stats.reconnects >= 2, "{stats:?}");
    a.change(|e| e.set_state("offline-ok", json!(true)))
        .unwrap();
    assert_eq!(a.get("offline-ok"), json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_left_after_heartbeat_timeout() {
    // Accepts WebSocket connections, then stays silent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                held.push(ws);
            }
        }
    });
    let mut a = Peer::new(config(addr, "r", "a"), fresh(), true);
    a.until(10, |p| p.engine().statistics().reconnects >= 2)
        .await;
    assert!(accepted.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert_ne!(a.status(), Status::Synced);
}

/// Event names and payloads of the deliveries `peer` queued, in order.
fn events(peer: &mut Peer) -> Vec<(String, serde_json::Value)> {
    let queued = serde_json::to_value(peer.engine_mut().take_dispatches()).unwrap();
    queued
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["k"] == "evt")
        .map(|d| (d["type"].as_str().unwrap().to_owned(), d["payload"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_error_follows_exactly_retry_attempts_failed_attempts() {
    use srvra_sync::core::dispatch::event_bus::EventType;
    use srvra_sync::core::dispatch::registry::Priority;
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut settings = config(port, "r", "a");
    settings["retryAttempts"] = json!(2);
    let mut a = Peer::new(settings, fresh(), false);
    for event in [
        EventType::Reconnecting,
        EventType::NetworkStatus,
        EventType::SyncError,
    ] {
        a.engine_mut().on(event, Priority::Normal);
    }
    a.with_sync(|s, e| s.set_online(e, true));
    a.until(10, |p| p.engine().statistics().reconnects >= 2)
        .await;
    a.idle(300).await;
    assert_eq!(a.status(), Status::Reconnecting);
    let seen = events(&mut a);
    let names: Vec<&str> = seen.iter().map(|(name, _)| name.as_str()).collect();
    let error_at = names.iter().position(|n| *n == "sync-error").unwrap();
    let before: Vec<_> = seen[..error_at].iter().collect();
    let attempts: Vec<_> = before
        .iter()
        .filter(|(name, _)| name == "reconnecting")
        .map(|(_, payload)| payload["attempt"].clone())
        .collect();
    assert_eq!(attempts, [json!(1), json!(2)], "{names:?}");
    assert!(
        !seen
            .iter()
            .any(|(name, payload)| name == "network-status" && payload == "online"),
        "no attempt reported online: {seen:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "sync-error").count(),
        1,
        "one sync-error per outage: {names:?}"
    );
    assert_eq!(seen[error_at].1["error"]["code"], "CONNECTION_FAILED");
    let message = seen[error_at].1["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("2 connection attempts"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_held_for_the_app_does_not_keep_the_status_at_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut a = Peer::new(config(server.addr, "r", "a"), fresh(), true);
    let mut b = Peer::new(config(server.addr, "r", "b"), fresh(), false);
    b.with_sync(|s, _| s.set_merge_rule("k", "manual")).unwrap();
    a.until(10, Peer::synced).await;
    a.change(|e| e.set_state("k", json!("a"))).unwrap();
    a.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    // b writes k without having seen a's change: a conflict b's app must settle.
    b.change(|e| e.set_state("k", json!("b"))).unwrap();
    b.change(|e| e.set_state("other", json!(1))).unwrap();
    b.with_sync(|s, e| s.set_online(e, true));
    b.until(10, |p| {
        !p.sync().pending_conflicts(p.engine()).is_empty() && p.sync().replica().len() == 1
    })
    .await;
    b.until(10, Peer::synced).await;
    assert_eq!(
        b.status(),
        Status::Synced,
        "everything sendable was acknowledged"
    );
    assert_eq!(b.engine().statistics().conflicts_pending, 1);
    assert_eq!(b.get("k"), json!("b"), "the held change stays visible");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_round_trip_is_measured_from_the_first_answer_not_the_first_heartbeat() {
    // Issue 27: `lastRoundTripMs` stayed null after plenty of traffic (only pongs set it,
    // and the first ping goes out after `heartbeatInterval`).
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let mut settings = config(server.addr, "r", "a");
    settings["heartbeatInterval"] = json!(60_000);
    let mut a = Peer::new(settings, fresh(), true);
    a.until(10, Peer::synced).await;
    let after_welcome = a.engine().statistics().last_round_trip_ms;
    assert!(
        after_welcome.is_some_and(|ms| ms >= 0.0),
        "{after_welcome:?}"
    );
    a.change(|e| e.set_state("k", json!(1))).unwrap();
    a.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    assert!(a.engine().statistics().last_round_trip_ms.is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_proves_its_client_id_so_a_copied_id_cannot_speak_for_it() {
    // Issue 29 item 1, with the SDK's loop: it says hello with the secret stored with its
    // id; a hello that copies the id (seen in presence) is refused, and the SDK's writes,
    // also after a reload, are stored and reach others.
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let stored = fresh();
    let mut a = Peer::new(config(server.addr, "r", "victim"), Rc::clone(&stored), true);
    a.until(10, Peer::synced).await;
    a.change(|e| e.set_state("k", json!(1))).unwrap();
    a.until(10, |p| p.synced() && p.sync().replica().is_empty())
        .await;
    let (mut thief, answer) =
        common::Client::hello_with_secret(server.addr, "victim", "r", None).await;
    assert!(
        matches!(&answer, ServerMessage::Error { code, .. } if code == "FORBIDDEN"),
        "{answer:?}"
    );
    assert_eq!(thief.closed_with().await, 4007);
    drop(a);
    // A reload of the same storage draws a new secret, and presents the stored one.
    let mut a = Peer::new(config(server.addr, "r", "victim"), stored, true);
    a.until(10, Peer::synced).await;
    a.change(|e| e.set_state("k", json!(2))).unwrap();
    let mut b = Peer::new(config(server.addr, "r", "b"), fresh(), true);
    b.until(10, |p| p.get("k") == json!(2)).await;
    server.shutdown().await;
}
