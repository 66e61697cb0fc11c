//! srvra-sync: real-time, offline-first state sync.
//!
//! The crate has two layers, and the folders show the split:
//! - [`core`]: the pure state engine (store, paths, operations, subscribers, event bus,
//!   batches, persistence codec). It knows nothing about wasm or the browser and is tested
//!   natively with `cargo test`.
//! - `wasm` (only on `wasm32`): the wasm-bindgen binding. It converts values at the JS
//!   boundary, delegates to the core, and owns the browser I/O (IndexedDB through rexie,
//!   timers).

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
