//! The wasm-bindgen binding: converts values at the JS boundary and delegates to the core.
//! Browser I/O (IndexedDB, WebSocket, timers, clock) lives here, behind the core's small
//! interfaces.

mod cipher;
mod clock;
mod collection;
mod conflicts;
mod encryption;
mod errors;
mod load;
mod network;
mod persister;
mod presence;
mod sealed;
mod shared;
mod socket;
mod storage;
mod sync_core;
mod tabs;
mod timers;
mod waiters;

pub use sync_core::SyncCore;
