//! Conflict strategies and the per-path rules that choose one (README "Conflicts").

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::error::CoreError;
use crate::core::model::path::glob;

/// How a conflict on a key is settled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// The later change by hybrid logical clock wins; ties by client id. Decided by the server.
    LastWriteWins,
    /// The value already on the server stays. Decided by the server.
    FirstWriteWins,
    /// Three-way merge field by field, escalated to `manual` below the threshold.
    SmartMerge,
    /// The author's `conflict` event settles it with `resolve(value)`.
    Manual,
    /// A strategy registered in JS by this name; runs on the author like `manual`.
    Custom(String),
}

impl Strategy {
    /// Parses a strategy name; any name other than the four built-in ones is a custom one.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "" => return None,
            "last-write-wins" => Self::LastWriteWins,
            "first-write-wins" => Self::FirstWriteWins,
            "smart-merge" => Self::SmartMerge,
            "manual" => Self::Manual,
            other => Self::Custom(other.to_owned()),
        })
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        match self {
            Self::LastWriteWins => "last-write-wins",
            Self::FirstWriteWins => "first-write-wins",
            Self::SmartMerge => "smart-merge",
            Self::Manual => "manual",
            Self::Custom(name) => name,
        }
    }

    /// Whether the author settles conflicts itself (the server only reports them).
    pub fn on_client(&self) -> bool {
        matches!(self, Self::Manual | Self::Custom(_))
    }

    /// Whether the server needs the value the change was based on.
    pub fn needs_base(&self) -> bool {
        !matches!(self, Self::LastWriteWins | Self::FirstWriteWins)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Strategy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Strategy::parse(&name).ok_or_else(|| serde::de::Error::custom("empty strategy name"))
    }
}

/// One `setMergeRule(pattern, strategy)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    segments: Vec<String>,
    strategy: Strategy,
    literal: usize,
}

impl Rule {
    /// Checks and parses a rule: `pattern` is a dotted path where `*` matches any
    /// characters inside one segment (no empty segment); `strategy` a strategy name.
    pub fn parse(pattern: &str, strategy: &str) -> Result<Self, CoreError> {
        let strategy = Strategy::parse(strategy).ok_or_else(|| {
            CoreError::validation("INVALID_STRATEGY", "a strategy name must not be empty")
        })?;
        let segments: Vec<String> = pattern.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(CoreError::validation(
                "INVALID_PATTERN",
                format!("'{pattern}' is not a dotted path pattern"),
            ));
        }
        let literal = segments.iter().map(|s| s.replace('*', "").len()).sum();
        Ok(Self {
            segments,
            strategy,
            literal,
        })
    }
}

/// The default strategy plus the rules set on top of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    default: Strategy,
    rules: Vec<Rule>,
}

impl Default for Rules {
    fn default() -> Self {
        Self::new(Strategy::LastWriteWins)
    }
}

impl Rules {
    /// Rules with `default` for every path.
    pub fn new(default: Strategy) -> Self {
        Self {
            default,
            rules: Vec::new(),
        }
    }

    /// Adds a rule on top of the earlier ones; it covers its path and everything beneath.
    pub fn add(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// The strategy for a change at `key` and `fields`: the most specific matching rule
    /// (more segments, then more literal characters), the latest among equals, else the
    /// default.
    pub fn for_path(&self, key: &str, fields: &[String]) -> &Strategy {
        self.scoped(key, fields).strategy
    }

    /// The strategy for a change at `key` and `fields` (as [`Rules::for_path`]) and the
    /// path its conflicts are scoped to (SPEC 19): a matching rule's own path, else the
    /// change's path. A rule on the key itself scopes to the whole key.
    pub fn scoped(&self, key: &str, fields: &[String]) -> Scoped<'_> {
        let path = || std::iter::once(key).chain(fields.iter().map(String::as_str));
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| {
                rule.segments.len() <= 1 + fields.len()
                    && rule
                        .segments
                        .iter()
                        .zip(path())
                        .all(|(pattern, segment)| glob(pattern, segment))
            })
            .max_by_key(|(i, rule)| (rule.segments.len(), rule.literal, *i))
            .map_or(
                Scoped {
                    strategy: &self.default,
                    depth: fields.len(),
                },
                |(_, rule)| Scoped {
                    strategy: &rule.strategy,
                    depth: rule.segments.len() - 1,
                },
            )
    }
}

/// What [`Rules::scoped`] chose for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scoped<'a> {
    /// The strategy.
    pub strategy: &'a Strategy,
    /// How many of the change's fields name the path its conflict is about (0: the key).
    pub depth: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_rule_wins_and_the_latest_among_equals() {
        let mut rules = Rules::new(Strategy::LastWriteWins);
        for (pattern, strategy) in [
            ("settings", "first-write-wins"),
            ("settings.theme", "manual"),
            ("user*.profile", "smart-merge"),
            ("users.profile", "mine"),
            ("doc.*", "first-write-wins"),
            ("doc.*", "smart-merge"),
        ] {
            rules.add(Rule::parse(pattern, strategy).unwrap());
        }
        let at = |path: &str| {
            let mut parts = path.split('.').map(str::to_owned);
            let key = parts.next().unwrap();
            let fields: Vec<String> = parts.collect();
            rules.for_path(&key, &fields).clone()
        };
        assert_eq!(at("settings"), Strategy::FirstWriteWins);
        assert_eq!(at("settings.lang"), Strategy::FirstWriteWins);
        assert_eq!(at("settings.theme.x"), Strategy::Manual);
        assert_eq!(at("userA.profile"), Strategy::SmartMerge);
        assert_eq!(at("users.profile"), Strategy::Custom("mine".into()));
        assert_eq!(at("doc.a"), Strategy::SmartMerge);
        assert_eq!(at("doc"), Strategy::LastWriteWins);
        assert_eq!(at("other"), Strategy::LastWriteWins);
        assert_eq!(
            Rule::parse("a..b", "manual").unwrap_err().code,
            "INVALID_PATTERN"
        );
        assert_eq!(Rule::parse("a", "").unwrap_err().code, "INVALID_STRATEGY");
    }
}
