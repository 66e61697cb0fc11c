//! SQLite persistence: the default backend, for one server instance. Every accepted
//! message is one transaction that appends to the change log, updates the current state
//! and the sender's watermark, so an acknowledged change survives `kill -9` (WAL,
//! synchronous=FULL: also across a power loss).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use srvra_sync::core::protocol::Committed;

use super::rows::{self, Unreadable};
use super::{CommitBatch, DbError, DbResult, Missed, RoomRow, RoomWrite, Storage};

impl From<rusqlite::Error> for DbError {
    fn from(error: rusqlite::Error) -> Self {
        Self(error.to_string())
    }
}

/// The server's SQLite database.
#[derive(Debug)]
pub struct Sqlite {
    conn: Mutex<Connection>,
    quarantined: AtomicU64,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS rooms (
  room TEXT PRIMARY KEY, head INTEGER NOT NULL, compacted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
  room TEXT NOT NULL, position INTEGER NOT NULL, client TEXT NOT NULL, seq INTEGER NOT NULL,
  op TEXT NOT NULL, PRIMARY KEY (room, position));
CREATE UNIQUE INDEX IF NOT EXISTS changes_by_id ON changes (room, client, seq);
CREATE TABLE IF NOT EXISTS state (
  room TEXT NOT NULL, key TEXT NOT NULL, value TEXT, version INTEGER NOT NULL,
  PRIMARY KEY (room, key));
CREATE TABLE IF NOT EXISTS watermarks (
  room TEXT NOT NULL, client TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (room, client));
CREATE TABLE IF NOT EXISTS owners (client TEXT PRIMARY KEY, user TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
  room TEXT NOT NULL, position INTEGER NOT NULL, key TEXT, stored TEXT, reason TEXT NOT NULL,
  PRIMARY KEY (room, position, key));
";

/// Columns added after the first release: `(table, column)`, added to older databases
/// when they open.
const ADDED_COLUMNS: [(&str, &str); 2] = [("changes", "resolution"), ("state", "writer")];

/// Adds the columns an older database lacks.
fn migrate(conn: &Connection) -> DbResult<()> {
    for (table, column) in ADDED_COLUMNS {
        let present: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            params![table, column],
            |r| r.get(0),
        )?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))?;
        }
    }
    Ok(())
}

impl Sqlite {
    /// Opens (creating) `dir/srvra-sync.db`.
    pub fn open(dir: &Path) -> DbResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError(format!("cannot create {}: {e}", dir.display())))?;
        let conn = Connection::open(dir.join("srvra-sync.db"))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            quarantined: AtomicU64::new(0),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions
        // roll back), so a poisoned lock is still safe to use.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes one accepted message in a single transaction.
    fn commit(&self, room: &str, batch: &CommitBatch<'_>) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO changes (room, position, client, seq, op, resolution)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for committed in &batch.changes {
                let stored = rows::encode_change(committed)?;
                let id = &committed.op.id;
                insert.execute(params![
                    room,
                    committed.position as i64,
                    &*id.client,
                    id.seq as i64,
                    stored.op,
                    stored.resolution
                ])?;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO state (room, key, value, version, writer) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (room, key) DO UPDATE SET value = excluded.value,
                 version = excluded.version, writer = excluded.writer",
            )?;
            for key in &batch.keys {
                let stored = rows::encode_key(&key.state)?;
                upsert.execute(params![
                    room,
                    key.key,
                    stored.value,
                    key.state.version as i64,
                    stored.writers
                ])?;
            }
            let mut watermark = tx.prepare_cached(
                "INSERT INTO watermarks (room, client, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (room, client) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            )?;
            for (client, seq) in &batch.watermarks {
                watermark.execute(params![room, client, *seq as i64])?;
            }
            tx.execute(
                "INSERT INTO rooms (room, head, compacted) VALUES (?1, ?2, 0)
                 ON CONFLICT (room) DO UPDATE SET head = excluded.head",
                params![room, batch.head as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Copies unreadable stored rows into `quarantine` (once each) and counts them.
    fn quarantine(&self, conn: &Connection, room: &str, unreadable: &[Unreadable]) -> DbResult<()> {
        for row in unreadable {
            let added = conn.execute(
                "INSERT OR IGNORE INTO quarantine (room, position, key, stored, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    room,
                    row.position as i64,
                    row.key.as_deref().unwrap_or(""),
                    row.stored,
                    row.reason
                ],
            )?;
            if added > 0 {
                rows::log_quarantined(room, row);
                self.quarantined.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// A write to a room of the only instance: nothing is ever missed, and the commit is one
/// transaction.
struct SoleWrite<'a> {
    db: &'a Sqlite,
    room: String,
}

impl RoomWrite for SoleWrite<'_> {
    fn missed(&mut self, _known: u64) -> DbResult<Missed> {
        Ok(Missed::none())
    }

    fn commit(self: Box<Self>, batch: &CommitBatch<'_>) -> DbResult<()> {
        self.db.commit(&self.room, batch)
    }

    fn release(self: Box<Self>) -> DbResult<()> {
        Ok(())
    }
}

impl Storage for Sqlite {
    fn shared(&self) -> bool {
        false
    }

    fn load_room(&self, room: &str) -> DbResult<RoomRow> {
        let conn = self.conn();
        let (head, compacted) = conn
            .query_row(
                "SELECT head, compacted FROM rooms WHERE room = ?1",
                [room],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .optional()?
            .unwrap_or((0, 0));
        let mut keys = Vec::new();
        let mut unreadable = Vec::new();
        let mut stmt =
            conn.prepare("SELECT key, value, version, writer FROM state WHERE room = ?1")?;
        let rows = stmt.query_map([room], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        for row in rows {
            let (key, value, version, writer) = row?;
            match rows::decode_key(
                key.clone(),
                value.as_deref(),
                version as u64,
                writer.as_deref(),
            ) {
                Ok(row) => keys.push(row),
                // Set aside, and the key starts over, rather than the room never loading.
                Err(error) => unreadable.push(Unreadable {
                    position: 0,
                    key: Some(key),
                    stored: value,
                    reason: error.to_string(),
                }),
            }
        }
        drop(stmt);
        self.quarantine(&conn, room, &unreadable)?;
        let mut stmt = conn.prepare("SELECT client, seq FROM watermarks WHERE room = ?1")?;
        let watermarks = stmt
            .query_map([room], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RoomRow {
            head,
            compacted,
            keys,
            watermarks,
        })
    }

    fn begin(&self, room: &str) -> DbResult<Box<dyn RoomWrite + '_>> {
        Ok(Box::new(SoleWrite {
            db: self,
            room: room.to_owned(),
        }))
    }

    fn missed(&self, _room: &str, _known: u64) -> DbResult<Missed> {
        Ok(Missed::none())
    }

    fn heads(&self, _rooms: &[String]) -> DbResult<Vec<(String, u64)>> {
        // The only instance: its rooms are always at their stored heads.
        Ok(Vec::new())
    }

    fn changes_between(
        &self,
        room: &str,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> DbResult<Vec<Committed>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT position, op, resolution FROM changes
             WHERE room = ?1 AND position > ?2 AND position <= ?3 ORDER BY position LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![room, after as i64, upto as i64, limit as i64],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )?;
        let mut changes = Vec::new();
        let mut unreadable = Vec::new();
        for row in rows {
            let (position, op, resolution) = row?;
            match rows::decode_change(position, &op, resolution.as_deref()) {
                Ok(change) => changes.push(change),
                // Set aside and skipped, not sent to every joiner as an error.
                Err(error) => unreadable.push(Unreadable {
                    position,
                    key: None,
                    stored: Some(op),
                    reason: error.to_string(),
                }),
            }
        }
        drop(stmt);
        self.quarantine(&conn, room, &unreadable)?;
        Ok(changes)
    }

    fn position_of(&self, room: &str, client: &str, seq: u64) -> DbResult<Option<u64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT position FROM changes WHERE room = ?1 AND client = ?2 AND seq = ?3",
        )?;
        Ok(stmt
            .query_row(params![room, client, seq as i64], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|p| p as u64))
    }

    fn claim_client(&self, client: &str, owner: Option<&str>) -> DbResult<Option<String>> {
        let conn = self.conn();
        if let Some(owner) = owner {
            conn.execute(
                "INSERT OR IGNORE INTO owners (client, user) VALUES (?1, ?2)",
                params![client, owner],
            )?;
        }
        Ok(conn
            .query_row("SELECT user FROM owners WHERE client = ?1", [client], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn compact(&self, room: &str, head: u64, retain: u64, retain_bytes: u64) -> DbResult<u64> {
        let mut conn = self.conn();
        // The newest position whose change, with every newer one, is over the byte budget.
        let over: Option<i64> = conn
            .query_row(
                "SELECT position FROM (SELECT position, SUM(length(op)) OVER
                   (ORDER BY position DESC) AS newer FROM changes WHERE room = ?1)
                 WHERE newer > ?2 ORDER BY position DESC LIMIT 1",
                params![room, retain_bytes.min(i64::MAX as u64) as i64],
                |r| r.get(0),
            )
            .optional()?;
        let upto = head
            .saturating_sub(retain)
            .max(over.map_or(0, |p| p as u64));
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM changes WHERE room = ?1 AND position <= ?2",
            params![room, upto as i64],
        )?;
        tx.execute(
            "UPDATE rooms SET compacted = MAX(compacted, ?2) WHERE room = ?1",
            params![room, upto as i64],
        )?;
        tx.commit()?;
        Ok(upto)
    }

    fn rooms(&self) -> DbResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT room FROM rooms")?;
        let rooms = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rooms)
    }

    fn quarantined(&self) -> u64 {
        self.quarantined.load(Ordering::Relaxed)
    }

    fn listen(&self) -> Option<tokio::sync::mpsc::Receiver<super::Heard>> {
        None
    }
}
