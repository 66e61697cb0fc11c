//! Dotted paths (`users.alice.name`): the first segment is the key, the rest address a
//! field inside the key's JSON value. Numeric segments index arrays.

use serde_json::{Map, Value};

use crate::core::error::{CoreError, Result};

/// Longest accepted path, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

/// A parsed path: the key plus the fields inside the key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The state key (first segment).
    pub key: String,
    /// Field names below the key; empty for the whole value.
    pub fields: Vec<String>,
}

impl Path {
    /// Parses and validates a dotted path.
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(CoreError::validation(
                "INVALID_PATH",
                "path must not be empty",
            ));
        }
        if text.len() > MAX_PATH_LEN {
            return Err(CoreError::validation(
                "INVALID_PATH",
                format!(
                    "path is {} bytes long; the limit is {MAX_PATH_LEN}",
                    text.len()
                ),
            ));
        }
        let mut segments = text.split('.');
        let key = segments.next().unwrap_or_default();
        check_segment(text, key)?;
        if key == "*" {
            return Err(CoreError::validation(
                "INVALID_PATH",
                "'*' is reserved for subscribe('*') and cannot be a key",
            ));
        }
        let mut fields = Vec::new();
        for segment in segments {
            check_segment(text, segment)?;
            fields.push(segment.to_owned());
        }
        Ok(Self {
            key: key.to_owned(),
            fields,
        })
    }

    /// The path written back in dotted form.
    pub fn dotted(&self) -> String {
        dotted(&self.key, &self.fields)
    }
}

fn check_segment(text: &str, segment: &str) -> Result<()> {
    if segment.is_empty() {
        return Err(CoreError::validation(
            "INVALID_PATH",
            format!("path '{text}' has an empty segment"),
        ));
    }
    if segment.contains(['[', ']']) {
        // `todos[0].done` once became a key named `todos[0]` (issue 27).
        return Err(CoreError::validation(
            "INVALID_PATH",
            format!(
                "path '{text}' uses brackets: write array indices as dotted numbers ('{}')",
                text.replace('[', ".").replace(']', "")
            ),
        ));
    }
    Ok(())
}

/// Joins a key and fields into a dotted path.
pub fn dotted(key: &str, fields: &[String]) -> String {
    let mut out =
        String::with_capacity(key.len() + fields.iter().map(|f| f.len() + 1).sum::<usize>());
    out.push_str(key);
    for field in fields {
        out.push('.');
        out.push_str(field);
    }
    out
}

/// Whether one field path lies on the other's line (equal, above or below).
pub fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

fn array_index(segment: &str) -> Option<usize> {
    if segment.len() > 1 && segment.starts_with('0') {
        return None;
    }
    segment.parse().ok()
}

/// The value at `fields` inside `root`, if present.
pub fn get_in<'a>(root: &'a Value, fields: &[String]) -> Option<&'a Value> {
    fields.iter().try_fold(root, |node, field| match node {
        Value::Object(map) => map.get(field),
        Value::Array(items) => array_index(field).and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The value at `fields` inside `root` for writing, creating missing objects on the way.
/// Fails when a segment crosses a value that is not an object or array.
pub fn get_in_mut_or_create<'a>(root: &'a mut Value, fields: &[String]) -> Result<&'a mut Value> {
    let mut node = root;
    for (depth, field) in fields.iter().enumerate() {
        node = match node {
            Value::Object(map) => map.entry(field.clone()).or_insert(Value::Null),
            Value::Array(items) => {
                let len = items.len();
                match array_index(field) {
                    Some(i) if i < len => &mut items[i],
                    Some(i) if i == len => {
                        items.push(Value::Null);
                        &mut items[i]
                    }
                    _ => {
                        return Err(CoreError::validation(
                            "INDEX_OUT_OF_RANGE",
                            format!("'{field}' is not an index within an array of {len} items"),
                        ))
                    }
                }
            }
            Value::Null => {
                *node = Value::Object(Map::new());
                match node {
                    Value::Object(map) => map.entry(field.clone()).or_insert(Value::Null),
                    _ => unreachable!("just made an object"),
                }
            }
            other => {
                return Err(CoreError::validation(
                    "PATH_NOT_CONTAINER",
                    format!(
                        "cannot address '{field}' inside {} at depth {depth}",
                        type_name(other)
                    ),
                ))
            }
        };
    }
    Ok(node)
}

/// Removes the value at `fields` (non-empty) inside `root`; returns whether it existed.
pub fn remove_in(root: &mut Value, fields: &[String]) -> bool {
    let Some((last, parents)) = fields.split_last() else {
        return false;
    };
    let parent = parents.iter().try_fold(root, |node, field| match node {
        Value::Object(map) => map.get_mut(field),
        Value::Array(items) => array_index(field).and_then(|i| items.get_mut(i)),
        _ => None,
    });
    match parent {
        Some(Value::Object(map)) => map.shift_remove(last).is_some(),
        Some(Value::Array(items)) => match array_index(last) {
            Some(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// JSON type name for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (merge rule
/// segments, and the server's room patterns).
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return true;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod glob_tests {
    use super::glob;

    #[test]
    fn stars_match_inside_one_segment() {
        assert!(glob("*", "anything"));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*c", "ab"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("*x", "x"));
    }
}

#[cfg(test)]
mod parse_tests {
    use super::Path;

    #[test]
    fn brackets_and_empty_segments_are_refused_and_indices_are_dotted_numbers() {
        for bad in ["todos[0].done", "todos[0]", "a.b]", "a..b", ".a", "a."] {
            let error = Path::parse(bad).unwrap_err();
            assert_eq!(error.code, "INVALID_PATH", "{bad}");
        }
        let error = Path::parse("todos[0].done").unwrap_err();
        assert!(
            error.message.contains("'todos.0.done'"),
            "{}",
            error.message
        );
        let path = Path::parse("todos.0.done").unwrap();
        assert_eq!(
            (path.key.as_str(), &path.fields[..]),
            ("todos", &["0".to_owned(), "done".to_owned()][..])
        );
    }
}
