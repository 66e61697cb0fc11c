//! Encryption at rest on the wasm side (README "Encryption at rest"): resolving
//! `config.encryption.key`, and `sync.rotateEncryptionKey(newKey)`.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::core::CoreError;
use crate::wasm::cipher;
use crate::wasm::errors::to_js;
use crate::wasm::shared::Shared;
use crate::wasm::storage::KeySource;
use crate::wasm::sync_core::SyncCore;

/// `config.encryption.key` resolved: a function is called (its promise awaited) each
/// time the database is opened, so it may return a rotated key.
pub async fn key_source(key: &JsValue) -> Result<KeySource, CoreError> {
    if key.is_null() || key.is_undefined() {
        return Ok(KeySource::Generated);
    }
    Ok(KeySource::Given(cipher::check_key(
        resolve_key(key).await?,
    )?))
}

async fn resolve_key(key: &JsValue) -> Result<JsValue, CoreError> {
    let failed = |_| {
        CoreError::storage(
            "INVALID_KEY",
            "the encryption key function threw or rejected",
        )
    };
    let value = match key.dyn_ref::<Function>() {
        Some(function) => function.call0(&JsValue::NULL).map_err(failed)?,
        None => key.clone(),
    };
    JsFuture::from(Promise::resolve(&value))
        .await
        .map_err(failed)
}

#[wasm_bindgen]
impl SyncCore {
    /// `sync.rotateEncryptionKey(newKey)`: re-encrypts the whole database with `newKey`
    /// (a `CryptoKey`, or a function returning one) in one transaction.
    #[wasm_bindgen(js_name = rotateEncryptionKey)]
    pub fn rotate_encryption_key(&self, key: JsValue) -> Promise {
        let shared = Rc::clone(&self.shared);
        let ready = self.ready();
        future_to_promise(async move {
            JsFuture::from(ready).await?;
            rotate(&shared, key).await.map_err(|e| to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

async fn rotate(shared: &Rc<Shared>, key: JsValue) -> Result<(), CoreError> {
    let key = cipher::check_key(resolve_key(&key).await?)?;
    if shared.instance.borrow().is_follower() {
        return Err(CoreError::storage(
            "NOT_LEADER",
            "another tab of this app writes the database: rotate the key there (its \
             getStatistics().tab is 'leader')",
        ));
    }
    let Some(storage) = shared.storage.borrow().clone() else {
        return Err(CoreError::storage(
            "NOT_ENCRYPTED",
            "nothing is stored (offline.enabled is false or the database is closed)",
        ));
    };
    // Take the writer's turn: no write runs while every record is re-encrypted.
    while shared.scheduled.replace(true) {
        gloo_timers::future::TimeoutFuture::new(1).await;
    }
    let result = storage.rotate_key(key).await;
    shared.scheduled.set(false);
    shared.schedule_write();
    result
}
