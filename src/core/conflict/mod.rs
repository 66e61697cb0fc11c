//! Conflicts (README "Conflicts"): detection, the hybrid logical clock, strategies and the
//! per-path rules that choose them, the three-way merge, and how the server settles a
//! conflicting change. Pure: the server and the client loop both use it.

pub mod choose;
pub mod hlc;
pub mod kind;
pub mod merge;
pub mod strategy;
pub mod verdict;

pub use choose::Choice;
pub use hlc::{Hlc, Stamp};
pub use kind::ConflictKind;
pub use strategy::{Rule, Rules, Scoped, Strategy};
pub use verdict::{verdict, ConflictReport, Outcome, Resolution, Verdict};
