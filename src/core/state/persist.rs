//! The storage layout of cached state: one JSON record per store shard plus a meta record.
//! Pure encoding and decoding; the browser binding does the IndexedDB I/O.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::error::{CoreError, Result};
use crate::core::model::history::Entry;
use crate::core::model::history::{History, HistoryEntry, Origin};
use crate::core::model::json;
use crate::core::model::slot::Slot;
use crate::core::state::compress::{pack, unpack, Packed};

/// Version of this layout; bump when shard assignment or record shape changes.
pub const LAYOUT_VERSION: u32 = 1;

/// The meta record: who this client is and where its operation sequence stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMeta {
    /// Layout version the shards were written with.
    pub layout: u32,
    /// Persisted client id.
    pub client_id: String,
    /// The secret that proves this client id is ours (sent in `hello`; the server binds
    /// the id to the first secret it sees). Empty in records written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// Next operation sequence number.
    pub next_seq: u64,
    /// Live keys per shard, so loading need not decode shards to count keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<u32>,
    /// `(tab, last change number applied)` of the tabs sharing this client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tabs: Vec<(String, u64)>,
}

#[derive(Serialize)]
struct EntryRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    v: &'a Option<Arc<Value>>,
    n: u64,
    t: f64,
    b: &'a str,
    o: Origin,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    h: Vec<&'a HistoryEntry>,
}

#[derive(Deserialize)]
struct StoredEntry {
    #[serde(default)]
    v: Slot,
    n: u64,
    t: f64,
    b: Arc<str>,
    o: Origin,
    #[serde(default)]
    h: Vec<HistoryEntry>,
}

struct ShardRef<'a>(&'a FxHashMap<String, Entry>);

impl Serialize for ShardRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, entry) in self.0 {
            let h = entry.history.iter().collect();
            let record = EntryRef {
                v: &entry.value,
                n: entry.version,
                t: entry.updated_at,
                b: &entry.updated_by,
                o: entry.origin,
                h,
            };
            map.serialize_entry(key, &record)?;
        }
        map.end()
    }
}

/// Encodes one shard as a packed JSON record, LZ4-compressed at or over `threshold`
/// bytes (binary records: IndexedDB reads bytes back much faster than strings).
pub fn encode_shard(shard: &FxHashMap<String, Entry>, threshold: Option<usize>) -> Packed {
    // Serialising maps of strings and JSON values cannot fail.
    let json = serde_json::to_vec(&ShardRef(shard)).unwrap_or_else(|_| b"{}".to_vec());
    pack(&json, threshold)
}

fn corrupt_shard(error: serde_json::Error) -> CoreError {
    CoreError::storage(
        "CORRUPT_RECORD",
        format!("cached shard is corrupt: {error}"),
    )
}

/// Decodes a stored shard record into entries, keeping at most `history_size` versions
/// per key.
pub fn decode_shard(record: &[u8], history_size: usize) -> Result<FxHashMap<String, Entry>> {
    let text = unpack(record)?;
    let records: FxHashMap<String, StoredEntry> = json::decode(&text).map_err(corrupt_shard)?;
    Ok(records
        .into_iter()
        .map(|(key, r)| {
            let entry = Entry {
                value: r.v.into(),
                version: r.n,
                updated_at: r.t,
                updated_by: r.b,
                origin: r.o,
                history: History::from_entries(r.h, history_size.saturating_sub(1)),
            };
            (key, entry)
        })
        .collect())
}

/// Encodes the meta record.
pub fn encode_meta(meta: &StoredMeta) -> String {
    serde_json::to_string(meta).unwrap_or_default()
}

/// Decodes the meta record; a record from another layout is an error.
pub fn decode_meta(text: &str) -> Result<StoredMeta> {
    let meta: StoredMeta = json::decode(text.as_bytes()).map_err(|e| {
        CoreError::storage("CORRUPT_RECORD", format!("cached meta is corrupt: {e}"))
    })?;
    if meta.layout != LAYOUT_VERSION {
        return Err(CoreError::storage(
            "UNSUPPORTED_LAYOUT",
            format!(
                "cached state uses layout {}, this build reads {LAYOUT_VERSION}",
                meta.layout
            ),
        ));
    }
    Ok(meta)
}
