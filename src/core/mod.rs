//! The pure state engine. No wasm, no browser: everything here compiles and tests natively.

pub mod batch;
pub mod bounds;
pub mod clock;
pub mod compress;
pub mod config;
pub mod conflict;
pub mod delta;
pub mod engine;
pub mod error;
pub mod event_bus;
pub mod events;
pub mod history;
pub mod instance;
pub mod key_state;
pub mod notify;
pub mod operation;
pub mod path;
pub mod persist;
pub mod protocol;
pub mod registry;
pub mod room;
pub mod session;
pub mod stats;
pub mod store;
pub mod subscriptions;
pub mod sync;
pub mod tabs;

pub use engine::Engine;
pub use error::{CoreError, ErrorKind};
pub use instance::Instance;
