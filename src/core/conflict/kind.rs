//! The kinds of conflict of README "Conflicts", and when a change is in one.

use serde::{Deserialize, Serialize};

use crate::core::model::key_state::KeyState;
use crate::core::model::operation::{value_at, OpKind, Operation};
use crate::core::model::path::type_name;

/// How a change based on an outdated version relates to what the server holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Both sides changed the value.
    ModifyModify,
    /// The server deleted what the change modifies.
    DeleteModify,
    /// The change deletes what the server changed.
    ModifyDelete,
    /// Both sides created the key.
    AddAdd,
    /// The change replaces the server's value with one of another type.
    TypeChange,
}

impl ConflictKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ConflictKind; 5] = [
        Self::ModifyModify,
        Self::DeleteModify,
        Self::ModifyDelete,
        Self::AddAdd,
        Self::TypeChange,
    ];

    /// The name used in events and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::ModifyModify => "modify-modify",
            Self::DeleteModify => "delete-modify",
            Self::ModifyDelete => "modify-delete",
            Self::AddAdd => "add-add",
            Self::TypeChange => "type-change",
        }
    }

    /// The conflict `op` is in with the key's `current` state, if any: another client
    /// wrote a version newer than the one the change was based on (a client's own later
    /// changes build on its earlier ones). `increment` and `append` commute and never
    /// conflict. A key without recorded writers counts every newer version.
    pub fn classify(current: &KeyState, op: &Operation) -> Option<Self> {
        let missed = match &current.writers {
            Some(writers) => writers
                .latest_not_by(&op.id.client)
                .is_some_and(|w| w.version > op.base_version),
            None => current.version > op.base_version,
        };
        if !missed || matches!(op.kind, OpKind::Increment(_) | OpKind::Append(_)) {
            return None;
        }
        if op.conflict.scope > 0 {
            return Self::classify_scoped(current, op);
        }
        let server = value_at(current.value.as_ref(), &op.fields);
        Some(match (&op.kind, server) {
            (OpKind::Delete, _) => Self::ModifyDelete,
            (_, None) if current.value.is_none() => Self::DeleteModify,
            _ if op.base_version == 0 => Self::AddAdd,
            (OpKind::Set(value), Some(server)) if type_name(value) != type_name(server) => {
                Self::TypeChange
            }
            _ => Self::ModifyModify,
        })
    }

    /// A change scoped to a path inside its key (SPEC 19): in conflict only when the
    /// value at that path is no longer the one the author saw (`op.conflict.base`), so
    /// that concurrent changes of other paths of the key merge.
    fn classify_scoped(current: &KeyState, op: &Operation) -> Option<Self> {
        let scope = op.conflict_fields();
        let server = value_at(current.value.as_ref(), scope);
        let base = op.conflict.base.as_deref();
        if server == base {
            return None;
        }
        let at_change = value_at(current.value.as_ref(), &op.fields);
        Some(match (&op.kind, server, base) {
            (OpKind::Delete, _, _) => Self::ModifyDelete,
            (_, None, _) => Self::DeleteModify,
            (_, Some(_), None) => Self::AddAdd,
            (OpKind::Set(value), _, _)
                if at_change.is_some_and(|s| type_name(value) != type_name(s)) =>
            {
                Self::TypeChange
            }
            _ => Self::ModifyModify,
        })
    }
}
