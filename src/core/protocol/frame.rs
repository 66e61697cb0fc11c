//! Binary frames: `[version: u8][packed payload]`, where the packed payload is a
//! [`crate::core::state::compress`] tag byte and a JSON message, LZ4-compressed at or over
//! the sender's threshold. Decoding never panics: every failure is a [`FrameError`].
//!
//! JSON (serde_json, which values already use) and not MessagePack: one codec in the
//! browser build instead of two. Version 1 was MessagePack; rmp_serde was the largest part
//! of the wasm (about 210 KB of 1,016 KB, measured with twiggy).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::core::model::json;
use crate::core::state::compress::{pack, unpack};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 2;

/// Size limits a receiver enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted, in bytes, as received.
    pub max_frame: usize,
    /// Largest payload after decompression.
    pub max_payload: usize,
    /// Most JSON containers (objects and arrays) a compressed frame may unpack to, per
    /// byte received (0: no bound). Decoding builds one map or vector per container: a
    /// 32 KB LZ4 frame of `{"":0},` repeated unpacked to 7.94 MiB and 1.1 million maps,
    /// 561 MiB (issue 29). The bound is counted on the unpacked text before any value is
    /// built.
    pub containers_per_byte: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame: 1024 * 1024,
            max_payload: 8 * 1024 * 1024,
            containers_per_byte: 4,
        }
    }
}

/// Containers a frame may always hold, whatever its size.
const MIN_CONTAINERS: usize = 64 * 1024;

/// Objects and arrays in JSON `text` (brackets inside strings not counted).
fn containers(text: &[u8]) -> usize {
    let (mut count, mut in_string, mut escaped) = (0, false, false);
    for &byte in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
        } else if byte == b'{' || byte == b'[' {
            count += 1;
        }
    }
    count
}

/// Why a frame was refused. Each maps to an error code and a WebSocket close code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Larger than `max_frame` or, unpacked, `max_payload`.
    TooLarge,
    /// A version this build does not speak.
    UnsupportedVersion(u8),
    /// Empty, truncated, undecompressable or not a valid message.
    Malformed(String),
}

impl FrameError {
    /// Stable code sent in the `error` message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "FRAME_TOO_LARGE",
            Self::UnsupportedVersion(_) => "UNSUPPORTED_PROTOCOL",
            Self::Malformed(_) => "MALFORMED_FRAME",
        }
    }

    /// The WebSocket close code that follows.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TooLarge => 1009,
            Self::UnsupportedVersion(_) => 4001,
            Self::Malformed(_) => 4000,
        }
    }

    /// Human-readable explanation.
    pub fn message(&self) -> String {
        match self {
            Self::TooLarge => "frame exceeds the size limit".into(),
            Self::UnsupportedVersion(v) => {
                format!(
                    "protocol version {v} is not supported (this server speaks {PROTOCOL_VERSION})"
                )
            }
            Self::Malformed(why) => format!("malformed frame: {why}"),
        }
    }
}

/// Encodes a message, compressing payloads at or over `threshold` bytes.
pub fn encode<T: Serialize>(message: &T, threshold: Option<usize>) -> Vec<u8> {
    // Messages hold only strings, numbers, JSON values, sequences and maps with string or
    // integer keys: encoding cannot fail.
    let body = serde_json::to_vec(message).unwrap_or_default();
    let packed = pack(&body, threshold);
    let mut frame = Vec::with_capacity(packed.bytes.len() + 1);
    frame.push(PROTOCOL_VERSION);
    frame.extend_from_slice(&packed.bytes);
    frame
}

/// Decodes a frame within `limits`.
pub fn decode<T: DeserializeOwned>(frame: &[u8], limits: Limits) -> Result<T, FrameError> {
    if frame.len() > limits.max_frame {
        return Err(FrameError::TooLarge);
    }
    let Some((&version, packed)) = frame.split_first() else {
        return Err(FrameError::Malformed("empty frame".into()));
    };
    if version != PROTOCOL_VERSION {
        return Err(FrameError::UnsupportedVersion(version));
    }
    if let [crate::core::state::compress::LZ4, a, b, c, d, ..] = packed {
        if u32::from_le_bytes([*a, *b, *c, *d]) as usize > limits.max_payload {
            return Err(FrameError::TooLarge);
        }
    }
    let body = unpack(packed).map_err(|e| FrameError::Malformed(e.message))?;
    if limits.containers_per_byte > 0 && body.len() > frame.len() {
        let allowed = MIN_CONTAINERS.max(frame.len().saturating_mul(limits.containers_per_byte));
        if containers(&body) > allowed {
            return Err(FrameError::TooLarge);
        }
    }
    // Bounded where it is decoded: serde_json refuses nesting over 128 levels, which is a
    // value's `MAX_DEPTH` (100) plus the message around it, so a change nested a little too
    // deep is still decoded and rejected on its own (`VALUE_TOO_DEEP`), and decoding and
    // dropping stay far from the stack's end.
    json::decode(&body).map_err(|e| FrameError::Malformed(e.to_string()))
}
