//! The local state: the sharded store, its IndexedDB record layout, LZ4 packing, the
//! counters of `getStatistics()` and the log of recent writes that readers' caches follow.

pub mod compress;
pub mod persist;
pub mod stats;
pub mod store;
pub mod write_log;
