//! State shared by the exported `SyncCore` and its background tasks (socket, timers,
//! storage writes): the client core behind one `RefCell`, the database, and the promises
//! waiting on it. Every borrow of the core is taken and released inside one call here, so
//! no borrow is held across a call into JS or an `await`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::JsValue;

use wasm_bindgen_futures::spawn_local;

use crate::core::sync::SyncClient;
use crate::core::{Engine, Instance};
use crate::wasm::storage::IdbStorage;
use crate::wasm::tabs::TabLink;
use crate::wasm::waiters::Waiters;

/// What starting the sync loop needs besides the config (kept for a tab that takes over
/// as leader later).
pub struct Start {
    /// `config.token`: `null`, a string or a function.
    pub token: JsValue,
    /// `config.webSocket`, or `undefined`.
    pub socket_class: JsValue,
}

/// One `SrvraDataSync` instance's state on the wasm side.
pub struct Shared {
    /// The client core: engine, sync loop, write bookkeeping.
    pub instance: RefCell<Instance>,
    /// The database, once open.
    pub storage: RefCell<Option<Rc<IdbStorage>>>,
    /// Called (with no arguments) when background work queued deliveries.
    pub on_async: Function,
    /// `sync.status` before a sync loop exists.
    pub status: Cell<&'static str>,
    /// Set by `close()`.
    pub closed: Cell<bool>,
    /// `sync.sync()` promises, by the change sequence they wait for.
    pub sync_waiters: Waiters,
    /// `whenSynced()` promises: they wait for the first catch-up (mark unused).
    pub first_sync_waiters: Waiters,
    /// `whenPersisted()` promises, by the change counter they wait for.
    pub persist_waiters: Waiters,
    /// `setMergeRule` calls so far, for a sync loop that starts later.
    pub merge_rules: RefCell<Vec<(String, String)>>,
    /// Whether a storage write is scheduled or running.
    pub scheduled: Cell<bool>,
    /// The link to the other tabs of this app, when they share this client.
    pub tabs: RefCell<Option<TabLink>>,
    /// Whether posting messages to the other tabs is scheduled.
    pub tabs_scheduled: Cell<bool>,
    /// Whether sending changes with reserved sequences is scheduled.
    pub send_scheduled: Cell<bool>,
    /// What the sync loop is started with (`None`: no `url`).
    pub start: RefCell<Option<Start>>,
    /// The browser's online state, as last reported.
    pub online: Cell<bool>,
    /// Whether this tab is handing the lead over.
    pub stepping_down: Cell<bool>,
    /// `config.encryption.key`: `null`, a `CryptoKey` or a function returning one.
    pub encryption_key: JsValue,
}

impl Shared {
    /// Shared state around a client core.
    pub fn new(
        instance: Instance,
        on_async: Function,
        start: Option<Start>,
        online: bool,
        encryption_key: JsValue,
    ) -> Rc<Self> {
        Rc::new(Self {
            instance: RefCell::new(instance),
            storage: RefCell::new(None),
            on_async,
            status: Cell::new("initial"),
            closed: Cell::new(false),
            sync_waiters: Waiters::default(),
            first_sync_waiters: Waiters::default(),
            persist_waiters: Waiters::default(),
            merge_rules: RefCell::new(Vec::new()),
            scheduled: Cell::new(false),
            tabs: RefCell::new(None),
            tabs_scheduled: Cell::new(false),
            send_scheduled: Cell::new(false),
            start: RefCell::new(start),
            online: Cell::new(online),
            stepping_down: Cell::new(false),
            encryption_key,
        })
    }

    /// Runs `f` on the core for a call from JS, then schedules the write it caused. JS
    /// delivers what the call queued itself.
    pub fn run<T>(self: &Rc<Self>, f: impl FnOnce(&mut Instance) -> T) -> T {
        let out = f(&mut self.instance.borrow_mut());
        self.after();
        out
    }

    /// Runs `f` on the sync loop for background work (a socket or timer report), then
    /// schedules the write, settles `sync()` promises and tells JS about deliveries.
    pub fn background(self: &Rc<Self>, f: impl FnOnce(&mut SyncClient, &mut Engine)) {
        let ran = self.instance.borrow_mut().with_sync(f).is_some();
        if ran {
            self.after();
            self.notify_async();
        }
    }

    /// After any change of the core: schedule its write and the messages to other tabs,
    /// and settle the promises it made due.
    pub fn after(self: &Rc<Self>) {
        self.schedule_send();
        self.schedule_write();
        self.schedule_tab_messages();
        self.resolve_due_waiters();
    }

    /// Resolves the `sync()` and `whenPersisted()` promises whose mark was reached.
    pub fn resolve_due_waiters(&self) {
        let instance = self.instance.borrow();
        self.sync_waiters
            .resolve(|mark| instance.synced_through(mark));
        let persisted = instance.persisted_mark();
        self.persist_waiters.resolve(|mark| mark <= persisted);
        if instance.has_synced() {
            self.first_sync_waiters.resolve(|_| true);
        }
    }

    /// Posts what the core has for the other tabs, once per task (a burst of changes is
    /// one message).
    pub fn schedule_tab_messages(self: &Rc<Self>) {
        if self.tabs_scheduled.get() || self.tabs.borrow().is_none() {
            return;
        }
        self.tabs_scheduled.set(true);
        let shared = Rc::clone(self);
        spawn_local(async move {
            shared.tabs_scheduled.set(false);
            let messages = shared.instance.borrow_mut().take_tab_messages();
            if let Some(link) = shared.tabs.borrow().as_ref() {
                link.post(&messages);
            }
        });
    }

    /// Sends the changes whose sequences are reserved once per task (a burst is one
    /// message), without waiting for their IndexedDB write.
    pub fn schedule_send(self: &Rc<Self>) {
        if self.send_scheduled.get() || !self.instance.borrow().wants_send() {
            return;
        }
        self.send_scheduled.set(true);
        let shared = Rc::clone(self);
        spawn_local(async move {
            shared.send_scheduled.set(false);
            shared.instance.borrow_mut().send_ready();
        });
    }

    /// Tells the JS side that deliveries are waiting, if any are.
    pub fn notify_async(&self) {
        if self.instance.borrow().engine().has_dispatches() {
            // A throwing hook must not break background work; the JS side reports its errors.
            let _ = self.on_async.call0(&JsValue::NULL);
        }
    }
}

/// [`Shared::background`] through a weak reference: does nothing once the instance is gone.
pub fn background(shared: &Weak<Shared>, f: impl FnOnce(&mut SyncClient, &mut Engine)) {
    if let Some(shared) = shared.upgrade() {
        shared.background(f);
    }
}
