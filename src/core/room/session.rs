//! A server's side of one connection, without I/O: it checks `hello`, says `welcome`, cuts
//! a catch-up into parts (from the room's log, or a snapshot once the log was compacted),
//! answers `changes` with an `ack`, and decides which of the room's publications reach the
//! connection. The reference server runs it over SQLite and a WebSocket; the simulation
//! runs the same code over memory.

use crate::core::model::bounds::value_size;
use crate::core::model::operation::{OpId, OpKind, Operation};
use crate::core::protocol::message::SnapshotEntry;
use crate::core::protocol::{close, Committed, FrameError, ServerMessage, PROTOCOL_VERSION};
use crate::core::room::{Decided, RoomState};

/// Read access to a room's stored log.
pub trait RoomLog {
    /// What reading can fail with.
    type Error;
    /// Up to `limit` changes with positions in `(after, upto]`, in order.
    fn changes_between(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<Committed>, Self::Error>;
    /// The position of an applied change (0 when the log no longer holds it).
    fn position_of(&self, id: &OpId) -> Result<u64, Self::Error>;
}

/// Whether a `hello` may speak for its client id (issue 29: without JWT, anyone who saw
/// an id in presence could say `hello` with it, skip its sequences, and have the owner's
/// next writes acknowledged and dropped). An id belongs to the first owner it was claimed
/// by: its JWT user, or else the secret its SDK generated with the id (stored as a hash).
/// `stored` is the owner the server holds for the id after claiming it for `presented`.
pub fn check_owner(stored: Option<&str>, presented: Option<&str>) -> Result<(), Refusal> {
    match (stored, presented) {
        (None, _) => Ok(()),
        (Some(stored), Some(presented)) if stored == presented => Ok(()),
        (Some(_), Some(_)) => Err(Refusal::new(
            "FORBIDDEN",
            "this client id belongs to another client or user (its secret or token differs): \
             use the storage it was created with, or another clientId",
            close::FORBIDDEN,
        )),
        (Some(_), None) => Err(Refusal::new(
            "FORBIDDEN",
            "this client id is bound to a secret and this hello carries none",
            close::FORBIDDEN,
        )),
    }
}

/// Why the server ends a session: the `error` message's code and text, and the close code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable error code.
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
    /// WebSocket close code.
    pub close: u16,
}

impl Refusal {
    /// A refusal with `code`, `message` and close code `close`.
    pub fn new(code: &'static str, message: impl Into<String>, close: u16) -> Self {
        Self {
            code,
            message: message.into(),
            close,
        }
    }
}

impl From<FrameError> for Refusal {
    fn from(error: FrameError) -> Self {
        Self::new(error.code(), error.message(), error.close_code())
    }
}

/// What the server allows on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Most operations in one `changes` message.
    pub max_ops: usize,
    /// Largest frame the server accepts.
    pub max_frame: usize,
    /// Most changes per `catch-up` part (and entries per `snapshot` part).
    pub chunk: usize,
    /// A part ends once its changes or entries reach this many bytes (as JSON, at least
    /// one per part), so no part is larger than a client can take or the server holds.
    pub part_bytes: usize,
}

/// What to do with a publication of the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Already covered (or this connection's own changes, answered by their ack).
    Skip,
    /// Send it.
    Send,
    /// Positions are missing before it: catch up from the log instead.
    CatchUp,
}

/// One connection's state.
#[derive(Debug, Clone)]
pub struct ServerSession {
    limits: SessionLimits,
    client: Option<String>,
    /// Position up to which the client has everything: other clients' changes sent, its
    /// own acknowledged. Advances only in position order.
    sent: u64,
}

impl ServerSession {
    /// A connection that has not said `hello` yet.
    pub fn new(limits: SessionLimits) -> Self {
        Self {
            limits,
            client: None,
            sent: 0,
        }
    }

    /// The client, once `hello` was accepted.
    pub fn client(&self) -> Option<&str> {
        self.client.as_deref()
    }

    /// The position up to which the client has everything.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Checks a `hello` (once per connection; the protocol version; non-empty ids of at
    /// most 256 bytes without NUL characters). The caller checks credentials.
    pub fn hello(&mut self, protocol: u32, client_id: &str, room: &str) -> Result<(), Refusal> {
        if self.client.is_some() {
            return Err(Refusal::new(
                "HELLO_REQUIRED",
                "hello may be sent only once",
                close::HELLO_REQUIRED,
            ));
        }
        if protocol != u32::from(PROTOCOL_VERSION) {
            return Err(FrameError::UnsupportedVersion(protocol.min(255) as u8).into());
        }
        for (what, value) in [("clientId", client_id), ("room", room)] {
            if value.is_empty() || value.len() > 256 || value.contains('\0') {
                return Err(Refusal::new(
                    "MALFORMED_FRAME",
                    format!("{what} must be 1 to 256 bytes, without NUL characters"),
                    close::MALFORMED,
                ));
            }
        }
        self.client = Some(client_id.to_owned());
        Ok(())
    }

    /// The `welcome` for the accepted `hello`, in room `room` whose state is `state`.
    pub fn welcome(&self, room: &str, state: &RoomState) -> ServerMessage {
        let client = self.client.clone().unwrap_or_default();
        ServerMessage::Welcome {
            protocol: u32::from(PROTOCOL_VERSION),
            acknowledged: state.watermark(&client),
            client_id: client,
            room: room.to_owned(),
            position: state.head,
            max_ops: self.limits.max_ops as u64,
            max_frame: self.limits.max_frame as u64,
        }
    }

    /// Whether a catch-up from `position` needs a snapshot: the client `asked` for one
    /// (its confirmed state diverged), the log no longer holds what follows `position`,
    /// or the client claims a position the room never reached.
    pub fn needs_snapshot(position: u64, state: &RoomState, asked: bool) -> bool {
        asked || position < state.compacted || position > state.head
    }

    /// A catch-up from the log, from `position` to the room's `head`.
    pub fn catch_up_from_log(&mut self, position: u64, head: u64) -> CatchUp {
        // Later changes arrive as publications, which start after `head`.
        self.sent = head;
        CatchUp::new(
            Source::Log {
                after: position,
                head,
            },
            &self.limits,
        )
    }

    /// A catch-up by snapshot: every key at `head`.
    pub fn catch_up_by_snapshot(&mut self, head: u64, entries: Vec<SnapshotEntry>) -> CatchUp {
        self.sent = head;
        CatchUp::new(
            Source::Snapshot {
                head,
                entries: entries.into_iter(),
            },
            &self.limits,
        )
    }

    /// Checks a `changes` message against the limits before it is decided.
    pub fn check_changes(&self, ops: &[Operation]) -> Result<(), Refusal> {
        if self.client.is_none() {
            return Err(Refusal::new(
                "HELLO_REQUIRED",
                "the first message must be hello",
                close::HELLO_REQUIRED,
            ));
        }
        let max = self.limits.max_ops;
        if ops.len() > max {
            let message = format!(
                "{} operations in one message; the limit is {max}",
                ops.len()
            );
            return Err(Refusal::new("TOO_MANY_OPS", message, close::TOO_MANY_OPS));
        }
        Ok(())
    }

    /// The `ack` of a decided message: accepted changes with their positions, changes
    /// applied before answered with theirs (0 once compacted), resolutions and rejections.
    /// Takes the rejections and duplicates out of `decided`; its committed changes stay
    /// for the broadcast.
    pub fn ack<L: RoomLog>(decided: &mut Decided, log: &L) -> Result<ServerMessage, L::Error> {
        let mut acks = decided.acks();
        for id in std::mem::take(&mut decided.duplicates) {
            let position = log.position_of(&id)?;
            acks.push((id, position));
        }
        Ok(ServerMessage::Ack {
            acks,
            resolved: decided.resolved(),
            rejected: std::mem::take(&mut decided.rejected),
        })
    }

    /// What to do with the room's publication of positions `first..=last`, sent by this
    /// connection when `own`. `Send` and `Skip` of a new publication move `sent` on.
    pub fn forward(&mut self, first: u64, last: u64, own: bool) -> Forward {
        if last <= self.sent {
            return Forward::Skip;
        }
        if first > self.sent + 1 {
            return Forward::CatchUp;
        }
        self.sent = last;
        if own {
            Forward::Skip
        } else {
            Forward::Send
        }
    }
}

/// A catch-up being sent, part by part; the last part is marked `done`. Each part holds
/// at most `chunk` changes or entries, ending once they reach `part_bytes`.
#[derive(Debug)]
pub struct CatchUp {
    /// What is sent.
    source: Source,
    /// Most changes or entries per part.
    chunk: usize,
    /// Bytes after which a part ends (at least one change or entry per part).
    part_bytes: usize,
    /// Whether the last part was produced.
    done: bool,
    /// The log lacked a position it should hold (a change set aside as unreadable).
    fell_short: bool,
}

/// What a catch-up sends.
#[derive(Debug)]
enum Source {
    /// Changes from the log, after position `after` up to `head`.
    Log { after: u64, head: u64 },
    /// A snapshot of every key at `head`: the entries not sent yet.
    Snapshot {
        head: u64,
        entries: std::vec::IntoIter<SnapshotEntry>,
    },
}

impl CatchUp {
    fn new(source: Source, limits: &SessionLimits) -> Self {
        Self {
            source,
            chunk: limits.chunk.max(1),
            part_bytes: limits.part_bytes,
            done: false,
            fell_short: false,
        }
    }

    /// Whether the log could not serve every position after the client's: the parts so far
    /// end without `done`, and the catch-up must go on as a snapshot (a client cannot
    /// apply changes past a hole in the order).
    pub fn fell_short(&self) -> bool {
        self.fell_short
    }

    /// The next part, or `None` after the last (or when the log [fell short](Self::fell_short)).
    pub fn next_part<L: RoomLog>(&mut self, log: &L) -> Result<Option<ServerMessage>, L::Error> {
        if self.done || self.fell_short {
            return Ok(None);
        }
        let (chunk, budget) = (self.chunk, self.part_bytes);
        let part = match &mut self.source {
            Source::Log { after, head } => {
                let mut changes = if *after < *head {
                    log.changes_between(*after, *head, chunk)?
                } else {
                    Vec::new()
                };
                // Only the run that continues the order is sent.
                let first = *after + 1;
                let run = changes
                    .iter()
                    .zip(first..)
                    .take_while(|(c, position)| c.position == *position)
                    .count();
                if run == 0 && *after < *head {
                    self.fell_short = true;
                    return Ok(None);
                }
                changes.truncate(run);
                // What does not fit is read again for the next part.
                changes.truncate(fitting(changes.iter().map(|c| op_size(&c.op)), budget));
                *after = changes.last().map_or(*head, |c| c.position);
                self.done = *after >= *head;
                ServerMessage::CatchUp {
                    changes,
                    done: self.done,
                }
            }
            Source::Snapshot { head, entries } => {
                let sizes = entries.as_slice().iter().take(chunk).map(entry_size);
                let fit = fitting(sizes, budget);
                let part = entries.by_ref().take(fit).collect();
                self.done = entries.len() == 0;
                ServerMessage::Snapshot {
                    position: *head,
                    entries: part,
                    done: self.done,
                }
            }
        };
        Ok(Some(part))
    }
}

/// A snapshot entry's size as JSON text, near enough to cut parts by.
fn entry_size(entry: &SnapshotEntry) -> usize {
    entry.key.len() + entry.value.as_deref().map_or(0, value_size)
}

/// How many of the leading items of these sizes fit in `budget` bytes (at least one).
fn fitting(sizes: impl Iterator<Item = usize>, budget: usize) -> usize {
    let mut total = 0;
    let mut count = 0;
    for size in sizes {
        if count > 0 && total + size > budget {
            break;
        }
        total += size;
        count += 1;
    }
    count
}

/// A change's size as JSON text, near enough to cut parts by.
fn op_size(op: &Operation) -> usize {
    let fields: usize = op.fields.iter().map(|f| f.len() + 3).sum();
    let value = match &op.kind {
        OpKind::Set(value) => value_size(value),
        OpKind::Append(value) => value_size(value),
        OpKind::Merge(map) => map.iter().map(|(k, v)| k.len() + 4 + value_size(v)).sum(),
        OpKind::Patch(entries) => entries
            .iter()
            .map(|e| {
                e.path.iter().map(|p| p.len() + 3).sum::<usize>()
                    + e.value.as_deref().map_or(0, value_size)
            })
            .sum(),
        OpKind::Delete | OpKind::Increment(_) => 8,
    };
    // Id, clock, versions and field names around it.
    128 + op.key.len() + fields + value
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol version this build speaks, as a hello carries it.
    const V: u32 = PROTOCOL_VERSION as u32;

    const LIMITS: SessionLimits = SessionLimits {
        max_ops: 2,
        max_frame: 1024,
        chunk: 2,
        part_bytes: 1024,
    };

    struct Empty;

    impl RoomLog for Empty {
        type Error = ();
        fn changes_between(&self, _: u64, _: u64, _: usize) -> Result<Vec<Committed>, ()> {
            Ok(Vec::new())
        }
        fn position_of(&self, _: &OpId) -> Result<u64, ()> {
            Ok(0)
        }
    }

    #[test]
    fn hello_is_checked_once_and_changes_need_it() {
        let mut session = ServerSession::new(LIMITS);
        assert_eq!(
            session.check_changes(&[]).unwrap_err().code,
            "HELLO_REQUIRED"
        );
        assert_eq!(
            session.hello(99, "c", "r").unwrap_err().close,
            close::UNSUPPORTED_PROTOCOL
        );
        assert_eq!(
            session.hello(V, "", "r").unwrap_err().code,
            "MALFORMED_FRAME"
        );
        session.hello(V, "c", "r").unwrap();
        assert_eq!(
            session.hello(V, "c", "r").unwrap_err().code,
            "HELLO_REQUIRED"
        );
        assert_eq!(session.client(), Some("c"));
    }

    #[test]
    fn publications_are_forwarded_in_order_and_gaps_catch_up() {
        let mut session = ServerSession::new(LIMITS);
        session.catch_up_from_log(0, 10);
        assert_eq!(session.forward(5, 10, false), Forward::Skip, "covered");
        assert_eq!(session.forward(11, 12, true), Forward::Skip, "own: acked");
        assert_eq!(session.sent(), 12);
        assert_eq!(
            session.forward(15, 16, false),
            Forward::CatchUp,
            "13-14 missing"
        );
        assert_eq!(session.forward(13, 14, false), Forward::Send);
        assert_eq!(session.sent(), 14);
    }

    #[test]
    fn an_empty_catch_up_is_one_part_marked_done() {
        let mut session = ServerSession::new(LIMITS);
        let mut parts = session.catch_up_by_snapshot(7, Vec::new());
        let first = parts.next_part(&Empty).unwrap();
        assert!(matches!(
            first,
            Some(ServerMessage::Snapshot {
                done: true,
                position: 7,
                ..
            })
        ));
        assert!(parts.next_part(&Empty).unwrap().is_none());
        let mut parts = session.catch_up_from_log(7, 7);
        let first = parts.next_part(&Empty).unwrap();
        assert!(matches!(
            first,
            Some(ServerMessage::CatchUp { done: true, .. })
        ));
        assert!(parts.next_part(&Empty).unwrap().is_none());
    }

    /// A log holding `positions` (each a set of key `k`).
    struct Holes(Vec<u64>);

    impl RoomLog for Holes {
        type Error = ();
        fn changes_between(
            &self,
            after: u64,
            upto: u64,
            limit: usize,
        ) -> Result<Vec<Committed>, ()> {
            Ok(self
                .0
                .iter()
                .filter(|p| **p > after && **p <= upto)
                .take(limit)
                .map(|&position| Committed {
                    position,
                    op: Operation {
                        id: OpId {
                            client: "c".into(),
                            seq: position,
                        },
                        key: "k".into(),
                        fields: vec![],
                        kind: OpKind::Delete,
                        base_version: 0,
                        timestamp: 0.0,
                        batch: None,
                        conflict: Default::default(),
                    },
                    resolution: None,
                })
                .collect())
        }
        fn position_of(&self, _: &OpId) -> Result<u64, ()> {
            Ok(0)
        }
    }

    #[test]
    fn a_log_with_a_hole_serves_the_run_before_it_then_falls_short() {
        let mut session = ServerSession::new(LIMITS);
        session.hello(V, "c", "r").unwrap();
        let log = Holes(vec![1, 2, 4]);
        let mut parts = session.catch_up_from_log(0, 4);
        let Some(ServerMessage::CatchUp { changes, done }) = parts.next_part(&log).unwrap() else {
            panic!("a catch-up part");
        };
        assert_eq!(
            changes.iter().map(|c| c.position).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(!done);
        assert!(!parts.fell_short());
        assert_eq!(parts.next_part(&log).unwrap(), None);
        assert!(
            parts.fell_short(),
            "position 3 is missing: the rest must be a snapshot"
        );
        // A log without holes never falls short.
        let mut whole = session.catch_up_from_log(0, 4);
        let complete = Holes(vec![1, 2, 3, 4]);
        while whole.next_part(&complete).unwrap().is_some() {}
        assert!(!whole.fell_short());
    }
}
