//! The sync loop's [`Timers`] in the browser: `gloo-timers` timeouts, owned here, so a
//! restarted or cancelled timer's callback is dropped with it.

use std::collections::HashMap;
use std::rc::Weak;

use gloo_timers::callback::Timeout;
use wasm_bindgen_futures::spawn_local;

use crate::core::sync::{Timer, Timers};
use crate::wasm::shared::{background, Shared};

/// Timeouts by kind.
pub struct BrowserTimers {
    shared: Weak<Shared>,
    running: HashMap<Timer, Timeout>,
}

impl BrowserTimers {
    /// Timers reporting to `shared`.
    pub fn new(shared: Weak<Shared>) -> Self {
        Self {
            shared,
            running: HashMap::new(),
        }
    }
}

impl Timers for BrowserTimers {
    fn start(&mut self, timer: Timer, ms: u64) {
        let shared = self.shared.clone();
        // setTimeout takes a signed 32-bit delay: anything longer would fire at once.
        let millis = u32::try_from(ms.min(i32::MAX as u64)).unwrap_or(i32::MAX as u32);
        let timeout = Timeout::new(millis, move || {
            // Run after this callback returns: the loop may restart this very timer,
            // which drops this closure.
            let shared = shared.clone();
            spawn_local(async move {
                background(&shared, |sync, engine| sync.timer(engine, timer));
            });
        });
        // Replacing drops (and so clears) the previous timeout of this kind.
        self.running.insert(timer, timeout);
    }

    fn cancel(&mut self, timer: Timer) {
        self.running.remove(&timer);
    }
}
