//! Fuzzing the server's input path (issue 11): arbitrary bytes and mutations of real
//! frames go through the frame decoder, and whatever decodes goes through the room's
//! decide/apply, its snapshot and the server's storage encoding. Nothing may panic, and
//! everything a room accepts must be servable again (stored as JSON, read back, sent in a
//! frame), so no accepted change can brick a room.
//!
//! In CI it runs the default number of cases; a longer soak:
//! `PROPTEST_CASES=200000 cargo test --release --test fuzz`.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use srvra_sync::core::model::operation::{OpId, OpKind, Operation, PatchEntry};
use srvra_sync::core::model::slot::Slot;
use srvra_sync::core::protocol::{decode, encode, ClientMessage, Limits, ServerMessage};
use srvra_sync::core::room::RoomState;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn kind() -> impl Strategy<Value = OpKind> {
    prop_oneof![
        value().prop_map(|v| OpKind::Set(Arc::new(v))),
        value().prop_map(OpKind::Append),
        any::<f64>().prop_map(OpKind::Increment),
        Just(OpKind::Delete),
        prop::collection::btree_map("[a-c]", value(), 0..3)
            .prop_map(|m| OpKind::Merge(m.into_iter().collect())),
        prop::collection::vec(
            (
                prop::collection::vec("[a-c0-2]", 0..3),
                prop::option::of(value())
            ),
            0..3
        )
        .prop_map(|entries| OpKind::Patch(
            entries
                .into_iter()
                .map(|(path, v)| PatchEntry {
                    path,
                    value: Slot(v.map(Arc::new)),
                })
                .collect()
        )),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    (
        prop::sample::select(vec!["me", "me", "other"]),
        0u64..8,
        "[a-c]{1,2}",
        prop::collection::vec("[a-c0-2]", 0..3),
        kind(),
        prop_oneof![0u64..4, Just(u64::MAX)],
        prop_oneof![Just(0.0), any::<f64>()],
    )
        .prop_map(
            |(client, seq, key, fields, kind, base_version, timestamp)| Operation {
                id: OpId {
                    client: Arc::from(client),
                    seq,
                },
                key,
                fields,
                kind,
                base_version,
                timestamp,
                batch: None,
                conflict: Default::default(),
            },
        )
}

/// Decides `ops` from `me` in `room`, applies the decision, and checks that the room's
/// state and log are servable: JSON in storage and in frames on the wire.
fn decide_and_serve(room: &mut RoomState, ops: Vec<Operation>, atomic: bool) {
    let decided = room.decide_message("me", ops, atomic, 0.0);
    room.apply("me", &decided);
    for committed in &decided.committed {
        let stored = serde_json::to_string(&committed.op).expect("a change stores as JSON");
        let back: Operation = serde_json::from_str(&stored).expect("a stored change reads back");
        assert_eq!(back, committed.op);
    }
    let snapshot = ServerMessage::Snapshot {
        position: room.head,
        entries: room.snapshot(),
        done: true,
    };
    let frame = encode(&snapshot, Some(1024));
    let big = Limits {
        max_frame: usize::MAX,
        max_payload: usize::MAX,
        containers_per_byte: 0,
    };
    decode::<ServerMessage>(&frame, big).expect("a snapshot decodes");
    for state in room.keys.values() {
        if let Some(value) = state.value.as_deref() {
            let text = serde_json::to_string(value).unwrap();
            serde_json::from_str::<Value>(&text).expect("a stored value reads back");
        }
    }
}

/// `PROPTEST_CASES`, or 512 per property in CI.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

fn real_frames() -> Vec<Vec<u8>> {
    let op = |seq, kind| Operation {
        id: OpId {
            client: Arc::from("me"),
            seq,
        },
        key: "k".into(),
        fields: vec!["a".into()],
        kind,
        base_version: 0,
        timestamp: 1.0,
        batch: None,
        conflict: Default::default(),
    };
    let changes = ClientMessage::Changes {
        ops: vec![
            op(1, OpKind::Set(Arc::new(json!({"x": [1, "two", null]})))),
            op(2, OpKind::Increment(2.0)),
            op(3, OpKind::Append(json!("y".repeat(2000)))),
        ],
        atomic: true,
    };
    let mut hello = ClientMessage::hello("me", "r", 0);
    if let ClientMessage::Hello { token, secret, .. } = &mut hello {
        *token = Some("t".into());
        *secret = Some("s".into());
    }
    vec![
        encode(&changes, None),
        encode(&changes, Some(64)),
        encode(&hello, None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<ClientMessage>(&bytes, Limits::default());
        let mut framed = vec![srvra_sync::core::protocol::PROTOCOL_VERSION];
        framed.extend(&bytes);
        let _ = decode::<ClientMessage>(&framed, Limits::default());
    }

    #[test]
    fn mutated_real_frames_decode_or_fail_and_what_decodes_is_decided_safely(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut frame = real_frames().swap_remove(which);
        for (at, byte, how) in edits {
            if frame.is_empty() {
                break;
            }
            let i = at.index(frame.len());
            match how {
                0 => frame[i] = byte,
                1 => frame.truncate(i.max(1)),
                _ => frame.insert(i, byte),
            }
        }
        if let Ok(ClientMessage::Changes { ops, atomic }) = decode::<ClientMessage>(&frame, Limits::default()) {
            decide_and_serve(&mut RoomState::default(), ops, atomic);
        }
    }

    #[test]
    fn arbitrary_changes_leave_a_servable_room(
        messages in prop::collection::vec((prop::collection::vec(operation(), 1..6), any::<bool>()), 1..6),
    ) {
        let mut room = RoomState::default();
        for (ops, atomic) in messages {
            decide_and_serve(&mut room, ops, atomic);
        }
    }
}
