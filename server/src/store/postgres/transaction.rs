//! A pooled connection running a transaction. Dropped before the transaction ends (an
//! error on the way), the connection is closed rather than pooled inside it; the database
//! rolls it back.
//!
//! Reads that must see one committed state of a room without holding its lock (its head
//! with its keys and watermarks, or its head with the log up to it) run in a
//! [`Transaction::snapshot`]. Read one statement at a time instead, a commit by another
//! instance in between gave keys newer than the head read with them, and replaying the
//! log from that head applied those changes twice.

use deadpool_postgres::Object;

use super::super::DbResult;

/// A connection inside a transaction (see the module doc).
pub(super) struct Transaction {
    client: Option<Object>,
}

impl Transaction {
    /// `client`, about to run a transaction its caller begins.
    pub(super) fn on(client: Object) -> Self {
        Self {
            client: Some(client),
        }
    }

    /// A `REPEATABLE READ` transaction on `client`: every statement sees the database as
    /// of the first one.
    pub(super) async fn snapshot(client: Object) -> DbResult<Self> {
        let transaction = Self::on(client);
        transaction
            .client()
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await?;
        Ok(transaction)
    }

    /// The connection, to run statements on.
    pub(super) fn client(&self) -> &Object {
        self.client
            .as_ref()
            .expect("a transaction's connection is taken only when it ends or drops")
    }

    /// Commits, then pools the connection.
    pub(super) async fn commit(self) -> DbResult<()> {
        self.client().batch_execute("COMMIT").await?;
        self.ended();
        Ok(())
    }

    /// The caller's own statements ended the transaction: the connection is pooled.
    pub(super) fn ended(mut self) {
        self.client = None;
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}
