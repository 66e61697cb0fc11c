//! Coalesced persistence: mutations mark shards dirty; one flush task per macrotask writes
//! every dirty shard in a single IndexedDB transaction and settles `whenPersisted` promises.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::core::Engine;
use crate::wasm::errors::to_js;
use crate::wasm::storage::IdbStorage;

/// A `whenPersisted()` promise waiting for the change counter to reach `upto`.
struct Waiter {
    upto: u64,
    resolve: Function,
    reject: Function,
}

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
    scheduled: Cell<bool>,
    persisted: Cell<u64>,
    waiters: RefCell<Vec<Waiter>>,
}

impl Shared {
    /// Shared state around an engine.
    pub fn new(engine: Engine, on_async: Function) -> Rc<Self> {
        Rc::new(Self {
            engine: RefCell::new(engine),
            storage: RefCell::new(None),
            on_async,
            status: Cell::new("initial"),
            closed: Cell::new(false),
            scheduled: Cell::new(false),
            persisted: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
        })
    }

    /// Tells the JS side that deliveries are waiting, if any are.
    pub fn notify_async(&self) {
        if self.engine.borrow().has_dispatches() {
            // A throwing hook must not break background work; the JS side reports its errors.
            let _ = self.on_async.call0(&JsValue::NULL);
        }
    }

    fn persistence_enabled(&self) -> bool {
        self.engine.borrow().config().offline.enabled
    }
}

/// Schedules a flush after the current macrotask, unless one is already scheduled or
/// storage is not open yet (the load calls this when it finishes).
pub fn schedule(shared: &Rc<Shared>) {
    if shared.scheduled.get() || shared.storage.borrow().is_none() {
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
    let mut parts = None;
    let promise = Promise::new(&mut |resolve, reject| parts = Some((resolve, reject)));
    if let Some((resolve, reject)) = parts {
        shared.waiters.borrow_mut().push(Waiter {
            upto,
            resolve,
            reject,
        });
    }
    schedule(shared);
    promise
}

async fn flush(shared: Rc<Shared>) {
    TimeoutFuture::new(0).await;
    loop {
        let storage = shared.storage.borrow().clone();
        let Some(storage) = storage else { break };
        let work = shared.engine.borrow_mut().take_persist_work();
        let Some(work) = work else { break };
        match storage.write(&work).await {
            Ok(()) => {
                shared.engine.borrow_mut().count_storage_write();
                shared.persisted.set(work.upto);
                settle(&shared, work.upto, None);
            }
            Err(error) => {
                let mut engine = shared.engine.borrow_mut();
                engine.mark_dirty(work.shards.iter().map(|(index, _)| *index));
                engine.report_error("storage", &error);
                drop(engine);
                settle(&shared, u64::MAX, Some(to_js(&error)));
                shared.notify_async();
                break;
            }
        }
    }
    shared.scheduled.set(false);
}

fn settle(shared: &Shared, upto: u64, error: Option<JsValue>) {
    let ready: Vec<Waiter> = {
        let mut waiters = shared.waiters.borrow_mut();
        let (ready, waiting) = waiters.drain(..).partition(|w| w.upto <= upto);
        *waiters = waiting;
        ready
    };
    for waiter in ready {
        // Settling a promise cannot fail in a way we could act on.
        let _ = match &error {
            None => waiter.resolve.call0(&JsValue::NULL),
            Some(error) => waiter.reject.call1(&JsValue::NULL, error),
        };
    }
}

/// Rejects every waiter (storage could not be opened).
pub fn fail_all(shared: &Shared, error: &JsValue) {
    settle(shared, u64::MAX, Some(error.clone()));
}
