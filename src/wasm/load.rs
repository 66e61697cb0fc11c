//! Loading an instance: opens the database, decides this tab's part among the tabs of the
//! app that share it (leader or follower, by Web Lock), restores the cached state, and
//! starts syncing. A follower queues for the lock and takes over when the leader is gone.

use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::core::sync::OutboxLoad;
use crate::core::tabs::{tab_id, TabMessage};
use crate::core::CoreError;
use crate::wasm::encryption::key_source;
use crate::wasm::errors::to_js;
use crate::wasm::network;
use crate::wasm::shared::Shared;
use crate::wasm::storage::IdbStorage;
use crate::wasm::tabs::{self, TabLink};

/// This tab's part, when tabs share the client.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Alone,
    Leader,
    Follower,
}

/// The promise behind `sync.ready`.
pub async fn load(shared: Rc<Shared>) -> Result<JsValue, JsValue> {
    match open(&shared).await {
        Ok((outbox, part)) => {
            shared.status.set("synced");
            if !shared.closed.get() {
                start(&shared, outbox, part);
            }
            shared.after();
            shared.notify_async();
            Ok(JsValue::UNDEFINED)
        }
        Err(error) => {
            shared.status.set("error");
            let mut instance = shared.instance.borrow_mut();
            instance.engine_mut().report_error("storage", &error);
            drop(instance);
            let js_error = to_js(&error);
            shared.persist_waiters.reject_all(&js_error);
            shared.notify_async();
            Err(js_error)
        }
    }
}

/// Opens storage, takes this tab's part, and restores the cache.
async fn open(shared: &Rc<Shared>) -> Result<(OutboxLoad, Part), CoreError> {
    let (offline, room) = {
        let instance = shared.instance.borrow();
        let config = instance.engine().config();
        (config.offline.clone(), config.room.clone())
    };
    if !offline.enabled {
        shared.instance.borrow_mut().engine_mut().skip_restore();
        return Ok((OutboxLoad::default(), Part::Alone));
    }
    let storage = match open_storage(shared, &offline.db_name).await {
        Ok(storage) => storage,
        Err(error) if error.code == "STORAGE_UNAVAILABLE" && offline.memory_fallback => {
            shared.instance.borrow_mut().without_storage();
            return Ok((OutboxLoad::default(), Part::Alone));
        }
        Err(error) => return Err(error),
    };
    let mut part = Part::Alone;
    if tabs::supported() {
        let name = format!("srvra-sync:{}:{}", offline.db_name, room);
        let weak = Rc::downgrade(shared);
        let link = TabLink::open(&name, move |message| receive(&weak, message)).map_err(|_| {
            CoreError::storage("STORAGE_FAILED", "could not open the channel to other tabs")
        })?;
        part = if link.try_lead().await {
            Part::Leader
        } else {
            Part::Follower
        };
        *shared.tabs.borrow_mut() = Some(link);
    }
    let (snapshot, outbox) = storage.load().await?;
    shared
        .instance
        .borrow_mut()
        .engine_mut()
        .restore(snapshot)?;
    *shared.storage.borrow_mut() = Some(Rc::new(storage));
    Ok((outbox, part))
}

/// Opens the database, with the configured encryption key when encryption is on.
pub async fn open_storage(shared: &Shared, name: &str) -> Result<IdbStorage, CoreError> {
    let encrypted = shared.instance.borrow().engine().config().encryption;
    let source = match encrypted {
        true => Some(key_source(&shared.encryption_key).await?),
        false => None,
    };
    IdbStorage::open(name, source).await
}

/// A message from another tab: the core takes it; a hidden leader that was asked to hand
/// over steps down.
fn receive(shared: &Weak<Shared>, message: TabMessage) {
    let Some(shared) = shared.upgrade() else {
        return;
    };
    let step_down_now = {
        let mut instance = shared.instance.borrow_mut();
        instance.tab_receive(message);
        instance.wants_step_down()
    };
    shared.after();
    shared.notify_async();
    if step_down_now {
        spawn_local(step_down(shared));
    }
}

/// Takes the part: a leader (or a lone instance) starts the sync loop; a follower asks the
/// leader for the state and queues for the lock.
fn start(shared: &Rc<Shared>, outbox: OutboxLoad, part: Part) {
    let tab = tab_id(js_sys::Math::random);
    match part {
        Part::Follower => {
            shared.instance.borrow_mut().follow(&tab);
            queue_for_lead(shared);
        }
        Part::Leader | Part::Alone => {
            if part == Part::Leader {
                shared.instance.borrow_mut().lead(&tab);
            }
            if let Some(sync) = network::build(shared) {
                let online = shared.online.get();
                shared
                    .instance
                    .borrow_mut()
                    .start_sync(sync, outbox, online);
            }
        }
    }
}

/// Queues this (following) tab for the lock: it takes over when it gets it.
fn queue_for_lead(shared: &Rc<Shared>) {
    let weak = Rc::downgrade(shared);
    if let Some(link) = shared.tabs.borrow().as_ref() {
        link.queue(move || {
            if let Some(shared) = weak.upgrade() {
                spawn_local(take_over(shared));
            }
        });
    }
}

/// A hidden leader hands the lead to a visible follower that claimed it: it stops the
/// sync loop, writes everything (the next leader sends it from storage), says what it
/// still has to say, becomes a follower, releases the lock and queues for it again.
pub async fn step_down(shared: Rc<Shared>) {
    if shared.stepping_down.replace(true) {
        return;
    }
    shared.instance.borrow_mut().stop_leading();
    shared.after();
    // Nothing runs between the last check and the switch: JS is single-threaded.
    while shared.instance.borrow().wants_write() {
        let _ = JsFuture::from(shared.when_persisted()).await;
        if shared.closed.get() {
            shared.stepping_down.set(false);
            return;
        }
    }
    {
        let mut instance = shared.instance.borrow_mut();
        if let Some(link) = shared.tabs.borrow().as_ref() {
            link.post(&instance.take_tab_messages());
        }
        instance.step_down();
    }
    // `sync()` promises now wait for the next leader to have everything acknowledged.
    shared.sync_waiters.remark(u64::MAX);
    if let Some(link) = shared.tabs.borrow().as_ref() {
        link.release();
    }
    queue_for_lead(&shared);
    shared.stepping_down.set(false);
    shared.after();
    shared.notify_async();
}

/// The leader is gone and this tab got the lock: it leads from what storage holds.
async fn take_over(shared: Rc<Shared>) {
    if shared.closed.get() {
        return;
    }
    let Some(mut storage) = shared.storage.borrow().clone() else {
        return;
    };
    let mut loaded = storage.load().await;
    if matches!(&loaded, Err(e) if e.code == "DECRYPT_FAILED") {
        // The old leader rotated the key: open again with what the key function gives now.
        let name = shared
            .instance
            .borrow()
            .engine()
            .config()
            .offline
            .db_name
            .clone();
        if let Ok(reopened) = open_storage(&shared, &name).await {
            // The old connection closes when the last holder drops it.
            storage = Rc::new(reopened);
            *shared.storage.borrow_mut() = Some(Rc::clone(&storage));
            loaded = storage.load().await;
        }
    }
    let result = match loaded {
        Ok((snapshot, outbox)) => {
            let sync = network::build(&shared);
            let online = shared.online.get();
            shared
                .instance
                .borrow_mut()
                .take_over(snapshot, outbox, sync, online)
        }
        Err(error) => Err(error),
    };
    {
        let mut instance = shared.instance.borrow_mut();
        if let Err(error) = &result {
            instance.engine_mut().report_error("storage", error);
        }
        // What this tab's promises wait for is now counted by the leader's counters.
        let persist = instance.persist_target();
        let sent = instance.sync().map_or(0, |s| s.replica().last_seq());
        shared.persist_waiters.remark(persist);
        shared.sync_waiters.remark(sent);
    }
    shared.after();
    shared.notify_async();
}
