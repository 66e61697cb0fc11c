//! Wall-clock time behind a trait, so tests and simulations control it.

use std::cell::Cell;

/// A source of wall-clock time in ms since the Unix epoch.
pub trait Clock {
    /// Current time, ms since the epoch.
    fn now_ms(&self) -> f64;
}

/// The operating system clock (native builds).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// A clock that only moves when told to (tests, simulation).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Cell<f64>,
}

impl ManualClock {
    /// A clock reading `start` ms.
    pub fn new(start: f64) -> Self {
        Self {
            now: Cell::new(start),
        }
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: f64) {
        self.now.set(self.now.get() + ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> f64 {
        self.now.get()
    }
}
