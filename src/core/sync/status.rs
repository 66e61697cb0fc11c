//! `sync.status` and the event each change of it raises.

/// The connection status of README "Subscribers and events".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not started (or local-only).
    Initial,
    /// Connecting, catching up, or sending changes.
    Syncing,
    /// Caught up with the server and nothing left to send.
    Synced,
    /// Catch-up is arriving in parts: the state is partly caught up.
    PartialSync,
    /// `retryAttempts` consecutive attempts failed, or the server refused the client.
    Error,
    /// The browser is offline (or the instance is closed).
    Offline,
    /// Waiting to reconnect.
    Reconnecting,
}

impl Status {
    /// The name `sync.status` returns.
    pub fn name(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Syncing => "syncing",
            Self::Synced => "synced",
            Self::PartialSync => "partial-sync",
            Self::Error => "error",
            Self::Offline => "offline",
            Self::Reconnecting => "reconnecting",
        }
    }

    /// What `network-status` reports for this status (`reconnecting` raises the
    /// `reconnecting` event instead).
    pub fn network(self) -> &'static str {
        match self {
            Self::Syncing | Self::Synced | Self::PartialSync => "online",
            _ => "offline",
        }
    }
}
