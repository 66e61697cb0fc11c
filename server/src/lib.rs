//! srvra-sync-server: the reference sync server. Rooms of ordered, persisted changes over a
//! WebSocket at `/sync`, using the same core and protocol code as the SDK.
//!
//! - [`app`]: what every request and session shares.
//! - [`db`]: SQLite persistence (change log, current state, per-client watermarks).
//! - [`room`]: one room's order, state and broadcast; the conflict decision lives here.
//! - [`session`]: one WebSocket connection speaking the protocol.
//! - [`http`]: routes (`/sync`, `/health`, `/metrics`, static files) and graceful shutdown.
//! - [`origin`]: which pages may open a WebSocket (the `Origin` check).
//! - [`static_files`]: `--static DIR`, confined to DIR.
//! - [`tls`]: `--tls-cert`/`--tls-key`, TLS terminated by the server itself.

pub mod app;
pub mod config;
pub mod db;
pub mod http;
pub mod metrics;
pub mod origin;
pub mod room;
pub mod session;
pub mod static_files;
pub mod tls;

pub use config::ServerConfig;
pub use http::{start, RunningServer};
