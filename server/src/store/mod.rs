//! Storage: a room's change log, its current state, each client's watermark and the
//! client-to-user bindings, behind one [`Storage`] trait with two backends:
//! - [`sqlite`]: embedded, one server instance (the default);
//! - [`postgres`]: shared by several instances serving the same rooms (SPEC §12).
//!
//! Every method blocks: callers run them under `tokio::task::block_in_place`.

pub mod postgres;
mod rows;
pub mod sqlite;

use std::sync::Arc;

use srvra_sync::core::model::key_state::KeyState;
use srvra_sync::core::protocol::Committed;

/// A storage failure, as text (the server logs it and closes the affected connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError(pub String);

impl From<serde_json::Error> for DbError {
    fn from(error: serde_json::Error) -> Self {
        Self(error.to_string())
    }
}

/// Result alias.
pub type DbResult<T> = Result<T, DbError>;

/// A key's persisted state.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    /// The key.
    pub key: String,
    /// Its value, version and writers.
    pub state: KeyState,
}

/// A room as persisted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomRow {
    /// Position of the last accepted change.
    pub head: u64,
    /// Changes at or before this position were compacted out of the log.
    pub compacted: u64,
    /// Every key.
    pub keys: Vec<KeyRow>,
    /// Highest operation sequence applied per client.
    pub watermarks: Vec<(String, u64)>,
}

/// What one write to a room stores (the accepted messages of one group, see
/// `room::write`).
#[derive(Debug, Clone, Default)]
pub struct CommitBatch<'a> {
    /// Accepted changes with their positions, in order.
    pub changes: Vec<&'a Committed>,
    /// Keys whose state changed, each once, with its new state.
    pub keys: Vec<KeyRow>,
    /// Senders, each once, with their new watermark.
    pub watermarks: Vec<(&'a str, u64)>,
    /// The room's new head.
    pub head: u64,
}

/// What other instances stored in a room after the head an instance knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Missed {
    /// These changes (none: the instance is current), in order, right after the known
    /// head; the log is compacted up to `compacted`.
    Changes {
        /// The changes.
        changes: Vec<Committed>,
        /// The stored head they end at.
        head: u64,
        /// The stored compaction point.
        compacted: u64,
    },
    /// The log no longer holds them (compacted): the whole room as stored now.
    Room(RoomRow),
}

/// What an instance hears about writes to shared storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Some instance committed this room up to this head.
    Room(String, u64),
    /// Notices may have been lost (the listening connection was made again).
    Resync,
}

impl Missed {
    /// Nothing missed (the only instance).
    pub fn none() -> Self {
        Self::Changes {
            changes: Vec::new(),
            head: 0,
            compacted: 0,
        }
    }
}

/// One message's write to a room: while it is open, no other instance writes the room.
pub trait RoomWrite {
    /// What others stored after `known` (read under the room's write lock).
    fn missed(&mut self, known: u64) -> DbResult<Missed>;
    /// Persists `batch` and ends the write; other instances are told the room moved.
    fn commit(self: Box<Self>, batch: &CommitBatch<'_>) -> DbResult<()>;
    /// Ends the write without writing anything.
    fn release(self: Box<Self>) -> DbResult<()>;
}

/// A storage backend. Every method blocks (see the module doc).
pub trait Storage: std::fmt::Debug + Send + Sync {
    /// Whether other server instances may write the same rooms (then a room's state is
    /// caught up from the log before each write, and on [`Storage::heads`] checks).
    fn shared(&self) -> bool;
    /// Loads a room (empty when new).
    fn load_room(&self, room: &str) -> DbResult<RoomRow>;
    /// Starts one message's write to `room`.
    fn begin(&self, room: &str) -> DbResult<Box<dyn RoomWrite + '_>>;
    /// What was stored in `room` after `known` (without taking the write lock).
    fn missed(&self, room: &str, known: u64) -> DbResult<Missed>;
    /// The stored heads of these rooms (absent: never written).
    fn heads(&self, rooms: &[String]) -> DbResult<Vec<(String, u64)>>;
    /// Up to `limit` changes after `after` and at or before `upto`, in order.
    fn changes_between(
        &self,
        room: &str,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> DbResult<Vec<Committed>>;
    /// The position a change id was accepted at, if it is still in the log.
    fn position_of(&self, room: &str, client: &str, seq: u64) -> DbResult<Option<u64>>;
    /// Binds `client` to `owner` on first use (nothing to bind: `None`); returns who owns
    /// `client` now, if anyone.
    fn claim_client(&self, client: &str, owner: Option<&str>) -> DbResult<Option<String>>;
    /// Drops log entries at or before `head - retain`, and older ones until the newest
    /// take at most `retain_bytes`; returns the new compaction point.
    fn compact(&self, room: &str, head: u64, retain: u64, retain_bytes: u64) -> DbResult<u64>;
    /// Rooms that exist.
    fn rooms(&self) -> DbResult<Vec<String>>;
    /// Stored changes and values set aside because they can no longer be read.
    fn quarantined(&self) -> u64;
    /// Starts listening for other instances' writes (shared storage; `None` otherwise).
    /// Listening stops when the receiver is dropped.
    fn listen(&self) -> Option<tokio::sync::mpsc::Receiver<Heard>>;
}

/// Opens the configured backend: PostgreSQL when `postgres` is a URL, else SQLite in
/// `data`.
pub fn open(postgres: Option<&str>, data: &std::path::Path) -> DbResult<Arc<dyn Storage>> {
    Ok(match postgres {
        Some(url) => Arc::new(postgres::Postgres::connect(url)?),
        None => Arc::new(sqlite::Sqlite::open(data)?),
    })
}
