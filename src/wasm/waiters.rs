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
    /// A promise that resolves once [`Waiters::resolve`] finds `mark` reached.
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

    /// Resolves the promises whose mark is `reached`.
    pub fn resolve(&self, reached: impl Fn(u64) -> bool) {
        for waiter in self.take(reached) {
            // Settling a promise cannot fail in a way we could act on.
            let _ = waiter.resolve.call0(&JsValue::NULL);
        }
    }

    /// Rejects every waiting promise with `error`.
    pub fn reject_all(&self, error: &JsValue) {
        for waiter in self.take(|_| true) {
            let _ = waiter.reject.call1(&JsValue::NULL, error);
        }
    }

    /// Makes every waiting promise wait for `mark` instead (its counter changed meaning).
    pub fn remark(&self, mark: u64) {
        for waiter in self.0.borrow_mut().iter_mut() {
            waiter.mark = mark;
        }
    }

    fn take(&self, reached: impl Fn(u64) -> bool) -> Vec<Waiter> {
        let mut waiters = self.0.borrow_mut();
        let (ready, waiting) = waiters.drain(..).partition(|w| reached(w.mark));
        *waiters = waiting;
        ready
    }
}
