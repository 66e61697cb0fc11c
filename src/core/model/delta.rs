//! Delta updates: the leaves that differ between two objects, so `setState` of a large
//! object sends only what changed (`enableDeltaUpdates`).

use serde_json::{Map, Value};

use crate::core::model::operation::PatchEntry;
use crate::core::model::slot::Slot;

/// The patch that turns object `old` into object `new`, or `None` when either is not an
/// object (then the whole value is sent). Nested objects are compared field by field;
/// anything else that differs is replaced whole.
pub fn diff(old: &Value, new: &Value) -> Option<Vec<PatchEntry>> {
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return None;
    };
    let mut out = Vec::new();
    diff_objects(old, new, &mut Vec::new(), &mut out);
    Some(out)
}

fn diff_objects(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    at: &mut Vec<String>,
    out: &mut Vec<PatchEntry>,
) {
    for (name, value) in new {
        at.push(name.clone());
        match (old.get(name), value) {
            (Some(Value::Object(a)), Value::Object(b)) => diff_objects(a, b, at, out),
            (Some(before), after) if before == after => {}
            _ => out.push(PatchEntry {
                path: at.clone(),
                value: Slot::of(value.clone()),
            }),
        }
        at.pop();
    }
    for name in old.keys().filter(|name| !new.contains_key(*name)) {
        let mut path = at.clone();
        path.push(name.clone());
        out.push(PatchEntry {
            path,
            value: Slot::ABSENT,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::operation::{apply, OpKind};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn patch_holds_only_changed_leaves_and_rebuilds_the_new_value() {
        let old = json!({"a": 1, "b": {"c": 2, "d": [1]}, "gone": true});
        let new = json!({"a": 1, "b": {"c": 3, "d": [1]}, "added": null});
        let patch = diff(&old, &new).unwrap();
        assert_eq!(patch.len(), 3, "{patch:?}");
        let rebuilt = apply(Some(&Arc::new(old)), &[], &OpKind::Patch(patch)).unwrap();
        assert_eq!(rebuilt.as_deref(), Some(&new));
    }

    #[test]
    fn non_objects_have_no_patch() {
        assert!(diff(&json!([1]), &json!({"a": 1})).is_none());
        assert!(diff(&json!({"a": 1}), &json!(2)).is_none());
    }
}
