//! Wires the core's sync loop to the browser: builds it with the WebSocket, timer and
//! outbox implementations, runs every I/O report through it, and settles `sync.sync()`
//! promises once the server acknowledged what they wait for.

use std::rc::{Rc, Weak};

use js_sys::Promise;
use wasm_bindgen::JsValue;

use crate::core::sync::{Io, OutboxStore, OutboxWork, SyncClient};
use crate::core::{CoreError, Engine};
use crate::wasm::errors::to_js;
use crate::wasm::persister::{schedule, Shared};
use crate::wasm::socket::BrowserSocket;
use crate::wasm::timers::BrowserTimers;

/// The outbox half of the persister: work waits in `Shared` and is written in the same
/// IndexedDB transaction as the state it belongs to.
struct BrowserOutbox(Weak<Shared>);

impl OutboxStore for BrowserOutbox {
    fn save(&mut self, work: OutboxWork) {
        if let Some(shared) = self.0.upgrade() {
            shared.outbox.borrow_mut().push(work);
            schedule(&shared);
        }
    }
}

/// The sync loop for `shared`'s config; `token` as given to the constructor.
pub fn build(shared: &Rc<Shared>, token: JsValue) -> SyncClient {
    let config = shared.engine.borrow().config().clone();
    let weak = Rc::downgrade(shared);
    let io = Io {
        transport: Box::new(BrowserSocket::new(weak.clone(), token)),
        timers: Box::new(BrowserTimers::new(weak.clone())),
        store: Box::new(BrowserOutbox(weak)),
        random: Box::new(js_sys::Math::random),
    };
    let mut sync = SyncClient::new(config, io);
    for (pattern, strategy) in shared.merge_rules.borrow().iter() {
        // Checked when they were set.
        let _ = sync.set_merge_rule(pattern, strategy);
    }
    sync
}

/// Runs `f` on the sync loop and engine, then persists, settles `sync()` promises and
/// tells the JS side about deliveries. Does nothing once the instance is gone.
pub fn with_sync(shared: &Weak<Shared>, f: impl FnOnce(&mut SyncClient, &mut Engine)) {
    let Some(shared) = shared.upgrade() else {
        return;
    };
    run(&shared, f);
}

/// [`with_sync`] for a strong reference.
pub fn run(shared: &Rc<Shared>, f: impl FnOnce(&mut SyncClient, &mut Engine)) {
    {
        let mut sync = shared.sync.borrow_mut();
        let Some(sync) = sync.as_mut() else { return };
        let mut engine = shared.engine.borrow_mut();
        f(sync, &mut engine);
    }
    schedule(shared);
    settle_waiters(shared);
    shared.notify_async();
}

/// `sync.sync()`: sends now; resolves once the server acknowledged every change made so
/// far (at once when there is no server or nothing is pending).
pub fn sync_now(shared: &Rc<Shared>) -> Promise {
    let seq = {
        let sync = shared.sync.borrow();
        match sync.as_ref() {
            Some(sync) => sync.replica().last_seq(),
            None => return Promise::resolve(&JsValue::UNDEFINED),
        }
    };
    let promise = shared.sync_waiters.wait(seq);
    run(shared, |sync, engine| sync.sync_now(engine));
    promise
}

fn settle_waiters(shared: &Shared) {
    if let Some(sync) = shared.sync.borrow().as_ref() {
        let replica = sync.replica();
        shared
            .sync_waiters
            .settle(|seq| replica.settled_through(seq), None);
    }
}

/// Rejects every `sync()` promise (the instance closed).
pub fn reject_waiters(shared: &Shared, error: &CoreError) {
    shared.sync_waiters.settle(|_| true, Some(&to_js(error)));
}
