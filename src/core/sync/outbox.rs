//! What the outbox stores: each pending operation as one record, the confirmed value of
//! every key that has pending operations (its base), and the confirmed server position.
//! A base is the key's [`crate::core::room::KeyState`]. Records are JSON objects,
//! LZ4-compressed at or over the compression threshold; records written before 0.2 are
//! MessagePack maps and are still read (see [`legacy`]).

use serde::Serialize;

use crate::core::error::{CoreError, Result};
use crate::core::model::json;
use crate::core::state::compress::{pack, unpack};

/// Storage changes for the outbox, applied together (and, in the browser, together with
/// the state they belong to).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxWork {
    /// `(sequence, record)` of operations to store.
    pub puts: Vec<(u64, Vec<u8>)>,
    /// Sequences of operations to remove (acknowledged or rejected).
    pub deletes: Vec<u64>,
    /// `(key, record)` of bases to store, or `None` to remove one.
    pub bases: Vec<(String, Option<Vec<u8>>)>,
    /// The confirmed position to store, when it moved.
    pub position: Option<u64>,
    /// Highest operation sequence this work makes durable (0: none).
    pub upto_seq: u64,
}

impl OutboxWork {
    /// Whether there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty()
            && self.deletes.is_empty()
            && self.bases.is_empty()
            && self.position.is_none()
    }
}

/// The outbox as read back from storage.
#[derive(Debug, Clone, Default)]
pub struct OutboxLoad {
    /// Stored operation records, any order.
    pub ops: Vec<Vec<u8>>,
    /// `(key, record)` of stored bases.
    pub bases: Vec<(String, Vec<u8>)>,
    /// The stored confirmed position.
    pub position: u64,
}

/// Encodes a record, compressing it at or over `threshold` bytes.
pub fn encode_record<T: Serialize>(value: &T, threshold: Option<usize>) -> Vec<u8> {
    // Operations and bases hold only strings, numbers and JSON values: encoding cannot fail.
    let body = serde_json::to_vec(value).unwrap_or_default();
    pack(&body, threshold).bytes
}

/// Decodes a record; a corrupt one is a `CORRUPT_RECORD` storage error.
pub fn decode_record<T: serde::de::DeserializeOwned>(record: &[u8]) -> Result<T> {
    let body = unpack(record)?;
    let decoded = if body.first() == Some(&b'{') {
        json::decode(&body)
    } else {
        legacy::to_json(&body).and_then(|value| json::from_value(&value))
    };
    decoded.map_err(|e| {
        CoreError::storage(
            "CORRUPT_RECORD",
            format!("outbox record does not decode: {e}"),
        )
    })
}

/// Reading MessagePack records written before 0.2, so an outbox that waited through the
/// upgrade still sends. One non-generic decoder (`rmpv`) to a JSON value, then the same
/// `Deserialize` as new records: far smaller than a MessagePack serde codec per type.
mod legacy {
    use rmpv::Value as Packed;
    use serde::de::Error as _;
    use serde_json::{Map, Number, Value};

    /// Decodes one MessagePack value (a map, in a record) to JSON.
    pub fn to_json(body: &[u8]) -> Result<Value, serde_json::Error> {
        let mut reader = body;
        // Records nest a value (at most `MAX_DEPTH` deep) two levels down.
        let packed = rmpv::decode::read_value_with_max_depth(&mut reader, 128)
            .map_err(|e| serde_json::Error::custom(format!("not MessagePack: {e}")))?;
        convert(packed)
    }

    fn convert(packed: Packed) -> Result<Value, serde_json::Error> {
        Ok(match packed {
            Packed::Nil => Value::Null,
            Packed::Boolean(b) => Value::Bool(b),
            Packed::Integer(i) => match (i.as_u64(), i.as_i64()) {
                (Some(u), _) => Value::from(u),
                (None, Some(n)) => Value::from(n),
                (None, None) => Value::Null,
            },
            Packed::F32(f) => Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number),
            Packed::F64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Packed::String(s) => match s.into_str() {
                Some(s) => Value::String(s),
                None => return Err(serde_json::Error::custom("a string is not UTF-8")),
            },
            Packed::Array(items) => {
                Value::Array(items.into_iter().map(convert).collect::<Result<_, _>>()?)
            }
            Packed::Map(entries) => {
                let mut map = Map::new();
                for (key, value) in entries {
                    // JSON keys are strings; serde reads integer keys back from them.
                    let key = match convert(key)? {
                        Value::String(key) => key,
                        Value::Number(n) => n.to_string(),
                        _ => return Err(serde_json::Error::custom("a map key is not a string")),
                    };
                    map.insert(key, convert(value)?);
                }
                Value::Object(map)
            }
            Packed::Binary(_) | Packed::Ext(..) => {
                return Err(serde_json::Error::custom("binary data in a record"))
            }
        })
    }
}
