//! How one request hands a plain value to other requests of the same isolate that wait
//! for it (a batch's outcome, a coalesced page, the launch list), without ever running
//! their code in its own request context.
//!
//! The obvious tool is not safe here: a JS promise made by the waiter and resolved by the
//! request that did the work. wasm-bindgen-futures polls every woken Rust task from one
//! queue shared by the whole isolate, in the JS turn of whoever woke it, so the waiter's
//! code goes on inside the *resolver's* request context. The timers and subrequests it
//! starts there belong to a request that may end first; workerd then cancels them, the
//! waiter hangs ("the Worker's code had hung"), and a timer cleared from the wrong context
//! later fires into a dropped closure ("closure invoked recursively or after being
//! dropped"). Under 32 concurrent clicks this stopped counting altogether within 30 s
//! (`worker-tests/sustained.test.mjs` keeps it from coming back).
//!
//! So nobody wakes anybody: the request that finishes the work writes the value into a
//! [`Slot`], and each waiter looks at its slot on its own timers
//! ([`launch_edge_core::poll::Pauses`]: after 1 ms, then doubling up to a cap). Every task
//! is then woken only by its own request's timers and I/O.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use launch_edge_core::poll::Pauses;
use worker::Delay;

use crate::net::origin::now_ms;

/// The longest pause between two looks at a slot.
pub const POLL_CAP: Duration = Duration::from_millis(8);

/// Where a value for one waiter is left; the waiter keeps a clone and [`wait`]s on it.
#[derive(Debug)]
pub struct Slot<T>(Rc<RefCell<Option<T>>>);

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self(Rc::clone(&self.0))
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(Rc::new(RefCell::new(None)))
    }
}

impl<T> Slot<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves `value` for the waiter (a later fill replaces an unread one).
    pub fn fill(&self, value: T) {
        *self.0.borrow_mut() = Some(value);
    }

    fn take(&self) -> Option<T> {
        self.0.borrow_mut().take()
    }
}

/// The value left in `slot`, looked for on this request's own timers; `None` once
/// `patience` has passed (by the clock) without one.
pub async fn wait<T>(slot: &Slot<T>, patience: Duration) -> Option<T> {
    wait_watching(slot, patience, || {}).await
}

/// [`wait`], calling `on_empty` at every look that finds the slot still empty (the
/// waiter's chance to see that whoever should fill it is still there).
pub async fn wait_watching<T>(
    slot: &Slot<T>,
    patience: Duration,
    mut on_empty: impl FnMut(),
) -> Option<T> {
    let deadline = now_ms().saturating_add(patience.as_millis() as u64);
    let mut pauses = Pauses::up_to(POLL_CAP.as_millis() as u64);
    let mut looked = false;
    loop {
        if let Some(value) = slot.take() {
            return Some(value);
        }
        let now = now_ms();
        if now >= deadline {
            return None;
        }
        if looked {
            on_empty();
        }
        looked = true;
        let pause = pauses.next_pause().min(deadline - now);
        Delay::from(Duration::from_millis(pause)).await;
    }
}
