//! Helpers shared by the native core tests.
#![allow(dead_code)]

use serde_json::Value;
use srvra_sync::core::clock::ManualClock;
use srvra_sync::core::config::Config;
use srvra_sync::core::dispatch::events::Dispatch;
use srvra_sync::core::sync::{Io, MemoryStorage, SyncClient, Timers, Transport};
use srvra_sync::core::{Engine, Instance};

/// The server's `welcome` to client `me` in room `default`, at `position`, with the
/// reference server's default limits.
pub fn welcome(position: u64) -> srvra_sync::core::protocol::ServerMessage {
    srvra_sync::core::protocol::ServerMessage::Welcome {
        protocol: u32::from(srvra_sync::core::protocol::PROTOCOL_VERSION),
        client_id: "me".into(),
        room: "default".into(),
        position,
        acknowledged: 0,
        max_ops: 1000,
        max_frame: 1 << 20,
    }
}

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

/// A networked client core for `config` (client id `me`, restored from empty storage)
/// whose sync loop runs over `wire` (the test's transport and timers), started online.
pub fn networked_instance<W>(config: Config, wire: W) -> Instance
where
    W: Transport + Timers + Clone + 'static,
{
    let engine = Engine::new(config.clone(), "me", Box::new(ManualClock::new(1_000.0)));
    let mut instance = Instance::new(engine, true);
    instance
        .engine_mut()
        .restore(MemoryStorage::default().snapshot())
        .expect("empty storage restores");
    let io = Io {
        transport: Box::new(wire.clone()),
        timers: Box::new(wire),
        random: Box::new(|| 0.5),
    };
    instance.start_sync(SyncClient::new(config, io), Default::default(), true);
    instance
}

/// The queued deliveries as JSON values (what the JS side receives).
pub fn dispatches(engine: &mut Engine) -> Vec<Value> {
    let items: Vec<Dispatch> = engine.take_dispatches();
    items
        .iter()
        .map(|d| serde_json::to_value(d).expect("dispatch serialises"))
        .collect()
}

/// The subscription ids the subscriber deliveries among `items` call, in order.
pub fn sub_calls(items: &[Value]) -> Vec<u32> {
    items
        .iter()
        .filter(|d| d["k"] == "sub")
        .flat_map(|d| {
            d["ids"]
                .as_array()
                .expect("ids")
                .iter()
                .map(|id| id.as_u64().expect("an id") as u32)
        })
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

/// A `changes` frame from `client` whose one value is `count` objects `{"":0}`, LZ4-packed:
/// a small frame that unpacks to a flood of tiny objects (issue 29 item 3).
pub fn amplifying_frame(client: &str, count: usize) -> Vec<u8> {
    let items = vec![r#"{"":0}"#; count].join(",");
    let text = format!(
        r#"{{"changes":{{"ops":[{{"id":{{"client":"{client}","seq":1}},"key":"k0","fields":[],"kind":{{"set":[{items}]}},"base_version":0,"timestamp":0}}],"atomic":false}}}}"#
    );
    let packed = srvra_sync::core::state::compress::pack(text.as_bytes(), Some(0));
    let mut frame = vec![srvra_sync::core::protocol::PROTOCOL_VERSION];
    frame.extend_from_slice(&packed.bytes);
    frame
}
