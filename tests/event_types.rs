//! Types and runtime cannot drift: one payload of every event the core raises is
//! serialised and checked against the `EventMap` of `js/index.d.ts` (every key the core
//! sends is declared there; every field declared as required is sent).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use srvra_sync::core::dispatch::event_bus::EventType;
use srvra_sync::core::dispatch::events::{
    ChangeId, ConflictEvent, ConflictResolvedEvent, ErrorInfo, Payload, PresenceEvent,
    Reconnecting, SyncComplete, SyncErrorEvent, ValueAt,
};
use srvra_sync::core::error::ErrorKind;
use srvra_sync::core::model::slot::Slot;
use srvra_sync::core::protocol::presence::PresencePeer;

/// Every payload the core can raise, by event.
fn samples() -> Vec<(EventType, Payload)> {
    let value = Some(Arc::new(json!({ "a": 1 })));
    let change = || Payload::Change {
        key: "k".into(),
        path: "k.a".into(),
        value: ValueAt {
            root: value.clone(),
            fields: vec!["a".into()],
        },
        version: 2,
        origin: "local",
    };
    let conflict = ConflictEvent {
        key: "k".into(),
        path: "k.a".into(),
        kind: "modify-modify",
        strategy: "manual".into(),
        client_value: value.clone(),
        server_value: None,
        base_value: value.clone(),
        id: None,
        escalated: None,
    };
    let error = ErrorInfo::new(ErrorKind::Validation, "TYPE_MISMATCH", "m");
    vec![
        (EventType::DataChange, change()),
        (EventType::StateUpdated, change()),
        (
            EventType::VersionChange,
            Payload::Version {
                key: "k".into(),
                version: 2,
                previous_version: 1,
            },
        ),
        (
            EventType::BatchComplete,
            Payload::Batch {
                keys: vec!["k".into()],
                count: 1,
                origin: "remote",
            },
        ),
        (
            EventType::SyncComplete,
            Payload::SyncComplete(SyncComplete {
                sent: 1,
                received: 2,
                position: 3,
            }),
        ),
        (EventType::Conflict, Payload::Conflict(conflict.clone())),
        (
            EventType::Conflict,
            Payload::Conflict(ConflictEvent {
                id: Some(1),
                escalated: Some(false),
                ..conflict
            }),
        ),
        (
            EventType::ConflictResolved,
            Payload::ConflictResolved(ConflictResolvedEvent {
                key: "k".into(),
                path: "k".into(),
                kind: "add-add",
                strategy: "smart-merge".into(),
                outcome: "merged",
                value,
            }),
        ),
        (EventType::NetworkStatus, Payload::NetworkStatus("online")),
        (EventType::NetworkStatus, Payload::NetworkStatus("offline")),
        (
            EventType::Reconnecting,
            Payload::Reconnecting(Reconnecting {
                attempt: 1,
                delay: 250,
            }),
        ),
        (
            EventType::SyncError,
            Payload::SyncError(SyncErrorEvent::new("storage", error.clone())),
        ),
        (
            EventType::SyncError,
            Payload::SyncError(SyncErrorEvent {
                key: Some("k".into()),
                id: Some(ChangeId {
                    client: "c".into(),
                    seq: 4,
                }),
                ..SyncErrorEvent::new("rejected", error)
            }),
        ),
        (
            EventType::Presence,
            Payload::Presence(PresenceEvent {
                others: vec![PresencePeer {
                    client_id: "c".into(),
                    tab: "t".into(),
                    user_id: Some("ada".into()),
                    state: Slot::of(json!({ "cursor": [1, 2] })),
                    last_seen: 1.0,
                }],
            }),
        ),
    ]
}

/// A declared payload type: an object's fields (name → required), or string literals.
#[derive(Debug)]
enum Declared {
    Object(BTreeMap<String, bool>),
    Literals(Vec<String>),
}

/// The body between the `{` at `open` and its matching `}`.
fn braced(text: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces");
}

/// Top-level `name?: type;` members of an object type body (comments and nested types skipped).
fn members(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    let clean: String = body
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let clean = strip_block_comments(&clean);
    for c in clean.chars() {
        match c {
            '{' | '(' | '<' => depth += 1,
            '}' | ')' | '>' => depth -= 1,
            ';' if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out.into_iter()
        .filter_map(|m| {
            let (name, ty) = m.split_once(':')?;
            Some((
                name.trim().trim_matches('\'').to_owned(),
                ty.trim().to_owned(),
            ))
        })
        .collect()
}

fn strip_block_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

fn declared(dts: &str, ty: &str) -> Declared {
    let ty = ty.trim();
    if ty.starts_with('{') {
        return Declared::Object(fields(braced(ty, 0)));
    }
    if ty.starts_with('\'') {
        return Declared::Literals(
            ty.split('|')
                .map(|l| l.trim().trim_matches('\'').to_owned())
                .collect(),
        );
    }
    // `export interface Conflict {` or, generic, `export interface Conflict<T = ...> {`.
    let at = [' ', '<']
        .iter()
        .find_map(|next| dts.find(&format!("export interface {ty}{next}")))
        .unwrap_or_else(|| panic!("interface {ty} in index.d.ts"));
    let open = at + dts[at..].find('{').unwrap();
    Declared::Object(fields(braced(dts, open)))
}

fn fields(body: &str) -> BTreeMap<String, bool> {
    members(body)
        .into_iter()
        .filter(|(name, _)| !name.contains('('))
        .map(|(name, _)| match name.strip_suffix('?') {
            Some(name) => (name.to_owned(), false),
            None => (name, true),
        })
        .collect()
}

#[test]
fn every_event_payload_matches_the_event_map_of_the_published_types() {
    let dts =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/js/index.d.ts")).unwrap();
    let at = dts
        .find("export interface EventMap")
        .expect("EventMap in index.d.ts");
    let open = at + dts[at..].find('{').unwrap();
    let map: BTreeMap<String, String> = members(braced(&dts, open)).into_iter().collect();
    let names: Vec<&str> = EventType::ALL.iter().map(|e| e.name()).collect();
    let mut declared_names: Vec<&str> = map.keys().map(String::as_str).collect();
    declared_names.sort_unstable();
    let mut core_names = names.clone();
    core_names.sort_unstable();
    assert_eq!(
        declared_names, core_names,
        "EventMap lists exactly the core's events"
    );

    let samples = samples();
    for name in &names {
        assert!(
            samples.iter().any(|(e, _)| e.name() == *name),
            "a sample of {name}"
        );
    }
    for (event, payload) in samples {
        let json = serde_json::to_value(&payload).unwrap();
        match declared(&dts, &map[event.name()]) {
            Declared::Literals(literals) => {
                let text = json
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: a string", event.name()));
                assert!(
                    literals.iter().any(|l| l == text),
                    "{}: {text} in {literals:?}",
                    event.name()
                );
            }
            Declared::Object(fields) => {
                let Value::Object(sent) = &json else {
                    panic!("{}: an object, got {json}", event.name());
                };
                for key in sent.keys() {
                    assert!(
                        fields.contains_key(key),
                        "{}: '{key}' is sent but not declared",
                        event.name()
                    );
                }
                for (field, required) in &fields {
                    // `resolve` is added by the JS side to held conflicts.
                    if *required && field != "resolve" {
                        assert!(
                            sent.contains_key(field),
                            "{}: '{field}' is declared but not sent",
                            event.name()
                        );
                    }
                }
            }
        }
    }
}
