//! The data model: dotted paths, operations and the pure `apply`, batch entries, delta
//! encoding, per-key history, what a change may write (bounds), and a key's state.

pub mod batch;
pub mod bounds;
pub mod delta;
pub mod history;
pub mod key_state;
pub mod operation;
pub mod path;
