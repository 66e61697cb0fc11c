//! Payload compression for storage (and, later, the wire). LZ4 (`lz4_flex`, pure Rust):
//! fast to decode in wasm and small in code size; JSON state compresses 4-8x with it.
//!
//! A packed payload starts with a tag byte: [`RAW`] then the bytes, or [`LZ4`] then the
//! LZ4 block with its uncompressed size prepended. A payload starting with `{` is raw JSON
//! written before tags existed.

use std::borrow::Cow;

use crate::core::error::{CoreError, Result};

/// Tag of an uncompressed payload.
pub const RAW: u8 = 0;
/// Tag of an LZ4-compressed payload.
pub const LZ4: u8 = 1;

/// Largest payload `unpack` will inflate to (guards against corrupt size headers).
pub const MAX_UNPACKED: usize = 256 * 1024 * 1024;

/// A packed payload and the sizes that went into the compression ratio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Tag byte plus payload.
    pub bytes: Vec<u8>,
    /// Size before compression when it was compressed, else `None`.
    pub raw_len: Option<usize>,
}

/// Packs `data`, compressing it when `threshold` is `Some` and `data` is at least that long
/// and compression actually makes it smaller.
pub fn pack(data: &[u8], threshold: Option<usize>) -> Packed {
    if threshold.is_some_and(|t| data.len() >= t) {
        let compressed = lz4_flex::compress_prepend_size(data);
        if compressed.len() < data.len() {
            let mut bytes = Vec::with_capacity(compressed.len() + 1);
            bytes.push(LZ4);
            bytes.extend_from_slice(&compressed);
            return Packed {
                bytes,
                raw_len: Some(data.len()),
            };
        }
    }
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(RAW);
    bytes.extend_from_slice(data);
    Packed {
        bytes,
        raw_len: None,
    }
}

/// Unpacks a payload made by [`pack`]; corrupt input is a `CORRUPT_RECORD` error.
pub fn unpack(packed: &[u8]) -> Result<Cow<'_, [u8]>> {
    let corrupt = |why: &str| CoreError::storage("CORRUPT_RECORD", format!("payload {why}"));
    match packed.split_first() {
        Some((&RAW, rest)) => Ok(Cow::Borrowed(rest)),
        Some((b'{', _)) => Ok(Cow::Borrowed(packed)),
        Some((&LZ4, rest)) => {
            let size = rest
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            match size {
                Some(size) if size as usize <= MAX_UNPACKED => {
                    lz4_flex::decompress_size_prepended(rest)
                        .map(Cow::Owned)
                        .map_err(|e| corrupt(&format!("does not decompress: {e}")))
                }
                _ => Err(corrupt("has an invalid size header")),
            }
        }
        Some((tag, _)) => Err(corrupt(&format!("has an unknown tag {tag}"))),
        None => Err(corrupt("is empty")),
    }
}
