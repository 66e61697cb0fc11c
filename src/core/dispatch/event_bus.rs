//! The event bus registry: which handler ids listen to which event type, in dispatch order.
//! Handlers themselves (functions, filters) live with the caller; the core orders them.

use std::collections::HashMap;

use crate::core::dispatch::registry::{Priority, PriorityRegistry, RegistrationId};
use crate::core::error::{CoreError, Result};

/// The event types of README "Subscribers and events".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Every applied change.
    DataChange,
    /// Once per key after a change settles.
    StateUpdated,
    /// A key's version moved.
    VersionChange,
    /// An atomic batch was applied.
    BatchComplete,
    /// A flush or catch-up finished.
    SyncComplete,
    /// A conflict was detected.
    Conflict,
    /// A conflict was settled.
    ConflictResolved,
    /// Online/offline.
    NetworkStatus,
    /// A reconnect is scheduled.
    Reconnecting,
    /// Something failed in the background (subscriber, storage, network).
    SyncError,
    /// Who else is present changed.
    Presence,
}

impl EventType {
    /// All event types.
    pub const ALL: [EventType; 11] = [
        Self::DataChange,
        Self::StateUpdated,
        Self::VersionChange,
        Self::BatchComplete,
        Self::SyncComplete,
        Self::Conflict,
        Self::ConflictResolved,
        Self::NetworkStatus,
        Self::Reconnecting,
        Self::SyncError,
        Self::Presence,
    ];

    /// The event's name as used in JS.
    pub fn name(self) -> &'static str {
        match self {
            Self::DataChange => "data-change",
            Self::StateUpdated => "state-updated",
            Self::VersionChange => "version-change",
            Self::BatchComplete => "batch-complete",
            Self::SyncComplete => "sync-complete",
            Self::Conflict => "conflict",
            Self::ConflictResolved => "conflict-resolved",
            Self::NetworkStatus => "network-status",
            Self::Reconnecting => "reconnecting",
            Self::SyncError => "sync-error",
            Self::Presence => "presence",
        }
    }

    /// Parses an event name; unknown names are a `TypeError` so typos surface at once.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                CoreError::type_error("UNKNOWN_EVENT", format!("unknown event type '{name}'"))
            })
    }
}

/// Handler ids per event type.
#[derive(Debug, Default)]
pub struct EventBus {
    handlers: HashMap<EventType, PriorityRegistry<()>>,
    type_of: HashMap<RegistrationId, EventType>,
    next_id: RegistrationId,
}

impl EventBus {
    /// Registers a handler id for `event`.
    pub fn subscribe(&mut self, event: EventType, priority: Priority) -> RegistrationId {
        self.next_id += 1;
        let id = self.next_id;
        self.handlers
            .entry(event)
            .or_default()
            .insert(id, priority, ());
        self.type_of.insert(id, event);
        id
    }

    /// Removes a handler; returns whether it existed.
    pub fn unsubscribe(&mut self, id: RegistrationId) -> bool {
        let Some(event) = self.type_of.remove(&id) else {
            return false;
        };
        let registry = self.handlers.get_mut(&event);
        let removed = registry.is_some_and(|r| r.remove(id));
        if self
            .handlers
            .get(&event)
            .is_some_and(PriorityRegistry::is_empty)
        {
            self.handlers.remove(&event);
        }
        removed
    }

    /// Whether anyone listens to `event`.
    pub fn has(&self, event: EventType) -> bool {
        self.handlers.contains_key(&event)
    }

    /// Handler ids for `event`, in dispatch order.
    pub fn handlers(&self, event: EventType) -> Vec<RegistrationId> {
        self.handlers
            .get(&event)
            .map_or_else(Vec::new, |r| r.iter().map(|h| h.id).collect())
    }

    /// Whether no handler is registered at all.
    pub fn is_empty(&self) -> bool {
        self.type_of.is_empty()
    }
}
