//! Which keys were written lately, by state generation: a reader that cached values at
//! one generation drops only the keys written since, and keeps the rest (and their
//! identity) instead of dropping everything at every write.

use std::collections::VecDeque;

/// Most writes remembered. A reader further behind than this drops everything it cached.
pub const WRITE_LOG_CAPACITY: usize = 1024;

/// The keys written after a generation, oldest first, for readers' caches.
#[derive(Debug)]
pub struct WriteLog {
    /// (generation of the write, key), in generation order.
    writes: VecDeque<(u64, Box<str>)>,
    /// Every write after this generation is in `writes`.
    complete_after: u64,
}

impl WriteLog {
    /// An empty log: readers from before `generation` know nothing of this store.
    pub fn new(generation: u64) -> Self {
        Self {
            writes: VecDeque::new(),
            complete_after: generation,
        }
    }

    /// Forgets every write: readers from before `generation` must drop everything (the
    /// store changed in a way that is not a write of one key).
    pub fn reset(&mut self, generation: u64) {
        self.writes.clear();
        self.complete_after = generation;
    }

    /// Records a write of `key` at `generation` (not below any recorded one).
    pub fn push(&mut self, generation: u64, key: &str) {
        if self.writes.len() == WRITE_LOG_CAPACITY {
            if let Some((dropped, _)) = self.writes.pop_front() {
                self.complete_after = dropped;
            }
        }
        self.writes.push_back((generation, key.into()));
    }

    /// The distinct keys written after `generation`, in no particular order; `None` when
    /// some of them are no longer known, or `generation` is older than the log: the
    /// reader drops everything.
    pub fn since(&self, generation: u64) -> Option<Vec<&str>> {
        if generation < self.complete_after {
            return None;
        }
        let first = self.writes.partition_point(|(g, _)| *g <= generation);
        let mut keys: Vec<&str> = self.writes.range(first..).map(|(_, k)| &**k).collect();
        keys.sort_unstable();
        keys.dedup();
        Some(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_learns_the_keys_written_after_its_generation() {
        let mut log = WriteLog::new(10);
        log.push(11, "a");
        log.push(12, "b");
        log.push(13, "a");
        assert_eq!(log.since(10), Some(vec!["a", "b"]));
        assert_eq!(log.since(12), Some(vec!["a"]));
        assert_eq!(log.since(13), Some(vec![]));
        assert_eq!(log.since(9), None, "older than the store");
    }

    #[test]
    fn a_reset_or_a_full_log_sends_readers_behind_it_back_to_nothing() {
        let mut log = WriteLog::new(0);
        log.push(1, "a");
        log.reset(5);
        assert_eq!(log.since(4), None);
        assert_eq!(log.since(5), Some(vec![]));
        for n in 0..=WRITE_LOG_CAPACITY as u64 {
            log.push(6 + n, "k");
        }
        assert_eq!(log.since(5), None, "the write at 6 was dropped");
        assert_eq!(log.since(6), Some(vec!["k"]));
    }
}
