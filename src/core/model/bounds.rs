//! What one change may write, checked by the engine for local changes and by the room for
//! every change a server receives: values nested at most [`MAX_DEPTH`] levels (counting
//! the path's fields: the depth the key's value reaches), finite numbers, and a sequence
//! that continues its client's own. A stored value stays readable everywhere (serde_json
//! reads 128 levels) and nothing recurses over attacker-controlled depth.

use serde_json::Value;

use crate::core::error::{CoreError, Result};
use crate::core::model::operation::{OpKind, Operation};
use crate::core::model::path::MAX_PATH_LEN;

/// Deepest nesting a key's value may reach, like the client's check of values.
pub const MAX_DEPTH: usize = 100;

/// How far past its client's watermark a change's sequence may jump (a client never skips
/// more than the changes it dropped; a far jump would make its later changes look old).
pub const MAX_SEQ_STEP: u64 = 1 << 32;

/// Container levels of `value` (0 for a scalar), without recursion.
pub fn value_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        if deepest > MAX_DEPTH {
            return deepest;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

/// The depth of the key's value that writing `kind` at `fields` reaches (at least).
pub fn written_depth(fields: &[String], kind: &OpKind) -> usize {
    let below = match kind {
        OpKind::Set(value) => value_depth(value),
        OpKind::Merge(map) => 1 + map.values().map(value_depth).max().unwrap_or(0),
        OpKind::Append(item) => 1 + value_depth(item),
        OpKind::Patch(entries) => entries
            .iter()
            .map(|e| e.path.len() + e.value.as_deref().map_or(0, value_depth))
            .max()
            .unwrap_or(0),
        OpKind::Delete | OpKind::Increment(_) => 0,
    };
    fields.len().saturating_add(below)
}

/// Checks what a change at `fields` writes: `VALUE_TOO_DEEP` past [`MAX_DEPTH`].
pub fn check_depth(fields: &[String], kind: &OpKind) -> Result<()> {
    let depth = written_depth(fields, kind);
    if depth > MAX_DEPTH {
        return Err(CoreError::validation(
            "VALUE_TOO_DEEP",
            format!(
                "the change nests the key's value {depth} levels deep; the limit is {MAX_DEPTH}"
            ),
        ));
    }
    Ok(())
}

/// The size of `value` as JSON text, in bytes (close to it for numbers and escapes),
/// measured without recursion.
pub fn value_size(value: &Value) -> usize {
    let mut size = 0usize;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        size += match value {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(text) => text.len() + 2,
            Value::Array(items) => {
                stack.extend(items);
                2 + items.len()
            }
            Value::Object(map) => {
                for (name, child) in map {
                    size += name.len() + 4;
                    stack.push(child);
                }
                2
            }
        };
    }
    size
}

/// Checks a received change: its key (at most [`MAX_PATH_LEN`] bytes, like a local path,
/// and no NUL character, which not every server storage can hold),
/// its depth, its numbers (finite), and its sequence (above the client's `watermark` by at
/// most [`MAX_SEQ_STEP`], and below 2^63 so it is stored as is).
pub fn check_received(op: &Operation, watermark: u64) -> Result<()> {
    if op.key.is_empty() || op.key.len() > MAX_PATH_LEN || op.key.contains('\0') {
        return Err(CoreError::validation(
            "INVALID_KEY",
            format!("a key must be 1 to {MAX_PATH_LEN} bytes, without NUL characters"),
        ));
    }
    check_depth(&op.fields, &op.kind)?;
    let finite = op.timestamp.is_finite()
        && match op.kind {
            OpKind::Increment(by) => by.is_finite(),
            _ => true,
        };
    if !finite {
        return Err(CoreError::validation(
            "INVALID_NUMBER",
            "timestamps and increments must be finite numbers",
        ));
    }
    let seq = op.id.seq;
    if seq > i64::MAX as u64 || seq > watermark.saturating_add(MAX_SEQ_STEP) {
        return Err(CoreError::validation(
            "INVALID_SEQ",
            format!("sequence {seq} does not continue this client's changes (last {watermark})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut value = json!(1);
        for _ in 0..levels {
            value = json!({ "a": value });
        }
        value
    }

    #[test]
    fn depth_counts_containers_and_the_path() {
        assert_eq!(value_depth(&json!(1)), 0);
        assert_eq!(value_depth(&json!([[1], {}])), 2);
        assert_eq!(value_depth(&nested(100)), 100);
        let fields: Vec<String> = vec!["x".into(); 3];
        assert_eq!(written_depth(&fields, &OpKind::Set(nested(97).into())), 100);
        assert!(check_depth(&fields, &OpKind::Set(nested(97).into())).is_ok());
        let error = check_depth(&fields, &OpKind::Set(nested(98).into())).unwrap_err();
        assert_eq!(error.code, "VALUE_TOO_DEEP");
        let long: Vec<String> = vec!["x".into(); 50_000];
        assert_eq!(
            check_depth(&long, &OpKind::Delete).unwrap_err().code,
            "VALUE_TOO_DEEP"
        );
    }

    #[test]
    fn size_is_close_to_the_json_text() {
        for value in [
            json!({"name": "Ada", "tags": ["a", "b"], "n": null}),
            json!("x".repeat(1000)),
            json!([]),
        ] {
            let text = serde_json::to_string(&value).unwrap().len();
            let size = value_size(&value);
            assert!(
                size >= text && size <= text * 2,
                "{size} vs {text} for {value}"
            );
        }
    }

    #[test]
    fn a_very_deep_value_is_measured_without_recursion() {
        let mut value = json!(1);
        for _ in 0..200_000 {
            value = Value::Array(vec![value]);
        }
        assert!(value_depth(&value) > MAX_DEPTH);
        // Dropping it recursively would overflow the test's stack: take it apart.
        let mut stack = vec![value];
        while let Some(Value::Array(mut items)) = stack.pop() {
            stack.append(&mut items);
        }
    }
}
