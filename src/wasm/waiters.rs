//! Promises that wait for a counter to reach a mark: `whenPersisted()` (changes stored)
//! and `sync()` (changes acknowledged) both use one [`Waiters`] list.

use std::cell::RefCell;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

struct Waiter {
    mark: u64,
    resolve: Function,
    reject: Function,
}

/// Pending promises with the mark each waits for.
#[derive(Default)]
pub struct Waiters(RefCell<Vec<Waiter>>);

impl Waiters {
    /// A promise that settles once [`Waiters::settle`] finds `mark` reached.
    pub fn wait(&self, mark: u64) -> Promise {
        let mut parts = None;
        let promise = Promise::new(&mut |resolve, reject| parts = Some((resolve, reject)));
        if let Some((resolve, reject)) = parts {
            self.0.borrow_mut().push(Waiter {
                mark,
                resolve,
                reject,
            });
        }
        promise
    }

    /// Settles the promises whose mark is `reached`: resolves them, or rejects them with
    /// `error`.
    pub fn settle(&self, reached: impl Fn(u64) -> bool, error: Option<&JsValue>) {
        let ready: Vec<Waiter> = {
            let mut waiters = self.0.borrow_mut();
            let (ready, waiting) = waiters.drain(..).partition(|w| reached(w.mark));
            *waiters = waiting;
            ready
        };
        for waiter in ready {
            // Settling a promise cannot fail in a way we could act on.
            let _ = match error {
                None => waiter.resolve.call0(&JsValue::NULL),
                Some(error) => waiter.reject.call1(&JsValue::NULL, error),
            };
        }
    }
}
