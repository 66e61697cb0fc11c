//! Parsing of `batch(entries)` into drafts; every entry is checked before anything applies.

use std::sync::Arc;

use serde_json::Value;

use crate::core::error::{CoreError, Result};
use crate::core::model::operation::OpKind;
use crate::core::model::path::{type_name, Path};

/// A change not yet applied: where and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Target path.
    pub path: Path,
    /// What to do there.
    pub kind: OpKind,
}

fn entry_error(index: usize, message: impl std::fmt::Display) -> CoreError {
    CoreError::validation(
        "INVALID_BATCH_ENTRY",
        format!("batch entry {index}: {message}"),
    )
}

/// Parses batch entries: `{ key, value }` (set), or `{ op, key, ... }` with `op` one of
/// `set` (`value`), `update` (`value`: object), `delete`, `increment` (`by`, default 1),
/// `append` (`value`). `key` may be a dotted path. Values are moved, never copied.
pub fn parse_entries(entries: Value) -> Result<Vec<Draft>> {
    let Value::Array(items) = entries else {
        return Err(CoreError::type_error(
            "INVALID_BATCH",
            "batch takes an array of entries",
        ));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| parse_entry(i, item))
        .collect()
}

fn parse_entry(index: usize, item: Value) -> Result<Draft> {
    let Value::Object(mut fields) = item else {
        return Err(entry_error(
            index,
            format!("must be an object, got {}", type_name(&item)),
        ));
    };
    const ALLOWED: [&str; 4] = ["op", "key", "value", "by"];
    if let Some(unknown) = fields.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Err(entry_error(index, format!("unknown field '{unknown}'")));
    }
    let path = match fields.get("key") {
        Some(Value::String(key)) => Path::parse(key).map_err(|e| entry_error(index, e.message))?,
        _ => return Err(entry_error(index, "needs a string 'key'")),
    };
    let op = match fields.shift_remove("op") {
        None => "set".to_owned(),
        Some(Value::String(op)) => op,
        Some(other) => {
            let got = type_name(&other);
            return Err(entry_error(
                index,
                format!("'op' must be a string, got {got}"),
            ));
        }
    };
    let value = fields
        .shift_remove("value")
        .ok_or_else(|| entry_error(index, format!("'{op}' needs a 'value'")));
    let kind = match op.as_str() {
        "set" => OpKind::Set(Arc::new(value?)),
        "update" => match value? {
            Value::Object(map) => OpKind::Merge(map),
            other => {
                let got = type_name(&other);
                return Err(entry_error(
                    index,
                    format!("'update' needs an object value, got {got}"),
                ));
            }
        },
        "delete" => OpKind::Delete,
        "increment" => match fields.get("by") {
            None => OpKind::Increment(1.0),
            Some(by) => match by.as_f64() {
                Some(n) => OpKind::Increment(n),
                None => return Err(entry_error(index, "'by' must be a finite number")),
            },
        },
        "append" => OpKind::Append(value?),
        other => {
            return Err(entry_error(
                index,
                format!("unknown op '{other}' (expected set, update, delete, increment or append)"),
            ))
        }
    };
    Ok(Draft { path, kind })
}
