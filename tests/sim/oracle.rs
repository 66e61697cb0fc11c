//! An independent replay of the server's log: every change applied in order as its
//! recorded resolution says, and every decision checked against its strategy's rule
//! (README "Conflicts"), written out here again rather than calling the core's `settle`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use srvra_sync::core::conflict::{Outcome, Strategy};
use srvra_sync::core::model::operation::{apply, OpKind};
use srvra_sync::core::protocol::Committed;

#[derive(Default)]
struct Key {
    value: Option<Arc<Value>>,
    version: u64,
    /// Per client: the version and clock of its latest write.
    writes: BTreeMap<Arc<str>, (u64, u64)>,
}

/// Replays `log`; returns key -> (value, version) for live keys, or the first decision
/// that breaks its rule.
pub fn replay(log: &[Committed]) -> Result<BTreeMap<String, (Value, u64)>, String> {
    let mut keys: BTreeMap<String, Key> = BTreeMap::new();
    let mut clocks: BTreeMap<Arc<str>, u64> = BTreeMap::new();
    for c in log {
        let op = &c.op;
        let at = format!("position {} ({:?})", c.position, op.id);
        let previous = clocks.insert(Arc::clone(&op.id.client), op.conflict.clock);
        if previous.is_some_and(|p| p >= op.conflict.clock) {
            return Err(format!("{at}: clock did not increase for its client"));
        }
        let key = keys.entry(op.key.clone()).or_default();
        let commutes = matches!(op.kind, OpKind::Increment(_) | OpKind::Append(_));
        // The latest write by another client, as (version, clock, client).
        let rival = key
            .writes
            .iter()
            .filter(|(client, _)| **client != op.id.client)
            .map(|(client, (version, clock))| (*version, *clock, Arc::clone(client)))
            .max();
        // A change scoped to a path inside its key (SPEC 19) conflicts only when the value
        // there is no longer the one its author saw.
        let scope = &op.fields[..op.conflict.scope.min(op.fields.len())];
        let at_scope = |v: Option<&Value>| {
            scope
                .iter()
                .try_fold(v?, |node, field| match node {
                    Value::Object(map) => map.get(field),
                    Value::Array(items) => items.get(field.parse::<usize>().ok()?),
                    _ => None,
                })
                .cloned()
        };
        let changed_there = scope.is_empty()
            || at_scope(key.value.as_deref()) != op.conflict.base.as_deref().cloned();
        let conflict =
            !commutes && changed_there && rival.as_ref().is_some_and(|r| r.0 > op.base_version);
        if conflict != c.resolution.is_some() {
            return Err(format!(
                "{at}: conflict expected {conflict}, resolution {:?}",
                c.resolution
            ));
        }
        let client_wins = rival.as_ref().map_or(true, |(_, clock, w)| {
            (op.conflict.clock, &op.id.client) > (*clock, w)
        });
        let strategy = op
            .conflict
            .strategy
            .clone()
            .unwrap_or(Strategy::LastWriteWins);
        let outcome = c.resolution.as_ref().map(|r| &r.outcome);
        if let Some(resolution) = &c.resolution {
            let by_clock = if client_wins { "client" } else { "server" };
            let fits = match (&strategy, &resolution.outcome) {
                (Strategy::LastWriteWins, o) => o.name() == by_clock,
                (Strategy::FirstWriteWins, o) => *o == Outcome::Server,
                (Strategy::SmartMerge, Outcome::Merged(merged)) => {
                    let base = op.conflict.base.as_deref();
                    let mine = apply(
                        op.conflict.base.as_ref(),
                        &op.fields[scope.len()..],
                        &op.kind,
                    )
                    .map_err(|e| format!("{at}: {e}"))?;
                    let server = at_scope(key.value.as_deref());
                    let merged = at_scope(Some(merged)).unwrap_or(Value::Null);
                    one_sided_fields_kept(base, server.as_ref(), mine.as_deref(), &merged)
                }
                // Nothing to merge field by field: last-write-wins.
                (Strategy::SmartMerge, o) => o.name() == by_clock,
                (Strategy::Manual | Strategy::Custom(_), _) => false,
            };
            if !fits {
                return Err(format!(
                    "{at}: {strategy} settled as {:?}",
                    resolution.outcome
                ));
            }
        }
        match outcome {
            Some(Outcome::Server) => continue,
            Some(Outcome::Merged(value)) => key.value = Some(Arc::clone(value)),
            _ => {
                key.value = apply(key.value.as_ref(), &op.fields, &op.kind)
                    .map_err(|e| format!("{at}: does not apply on replay: {e}"))?;
            }
        }
        key.version += 1;
        let version = key.version;
        key.writes
            .insert(Arc::clone(&op.id.client), (version, op.conflict.clock));
    }
    Ok(keys
        .into_iter()
        .filter_map(|(k, key)| key.value.map(|v| (k, ((*v).clone(), key.version))))
        .collect())
}

/// Whether `merged` took every top-level field that only one side changed from `base`.
fn one_sided_fields_kept(
    base: Option<&Value>,
    server: Option<&Value>,
    client: Option<&Value>,
    merged: &Value,
) -> bool {
    let field = |v: Option<&Value>, f: &str| v.and_then(|v| v.get(f)).cloned();
    let names: Vec<String> = [base, server, client, Some(merged)]
        .iter()
        .filter_map(|v| v.and_then(Value::as_object))
        .flat_map(|o| o.keys().cloned())
        .collect();
    names.iter().all(|f| {
        let (b, s, c, m) = (
            field(base, f),
            field(server, f),
            field(client, f),
            field(Some(merged), f),
        );
        if s == b {
            m == c
        } else if c == b {
            m == s
        } else {
            true
        }
    })
}
