//! Counters reported by `sync.getStatistics()`.

use serde::Serialize;

/// Running counters. Network fields stay at zero for a local-only instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Operations applied, any origin.
    pub operations: u64,
    /// Operations made by this client.
    pub local_operations: u64,
    /// Operations received from the server.
    pub remote_operations: u64,
    /// Atomic batches applied.
    pub batches: u64,
    /// Rollbacks performed.
    pub rollbacks: u64,
    /// Conflicts detected on this client's changes.
    pub conflicts: u64,
    /// Conflicts settled (by the server's strategy or by the app).
    pub conflicts_resolved: u64,
    /// Conflicts waiting for the app's `resolve(value)`.
    pub conflicts_pending: u64,
    /// Bytes sent to the server.
    pub bytes_sent: u64,
    /// Bytes received from the server.
    pub bytes_received: u64,
    /// Compressed size / raw size of compressed payloads, storage included (1 when nothing
    /// was compressed).
    pub compression_ratio: f64,
    /// Changes waiting for the server's acknowledgement.
    pub outbox_length: u64,
    /// Reconnects performed.
    pub reconnects: u64,
    /// Last ping round-trip time in ms, if any.
    pub last_round_trip_ms: Option<f64>,
    /// Keys holding a value.
    pub keys: u64,
    /// This tab's part among the tabs sharing the client: `leader`, `follower`, or
    /// `alone` (no sharing: no storage, or no Web Locks).
    pub tab: &'static str,
    /// Subscriber callbacks that threw.
    pub subscriber_errors: u64,
    /// Writes to local storage completed.
    pub storage_writes: u64,
    /// Local storage: `ok` (IndexedDB), or `unavailable` (this instance keeps everything
    /// in memory: `offline.enabled: false`, or no IndexedDB with `fallback: 'memory'`).
    pub storage: &'static str,
    /// The server URL the client connects to now (`null` without a server, and in a
    /// follower tab, whose leader connects).
    pub url: Option<String>,
}

/// Bytes before and after compression, for `compressionRatio`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompressionTotals {
    raw: u64,
    packed: u64,
}

impl CompressionTotals {
    /// Records one compressed payload.
    pub fn add(&mut self, raw: usize, packed: usize) {
        self.raw += raw as u64;
        self.packed += packed as u64;
    }

    /// Compressed size / raw size; 1 when nothing was compressed.
    pub fn ratio(&self) -> f64 {
        if self.raw == 0 {
            1.0
        } else {
            self.packed as f64 / self.raw as f64
        }
    }
}
