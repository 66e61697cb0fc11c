//! PostgreSQL persistence, for several server instances serving the same rooms (SPEC §12).
//! Each message's write locks its room's row (`SELECT … FOR UPDATE`), so writes to one
//! room from any instance take turns: the writer first reads what others appended since
//! its in-memory head, then commits its changes, state, watermark and head in one
//! transaction with a `NOTIFY` to the other instances. The log stays the truth; the
//! notification and a periodic head check only say when to read it.

pub mod listen;
mod schema;
mod transaction;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use srvra_sync::core::protocol::Committed;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::try_join;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls};

use self::transaction::Transaction;
use super::rows::{self, Unreadable};
use super::{CommitBatch, DbError, DbResult, Heard, Missed, RoomRow, RoomWrite, Storage};

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self(match error.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => error.to_string(),
        })
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self(format!("postgres pool: {error}"))
    }
}

/// Connections kept open to the database by one instance.
const POOL_SIZE: usize = 16;

/// Further behind than this many changes, an instance reloads the room instead of reading
/// the log.
const MAX_REPLAY: u64 = 10_000;

/// Runs `future` to completion on the server's runtime (callers are in `block_in_place`).
fn block<F: Future>(future: F) -> F::Output {
    Handle::current().block_on(future)
}

/// The shared PostgreSQL database.
#[derive(Debug)]
pub struct Postgres {
    pool: Pool,
    config: Config,
    quarantined: AtomicU64,
}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and creates or
    /// upgrades the schema.
    pub fn connect(url: &str) -> DbResult<Self> {
        let config: Config = url
            .parse()
            .map_err(|e| DbError(format!("invalid --postgres URL: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| DbError(format!("postgres pool: {e}")))?;
        block(async {
            let mut client = pool.get().await?;
            schema::migrate(&mut client).await?;
            Ok::<_, DbError>(())
        })?;
        Ok(Self {
            pool,
            config,
            quarantined: AtomicU64::new(0),
        })
    }

    async fn client(&self) -> DbResult<Object> {
        Ok(self.pool.get().await?)
    }

    /// Copies unreadable stored rows into the quarantine (once each) and counts them.
    async fn quarantine(
        &self,
        client: &ClientWrapper,
        room: &str,
        unreadable: &[Unreadable],
    ) -> DbResult<()> {
        for row in unreadable {
            let added = client
                .execute(
                    "INSERT INTO srvra_quarantine (room, position, key, stored, reason)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[
                        &room,
                        &(row.position as i64),
                        &row.key.as_deref().unwrap_or(""),
                        &row.stored,
                        &row.reason,
                    ],
                )
                .await?;
            if added > 0 {
                rows::log_quarantined(room, row);
                self.quarantined.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    async fn load_room_with(&self, client: &ClientWrapper, room: &str) -> DbResult<RoomRow> {
        let (head, compacted) = stored_position(client, room).await?;
        let mut keys = Vec::new();
        let mut unreadable = Vec::new();
        let state = client
            .query(
                "SELECT key, value, version, writer FROM srvra_state WHERE room = $1",
                &[&room],
            )
            .await?;
        for row in state {
            let key: String = row.get(0);
            let value: Option<String> = row.get(1);
            let writers: Option<&str> = row.get(3);
            let version = row.get::<_, i64>(2) as u64;
            match rows::decode_key(key.clone(), value.as_deref(), version, writers) {
                Ok(row) => keys.push(row),
                Err(error) => unreadable.push(Unreadable {
                    position: 0,
                    key: Some(key),
                    stored: value,
                    reason: error.to_string(),
                }),
            }
        }
        self.quarantine(client, room, &unreadable).await?;
        let watermarks = client
            .query(
                "SELECT client, seq FROM srvra_watermarks WHERE room = $1",
                &[&room],
            )
            .await?
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect();
        Ok(RoomRow {
            head,
            compacted,
            keys,
            watermarks,
        })
    }

    async fn changes_with(
        &self,
        client: &ClientWrapper,
        room: &str,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> DbResult<Vec<Committed>> {
        let statement = client
            .prepare_cached(
                "SELECT position, op, resolution FROM srvra_changes
                 WHERE room = $1 AND position > $2 AND position <= $3
                 ORDER BY position LIMIT $4",
            )
            .await?;
        let found = client
            .query(
                &statement,
                &[&room, &(after as i64), &(upto as i64), &(limit as i64)],
            )
            .await?;
        let mut changes = Vec::with_capacity(found.len());
        let mut unreadable = Vec::new();
        for row in found {
            let position = row.get::<_, i64>(0) as u64;
            let op: String = row.get(1);
            match rows::decode_change(position, &op, row.get(2)) {
                Ok(change) => changes.push(change),
                Err(error) => unreadable.push(Unreadable {
                    position,
                    key: None,
                    stored: Some(op),
                    reason: error.to_string(),
                }),
            }
        }
        self.quarantine(client, room, &unreadable).await?;
        Ok(changes)
    }

    /// What was stored after `known`, given the room's stored head and compaction point:
    /// the log when it holds the whole run, else the room.
    async fn missed_with(
        &self,
        client: &ClientWrapper,
        room: &str,
        known: u64,
        (head, compacted): (u64, u64),
    ) -> DbResult<Missed> {
        if head <= known {
            return Ok(Missed::Changes {
                changes: Vec::new(),
                head,
                compacted,
            });
        }
        if head - known <= MAX_REPLAY {
            let changes = self
                .changes_with(client, room, known, head, MAX_REPLAY as usize)
                .await?;
            let whole = changes.len() as u64 == head - known
                && changes.first().is_some_and(|c| c.position == known + 1);
            if whole {
                return Ok(Missed::Changes {
                    changes,
                    head,
                    compacted,
                });
            }
        }
        Ok(Missed::Room(self.load_room_with(client, room).await?))
    }
}

/// A room's stored head and compaction point (0 and 0 when never written).
async fn stored_position(client: &ClientWrapper, room: &str) -> DbResult<(u64, u64)> {
    let statement = client
        .prepare_cached("SELECT head, compacted FROM srvra_rooms WHERE room = $1")
        .await?;
    Ok(client
        .query_opt(&statement, &[&room])
        .await?
        .map_or((0, 0), |r| {
            (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)
        }))
}

/// One message's write: a transaction holding the room's row lock.
struct LockedWrite<'a> {
    store: &'a Postgres,
    transaction: Transaction,
    room: String,
    /// The stored head and compaction point, read under the lock.
    stored: (u64, u64),
}

impl RoomWrite for LockedWrite<'_> {
    fn missed(&mut self, known: u64) -> DbResult<Missed> {
        block(
            self.store
                .missed_with(self.transaction.client(), &self.room, known, self.stored),
        )
    }

    fn commit(self: Box<Self>, batch: &CommitBatch<'_>) -> DbResult<()> {
        block(commit(self.transaction.client(), &self.room, batch))?;
        self.transaction.ended();
        Ok(())
    }

    fn release(self: Box<Self>) -> DbResult<()> {
        block(self.transaction.client().batch_execute("ROLLBACK"))?;
        self.transaction.ended();
        Ok(())
    }
}

/// Writes `batch` and ends the open transaction (one round trip per table, whatever the
/// number of changes).
async fn commit(client: &ClientWrapper, room: &str, batch: &CommitBatch<'_>) -> DbResult<()> {
    let mut positions = Vec::new();
    let mut clients = Vec::new();
    let mut seqs = Vec::new();
    let mut ops = Vec::new();
    let mut resolutions = Vec::new();
    for change in &batch.changes {
        let stored = rows::encode_change(change)?;
        positions.push(change.position as i64);
        clients.push(&*change.op.id.client);
        seqs.push(change.op.id.seq as i64);
        ops.push(stored.op);
        resolutions.push(stored.resolution);
    }
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let mut versions = Vec::new();
    let mut writers = Vec::new();
    for key in &batch.keys {
        let stored = rows::encode_key(&key.state)?;
        keys.push(key.key.as_str());
        values.push(stored.value);
        versions.push(key.state.version as i64);
        writers.push(stored.writers);
    }
    // Every statement is prepared first, then all are sent at once, COMMIT last: one
    // round trip for the whole write (the connection runs them in order).
    let (insert, upsert, watermark, head, notify) = try_join!(
        client.prepare_cached(
            "INSERT INTO srvra_changes (room, position, client, seq, op, resolution)
             SELECT $1, * FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[],
                                      $6::TEXT[])",
        ),
        client.prepare_cached(
            "INSERT INTO srvra_state (room, key, value, version, writer)
             SELECT $1, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[])
             ON CONFLICT (room, key) DO UPDATE SET value = excluded.value,
               version = excluded.version, writer = excluded.writer",
        ),
        client.prepare_cached(
            "INSERT INTO srvra_watermarks (room, client, seq)
             SELECT $1, * FROM UNNEST($2::TEXT[], $3::BIGINT[])
             ON CONFLICT (room, client) DO UPDATE
             SET seq = GREATEST(srvra_watermarks.seq, excluded.seq)",
        ),
        client.prepare_cached("UPDATE srvra_rooms SET head = $2 WHERE room = $1"),
        client.prepare_cached("SELECT pg_notify($1, $2)"),
    )?;
    let payload = listen::payload(room, batch.head);
    let new_head = batch.head as i64;
    try_join!(
        async {
            if !positions.is_empty() {
                let params: [&(dyn ToSql + Sync); 6] =
                    [&room, &positions, &clients, &seqs, &ops, &resolutions];
                client.execute(&insert, &params).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        },
        async {
            if !keys.is_empty() {
                let params: [&(dyn ToSql + Sync); 5] = [&room, &keys, &values, &versions, &writers];
                client.execute(&upsert, &params).await?;
            }
            Ok(())
        },
        async {
            if !batch.watermarks.is_empty() {
                let (writers, seqs): (Vec<&str>, Vec<i64>) = batch
                    .watermarks
                    .iter()
                    .map(|(writer, seq)| (*writer, *seq as i64))
                    .unzip();
                client
                    .execute(&watermark, &[&room, &writers, &seqs])
                    .await?;
            }
            Ok(())
        },
        async { client.execute(&head, &[&room, &new_head]).await },
        async { client.execute(&notify, &[&listen::CHANNEL, &payload]).await },
        client.batch_execute("COMMIT"),
    )?;
    Ok(())
}

impl Storage for Postgres {
    fn shared(&self) -> bool {
        true
    }

    fn load_room(&self, room: &str) -> DbResult<RoomRow> {
        block(async {
            let snapshot = Transaction::snapshot(self.client().await?).await?;
            let row = self.load_room_with(snapshot.client(), room).await?;
            snapshot.commit().await?;
            Ok(row)
        })
    }

    fn begin(&self, room: &str) -> DbResult<Box<dyn RoomWrite + '_>> {
        let write = block(async {
            let client = self.client().await?;
            let (create, lock) = try_join!(
                client.prepare_cached(
                    "INSERT INTO srvra_rooms (room, head, compacted) VALUES ($1, 0, 0)
                     ON CONFLICT (room) DO NOTHING",
                ),
                client.prepare_cached(
                    "SELECT head, compacted FROM srvra_rooms WHERE room = $1 FOR UPDATE",
                ),
            )?;
            let transaction = Transaction::on(client);
            let client = transaction.client();
            // Sent together: BEGIN, the room's row, and its lock (writers of this room, on
            // any instance, wait on it until this one commits).
            let ((), _, row) = try_join!(
                client.batch_execute("BEGIN"),
                async { client.execute(&create, &[&room]).await },
                async { client.query_one(&lock, &[&room]).await },
            )?;
            Ok::<_, DbError>(LockedWrite {
                store: self,
                transaction,
                room: room.to_owned(),
                stored: (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64),
            })
        })?;
        Ok(Box::new(write))
    }

    fn missed(&self, room: &str, known: u64) -> DbResult<Missed> {
        block(async {
            let snapshot = Transaction::snapshot(self.client().await?).await?;
            let stored = stored_position(snapshot.client(), room).await?;
            let missed = self
                .missed_with(snapshot.client(), room, known, stored)
                .await?;
            snapshot.commit().await?;
            Ok(missed)
        })
    }

    fn heads(&self, rooms: &[String]) -> DbResult<Vec<(String, u64)>> {
        block(async {
            let client = self.client().await?;
            let found = client
                .query(
                    "SELECT room, head FROM srvra_rooms WHERE room = ANY($1)",
                    &[&rooms],
                )
                .await?;
            Ok(found
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
                .collect())
        })
    }

    fn changes_between(
        &self,
        room: &str,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> DbResult<Vec<Committed>> {
        block(async {
            let client = self.client().await?;
            self.changes_with(&client, room, after, upto, limit).await
        })
    }

    fn position_of(&self, room: &str, client: &str, seq: u64) -> DbResult<Option<u64>> {
        block(async {
            let db = self.client().await?;
            let statement = db
                .prepare_cached(
                    "SELECT position FROM srvra_changes
                     WHERE room = $1 AND client = $2 AND seq = $3",
                )
                .await?;
            Ok(db
                .query_opt(&statement, &[&room, &client, &(seq as i64)])
                .await?
                .map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn claim_client(&self, client: &str, owner: Option<&str>) -> DbResult<Option<String>> {
        block(async {
            let db = self.client().await?;
            if let Some(owner) = owner {
                db.execute(
                    "INSERT INTO srvra_owners (client, owner) VALUES ($1, $2)
                     ON CONFLICT (client) DO NOTHING",
                    &[&client, &owner],
                )
                .await?;
            }
            Ok(db
                .query_opt(
                    "SELECT owner FROM srvra_owners WHERE client = $1",
                    &[&client],
                )
                .await?
                .map(|r| r.get(0)))
        })
    }

    fn compact(&self, room: &str, head: u64, retain: u64, retain_bytes: u64) -> DbResult<u64> {
        block(async {
            let mut db = self.client().await?;
            // The newest position whose change, with every newer one, is over the budget.
            let over = db
                .query_opt(
                    "SELECT position FROM (SELECT position, SUM(octet_length(op)) OVER
                       (ORDER BY position DESC) AS newer FROM srvra_changes WHERE room = $1) t
                     WHERE newer > $2 ORDER BY position DESC LIMIT 1",
                    &[&room, &(retain_bytes.min(i64::MAX as u64) as i64)],
                )
                .await?
                .map_or(0, |r| r.get::<_, i64>(0) as u64);
            let upto = head.saturating_sub(retain).max(over);
            // Deleting old positions never blocks writers (they insert newer ones); an
            // instance that still needed them reloads the room instead.
            let tx = db.transaction().await?;
            tx.execute(
                "DELETE FROM srvra_changes WHERE room = $1 AND position <= $2",
                &[&room, &(upto as i64)],
            )
            .await?;
            tx.execute(
                "UPDATE srvra_rooms SET compacted = GREATEST(compacted, $2) WHERE room = $1",
                &[&room, &(upto as i64)],
            )
            .await?;
            tx.commit().await?;
            Ok(upto)
        })
    }

    fn rooms(&self) -> DbResult<Vec<String>> {
        block(async {
            let client = self.client().await?;
            Ok(client
                .query("SELECT room FROM srvra_rooms", &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn quarantined(&self) -> u64 {
        self.quarantined.load(Ordering::Relaxed)
    }

    fn listen(&self) -> Option<mpsc::Receiver<Heard>> {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(listen::listen(
            self.config.clone(),
            tx,
            Duration::from_millis(500),
        ));
        Some(rx)
    }
}
