//! Server load run: N native clients in one room send changes over real WebSockets on
//! 127.0.0.1 and measure accepted changes/s and broadcast latency. Every client drains
//! every broadcast; one in ten decodes it to time it (decoding all of them would make the
//! load generator, not the server, the bottleneck on a 2-core machine).
//!
//! `cargo run --release -p srvra-sync-server --example loadgen -- [clients] [messages] [ops] [rate]`
//!
//! Without `rate` (or 0) the run is closed-loop: each client sends its next message when
//! the previous one is acknowledged, which measures saturation (latency is then queueing).
//! With `rate` the run is open-loop: the clients together offer `rate` changes/s on a fixed
//! schedule, whatever the acks do, which measures broadcast latency at that load.
//!
//! `LOADGEN_POSTGRES=postgres://…` runs `LOADGEN_INSTANCES` (default 1) server instances
//! in this process on that database instead of one on SQLite; client `c` joins instance
//! `c % instances` (every instance serves the same room).
//!
//! `LOADGEN_SERVER=host:port` sends to a server already running (for instance
//! `srvra-sync-server --listen 127.0.0.1:9000`) instead of one in this process, so that a
//! profiler can tell the server's work from the load generator's.
//!
//! `LOADGEN_SHARED_KEYS=N` makes the keys conflict-prone: every client writes keys drawn
//! from the same N, based on the version of each as client 0 last saw it (client 0 decodes
//! every broadcast and its own acks, as an SDK client does; the others read its table, so
//! that 200 clients decoding every broadcast do not make the load generator the bottleneck),
//! so concurrent writes to a key conflict and are settled by last-write-wins. Without it each client writes mostly its own keys.
//!
//! `LOADGEN_VALUE_BYTES=N` adds a filler string of N bytes to every value (a different
//! rotation of it per change), for rows and frames the size of real documents.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use srvra_sync::core::conflict::{Outcome, Resolution};
use srvra_sync::core::model::operation::ConflictInfo;
use srvra_sync::core::model::operation::{OpId, OpKind, Operation};
use srvra_sync::core::protocol::{
    decode, encode, message::Rejected, ClientMessage, Limits, ServerMessage, PROTOCOL_VERSION,
};
use srvra_sync::core::state::compress::{LZ4, RAW};
use srvra_sync_server::{start, ServerConfig};
use tokio::sync::Barrier;
use tokio_tungstenite::connect_async_with_config;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Command-line argument `index` as a number, or `default`.
fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// The number in environment variable `name`, or `default` when it is unset or not one.
fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Whether a frame is an `ack`: this protocol version, then a payload whose JSON starts
/// with `{"ack"`. Non-observer clients only need to tell acks from broadcasts; reading the
/// first bytes, without decompressing the frame, keeps the load generator from competing
/// with the server for the CPU.
fn is_ack(frame: &[u8]) -> bool {
    const ACK: &[u8] = br#"{"ack""#;
    match frame {
        [PROTOCOL_VERSION, RAW, json @ ..] => json.starts_with(ACK),
        [PROTOCOL_VERSION, LZ4, _, _, _, _, block @ ..] => first_literals(block).starts_with(ACK),
        _ => false,
    }
}

/// The literal bytes an LZ4 block starts with (its first sequence's literals, stored as
/// they are). Six distinct leading bytes are always literals: a match copies at least four
/// bytes that occurred earlier.
fn first_literals(block: &[u8]) -> &[u8] {
    let Some((&token, mut rest)) = block.split_first() else {
        return &[];
    };
    let mut len = usize::from(token >> 4);
    if len == 15 {
        while let Some((&more, tail)) = rest.split_first() {
            len += usize::from(more);
            rest = tail;
            if more != 255 {
                break;
            }
        }
    }
    &rest[..len.min(rest.len())]
}

/// What the load generator reads of a server message: the counts, the first change's send
/// time and (shared keys) each change's key and outcome. Values are skipped, not built, so
/// that observers decoding every broadcast do less work than a client applying it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Seen {
    Ack {
        acks: Vec<(OpId, u64)>,
        #[serde(default)]
        rejected: Vec<Rejected>,
        #[serde(default)]
        resolved: Vec<(OpId, Resolution)>,
    },
    Broadcast {
        changes: Vec<SeenChange>,
    },
    #[serde(rename = "catch-up")]
    CatchUp {
        changes: Vec<SeenChange>,
    },
}

/// A broadcast change, as far as [`Seen`] reads it.
#[derive(Deserialize)]
struct SeenChange {
    op: SeenOp,
    #[serde(default)]
    resolution: Option<Resolution>,
}

/// The parts of an operation the load generator uses.
#[derive(Deserialize)]
struct SeenOp {
    key: String,
    timestamp: f64,
}

/// The keys a client writes: its own share of 1,000, or (`shared` > 0) keys drawn from
/// the same `shared` for every client, based on the version last seen of each.
struct Keys {
    shared: usize,
    /// Version last seen per key (shared keys only), one table for every client.
    versions: Arc<Mutex<HashMap<String, u64>>>,
    /// Whether this client keeps `versions` (client 0, when keys are shared).
    tracker: bool,
    /// The key of each change the tracker sent and has not yet seen acked, by sequence.
    sent: HashMap<u64, String>,
}

impl Keys {
    fn key(&self, c: usize, seq: u64, i: usize) -> String {
        if self.shared > 0 {
            // A spread that differs per client and per message.
            let h = (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ seq.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            format!("s{}", h % self.shared as u64)
        } else {
            format!("k{}", (c * 7 + i) % 1000)
        }
    }

    /// A change that applied (or not: `kept_server`) moves its key's version.
    fn saw(&mut self, key: &str, kept_server: bool) {
        if self.tracker && !kept_server {
            let mut versions = self.versions.lock().expect("versions");
            *versions.entry(key.to_owned()).or_insert(0) += 1;
        }
    }
}

/// Whether a resolution kept the server's value (the change did not move the version).
fn kept_server(resolution: Option<&Resolution>) -> bool {
    resolution.is_some_and(|r| r.outcome == Outcome::Server)
}

/// Other clients' changes move the versions every client bases on (seen by the tracker).
fn see(keys: &Mutex<Keys>, changes: &[SeenChange]) {
    let mut keys = keys.lock().expect("keys");
    if keys.tracker {
        for change in changes {
            keys.saw(&change.op.key, kept_server(change.resolution.as_ref()));
        }
    }
}

/// The filler every value carries (`LOADGEN_VALUE_BYTES`, empty by default).
fn filler() -> &'static str {
    static FILLER: OnceLock<String> = OnceLock::new();
    FILLER.get_or_init(|| {
        (0..env_number("LOADGEN_VALUE_BYTES", 0))
            .map(|i| char::from(b'a' + ((i * 7 + i / 26) % 26) as u8))
            .collect()
    })
}

/// Client `c`'s value for its change `seq`.
fn value(c: usize, seq: u64) -> serde_json::Value {
    let filler = filler();
    if filler.is_empty() {
        return json!({ "n": seq, "by": c });
    }
    let turn = (seq as usize).wrapping_mul(31) % filler.len();
    let pad = format!("{}{}", &filler[turn..], &filler[..turn]);
    json!({ "n": seq, "by": c, "pad": pad })
}

/// A `changes` message of `ops` sets from client `c`, stamped now.
fn changes_frame(c: usize, id: &str, seq: &mut u64, ops: usize, keys: &mut Keys) -> Message {
    let ops: Vec<Operation> = (0..ops)
        .map(|i| {
            *seq += 1;
            let key = keys.key(c, *seq, i);
            let base_version = match keys.shared {
                0 => 0,
                _ => keys
                    .versions
                    .lock()
                    .expect("versions")
                    .get(&key)
                    .copied()
                    .unwrap_or(0),
            };
            if keys.tracker {
                keys.sent.insert(*seq, key.clone());
            }
            Operation {
                id: OpId {
                    client: Arc::from(id),
                    seq: *seq,
                },
                key,
                fields: vec![],
                kind: OpKind::Set(Arc::new(value(c, *seq))),
                base_version,
                timestamp: now_ms(),
                batch: None,
                conflict: ConflictInfo {
                    clock: (now_ms() as u64) << 16,
                    ..ConflictInfo::default()
                },
            }
        })
        .collect();
    Message::Binary(encode(&ClientMessage::Changes { ops, atomic: false }, Some(1024)).into())
}

struct ClientResult {
    accepted: usize,
    /// Conflicts the server settled among this client's changes.
    conflicts: usize,
    rejected: usize,
    latencies: Vec<f64>,
    lagged: bool,
    finished: Duration,
}

#[tokio::main]
async fn main() {
    let clients = arg(1, 200);
    let messages = arg(2, 10);
    let ops_per_message = arg(3, 100);
    let rate = arg(4, 0);
    let shared = env_number("LOADGEN_SHARED_KEYS", 0);
    // Open loop: each client sends one message every `interval`, clients staggered.
    let interval = (rate > 0)
        .then(|| Duration::from_secs_f64((clients * ops_per_message) as f64 / rate as f64));
    let dir = tempfile::tempdir().expect("temp dir");
    let postgres = std::env::var("LOADGEN_POSTGRES").ok();
    let instances = match &postgres {
        Some(_) => env_number("LOADGEN_INSTANCES", 1).max(1),
        None => 1,
    };
    let external: Option<std::net::SocketAddr> = std::env::var("LOADGEN_SERVER")
        .ok()
        .map(|a| a.parse().expect("LOADGEN_SERVER is host:port"));
    let mut servers = Vec::new();
    for _ in 0..if external.is_some() { 0 } else { instances } {
        let mut config = ServerConfig::new(
            "127.0.0.1:0".parse().expect("address"),
            dir.path().to_path_buf(),
        );
        config.max_ops = ops_per_message.max(1000);
        config.postgres = postgres.clone();
        servers.push(start(config).await.expect("server starts"));
    }
    let addrs: Vec<_> = match external {
        Some(addr) => vec![addr],
        None => servers.iter().map(|s| s.addr).collect(),
    };
    let ready = Arc::new(Barrier::new(clients + 1));
    let go = Arc::new(Barrier::new(clients + 1));

    let versions = Arc::new(Mutex::new(HashMap::new()));
    let epoch = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (ready, go) = (Arc::clone(&ready), Arc::clone(&go));
        let versions = Arc::clone(&versions);
        let addr = addrs[c % addrs.len()];
        tasks.push(tokio::spawn(async move {
            // Nagle off, as browsers do for WebSockets (and the server does).
            let config = WebSocketConfig::default();
            let (ws, _) =
                connect_async_with_config(format!("ws://{addr}/sync"), Some(config), true)
                    .await
                    .expect("connects");
            let (mut tx, mut rx) = ws.split();
            let id = format!("load-{c}");
            let hello = ClientMessage::hello(&id, "load", 0);
            tx.send(Message::Binary(encode(&hello, None).into()))
                .await
                .expect("hello");
            let next = |rx_msg: Option<Result<Message, _>>| -> Option<ServerMessage> {
                match rx_msg {
                    Some(Ok(Message::Binary(b))) => decode(&b, Limits::default()).ok(),
                    _ => None,
                }
            };
            // welcome + catch-up
            loop {
                match next(rx.next().await) {
                    Some(ServerMessage::CatchUp { done: true, .. })
                    | Some(ServerMessage::Snapshot { done: true, .. }) => break,
                    Some(_) => continue,
                    None => panic!("closed during join"),
                }
            }
            ready.wait().await;
            go.wait().await;
            let mut result = ClientResult {
                accepted: 0,
                conflicts: 0,
                rejected: 0,
                latencies: Vec::new(),
                lagged: false,
                finished: Duration::ZERO,
            };
            let mut seq = 0;
            let mut sent = 0;
            // Only the tracker (client 0, with shared keys) keeps the table of versions.
            let tracker = shared > 0 && c == 0;
            let keys = Arc::new(Mutex::new(Keys {
                shared,
                versions,
                tracker,
                sent: HashMap::new(),
            }));
            let send_next = |seq: &mut u64| {
                let mut keys = keys.lock().expect("keys");
                changes_frame(c, &id, seq, ops_per_message, &mut keys)
            };
            let mut tx = Some(tx);
            let mut sender = None;
            if let Some(interval) = interval {
                let start =
                    tokio::time::Instant::now() + interval.mul_f64(c as f64 / clients as f64);
                sent = messages;
                let mut sink = tx.take().expect("sink");
                let id = id.clone();
                let keys = Arc::clone(&keys);
                sender = Some(tokio::spawn(async move {
                    let mut seq = 0;
                    for k in 0..messages {
                        tokio::time::sleep_until(start + interval * k as u32).await;
                        // Built when due: the timestamp is the send time.
                        let frame = {
                            let mut keys = keys.lock().expect("keys");
                            changes_frame(c, &id, &mut seq, ops_per_message, &mut keys)
                        };
                        sink.send(frame).await.expect("send");
                    }
                    sink
                }));
            } else if let Some(tx) = tx.as_mut() {
                tx.send(send_next(&mut seq)).await.expect("send");
                sent += 1;
            }
            let observer = c % 10 == 0;
            let total = clients * messages * ops_per_message;
            let mut received = 0;
            // Everyone runs until its own changes are acknowledged; observers also until they
            // have received every change of the room (broadcast, or catch-up after lagging).
            while result.accepted + result.rejected < messages * ops_per_message
                || (observer && received < total)
            {
                let bytes = match rx.next().await {
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    // The server's pings (every few seconds on a long run): not the end.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => break,
                };
                if !observer && !is_ack(&bytes) {
                    continue;
                }
                let message = match decode::<Seen>(&bytes, Limits::default()) {
                    Ok(message) => message,
                    // Another message (presence, a pong...): skipped if it is well formed.
                    Err(_) if decode::<ServerMessage>(&bytes, Limits::default()).is_ok() => {
                        continue
                    }
                    Err(_) => break,
                };
                match message {
                    Seen::Ack {
                        acks,
                        resolved,
                        rejected,
                    } => {
                        result.accepted += acks.len();
                        result.rejected += rejected.len();
                        result.conflicts += resolved.len();
                        received += acks.len();
                        if tracker {
                            let resolved: HashMap<u64, Resolution> =
                                resolved.into_iter().map(|(id, r)| (id.seq, r)).collect();
                            let mut keys = keys.lock().expect("keys");
                            for (id, _) in &acks {
                                if let Some(key) = keys.sent.remove(&id.seq) {
                                    keys.saw(&key, kept_server(resolved.get(&id.seq)));
                                }
                            }
                            for rejection in &rejected {
                                keys.sent.remove(&rejection.id.seq);
                            }
                        }
                        if let Some(tx) = tx.as_mut().filter(|_| sent < messages) {
                            tx.send(send_next(&mut seq)).await.expect("send");
                            sent += 1;
                        }
                    }
                    Seen::Broadcast { changes } => {
                        received += changes.len();
                        if let Some(first) = changes.first().filter(|_| observer) {
                            result.latencies.push(now_ms() - first.op.timestamp);
                        }
                        see(&keys, &changes);
                    }
                    Seen::CatchUp { changes } => {
                        result.lagged = true;
                        received += changes.len();
                        see(&keys, &changes);
                    }
                }
            }
            result.finished = epoch.elapsed();
            if let Some(sender) = sender {
                tx = Some(sender.await.expect("sender task"));
            }
            if let Some(mut tx) = tx {
                let _ = tx.close().await;
            }
            result
        }));
    }
    ready.wait().await;
    let started = epoch.elapsed();
    go.wait().await;
    let mut accepted = 0;
    let (mut conflicts, mut rejected) = (0, 0);
    let mut latencies = Vec::new();
    let mut lagged = 0;
    let mut accepted_at = Duration::ZERO;
    for task in tasks {
        let result = task.await.expect("client task");
        accepted += result.accepted;
        conflicts += result.conflicts;
        rejected += result.rejected;
        latencies.extend(result.latencies);
        lagged += usize::from(result.lagged);
        accepted_at = accepted_at.max(result.finished.saturating_sub(started));
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let storage = match &postgres {
        _ if external.is_some() => "a server in another process".to_owned(),
        Some(_) => format!("{instances} instance(s) on PostgreSQL"),
        None => "1 instance on SQLite".to_owned(),
    };
    let keys = if shared > 0 {
        format!(
            ", {shared} shared keys: {conflicts} conflicts settled by the server, {rejected} rejected"
        )
    } else {
        String::new()
    };
    println!(
        "loadgen ({}, {storage}{keys}): {clients} clients, {messages} messages x {ops_per_message} ops each: {accepted} changes accepted in {:.2} s = {:.0} changes/s; broadcast latency p50 {:.1} ms, p99 {:.1} ms over {} deliveries to {} observers ({} caught up from the log after lagging)",
        if rate > 0 { format!("open loop, {rate} changes/s offered") } else { "closed loop".to_owned() },
        accepted_at.as_secs_f64(),
        accepted as f64 / accepted_at.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        latencies.len(),
        clients.div_ceil(10),
        lagged
    );
    for server in servers {
        server.shutdown().await;
    }
}
