//! Server settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use srvra_sync::core::protocol::Limits;
use srvra_sync::core::room::presence::PresenceLimits;
use srvra_sync::core::room::RoomLimits;

use crate::auth::Auth;

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory of the SQLite database.
    pub data: PathBuf,
    /// PostgreSQL URL: rooms are stored there and shared with other instances (instead
    /// of SQLite in `data`).
    pub postgres: Option<String>,
    /// Time between checks of the loaded rooms' stored heads (shared storage), the safety
    /// net behind notifications.
    pub head_check_interval: Duration,
    /// Directory served as static files at `/`, if any.
    pub static_dir: Option<PathBuf>,
    /// Frame limits.
    pub limits: Limits,
    /// Most operations accepted in one `changes` message.
    pub max_ops: usize,
    /// How clients prove who they are (none, a shared token, or JWTs).
    pub auth: Auth,
    /// What one room may hold.
    pub room_limits: RoomLimits,
    /// Presence bounds per state and per room.
    pub presence: PresenceLimits,
    /// Bounds on connections, their pace and their memory.
    pub guards: Guards,
    /// Changes kept in each room's log by compaction (older ones are folded into the state).
    pub retain: u64,
    /// Bytes of changes kept in each room's log by compaction (older ones are folded in).
    pub retain_bytes: u64,
    /// Time between compaction runs.
    pub compaction_interval: Duration,
    /// Most changes per `catch-up` message (and entries per `snapshot` message).
    pub chunk: usize,
    /// A `catch-up` or `snapshot` message ends once it holds this many bytes.
    pub part_bytes: usize,
    /// Payloads at or over this many bytes are compressed.
    pub compression_threshold: Option<usize>,
    /// Time a new connection has to send `hello`.
    pub hello_timeout: Duration,
    /// Browser origins accepted besides the server's own host and loopback ones.
    pub allow_origins: Vec<String>,
    /// Host names (`Host` header) served besides loopback names and the listen address.
    pub allow_hosts: Vec<String>,
    /// Bearer token `/metrics` requires when auth is on (without one, it answers 401).
    pub metrics_token: Option<String>,
    /// PEM certificate chain and private key: serve `wss://` and `https://` (none: plain).
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl ServerConfig {
    /// Defaults for the given address and data directory.
    pub fn new(listen: SocketAddr, data: PathBuf) -> Self {
        Self {
            listen,
            data,
            postgres: None,
            head_check_interval: Duration::from_secs(1),
            static_dir: None,
            limits: Limits::default(),
            max_ops: 1000,
            auth: Auth::Open,
            room_limits: RoomLimits::default(),
            presence: PresenceLimits::default(),
            guards: Guards::default(),
            retain: 100_000,
            retain_bytes: 256 * 1024 * 1024,
            compaction_interval: Duration::from_secs(60),
            chunk: 1000,
            part_bytes: 1024 * 1024,
            compression_threshold: Some(1024),
            hello_timeout: Duration::from_secs(10),
            allow_origins: Vec::new(),
            allow_hosts: Vec::new(),
            metrics_token: None,
            tls: None,
        }
    }
}

/// Bounds on connections, their pace and their memory (SPEC §11), each a flag with a safe
/// default. Going past one gets a typed error and is counted in `/metrics`.
#[derive(Debug, Clone)]
pub struct Guards {
    /// Open connections from one IP address (more are closed at once).
    pub connections_per_ip: usize,
    /// Open connections in all.
    pub max_connections: usize,
    /// Time a new connection has to send its HTTP request (and finish TLS).
    pub header_timeout: Duration,
    /// A session that receives nothing (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// Time between the server's WebSocket pings to a session.
    pub ping_interval: Duration,
    /// Time one frame may take to be taken by a slow reader before its session is closed.
    pub send_timeout: Duration,
    /// Messages per second one connection may send (bursts of twice that).
    pub messages_per_second: u32,
    /// Operations per second one connection may send (bursts of twice that).
    pub ops_per_second: u32,
    /// Refused `hello`s (bad or expired tokens, forbidden rooms) per minute from one IP.
    pub auth_failures_per_minute: u32,
    /// Rooms held in memory; idle ones are unloaded first, then new rooms wait.
    pub max_rooms: usize,
    /// A room with no session for this long is unloaded from memory.
    pub room_idle: Duration,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            connections_per_ip: 256,
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            ping_interval: Duration::from_secs(25),
            send_timeout: Duration::from_secs(20),
            messages_per_second: 500,
            ops_per_second: 20_000,
            auth_failures_per_minute: 30,
            max_rooms: 10_000,
            room_idle: Duration::from_secs(60),
        }
    }
}
