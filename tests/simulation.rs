//! Deterministic simulation: N real client sync loops and the real room decisions in one
//! process, under a seeded schedule of network faults, partitions, offline periods, client
//! crashes, server restarts and compaction, with a random workload of every operation.
//! After each run: every client holds the server's state; no durable change is lost; no
//! change is applied twice; each client's changes keep their order; and the server's state
//! is its accepted changes applied in order (last-write-wins by arrival).
//!
//! `SIM_SEEDS` (default 1000) sets how many seeds run, `SIM_OPS` (default 200) the changes
//! per run; `SIM_SEED=n` replays one seed with its event log.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use sim::world::{Plan, World};
use srvra_sync::core::operation::apply;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs one seed; `Err` describes the first broken property.
fn run_seed(seed: u64, ops: usize) -> Result<(), String> {
    let plan = Plan {
        clients: 2 + (seed % 3) as usize,
        ops,
        keys: 4,
    };
    let mut world = World::new(seed, &plan);
    world.run()?;
    check(&world)
}

fn check(world: &World) -> Result<(), String> {
    let server = world.server_state();
    // The server's state is its accepted changes applied in order.
    let mut replayed: BTreeMap<String, (Option<Arc<Value>>, u64)> = BTreeMap::new();
    for c in &world.server.all_committed {
        let entry = replayed.entry(c.op.key.clone()).or_insert((None, 0));
        entry.0 = apply(entry.0.as_ref(), &c.op.fields, &c.op.kind)
            .map_err(|e| format!("an accepted change does not apply on replay: {e}"))?;
        entry.1 += 1;
    }
    let replayed: BTreeMap<String, (Value, u64)> = replayed
        .into_iter()
        .filter_map(|(k, (v, n))| v.map(|v| (k, ((*v).clone(), n))))
        .collect();
    if replayed != server {
        return Err(format!(
            "server state is not its log replayed:\n{replayed:?}\n{server:?}"
        ));
    }
    // No change applied twice; each client's changes in order.
    let mut seen = HashSet::new();
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &world.server.all_committed {
        if !seen.insert(c.op.id.clone()) {
            return Err(format!("change {:?} was applied twice", c.op.id));
        }
        let previous = last.insert(&c.op.id.client, c.op.id.seq).unwrap_or(0);
        if c.op.id.seq <= previous {
            return Err(format!(
                "change {:?} applied after seq {previous} of the same client",
                c.op.id
            ));
        }
    }
    // No durable change lost.
    let rejected: HashSet<_> = world.server.all_rejected.iter().cloned().collect();
    for id in world.made() {
        if !seen.contains(&id) && !rejected.contains(&id) {
            return Err(format!("durable change {id:?} never reached the server"));
        }
    }
    // Every client converged on the server's state.
    for client in &world.clients {
        let state = client.state();
        if state != server {
            return Err(format!(
                "{} diverged:\nclient {state:?}\nserver {server:?}",
                client.name
            ));
        }
    }
    Ok(())
}

#[test]
fn every_seed_converges_without_loss_or_duplicates() {
    let ops = env("SIM_OPS", 200) as usize;
    if let Ok(seed) = std::env::var("SIM_SEED") {
        let seed: u64 = seed.parse().expect("SIM_SEED is a number");
        let plan = Plan {
            clients: 2 + (seed % 3) as usize,
            ops,
            keys: 4,
        };
        let mut world = World::new(seed, &plan);
        let result = world.run().and_then(|()| check(&world));
        for line in &world.log {
            println!("{line}");
        }
        result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        return;
    }
    let seeds = env("SIM_SEEDS", 1000);
    let first = env("SIM_FIRST_SEED", 1);
    for seed in first..first + seeds {
        if let Err(error) = run_seed(seed, ops) {
            panic!(
                "simulation failed for seed {seed}: {error}\nreplay: SIM_SEED={seed} SIM_OPS={ops} cargo test --test simulation -- --nocapture"
            );
        }
    }
}
