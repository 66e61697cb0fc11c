//! Conflict strategies and the per-path rules that choose one (SPEC section 6).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
struct Rule {
    segments: Vec<String>,
    strategy: Strategy,
    literal: usize,
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

    /// Adds a rule: `pattern` is a dotted path where `*` matches any characters inside one
    /// segment; it covers its path and everything beneath. Returns false for an empty
    /// pattern or segment.
    pub fn set(&mut self, pattern: &str, strategy: Strategy) -> bool {
        let segments: Vec<String> = pattern.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return false;
        }
        let literal = segments.iter().map(|s| s.replace('*', "").len()).sum();
        self.rules.push(Rule {
            segments,
            strategy,
            literal,
        });
        true
    }

    /// The strategy for a change at `path` (key, then fields): the most specific matching
    /// rule (more segments, then more literal characters), the latest among equals, else
    /// the default.
    pub fn for_path(&self, path: &[&str]) -> &Strategy {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| {
                rule.segments.len() <= path.len()
                    && rule
                        .segments
                        .iter()
                        .zip(path)
                        .all(|(pattern, segment)| glob(pattern, segment))
            })
            .max_by_key(|(i, rule)| (rule.segments.len(), rule.literal, *i))
            .map_or(&self.default, |(_, rule)| &rule.strategy)
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return true;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_rule_wins_and_the_latest_among_equals() {
        let mut rules = Rules::new(Strategy::LastWriteWins);
        rules.set("settings", Strategy::FirstWriteWins);
        rules.set("settings.theme", Strategy::Manual);
        rules.set("user*.profile", Strategy::SmartMerge);
        rules.set("users.profile", Strategy::Custom("mine".into()));
        rules.set("doc.*", Strategy::FirstWriteWins);
        rules.set("doc.*", Strategy::SmartMerge);
        assert_eq!(rules.for_path(&["settings"]), &Strategy::FirstWriteWins);
        assert_eq!(
            rules.for_path(&["settings", "lang"]),
            &Strategy::FirstWriteWins
        );
        assert_eq!(
            rules.for_path(&["settings", "theme", "x"]),
            &Strategy::Manual
        );
        assert_eq!(rules.for_path(&["userA", "profile"]), &Strategy::SmartMerge);
        assert_eq!(
            rules.for_path(&["users", "profile"]),
            &Strategy::Custom("mine".into())
        );
        assert_eq!(rules.for_path(&["doc", "a"]), &Strategy::SmartMerge);
        assert_eq!(rules.for_path(&["doc"]), &Strategy::LastWriteWins);
        assert_eq!(rules.for_path(&["other"]), &Strategy::LastWriteWins);
        assert!(!rules.set("a..b", Strategy::Manual));
    }

    #[test]
    fn stars_match_inside_one_segment() {
        assert!(glob("*", "anything"));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*c", "ab"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("*x", "x"));
    }
}
