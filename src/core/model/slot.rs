//! A key's value or its absence, as it travels and is stored: an absent field means
//! "deleted or never written", and JSON `null` is a value like any other.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A value that may be absent. Serialized as the value itself; a field holding an absent
/// slot is left out, and a field that is present (even as `null`) reads back as a value.
///
/// Fields of this type carry `#[serde(default, skip_serializing_if = "Slot::is_absent")]`:
/// `default` reads a missing field as absent, `skip_serializing_if` writes absence as a
/// missing field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slot(pub Option<Arc<Value>>);

impl Slot {
    /// No value: deleted or never written.
    pub const ABSENT: Slot = Slot(None);

    /// A present value.
    pub fn of(value: Value) -> Self {
        Slot(Some(Arc::new(value)))
    }

    /// Whether there is no value (for `skip_serializing_if`).
    pub fn is_absent(&self) -> bool {
        self.0.is_none()
    }

    /// The inner option.
    pub fn into_inner(self) -> Option<Arc<Value>> {
        self.0
    }
}

impl Deref for Slot {
    type Target = Option<Arc<Value>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<Option<Arc<Value>>> for Slot {
    fn from(value: Option<Arc<Value>>) -> Self {
        Slot(value)
    }
}

impl From<Slot> for Option<Arc<Value>> {
    fn from(slot: Slot) -> Self {
        slot.0
    }
}

impl Serialize for Slot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(value) => value.serialize(s),
            None => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Slot {
    /// A field that is there is a value, `null` included (absence is `#[serde(default)]`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Slot::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(default, skip_serializing_if = "Slot::is_absent")]
        value: Slot,
    }

    #[test]
    fn null_is_a_value_and_a_missing_field_is_absent() {
        let null: Holder = serde_json::from_str(r#"{"value":null}"#).unwrap();
        assert_eq!(null.value, Slot::of(Value::Null));
        let missing: Holder = serde_json::from_str("{}").unwrap();
        assert_eq!(missing.value, Slot::ABSENT);
        assert_eq!(serde_json::to_string(&missing).unwrap(), "{}");
        assert_eq!(serde_json::to_string(&null).unwrap(), r#"{"value":null}"#);
    }

    #[test]
    fn round_trips_through_the_wire_codec() {
        for slot in [
            Slot::ABSENT,
            Slot::of(Value::Null),
            Slot::of(json!({"a": [1]})),
        ] {
            let holder = Holder { value: slot };
            let frame = crate::core::protocol::encode(&holder, None);
            let back: Holder = crate::core::protocol::decode(&frame, Default::default()).unwrap();
            assert_eq!(back, holder);
        }
    }
}
