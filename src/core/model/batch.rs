//! Parsing of `batch(entries)` into drafts; every entry is checked before anything applies.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserializer, Error as _, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::core::error::{CoreError, Result};
use crate::core::model::json;
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

fn entry_error(index: usize, message: impl fmt::Display) -> CoreError {
    CoreError::validation(
        "INVALID_BATCH_ENTRY",
        format!("batch entry {index}: {message}"),
    )
}

/// Parses batch entries from JSON text (see [`parse_entries`]); `INVALID_VALUE` when the
/// text is not JSON at all. Entries of the usual shape are read straight into drafts;
/// anything else (a wrong type, an unknown or repeated field, an escaped name) is read again
/// as a JSON value, which names what is wrong exactly as [`parse_entries`] does.
pub fn parse_entries_text(text: &str) -> Result<Vec<Draft>> {
    if let Ok(entries) = json::decode::<Vec<Fields>>(text.as_bytes()) {
        return entries
            .into_iter()
            .enumerate()
            .map(|(i, fields)| entry_draft(i, fields))
            .collect();
    }
    parse_entries(json::decode_argument(text, "entries")?)
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
    let Value::Object(map) = item else {
        return Err(entry_error(
            index,
            format!("must be an object, got {}", type_name(&item)),
        ));
    };
    let mut fields = Fields::default();
    for (name, value) in map {
        let Some(field) = fields.named(&name) else {
            return Err(entry_error(index, format!("unknown field '{name}'")));
        };
        *field = Some(value);
    }
    entry_draft(index, fields)
}

/// One entry's fields, each absent or a value (`null` included).
#[derive(Default)]
struct Fields {
    op: Option<Value>,
    key: Option<Value>,
    value: Option<Value>,
    by: Option<Value>,
}

impl Fields {
    /// The field called `name`, if an entry may have it.
    fn named(&mut self, name: &str) -> Option<&mut Option<Value>> {
        match name {
            "op" => Some(&mut self.op),
            "key" => Some(&mut self.key),
            "value" => Some(&mut self.value),
            "by" => Some(&mut self.by),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Fields {
    /// Only a JSON object whose names are allowed, each once, written without escapes;
    /// anything else is an error, and the entries are then read as a JSON value.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a batch entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(name) = map.next_key::<&str>()? {
            let field = fields
                .named(name)
                .ok_or_else(|| A::Error::custom("unknown field"))?;
            if field.is_some() {
                return Err(A::Error::custom("repeated field"));
            }
            *field = Some(map.next_value()?);
        }
        Ok(fields)
    }
}

fn entry_draft(index: usize, fields: Fields) -> Result<Draft> {
    let Fields { op, key, value, by } = fields;
    let path = match &key {
        Some(Value::String(key)) => Path::parse(key).map_err(|e| entry_error(index, e.message))?,
        _ => return Err(entry_error(index, "needs a string 'key'")),
    };
    let op = match op {
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
    let value = value.ok_or_else(|| entry_error(index, format!("'{op}' needs a 'value'")));
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
        "increment" => match by {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The text path reads every input as the value path does: the same drafts, or the
    /// same error.
    #[test]
    fn entries_read_from_text_as_from_a_json_value() {
        let inputs = [
            r#"[{"key":"a","value":1},{"key":"b.c","value":{"x":[1,null]}}]"#,
            r#"[{"key":"a","value":null}]"#,
            r#"[{"op":"update","key":"a","value":{"x":1}},{"op":"delete","key":"b"}]"#,
            r#"[{"op":"increment","key":"n"},{"op":"increment","key":"n","by":2.5}]"#,
            r#"[{"op":"append","key":"l","value":[1]}]"#,
            r#"[{"value":1,"key":"a","op":"set"}]"#,
            r#"[{"key":"a","value":1,"key":"b"}]"#,
            r#"[{"key":"a","value":1,"extra":true}]"#,
            r#"[{"key":"a"}]"#,
            r#"[{"key":1,"value":1}]"#,
            r#"[{"key":null,"value":1}]"#,
            r#"[{"op":null,"key":"a","value":1}]"#,
            r#"[{"op":"nope","key":"a"}]"#,
            r#"[{"op":"update","key":"a","value":3}]"#,
            r#"[{"op":"increment","key":"n","by":"2"}]"#,
            r#"[{"op":"increment","key":"n","by":null}]"#,
            r#"[{"key":"a..b","value":1}]"#,
            r#"[{"key":"a","value":1},7]"#,
            r#"[["set","a",1]]"#,
            r#"[[1,2]]"#,
            r#"{"key":"a"}"#,
            r#"[]"#,
        ];
        for text in inputs {
            let value: Value = json::decode(text.as_bytes()).unwrap();
            assert_eq!(parse_entries_text(text), parse_entries(value), "{text}");
        }
        assert!(parse_entries_text("[{").is_err());
        // The usual shape takes the direct path; a repeated field, an array entry or an
        // escaped name takes the other.
        let direct = |text: &str| json::decode::<Vec<Fields>>(text.as_bytes()).is_ok();
        assert!(direct(inputs[0]) && direct(inputs[2]) && direct(inputs[3]));
        assert!(!direct(inputs[6]));
        assert!(!direct(r#"[["set","a",1]]"#));
        assert!(!direct(r#"[{"k\u0065y":"a","value":1}]"#));
        assert_eq!(
            parse_entries_text(r#"[{"k\u0065y":"a","value":1}]"#),
            parse_entries_text(r#"[{"key":"a","value":1}]"#)
        );
    }
}
