//! `srvra-sync-server --listen 127.0.0.1:8787 --data ./data [--static DIR]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
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
    /// Directory to serve as static files at `/`.
    #[arg(long = "static")]
    static_dir: Option<PathBuf>,
    /// Largest accepted frame, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_frame: usize,
    /// Most operations in one `changes` message.
    #[arg(long, default_value_t = 1000)]
    max_ops: usize,
    /// Token every client must send in `hello` (none: no check).
    #[arg(long, env = "SRVRA_AUTH_TOKEN")]
    auth_token: Option<String>,
    /// Changes kept in each room's log; older ones are compacted into the state.
    #[arg(long, default_value_t = 100_000)]
    retain: u64,
    /// Seconds between compactions.
    #[arg(long, default_value_t = 60)]
    compaction_interval: u64,
    /// A browser origin (`https://app.example.com`) allowed to connect, besides the
    /// server's own host and loopback origins; repeatable.
    #[arg(long = "allow-origin")]
    allow_origin: Vec<String>,
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
    config.limits.max_frame = args.max_frame;
    config.max_ops = args.max_ops;
    config.auth_token = args.auth_token;
    config.retain = args.retain;
    config.compaction_interval = Duration::from_secs(args.compaction_interval.max(1));
    config.allow_origins = args.allow_origin;
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
