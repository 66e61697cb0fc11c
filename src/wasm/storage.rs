//! IndexedDB access through rexie: shard records, the meta record, the outbox (one record
//! per pending change, keyed by sequence) and the sync record (confirmed position and the
//! confirmed value of keys with pending changes).

use std::future::Future;
use std::pin::Pin;

use futures_util::future::join_all;
use js_sys::Uint8Array;
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;

use crate::core::engine::{PersistWork, Snapshot};
use crate::core::sync::{OutboxLoad, OutboxWork};
use crate::core::CoreError;

const SHARDS: &str = "shards";
const META: &str = "meta";
const META_KEY: &str = "client";
const OUTBOX: &str = "outbox";
const SYNC: &str = "sync";
const POSITION_KEY: &str = "position";
const BASE_PREFIX: &str = "base:";
const ALL: [&str; 4] = [SHARDS, META, OUTBOX, SYNC];

/// An open srvra-sync database.
pub struct IdbStorage {
    db: Rexie,
}

fn storage_error(what: &str, error: rexie::Error) -> CoreError {
    CoreError::storage(
        "STORAGE_FAILED",
        format!("IndexedDB {what} failed: {error}"),
    )
}

impl IdbStorage {
    /// Opens (creating on first use) the database `name`.
    pub async fn open(name: &str) -> Result<Self, CoreError> {
        let factory = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"));
        if factory.map_or(true, |f| f.is_undefined() || f.is_null()) {
            return Err(CoreError::storage(
                "STORAGE_UNAVAILABLE",
                "IndexedDB is not available here (for example in Node): pass \
                 offline: { enabled: false }, or provide an indexedDB implementation",
            ));
        }
        let db = Rexie::builder(name)
            .version(2)
            .add_object_store(ObjectStore::new(SHARDS))
            .add_object_store(ObjectStore::new(META))
            .add_object_store(ObjectStore::new(OUTBOX))
            .add_object_store(ObjectStore::new(SYNC))
            .build()
            .await
            .map_err(|e| storage_error("open", e))?;
        Ok(Self { db })
    }

    /// Reads every record: the state cache and the outbox.
    pub async fn load(&self) -> Result<(Snapshot, OutboxLoad), CoreError> {
        let read = |e| storage_error("read", e);
        let tx = self
            .db
            .transaction(&ALL, TransactionMode::ReadOnly)
            .map_err(read)?;
        let store = tx.store(SHARDS).map_err(read)?;
        // Both lists come in key order, so they pair up.
        let indices = store.get_all_keys(None, None).await.map_err(read)?;
        let shards = store.get_all(None, None).await.map_err(read)?;
        let meta = tx
            .store(META)
            .map_err(read)?
            .get(JsValue::from_str(META_KEY))
            .await
            .map_err(read)?;
        let ops = tx
            .store(OUTBOX)
            .map_err(read)?
            .get_all(None, None)
            .await
            .map_err(read)?;
        let sync = tx.store(SYNC).map_err(read)?;
        let sync_keys = sync.get_all_keys(None, None).await.map_err(read)?;
        let sync_values = sync.get_all(None, None).await.map_err(read)?;
        let mut outbox = OutboxLoad {
            ops: ops.into_iter().map(record_bytes).collect(),
            ..OutboxLoad::default()
        };
        for (key, value) in sync_keys.into_iter().zip(sync_values) {
            let key = key.as_string().unwrap_or_default();
            if key == POSITION_KEY {
                outbox.position = value.as_f64().map_or(0, |p| p as u64);
            } else if let Some(name) = key.strip_prefix(BASE_PREFIX) {
                outbox.bases.push((name.to_owned(), record_bytes(value)));
            }
        }
        let snapshot = Snapshot {
            meta: meta.and_then(|m| m.as_string()),
            shards: indices
                .into_iter()
                .zip(shards)
                .map(|(index, record)| {
                    (
                        index.as_f64().map_or(u32::MAX, |i| i as u32),
                        record_bytes(record),
                    )
                })
                .collect(),
        };
        Ok((snapshot, outbox))
    }

    /// Writes changed shards, the meta record and outbox work in one transaction. All
    /// requests are issued at once, in order (IndexedDB runs them in that order), and
    /// awaited together: one round trip instead of one per request.
    pub async fn write(
        &self,
        state: Option<&PersistWork>,
        outbox: &[OutboxWork],
    ) -> Result<(), CoreError> {
        let write = |e| storage_error("write", e);
        let tx = self
            .db
            .transaction(&ALL, TransactionMode::ReadWrite)
            .map_err(write)?;
        let shards = tx.store(SHARDS).map_err(write)?;
        let meta = tx.store(META).map_err(write)?;
        let ops = tx.store(OUTBOX).map_err(write)?;
        let sync = tx.store(SYNC).map_err(write)?;
        let mut requests: Vec<Request<'_>> = Vec::new();
        if let Some(work) = state {
            for (index, record) in &work.shards {
                requests.push(put(&shards, bytes(record), JsValue::from(*index)));
            }
            let meta_value = JsValue::from_str(&work.meta);
            requests.push(put(&meta, meta_value, JsValue::from_str(META_KEY)));
        }
        for work in outbox {
            // Puts before deletes: a change acknowledged within one flush ends up removed.
            for (seq, record) in &work.puts {
                requests.push(put(&ops, bytes(record), JsValue::from(*seq as f64)));
            }
            for seq in &work.deletes {
                requests.push(delete(&ops, JsValue::from(*seq as f64)));
            }
            for (key, record) in &work.bases {
                let id = JsValue::from_str(&format!("{BASE_PREFIX}{key}"));
                requests.push(match record {
                    Some(record) => put(&sync, bytes(record), id),
                    None => delete(&sync, id),
                });
            }
            if let Some(position) = work.position {
                let value = JsValue::from(position as f64);
                requests.push(put(&sync, value, JsValue::from_str(POSITION_KEY)));
            }
        }
        for result in join_all(requests).await {
            result.map_err(write)?;
        }
        let result = tx.done().await.map_err(write)?;
        if result.is_committed() {
            Ok(())
        } else {
            Err(CoreError::storage(
                "STORAGE_FAILED",
                "IndexedDB transaction was aborted",
            ))
        }
    }

    /// Closes the database.
    pub fn close(self) {
        self.db.close();
    }
}

/// One pending IndexedDB request of a write.
type Request<'a> = Pin<Box<dyn Future<Output = Result<(), rexie::Error>> + 'a>>;

fn put<'a>(store: &'a rexie::Store, value: JsValue, key: JsValue) -> Request<'a> {
    Box::pin(async move { store.put(&value, Some(&key)).await.map(|_| ()) })
}

fn delete(store: &rexie::Store, key: JsValue) -> Request<'_> {
    Box::pin(store.delete(key))
}

fn bytes(record: &[u8]) -> JsValue {
    Uint8Array::from(record).into()
}

/// A shard record's bytes (records are stored as `Uint8Array`; anything else reads as an
/// empty, hence corrupt, record and is reported when decoded).
fn record_bytes(value: JsValue) -> Vec<u8> {
    match value.as_string() {
        Some(text) => text.into_bytes(),
        None => Uint8Array::new(&value).to_vec(),
    }
}
