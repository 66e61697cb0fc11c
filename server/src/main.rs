//! `srvra-sync-server --listen 127.0.0.1:8787 --data ./data [--static DIR]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use srvra_sync::core::protocol::Limits;
use srvra_sync::core::room::presence::PresenceLimits;
use srvra_sync::core::room::RoomLimits;
use srvra_sync_server::auth::{Auth, JwtVerifier};
use srvra_sync_server::config::Guards;
use srvra_sync_server::{start, ServerConfig};

/// The srvra-sync reference server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Directory of the embedded database.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// Store rooms in PostgreSQL (`postgres://user:pass@host:port/db`) instead of the
    /// embedded database: every instance given the same URL serves the same rooms.
    #[arg(long, env = "SRVRA_POSTGRES")]
    postgres: Option<String>,
    /// Milliseconds between checks of loaded rooms' stored heads (with --postgres).
    #[arg(long, default_value_t = 1000)]
    head_check_ms: u64,
    /// Directory to serve as static files at `/`.
    #[arg(long = "static")]
    static_dir: Option<PathBuf>,
    /// Largest accepted frame, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_frame: usize,
    /// Most operations in one `changes` message.
    #[arg(long, default_value_t = 1000)]
    max_ops: usize,
    /// One token every client must send in `hello` (none and no JWT: no check).
    #[arg(long, env = "SRVRA_AUTH_TOKEN", conflicts_with_all = ["jwt_secret", "jwt_public_key"])]
    auth_token: Option<String>,
    /// JWT auth with this HS256 secret: tokens carry `sub`, `exp` and `rooms`.
    #[arg(long, env = "SRVRA_JWT_SECRET", conflicts_with = "jwt_public_key")]
    jwt_secret: Option<String>,
    /// JWT auth with this RS256 or ES256 public key (PEM file).
    #[arg(long)]
    jwt_public_key: Option<PathBuf>,
    /// Largest value of one key, in bytes (as JSON).
    #[arg(long, default_value_t = RoomLimits::default().max_value_bytes)]
    max_value_bytes: usize,
    /// Most keys one room may have written.
    #[arg(long, default_value_t = RoomLimits::default().max_keys)]
    max_room_keys: usize,
    /// Most bytes all values of one room may take.
    #[arg(long, default_value_t = RoomLimits::default().max_bytes)]
    max_room_bytes: usize,
    /// Largest presence state of one tab, in bytes (as JSON).
    #[arg(long, default_value_t = PresenceLimits::default().max_bytes)]
    max_presence_bytes: usize,
    /// Most tabs present in one room.
    #[arg(long, default_value_t = PresenceLimits::default().max_peers)]
    max_presence_peers: usize,
    /// Most tabs of one client present in one room.
    #[arg(long, default_value_t = PresenceLimits::default().max_tabs_per_client)]
    max_presence_tabs: usize,
    /// Largest message after decompression, in bytes.
    #[arg(long, default_value_t = Limits::default().max_payload)]
    max_payload: usize,
    /// Open connections from one IP address.
    #[arg(long, default_value_t = Guards::default().connections_per_ip)]
    max_connections_per_ip: usize,
    /// Open connections in all.
    #[arg(long, default_value_t = Guards::default().max_connections)]
    max_connections: usize,
    /// Seconds a connection has to send its HTTP request.
    #[arg(long, default_value_t = Guards::default().header_timeout.as_secs())]
    header_timeout: u64,
    /// Seconds without anything from a client (not even a pong) before its session ends.
    #[arg(long, default_value_t = Guards::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Seconds between the server's pings.
    #[arg(long, default_value_t = Guards::default().ping_interval.as_secs())]
    ping_interval: u64,
    /// Seconds a client may take to read one frame before its session ends.
    #[arg(long, default_value_t = Guards::default().send_timeout.as_secs())]
    send_timeout: u64,
    /// Messages per second one connection may send (bursts of twice that).
    #[arg(long, default_value_t = Guards::default().messages_per_second)]
    messages_per_second: u32,
    /// Operations per second one connection may send (bursts of twice that).
    #[arg(long, default_value_t = Guards::default().ops_per_second)]
    ops_per_second: u32,
    /// Refused hellos per minute from one IP address before it must wait.
    #[arg(long, default_value_t = Guards::default().auth_failures_per_minute)]
    auth_failures_per_minute: u32,
    /// Rooms held in memory at once.
    #[arg(long, default_value_t = Guards::default().max_rooms)]
    max_rooms: usize,
    /// Seconds a room without sessions stays in memory.
    #[arg(long, default_value_t = Guards::default().room_idle.as_secs())]
    room_idle: u64,
    /// Changes kept in each room's log; older ones are compacted into the state.
    #[arg(long, default_value_t = 100_000)]
    retain: u64,
    /// Bytes of changes kept in each room's log; older ones are compacted into the state.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    retain_bytes: u64,
    /// Seconds between compactions.
    #[arg(long, default_value_t = 60)]
    compaction_interval: u64,
    /// A browser origin (`https://app.example.com`) allowed to connect, besides the
    /// server's own host and loopback origins; repeatable.
    #[arg(long = "allow-origin")]
    allow_origin: Vec<String>,
    /// A host name (`sync.example.com`, or with `:port`) this server is reached by, besides
    /// loopback names and the listen address; repeatable. On a loopback address other
    /// names are refused (DNS rebinding); elsewhere, listing names turns the check on.
    #[arg(long = "allow-host")]
    allow_host: Vec<String>,
    /// Bearer token for `/metrics` (needed when auth is on).
    #[arg(long, env = "SRVRA_METRICS_TOKEN")]
    metrics_token: Option<String>,
    /// PEM certificate chain: serve TLS (`wss://`, `https://`) with `--tls-key`.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut config = ServerConfig::new(args.listen, args.data);
    config.static_dir = args.static_dir;
    config.postgres = args.postgres;
    config.head_check_interval = Duration::from_millis(args.head_check_ms.max(10));
    config.limits.max_frame = args.max_frame;
    config.max_ops = args.max_ops;
    config.auth = match (args.auth_token, args.jwt_secret, args.jwt_public_key) {
        (Some(token), _, _) => Auth::Shared(token),
        (_, Some(secret), _) => Auth::Jwt(Box::new(JwtVerifier::secret(&secret))),
        (_, _, Some(file)) => match JwtVerifier::public_key(&file) {
            Ok(verifier) => Auth::Jwt(Box::new(verifier)),
            Err(error) => {
                eprintln!("srvra-sync-server: {error}");
                std::process::exit(1);
            }
        },
        _ => Auth::Open,
    };
    config.room_limits = RoomLimits {
        max_value_bytes: args.max_value_bytes,
        max_keys: args.max_room_keys,
        max_bytes: args.max_room_bytes,
    };
    config.limits.max_payload = args.max_payload;
    config.presence = PresenceLimits {
        max_bytes: args.max_presence_bytes,
        max_peers: args.max_presence_peers,
        max_tabs_per_client: args.max_presence_tabs,
    };
    let seconds = |s: u64| Duration::from_secs(s.max(1));
    config.guards = Guards {
        connections_per_ip: args.max_connections_per_ip,
        max_connections: args.max_connections,
        header_timeout: seconds(args.header_timeout),
        idle_timeout: seconds(args.idle_timeout),
        ping_interval: seconds(args.ping_interval),
        send_timeout: seconds(args.send_timeout),
        messages_per_second: args.messages_per_second,
        ops_per_second: args.ops_per_second,
        auth_failures_per_minute: args.auth_failures_per_minute,
        max_rooms: args.max_rooms,
        room_idle: seconds(args.room_idle),
    };
    config.retain = args.retain;
    config.retain_bytes = args.retain_bytes;
    config.compaction_interval = Duration::from_secs(args.compaction_interval.max(1));
    config.allow_origins = args.allow_origin;
    config.allow_hosts = args.allow_host;
    config.metrics_token = args.metrics_token;
    config.tls = args.tls_cert.zip(args.tls_key);
    let server = match start(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("srvra-sync-server: {error}");
            std::process::exit(1);
        }
    };
    let scheme = if server.tls { "https" } else { "http" };
    println!("srvra-sync-server listening on {scheme}://{}", server.addr);
    wait_for_signal().await;
    println!("srvra-sync-server: shutting down");
    server.shutdown().await;
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
