//! Coalesced persistence: mutations mark shards dirty and the sync loop queues outbox
//! work; one flush per task (run as a microtask) writes both in a single IndexedDB transaction,
//! settles `whenPersisted` promises and tells the loop which changes are now durable.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::core::sync::{OutboxWork, SyncClient};
use crate::core::Engine;
use crate::wasm::errors::to_js;
use crate::wasm::network::run;
use crate::wasm::storage::IdbStorage;
use crate::wasm::waiters::Waiters;

/// State shared by the exported `SyncCore` and its background tasks.
pub struct Shared {
    /// The engine.
    pub engine: RefCell<Engine>,
    /// The database, once open.
    pub storage: RefCell<Option<Rc<IdbStorage>>>,
    /// Called (with no arguments) when background work queued deliveries.
    pub on_async: Function,
    /// Current `sync.status`.
    pub status: Cell<&'static str>,
    /// Set by `close()`.
    pub closed: Cell<bool>,
    /// The sync loop, when a `url` is configured and local state is loaded.
    pub sync: RefCell<Option<SyncClient>>,
    /// Outbox work waiting to be written with the next flush.
    pub outbox: RefCell<Vec<OutboxWork>>,
    /// `sync.sync()` promises.
    pub sync_waiters: Waiters,
    /// `setMergeRule` calls so far, for a sync loop that starts later.
    pub merge_rules: RefCell<Vec<(String, String)>>,
    persist: bool,
    scheduled: Cell<bool>,
    persisted: Cell<u64>,
    waiters: Waiters,
}

impl Shared {
    /// Shared state around an engine.
    pub fn new(engine: Engine, on_async: Function) -> Rc<Self> {
        Rc::new(Self {
            persist: engine.config().offline.enabled,
            engine: RefCell::new(engine),
            storage: RefCell::new(None),
            on_async,
            status: Cell::new("initial"),
            closed: Cell::new(false),
            sync: RefCell::new(None),
            outbox: RefCell::new(Vec::new()),
            sync_waiters: Waiters::default(),
            merge_rules: RefCell::new(Vec::new()),
            scheduled: Cell::new(false),
            persisted: Cell::new(0),
            waiters: Waiters::default(),
        })
    }

    /// Tells the JS side that deliveries are waiting, if any are.
    pub fn notify_async(&self) {
        if self.engine.borrow().has_dispatches() {
            // A throwing hook must not break background work; the JS side reports its errors.
            let _ = self.on_async.call0(&JsValue::NULL);
        }
    }

    /// Whether state is cached in IndexedDB (read once: the engine may be borrowed when
    /// this is asked, e.g. while the sync loop queues outbox work during a mutation).
    fn persistence_enabled(&self) -> bool {
        self.persist
    }
}

/// Schedules a flush after the current macrotask, unless one is already scheduled or
/// storage is not open yet (the load calls this when it finishes).
pub fn schedule(shared: &Rc<Shared>) {
    let waiting_for_storage = shared.storage.borrow().is_none() && shared.persistence_enabled();
    if shared.scheduled.get() || waiting_for_storage {
        return;
    }
    shared.scheduled.set(true);
    spawn_local(flush(Rc::clone(shared)));
}

/// A promise that resolves once every change made so far is durable.
pub fn when_persisted(shared: &Rc<Shared>) -> Promise {
    let upto = shared.engine.borrow().changes();
    if !shared.persistence_enabled() || shared.persisted.get() >= upto {
        return Promise::resolve(&JsValue::UNDEFINED);
    }
    let promise = shared.waiters.wait(upto);
    schedule(shared);
    promise
}

async fn flush(shared: Rc<Shared>) {
    // After the current task's synchronous code: everything it changed goes in one write.
    let _ = wasm_bindgen_futures::JsFuture::from(Promise::resolve(&JsValue::UNDEFINED)).await;
    loop {
        let storage = shared.storage.borrow().clone();
        let state = shared.engine.borrow_mut().take_persist_work();
        let outbox: Vec<OutboxWork> = shared.outbox.borrow_mut().drain(..).collect();
        if state.is_none() && outbox.is_empty() {
            break;
        }
        let upto_seq = outbox.iter().map(|w| w.upto_seq).max().unwrap_or(0);
        let Some(storage) = storage else {
            // Persistence is off: changes are as durable as they will get.
            if upto_seq > 0 {
                run(&shared, |sync, engine| sync.durable(engine, upto_seq));
            }
            continue;
        };
        match storage.write(state.as_ref(), &outbox).await {
            Ok(()) => {
                if let Some(work) = &state {
                    shared.engine.borrow_mut().count_storage_write();
                    shared.persisted.set(work.upto);
                    settle(&shared, work.upto, None);
                }
                if upto_seq > 0 {
                    run(&shared, |sync, engine| sync.durable(engine, upto_seq));
                }
            }
            Err(error) => {
                let mut engine = shared.engine.borrow_mut();
                if let Some(work) = &state {
                    engine.mark_dirty(work.shards.iter().map(|(index, _)| *index));
                }
                engine.report_error("storage", &error);
                drop(engine);
                // Keep the outbox work, first, for the next flush.
                let mut queued = shared.outbox.borrow_mut();
                let later: Vec<OutboxWork> = queued.drain(..).collect();
                queued.extend(outbox);
                queued.extend(later);
                drop(queued);
                settle(&shared, u64::MAX, Some(to_js(&error)));
                shared.notify_async();
                break;
            }
        }
    }
    shared.scheduled.set(false);
}

fn settle(shared: &Shared, upto: u64, error: Option<JsValue>) {
    shared.waiters.settle(|mark| mark <= upto, error.as_ref());
}

/// Rejects every waiter (storage could not be opened).
pub fn fail_all(shared: &Shared, error: &JsValue) {
    settle(shared, u64::MAX, Some(error.clone()));
}
