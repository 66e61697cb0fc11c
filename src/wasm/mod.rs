//! The wasm-bindgen binding: converts values at the JS boundary and delegates to the core.
//! Browser I/O (IndexedDB, timers, clock) lives here, behind the core's small interfaces.

mod clock;
mod errors;
mod persister;
mod storage;
mod sync_core;

pub use sync_core::SyncCore;
