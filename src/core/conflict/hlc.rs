//! Hybrid logical clock: wall time in ms plus a counter, packed in one `u64`
//! (`wall << 16 | counter`), with the client id as the tie-break when two stamps are equal.
//!
//! A stamp is never lower than any stamp its client has seen, so a change made after
//! seeing another change always orders after it, whatever the wall clocks say. A client
//! whose wall clock runs ahead by Δ can only win against changes made less than Δ later
//! by clients that had not yet seen its changes; the server also caps stamps at
//! [`MAX_SKEW_MS`] ahead of its own clock, which bounds Δ.

/// How far ahead of the server's clock a stamp may be; later stamps are capped to it.
pub const MAX_SKEW_MS: u64 = 60_000;

const COUNTER_BITS: u32 = 16;
const COUNTER_MAX: u64 = (1 << COUNTER_BITS) - 1;

/// One hybrid logical clock stamp (0: none).
pub type Stamp = u64;

/// The wall-time part of a stamp, in ms since the epoch.
pub fn wall(stamp: Stamp) -> u64 {
    stamp >> COUNTER_BITS
}

/// Caps `stamp` at `now_ms + MAX_SKEW_MS` (counter kept).
pub fn cap(stamp: Stamp, now_ms: f64) -> Stamp {
    let limit = now_ms.max(0.0) as u64 + MAX_SKEW_MS;
    if wall(stamp) > limit {
        (limit << COUNTER_BITS) | (stamp & COUNTER_MAX)
    } else {
        stamp
    }
}

/// A client's hybrid logical clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hlc {
    last: Stamp,
}

impl Hlc {
    /// The last stamp issued or observed.
    pub fn last(&self) -> Stamp {
        self.last
    }

    /// A new stamp for a local change at wall time `now_ms`: above every stamp so far.
    pub fn tick(&mut self, now_ms: f64) -> Stamp {
        let physical = (now_ms.max(0.0) as u64) << COUNTER_BITS;
        self.last = if physical > self.last {
            physical
        } else if self.last & COUNTER_MAX == COUNTER_MAX {
            // Counter exhausted within one ms: borrow the next ms.
            (wall(self.last) + 1) << COUNTER_BITS
        } else {
            self.last + 1
        };
        self.last
    }

    /// Takes in a stamp seen on another change, so later local stamps order after it.
    pub fn observe(&mut self, stamp: Stamp) {
        self.last = self.last.max(stamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_increase_even_when_the_wall_clock_goes_back() {
        let mut clock = Hlc::default();
        let a = clock.tick(1_000.0);
        let b = clock.tick(1_000.0);
        let c = clock.tick(900.0);
        assert!(a < b && b < c);
        assert_eq!(wall(c), 1_000);
    }

    #[test]
    fn a_change_seen_orders_before_the_next_local_one() {
        let mut skewed = Hlc::default();
        let ahead = skewed.tick(50_000.0);
        let mut honest = Hlc::default();
        honest.observe(ahead);
        assert!(honest.tick(1_000.0) > ahead);
    }

    #[test]
    fn the_server_caps_stamps_far_in_the_future() {
        let mut clock = Hlc::default();
        let future = clock.tick(10_000_000.0);
        let capped = cap(future, 1_000.0);
        assert_eq!(wall(capped), 1_000 + MAX_SKEW_MS);
        assert_eq!(cap(capped, 1_000.0), capped);
    }
}
