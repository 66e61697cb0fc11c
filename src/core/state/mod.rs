//! The local state: the sharded store, its IndexedDB record layout, LZ4 packing and the
//! counters of `getStatistics()`.

pub mod compress;
pub mod persist;
pub mod stats;
pub mod store;
