//! The pure state engine. No wasm, no browser: everything here compiles and tests natively.
//!
//! - [`model`]: paths, operations, batches, deltas, history, bounds, key state.
//! - [`state`]: the sharded store and its stored form.
//! - [`dispatch`]: subscribers, events and the delivery queue.
//! - [`engine`]: applies changes to the state and queues what follows.
//! - [`collection`]: lists of items, one key each, with fractional positions.
//! - [`conflict`]: detection, strategies, merge, the server's verdict.
//! - [`room`]: a room's server-side decisions and a server connection's logic.
//! - [`protocol`]: the wire protocol.
//! - [`sync`]: the client sync loop without I/O; [`tabs`]: tabs sharing a client;
//!   [`instance`]: the client core every host drives.

pub mod clock;
pub mod collection;
pub mod config;
pub mod conflict;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod instance;
pub mod model;
pub mod protocol;
pub mod room;
pub mod state;
pub mod sync;
pub mod tabs;

pub use engine::Engine;
pub use error::{CoreError, ErrorKind};
pub use instance::Instance;
