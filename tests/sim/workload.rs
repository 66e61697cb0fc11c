//! The random workload: every kind of operation, on a few shared keys, a per-client counter
//! and a shared list, plus atomic batches.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use srvra_sync::core::collection::Place;
use srvra_sync::core::model::batch::parse_entries;

use super::client::SimClient;

/// One random local change by client number `client`.
pub fn change(sim: &mut SimClient, client: usize, rng: &mut StdRng, keys: usize) {
    let key = format!("k{}", rng.random_range(0..keys));
    let choice = rng.random_range(0..112);
    if choice >= 100 {
        return collection_change(sim, client, rng, choice - 100);
    }
    let n: i64 = rng.random_range(0..1000);
    let field = ["a", "b", "c"][rng.random_range(0..3)];
    let counter = format!("n{client}");
    sim.change(|e| match choice {
        // `null` is a value, told apart from absent everywhere (tabs included).
        0..=3 => e.set_state(&key, json!(null)).is_ok(),
        4..=19 => e.set_state(&key, json!(n)).is_ok(),
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

/// One random change to the shared collection `todo` (SPEC 19): add, edit a field, move
/// or remove an item, as an app's list does.
fn collection_change(sim: &mut SimClient, client: usize, rng: &mut StdRng, choice: u32) {
    let ids: Vec<String> = sim
        .engine()
        .collection_list(COLLECTION)
        .map(|items| items.into_iter().map(|i| i.id).collect())
        .unwrap_or_default();
    let pick = |rng: &mut StdRng| ids.get(rng.random_range(0..ids.len().max(1))).cloned();
    let n: i64 = rng.random_range(0..1000);
    let (one, other) = (pick(rng), pick(rng));
    let field = ["title", "done"][rng.random_range(0..2)];
    sim.change(|e| match (choice, one, other) {
        (0..=4, _, _) | (_, None, _) => e
            .collection_add(
                COLLECTION,
                json!({ "title": format!("{client}-{n}"), "done": false }),
            )
            .is_ok(),
        (5..=7, Some(id), _) => e
            .collection_update(COLLECTION, &id, json!({ field: n }))
            .is_ok(),
        (8..=9, Some(id), Some(other)) => {
            let place = if n % 2 == 0 {
                Place::Before(other)
            } else {
                Place::After(other)
            };
            e.collection_move(COLLECTION, &id, place).is_ok()
        }
        (_, Some(id), _) => e.collection_remove(COLLECTION, &id).is_ok(),
    });
}

/// The collection the workload edits.
pub const COLLECTION: &str = "todo";

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
