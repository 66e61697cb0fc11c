//! Tabs of one app sharing one client, in the browser: the Web Lock that makes one tab
//! the leader, and the BroadcastChannel the tabs talk on. The protocol itself is the
//! core's ([`crate::core::tabs`]); this file only carries it. Every closure the browser
//! calls is owned here and dropped with the link.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, BroadcastChannel, MessageEvent};

use crate::core::tabs::TabMessage;

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks` (the Web Locks API).
    type LockManager;

    #[wasm_bindgen(method)]
    fn request(this: &LockManager, name: &str, options: &JsValue, callback: &Function) -> Promise;
}

/// The lock manager, where this browser has one.
fn lock_manager() -> Option<LockManager> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then(|| locks.unchecked_into())
}

/// Whether tabs can share one client here (Web Locks and BroadcastChannel exist).
pub fn supported() -> bool {
    let channel =
        Reflect::get(&js_sys::global(), &"BroadcastChannel".into()).is_ok_and(|c| c.is_function());
    channel && lock_manager().is_some()
}

type LockCallback = Closure<dyn FnMut(JsValue) -> Promise>;

/// The channel, the lock requests and what releases the lock.
pub struct TabLink {
    channel: BroadcastChannel,
    _onmessage: Closure<dyn FnMut(MessageEvent)>,
    callbacks: RefCell<Vec<LockCallback>>,
    /// Resolves the promise the held lock waits on: releases the lock.
    release: RefCell<Option<Function>>,
    /// Aborts a queued lock request (a follower that closes).
    abort: RefCell<Option<AbortController>>,
    name: String,
}

impl TabLink {
    /// Opens the channel `name`; each message from another tab goes to `receive`, from a
    /// fresh microtask.
    pub fn open(name: &str, receive: impl Fn(TabMessage) + 'static) -> Result<Self, JsValue> {
        let channel = BroadcastChannel::new(name)?;
        let receive = Rc::new(receive);
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            // A message this version cannot read is ignored.
            if let Some(message) = TabMessage::decode(&text) {
                let receive = Rc::clone(&receive);
                spawn_local(async move { receive(message) });
            }
        });
        channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        Ok(Self {
            channel,
            _onmessage: onmessage,
            callbacks: RefCell::new(Vec::new()),
            release: RefCell::new(None),
            abort: RefCell::new(None),
            name: name.to_owned(),
        })
    }

    /// Posts messages to the other tabs.
    pub fn post(&self, messages: &[TabMessage]) {
        for message in messages {
            // A closed channel drops it: this tab is going away.
            let _ = self
                .channel
                .post_message(&JsValue::from_str(&message.encode()));
        }
    }

    /// Takes the lock if no other tab holds it; resolves to whether it did.
    pub async fn try_lead(&self) -> bool {
        let Some(locks) = lock_manager() else {
            return false;
        };
        let hold = self.hold();
        let mut decide = None;
        let decided = Promise::new(&mut |resolve, _| decide = Some(resolve));
        let callback: LockCallback = Closure::new(move |lock: JsValue| {
            let got = !lock.is_null();
            if let Some(decide) = decide.take() {
                let _ = decide.call1(&JsValue::NULL, &JsValue::from_bool(got));
            }
            if got {
                hold.clone()
            } else {
                Promise::resolve(&JsValue::UNDEFINED)
            }
        });
        let options = Object::new();
        let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
        let request = locks.request(&self.name, &options, callback.as_ref().unchecked_ref());
        self.callbacks.borrow_mut().push(callback);
        // Settles after the lock is released; nothing to wait for here.
        spawn_local(async move {
            let _ = JsFuture::from(request).await;
        });
        JsFuture::from(decided)
            .await
            .is_ok_and(|got| got.is_truthy())
    }

    /// Queues for the lock; `lead` runs when this tab gets it (the leader is gone).
    pub fn queue(&self, lead: impl FnOnce() + 'static) {
        let Some(locks) = lock_manager() else {
            return;
        };
        let Ok(abort) = AbortController::new() else {
            return;
        };
        let hold = self.hold();
        let mut lead = Some(lead);
        let callback: LockCallback = Closure::new(move |_lock: JsValue| {
            if let Some(lead) = lead.take() {
                lead();
            }
            hold.clone()
        });
        let options = Object::new();
        let _ = Reflect::set(&options, &"signal".into(), &abort.signal());
        let request = locks.request(&self.name, &options, callback.as_ref().unchecked_ref());
        self.callbacks.borrow_mut().push(callback);
        *self.abort.borrow_mut() = Some(abort);
        // Aborted when the instance closes first: nothing to report.
        spawn_local(async move {
            let _ = JsFuture::from(request).await;
        });
    }

    /// The promise a held lock waits on (one per link: resolving it releases the lock).
    fn hold(&self) -> Promise {
        let mut release = None;
        let promise = Promise::new(&mut |resolve, _| release = Some(resolve));
        if let Some(release) = release {
            if let Some(old) = self.release.borrow_mut().replace(release) {
                let _ = old.call0(&JsValue::NULL);
            }
        }
        promise
    }

    /// Releases the lock, if held (the next tab in line gets it).
    pub fn release(&self) {
        if let Some(release) = self.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }

    /// Releases the lock (if held), leaves the queue, and closes the channel.
    pub fn close(&self) {
        if let Some(abort) = self.abort.borrow_mut().take() {
            abort.abort();
        }
        if let Some(release) = self.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::NULL);
        }
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
