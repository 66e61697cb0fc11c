//! Malformed, oversized, unauthorised and out-of-order frames get a typed error and a
//! documented close code, change nothing, and do not disturb other clients.

mod common;

use common::Client;
use futures_util::SinkExt;
use serde_json::json;
use srvra_sync::core::protocol::{encode, ClientMessage, ServerMessage, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;

async fn raw_then_close_code(
    addr: std::net::SocketAddr,
    frames: Vec<Message>,
) -> (Option<String>, u16) {
    let mut client = Client {
        ws: common::connect(addr).await,
        id: "raw".into(),
        seq: 0,
    };
    for frame in frames {
        if client.ws.send(frame).await.is_err() {
            break;
        }
    }
    let mut code = None;
    loop {
        use futures_util::StreamExt;
        match tokio::time::timeout(std::time::Duration::from_secs(10), client.ws.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => {
                if let Ok(ServerMessage::Error {
                    code: c,
                    fatal: true,
                    ..
                }) = srvra_sync::core::protocol::decode(&bytes, Default::default())
                {
                    code = Some(c);
                }
            }
            Ok(Some(Ok(Message::Close(Some(frame))))) => return (code, u16::from(frame.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("connection ended without a close frame: {other:?}"),
        }
    }
}

fn hello(token: Option<&str>) -> Message {
    let mut hello = ClientMessage::hello("raw", "room", 0);
    if let ClientMessage::Hello { token: t, .. } = &mut hello {
        *t = token.map(str::to_owned);
    }
    Message::Binary(encode(&hello, None).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_rejected_with_codes_while_others_keep_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.limits.max_frame = 64 * 1024;
        c.max_ops = 10;
    })
    .await;
    let (mut good, _) = Client::join(server.addr, "good", "room", 0).await;
    good.catch_up().await;
    {
        let ops = vec![good.set("k", json!("before"))];
        good.submit(ops, false)
    }
    .await;

    let mut wrong_version = encode(&ClientMessage::Ping { nonce: 1 }, None);
    wrong_version[0] = 7;
    let mut too_many = Client {
        ws: common::connect(server.addr).await,
        id: "raw".into(),
        seq: 0,
    };
    let ops: Vec<_> = (0..11).map(|i| too_many.set("k", json!(i))).collect();
    let deep_op = {
        // Nesting a frame cannot hold (over 128 levels with the message around the value).
        let mut nested = json!(1);
        for _ in 0..127 {
            nested = json!([nested]);
        }
        too_many.set("deep", nested)
    };
    let too_many =
        Message::Binary(encode(&ClientMessage::Changes { ops, atomic: false }, None).into());
    let ops = vec![deep_op];
    let too_deep =
        Message::Binary(encode(&ClientMessage::Changes { ops, atomic: false }, None).into());
    let cases: Vec<(&str, Vec<Message>, &str, u16)> = vec![
        (
            "garbage first",
            vec![Message::Binary(
                vec![PROTOCOL_VERSION, 0, 0xc1, 0xff].into(),
            )],
            "MALFORMED_FRAME",
            4000,
        ),
        (
            "truncated",
            vec![hello(None), Message::Binary(vec![PROTOCOL_VERSION].into())],
            "MALFORMED_FRAME",
            4000,
        ),
        (
            "text frame",
            vec![hello(None), Message::Text("hi".into())],
            "MALFORMED_FRAME",
            4000,
        ),
        (
            "version",
            vec![Message::Binary(wrong_version.into())],
            "UNSUPPORTED_PROTOCOL",
            4001,
        ),
        (
            "nested too deep for a frame",
            vec![hello(None), too_deep],
            "MALFORMED_FRAME",
            4000,
        ),
        (
            "no hello",
            vec![Message::Binary(
                encode(&ClientMessage::Ping { nonce: 1 }, None).into(),
            )],
            "HELLO_REQUIRED",
            4005,
        ),
        (
            "two hellos",
            vec![hello(None), hello(None)],
            "HELLO_REQUIRED",
            4005,
        ),
        (
            "too many ops",
            vec![hello(None), too_many],
            "TOO_MANY_OPS",
            4004,
        ),
        (
            "oversized",
            vec![hello(None), Message::Binary(vec![1u8; 200 * 1024].into())],
            "FRAME_TOO_LARGE",
            1009,
        ),
    ];
    let good_changes = 1 + cases.len() as u64; // "before", then one per case
    for (name, frames, code, close) in cases {
        let (sent_code, close_code) = raw_then_close_code(server.addr, frames).await;
        assert_eq!(close_code, close, "{name}");
        assert_eq!(sent_code.as_deref(), Some(code), "{name}");
        // The good client is unaffected and the state unchanged.
        match {
            let ops = vec![good.op(
                "pings",
                srvra_sync::core::model::operation::OpKind::Increment(1.0),
            )];
            good.submit(ops, false)
        }
        .await
        {
            ServerMessage::Ack { rejected, .. } => assert!(rejected.is_empty(), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let (mut check, head) = Client::join(server.addr, "check", "room", 0).await;
    assert_eq!(
        head, good_changes,
        "only the good client's changes were stored"
    );
    check.catch_up().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.auth = srvra_sync_server::auth::Auth::Shared("secret".into())
    })
    .await;
    let (code, close) = raw_then_close_code(server.addr, vec![hello(Some("guess"))]).await;
    assert_eq!((code.as_deref(), close), (Some("UNAUTHORIZED"), 4003));
    let (code, close) = raw_then_close_code(server.addr, vec![hello(None)]).await;
    assert_eq!((code.as_deref(), close), (Some("UNAUTHORIZED"), 4003));
    server.shutdown().await;
}

/// Codes of the rejections in an ack.
fn rejected_codes(ack: &ServerMessage) -> Vec<String> {
    match ack {
        ServerMessage::Ack { rejected, .. } => rejected.iter().map(|r| r.code.clone()).collect(),
        other => panic!("expected ack, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_paths_deep_values_non_finite_numbers_and_far_sequences_are_rejected_and_harmless() {
    use srvra_sync::core::model::operation::OpKind;
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let (mut attacker, _) = Client::join(server.addr, "attacker", "room", 0).await;
    attacker.catch_up().await;

    // 50,000 path segments (a ~100 KB frame): crashed the process with a stack overflow.
    let mut long = attacker.set("k", json!(1));
    long.fields = vec!["a".into(); 50_000];
    // A value nested 127 levels was acknowledged, then bricked every catch-up. Values
    // deeper than `MAX_DEPTH` (100) that a frame still decodes are rejected one by one;
    // deeper frames are malformed (below).
    let mut nested = json!(1);
    for _ in 0..110 {
        nested = json!([nested]);
    }
    let deep = attacker.set("deep", nested);
    let codes = rejected_codes(&attacker.submit(vec![long, deep], false).await);
    assert_eq!(codes, ["VALUE_TOO_DEEP", "VALUE_TOO_DEEP"]);
    // A NaN timestamp was stored as null and broke catch-up too. JSON frames cannot carry
    // NaN or infinities (they are encoded as null, where a number must be): such a frame
    // is malformed, and the connection that sent it ends.
    let mut nan = attacker.set("nan", json!(1));
    nan.timestamp = f64::NAN;
    let mut infinite = attacker.op("n", OpKind::Increment(f64::INFINITY));
    infinite.timestamp = 0.0;
    for op in [nan, infinite] {
        let frame = encode(
            &ClientMessage::Changes {
                ops: vec![op],
                atomic: false,
            },
            None,
        );
        let frames = vec![hello(None), Message::Binary(frame.into())];
        let (code, close) = raw_then_close_code(server.addr, frames).await;
        assert_eq!((code.as_deref(), close), (Some("MALFORMED_FRAME"), 4000));
    }

    // A sequence far past the watermark would make the client's later changes duplicates.
    let mut far = attacker.set("far", json!(1));
    far.id.seq = u64::MAX;
    assert_eq!(
        rejected_codes(&attacker.submit(vec![far], false).await),
        ["INVALID_SEQ"]
    );
    attacker.seq = 4;
    let next = attacker.set("after", json!("still accepted"));
    assert_eq!(
        rejected_codes(&attacker.submit(vec![next], false).await),
        Vec::<String>::new()
    );

    // The server still answers, and a new client catches up on the room.
    let (health, _) = common::http_get(server.addr, "/health", "").await;
    assert_eq!(health, 200);
    let (mut reader, head) = Client::join(server.addr, "reader", "room", 0).await;
    assert_eq!(head, 1, "only the valid change was stored");
    assert_eq!(common::catch_up_len(&reader.catch_up().await), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_on_metrics_need_the_metrics_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.auth = srvra_sync_server::auth::Auth::Shared("secret".into());
        c.metrics_token = Some("scrape".into());
    })
    .await;
    let (status, _) = common::http_get(server.addr, "/metrics", "").await;
    assert_eq!(status, 401);
    let wrong = "Authorization: Bearer nope\r\n";
    assert_eq!(
        common::http_get(server.addr, "/metrics", wrong).await.0,
        401
    );
    let right = "Authorization: Bearer scrape\r\n";
    let (status, body) = common::http_get(server.addr, "/metrics", right).await;
    assert_eq!(status, 200);
    assert!(body.contains("srvra_connections"), "{body}");
    server.shutdown().await;

    // Guessing the metrics token (issue 29: 10,746 guesses/s) counts against the address:
    // past its limit, guesses wait and get 429, and the right token still works.
    let dir = tempfile::tempdir().unwrap();
    let guarded = common::server(dir.path(), |c| {
        c.auth = srvra_sync_server::auth::Auth::Shared("secret".into());
        c.metrics_token = Some("scrape".into());
        c.guards.auth_failures_per_minute = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            common::http_get(guarded.addr, "/metrics", wrong).await.0,
            401
        );
    }
    let started = std::time::Instant::now();
    assert_eq!(
        common::http_get(guarded.addr, "/metrics", wrong).await.0,
        429
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(
        common::http_get(guarded.addr, "/metrics", right).await.0,
        200
    );
    guarded.shutdown().await;
    // Without auth, /metrics stays public (local development).
    let dir = tempfile::tempdir().unwrap();
    let open = common::server(dir.path(), |_| {}).await;
    assert_eq!(common::http_get(open.addr, "/metrics", "").await.0, 200);
    open.shutdown().await;
}

/// The HTTP status of a WebSocket upgrade to `/sync` sent with `origin` (101 when it opens).
async fn upgrade_status(addr: std::net::SocketAddr, origin: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Error;
    let mut request = format!("ws://{addr}/sync").into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("upgrade failed: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_origins_may_open_a_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.allow_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let addr = server.addr;
    assert_eq!(
        upgrade_status(addr, None).await,
        101,
        "no Origin: not a browser"
    );
    let same = format!("http://{addr}");
    assert_eq!(
        upgrade_status(addr, Some(&same)).await,
        101,
        "the server's own page"
    );
    assert_eq!(
        upgrade_status(addr, Some("http://localhost:5173")).await,
        101
    );
    assert_eq!(
        upgrade_status(addr, Some("https://app.example.com")).await,
        101
    );
    // A page on another site, open in the same browser, must not reach a local server.
    assert_eq!(
        upgrade_status(addr, Some("https://evil.example")).await,
        403
    );
    assert_eq!(upgrade_status(addr, Some("null")).await, 403);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_token_must_match_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| {
        c.auth = srvra_sync_server::auth::Auth::Shared("secret".into())
    })
    .await;
    for guess in ["secre", "secret!", "Secret", ""] {
        let (code, close) = raw_then_close_code(server.addr, vec![hello(Some(guess))]).await;
        assert_eq!(
            (code.as_deref(), close),
            (Some("UNAUTHORIZED"), 4003),
            "{guess}"
        );
    }
    let (mut ok, _) = Client::join_with_token(server.addr, "raw", "room", 0, Some("secret")).await;
    ok.catch_up().await;
    let ops = vec![ok.set("k", json!(1))];
    assert!(rejected_codes(&ok.submit(ops, false).await).is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_stay_inside_their_folder() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<p>demo</p>").unwrap();
    std::fs::write(site.join(".env"), "SECRET=1").unwrap();
    std::fs::write(dir.path().join("outside.txt"), "outside").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("outside.txt"), site.join("link.txt")).unwrap();
    let data = dir.path().join("data");
    let server = common::server(&data, |c| c.static_dir = Some(site.clone())).await;
    let (status, body) = common::http_get(server.addr, "/index.html", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("demo"));
    assert_eq!(common::http_get(server.addr, "/.env", "").await.0, 404);
    assert_eq!(common::http_get(server.addr, "/%2eenv", "").await.0, 404);
    #[cfg(unix)]
    assert_eq!(common::http_get(server.addr, "/link.txt", "").await.0, 404);
    assert_eq!(common::http_get(server.addr, "/health", "").await.0, 200);
    server.shutdown().await;
}
