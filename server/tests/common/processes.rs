//! Real processes for tests: the server binary, and a throw-away PostgreSQL cluster
//! (`scripts/pg-cluster.sh`, the same script the e2e tests and benchmarks use).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Starts the server binary with `args` (plus `--listen 127.0.0.1:0`); returns it and its
/// address, read from its banner.
pub fn spawn_server(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_srvra-sync-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the banner");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok());
    (
        child,
        addr.unwrap_or_else(|| panic!("no address in {line:?}")),
    )
}

/// A PostgreSQL cluster of its own, removed when dropped.
pub struct PgCluster {
    dir: String,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh")
}

impl PgCluster {
    /// Initialises and starts a cluster (fails the test when PostgreSQL is missing:
    /// `scripts/setup.sh --browser` installs it).
    pub fn start() -> Self {
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .stderr(Stdio::inherit())
            .output()
            .expect("runs scripts/pg-cluster.sh");
        assert!(out.status.success(), "scripts/pg-cluster.sh start failed");
        let line = String::from_utf8(out.stdout).expect("utf-8");
        let (dir, url) = line.trim().split_once(' ').expect("DIR URL");
        Self {
            dir: dir.to_owned(),
            url: url.to_owned(),
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", &self.dir])
            .status();
    }
}
