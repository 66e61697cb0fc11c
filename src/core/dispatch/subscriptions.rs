//! State subscribers: who listens to which key or path, in dispatch order.

use std::collections::HashMap;

use crate::core::dispatch::registry::{Priority, PriorityRegistry, RegistrationId};
use crate::core::error::{CoreError, Result};
use crate::core::model::path::{glob, overlaps, Path, MAX_PATH_LEN};

/// Subscribers by key, plus the subscribers of key patterns (`'*'`: every change;
/// `'todo:*'`: the keys it matches).
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_key: HashMap<String, PriorityRegistry<Vec<String>>>,
    wildcard: PriorityRegistry<String>,
    key_of: HashMap<RegistrationId, Option<String>>,
    next_id: RegistrationId,
}

/// A subscriber that a change reaches, with the fields it subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Subscription id.
    pub id: RegistrationId,
    /// Fields below the key it watches; `None` for a `'*'` subscriber.
    pub fields: Option<Vec<String>>,
}

impl Subscriptions {
    /// Subscribes to a key, a dotted path, or a key pattern: a target with `*` and no `.`
    /// (`'*'` every key, `'todo:*'` the keys starting `todo:`; `*` matches any run of
    /// characters, SPEC 16). A collection's view subscribes to its prefix this way, so the
    /// other keys' changes do not cross into JS for it.
    pub fn subscribe(&mut self, target: &str, priority: Priority) -> Result<RegistrationId> {
        let parsed = if target.contains('*') && !target.contains('.') {
            if target.len() > MAX_PATH_LEN {
                return Err(CoreError::validation(
                    "INVALID_PATH",
                    format!("a key pattern is at most {MAX_PATH_LEN} bytes"),
                ));
            }
            None
        } else {
            Some(Path::parse(target)?)
        };
        self.next_id += 1;
        let id = self.next_id;
        match parsed {
            None => {
                self.wildcard.insert(id, priority, target.to_owned());
                self.key_of.insert(id, None);
            }
            Some(path) => {
                self.by_key
                    .entry(path.key.clone())
                    .or_default()
                    .insert(id, priority, path.fields);
                self.key_of.insert(id, Some(path.key));
            }
        }
        Ok(id)
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&mut self, id: RegistrationId) -> bool {
        match self.key_of.remove(&id) {
            Some(None) => self.wildcard.remove(id),
            Some(Some(key)) => {
                let Some(registry) = self.by_key.get_mut(&key) else {
                    return false;
                };
                let removed = registry.remove(id);
                if registry.is_empty() {
                    self.by_key.remove(&key);
                }
                removed
            }
            None => false,
        }
    }

    /// Whether a change to `key` could reach anyone (cheap pre-check).
    pub fn any_for(&self, key: &str) -> bool {
        !self.wildcard.is_empty() || self.by_key.contains_key(key)
    }

    /// Whether someone subscribed to a key pattern (`'*'` or another).
    pub fn has_wildcard(&self) -> bool {
        !self.wildcard.is_empty()
    }

    /// The keys someone subscribed to (or to a path inside).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    /// Whether there are no subscriptions at all.
    pub fn is_empty(&self) -> bool {
        self.key_of.is_empty()
    }

    /// Subscribers reached by changes to `key` at any of `changed` field paths, in dispatch
    /// order. A subscriber is reached when its path is equal to, above or below a change.
    pub fn matching(&self, key: &str, changed: &[&[String]]) -> Vec<Matched> {
        let mut reached: Vec<(Priority, RegistrationId, Option<&Vec<String>>)> = self
            .by_key
            .get(key)
            .into_iter()
            .flat_map(|r| r.iter())
            .filter(|r| changed.iter().any(|c| overlaps(c, &r.item)))
            .map(|r| (r.priority, r.id, Some(&r.item)))
            .chain(
                self.wildcard
                    .iter()
                    .filter(|r| glob(&r.item, key))
                    .map(|r| (r.priority, r.id, None)),
            )
            .collect();
        reached.sort_unstable_by_key(|(priority, id, _)| (*priority, *id));
        reached
            .into_iter()
            .map(|(_, id, fields)| Matched {
                id,
                fields: fields.cloned(),
            })
            .collect()
    }
}
