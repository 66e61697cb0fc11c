//! Coalesced persistence: one write per task (run as a microtask) stores everything the
//! client core changed, state and outbox, in a single IndexedDB transaction, then reports
//! it written (which lets the sync loop send) and settles `whenPersisted` promises.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::wasm::errors::to_js;
use crate::wasm::shared::Shared;

impl Shared {
    /// Schedules a write after the current macrotask, unless one is already scheduled, there
    /// is nothing to write, or storage is not open yet (the load calls this when it finishes).
    pub fn schedule_write(self: &Rc<Self>) {
        let shared = self;
        if shared.scheduled.get() {
            return;
        }
        let instance = shared.instance.borrow();
        let waiting_for_storage = instance.persists() && shared.storage.borrow().is_none();
        if waiting_for_storage || !instance.wants_write() {
            return;
        }
        drop(instance);
        shared.scheduled.set(true);
        spawn_local(flush(Rc::clone(shared)));
    }

    /// A promise that resolves once every change made so far is durable.
    pub fn when_persisted(self: &Rc<Self>) -> Promise {
        let shared = self;
        let (upto, persisted) = {
            let instance = shared.instance.borrow();
            (instance.persist_target(), instance.persisted_mark())
        };
        if persisted >= upto {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let promise = shared.persist_waiters.wait(upto);
        shared.schedule_write();
        promise
    }
}

async fn flush(shared: Rc<Shared>) {
    // After the current task's synchronous code: everything it changed goes in one write.
    let _ = wasm_bindgen_futures::JsFuture::from(Promise::resolve(&JsValue::UNDEFINED)).await;
    loop {
        let Some(write) = shared.instance.borrow_mut().take_write() else {
            break;
        };
        let storage = shared.storage.borrow().clone();
        let result = match storage {
            Some(storage) => storage.write(write.state.as_ref(), &write.outbox).await,
            // Persistence is off: changes are as durable as they will get.
            None => Ok(()),
        };
        match result {
            Ok(()) => {
                shared.instance.borrow_mut().written(&write);
                shared.schedule_tab_messages();
                shared.resolve_due_waiters();
            }
            Err(error) => {
                shared.instance.borrow_mut().write_failed(write, &error);
                shared.persist_waiters.reject_all(&to_js(&error));
                break;
            }
        }
    }
    shared.scheduled.set(false);
    shared.notify_async();
}
