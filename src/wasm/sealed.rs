//! How records look in IndexedDB: as the core encoded them, or sealed by a [`Cipher`]
//! (base records then carry their key's name inside, under a keyed-hash id). One place
//! for both directions, used by every write, read and rewrite of the storage.

use js_sys::Uint8Array;
use wasm_bindgen::JsValue;

use crate::core::CoreError;
use crate::wasm::cipher::Cipher;

/// Prefix of base record ids.
pub const BASE_PREFIX: &str = "base:";

/// Seals and opens records with the database's cipher (plaintext without one).
#[derive(Clone, Copy)]
pub struct Sealer<'a>(pub Option<&'a Cipher>);

impl Sealer<'_> {
    /// A record as stored.
    pub async fn seal(self, record: &[u8]) -> Result<JsValue, CoreError> {
        Ok(match self.0 {
            Some(cipher) => bytes(&cipher.seal(record).await?),
            None => bytes(record),
        })
    }

    /// Many records as stored, in order. (Sealing them concurrently with `join_all` was
    /// measured: 13 KB more wasm for no gain the benchmark could see.)
    pub async fn seal_all<'r>(
        self,
        records: impl Iterator<Item = &'r [u8]>,
    ) -> Result<Vec<JsValue>, CoreError> {
        let mut sealed = Vec::new();
        for record in records {
            sealed.push(self.seal(record).await?);
        }
        Ok(sealed)
    }

    /// The meta record as stored (text in plaintext).
    pub async fn seal_meta(self, meta: &str) -> Result<JsValue, CoreError> {
        match self.0 {
            Some(_) => self.seal(meta.as_bytes()).await,
            None => Ok(JsValue::from_str(meta)),
        }
    }

    /// A base record's id and stored value.
    pub async fn seal_base(
        self,
        name: &str,
        record: &[u8],
    ) -> Result<(JsValue, JsValue), CoreError> {
        let id = self.base_id(name).await?;
        let value = match self.0 {
            Some(_) => self.seal(&base_plaintext(name, record)).await?,
            None => bytes(record),
        };
        Ok((id, value))
    }

    /// The id of key `name`'s base record.
    pub async fn base_id(self, name: &str) -> Result<JsValue, CoreError> {
        let id = match self.0 {
            Some(cipher) => cipher.name_id(name).await?,
            None => name.to_owned(),
        };
        Ok(JsValue::from_str(&format!("{BASE_PREFIX}{id}")))
    }

    /// Stored records opened, in order.
    pub async fn open_all(self, records: Vec<JsValue>) -> Result<Vec<Vec<u8>>, CoreError> {
        let mut opened = Vec::with_capacity(records.len());
        for record in records {
            opened.push(self.open(record_bytes(record)).await?);
        }
        Ok(opened)
    }

    /// The meta record's text.
    pub async fn open_meta(self, meta: JsValue) -> Result<Option<String>, CoreError> {
        match self.0 {
            None => Ok(meta.as_string()),
            Some(_) => {
                let text = self.open(record_bytes(meta)).await?;
                let text = String::from_utf8(text).map_err(|_| malformed("the meta record"))?;
                Ok(Some(text))
            }
        }
    }

    /// A base record and its key's name (the id's suffix, unless sealed).
    pub async fn open_base(
        self,
        id: &str,
        record: JsValue,
    ) -> Result<(String, Vec<u8>), CoreError> {
        let record = record_bytes(record);
        if self.0.is_none() {
            return Ok((id.to_owned(), record));
        }
        let plain = self.open(record).await?;
        let corrupt = || malformed("a base record");
        let len = plain.get(..4).ok_or_else(corrupt)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let name = plain.get(4..4 + len).ok_or_else(corrupt)?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt())?;
        Ok((name, plain[4 + len..].to_vec()))
    }

    async fn open(self, record: Vec<u8>) -> Result<Vec<u8>, CoreError> {
        match self.0 {
            Some(cipher) => cipher.open(&record).await,
            None => Ok(record),
        }
    }
}

fn malformed(what: &str) -> CoreError {
    CoreError::storage("DECRYPT_FAILED", format!("{what} is malformed"))
}

/// What an encrypted base record seals: its key's name (length-prefixed), then the record.
fn base_plaintext(name: &str, record: &[u8]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(4 + name.len() + record.len());
    plain.extend_from_slice(&(name.len() as u32).to_le_bytes());
    plain.extend_from_slice(name.as_bytes());
    plain.extend_from_slice(record);
    plain
}

/// Bytes as IndexedDB stores them.
pub fn bytes(record: &[u8]) -> JsValue {
    Uint8Array::from(record).into()
}

/// A record's bytes (records are stored as `Uint8Array`; anything else reads as an empty,
/// hence corrupt, record and is reported when decoded).
pub fn record_bytes(value: JsValue) -> Vec<u8> {
    match value.as_string() {
        Some(text) => text.into_bytes(),
        None => Uint8Array::new(&value).to_vec(),
    }
}
