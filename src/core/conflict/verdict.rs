//! How the server settles a change that is in conflict, by the change's strategy.
//! Deterministic strategies are decided here, once, and every client follows the
//! outcome; `manual` and custom ones (and `smart-merge` below its threshold) are reported
//! back to the author, which settles them and resubmits.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::conflict::merge::merge3;
use crate::core::conflict::{ConflictKind, Strategy};
use crate::core::model::key_state::{KeyState, Writer};
use crate::core::model::operation::{apply, value_at, OpKind, Operation};
use crate::core::model::slot::Slot;

/// `autoResolveThreshold` when a change does not carry one.
pub const DEFAULT_THRESHOLD: f64 = 0.8;

/// Which value a settled conflict kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The change applied.
    Client,
    /// The server's value stayed; the change had no effect.
    Server,
    /// The key took this merged value.
    Merged(Arc<Value>),
}

impl Outcome {
    /// `client`, `server` or `merged`, as in `conflict-resolved`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
            Self::Merged(_) => "merged",
        }
    }
}

/// A conflict the server settled, carried with the committed change (which names the
/// strategy that settled it: `op.conflict.strategy`). Kept small: every broadcast of a
/// settled change carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// The kind of conflict.
    pub kind: ConflictKind,
    /// What it kept.
    pub outcome: Outcome,
}

/// A conflict the author has to settle (sent with the change's rejection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictReport {
    /// The kind of conflict.
    pub kind: ConflictKind,
    /// The change's strategy.
    pub strategy: Strategy,
    /// Whether `smart-merge` escalated it for lack of clean fields.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalated: bool,
    /// The server's value now: the key's, or the value at the change's conflict path
    /// when the change is scoped.
    #[serde(default, skip_serializing_if = "Slot::is_absent")]
    pub value: Slot,
    /// The server's version now: the resolution is based on it.
    pub version: u64,
    /// The latest write by another client, whose clock `resolveConflict` compares with
    /// the change's (absent from older servers: the change is then taken as the later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rival: Option<Writer>,
}

/// What the server does with a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Apply it (after a conflict when a resolution is given).
    Apply(Option<Resolution>),
    /// Leave the key as it is.
    Skip(Resolution),
    /// Replace the key's value with a merge.
    Replace(Arc<Value>, Resolution),
    /// Reject it back to its author to settle.
    Report(ConflictReport),
}

/// Settles `op` against the key's `current` state.
pub fn verdict(current: &KeyState, op: &Operation) -> Verdict {
    let Some(kind) = ConflictKind::classify(current, op) else {
        return Verdict::Apply(None);
    };
    let strategy = op.conflict.strategy();
    let rival = current
        .writers
        .as_ref()
        .and_then(|w| w.latest_not_by(&op.id.client));
    let client_wins = rival.map_or(true, |w| {
        (op.conflict.clock, &*op.id.client) > (w.clock, &*w.client)
    });
    let resolution = |outcome| Resolution { kind, outcome };
    // A scoped change's conflict is about the value at its path (SPEC 19).
    let scope = op.conflict_fields();
    let server = if scope.is_empty() {
        current.value.clone()
    } else {
        Slot(value_at(current.value.as_ref(), scope).map(|v| Arc::new(v.clone())))
    };
    let report = |escalated| ConflictReport {
        kind,
        strategy: strategy.clone(),
        escalated,
        value: server.clone(),
        version: current.version,
        rival: rival.cloned(),
    };
    let by_clock = || {
        if client_wins {
            Verdict::Apply(Some(resolution(Outcome::Client)))
        } else {
            Verdict::Skip(resolution(Outcome::Server))
        }
    };
    match &strategy {
        Strategy::LastWriteWins => by_clock(),
        Strategy::FirstWriteWins => Verdict::Skip(resolution(Outcome::Server)),
        Strategy::Manual | Strategy::Custom(_) => Verdict::Report(report(false)),
        Strategy::SmartMerge => {
            let base = op.conflict.base.as_ref();
            let client = op.apply_in_scope(base).ok().flatten();
            let merged = match (base, server.as_ref(), client) {
                (Some(b), Some(s), Some(c)) => merge3(b, s, &c, client_wins),
                _ => None,
            };
            let Some(merged) = merged else {
                // Not three objects: nothing to merge field by field.
                return by_clock();
            };
            let threshold = op.conflict.threshold.unwrap_or(DEFAULT_THRESHOLD);
            if merged.clean_share() >= threshold {
                let merged = Arc::new(merged.value);
                // The key's whole value, with the merge at the change's conflict path.
                let value = if scope.is_empty() {
                    merged
                } else {
                    let set = OpKind::Set(merged);
                    match apply(current.value.as_ref(), scope, &set) {
                        Ok(Some(value)) => value,
                        _ => return by_clock(),
                    }
                };
                Verdict::Replace(Arc::clone(&value), resolution(Outcome::Merged(value)))
            } else {
                Verdict::Report(report(true))
            }
        }
    }
}
