//! The data model: dotted paths, operations and the pure `apply`, batch entries, delta
//! encoding, per-key history, what a change may write (bounds), a key's state, and the
//! value-or-absent slot they share.

pub mod batch;
pub mod bounds;
pub mod delta;
pub mod history;
pub mod json;
pub mod key_state;
pub mod operation;
pub mod path;
pub mod slot;
