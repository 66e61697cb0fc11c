//! The real binary, killed with SIGKILL and restarted on the same data directory, keeps
//! every acknowledged change.

mod common;

use std::process::Child;

use common::{item, Client};
use srvra_sync::core::protocol::ServerMessage;

fn spawn(data: &std::path::Path) -> (Child, std::net::SocketAddr) {
    common::processes::spawn_server(&["--data", data.to_str().expect("utf-8 path")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn(dir.path());
    let (mut a, _) = Client::join(addr, "a", "room", 0).await;
    a.catch_up().await;
    let mut acked = 0;
    for round in 0..20 {
        let ops: Vec<_> = (0..50)
            .map(|i| a.set(&format!("k{i}"), item(round * 50 + i)))
            .collect();
        if let ServerMessage::Ack { acks, .. } = a.submit(ops, false).await {
            acked += acks.len();
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let (mut child, addr) = spawn(dir.path());
    let (mut b, head) = Client::join(addr, "b", "room", 0).await;
    assert_eq!(head as usize, acked);
    let parts = b.catch_up().await;
    let received = common::catch_up_len(&parts);
    assert_eq!(received, acked);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}
