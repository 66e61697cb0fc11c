//! IndexedDB access through rexie: shard records, the meta record, the outbox (one record
//! per pending change, keyed by sequence) and the sync record (confirmed position and the
//! confirmed value of keys with pending changes). With encryption on, every record but the
//! position is sealed by a [`Cipher`] and base records are stored under keyed-hash ids, so
//! no value or key name is stored in plaintext.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures_util::future::join_all;
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;
use web_sys::CryptoKey;

use crate::core::engine::{PersistWork, Snapshot};
use crate::core::sync::{OutboxLoad, OutboxWork};
use crate::core::CoreError;
use crate::wasm::cipher::{self, Cipher, NAMES_SECRET_LEN};
use crate::wasm::sealed::{bytes, record_bytes, Sealer, BASE_PREFIX};

const SHARDS: &str = "shards";
const META: &str = "meta";
const META_KEY: &str = "client";
/// The sealed secret behind base ids: its presence marks an encrypted database.
const NAMES_KEY: &str = "names";
/// The generated key of `encryption: { enabled: true }` without `key`.
const KEY_KEY: &str = "key";
const OUTBOX: &str = "outbox";
const SYNC: &str = "sync";
const POSITION_KEY: &str = "position";
const ALL: [&str; 4] = [SHARDS, META, OUTBOX, SYNC];

/// Where the encryption key comes from.
pub enum KeySource {
    /// `encryption.key` (resolved from a function if it was one).
    Given(CryptoKey),
    /// None given: the key generated once and kept in the database.
    Generated,
}

/// An open srvra-sync database; the connection closes when the last holder drops it.
pub struct IdbStorage {
    /// `None` only while dropping.
    db: Option<Rexie>,
    /// Set when the database is encrypted; replaced by a key rotation.
    cipher: RefCell<Option<Rc<Cipher>>>,
}

/// Every record of the database, decrypted.
#[derive(Default)]
struct Records {
    shards: Vec<(u32, Vec<u8>)>,
    meta: Option<String>,
    outbox: Vec<(f64, Vec<u8>)>,
    position: Option<f64>,
    bases: Vec<(String, Vec<u8>)>,
}

/// One request of a write transaction.
enum Change {
    Put(&'static str, JsValue, JsValue),
    Delete(&'static str, JsValue),
    Clear(&'static str),
}

fn storage_error(what: &str, error: rexie::Error) -> CoreError {
    CoreError::storage(
        "STORAGE_FAILED",
        format!("IndexedDB {what} failed: {error}"),
    )
}

fn decrypt_failed(message: &str) -> CoreError {
    CoreError::storage("DECRYPT_FAILED", message.to_owned())
}

impl IdbStorage {
    /// Opens (creating on first use) the database `name`; with `encryption`, unlocks it
    /// (`DECRYPT_FAILED` for a wrong key, touching nothing) or, for a new or plaintext
    /// database, encrypts what it holds.
    pub async fn open(name: &str, encryption: Option<KeySource>) -> Result<Self, CoreError> {
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
        let storage = Self {
            db: Some(db),
            cipher: RefCell::new(None),
        };
        let (sealed_secret, stored_key) = storage.read_key_records().await?;
        match (encryption, sealed_secret) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(decrypt_failed(
                    "this database is encrypted: pass encryption: { enabled: true } (and its key)",
                ))
            }
            (Some(source), Some(sealed)) => {
                let key = match source {
                    KeySource::Given(key) => key,
                    KeySource::Generated => match stored_key {
                        Some(key) => cipher::check_key(key)?,
                        None => {
                            return Err(decrypt_failed(
                                "this database was encrypted with a key of the app's own: pass it as encryption.key",
                            ))
                        }
                    },
                };
                *storage.cipher.borrow_mut() = Some(Rc::new(Cipher::unlock(key, &sealed).await?));
            }
            (Some(source), None) => {
                // A new database, or one written without encryption: encrypt it now.
                let (key, keep_key) = match source {
                    KeySource::Given(key) => (key, false),
                    KeySource::Generated => (cipher::generate_key().await?, true),
                };
                let cipher = Cipher::new(key, cipher::random(NAMES_SECRET_LEN)?).await?;
                let records = storage.read_records().await?;
                storage.rewrite(&records, &cipher, keep_key).await?;
                *storage.cipher.borrow_mut() = Some(Rc::new(cipher));
            }
        }
        Ok(storage)
    }

    /// Reads every record: the state cache and the outbox.
    pub async fn load(&self) -> Result<(Snapshot, OutboxLoad), CoreError> {
        let records = self.read_records().await?;
        let outbox = OutboxLoad {
            ops: records.outbox.into_iter().map(|(_, op)| op).collect(),
            position: records.position.map_or(0, |p| p as u64),
            bases: records.bases,
        };
        let snapshot = Snapshot {
            meta: records.meta,
            shards: records.shards,
        };
        Ok((snapshot, outbox))
    }

    /// Re-encrypts every record with `key` in one transaction (key rotation); from then
    /// on the database opens with `key` only. Needs an encrypted database.
    pub async fn rotate_key(&self, key: CryptoKey) -> Result<(), CoreError> {
        let Some(old) = self.cipher() else {
            return Err(CoreError::storage(
                "NOT_ENCRYPTED",
                "this database is not encrypted: there is no key to rotate",
            ));
        };
        let records = self.read_records().await?;
        let cipher = old.with_key(key).await?;
        self.rewrite(&records, &cipher, false).await?;
        *self.cipher.borrow_mut() = Some(Rc::new(cipher));
        Ok(())
    }

    /// Writes changed shards, the meta record and outbox work in one transaction.
    /// Records are sealed first (concurrently), then written together.
    pub async fn write(
        &self,
        state: Option<&PersistWork>,
        outbox: &[OutboxWork],
    ) -> Result<(), CoreError> {
        let cipher = self.cipher();
        let sealer = Sealer(cipher.as_deref());
        let mut changes = Vec::new();
        if let Some(work) = state {
            let sealed = sealer
                .seal_all(work.shards.iter().map(|(_, r)| r.as_slice()))
                .await?;
            for ((index, _), value) in work.shards.iter().zip(sealed) {
                changes.push(Change::Put(SHARDS, JsValue::from(*index), value));
            }
            let meta = sealer.seal_meta(&work.meta).await?;
            changes.push(Change::Put(META, JsValue::from_str(META_KEY), meta));
        }
        for work in outbox {
            // Puts before deletes: a change acknowledged within one flush ends up removed.
            let sealed = sealer
                .seal_all(work.puts.iter().map(|(_, r)| r.as_slice()))
                .await?;
            for ((seq, _), value) in work.puts.iter().zip(sealed) {
                changes.push(Change::Put(OUTBOX, JsValue::from(*seq as f64), value));
            }
            for seq in &work.deletes {
                changes.push(Change::Delete(OUTBOX, JsValue::from(*seq as f64)));
            }
            for (key, record) in &work.bases {
                changes.push(match record {
                    Some(record) => {
                        let (id, value) = sealer.seal_base(key, record).await?;
                        Change::Put(SYNC, id, value)
                    }
                    None => Change::Delete(SYNC, sealer.base_id(key).await?),
                });
            }
            if let Some(position) = work.position {
                let value = JsValue::from(position as f64);
                changes.push(Change::Put(SYNC, JsValue::from_str(POSITION_KEY), value));
            }
        }
        self.commit(changes).await
    }

    fn cipher(&self) -> Option<Rc<Cipher>> {
        self.cipher.borrow().clone()
    }

    fn transaction(
        &self,
        stores: &[&str],
        mode: TransactionMode,
        what: &str,
    ) -> Result<rexie::Transaction, CoreError> {
        let Some(db) = &self.db else {
            return Err(CoreError::storage(
                "STORAGE_FAILED",
                "the database is closed",
            ));
        };
        db.transaction(stores, mode)
            .map_err(|e| storage_error(what, e))
    }

    /// The sealed id secret and the generated key, if stored.
    async fn read_key_records(&self) -> Result<(Option<Vec<u8>>, Option<JsValue>), CoreError> {
        let read = |e| storage_error("read", e);
        let tx = self.transaction(&[META], TransactionMode::ReadOnly, "read")?;
        let meta = tx.store(META).map_err(read)?;
        let names = meta.get(JsValue::from_str(NAMES_KEY)).await.map_err(read)?;
        let key = meta.get(JsValue::from_str(KEY_KEY)).await.map_err(read)?;
        Ok((names.map(record_bytes), key))
    }

    /// Every record, read in one transaction and decrypted after it.
    async fn read_records(&self) -> Result<Records, CoreError> {
        let read = |e| storage_error("read", e);
        let tx = self.transaction(&ALL, TransactionMode::ReadOnly, "read")?;
        let store = tx.store(SHARDS).map_err(read)?;
        // Keys and values come in key order, so they pair up.
        let indices = store.get_all_keys(None, None).await.map_err(read)?;
        let shards = store.get_all(None, None).await.map_err(read)?;
        let meta = tx
            .store(META)
            .map_err(read)?
            .get(JsValue::from_str(META_KEY))
            .await
            .map_err(read)?;
        let ops = tx.store(OUTBOX).map_err(read)?;
        let seqs = ops.get_all_keys(None, None).await.map_err(read)?;
        let ops = ops.get_all(None, None).await.map_err(read)?;
        let sync = tx.store(SYNC).map_err(read)?;
        let sync_keys = sync.get_all_keys(None, None).await.map_err(read)?;
        let sync_values = sync.get_all(None, None).await.map_err(read)?;
        drop(tx);

        let cipher = self.cipher();
        let opener = Sealer(cipher.as_deref());
        let mut records = Records::default();
        let shards = opener.open_all(shards).await?;
        let indices = indices
            .iter()
            .map(|i| i.as_f64().map_or(u32::MAX, |i| i as u32));
        records.shards = indices.zip(shards).collect();
        records.meta = match meta {
            Some(meta) => opener.open_meta(meta).await?,
            None => None,
        };
        let ops = opener.open_all(ops).await?;
        let seqs = seqs.iter().map(|seq| seq.as_f64().unwrap_or(f64::NAN));
        records.outbox = seqs.zip(ops).collect();
        for (key, value) in sync_keys.into_iter().zip(sync_values) {
            let key = key.as_string().unwrap_or_default();
            if key == POSITION_KEY {
                records.position = value.as_f64();
            } else if let Some(name) = key.strip_prefix(BASE_PREFIX) {
                records.bases.push(opener.open_base(name, value).await?);
            }
        }
        Ok(records)
    }

    /// Replaces every record with `records` sealed by `cipher`, in one transaction.
    async fn rewrite(
        &self,
        records: &Records,
        cipher: &Cipher,
        keep_key: bool,
    ) -> Result<(), CoreError> {
        let sealer = Sealer(Some(cipher));
        let mut changes: Vec<Change> = ALL.iter().map(|store| Change::Clear(store)).collect();
        let secret = bytes(&cipher.sealed_secret().await?);
        changes.push(Change::Put(META, JsValue::from_str(NAMES_KEY), secret));
        if keep_key {
            let key = cipher.key().into();
            changes.push(Change::Put(META, JsValue::from_str(KEY_KEY), key));
        }
        let shards = sealer
            .seal_all(records.shards.iter().map(|(_, r)| r.as_slice()))
            .await?;
        for ((index, _), value) in records.shards.iter().zip(shards) {
            changes.push(Change::Put(SHARDS, JsValue::from(*index), value));
        }
        if let Some(meta) = &records.meta {
            let value = sealer.seal_meta(meta).await?;
            changes.push(Change::Put(META, JsValue::from_str(META_KEY), value));
        }
        let ops = sealer
            .seal_all(records.outbox.iter().map(|(_, r)| r.as_slice()))
            .await?;
        for ((seq, _), value) in records.outbox.iter().zip(ops) {
            changes.push(Change::Put(OUTBOX, JsValue::from(*seq), value));
        }
        for (name, record) in &records.bases {
            let (id, value) = sealer.seal_base(name, record).await?;
            changes.push(Change::Put(SYNC, id, value));
        }
        if let Some(position) = records.position {
            let value = JsValue::from(position);
            changes.push(Change::Put(SYNC, JsValue::from_str(POSITION_KEY), value));
        }
        self.commit(changes).await
    }

    /// Runs `changes` in one read-write transaction. All requests are issued at once, in
    /// order (IndexedDB runs them in that order), and awaited together.
    async fn commit(&self, changes: Vec<Change>) -> Result<(), CoreError> {
        let write = |e| storage_error("write", e);
        let tx = self.transaction(&ALL, TransactionMode::ReadWrite, "write")?;
        let stores = [
            tx.store(SHARDS).map_err(write)?,
            tx.store(META).map_err(write)?,
            tx.store(OUTBOX).map_err(write)?,
            tx.store(SYNC).map_err(write)?,
        ];
        let store = |name: &str| &stores[ALL.iter().position(|n| *n == name).unwrap_or(0)];
        let requests: Vec<Request<'_>> = changes
            .into_iter()
            .map(|change| match change {
                Change::Put(name, key, value) => put(store(name), value, key),
                Change::Delete(name, key) => delete(store(name), key),
                Change::Clear(name) => Box::pin(store(name).clear()) as Request<'_>,
            })
            .collect();
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
}

impl Drop for IdbStorage {
    /// Closes the connection (IndexedDB finishes running transactions first).
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            db.close();
        }
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
