//! Server settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use srvra_sync::core::protocol::Limits;

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory of the SQLite database.
    pub data: PathBuf,
    /// Directory served as static files at `/`, if any.
    pub static_dir: Option<PathBuf>,
    /// Frame limits.
    pub limits: Limits,
    /// Most operations accepted in one `changes` message.
    pub max_ops: usize,
    /// Required `hello.token`, if set.
    pub auth_token: Option<String>,
    /// Changes kept in each room's log by compaction (older ones are folded into the state).
    pub retain: u64,
    /// Time between compaction runs.
    pub compaction_interval: Duration,
    /// Changes per `catch-up` message (and entries per `snapshot` message).
    pub chunk: usize,
    /// Payloads at or over this many bytes are compressed.
    pub compression_threshold: Option<usize>,
    /// Time a new connection has to send `hello`.
    pub hello_timeout: Duration,
    /// Browser origins accepted besides the server's own host and loopback ones.
    pub allow_origins: Vec<String>,
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
            static_dir: None,
            limits: Limits::default(),
            max_ops: 1000,
            auth_token: None,
            retain: 100_000,
            compaction_interval: Duration::from_secs(60),
            chunk: 1000,
            compression_threshold: Some(1024),
            hello_timeout: Duration::from_secs(10),
            allow_origins: Vec::new(),
            metrics_token: None,
            tls: None,
        }
    }
}
