//! `SyncCore`: the one exported type. `js/index.js` wraps it into the public
//! `SrvraDataSync` class. Values cross the boundary as JSON text (validated by
//! `js/codec.js`), which measured faster than walking JS objects from Rust. Every method
//! converts its arguments and delegates to the client core ([`Instance`]).

use std::rc::Rc;

use js_sys::{Function, Promise};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::core::config::Config;
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::registry::Priority;
use crate::core::engine::Version;
use crate::core::model::batch::parse_entries_text;
use crate::core::{CoreError, Engine, Instance};
use crate::wasm::clock::JsClock;
use crate::wasm::errors::{install_panic_hook, to_js, IntoJsResult};
use crate::wasm::load::load;
use crate::wasm::network::{reject_waiters, sync_now, when_synced};
use crate::wasm::shared::{Shared, Start};

#[wasm_bindgen]
pub struct SyncCore {
    pub(crate) shared: Rc<Shared>,
    ready: Promise,
}

/// An argument's JSON text as a value; `INVALID_VALUE` naming `what` when it is not JSON.
pub(crate) fn parse_json(text: &str, what: &str) -> Result<Value, JsValue> {
    crate::core::model::json::decode_argument(text, what).js()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising JSON values and plain structs cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn random_client_id() -> String {
    let part = || (js_sys::Math::random() * 2f64.powi(52)) as u64;
    format!("c{:x}{:x}", part(), part())
}

/// 128 random bits from `crypto.getRandomValues`, in hex: the secret that proves a new
/// client id is this storage's (`Math.random` where no `crypto` exists).
fn random_secret() -> String {
    let bytes = crate::wasm::cipher::random(16).unwrap_or_else(|_| {
        (0..16)
            .map(|_| (js_sys::Math::random() * 256.0) as u8)
            .collect()
    });
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[wasm_bindgen]
impl SyncCore {
    /// Validates the config (JSON, without `token` and `webSocket`) and starts loading
    /// cached state, then syncing when `url` is set. `token` is `null`, a string or a
    /// function; `socket_class` is `config.webSocket` or `undefined`; `online` is
    /// `navigator.onLine`. `on_async` is called with no arguments when background work
    /// queued deliveries. `encryption_key` is `config.encryption.key`: `null`, a
    /// `CryptoKey` or a function returning one (or a promise of one).
    #[wasm_bindgen(constructor)]
    pub fn new(
        config_json: &str,
        token: JsValue,
        socket_class: JsValue,
        online: bool,
        on_async: Function,
        encryption_key: JsValue,
    ) -> Result<SyncCore, JsValue> {
        install_panic_hook();
        let config = Config::parse(&parse_json(config_json, "config")?).js()?;
        let mut engine = Engine::new(config, &random_client_id(), Box::new(JsClock));
        engine.set_secret(&random_secret());
        let networked = engine.config().networked();
        let start = networked.then_some(Start {
            token,
            socket_class,
        });
        let instance = Instance::new(engine, networked);
        let shared = Shared::new(instance, on_async, start, online, encryption_key);
        let ready = future_to_promise(load(Rc::clone(&shared)));
        Ok(SyncCore { shared, ready })
    }

    /// The promise behind `sync.ready`.
    #[wasm_bindgen(getter)]
    pub fn ready(&self) -> Promise {
        self.ready.clone()
    }

    /// `sync.status`.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> String {
        match self.shared.instance.borrow().status_name() {
            Some(status) => status.to_owned(),
            None => self.shared.status.get().to_owned(),
        }
    }

    /// `sync.sync()`: a promise that resolves once the server acknowledged every change
    /// made so far.
    pub fn sync(&self) -> Result<Promise, JsValue> {
        self.check_open()?;
        Ok(sync_now(&self.shared))
    }

    /// The browser's `online` / `offline` events.
    #[wasm_bindgen(js_name = setOnline)]
    pub fn set_online(&self, online: bool) {
        self.shared.online.set(online);
        self.shared
            .background(|sync, engine| sync.set_online(engine, online));
    }

    /// The page became visible or hidden (`document.visibilityState`): a hidden leading
    /// tab hands over to a visible one that claims the lead.
    #[wasm_bindgen(js_name = setVisible)]
    pub fn set_visible(&self, visible: bool) {
        let step_down = self.shared.run(|instance| {
            instance.set_visible(visible);
            instance.wants_step_down()
        });
        if step_down {
            wasm_bindgen_futures::spawn_local(crate::wasm::load::step_down(Rc::clone(
                &self.shared,
            )));
        }
    }

    /// This client's id.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.shared
            .instance
            .borrow()
            .engine()
            .client_id()
            .to_owned()
    }

    fn mutate(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<Version, CoreError>,
    ) -> Result<f64, JsValue> {
        self.change(f).map(|applied| applied as f64)
    }

    /// Runs a local change through the core (once open), as every mutation does.
    pub(crate) fn change<T>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<T, CoreError>,
    ) -> Result<T, JsValue> {
        self.check_open()?;
        self.shared.run(|instance| instance.mutate(f)).js()
    }

    fn engine_mut(&self) -> std::cell::RefMut<'_, Engine> {
        std::cell::RefMut::map(self.shared.instance.borrow_mut(), Instance::engine_mut)
    }

    pub(crate) fn check_open(&self) -> Result<(), JsValue> {
        if self.shared.closed.get() {
            return Err(to_js(&CoreError::internal(
                "CLOSED",
                "this SrvraDataSync instance is closed",
            )));
        }
        Ok(())
    }

    /// `setState(path, value)`; returns the key's new version.
    #[wasm_bindgen(js_name = setState)]
    pub fn set_state(&self, path: &str, value_json: &str) -> Result<f64, JsValue> {
        let value = parse_json(value_json, "value")?;
        self.mutate(|e| e.set_state(path, value))
    }

    /// `updateState(path, partial)`; returns the key's new version.
    #[wasm_bindgen(js_name = updateState)]
    pub fn update_state(&self, path: &str, partial_json: &str) -> Result<f64, JsValue> {
        let Value::Object(partial) = parse_json(partial_json, "partial")? else {
            return Err(to_js(&CoreError::type_error(
                "INVALID_ARGUMENT",
                "updateState takes a plain object",
            )));
        };
        self.mutate(|e| e.update_state(path, partial))
    }

    /// `deleteState(path)`; returns the key's version.
    #[wasm_bindgen(js_name = deleteState)]
    pub fn delete_state(&self, path: &str) -> Result<f64, JsValue> {
        self.mutate(|e| e.delete_state(path))
    }

    /// `increment(path, by)`; returns the key's new version.
    pub fn increment(&self, path: &str, by: f64) -> Result<f64, JsValue> {
        self.mutate(|e| e.increment(path, by))
    }

    /// `append(path, item)`; returns the key's new version.
    pub fn append(&self, path: &str, item_json: &str) -> Result<f64, JsValue> {
        let item = parse_json(item_json, "item")?;
        self.mutate(|e| e.append(path, item))
    }

    /// `rollback(key, version)`; returns the key's new version.
    pub fn rollback(&self, key: &str, version: f64) -> Result<f64, JsValue> {
        self.mutate(|e| e.rollback(key, version as u64))
    }

    /// `batch(entries)`; returns each entry's key version, in entry order.
    pub fn batch(&self, entries_json: &str) -> Result<Vec<f64>, JsValue> {
        self.check_open()?;
        let drafts = parse_entries_text(entries_json).js()?;
        let versions = self
            .shared
            .run(|instance| instance.mutate(|e| e.batch(drafts)))
            .js()?;
        Ok(versions.into_iter().map(|v| v as f64).collect())
    }

    /// The state generation: unchanged means every `getState` answer is unchanged (the
    /// JS layer keeps what it decoded while it stays put).
    #[wasm_bindgen(js_name = stateGeneration)]
    pub fn state_generation(&self) -> f64 {
        crate::core::state::store::generation() as f64
    }

    /// The keys written after state generation `generation`, as a JSON array, or
    /// `undefined` when they are not all known (the JS layer then drops every value it
    /// kept; it keeps the values of other keys otherwise).
    #[wasm_bindgen(js_name = writtenSince)]
    pub fn written_since(&self, generation: f64) -> Option<String> {
        if generation.is_nan() || generation < 0.0 {
            return None;
        }
        let instance = self.shared.instance.borrow();
        let keys = instance.engine().written_since(generation as u64)?;
        Some(to_json(&keys))
    }

    /// `getState(path)` as JSON, or `undefined`.
    #[wasm_bindgen(js_name = getState)]
    pub fn get_state(&self, path: &str) -> Result<Option<String>, JsValue> {
        Ok(self
            .shared
            .instance
            .borrow()
            .engine()
            .get_state(path)
            .js()?
            .map(to_json))
    }

    /// `getState(path, { withMetadata: true })` as JSON, or `undefined`.
    #[wasm_bindgen(js_name = getStateWithMetadata)]
    pub fn get_state_with_metadata(&self, path: &str) -> Result<Option<String>, JsValue> {
        let instance = self.shared.instance.borrow();
        Ok(instance
            .engine()
            .get_with_metadata(path)
            .js()?
            .map(|mut m| {
                let key = path.split('.').next().unwrap_or(path);
                m.pending = instance
                    .sync()
                    .is_some_and(|s| s.replica().has_pending(key));
                to_json(&m)
            }))
    }

    /// `getHistory(key)` as JSON.
    #[wasm_bindgen(js_name = getHistory)]
    pub fn get_history(&self, key: &str) -> Result<String, JsValue> {
        Ok(to_json(
            &self
                .shared
                .instance
                .borrow()
                .engine()
                .get_history(key)
                .js()?,
        ))
    }

    /// `getVersion(key)`.
    #[wasm_bindgen(js_name = getVersion)]
    pub fn get_version(&self, key: &str) -> Result<f64, JsValue> {
        Ok(self
            .shared
            .instance
            .borrow()
            .engine()
            .get_version(key)
            .js()? as f64)
    }

    /// `keys(pattern?)` as JSON.
    pub fn keys(&self, pattern: Option<String>) -> String {
        let instance = self.shared.instance.borrow();
        match pattern {
            Some(pattern) => to_json(&instance.engine().keys_matching(&pattern)),
            None => to_json(&instance.engine().keys()),
        }
    }

    /// `getStatistics()` as JSON.
    pub fn statistics(&self) -> String {
        to_json(&self.shared.instance.borrow().statistics())
    }

    /// Registers a state subscriber; returns its id.
    pub fn subscribe(&self, target: &str, priority: &str) -> Result<u32, JsValue> {
        let priority = Priority::parse(priority).js()?;
        self.engine_mut().subscribe(target, priority).js()
    }

    /// Removes a state subscriber.
    pub fn unsubscribe(&self, id: u32) -> bool {
        self.engine_mut().unsubscribe(id)
    }

    /// Registers an event handler; returns its id.
    pub fn on(&self, event: &str, priority: &str) -> Result<u32, JsValue> {
        let event = EventType::parse(event).js()?;
        let priority = Priority::parse(priority).js()?;
        Ok(self.engine_mut().on(event, priority))
    }

    /// Removes an event handler.
    pub fn off(&self, id: u32) -> bool {
        self.engine_mut().off(id)
    }

    /// Handler ids for an event raised on the JS side (e.g. a subscriber error).
    pub fn handlers(&self, event: &str) -> Result<Vec<u32>, JsValue> {
        let event = EventType::parse(event).js()?;
        Ok(self.shared.instance.borrow().engine().handlers(event))
    }

    /// Counts a subscriber callback that threw.
    #[wasm_bindgen(js_name = countSubscriberError)]
    pub fn count_subscriber_error(&self) {
        self.engine_mut().count_subscriber_error();
    }

    /// Waiting deliveries as a JSON array, or `undefined` when there are none.
    #[wasm_bindgen(js_name = takeDispatches)]
    pub fn take_dispatches(&self) -> Option<String> {
        let mut instance = self.shared.instance.borrow_mut();
        let engine = instance.engine_mut();
        engine
            .has_dispatches()
            .then(|| to_json(&engine.take_dispatches()))
    }

    /// `whenPersisted()`.
    #[wasm_bindgen(js_name = whenPersisted)]
    pub fn when_persisted(&self) -> Promise {
        self.shared.when_persisted()
    }

    /// `whenSynced()`: resolves once the first catch-up is applied.
    #[wasm_bindgen(js_name = whenSynced)]
    pub fn when_synced(&self) -> Promise {
        when_synced(&self.shared)
    }

    /// `close()`: writes what is pending, closes the database; later mutations throw.
    pub fn close(&self) -> Promise {
        let shared = Rc::clone(&self.shared);
        let ready = self.ready.clone();
        future_to_promise(async move {
            // A failed load has nothing to flush; its error was already reported.
            let _ = wasm_bindgen_futures::JsFuture::from(ready).await;
            shared.background(|sync, engine| sync.shutdown(engine));
            let closed = CoreError::network(
                "CLOSED",
                "the instance was closed before the server acknowledged",
            );
            reject_waiters(&shared, &closed);
            let flushed = wasm_bindgen_futures::JsFuture::from(shared.when_persisted()).await;
            shared.closed.set(true);
            if let Some(link) = shared.tabs.borrow_mut().take() {
                // What this tab still has to say (a leader's last state) goes first.
                link.post(&shared.instance.borrow_mut().take_tab_messages());
                link.close();
            }
            // A write or key rotation still running finishes first; the connection closes
            // when the last holder drops it (`IdbStorage` closes on drop).
            while shared.scheduled.get() {
                gloo_timers::future::TimeoutFuture::new(1).await;
            }
            drop(shared.storage.borrow_mut().take());
            flushed.map(|_| JsValue::UNDEFINED)
        })
    }
}
