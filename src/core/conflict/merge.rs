//! Three-way merge of objects for `smart-merge`: fields changed on one side only take
//! that side; fields changed on both sides differently are conflicts, settled by the
//! caller's last-write-wins choice.

use serde_json::{Map, Value};

/// The outcome of a three-way merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The merged object.
    pub value: Value,
    /// Changed fields that merged cleanly (one side only, or the same change on both).
    pub clean: usize,
    /// Fields both sides changed differently.
    pub conflicting: usize,
}

impl Merged {
    /// Share of changed fields that merged cleanly (1 when nothing changed).
    pub fn clean_share(&self) -> f64 {
        let total = self.clean + self.conflicting;
        if total == 0 {
            1.0
        } else {
            self.clean as f64 / total as f64
        }
    }
}

/// Merges `client` and `server`, both derived from `base`. `client_wins` settles fields
/// both changed. `None` unless all three are objects.
pub fn merge3(base: &Value, server: &Value, client: &Value, client_wins: bool) -> Option<Merged> {
    let (Value::Object(b), Value::Object(s), Value::Object(c)) = (base, server, client) else {
        return None;
    };
    let mut merged = Merged {
        value: Value::Null,
        clean: 0,
        conflicting: 0,
    };
    merged.value = Value::Object(objects(b, s, c, client_wins, &mut merged));
    Some(merged)
}

fn objects(
    base: &Map<String, Value>,
    server: &Map<String, Value>,
    client: &Map<String, Value>,
    client_wins: bool,
    counts: &mut Merged,
) -> Map<String, Value> {
    let mut names: Vec<&String> = server.keys().chain(client.keys()).collect();
    names.extend(base.keys());
    names.sort_unstable();
    names.dedup();
    let mut out = Map::new();
    for name in names {
        let (b, s, c) = (base.get(name), server.get(name), client.get(name));
        if let Some(value) = field(b, s, c, client_wins, counts) {
            out.insert(name.clone(), value);
        }
    }
    out
}

fn field(
    base: Option<&Value>,
    server: Option<&Value>,
    client: Option<&Value>,
    client_wins: bool,
    counts: &mut Merged,
) -> Option<Value> {
    if server == client {
        if server != base {
            counts.clean += 1;
        }
        return server.cloned();
    }
    if server == base {
        counts.clean += 1;
        return client.cloned();
    }
    if client == base {
        counts.clean += 1;
        return server.cloned();
    }
    if let (Some(Value::Object(b)), Some(Value::Object(s)), Some(Value::Object(c))) =
        (base, server, client)
    {
        return Some(Value::Object(objects(b, s, c, client_wins, counts)));
    }
    counts.conflicting += 1;
    if client_wins {
        client.cloned()
    } else {
        server.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_sided_changes_merge_and_two_sided_ones_follow_the_winner() {
        let base = json!({ "a": 1, "b": 1, "c": 1, "n": { "x": 1, "y": 1 } });
        let server = json!({ "a": 2, "b": 1, "c": 5, "n": { "x": 2, "y": 1 } });
        let client = json!({ "a": 1, "b": 3, "c": 6, "d": 4, "n": { "x": 1, "y": 2 } });
        let merged = merge3(&base, &server, &client, true).unwrap();
        assert_eq!(
            merged.value,
            json!({ "a": 2, "b": 3, "c": 6, "d": 4, "n": { "x": 2, "y": 2 } })
        );
        assert_eq!((merged.clean, merged.conflicting), (5, 1));
        let lost = merge3(&base, &server, &client, false).unwrap();
        assert_eq!(lost.value["c"], json!(5));
    }

    #[test]
    fn removals_merge_like_changes_and_non_objects_do_not_merge() {
        let base = json!({ "a": 1, "b": 1 });
        let server = json!({ "b": 1 });
        let client = json!({ "a": 1, "b": 2 });
        let merged = merge3(&base, &server, &client, false).unwrap();
        assert_eq!(merged.value, json!({ "b": 2 }));
        assert_eq!(merged.clean_share(), 1.0);
        assert!(merge3(&json!(1), &json!({}), &json!({}), true).is_none());
    }
}
