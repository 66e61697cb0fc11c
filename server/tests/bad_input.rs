//! Malformed, oversized, unauthorised and out-of-order frames get a typed error and a
//! documented close code, change nothing, and do not disturb other clients.

mod common;

use common::Client;
use futures_util::SinkExt;
use serde_json::json;
use srvra_sync::core::protocol::{encode, ClientMessage, ServerMessage};
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
    let hello = ClientMessage::Hello {
        protocol: 1,
        client_id: "raw".into(),
        room: "room".into(),
        position: 0,
        token: token.map(str::to_owned),
    };
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
    let too_many =
        Message::Binary(encode(&ClientMessage::Changes { ops, atomic: false }, None).into());
    let cases: Vec<(&str, Vec<Message>, &str, u16)> = vec![
        (
            "garbage first",
            vec![Message::Binary(vec![1, 0, 0xc1, 0xff].into())],
            "MALFORMED_FRAME",
            4000,
        ),
        (
            "truncated",
            vec![hello(None), Message::Binary(vec![1].into())],
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
    for (name, frames, code, close) in cases {
        let (sent_code, close_code) = raw_then_close_code(server.addr, frames).await;
        assert_eq!(close_code, close, "{name}");
        assert_eq!(sent_code.as_deref(), Some(code), "{name}");
        // The good client is unaffected and the state unchanged.
        match {
            let ops = vec![good.op("pings", srvra_sync::core::operation::OpKind::Increment(1.0))];
            good.submit(ops, false)
        }
        .await
        {
            ServerMessage::Ack { rejected, .. } => assert!(rejected.is_empty(), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let (mut check, head) = Client::join(server.addr, "check", "room", 0).await;
    assert_eq!(head, 9, "only the good client's changes were stored");
    check.catch_up().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| c.auth_token = Some("secret".into())).await;
    let (code, close) = raw_then_close_code(server.addr, vec![hello(Some("guess"))]).await;
    assert_eq!((code.as_deref(), close), (Some("UNAUTHORIZED"), 4003));
    let (code, close) = raw_then_close_code(server.addr, vec![hello(None)]).await;
    assert_eq!((code.as_deref(), close), (Some("UNAUTHORIZED"), 4003));
    server.shutdown().await;
}
