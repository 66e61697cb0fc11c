//! A room's writes, committed in groups. Every message for a room joins the room's
//! waiting list, then takes the room's lock; whoever holds the lock writes everything
//! waiting, its own message and the ones that arrived meanwhile, in one transaction:
//! - each message is decided against the state the ones before it left (the order is the
//!   waiting list's, the positions follow it), and applied in memory;
//! - one commit stores them all, with one sync to disk;
//! - then each message's sender gets its `ack`, and each message is published as before.
//!
//! Nothing is acked or published before the commit. If it fails, every applied message is
//! undone, newest first, and each sender gets the error. Under load this turns one commit
//! per message (taken in turn under the room's lock, 35 % of a busy server's time) into
//! one per group; unloaded, a group is the one message.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use axum::body::Bytes;
use srvra_sync::core::model::operation::Operation;
use srvra_sync::core::protocol::{encode, Committed, ServerMessage};
use srvra_sync::core::room::session::ServerSession;
use srvra_sync::core::room::undo::Undo;
use srvra_sync::core::room::{Decided, RoomState};
use tokio::sync::oneshot;

use super::{now_ms, Published, Room, StoredLog};
use crate::metrics::{inc, inc_by, Metrics};
use crate::store::{CommitBatch, DbError, DbResult, KeyRow, RoomWrite, Storage};

/// One message waiting for its room's write, and where its answer goes.
#[derive(Debug)]
pub(super) struct Waiting {
    pub client: String,
    pub session: u64,
    pub ops: Vec<Operation>,
    pub atomic: bool,
    pub answer: oneshot::Sender<DbResult<ServerMessage>>,
}

/// A waiting message once decided and applied in memory.
struct Applied {
    client: String,
    session: u64,
    answer: oneshot::Sender<DbResult<ServerMessage>>,
    decided: Decided,
    /// Its first position.
    first: u64,
    undo: Undo,
}

impl Room {
    /// Adds a message to the room's waiting list.
    pub(super) fn wait(&self, waiting: Waiting) {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(waiting);
    }

    /// Takes every message waiting (the caller holds the room's lock).
    pub(super) fn take_waiting(&self) -> Vec<Waiting> {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Writes `group`, taken from the waiting list by the holder of the room's lock (as
    /// `state`), off the async workers: each sender gets its `ack` or the error.
    pub(super) fn write_group(
        &self,
        db: &dyn Storage,
        metrics: &Metrics,
        state: &mut RoomState,
        group: Vec<Waiting>,
        threshold: Option<usize>,
    ) {
        // Shared storage: lock the room for this write on every instance, and first take
        // what the others stored meanwhile (in order, before this group's changes).
        let write = if db.shared() {
            let begun = db.begin(&self.name).and_then(|mut write| {
                let missed = write.missed(state.head)?;
                self.take_missed(db, metrics, state, missed, threshold)?;
                Ok(write)
            });
            match begun {
                Ok(write) => Some(write),
                Err(error) => {
                    for waiting in group {
                        let _ = waiting.answer.send(Err(error.clone()));
                    }
                    return;
                }
            }
        } else {
            None
        };
        let now = now_ms();
        let applied: Vec<Applied> = group
            .into_iter()
            .map(|waiting| {
                let Waiting {
                    client,
                    session,
                    ops,
                    atomic,
                    answer,
                } = waiting;
                let decided = state.decide_message(&client, ops, atomic, now);
                let undo = state.undo_of(&client, &decided);
                let first = state.head + 1;
                state.apply(&client, &decided);
                Applied {
                    client,
                    session,
                    answer,
                    decided,
                    first,
                    undo,
                }
            })
            .collect();
        match commit(db, &self.name, write, &applied, state.head) {
            Ok(true) => inc(&metrics.room_commits),
            Ok(false) => {}
            Err(error) => {
                for message in applied.into_iter().rev() {
                    state.undo(message.undo);
                    let _ = message.answer.send(Err(error.clone()));
                }
                return;
            }
        }
        self.head.store(state.head, Ordering::Relaxed);
        for message in applied {
            self.answer(db, metrics, message, threshold);
        }
    }

    /// Counts a committed message, sends its sender the `ack` and publishes its changes.
    fn answer(
        &self,
        db: &dyn Storage,
        metrics: &Metrics,
        message: Applied,
        threshold: Option<usize>,
    ) {
        let Applied {
            session,
            answer,
            mut decided,
            first,
            ..
        } = message;
        let accepted = decided.committed.len() as u64;
        inc_by(&metrics.changes_accepted, accepted);
        inc_by(&metrics.changes_rejected, decided.rejected.len() as u64);
        for kind in &decided.conflicts {
            metrics.conflict(*kind);
        }
        inc_by(&metrics.changes_duplicate, decided.duplicates.len() as u64);
        let log = StoredLog {
            db,
            room: &self.name,
        };
        let ack = ServerSession::ack(&mut decided, &log);
        if accepted > 0 {
            let last = decided.head;
            let changes = decided.committed;
            let frame = encode(&ServerMessage::Broadcast { changes }, threshold);
            // No receiver is fine: nobody else is in the room.
            let _ = self.tx.send(Arc::new(Published {
                session,
                first,
                last,
                frame: Bytes::from(frame),
            }));
        }
        let _ = answer.send(ack);
    }
}

/// Stores what the group's messages decided in one transaction (`write` when shared
/// storage already holds the room's lock): every accepted change, each touched key's
/// final state, each sender's highest watermark, and the room's `head`. A group with
/// nothing to store releases the write; returns whether it stored anything.
fn commit(
    db: &dyn Storage,
    room: &str,
    write: Option<Box<dyn RoomWrite + '_>>,
    applied: &[Applied],
    head: u64,
) -> DbResult<bool> {
    if applied.iter().all(|message| message.decided.is_empty()) {
        if let Some(write) = write {
            write.release()?;
        }
        return Ok(false);
    }
    // Later messages' key states and watermarks replace earlier ones'.
    let mut keys = HashMap::new();
    let mut watermarks: HashMap<&str, u64> = HashMap::new();
    for message in applied {
        for (key, state) in &message.decided.keys {
            keys.insert(key.as_str(), state);
        }
        if let Some(seq) = message.decided.watermark {
            let seen = watermarks.entry(message.client.as_str()).or_default();
            *seen = (*seen).max(seq);
        }
    }
    let changes: Vec<&Committed> = applied
        .iter()
        .flat_map(|message| &message.decided.committed)
        .collect();
    let batch = CommitBatch {
        changes,
        keys: keys
            .into_iter()
            .map(|(key, state)| KeyRow {
                key: key.to_owned(),
                state: state.clone(),
            })
            .collect(),
        watermarks: watermarks.into_iter().collect(),
        head,
    };
    let write = match write {
        Some(write) => write,
        None => db.begin(room)?,
    };
    write.commit(&batch)?;
    Ok(true)
}

impl From<oneshot::error::RecvError> for DbError {
    fn from(_: oneshot::error::RecvError) -> Self {
        Self("the room's write ended without an answer".into())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use srvra_sync::core::model::operation::{OpId, OpKind, Operation};
    use srvra_sync::core::protocol::ServerMessage;
    use srvra_sync::core::room::presence::PresenceLimits;
    use srvra_sync::core::room::{RoomLimits, RoomState};

    use super::super::{Room, Sender};
    use crate::metrics::Metrics;
    use crate::store::sqlite::Sqlite;
    use crate::store::{DbResult, Storage};

    fn set(client: &str, seq: u64, key: &str, value: u64) -> Operation {
        Operation {
            id: OpId {
                client: Arc::from(client),
                seq,
            },
            key: key.into(),
            fields: Vec::new(),
            kind: OpKind::Set(Arc::new(json!(value))),
            base_version: 0,
            timestamp: 0.0,
            batch: None,
            conflict: Default::default(),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        db: Arc<Sqlite>,
        metrics: Arc<Metrics>,
        room: Arc<Room>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Sqlite::open(dir.path()).unwrap());
        let room = Room::load(&*db, "r", RoomLimits::default(), PresenceLimits::default());
        Fixture {
            path: dir.path().join("srvra-sync.db"),
            _dir: dir,
            db,
            metrics: Arc::default(),
            room: Arc::new(room.unwrap()),
        }
    }

    /// Sends `messages` (client, one change each) while the room's lock is held, so all
    /// of them wait; releases it once they do. Answers in the order sent.
    async fn submit_together(
        f: &Fixture,
        messages: &[(&str, Operation)],
    ) -> Vec<DbResult<ServerMessage>> {
        let held = f.room.state.lock().await;
        let mut tasks = Vec::new();
        for (i, (client, op)) in messages.iter().enumerate() {
            let (db, metrics, room) = (f.db.clone(), f.metrics.clone(), f.room.clone());
            let (client, op) = (client.to_string(), op.clone());
            tasks.push(tokio::spawn(async move {
                let from = Sender {
                    client: &client,
                    session: i as u64 + 1,
                };
                room.submit(&*db, &metrics, from, vec![op], false, None)
                    .await
            }));
            // In this order: each joins the waiting list before the next is sent.
            while f.room.waiting.lock().unwrap().len() <= i {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }

    fn positions(answer: &DbResult<ServerMessage>) -> Vec<u64> {
        match answer {
            Ok(ServerMessage::Ack { acks, .. }) => acks.iter().map(|(_, p)| *p).collect(),
            other => panic!("not an ack: {other:?}"),
        }
    }

    async fn stored_matches_memory(f: &Fixture) -> RoomState {
        let memory = f.room.with_state(RoomState::clone).await;
        let stored = super::super::state_of(f.db.load_room("r").unwrap(), memory.limits);
        assert_eq!(stored.head, memory.head);
        assert_eq!(stored.keys, memory.keys);
        assert_eq!(stored.watermarks, memory.watermarks);
        memory
    }

    /// Messages that wait together are stored in one commit, in the order they waited,
    /// each sender getting its own positions.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_waiting_for_the_room_are_written_in_one_commit_in_order() {
        let f = fixture();
        let answers = submit_together(
            &f,
            &[
                ("a", set("a", 1, "k", 1)),
                ("b", set("b", 1, "k", 2)),
                ("c", set("c", 1, "other", 3)),
            ],
        )
        .await;
        let got: Vec<_> = answers.iter().map(positions).collect();
        assert_eq!(got, [vec![1], vec![2], vec![3]]);
        assert_eq!(
            f.metrics
                .room_commits
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        let state = stored_matches_memory(&f).await;
        assert_eq!(state.head, 3);
        assert_eq!(state.keys["k"].value.as_deref(), Some(&json!(2)));
        assert_eq!(state.watermark("c"), 1);
    }

    /// A group whose commit fails is undone whole: every sender gets the error, memory
    /// matches what is stored, and the same changes sent again are taken as new.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_whose_commit_fails_is_undone_and_every_sender_gets_the_error() {
        let f = fixture();
        let first = submit_together(&f, &[("a", set("a", 1, "k", 1))]).await;
        assert_eq!(positions(&first[0]), [1]);
        let before = stored_matches_memory(&f).await;
        // A real storage failure: the database refuses one key's row.
        let other = rusqlite::Connection::open(&f.path).unwrap();
        other
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON state WHEN NEW.key = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            )
            .unwrap();
        let group = [
            ("a", set("a", 2, "k", 2)),
            ("d", set("d", 1, "poison", 3)),
            ("b", set("b", 1, "fresh", 4)),
        ];
        for answer in submit_together(&f, &group).await {
            let error = answer.expect_err("the group's commit failed");
            assert!(error.0.contains("refused by the test"), "{error:?}");
        }
        assert_eq!(stored_matches_memory(&f).await, before);
        other.execute_batch("DROP TRIGGER refuse").unwrap();
        let again = submit_together(&f, &group).await;
        let got: Vec<_> = again.iter().map(positions).collect();
        assert_eq!(got, [vec![2], vec![3], vec![4]]);
        assert_eq!(stored_matches_memory(&f).await.head, 4);
    }
}
