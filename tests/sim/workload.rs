//! The random workload: every kind of operation, on a few shared keys, a per-client counter
//! and a shared list, plus atomic batches.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use srvra_sync::core::model::batch::parse_entries;

use super::client::SimClient;

/// One random local change by client number `client`.
pub fn change(sim: &mut SimClient, client: usize, rng: &mut StdRng, keys: usize) {
    let key = format!("k{}", rng.random_range(0..keys));
    let choice = rng.random_range(0..100);
    let n: i64 = rng.random_range(0..1000);
    let field = ["a", "b", "c"][rng.random_range(0..3)];
    let counter = format!("n{client}");
    sim.change(|e| match choice {
        0..=19 => e.set_state(&key, json!(n)).is_ok(),
        20..=34 => e
            .set_state(&key, json!({ "a": n, "b": { "c": n % 7 }, "t": "x" }))
            .is_ok(),
        35..=44 => e.set_state(&format!("{key}.{field}"), json!(n)).is_ok(),
        45..=52 => {
            let mut partial = serde_json::Map::new();
            partial.insert(field.into(), json!(n));
            e.update_state(&key, partial).is_ok()
        }
        53..=59 => e.delete_state(&key).is_ok(),
        60..=71 => e.increment(&counter, 1.0).is_ok(),
        72..=77 => e.increment(&key, 1.0).is_ok(),
        78..=87 => e.append("list", json!(format!("{client}-{n}"))).is_ok(),
        _ => {
            let entries = json!([
                { "key": format!("{key}.b"), "value": n },
                { "key": counter, "op": "increment", "value": 1 },
                { "key": "list", "op": "append", "value": format!("{client}-batch-{n}") }
            ]);
            parse_entries(entries).is_ok_and(|d| e.batch(d).is_ok())
        }
    });
}

/// The app settles every conflict `sim` holds: keeps a new value, a number, or deletes the
/// key, at random. Returns what it did, for the event log.
pub fn resolve(sim: &mut SimClient, rng: &mut StdRng) -> Vec<String> {
    let held = sim.sync().replica().held_ids();
    let mut notes = Vec::new();
    for id in held {
        let value = match rng.random_range(0..3) {
            0 => None,
            1 => Some(json!({ "resolved": rng.random_range(0..1000) })),
            _ => Some(json!(rng.random_range(0..1000))),
        };
        notes.push(format!("resolves conflict {id} with {value:?}"));
        sim.resolve(id, value);
    }
    notes
}
