//! Reads that must see one committed state of a room without holding its lock: its head
//! with its keys and watermarks, or its head with the log up to it. They run in a
//! `REPEATABLE READ` transaction, whose statements all see the database as of its first
//! one. Read one statement at a time instead, a commit by another instance in between
//! gave keys newer than the head read with them, and replaying the log from that head
//! applied those changes twice.

use deadpool_postgres::Object;

use super::super::DbResult;

/// A pooled connection inside a read transaction; dropped before [`Snapshot::end`] (an
/// error on the way), the connection is closed rather than pooled inside the transaction.
pub(super) struct Snapshot {
    client: Option<Object>,
}

impl Snapshot {
    /// Opens the transaction on `client`.
    pub(super) async fn begin(client: Object) -> DbResult<Self> {
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await?;
        Ok(Self {
            client: Some(client),
        })
    }

    /// The connection, to read through.
    pub(super) fn client(&self) -> &Object {
        self.client
            .as_ref()
            .expect("a snapshot's connection is taken only by end or drop")
    }

    /// Ends the transaction and pools the connection, then returns what was `read`.
    pub(super) async fn end<T>(mut self, read: DbResult<T>) -> DbResult<T> {
        let value = read?;
        self.client().batch_execute("COMMIT").await?;
        self.client = None;
        Ok(value)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}
