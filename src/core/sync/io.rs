//! The I/O the sync loop needs, as small traits. Every call returns at once; results come
//! back as calls into [`crate::core::sync::SyncClient`] (`opened`, `received`, `closed`,
//! `timer`). Outbox work is taken with `SyncClient::take_work` and stored by the
//! host together with the state ([`crate::core::instance::Instance`]), which then reports
//! `durable`.

/// A message socket to the server.
pub trait Transport {
    /// Opens connection `id` to `url`. The host reports `opened(id, token)` or
    /// `closed(id, code, reason)`.
    fn open(&mut self, id: u64, url: &str);
    /// Sends one binary frame on the open connection.
    fn send(&mut self, frame: Vec<u8>);
    /// Closes the connection, if any; the loop no longer listens to it.
    fn close(&mut self, code: u16, reason: &str);
}

/// The loop's timers; starting a timer that runs replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Next reconnect attempt.
    Retry,
    /// Next ping.
    Heartbeat,
    /// A pong is overdue.
    HeartbeatTimeout,
    /// The connection has lasted long enough to reset the backoff.
    Stable,
    /// Periodic reconciliation while connected (`syncInterval`).
    Reconcile,
    /// The presence throttle period ended.
    Presence,
}

/// One-shot timers. The host reports `timer(kind)` when one fires.
pub trait Timers {
    /// Starts (or restarts) `timer` to fire after `ms`.
    fn start(&mut self, timer: Timer, ms: u64);
    /// Stops `timer` if it runs.
    fn cancel(&mut self, timer: Timer);
}

/// The I/O a [`crate::core::sync::SyncClient`] drives.
pub struct Io {
    /// The socket.
    pub transport: Box<dyn Transport>,
    /// The timers.
    pub timers: Box<dyn Timers>,
    /// Numbers in `[0, 1)` for backoff jitter.
    pub random: Box<dyn FnMut() -> f64>,
}
