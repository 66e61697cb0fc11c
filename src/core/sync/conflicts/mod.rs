//! The client's side of conflicts, in one place: `conflict` and `conflict-resolved`
//! events, the conflict history and counters (book.rs), conflicts held for the app to
//! settle (`manual`, custom, escalated `smart-merge`), stored with the key's base so they
//! survive a reload (held.rs: the replica's part), and the loop's API for rules,
//! `resolve(value)` and `resolveConflict` (api.rs).

mod api;
mod book;
mod held;

pub use held::Settled;

pub use book::{at_path, unknown_conflict, BaseRecord, ConflictBook, Held, Seen, HISTORY_LIMIT};
