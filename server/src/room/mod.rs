//! A room: the one order of accepted changes, persisted, and the broadcast to the room's
//! sessions. What is accepted, in which order, with what result (and how a conflicting
//! change is decided) is the core's [`RoomState`], shared with the simulation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use srvra_sync::core::model::operation::{OpId, Operation};
use srvra_sync::core::protocol::presence::PresencePeer;
use srvra_sync::core::protocol::{encode, Committed, ServerMessage};
use srvra_sync::core::room::presence::{PresenceLimits, RoomPresence};
use srvra_sync::core::room::session::RoomLog;
use srvra_sync::core::room::{RoomLimits, RoomState};
use tokio::sync::{broadcast, oneshot, Mutex};

mod write;

use self::write::Waiting;
use crate::metrics::{inc_by, Metrics};
use crate::store::{DbResult, Missed, RoomRow, Storage};

/// Broadcast capacity per room; a session that falls further behind catches up from the
/// log. (Each slot is allocated with the room: 1024 made an empty room cost ~50 KB.)
const BROADCAST_CAPACITY: usize = 1024;

/// Accepted changes of one message, published to the room's sessions.
#[derive(Debug)]
pub struct Published {
    /// The session that sent them (it skips them: it got an ack). Other sessions of the
    /// same client receive them: a change an abandoned connection delivered late reaches
    /// the client's new connection in order.
    pub session: u64,
    /// First and last position covered.
    pub first: u64,
    /// Last position covered.
    pub last: u64,
    /// The encoded `broadcast` frame (shared, not copied, by every session sending it).
    pub frame: Bytes,
}

/// Wall time in ms since the epoch, for capping clock stamps.
fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Who sent a message: the client, and the connection it came on.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// The client id.
    pub client: &'a str,
    /// The session (connection) id.
    pub session: u64,
}

/// One room.
#[derive(Debug)]
pub struct Room {
    name: String,
    state: Mutex<RoomState>,
    /// Messages waiting to be written (see [`write`]).
    waiting: std::sync::Mutex<Vec<Waiting>>,
    tx: broadcast::Sender<Arc<Published>>,
    /// The head at the last compaction check.
    checked: AtomicU64,
    /// The state's head, readable without waiting for the state's lock.
    head: AtomicU64,
    /// Who is here (memory only), and the channel presence updates go out on.
    presence: std::sync::Mutex<RoomPresence>,
    presence_tx: broadcast::Sender<Arc<Vec<u8>>>,
}

/// A room's log as stored.
pub struct StoredLog<'a> {
    /// The storage.
    pub db: &'a dyn Storage,
    /// The room.
    pub room: &'a str,
}

impl RoomLog for StoredLog<'_> {
    type Error = crate::store::DbError;

    fn changes_between(&self, after: u64, upto: u64, limit: usize) -> DbResult<Vec<Committed>> {
        self.db.changes_between(self.room, after, upto, limit)
    }

    fn position_of(&self, id: &OpId) -> DbResult<u64> {
        Ok(self
            .db
            .position_of(self.room, &id.client, id.seq)?
            .unwrap_or(0))
    }
}

impl Room {
    /// Loads a room from storage, to hold at most `limits` (and presence within
    /// `presence`).
    pub fn load(
        db: &dyn Storage,
        name: &str,
        limits: RoomLimits,
        presence: PresenceLimits,
    ) -> DbResult<Self> {
        let state = state_of(db.load_room(name)?, limits);
        let head = state.head;
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        Ok(Self {
            name: name.to_owned(),
            state: Mutex::new(state),
            waiting: std::sync::Mutex::default(),
            tx,
            checked: AtomicU64::new(0),
            head: AtomicU64::new(head),
            presence: std::sync::Mutex::new(RoomPresence::new(presence)),
            presence_tx: broadcast::channel(BROADCAST_CAPACITY).0,
        })
    }

    /// The room's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Receives every later publication.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// Receives every later presence update (encoded `presence` frames).
    pub fn subscribe_presence(&self) -> broadcast::Receiver<Arc<Vec<u8>>> {
        self.presence_tx.subscribe()
    }

    /// Runs `f` on the room's presence and tells the room about the tabs it changed.
    pub fn with_presence<T>(
        &self,
        f: impl FnOnce(&mut RoomPresence) -> (T, Vec<PresencePeer>),
    ) -> T {
        let (out, peers) = {
            let mut presence = self.presence.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut presence)
        };
        if !peers.is_empty() {
            let frame = encode(&ServerMessage::Presence { peers, full: false }, Some(1024));
            // No receiver is fine: nobody is in the room.
            let _ = self.presence_tx.send(Arc::new(frame));
        }
        out
    }

    /// Tabs present and the bytes of their states.
    pub fn presence_size(&self) -> (usize, usize) {
        self.presence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .size()
    }

    /// Runs `f` on the room's state (held locked meanwhile).
    pub async fn with_state<T>(&self, f: impl FnOnce(&RoomState) -> T) -> T {
        f(&*self.state.lock().await)
    }

    /// Applies a message's changes from `client` (on connection `session`) as
    /// [`RoomState::decide_message`] decides, persists what was accepted, then publishes
    /// it; returns the `ack`. Messages that wait for the room meanwhile are written with
    /// it, in one transaction (see [`write`]).
    ///
    /// A message whose caller stops waiting is still written, by the next message's
    /// holder of the room's lock (its client, when it sends the change again, gets an
    /// `ack` as for a duplicate).
    pub async fn submit(
        &self,
        db: &dyn Storage,
        metrics: &Metrics,
        from: Sender<'_>,
        ops: Vec<Operation>,
        atomic: bool,
        threshold: Option<usize>,
    ) -> DbResult<ServerMessage> {
        let (answer, answered) = oneshot::channel();
        self.wait(Waiting {
            client: from.client.to_owned(),
            session: from.session,
            ops,
            atomic,
            answer,
        });
        {
            let mut state = self.state.lock().await;
            let group = self.take_waiting();
            // Empty: an earlier holder of the lock wrote this message (no thread handoff).
            if !group.is_empty() {
                tokio::task::block_in_place(|| {
                    self.write_group(db, metrics, &mut state, group, threshold)
                });
            }
        }
        answered.await?
    }

    /// Takes what other instances stored after the room's head (shared storage), and
    /// publishes it to this instance's sessions.
    pub async fn refresh(
        &self,
        db: &dyn Storage,
        metrics: &Metrics,
        threshold: Option<usize>,
    ) -> DbResult<()> {
        let mut state = self.state.lock().await;
        tokio::task::block_in_place(|| {
            let missed = db.missed(&self.name, state.head)?;
            self.take_missed(db, metrics, &mut state, missed, threshold)
        })
    }

    /// The head this instance holds in memory (without waiting for a write in progress:
    /// the head may move right after).
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Relaxed)
    }

    /// Applies what other instances stored (`missed`) to `state` and publishes it: the
    /// changes replayed in order, or, when the log no longer holds them, the room as
    /// stored (sessions then catch up from the log or a snapshot at the next publication).
    fn take_missed(
        &self,
        db: &dyn Storage,
        metrics: &Metrics,
        state: &mut RoomState,
        missed: Missed,
        threshold: Option<usize>,
    ) -> DbResult<()> {
        let first = state.head + 1;
        match missed {
            Missed::Changes {
                changes,
                head,
                compacted,
            } => match state.replay(&changes, head) {
                Ok(()) => {
                    state.compacted = state.compacted.max(compacted);
                    if !changes.is_empty() {
                        inc_by(&metrics.changes_replayed, changes.len() as u64);
                        let frame = encode(&ServerMessage::Broadcast { changes }, threshold);
                        // Session 0 is no session: every session of the room receives them.
                        let _ = self.tx.send(Arc::new(Published {
                            session: 0,
                            first,
                            last: state.head,
                            frame: Bytes::from(frame),
                        }));
                    }
                }
                Err(gap) => {
                    eprintln!(
                        "srvra-sync-server: room {:?} reloaded: its log replay stopped ({gap:?})",
                        self.name
                    );
                    inc_by(&metrics.rooms_reloaded, 1);
                    *state = state_of(db.load_room(&self.name)?, state.limits);
                }
            },
            Missed::Room(row) => {
                inc_by(&metrics.rooms_reloaded, 1);
                *state = state_of(row, state.limits);
            }
        }
        self.head.store(state.head, Ordering::Relaxed);
        Ok(())
    }

    /// Drops log entries older than the newest `retain`, and older ones until the log
    /// holds at most `retain_bytes` (checked when the room took changes since last time).
    pub async fn compact(&self, db: &dyn Storage, retain: u64, retain_bytes: u64) -> DbResult<()> {
        let mut state = self.state.lock().await;
        let head = state.head;
        if head > self.checked.swap(head, Ordering::Relaxed) {
            let upto =
                tokio::task::block_in_place(|| db.compact(&self.name, head, retain, retain_bytes))?;
            state.compacted = state.compacted.max(upto);
        }
        Ok(())
    }
}

/// A room's state as stored, to hold at most `limits`.
fn state_of(row: RoomRow, limits: RoomLimits) -> RoomState {
    let mut state = RoomState {
        head: row.head,
        compacted: row.compacted,
        keys: row.keys.into_iter().map(|k| (k.key, k.state)).collect(),
        watermarks: row.watermarks.into_iter().collect(),
        limits,
        bytes: 0,
    };
    state.count_bytes();
    state
}

/// The rooms held in memory: loaded on first use, unloaded when no session used them
/// for a while, at most `max` at once.
#[derive(Debug)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, (Arc<Room>, Instant)>>,
    limits: RoomLimits,
    presence: PresenceLimits,
    max: usize,
}

impl Rooms {
    /// No room loaded yet; rooms hold at most `limits` and `presence`, and at most `max`
    /// are loaded.
    pub fn new(limits: RoomLimits, presence: PresenceLimits, max: usize) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            limits,
            presence,
            max: max.max(1),
        }
    }

    /// The room `name`, loading it on first use; `None` when `max` rooms are in use.
    pub async fn get(&self, db: &dyn Storage, name: &str) -> DbResult<Option<Arc<Room>>> {
        let mut rooms = self.rooms.lock().await;
        if let Some((room, used)) = rooms.get_mut(name) {
            *used = Instant::now();
            return Ok(Some(Arc::clone(room)));
        }
        if rooms.len() >= self.max {
            // Make room: unload every room no session holds.
            rooms.retain(|_, (room, _)| Arc::strong_count(room) > 1);
            if rooms.len() >= self.max {
                return Ok(None);
            }
        }
        let (limits, presence) = (self.limits, self.presence);
        let room = Arc::new(tokio::task::block_in_place(|| {
            Room::load(db, name, limits, presence)
        })?);
        rooms.insert(name.to_owned(), (Arc::clone(&room), Instant::now()));
        Ok(Some(room))
    }

    /// Unloads the rooms no session holds that were last used before `idle` ago; returns
    /// how many. (Everything a room holds is in the database: it loads again on use.)
    pub async fn unload_idle(&self, idle: Duration) -> usize {
        let mut rooms = self.rooms.lock().await;
        let before = rooms.len();
        rooms.retain(|_, (room, used)| Arc::strong_count(room) > 1 || used.elapsed() < idle);
        before - rooms.len()
    }

    /// The room `name` if it is in memory (without loading it).
    pub async fn loaded_room(&self, name: &str) -> Option<Arc<Room>> {
        self.rooms
            .lock()
            .await
            .get(name)
            .map(|(room, _)| Arc::clone(room))
    }

    /// Rooms in memory.
    pub async fn loaded(&self) -> usize {
        self.rooms.lock().await.len()
    }

    /// Every loaded room.
    pub async fn all(&self) -> Vec<Arc<Room>> {
        self.rooms
            .lock()
            .await
            .values()
            .map(|(room, _)| Arc::clone(room))
            .collect()
    }
}
