//! Counters exported at `/metrics` in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use srvra_sync::core::room::ConflictKind;

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket sessions.
    pub connections: AtomicU64,
    /// Changes accepted and persisted.
    pub changes_accepted: AtomicU64,
    /// Changes rejected (they could not apply).
    pub changes_rejected: AtomicU64,
    /// Resent changes recognised as already applied.
    pub changes_duplicate: AtomicU64,
    /// Frames refused (malformed, oversized, unexpected).
    pub frames_rejected: AtomicU64,
    /// WebSocket upgrades refused for their `Origin`.
    pub origins_refused: AtomicU64,
    /// Broadcast messages sent to sessions.
    pub broadcasts_sent: AtomicU64,
    /// Catch-ups served from the log.
    pub catch_ups: AtomicU64,
    /// Snapshots served.
    pub snapshots: AtomicU64,
    /// Conflicts detected (a change based on an older version than the key's), by kind
    /// in the order of [`ConflictKind::ALL`].
    pub conflicts: [AtomicU64; 5],
    /// Connections, sessions and hellos refused or ended by a guard, by reason in the
    /// order of [`Refused::ALL`].
    pub refused: [AtomicU64; Refused::ALL.len()],
    /// Rooms unloaded from memory after standing idle.
    pub rooms_unloaded: AtomicU64,
    /// Presence updates accepted.
    pub presence_updates: AtomicU64,
    /// Changes other instances accepted, taken from the shared log into loaded rooms.
    pub changes_replayed: AtomicU64,
    /// Loaded rooms reloaded whole from shared storage (too far behind its log).
    pub rooms_reloaded: AtomicU64,
    /// Room writes committed: each stores every message that was waiting for the room
    /// (group commit), so a busy room counts fewer commits than messages.
    pub room_commits: AtomicU64,
}

/// Why a guard refused or ended a connection (SPEC §11), as counted in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over `--max-connections-per-ip` or `--max-connections`.
    Connections,
    /// No HTTP request within `--header-timeout`.
    HeaderTimeout,
    /// A wrong, missing or expired token, or a client id of another user.
    Unauthorized,
    /// A room the token does not grant, or a write with `read` access.
    Forbidden,
    /// Over `--auth-failures-per-minute` from one IP.
    AuthRate,
    /// Over `--messages-per-second` or `--ops-per-second`.
    MessageRate,
    /// Nothing received for `--idle-timeout`.
    Idle,
    /// A frame not taken within `--send-timeout`.
    SlowReader,
    /// `--max-rooms` rooms in use.
    Rooms,
    /// A presence state not an object, too large, or one tab too many in the room.
    Presence,
}

impl Refused {
    /// Every reason, in counter order.
    pub const ALL: [Refused; 10] = [
        Refused::Connections,
        Refused::HeaderTimeout,
        Refused::Unauthorized,
        Refused::Forbidden,
        Refused::AuthRate,
        Refused::MessageRate,
        Refused::Idle,
        Refused::SlowReader,
        Refused::Rooms,
        Refused::Presence,
    ];

    /// The `reason` label.
    pub fn name(self) -> &'static str {
        match self {
            Refused::Connections => "connections",
            Refused::HeaderTimeout => "header_timeout",
            Refused::Unauthorized => "unauthorized",
            Refused::Forbidden => "forbidden",
            Refused::AuthRate => "auth_rate",
            Refused::MessageRate => "message_rate",
            Refused::Idle => "idle",
            Refused::SlowReader => "slow_reader",
            Refused::Rooms => "rooms",
            Refused::Presence => "presence",
        }
    }
}

/// Writes one metric with its `HELP` and `TYPE` lines (Prometheus text format).
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Writes a counter family with one sample per `label` value.
fn labelled<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    samples: impl Iterator<Item = (&'a str, &'a AtomicU64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, count) in samples {
        let count = count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
    }
}

/// Adds one to a counter.
pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub fn inc_by(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 14] = [
            (
                "srvra_connections",
                "gauge",
                "Open WebSocket sessions",
                &self.connections,
            ),
            (
                "srvra_changes_accepted_total",
                "counter",
                "Changes accepted and persisted",
                &self.changes_accepted,
            ),
            (
                "srvra_changes_rejected_total",
                "counter",
                "Changes that could not apply",
                &self.changes_rejected,
            ),
            (
                "srvra_changes_duplicate_total",
                "counter",
                "Resent changes already applied",
                &self.changes_duplicate,
            ),
            (
                "srvra_frames_rejected_total",
                "counter",
                "Frames refused",
                &self.frames_rejected,
            ),
            (
                "srvra_origins_refused_total",
                "counter",
                "WebSocket upgrades refused for their Origin",
                &self.origins_refused,
            ),
            (
                "srvra_broadcasts_total",
                "counter",
                "Broadcast messages sent",
                &self.broadcasts_sent,
            ),
            (
                "srvra_catch_ups_total",
                "counter",
                "Catch-ups served from the log",
                &self.catch_ups,
            ),
            (
                "srvra_snapshots_total",
                "counter",
                "Snapshots served",
                &self.snapshots,
            ),
            (
                "srvra_room_commits_total",
                "counter",
                "Room writes committed, each with every message waiting for the room",
                &self.room_commits,
            ),
            (
                "srvra_rooms_unloaded_total",
                "counter",
                "Idle rooms unloaded from memory",
                &self.rooms_unloaded,
            ),
            (
                "srvra_presence_updates_total",
                "counter",
                "Presence updates accepted",
                &self.presence_updates,
            ),
            (
                "srvra_changes_replayed_total",
                "counter",
                "Changes other instances accepted, taken from the shared log",
                &self.changes_replayed,
            ),
            (
                "srvra_rooms_reloaded_total",
                "counter",
                "Loaded rooms reloaded from shared storage",
                &self.rooms_reloaded,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            single(&mut out, name, kind, help, value.load(Ordering::Relaxed));
        }
        labelled(
            &mut out,
            "srvra_conflicts_total",
            "Changes based on an outdated version, by conflict type",
            "type",
            ConflictKind::ALL
                .iter()
                .map(|k| k.name())
                .zip(&self.conflicts),
        );
        labelled(
            &mut out,
            "srvra_refused_total",
            "Connections, hellos and sessions refused or ended by a limit",
            "reason",
            Refused::ALL.iter().map(|r| r.name()).zip(&self.refused),
        );
        out
    }

    /// Counts one refusal for `reason`.
    pub fn refused(&self, reason: Refused) {
        inc(&self.refused[reason as usize]);
    }

    /// Counts one conflict of `kind`.
    pub fn conflict(&self, kind: ConflictKind) {
        let index = ConflictKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
        inc(&self.conflicts[index]);
    }
}
