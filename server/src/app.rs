//! What every request and session shares: settings, storage, loaded rooms, counters and
//! the shutdown signal.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::rate::AuthFailures;
use crate::room::Rooms;
use crate::store::Storage;

/// Shared by every request and session.
#[derive(Debug)]
pub struct App {
    /// Settings.
    pub config: ServerConfig,
    /// Storage.
    pub db: Arc<dyn Storage>,
    /// Loaded rooms.
    pub rooms: Rooms,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Refused `hello`s per IP address.
    pub auth_failures: AuthFailures,
    /// Message and operation buckets per client id, kept across its connections.
    pub paces: crate::rate::Paces,
    /// Flips to `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
}
