//! The engine's plain data types: read results, persistence work, collection tails.

use rustc_hash::FxHashMap;
use serde_json::Value;

/// The last position of each collection (see [`crate::core::collection`]), as of a state
/// generation: an add reads only the keys written since instead of every item (10,000
/// adds were quadratic). A position at or past every live item's is all an add needs, so
/// a removed last item may stay here.
#[derive(Debug, Default)]
pub struct Tails(pub FxHashMap<String, (u64, Option<String>)>);

/// A value with its metadata (`getState(path, { withMetadata: true })`).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithMetadata<'a> {
    /// The value at the path.
    pub value: &'a Value,
    /// The key's version.
    pub version: u64,
    /// Time of the key's last change.
    pub updated_at: f64,
    /// Author of the key's last change.
    pub updated_by: &'a str,
    /// Whether the key has changes the server has not acknowledged.
    pub pending: bool,
}

/// Dirty shards and the change counter they cover, for the persistence layer.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistWork {
    /// Value of the change counter this work makes durable.
    pub upto: u64,
    /// `(shard index, encoded record)` for every shard changed since the last take.
    pub shards: Vec<(u32, Vec<u8>)>,
    /// The encoded meta record.
    pub meta: String,
    /// The `next_seq` the meta record claims: once this work is stored, no restart reuses
    /// a sequence below it, so changes below it may be sent before their records are stored.
    pub reserved: u64,
}

/// A snapshot read back from storage.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The meta record, if one was stored.
    pub meta: Option<String>,
    /// Shard records.
    /// `(shard index, stored record)`.
    pub shards: Vec<(u32, Vec<u8>)>,
}
