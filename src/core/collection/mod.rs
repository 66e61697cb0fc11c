//! Collections (SPEC 19): a list of things users edit, one key per item (`prefix:id`),
//! so that concurrent adds, moves, removes and edits of different items, and of different
//! fields of one item, all survive. Each item is a JSON object with a fractional `order`
//! field; an edit writes only the fields it changes, a move only `order`.
//!
//! Ids are made without coordination: a short hash of the client id and the change
//! sequence (unique per client, never reused). A remove wins over a concurrent edit: an
//! edit that lands on a removed item leaves fields without an `order`, which `list` skips.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::core::error::{CoreError, Result};
use crate::core::model::batch::Draft;
use crate::core::model::operation::OpKind;
use crate::core::model::path::Path;
use crate::core::Engine;

pub mod order;

/// The field that holds an item's position.
pub const ORDER: &str = "order";

/// Where `move` puts an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Just before this item.
    Before(String),
    /// Just after this item.
    After(String),
}

/// One item, as `list` returns it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    /// The item's id (its key is `prefix:id`).
    pub id: String,
    /// Its value, `order` included.
    pub value: Arc<Value>,
}

/// Checks a collection prefix: a key name part without `.`, `:` or `*`.
pub fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || prefix.len() > 256 || prefix.contains(['.', ':', '*', '[', ']']) {
        return Err(CoreError::validation(
            "INVALID_PATH",
            format!(
                "'{prefix}' is not a collection prefix: use a non-empty name without '.', ':', '*' or brackets"
            ),
        ));
    }
    Ok(())
}

fn key(prefix: &str, id: &str) -> Result<String> {
    if id.is_empty() || id.contains(['.', '*', '[', ']']) {
        return Err(CoreError::validation(
            "INVALID_PATH",
            format!("'{id}' is not an item id"),
        ));
    }
    Ok(format!("{prefix}:{id}"))
}

fn object(value: Value, what: &str) -> Result<Map<String, Value>> {
    match value {
        Value::Object(map) if !map.contains_key(ORDER) => Ok(map),
        Value::Object(_) => Err(CoreError::type_error(
            "RESERVED_FIELD",
            format!("a collection item's '{ORDER}' field is its position: use move() to change it"),
        )),
        _ => Err(CoreError::type_error(
            "INVALID_VALUE",
            format!("{what} takes a plain object (a collection item is an object)"),
        )),
    }
}

/// A short, stable hash of a client id (FNV-1a), in base 36.
fn client_tag(client: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in client.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    base36(hash % 36u64.pow(8), 8)
}

fn base36(mut n: u64, width: usize) -> String {
    let mut out = Vec::new();
    while n > 0 || out.len() < width {
        out.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn position_of(value: &Value) -> Option<&str> {
    value
        .get(ORDER)?
        .as_str()
        .filter(|position| order::is_position(position))
}

impl Engine {
    /// The items of collection `prefix`, in order (by `order`, then id): every key
    /// `prefix:id` whose value is an object with a string `order`.
    pub fn collection_list(&self, prefix: &str) -> Result<Vec<Item>> {
        check_prefix(prefix)?;
        let start = format!("{prefix}:");
        let mut items: Vec<(&str, Item)> = self
            .values_with_prefix(&start)
            .filter_map(|(key, value)| {
                let order = value.get(ORDER)?.as_str()?;
                let id = key[start.len()..].to_owned();
                let value = Arc::clone(value);
                Some((order, Item { id, value }))
            })
            .collect();
        items.sort_unstable_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        Ok(items.into_iter().map(|(_, item)| item).collect())
    }

    /// The last position in collection `prefix` (at or past every live item's).
    fn tail(&mut self, prefix: &str) -> Option<String> {
        let start = format!("{prefix}:");
        let now = crate::core::state::store::generation();
        let known = self.tails.0.get(prefix).cloned();
        let written = known
            .as_ref()
            .and_then(|(since, _)| self.written_since(*since));
        let tail = match (known, written) {
            (Some((_, tail)), Some(keys)) => keys
                .into_iter()
                .filter(|key| key.starts_with(&start))
                .filter_map(|key| position_of(self.value_of(key)?).map(str::to_owned))
                .chain(tail)
                .max(),
            _ => self
                .values_with_prefix(&start)
                .filter_map(|(_, value)| position_of(value))
                .max()
                .map(str::to_owned),
        };
        self.tails.0.insert(prefix.to_owned(), (now, tail.clone()));
        tail
    }

    /// `collection.add(value)`: a new item at the end; returns its id.
    pub fn collection_add(&mut self, prefix: &str, value: Value) -> Result<String> {
        check_prefix(prefix)?;
        let mut fields = object(value, "add")?;
        let position = order::between(self.tail(prefix).as_deref(), None);
        fields.insert(ORDER.to_owned(), Value::String(position.clone()));
        let id = format!(
            "{}{}",
            client_tag(self.client_id()),
            base36(self.next_seq(), 1)
        );
        let path = Path::parse(&key(prefix, &id)?)?;
        let kind = OpKind::Set(Arc::new(Value::Object(fields)));
        self.batch(vec![Draft { path, kind }])?;
        let now = crate::core::state::store::generation();
        self.tails
            .0
            .insert(prefix.to_owned(), (now, Some(position)));
        Ok(id)
    }

    /// `collection.update(id, partial)`: writes each field of `partial` as its own change,
    /// in one batch, so that another client's edit of another field survives.
    pub fn collection_update(&mut self, prefix: &str, id: &str, partial: Value) -> Result<()> {
        check_prefix(prefix)?;
        let key = key(prefix, id)?;
        if self.value_of(&key).is_none() {
            return Err(not_found(prefix, id));
        }
        let drafts = object(partial, "update")?
            .into_iter()
            .map(|(field, value)| {
                Ok(Draft {
                    path: Path::parse(&format!("{key}.{field}"))?,
                    kind: OpKind::Set(Arc::new(value)),
                })
            })
            .collect::<Result<Vec<Draft>>>()?;
        self.batch(drafts).map(drop)
    }

    /// `collection.remove(id)`: deletes the item's key.
    pub fn collection_remove(&mut self, prefix: &str, id: &str) -> Result<()> {
        check_prefix(prefix)?;
        let key = key(prefix, id)?;
        self.delete_state(&key).map(drop)
    }

    /// `collection.move(id, place)`: writes the item's `order` only, between the other
    /// item and its neighbour on that side.
    pub fn collection_move(&mut self, prefix: &str, id: &str, place: Place) -> Result<()> {
        check_prefix(prefix)?;
        let start = format!("{prefix}:");
        let (Place::Before(other) | Place::After(other)) = &place;
        let sort_key = |wanted: &str| -> Result<(String, String)> {
            let value = self
                .value_of(&key(prefix, wanted)?)
                .ok_or_else(|| not_found(prefix, wanted))?;
            let position = position_of(value).ok_or_else(|| not_found(prefix, wanted))?;
            Ok((position.to_owned(), wanted.to_owned()))
        };
        sort_key(id)?;
        let anchor = sort_key(other)?;
        if other == id {
            return Ok(());
        }
        // The anchor's neighbour on the side of the move, the moved item left out (the
        // positions are only compared here: no need to check each one).
        let others = self.values_with_prefix(&start).filter_map(|(key, value)| {
            let item = &key[start.len()..];
            let position = value.get(ORDER)?.as_str()?;
            (item != id).then_some((position, item))
        });
        let anchor_ref = (anchor.0.as_str(), anchor.1.as_str());
        let (low, high) = match &place {
            Place::Before(_) => {
                let previous = others.filter(|k| *k < anchor_ref).max();
                (previous.map(|(p, _)| p.to_owned()), Some(anchor.0.clone()))
            }
            Place::After(_) => {
                let next = others.filter(|k| *k > anchor_ref).min();
                (Some(anchor.0.clone()), next.map(|(p, _)| p.to_owned()))
            }
        };
        // Equal positions (two items added at once) leave no room: `between` then places
        // it after `low`, and ids order the ties.
        let position = order::between(low.as_deref(), high.as_deref());
        let path = Path::parse(&format!("{}.{ORDER}", key(prefix, id)?))?;
        let kind = OpKind::Set(Arc::new(Value::String(position)));
        self.batch(vec![Draft { path, kind }]).map(drop)
    }
}

fn not_found(prefix: &str, id: &str) -> CoreError {
    CoreError::validation(
        "NOT_FOUND",
        format!("collection '{prefix}' has no item '{id}'"),
    )
}
