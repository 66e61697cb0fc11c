//! Operations: every mutation is recorded as one `Operation`, the unit that is persisted,
//! sent and replayed. `apply` is the pure function that turns a key's value and an
//! operation into the key's next value.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::core::conflict::hlc::Stamp;
use crate::core::conflict::Strategy;
use crate::core::error::{CoreError, Result};
use crate::core::model::path::{get_in, get_in_mut_or_create, remove_in, type_name};
use crate::core::model::slot::Slot;

/// Globally unique operation id: the client that made it and its per-client sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpId {
    /// Client id of the author.
    pub client: Arc<str>,
    /// Sequence number, increasing per client and persisted across reloads.
    pub seq: u64,
}

/// What an operation does at its path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Replace the value.
    Set(Arc<Value>),
    /// Shallow-merge these fields into the object at the path (`updateState`; on the wire
    /// `merge`, and `update` is read as the same operation).
    #[serde(alias = "update")]
    Merge(Map<String, Value>),
    /// Remove the value.
    Delete,
    /// Add a number (commutes with other increments).
    Increment(f64),
    /// Push an item onto the array at the path (commutes with other appends).
    Append(Value),
    /// Set or remove these leaves below the path (what `setState` of an object sends
    /// with `enableDeltaUpdates`: only the leaves that changed).
    Patch(Vec<PatchEntry>),
}

/// One leaf of a [`OpKind::Patch`]: a relative path and its new value, or none to remove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchEntry {
    /// Fields below the operation's path.
    pub path: Vec<String>,
    /// The new value; absent to remove the leaf (JSON `null` is a value).
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub value: Slot,
}

impl OpKind {
    /// Short name used in events (`update.op`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Set(_) => "set",
            Self::Merge(_) => "update",
            Self::Delete => "delete",
            Self::Increment(_) => "increment",
            Self::Append(_) => "append",
            Self::Patch(_) => "set",
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Unique id (exactly-once delivery keys on it).
    pub id: OpId,
    /// The state key.
    pub key: String,
    /// Fields below the key; empty for the whole value.
    pub fields: Vec<String>,
    /// What it does: `{ "set": value }`, `"delete"`, `{ "increment": by }`...
    pub kind: OpKind,
    /// Version of the key this change was based on.
    pub base_version: u64,
    /// Wall-clock time in ms since the epoch when it was made.
    pub timestamp: f64,
    /// Batch sequence shared by the operations of one atomic batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    /// Clock, strategy and base the server needs to settle a conflict.
    #[serde(default, skip_serializing_if = "ConflictInfo::is_empty")]
    pub conflict: ConflictInfo,
}

/// Applies `kind` at `fields` to a key's current value (`None` = absent or deleted).
/// Returns the key's next value, or `Ok(None)` when the key ends up deleted.
/// Never mutates its input: the store's snapshots stay valid.
pub fn apply(
    current: Option<&Arc<Value>>,
    fields: &[String],
    kind: &OpKind,
) -> Result<Option<Arc<Value>>> {
    if fields.is_empty() {
        return apply_at_root(current, kind);
    }
    let mut root: Value = match current {
        Some(value) => Value::clone(value),
        None if matches!(kind, OpKind::Delete) => return Ok(None),
        None => Value::Object(Map::new()),
    };
    match kind {
        OpKind::Delete => {
            remove_in(&mut root, fields);
        }
        _ => {
            let slot = get_in_mut_or_create(&mut root, fields)?;
            let existing = if slot.is_null() { None } else { Some(&*slot) };
            let next = next_leaf(existing, kind)?;
            *slot = next;
        }
    }
    Ok(Some(Arc::new(root)))
}

fn apply_at_root(current: Option<&Arc<Value>>, kind: &OpKind) -> Result<Option<Arc<Value>>> {
    match kind {
        OpKind::Set(value) => Ok(Some(Arc::clone(value))),
        OpKind::Delete => Ok(None),
        _ => {
            let existing = current.map(|v| &**v).filter(|v| !v.is_null());
            Ok(Some(Arc::new(next_leaf(existing, kind)?)))
        }
    }
}

/// The new value at the operation's path, given the old one there.
fn next_leaf(existing: Option<&Value>, kind: &OpKind) -> Result<Value> {
    match kind {
        OpKind::Set(value) => Ok(Value::clone(value)),
        OpKind::Delete => Ok(Value::Null),
        OpKind::Merge(fields) => {
            let mut target = match existing {
                None => Map::new(),
                Some(Value::Object(map)) => map.clone(),
                Some(other) => {
                    return Err(CoreError::validation(
                        "TYPE_MISMATCH",
                        format!(
                            "updateState merges into an object, but the value is {}",
                            type_name(other)
                        ),
                    ))
                }
            };
            for (name, value) in fields {
                target.insert(name.clone(), value.clone());
            }
            Ok(Value::Object(target))
        }
        OpKind::Increment(by) => match existing {
            None => number(0.0, *by, None),
            Some(Value::Number(n)) => number(n.as_f64().unwrap_or(0.0), *by, n.as_i64()),
            Some(other) => Err(CoreError::validation(
                "TYPE_MISMATCH",
                format!(
                    "increment needs a number, but the value is {}",
                    type_name(other)
                ),
            )),
        },
        OpKind::Patch(entries) => {
            let mut target = match existing {
                Some(Value::Object(map)) => Value::Object(map.clone()),
                _ => Value::Object(Map::new()),
            };
            for entry in entries {
                match &*entry.value {
                    Some(value) => {
                        *get_in_mut_or_create(&mut target, &entry.path)? = Value::clone(value)
                    }
                    None => {
                        remove_in(&mut target, &entry.path);
                    }
                }
            }
            Ok(target)
        }
        OpKind::Append(item) => match existing {
            None => Ok(Value::Array(vec![item.clone()])),
            Some(Value::Array(items)) => {
                let mut items = items.clone();
                items.push(item.clone());
                Ok(Value::Array(items))
            }
            Some(other) => Err(CoreError::validation(
                "TYPE_MISMATCH",
                format!(
                    "append needs an array, but the value is {}",
                    type_name(other)
                ),
            )),
        },
    }
}

/// `base + by`, staying an integer while both are integers and no overflow happens.
fn number(base: f64, by: f64, base_int: Option<i64>) -> Result<Value> {
    let base_int = base_int.or((base == 0.0).then_some(0));
    if let (Some(a), true) = (base_int, by.fract() == 0.0 && by.abs() < 9.0e15) {
        if let Some(sum) = a.checked_add(by as i64) {
            return Ok(Value::Number(sum.into()));
        }
    }
    Number::from_f64(base + by)
        .map(Value::Number)
        .ok_or_else(|| {
            CoreError::validation("NUMBER_OVERFLOW", "increment result is not a finite number")
        })
}

/// Reads the value at `fields` of a key snapshot.
pub fn value_at<'a>(root: Option<&'a Arc<Value>>, fields: &[String]) -> Option<&'a Value> {
    root.and_then(|v| get_in(v, fields))
}

/// What a change carries for conflict decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConflictInfo {
    /// Hybrid logical clock stamp of the change (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clock: Stamp,
    /// The strategy for the change's path (none: `last-write-wins`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// `autoResolveThreshold`, for `smart-merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The key's value the change was based on, for strategies that need it; with a
    /// `scope`, the value at the scoped path as the author saw it before the change
    /// (absent: absent there).
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub base: Slot,
    /// How many of the change's fields name the path its conflicts are about (SPEC 19);
    /// 0: the whole key. A scoped change conflicts only when another client changed the
    /// value at that path since `base`.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub scope: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ConflictInfo {
    /// Whether nothing is set (not serialized then).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The strategy, `last-write-wins` when unset.
    pub fn strategy(&self) -> Strategy {
        self.strategy.clone().unwrap_or(Strategy::LastWriteWins)
    }
}

impl Operation {
    /// The fields that name the path this change's conflicts are about (empty: the key).
    pub fn conflict_fields(&self) -> &[String] {
        &self.fields[..self.conflict.scope.min(self.fields.len())]
    }

    /// The dotted path this change's conflicts are about.
    pub fn conflict_path(&self) -> String {
        crate::core::model::path::dotted(&self.key, self.conflict_fields())
    }

    /// What this change makes of `base`, the value at its conflict path (the key's value
    /// when unscoped): the change applied below that path.
    pub fn apply_in_scope(&self, base: Option<&Arc<Value>>) -> Result<Option<Arc<Value>>> {
        let depth = self.conflict.scope.min(self.fields.len());
        apply(base, &self.fields[depth..], &self.kind)
    }
}
