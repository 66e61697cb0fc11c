//! The client sync loop, without I/O: it reacts to socket, timer, storage and network
//! events and drives the I/O through the small traits of [`io`]. The browser binding
//! implements them with a WebSocket, IndexedDB and `setTimeout`; native tests implement
//! them with tokio and in-memory storage.

pub mod backoff;
pub mod client;
pub mod conflicts;
pub mod io;
pub mod memory;
pub mod outbox;
pub mod presence;
pub mod replica;
pub mod report;
pub mod status;

pub use client::SyncClient;
pub use io::{Io, Timer, Timers, Transport};
pub use memory::MemoryStorage;
pub use outbox::{OutboxLoad, OutboxWork};
pub use replica::Replica;
pub use status::Status;
