//! Who hears what, in order: registrations and priorities, path subscriptions, the event
//! bus, every event's typed payload, and the queue of deliveries for the host.

pub mod event_bus;
pub mod events;
pub mod notify;
pub mod registry;
pub mod subscriptions;
