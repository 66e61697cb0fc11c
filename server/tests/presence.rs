//! Presence on the real server (SPEC §10): everyone on joining, updates to every session,
//! `userId` from the token and never from the client, bounds with typed errors that end
//! nothing, counted in `/metrics`, and never written to the database.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::Client;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use srvra_sync::core::model::slot::Slot;
use srvra_sync::core::protocol::presence::PresencePeer;
use srvra_sync::core::protocol::{ClientMessage, ServerMessage};
use srvra_sync_server::auth::{Auth, JwtVerifier};

/// The next `presence` message (others are skipped).
async fn next_presence(client: &mut Client) -> (Vec<PresencePeer>, bool) {
    loop {
        if let ServerMessage::Presence { peers, full } = client.recv().await {
            return (peers, full);
        }
    }
}

/// The next `error` message's code and whether it is fatal (presence is skipped).
async fn error(client: &mut Client) -> (String, bool) {
    loop {
        match client.recv().await {
            ServerMessage::Error { code, fatal, .. } => return (code, fatal),
            ServerMessage::Presence { .. } => continue,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

async fn say(client: &mut Client, tab: &str, state: serde_json::Value) {
    client
        .send(&ClientMessage::Presence {
            tab: tab.into(),
            state: Slot::of(state),
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_reaches_everyone_carries_the_token_user_and_is_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "presence-secret";
    let server = common::server(dir.path(), |c| {
        c.auth = Auth::Jwt(Box::new(JwtVerifier::secret(secret)));
    })
    .await;
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = |sub: &str| {
        encode(
            &Header::default(),
            &json!({ "sub": sub, "exp": exp, "rooms": { "*": "write" } }),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let (mut ada, _) =
        Client::join_with_token(server.addr, "ada-1", "r", 0, Some(&token("ada"))).await;
    assert_eq!(next_presence(&mut ada).await, (Vec::new(), true));
    ada.catch_up().await;
    say(
        &mut ada,
        "t1",
        json!({ "name": "Ada", "marker": "presence-only" }),
    )
    .await;
    // Its own update comes back too (the client filters its own tab out).
    let (peers, _) = next_presence(&mut ada).await;
    assert_eq!(peers[0].user_id.as_deref(), Some("ada"));

    // A joiner gets everyone at once, with the user the server knows.
    let (mut bob, _) =
        Client::join_with_token(server.addr, "bob-1", "r", 0, Some(&token("bob"))).await;
    let (peers, full) = next_presence(&mut bob).await;
    assert!(full);
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].client_id, "ada-1");
    assert_eq!(peers[0].user_id.as_deref(), Some("ada"));
    assert_eq!(
        peers[0].state,
        Slot::of(json!({ "name": "Ada", "marker": "presence-only" }))
    );

    // Ada leaves: Bob hears it at once.
    drop(ada);
    let (peers, full) = next_presence(&mut bob).await;
    assert!(!full);
    assert!(peers[0].state.is_absent());

    let (_, metrics) = common::http_get(server.addr, "/metrics", "").await;
    drop(metrics);
    drop(bob);
    server.shutdown().await;
    let db = rusqlite::Connection::open(dir.path().join("srvra-sync.db")).unwrap();
    for table in ["changes", "state"] {
        let rows: i64 = db
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "nothing of presence in {table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_presence_gets_typed_errors_and_ends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| c.presence.max_peers = 2).await;
    let (mut client, _) = Client::join(server.addr, "c", "r", 0).await;
    next_presence(&mut client).await;
    client.catch_up().await;
    say(&mut client, "t", json!([1, 2])).await;
    assert_eq!(error(&mut client).await, ("INVALID_PRESENCE".into(), false));
    say(&mut client, "t", json!({ "big": "x".repeat(5000) })).await;
    assert_eq!(
        error(&mut client).await,
        ("PRESENCE_TOO_LARGE".into(), false)
    );
    say(&mut client, "t1", json!({})).await;
    say(&mut client, "t2", json!({})).await;
    say(&mut client, "t3", json!({})).await;
    assert_eq!(error(&mut client).await, ("PRESENCE_FULL".into(), false));
    // The session goes on.
    let op = client.set("k", json!(1));
    let ack = client.submit(vec![op], false).await;
    assert!(matches!(ack, ServerMessage::Ack { ref rejected, .. } if rejected.is_empty()));
    let (_, metrics) = common::http_get(server.addr, "/metrics", "").await;
    assert!(metrics.contains("srvra_presence_tabs 2"), "{metrics}");
    assert!(
        metrics.contains("srvra_refused_total{reason=\"presence\"} 3"),
        "{metrics}"
    );
    server.shutdown().await;
}
