//! Wires the core's sync loop to the browser: builds it with the WebSocket and timer
//! implementations, and answers `sync.sync()`.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::JsValue;

use crate::core::sync::{Io, SyncClient};
use crate::core::{CoreError, Instance};
use crate::wasm::errors::to_js;
use crate::wasm::shared::{Shared, Start};
use crate::wasm::socket::BrowserSocket;
use crate::wasm::timers::BrowserTimers;

/// The sync loop for `shared`'s config, with the token and WebSocket class the
/// constructor was given; `None` without a `url`.
pub fn build(shared: &Rc<Shared>) -> Option<SyncClient> {
    let start = shared.start.borrow();
    let Start {
        token,
        socket_class,
    } = start.as_ref()?;
    let config = shared.instance.borrow().engine().config().clone();
    let weak = Rc::downgrade(shared);
    let io = Io {
        transport: Box::new(BrowserSocket::new(
            weak.clone(),
            token.clone(),
            socket_class.clone(),
        )),
        timers: Box::new(BrowserTimers::new(weak)),
        random: Box::new(js_sys::Math::random),
    };
    let mut sync = SyncClient::new(config, io);
    for (pattern, strategy) in shared.merge_rules.borrow().iter() {
        // Checked when they were set.
        let _ = sync.set_merge_rule(pattern, strategy);
    }
    Some(sync)
}

/// `sync.sync()`: sends now; resolves once the server acknowledged every change made so
/// far (at once when there is no server).
pub fn sync_now(shared: &Rc<Shared>) -> Promise {
    match shared.run(Instance::sync_now) {
        Some(mark) => {
            let promise = shared.sync_waiters.wait(mark);
            shared.resolve_due_waiters();
            promise
        }
        None => Promise::resolve(&JsValue::UNDEFINED),
    }
}

/// `sync.whenSynced()`: resolves once the first catch-up of this instance is applied (at
/// once without a server).
pub fn when_synced(shared: &Rc<Shared>) -> Promise {
    let promise = shared.first_sync_waiters.wait(0);
    shared.resolve_due_waiters();
    promise
}

/// Rejects every `sync()` and `whenSynced()` promise (the instance closed).
pub fn reject_waiters(shared: &Shared, error: &CoreError) {
    shared.sync_waiters.reject_all(&to_js(error));
    shared.first_sync_waiters.reject_all(&to_js(error));
}
