//! Encryption at rest (README "Encryption at rest"): AES-256-GCM through WebCrypto for
//! every record srvra-sync writes to IndexedDB, and a keyed hash (HMAC-SHA-256 with a
//! secret kept sealed in the database) for the record ids that would otherwise be key
//! names. A sealed record is `[1][12-byte random IV][ciphertext and 16-byte tag]`.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, AesKeyGenParams, Crypto, CryptoKey, HmacImportParams, SubtleCrypto};

use crate::core::CoreError;

/// First byte of a sealed record: the format.
const FORMAT: u8 = 1;
const IV_LEN: usize = 12;
/// Bytes of the secret behind record ids.
pub const NAMES_SECRET_LEN: usize = 32;

/// The keys of an encrypted database.
pub struct Cipher {
    key: CryptoKey,
    names: CryptoKey,
    names_secret: Vec<u8>,
}

fn crypto() -> Result<Crypto, CoreError> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|c| c.dyn_into::<Crypto>().ok())
        .ok_or_else(|| {
            CoreError::storage(
                "ENCRYPTION_UNAVAILABLE",
                "WebCrypto (crypto.subtle) is not available here; it needs a secure context \
                 (https:// or localhost)",
            )
        })
}

fn subtle() -> Result<SubtleCrypto, CoreError> {
    Ok(crypto()?.subtle())
}

fn failed(what: &str) -> impl Fn(JsValue) -> CoreError + '_ {
    move |_| CoreError::storage("ENCRYPTION_FAILED", format!("WebCrypto {what} failed"))
}

async fn call(promise: Result<Promise, JsValue>, what: &str) -> Result<JsValue, CoreError> {
    JsFuture::from(promise.map_err(failed(what))?)
        .await
        .map_err(failed(what))
}

/// `n` random bytes from `crypto.getRandomValues`.
pub fn random(n: usize) -> Result<Vec<u8>, CoreError> {
    let mut bytes = vec![0; n];
    crypto()?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(failed("getRandomValues"))?;
    Ok(bytes)
}

fn usages(names: &[&str]) -> JsValue {
    names
        .iter()
        .map(|n| JsValue::from_str(n))
        .collect::<Array>()
        .into()
}

/// A new non-extractable AES-256-GCM key.
pub async fn generate_key() -> Result<CryptoKey, CoreError> {
    let params = AesKeyGenParams::new("AES-GCM", 256);
    let promise =
        subtle()?.generate_key_with_object(&params, false, &usages(&["encrypt", "decrypt"]));
    Ok(call(promise, "generateKey").await?.unchecked_into())
}

/// Checks that `value` is an AES-256-GCM `CryptoKey` that may encrypt and decrypt.
pub fn check_key(value: JsValue) -> Result<CryptoKey, CoreError> {
    let invalid = |why: &str| {
        CoreError::storage(
            "INVALID_KEY",
            format!("encryption.key must be an AES-GCM 256-bit CryptoKey with encrypt and decrypt usages: {why}"),
        )
    };
    let key = value
        .dyn_into::<CryptoKey>()
        .map_err(|_| invalid("got something else"))?;
    let algorithm = key.algorithm().map_err(|_| invalid("no algorithm"))?;
    let name = Reflect::get(&algorithm, &"name".into())
        .ok()
        .and_then(|n| n.as_string());
    let length = Reflect::get(&algorithm, &"length".into())
        .ok()
        .and_then(|n| n.as_f64());
    if name.as_deref() != Some("AES-GCM") || length != Some(256.0) {
        return Err(invalid("wrong algorithm or length"));
    }
    let granted = key.usages();
    for usage in ["encrypt", "decrypt"] {
        if !granted.includes(&JsValue::from_str(usage), 0) {
            return Err(invalid("missing a usage"));
        }
    }
    Ok(key)
}

impl Cipher {
    /// A cipher with `key` and the secret behind record ids.
    pub async fn new(key: CryptoKey, names_secret: Vec<u8>) -> Result<Self, CoreError> {
        let params = HmacImportParams::new_with_str("HMAC", "SHA-256");
        let data: Object = Uint8Array::from(names_secret.as_slice()).into();
        let promise =
            subtle()?.import_key_with_object("raw", &data, &params, false, &usages(&["sign"]));
        let names = call(promise, "importKey").await?.unchecked_into();
        Ok(Self {
            key,
            names,
            names_secret,
        })
    }

    /// The same id secret under another key (key rotation).
    pub async fn with_key(&self, key: CryptoKey) -> Result<Self, CoreError> {
        Self::new(key, self.names_secret.clone()).await
    }

    /// The id secret, sealed, as it is stored.
    pub async fn sealed_secret(&self) -> Result<Vec<u8>, CoreError> {
        self.seal(&self.names_secret).await
    }

    /// Opens the stored id secret with `key`: `DECRYPT_FAILED` when `key` is not the one
    /// it was sealed with.
    pub async fn unlock(key: CryptoKey, sealed_secret: &[u8]) -> Result<Self, CoreError> {
        let secret = open_with(&key, sealed_secret).await?;
        if secret.len() != NAMES_SECRET_LEN {
            return Err(wrong_key());
        }
        Self::new(key, secret).await
    }

    /// The key, as the generated-key mode stores it.
    pub fn key(&self) -> &CryptoKey {
        &self.key
    }

    /// Encrypts `plain` with a fresh random IV.
    pub async fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, CoreError> {
        let mut iv = random(IV_LEN)?;
        let params = AesGcmParams::new_with_u8_slice("AES-GCM", &mut iv);
        let promise = subtle()?.encrypt_with_object_and_u8_array(&params, &self.key, plain);
        let sealed = call(promise, "encrypt").await?;
        let mut out = Vec::with_capacity(1 + IV_LEN + plain.len() + 16);
        out.push(FORMAT);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&js_sys::Uint8Array::new(&sealed).to_vec());
        Ok(out)
    }

    /// Decrypts a sealed record: `DECRYPT_FAILED` for a wrong key or a changed record.
    pub async fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CoreError> {
        open_with(&self.key, sealed).await
    }

    /// The stored id of the record of key `name`: 128 bits of HMAC-SHA-256, in hex.
    pub async fn name_id(&self, name: &str) -> Result<String, CoreError> {
        let promise = subtle()?.sign_with_str_and_u8_array("HMAC", &self.names, name.as_bytes());
        let mac = Uint8Array::new(&call(promise, "sign").await?).to_vec();
        Ok(mac[..16].iter().map(|b| format!("{b:02x}")).collect())
    }
}

fn wrong_key() -> CoreError {
    CoreError::storage(
        "DECRYPT_FAILED",
        "the database could not be decrypted with this key (a wrong key, or a changed record); \
         nothing stored was touched",
    )
}

async fn open_with(key: &CryptoKey, sealed: &[u8]) -> Result<Vec<u8>, CoreError> {
    if sealed.len() < 1 + IV_LEN + 16 || sealed[0] != FORMAT {
        return Err(wrong_key());
    }
    let mut iv = sealed[1..1 + IV_LEN].to_vec();
    let params = AesGcmParams::new_with_u8_slice("AES-GCM", &mut iv);
    let promise = subtle()?.decrypt_with_object_and_u8_array(&params, key, &sealed[1 + IV_LEN..]);
    let plain = JsFuture::from(promise.map_err(|_| wrong_key())?)
        .await
        .map_err(|_| wrong_key())?;
    Ok(Uint8Array::new(&plain).to_vec())
}
