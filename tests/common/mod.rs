//! Helpers shared by the native core tests.
#![allow(dead_code)]

use serde_json::Value;
use srvra_sync::core::clock::ManualClock;
use srvra_sync::core::config::Config;
use srvra_sync::core::dispatch::events::Dispatch;
use srvra_sync::core::Engine;

/// An engine with default config, a fixed clock, already restored (no storage).
pub fn engine() -> Engine {
    engine_with(Config::default())
}

/// An engine with the given config.
pub fn engine_with(config: Config) -> Engine {
    let mut engine = Engine::new(config, "client-a", Box::new(ManualClock::new(1_000.0)));
    engine.skip_restore();
    engine
}

/// The queued deliveries as JSON values (what the JS side receives).
pub fn dispatches(engine: &mut Engine) -> Vec<Value> {
    let items: Vec<Dispatch> = engine.take_dispatches();
    items
        .iter()
        .map(|d| serde_json::to_value(d).expect("dispatch serialises"))
        .collect()
}

/// A snapshot of everything readable, for "nothing changed" assertions.
pub fn visible_state(engine: &Engine) -> Vec<(String, Option<Value>, u64)> {
    engine
        .keys()
        .into_iter()
        .map(|k| {
            (
                k.to_owned(),
                engine.get_state(k).unwrap().cloned(),
                engine.get_version(k).unwrap(),
            )
        })
        .collect()
}
