//! An ordered list of registrations: higher priority first, then registration order.
//! Shared by state subscribers and event-bus handlers.

use crate::core::error::{CoreError, Result};

/// Priority of a subscriber or handler: `Critical` runs first, `Low` last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Runs before everything else.
    Critical = 0,
    /// Runs before normal.
    High = 1,
    /// The default.
    Normal = 2,
    /// Runs last.
    Low = 3,
}

impl Priority {
    /// Parses `'critical' | 'high' | 'normal' | 'low'`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "critical" => Ok(Self::Critical),
            "high" => Ok(Self::High),
            "normal" => Ok(Self::Normal),
            "low" => Ok(Self::Low),
            other => Err(CoreError::type_error(
                "INVALID_PRIORITY",
                format!("priority must be 'critical', 'high', 'normal' or 'low', got '{other}'"),
            )),
        }
    }
}

/// Identifier of a registration; ids increase in registration order.
pub type RegistrationId = u32;

/// One registration with its payload.
#[derive(Debug, Clone)]
pub struct Registration<T> {
    /// The id handed to the caller.
    pub id: RegistrationId,
    /// Its priority.
    pub priority: Priority,
    /// What was registered (a path, or nothing for event handlers).
    pub item: T,
}

/// Registrations kept sorted by `(priority, id)`, so iteration is dispatch order.
#[derive(Debug, Clone)]
pub struct PriorityRegistry<T> {
    items: Vec<Registration<T>>,
}

impl<T> Default for PriorityRegistry<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T> PriorityRegistry<T> {
    /// Adds a registration. `id` must be larger than every id added before.
    pub fn insert(&mut self, id: RegistrationId, priority: Priority, item: T) {
        let at = self
            .items
            .partition_point(|r| (r.priority, r.id) <= (priority, id));
        self.items.insert(at, Registration { id, priority, item });
    }

    /// Removes a registration; returns whether it existed.
    pub fn remove(&mut self, id: RegistrationId) -> bool {
        match self.items.iter().position(|r| r.id == id) {
            Some(at) => {
                self.items.remove(at);
                true
            }
            None => false,
        }
    }

    /// Registrations in dispatch order.
    pub fn iter(&self) -> impl Iterator<Item = &Registration<T>> {
        self.items.iter()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many registrations there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}
