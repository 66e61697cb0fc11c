//! `new SrvraDataSync(config)`: parsing and validation. Every problem names its field.

use serde_json::{Map, Value};

use crate::core::error::{CoreError, Result};

/// Reconnect backoff settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// First delay, ms.
    pub initial_delay: u64,
    /// Cap, ms.
    pub max_delay: u64,
    /// Growth per attempt (>= 1).
    pub factor: f64,
    /// Randomise delays.
    pub jitter: bool,
}

/// Payload compression settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Compression {
    /// Whether to compress.
    pub enabled: bool,
    /// Payloads at or over this many bytes are compressed.
    pub threshold: u64,
}

/// Local persistence settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Offline {
    /// Keep state and outbox in IndexedDB.
    pub enabled: bool,
    /// IndexedDB database name.
    pub db_name: String,
    /// Where there is no IndexedDB: keep working in memory (`true`, `fallback:
    /// 'memory'`), or reject `ready` with `STORAGE_UNAVAILABLE` (`'error'`, the default).
    pub memory_fallback: bool,
}

/// The validated configuration (README "Configuration"). `token` stays on the JS side.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Server URLs (`ws://` or `wss://`) in the order they are tried; empty for local-only.
    /// `url` may be one URL or an array (instances of one server): on a failure the client
    /// moves to the next.
    pub urls: Vec<String>,
    /// Room (state namespace on the server).
    pub room: String,
    /// Fixed client id, or `None` to generate and persist one.
    pub client_id: Option<String>,
    /// ms between full reconciliation checks.
    pub sync_interval: u64,
    /// Failed attempts before status `error`.
    pub retry_attempts: u64,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// ms between pings.
    pub heartbeat_interval: u64,
    /// ms to wait for a pong.
    pub heartbeat_timeout: u64,
    /// Max operations per outgoing message.
    pub batch_size: u64,
    /// Send only changed leaves of objects.
    pub enable_delta_updates: bool,
    /// History entries kept per key.
    pub history_size: u64,
    /// Keep history (and allow rollback).
    pub enable_versioning: bool,
    /// Default conflict strategy name.
    pub merge_strategy: String,
    /// Share of cleanly merged fields for smart-merge to auto-resolve.
    pub auto_resolve_threshold: f64,
    /// Compression.
    pub compression: Compression,
    /// IndexedDB persistence.
    pub offline: Offline,
    /// Encrypt what is stored in IndexedDB (AES-256-GCM; the key stays on the JS side).
    pub encryption: bool,
    /// Presence updates go out at most once per this many ms (`presence.throttle`).
    pub presence_throttle: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            room: "default".into(),
            client_id: None,
            sync_interval: 30_000,
            retry_attempts: 3,
            backoff: Backoff {
                initial_delay: 250,
                max_delay: 30_000,
                factor: 2.0,
                jitter: true,
            },
            heartbeat_interval: 15_000,
            heartbeat_timeout: 10_000,
            batch_size: 100,
            enable_delta_updates: true,
            history_size: 50,
            enable_versioning: true,
            merge_strategy: "last-write-wins".into(),
            auto_resolve_threshold: 0.8,
            compression: Compression {
                enabled: true,
                threshold: 1024,
            },
            offline: Offline {
                enabled: true,
                db_name: "srvra-sync".into(),
                memory_fallback: false,
            },
            encryption: false,
            presence_throttle: 50,
        }
    }
}

/// Reads fields of one config object, remembering which were seen.
struct Fields<'a> {
    prefix: &'static str,
    map: &'a Map<String, Value>,
}

fn bad(field: &str, expected: &str, got: &Value) -> CoreError {
    CoreError::type_error(
        "INVALID_CONFIG",
        format!("config.{field} must be {expected}, got {}", short(got)),
    )
}

/// `mergeStrategy` names a built-in strategy: no custom one can be registered before the
/// instance exists, and a conflict must never wait on a strategy that does not exist
/// (SPEC 19; `'last-writer-wins'` once passed and held every conflict forever). A custom
/// default is `conflictResolver.setMergeRule('*', name)` after registering it.
fn built_in_strategy(name: String) -> Result<String> {
    const BUILT_IN: [&str; 4] = [
        "last-write-wins",
        "first-write-wins",
        "smart-merge",
        "manual",
    ];
    if BUILT_IN.contains(&name.as_str()) {
        return Ok(name);
    }
    Err(CoreError::type_error(
        "INVALID_STRATEGY",
        format!(
            "config.mergeStrategy must be one of {}, got '{name}' (a custom strategy is \
             registered with conflictResolver.registerCustomStrategy, then named in \
             setMergeRule('*', name))",
            BUILT_IN.join(", ")
        ),
    ))
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 40 {
        format!(
            "{}...",
            &text[..text.char_indices().nth(37).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}

impl<'a> Fields<'a> {
    fn new(prefix: &'static str, value: &'a Value, allowed: &[&str]) -> Result<Self> {
        let Value::Object(map) = value else {
            let name = if prefix.is_empty() { "config" } else { prefix };
            return Err(CoreError::type_error(
                "INVALID_CONFIG",
                format!("{name} must be an object"),
            ));
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(CoreError::type_error(
                "INVALID_CONFIG",
                format!("config.{}{unknown} is not a known option", dot(prefix)),
            ));
        }
        Ok(Self { prefix, map })
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", dot(self.prefix))
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field)
    }

    fn uint(&self, field: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(bad(
                    &self.name(field),
                    &format!("an integer from {min} to {max}"),
                    v,
                )),
            },
        }
    }

    /// A number within `range`; `expected` describes the range for the error message
    /// (kept as text so the wasm build carries no float formatting).
    fn float(&self, field: &str, default: f64, range: (f64, f64), expected: &str) -> Result<f64> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(n) if (range.0..=range.1).contains(&n) => Ok(n),
                _ => Err(bad(&self.name(field), expected, v)),
            },
        }
    }

    fn boolean(&self, field: &str, default: bool) -> Result<bool> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(bad(&self.name(field), "a boolean", v)),
        }
    }

    fn string(&self, field: &str, default: &str) -> Result<String> {
        match self.get(field) {
            None => Ok(default.to_owned()),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Ok(s.clone()),
            Some(v) => Err(bad(
                &self.name(field),
                "a non-empty string of at most 256 bytes",
                v,
            )),
        }
    }

    fn optional_string(&self, field: &str) -> Result<Option<String>> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.string(field, "").map(Some),
        }
    }
}

/// `url`: absent or `null` (local only), one `ws://`/`wss://` URL, or a non-empty array of
/// them.
fn parse_urls(value: Option<&Value>) -> Result<Vec<String>> {
    let expected = "a ws:// or wss:// URL, or a non-empty array of them";
    let one = |value: &Value| match value {
        Value::String(url) if url.starts_with("ws://") || url.starts_with("wss://") => {
            Ok(url.clone())
        }
        other => Err(bad("url", expected, other)),
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if !items.is_empty() => items.iter().map(one).collect(),
        Some(Value::Array(_)) => Err(bad("url", expected, &Value::Array(Vec::new()))),
        Some(other) => one(other).map(|url| vec![url]),
    }
}

fn dot(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}.")
    }
}

const TOP: &[&str] = &[
    "url",
    "presence",
    "room",
    "clientId",
    "syncInterval",
    "retryAttempts",
    "backoff",
    "heartbeatInterval",
    "heartbeatTimeout",
    "batchSize",
    "enableDeltaUpdates",
    "historySize",
    "enableVersioning",
    "mergeStrategy",
    "autoResolveThreshold",
    "compression",
    "offline",
    "encryption",
];

const DAY_MS: u64 = 86_400_000;

impl Config {
    /// Parses a config object (JSON, without `token`). Missing fields take the documented defaults (README "Configuration").
    pub fn parse(value: &Value) -> Result<Self> {
        let d = Config::default();
        let top = Fields::new("", value, TOP)?;
        let urls = parse_urls(top.get("url"))?;
        let backoff = match top.get("backoff") {
            None => d.backoff.clone(),
            Some(v) => {
                let f = Fields::new(
                    "backoff",
                    v,
                    &["initialDelay", "maxDelay", "factor", "jitter"],
                )?;
                let initial_delay = f.uint("initialDelay", d.backoff.initial_delay, 0, DAY_MS)?;
                let max_delay = f.uint("maxDelay", d.backoff.max_delay, 0, DAY_MS)?;
                if max_delay < initial_delay {
                    return Err(bad(
                        "backoff.maxDelay",
                        "at least backoff.initialDelay",
                        &Value::from(max_delay),
                    ));
                }
                Backoff {
                    initial_delay,
                    max_delay,
                    factor: f.float(
                        "factor",
                        d.backoff.factor,
                        (1.0, 100.0),
                        "a number from 1 to 100",
                    )?,
                    jitter: f.boolean("jitter", d.backoff.jitter)?,
                }
            }
        };
        let compression = match top.get("compression") {
            None => d.compression.clone(),
            Some(v) => {
                let f = Fields::new("compression", v, &["enabled", "threshold"])?;
                Compression {
                    enabled: f.boolean("enabled", true)?,
                    threshold: f.uint("threshold", d.compression.threshold, 0, u32::MAX.into())?,
                }
            }
        };
        let offline = match top.get("offline") {
            None => d.offline.clone(),
            Some(v) => {
                let f = Fields::new("offline", v, &["enabled", "dbName", "fallback"])?;
                let fallback = f.string("fallback", "error")?;
                let memory_fallback = match fallback.as_str() {
                    "error" => false,
                    "memory" => true,
                    _ => {
                        let got = Value::String(fallback);
                        return Err(bad("offline.fallback", "'error' or 'memory'", &got));
                    }
                };
                Offline {
                    enabled: f.boolean("enabled", true)?,
                    db_name: f.string("dbName", &d.offline.db_name)?,
                    memory_fallback,
                }
            }
        };
        let encryption = match top.get("encryption") {
            None => d.encryption,
            Some(v) => {
                let f = Fields::new("encryption", v, &["enabled", "algorithm"])?;
                let algorithm = f.string("algorithm", "AES-256-GCM")?;
                if algorithm != "AES-256-GCM" {
                    return Err(bad(
                        "encryption.algorithm",
                        "'AES-256-GCM' (the only one supported)",
                        &Value::String(algorithm),
                    ));
                }
                f.boolean("enabled", false)?
            }
        };
        let presence_throttle = match top.get("presence") {
            None => d.presence_throttle,
            Some(v) => Fields::new("presence", v, &["throttle"])?.uint(
                "throttle",
                d.presence_throttle,
                0,
                60_000,
            )?,
        };
        Ok(Config {
            urls,
            presence_throttle,
            room: top.string("room", &d.room)?,
            client_id: top.optional_string("clientId")?,
            sync_interval: top.uint("syncInterval", d.sync_interval, 1, DAY_MS)?,
            retry_attempts: top.uint("retryAttempts", d.retry_attempts, 0, 1_000_000)?,
            backoff,
            heartbeat_interval: top.uint("heartbeatInterval", d.heartbeat_interval, 1, DAY_MS)?,
            heartbeat_timeout: top.uint("heartbeatTimeout", d.heartbeat_timeout, 1, DAY_MS)?,
            batch_size: top.uint("batchSize", d.batch_size, 1, 10_000)?,
            enable_delta_updates: top.boolean("enableDeltaUpdates", d.enable_delta_updates)?,
            history_size: top.uint("historySize", d.history_size, 0, 10_000)?,
            enable_versioning: top.boolean("enableVersioning", d.enable_versioning)?,
            merge_strategy: built_in_strategy(top.string("mergeStrategy", &d.merge_strategy)?)?,
            auto_resolve_threshold: top.float(
                "autoResolveThreshold",
                d.auto_resolve_threshold,
                (0.0, 1.0),
                "a number from 0 to 1",
            )?,
            compression,
            offline,
            encryption,
        })
    }

    /// Whether a server is configured.
    pub fn networked(&self) -> bool {
        !self.urls.is_empty()
    }

    /// History entries to keep per key (0 when versioning is off).
    pub fn effective_history(&self) -> usize {
        if self.enable_versioning {
            self.history_size as usize
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;
    use serde_json::json;

    #[test]
    fn offline_fallback_is_error_or_memory() {
        let parse = |fallback: &str| Config::parse(&json!({ "offline": { "fallback": fallback } }));
        assert!(!parse("error").unwrap().offline.memory_fallback);
        assert!(parse("memory").unwrap().offline.memory_fallback);
        assert!(!Config::default().offline.memory_fallback);
        assert_eq!(parse("disk").unwrap_err().code, "INVALID_CONFIG");
    }

    #[test]
    fn merge_strategy_names_a_built_in_strategy() {
        for name in [
            "last-write-wins",
            "first-write-wins",
            "smart-merge",
            "manual",
        ] {
            let config = Config::parse(&json!({ "mergeStrategy": name })).unwrap();
            assert_eq!(config.merge_strategy, name);
        }
        // Issue 27: a typo passed and every conflict then waited forever.
        for typo in ["last-writer-wins", "manuel", "my-custom"] {
            let error = Config::parse(&json!({ "mergeStrategy": typo })).unwrap_err();
            assert_eq!(error.code, "INVALID_STRATEGY", "{typo}");
            assert!(
                error.message.contains("config.mergeStrategy"),
                "{}",
                error.message
            );
        }
    }
}
