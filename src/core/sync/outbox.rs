//! What the outbox stores: each pending operation as one record, the confirmed value of
//! every key that has pending operations (its base), and the confirmed server position.
//! A base is the key's [`crate::core::room::KeyState`]. Records are MessagePack, LZ4-compressed at or over the compression threshold.

use serde::Serialize;

use crate::core::error::{CoreError, Result};
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
    let body = rmp_serde::to_vec_named(value).unwrap_or_default();
    pack(&body, threshold).bytes
}

/// Decodes a record; a corrupt one is a `CORRUPT_RECORD` storage error.
pub fn decode_record<T: serde::de::DeserializeOwned>(record: &[u8]) -> Result<T> {
    let body = unpack(record)?;
    rmp_serde::from_slice(&body).map_err(|e| {
        CoreError::storage(
            "CORRUPT_RECORD",
            format!("outbox record does not decode: {e}"),
        )
    })
}
