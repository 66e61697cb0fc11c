//! The PostgreSQL schema, created and upgraded by the server itself: each migration runs
//! once, in order, in its own transaction, under an advisory lock so instances starting
//! together do not race.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Error;

/// Advisory lock key the migrations run under ("srvra" in ASCII).
const MIGRATION_LOCK: i64 = 0x73_72_76_72_61;

/// Every migration, in order; the schema's version is how many have run. Never edit one
/// that shipped: add the next.
const MIGRATIONS: [&str; 1] = ["
CREATE TABLE srvra_rooms (
  room TEXT PRIMARY KEY, head BIGINT NOT NULL, compacted BIGINT NOT NULL);
CREATE TABLE srvra_changes (
  room TEXT NOT NULL, position BIGINT NOT NULL, client TEXT NOT NULL, seq BIGINT NOT NULL,
  op TEXT NOT NULL, resolution TEXT, PRIMARY KEY (room, position));
CREATE UNIQUE INDEX srvra_changes_by_id ON srvra_changes (room, client, seq);
CREATE TABLE srvra_state (
  room TEXT NOT NULL, key TEXT NOT NULL, value TEXT, version BIGINT NOT NULL, writer TEXT,
  PRIMARY KEY (room, key));
CREATE TABLE srvra_watermarks (
  room TEXT NOT NULL, client TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (room, client));
CREATE TABLE srvra_owners (client TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE srvra_quarantine (
  room TEXT NOT NULL, position BIGINT NOT NULL, key TEXT NOT NULL, stored TEXT,
  reason TEXT NOT NULL, PRIMARY KEY (room, position, key));
"];

/// Brings the database's schema to the current version; returns that version.
pub async fn migrate(client: &mut ClientWrapper) -> Result<usize, Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS srvra_schema (
           version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let applied: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM srvra_schema", &[])
        .await?
        .get(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        tx.batch_execute(sql).await?;
        let version = index as i32 + 1;
        tx.execute(
            "INSERT INTO srvra_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(MIGRATIONS.len())
}
