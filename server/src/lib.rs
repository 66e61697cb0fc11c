//! srvra-sync-server: the reference sync server. Rooms of ordered, persisted changes over a
//! WebSocket at `/sync`, using the same core and protocol code as the SDK.
//!
//! - [`app`]: what every request and session shares.
//! - [`auth`]: shared token or JWT: who a connection is and what it may do in its room.
//! - [`store`]: persistence (change log, current state, per-client watermarks) in SQLite
//!   (one instance) or PostgreSQL (several instances sharing rooms).
//! - [`room`]: one room's order, state and broadcast; the conflict decision lives here.
//! - [`follow`]: loaded rooms kept current with other instances' writes (shared storage).
//! - [`session`]: one WebSocket connection speaking the protocol.
//! - [`http`]: routes (`/sync`, `/health`, `/metrics`, static files) and graceful shutdown.
//! - [`origin`]: which pages may open a WebSocket (the `Origin` check).
//! - [`guard`]: connections per IP and in all, and a deadline for the HTTP request.
//! - [`rate`]: messages and operations per connection, refused hellos per IP.
//! - [`static_files`]: `--static DIR`, confined to DIR.
//! - [`tcp`]: options of accepted connections (Nagle off).
//! - [`tls`]: `--tls-cert`/`--tls-key`, TLS terminated by the server itself.

pub mod app;
pub mod auth;
pub mod config;
pub mod follow;
pub mod guard;
pub mod http;
pub mod metrics;
pub mod origin;
pub mod rate;
pub mod room;
pub mod session;
pub mod static_files;
pub mod store;
pub mod tcp;
pub mod tls;

pub use config::ServerConfig;
pub use http::{start, RunningServer};
