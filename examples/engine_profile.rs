//! Native timing of the engine's hot paths (no JS boundary):
//! `cargo run --release --example engine_profile`.
use std::time::Instant;

use serde_json::json;
use srvra_sync::core::clock::SystemClock;
use srvra_sync::core::config::Config;
use srvra_sync::core::Engine;

fn main() {
    let n = 100_000;
    let keys: Vec<String> = (0..n).map(|i| format!("key{i}")).collect();
    let texts: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"n":{i},"s":"v{i}"}}"#))
        .collect();
    let mut engine = Engine::new(Config::default(), "c", Box::new(SystemClock));
    engine.skip_restore();
    let start = Instant::now();
    for (key, text) in keys.iter().zip(&texts) {
        let value = serde_json::from_str(text).unwrap();
        engine.set_state(key, value).unwrap();
    }
    report("parse + setState, distinct keys", n, start);
    let start = Instant::now();
    for text in &texts {
        let _: serde_json::Value = serde_json::from_str(text).unwrap();
    }
    report("parse only", n, start);
    let start = Instant::now();
    for key in &keys {
        engine.set_state(key, json!(1)).unwrap();
    }
    report("setState overwrite, number", n, start);
    let start = Instant::now();
    for key in &keys {
        let _ = serde_json::to_string(engine.get_state(key).unwrap().unwrap()).unwrap();
    }
    report("getState + serialise", n, start);
    let start = Instant::now();
    let work = engine.take_persist_work().unwrap();
    report("encode all shards", n, start);
    let mut restored = Engine::new(Config::default(), "c", Box::new(SystemClock));
    let start = Instant::now();
    restored
        .restore(srvra_sync::core::engine::Snapshot {
            meta: Some(work.meta),
            shards: work.shards,
        })
        .unwrap();
    report("restore all shards (lazy)", n, start);
    let start = Instant::now();
    for key in &keys {
        restored.get_state(key).unwrap();
    }
    report("first reads (decode every shard)", n, start);
}

fn report(what: &str, n: usize, start: Instant) {
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{what:36} {ns:8.0} ns/op");
}
