//! IndexedDB access through rexie: one store of shard records, one of meta records.

use js_sys::Uint8Array;
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;

use crate::core::engine::{PersistWork, Snapshot};
use crate::core::CoreError;

const SHARDS: &str = "shards";
const META: &str = "meta";
const META_KEY: &str = "client";

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
        let db = Rexie::builder(name)
            .version(1)
            .add_object_store(ObjectStore::new(SHARDS))
            .add_object_store(ObjectStore::new(META))
            .build()
            .await
            .map_err(|e| storage_error("open", e))?;
        Ok(Self { db })
    }

    /// Reads every record.
    pub async fn load(&self) -> Result<Snapshot, CoreError> {
        let read = |e| storage_error("read", e);
        let tx = self
            .db
            .transaction(&[SHARDS, META], TransactionMode::ReadOnly)
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
        Ok(Snapshot {
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
        })
    }

    /// Writes the changed shards and the meta record in one transaction.
    pub async fn write(&self, work: &PersistWork) -> Result<(), CoreError> {
        let write = |e| storage_error("write", e);
        let tx = self
            .db
            .transaction(&[SHARDS, META], TransactionMode::ReadWrite)
            .map_err(write)?;
        let records = work.shards.iter().map(|(index, record)| {
            (
                Uint8Array::from(record.as_slice()).into(),
                Some(JsValue::from(*index)),
            )
        });
        tx.store(SHARDS)
            .map_err(write)?
            .put_all(records)
            .await
            .map_err(write)?;
        let meta = JsValue::from_str(&work.meta);
        tx.store(META)
            .map_err(write)?
            .put(&meta, Some(&JsValue::from_str(META_KEY)))
            .await
            .map_err(write)?;
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

/// A shard record's bytes (records are stored as `Uint8Array`; anything else reads as an
/// empty, hence corrupt, record and is reported when decoded).
fn record_bytes(value: JsValue) -> Vec<u8> {
    match value.as_string() {
        Some(text) => text.into_bytes(),
        None => Uint8Array::new(&value).to_vec(),
    }
}
