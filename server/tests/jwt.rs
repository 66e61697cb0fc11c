//! JWT auth over real WebSockets (SPEC §11): rooms granted by pattern, read-only access,
//! expiry at hello and during a session, client ids bound to their user, and the pace of
//! refused attempts.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Client;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use srvra_sync::core::protocol::ServerMessage;
use srvra_sync_server::auth::{Auth, JwtVerifier};

const SECRET: &str = "test-secret-of-the-jwt-suite";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `sub`, valid `ttl` seconds from now (negative: expired), with `rooms`.
fn token(sub: &str, ttl: i64, rooms: Value) -> String {
    let exp = (now() as i64 + ttl) as u64;
    let claims = json!({ "sub": sub, "exp": exp, "rooms": rooms });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn jwt_server(dir: &std::path::Path) -> srvra_sync_server::RunningServer {
    common::server(dir, |c| {
        c.auth = Auth::Jwt(Box::new(JwtVerifier::secret(SECRET)));
        c.guards.auth_failures_per_minute = 1000;
    })
    .await
}

/// Says hello with `token`; returns the welcome's `acknowledged`, or the close code.
async fn hello(
    addr: std::net::SocketAddr,
    id: &str,
    room: &str,
    token: Option<&str>,
) -> Result<(Client, u64), u16> {
    match Client::hello(addr, id, room, 0, token).await {
        (client, ServerMessage::Welcome { acknowledged, .. }) => Ok((client, acknowledged)),
        (mut client, ServerMessage::Error { .. }) => Err(client.closed_with().await),
        (_, other) => panic!("expected welcome or error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_granted_by_pattern_and_read_access_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    let rooms = json!({ "team-*": "write", "public": "read" });
    let ada = token("ada", 600, rooms);

    let (mut writer, _) = hello(server.addr, "ada-1", "team-a", Some(&ada))
        .await
        .unwrap();
    writer.catch_up().await;
    let op = writer.set("k", json!(1));
    let ack = writer.submit(vec![op], false).await;
    assert!(matches!(ack, ServerMessage::Ack { ref rejected, .. } if rejected.is_empty()));

    assert_eq!(
        hello(server.addr, "ada-2", "other", Some(&ada)).await.err(),
        Some(4007),
        "a room no pattern grants is FORBIDDEN"
    );

    let (mut reader, _) = hello(server.addr, "ada-3", "public", Some(&ada))
        .await
        .unwrap();
    reader.catch_up().await;
    let op = reader.set("k", json!("no"));
    let ack = reader.submit(vec![op], false).await;
    let ServerMessage::Ack { acks, rejected, .. } = ack else {
        panic!("expected ack")
    };
    assert!(acks.is_empty());
    assert_eq!(rejected[0].code, "FORBIDDEN");
    // Nothing was stored in the read-only room.
    let (_, head) = Client::join_with_token(server.addr, "ada-4", "public", 0, Some(&ada)).await;
    assert_eq!(head, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_missing_and_expired_tokens_are_refused_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    let all = json!({ "*": "write" });
    assert_eq!(hello(server.addr, "c", "r", None).await.err(), Some(4003));
    assert_eq!(
        hello(server.addr, "c", "r", Some("not.a.jwt")).await.err(),
        Some(4003)
    );
    let forged = encode(
        &Header::default(),
        &json!({ "sub": "x", "exp": now() + 600, "rooms": all }),
        &EncodingKey::from_secret(b"another secret"),
    )
    .unwrap();
    assert_eq!(
        hello(server.addr, "c", "r", Some(&forged)).await.err(),
        Some(4003)
    );
    let expired = token("x", -5, all.clone());
    assert_eq!(
        hello(server.addr, "c", "r", Some(&expired)).await.err(),
        Some(4006),
        "TOKEN_EXPIRED, which clients retry with a fresh token"
    );
    let no_exp = encode(
        &Header::default(),
        &json!({ "sub": "x", "rooms": all }),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        hello(server.addr, "c", "r", Some(&no_exp)).await.err(),
        Some(4003)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_token_with_a_huge_exp_is_served_not_a_panic() {
    // Issue 29 item 6: `exp` 1e19 or u64::MAX panicked the session's task ("overflow when
    // adding duration to instant"); the client saw its connection drop.
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    for (i, exp) in [json!(10_000_000_000_000_000_000u64), json!(u64::MAX)]
        .into_iter()
        .enumerate()
    {
        let claims = json!({ "sub": format!("u{i}"), "exp": exp, "rooms": { "*": "write" } });
        let token = encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        let (mut client, _) = hello(server.addr, &format!("huge-{i}"), "r", Some(&token))
            .await
            .expect("welcomed");
        client.catch_up().await;
        let op = client.set("k", json!(i));
        let ack = client.submit(vec![op], false).await;
        assert!(
            matches!(&ack, ServerMessage::Ack { acks, .. } if acks.len() == 1),
            "{ack:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_with_token_expired_when_its_token_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    let short = token("ada", 2, json!({ "*": "write" }));
    let (mut client, _) = hello(server.addr, "ada-1", "r", Some(&short))
        .await
        .unwrap();
    client.catch_up().await;
    let started = std::time::Instant::now();
    assert_eq!(client.closed_with().await, 4006);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_belongs_to_its_first_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    let all = json!({ "*": "write" });
    let (ada, eve) = (token("ada", 600, all.clone()), token("eve", 600, all));
    let (mut first, _) = hello(server.addr, "device-1", "r", Some(&ada))
        .await
        .unwrap();
    first.catch_up().await;
    let op = first.set("k", json!(1));
    first.submit(vec![op], false).await;
    drop(first);
    // Another user cannot take the id: no replay, no reading its sequence, no suppression.
    assert_eq!(
        hello(server.addr, "device-1", "r", Some(&eve)).await.err(),
        Some(4007)
    );
    // The owner still can, and sees its own sequence.
    let (_, acknowledged) = hello(server.addr, "device-1", "r", Some(&ada))
        .await
        .unwrap();
    assert_eq!(acknowledged, 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_hellos_from_one_address_are_paced() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.auth = Auth::Jwt(Box::new(JwtVerifier::secret(SECRET)));
        c.guards.auth_failures_per_minute = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            hello(server.addr, "c", "r", Some("wrong")).await.err(),
            Some(4003)
        );
    }
    // Past the limit a wrong token is RATE_LIMITED, and answered only after a delay...
    let started = std::time::Instant::now();
    assert_eq!(
        hello(server.addr, "c", "r", Some("wrong")).await.err(),
        Some(4008)
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    // ...while the address's honest client with the right token still gets in (issue 29:
    // 1,970 wrong tokens from one address locked its honest client out).
    let good = token("ada", 600, json!({ "*": "write" }));
    assert!(hello(server.addr, "c", "r", Some(&good)).await.is_ok());
    let (status, _) = common::http_get(server.addr, "/metrics", "").await;
    assert_eq!(
        status, 429,
        "wrong metrics tokens count as refused attempts too"
    );
    server.shutdown().await;
}
