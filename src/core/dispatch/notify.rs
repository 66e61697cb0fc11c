//! Builds the deliveries for applied changes: subscriber calls and events, in order.

use std::sync::Arc;

use serde_json::Value;

use crate::core::dispatch::event_bus::{EventBus, EventType};
use crate::core::dispatch::events::{Dispatch, PathValues, Payload, UpdateInfo, ValueAt};
use crate::core::dispatch::registry::RegistrationId;
use crate::core::dispatch::subscriptions::Subscriptions;
use crate::core::model::history::Origin;
use crate::core::model::path::dotted;

/// What one commit did to one key, gathered for notification.
#[derive(Debug, Clone)]
pub struct KeyChange {
    /// The key.
    pub key: String,
    /// Value before the commit's first change to the key.
    pub previous: Option<Arc<Value>>,
    /// Version before.
    pub previous_version: u64,
    /// Value after the commit.
    pub current: Option<Arc<Value>>,
    /// Version after.
    pub version: u64,
    /// Field paths changed, in order.
    pub changed: Vec<Vec<String>>,
    /// Operation name, or `batch`.
    pub op: &'static str,
}

impl KeyChange {
    /// The fields a single change touched, or the key root when several were touched.
    fn focus(&self) -> &[String] {
        match self.changed.as_slice() {
            [only] => only,
            _ => &[],
        }
    }
}

/// One applied operation, as `data-change` reports it.
#[derive(Debug, Clone)]
pub struct OpChange<'a> {
    /// The key.
    pub key: &'a str,
    /// Fields changed below the key.
    pub fields: &'a [String],
    /// The key's value after the operation.
    pub value: Option<Arc<Value>>,
    /// The key's version after the operation.
    pub version: u64,
}

/// Queues `data-change` for one applied operation, if anyone listens.
pub fn data_change(
    bus: &EventBus,
    queue: &mut Vec<Dispatch>,
    change: OpChange<'_>,
    origin: Origin,
    ts: f64,
) {
    if !bus.has(EventType::DataChange) {
        return;
    }
    let payload = Payload::Change {
        key: change.key.to_owned(),
        path: dotted(change.key, change.fields),
        value: ValueAt {
            root: change.value,
            fields: change.fields.to_vec(),
        },
        version: change.version,
        origin: origin.name(),
    };
    queue.push(event(bus, EventType::DataChange, payload, ts));
}

/// Queues the per-key deliveries after a commit: subscribers, `version-change`,
/// `state-updated`.
pub fn key_settled(
    subs: &Subscriptions,
    bus: &EventBus,
    queue: &mut Vec<Dispatch>,
    change: &KeyChange,
    origin: Origin,
    ts: f64,
) {
    subscribers(subs, queue, change, origin);
    if bus.has(EventType::VersionChange) {
        let payload = Payload::Version {
            key: change.key.clone(),
            version: change.version,
            previous_version: change.previous_version,
        };
        queue.push(event(bus, EventType::VersionChange, payload, ts));
    }
    if bus.has(EventType::StateUpdated) {
        let payload = Payload::Change {
            key: change.key.clone(),
            path: dotted(&change.key, change.focus()),
            value: ValueAt {
                root: change.current.clone(),
                fields: change.focus().to_vec(),
            },
            version: change.version,
            origin: origin.name(),
        };
        queue.push(event(bus, EventType::StateUpdated, payload, ts));
    }
}

/// Queues the subscriber calls a change of one key makes (no events).
pub fn subscribers(
    subs: &Subscriptions,
    queue: &mut Vec<Dispatch>,
    change: &KeyChange,
    origin: Origin,
) {
    if !subs.any_for(&change.key) {
        return;
    }
    let changed: Vec<&[String]> = change.changed.iter().map(Vec::as_slice).collect();
    let matched = subs.matching(&change.key, &changed);
    if matched.is_empty() {
        return;
    }
    let mut watched: Vec<Vec<String>> = Vec::new();
    let mut ids: Vec<RegistrationId> = Vec::with_capacity(matched.len());
    let mut at: Vec<usize> = Vec::with_capacity(matched.len());
    for m in matched {
        let fields = m.fields.unwrap_or_else(|| change.focus().to_vec());
        let index = match watched.iter().position(|w| *w == fields) {
            Some(index) => index,
            None => {
                watched.push(fields);
                watched.len() - 1
            }
        };
        ids.push(m.id);
        at.push(index);
    }
    if watched.len() == 1 {
        at.clear();
    }
    let values = watched
        .into_iter()
        .map(|fields| PathValues {
            value: ValueAt {
                root: change.current.clone(),
                fields: fields.clone(),
            },
            previous_value: ValueAt {
                root: change.previous.clone(),
                fields,
            },
        })
        .collect();
    let update = UpdateInfo {
        key: change.key.clone(),
        path: dotted(&change.key, change.focus()),
        version: change.version,
        origin: origin.name(),
        op: change.op,
    };
    queue.push(Dispatch::Subscribers {
        ids,
        at,
        values,
        update,
    });
}

/// Queues `batch-complete`, if anyone listens.
pub fn batch_complete(
    bus: &EventBus,
    queue: &mut Vec<Dispatch>,
    keys: Vec<String>,
    count: usize,
    origin: Origin,
    ts: f64,
) {
    if bus.has(EventType::BatchComplete) {
        let payload = Payload::Batch {
            keys,
            count,
            origin: origin.name(),
        };
        queue.push(event(bus, EventType::BatchComplete, payload, ts));
    }
}

/// An event delivery to every current handler of `event`.
pub fn event(bus: &EventBus, event: EventType, payload: Payload, ts: f64) -> Dispatch {
    Dispatch::Event {
        event,
        ids: bus.handlers(event),
        payload,
        ts,
        detail: None,
    }
}
