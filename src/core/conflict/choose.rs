//! `conflictResolver.resolveConflict({ strategy, ...conflict })` (SPEC §6): settles a
//! conflict held for the app with a named choice instead of a value of its own. Custom
//! strategies run in JS; this decides the built-in ones, the way the server would have.

use std::sync::Arc;

use serde_json::Value;

use crate::core::conflict::merge::merge3;
use crate::core::conflict::Strategy;
use crate::core::error::{CoreError, Result};

/// A built-in way to settle a held conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Keep this client's value (`'mine'`).
    Mine,
    /// Keep the server's value (`'theirs'`).
    Theirs,
    /// The later write by hybrid logical clock (`'last-write-wins'`).
    LastWriteWins,
    /// The value already on the server (`'first-write-wins'`).
    FirstWriteWins,
    /// Three-way merge of objects, fields changed on both sides by clock (`'smart-merge'`,
    /// whatever the threshold: the app asked for the merge).
    SmartMerge,
}

impl Choice {
    /// Names `resolveConflict` accepts besides registered custom strategies.
    pub const NAMES: [&'static str; 5] = [
        "mine",
        "theirs",
        "last-write-wins",
        "first-write-wins",
        "smart-merge",
    ];

    /// The built-in choice called `name`: `Ok(None)` for any other name (a custom
    /// strategy, which JS runs), an error for `manual` (which settles with a value).
    pub fn parse(name: &str) -> Result<Option<Self>> {
        Ok(Some(match name {
            "mine" => Self::Mine,
            "theirs" => Self::Theirs,
            _ => {
                match Strategy::parse(name) {
                    Some(Strategy::LastWriteWins) => Self::LastWriteWins,
                    Some(Strategy::FirstWriteWins) => Self::FirstWriteWins,
                    Some(Strategy::SmartMerge) => Self::SmartMerge,
                    Some(Strategy::Manual) => return Err(CoreError::type_error(
                        "INVALID_STRATEGY",
                        "'manual' has no rule to apply: call the conflict's resolve(value) instead",
                    )),
                    Some(Strategy::Custom(_)) | None => return Ok(None),
                }
            }
        }))
    }

    /// The value the key takes (`None`: deleted). `client_wins` is the clock order of
    /// this client's change against the server's rival write.
    pub fn value(
        self,
        base: Option<&Arc<Value>>,
        server: Option<&Arc<Value>>,
        client: Option<&Arc<Value>>,
        client_wins: bool,
    ) -> Option<Arc<Value>> {
        let by_clock = || if client_wins { client } else { server }.cloned();
        match self {
            Self::Mine => client.cloned(),
            Self::Theirs | Self::FirstWriteWins => server.cloned(),
            Self::LastWriteWins => by_clock(),
            Self::SmartMerge => match (base, server, client) {
                (Some(b), Some(s), Some(c)) => merge3(b, s, c, client_wins)
                    .map(|merged| Arc::new(merged.value))
                    .or_else(by_clock),
                _ => by_clock(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(value: Value) -> Option<Arc<Value>> {
        Some(Arc::new(value))
    }

    #[test]
    fn names_parse_to_choices_custom_ones_to_none_and_manual_is_refused() {
        for name in Choice::NAMES {
            assert!(Choice::parse(name).unwrap().is_some(), "{name}");
        }
        assert_eq!(Choice::parse("preference-merge").unwrap(), None);
        assert_eq!(
            Choice::parse("manual").unwrap_err().code,
            "INVALID_STRATEGY"
        );
    }

    #[test]
    fn each_choice_keeps_the_side_it_names() {
        let (base, server, client) = (
            v(json!({"a": 1, "b": 1})),
            v(json!({"a": 2, "b": 1})),
            v(json!({"a": 1, "b": 3})),
        );
        let pick = |c: Choice, wins| c.value(base.as_ref(), server.as_ref(), client.as_ref(), wins);
        assert_eq!(pick(Choice::Mine, false), client);
        assert_eq!(pick(Choice::Theirs, true), server);
        assert_eq!(pick(Choice::FirstWriteWins, true), server);
        assert_eq!(pick(Choice::LastWriteWins, true), client);
        assert_eq!(pick(Choice::LastWriteWins, false), server);
        assert_eq!(pick(Choice::SmartMerge, false), v(json!({"a": 2, "b": 3})));
        // Not objects: the clock decides.
        let scalar =
            Choice::SmartMerge.value(None, v(json!(1)).as_ref(), v(json!(2)).as_ref(), true);
        assert_eq!(scalar, v(json!(2)));
        // A deleted side stays deleted when it wins.
        assert_eq!(
            Choice::Mine.value(base.as_ref(), server.as_ref(), None, true),
            None
        );
    }
}
