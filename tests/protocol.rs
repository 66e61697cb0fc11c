//! The wire protocol: every message round-trips, and no input makes the decoder panic.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::Arc;

use common::amplifying_frame;
use proptest::prelude::*;
use serde_json::json;
use srvra_sync::core::conflict::{ConflictKind, ConflictReport, Outcome, Resolution, Strategy};
use srvra_sync::core::model::key_state::Writer;
use srvra_sync::core::model::operation::ConflictInfo;
use srvra_sync::core::model::operation::{OpId, OpKind, Operation};
use srvra_sync::core::model::slot::Slot;
use srvra_sync::core::protocol::message::{Rejected, SnapshotEntry};
use srvra_sync::core::protocol::{
    decode, encode, ClientMessage, Committed, FrameError, Limits, ServerMessage,
};

fn op(seq: u64, kind: OpKind) -> Operation {
    Operation {
        id: OpId {
            client: Arc::from("client-a"),
            seq,
        },
        key: "todos".into(),
        fields: vec!["0".into(), "title".into()],
        kind,
        base_version: seq.saturating_sub(1),
        timestamp: 1_700_000_000_123.0,
        batch: (seq % 2 == 0).then_some(7),
        conflict: ConflictInfo {
            clock: seq << 16,
            strategy: (seq % 3 == 0).then_some(Strategy::SmartMerge),
            threshold: (seq % 3 == 0).then_some(0.5),
            base: (seq % 3 == 0)
                .then(|| Arc::new(json!({ "title": null })))
                .into(),
            ..ConflictInfo::default()
        },
    }
}

fn samples() -> (Vec<ClientMessage>, Vec<ServerMessage>) {
    let ops = vec![
        op(
            1,
            OpKind::Set(Arc::new(
                json!({ "title": "ünïcode ✓", "n": 1.5, "list": [null, true, -3] }),
            )),
        ),
        op(
            2,
            OpKind::Merge(json!({ "a": 1 }).as_object().unwrap().clone()),
        ),
        op(3, OpKind::Delete),
        op(4, OpKind::Increment(-2.25)),
        op(5, OpKind::Append(json!("item"))),
    ];
    let client = vec![
        ClientMessage::Hello {
            protocol: u32::from(srvra_sync::core::protocol::PROTOCOL_VERSION),
            client_id: "client-a".into(),
            room: "room".into(),
            position: 42,
            token: Some("jwt".into()),
            snapshot: false,
            heartbeat: None,
            secret: Some("s3cret".into()),
        },
        ClientMessage::Changes {
            ops: ops.clone(),
            atomic: true,
        },
        ClientMessage::Ping { nonce: u64::MAX },
    ];
    let committed: Vec<Committed> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| Committed {
            position: i as u64 + 10,
            op: op.clone(),
            resolution: (i % 2 == 1).then(|| Resolution {
                kind: ConflictKind::AddAdd,
                outcome: Outcome::Merged(Arc::new(json!({ "merged": [1, null] }))),
            }),
        })
        .collect();
    let server = vec![
        ServerMessage::Welcome {
            protocol: u32::from(srvra_sync::core::protocol::PROTOCOL_VERSION),
            client_id: "client-a".into(),
            room: "room".into(),
            position: 9,
            acknowledged: 4,
            max_ops: 1000,
            max_frame: 1 << 20,
        },
        ServerMessage::Ack {
            acks: ops.iter().map(|o| (o.id.clone(), o.id.seq + 100)).collect(),
            rejected: vec![Rejected {
                id: ops[0].id.clone(),
                code: "CONFLICT".into(),
                message: "m".into(),
                conflict: Some(Box::new(ConflictReport {
                    kind: ConflictKind::ModifyDelete,
                    strategy: Strategy::Custom("mine".into()),
                    escalated: true,
                    value: Slot::of(json!(null)),
                    version: 4,
                    rival: Some(Writer {
                        client: "b".into(),
                        clock: 77,
                        version: 4,
                    }),
                })),
            }],
            resolved: vec![(
                ops[1].id.clone(),
                Resolution {
                    kind: ConflictKind::ModifyModify,
                    outcome: Outcome::Server,
                },
            )],
        },
        ServerMessage::Broadcast {
            changes: committed.clone(),
        },
        ServerMessage::CatchUp {
            changes: committed,
            done: true,
        },
        ServerMessage::Snapshot {
            position: 3,
            entries: vec![
                SnapshotEntry {
                    key: "a".into(),
                    value: Slot::of(json!({ "x": [1, 2] })),
                    version: 4,
                },
                SnapshotEntry {
                    key: "gone".into(),
                    value: Slot::ABSENT,
                    version: 2,
                },
                SnapshotEntry {
                    key: "null".into(),
                    value: Slot::of(json!(null)),
                    version: 1,
                },
            ],
            done: false,
        },
        ServerMessage::Pong { nonce: 7 },
        ServerMessage::Error {
            code: "X".into(),
            message: "m".into(),
            fatal: true,
            close_code: Some(4000),
        },
    ];
    (client, server)
}

#[test]
fn every_message_round_trips_with_and_without_compression() {
    let (client, server) = samples();
    for threshold in [None, Some(0), Some(64)] {
        for message in &client {
            let back: ClientMessage =
                decode(&encode(message, threshold), Limits::default()).unwrap();
            assert_eq!(&back, message);
        }
        for message in &server {
            let back: ServerMessage =
                decode(&encode(message, threshold), Limits::default()).unwrap();
            assert_eq!(&back, message);
        }
    }
}

#[test]
fn large_messages_are_compressed_and_limits_hold() {
    let ops: Vec<Operation> = (1..=500)
        .map(|i| {
            op(
                i,
                OpKind::Set(Arc::new(json!({ "title": "same text", "i": i }))),
            )
        })
        .collect();
    let message = ClientMessage::Changes { ops, atomic: false };
    let raw = encode(&message, None);
    let packed = encode(&message, Some(1024));
    assert!(
        packed.len() * 3 < raw.len(),
        "{} vs {}",
        packed.len(),
        raw.len()
    );
    let small = Limits {
        max_frame: packed.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        decode::<ClientMessage>(&packed, small),
        Err(FrameError::TooLarge)
    );
    let tight = Limits {
        max_payload: 100,
        ..Limits::default()
    };
    assert_eq!(
        decode::<ClientMessage>(&packed, tight),
        Err(FrameError::TooLarge)
    );
}

#[test]
fn version_and_garbage_errors_carry_codes() {
    let mut frame = encode(&ClientMessage::Ping { nonce: 1 }, None);
    frame[0] = 9;
    let error = decode::<ClientMessage>(&frame, Limits::default()).unwrap_err();
    assert_eq!(
        (error.code(), error.close_code()),
        ("UNSUPPORTED_PROTOCOL", 4001)
    );
    for garbage in [
        &b""[..],
        &[1],
        &[1, 0],
        &[1, 0, 0x81],
        &[1, 1, 255, 255, 255, 255, 0],
    ] {
        let error = decode::<ClientMessage>(garbage, Limits::default()).unwrap_err();
        assert_ne!(error.code(), "", "{garbage:?}");
    }
    // A server message is not a client message.
    let welcome = encode(&samples().1[0], None);
    assert!(matches!(
        decode::<ClientMessage>(&welcome, Limits::default()),
        Err(FrameError::Malformed(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<ClientMessage>(&bytes, Limits::default());
        let _ = decode::<ServerMessage>(&bytes, Limits::default());
        let mut framed = vec![srvra_sync::core::protocol::PROTOCOL_VERSION, 0];
        framed.extend_from_slice(&bytes);
        let _ = decode::<ClientMessage>(&framed, Limits::default());
    }

    /// Mutating any byte of a valid frame never panics the decoder.
    #[test]
    fn mutated_frames_never_panic(index in any::<prop::sample::Index>(), byte in any::<u8>(), compress in any::<bool>()) {
        let (client, _) = samples();
        let mut frame = encode(&client[1], compress.then_some(0));
        let at = index.index(frame.len());
        frame[at] = byte;
        let _ = decode::<ClientMessage>(&frame, Limits::default());
        frame.truncate(at);
        let _ = decode::<ClientMessage>(&frame, Limits::default());
    }

    /// Sets of arbitrary JSON-ish values round-trip.
    #[test]
    fn values_round_trip(n in any::<i64>(), f in -1e12f64..1e12, s in ".{0,20}", b in any::<bool>()) {
        let value = json!({ "n": n, "f": f, "s": s, "b": b, "a": [n, f, s, b, null] });
        let message = ClientMessage::Changes { ops: vec![op(1, OpKind::Set(Arc::new(value)))], atomic: false };
        let back: ClientMessage = decode(&encode(&message, Some(16)), Limits::default()).unwrap();
        prop_assert_eq!(back, message);
    }
}

#[test]
fn nesting_is_bounded_where_frames_are_decoded() {
    let nested = |levels: usize| {
        let mut value = json!(1);
        for _ in 0..levels {
            value = json!([value]);
        }
        value
    };
    // A value as deep as a change may make it decodes inside a message.
    let fine = ClientMessage::Changes {
        ops: vec![op(1, OpKind::Set(Arc::new(nested(100))))],
        atomic: false,
    };
    let frame = encode(&fine, None);
    assert!(decode::<ClientMessage>(&frame, Limits::default()).is_ok());
    // Deeper than any accepted value: refused by the decoder (rmp's own limit was 1,024).
    let deep = ClientMessage::Changes {
        ops: vec![op(1, OpKind::Set(Arc::new(nested(500))))],
        atomic: false,
    };
    let frame = encode(&deep, None);
    let error = decode::<ClientMessage>(&frame, Limits::default()).unwrap_err();
    assert_eq!(error.code(), "MALFORMED_FRAME");
}

#[test]
fn outbox_records_written_as_messagepack_before_0_2_still_decode() {
    use srvra_sync::core::state::compress::pack;
    use srvra_sync::core::sync::conflicts::BaseRecord;
    use srvra_sync::core::sync::outbox::{decode_record, encode_record};

    let (clients, _) = samples();
    let ops: Vec<Operation> = clients
        .into_iter()
        .flat_map(|message| match message {
            ClientMessage::Changes { ops, .. } => ops,
            _ => Vec::new(),
        })
        .collect();
    assert!(ops.len() >= 5, "the samples hold every kind of operation");
    for threshold in [None, Some(16)] {
        for op in &ops {
            let legacy = pack(&rmp_serde::to_vec_named(op).unwrap(), threshold).bytes;
            assert_eq!(&decode_record::<Operation>(&legacy).unwrap(), op);
            let current = encode_record(op, threshold);
            assert_eq!(&decode_record::<Operation>(&current).unwrap(), op);
        }
        for base in [
            BaseRecord {
                value: Slot::of(json!({ "a": [1, 2.5, "x", null] })),
                version: 9,
                held: None,
            },
            BaseRecord {
                value: Slot::ABSENT,
                version: 3,
                held: None,
            },
        ] {
            let legacy = pack(&rmp_serde::to_vec_named(&base).unwrap(), threshold).bytes;
            assert_eq!(decode_record::<BaseRecord>(&legacy).unwrap(), base);
        }
    }
    // Neither JSON nor MessagePack: a typed storage error, not a panic.
    let garbage = pack(&[0xc1, 0xff, 0x00], None).bytes;
    let error = decode_record::<Operation>(&garbage).unwrap_err();
    assert_eq!(error.code, "CORRUPT_RECORD");
}

#[test]
fn update_and_merge_name_one_operation_on_the_wire() {
    // Issue 29 item 7: docs/PROTOCOL.md named it `update`, the server read only `merge`.
    for name in ["merge", "update"] {
        let text = format!(
            r#"{{"id":{{"client":"c","seq":1}},"key":"k","fields":[],"kind":{{"{name}":{{"a":1}}}},"base_version":0,"timestamp":0}}"#
        );
        let op: Operation = serde_json::from_str(&text).unwrap();
        assert!(
            matches!(&op.kind, OpKind::Merge(fields) if fields["a"] == json!(1)),
            "{name}"
        );
        // What the SDK sends.
        assert!(serde_json::to_string(&op).unwrap().contains(r#""merge":"#));
    }
}

#[test]
fn a_compressed_frame_cannot_unpack_to_millions_of_containers() {
    // Issue 29 item 3: one 32 KB LZ4 frame of `{"":0},` repeated (7.94 MiB) became 1.1
    // million maps, 561 MiB, before anything was checked.
    let frame = amplifying_frame("x", 1_100_000);
    assert!(frame.len() < 64 * 1024, "{} bytes", frame.len());
    assert_eq!(
        decode::<ClientMessage>(&frame, Limits::default()),
        Err(FrameError::TooLarge)
    );
    // A value of 10,000 small objects still decodes, compressed or not.
    let honest = amplifying_frame("x", 10_000);
    assert!(decode::<ClientMessage>(&honest, Limits::default()).is_ok());
    // So does a batch of 1,000 changes of object values, as the SDK packs it.
    let ops: Vec<Operation> = (1..=1000)
        .map(|seq| Operation {
            kind: OpKind::Set(Arc::new(
                json!({ "title": "t", "tags": ["a", "b"], "n": { "x": seq } }),
            )),
            ..op(seq, OpKind::Delete)
        })
        .collect();
    let batch = encode(&ClientMessage::Changes { ops, atomic: true }, Some(1024));
    assert!(decode::<ClientMessage>(&batch, Limits::default()).is_ok());
}
