//! At most one origin fetch per page key per isolate, safe across request contexts.
//!
//! workerd forbids touching I/O objects (a fetch's body stream) from another request's
//! handler, so followers must never poll the leader's fetch (a `futures::Shared` would let
//! them). Instead the leader alone fetches and reads the body in its own context, then
//! resolves one JS promise per follower with plain data. Each follower created its promise
//! in its own request context, and workerd runs the continuation there. If the leader goes
//! away (its request was cancelled), its guard wakes the followers with "gone" and they
//! fetch for themselves.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::future::{select, Either};
use serde::{Deserialize, Serialize};
use worker::js_sys::{Function, Promise};
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::Delay;

use crate::net::origin::{OriginError, ORIGIN_TIMEOUT};
use launch_edge_core::page::entry::PageEntry;
use launch_edge_core::page::key::PageKey;

thread_local! {
    static FLIGHTS: RefCell<HashMap<PageKey, Vec<Function>>> = RefCell::new(HashMap::new());
}

/// What a follower receives: plain data, never an I/O object.
#[derive(Debug, Serialize, Deserialize)]
enum Outcome {
    Page(PageEntry),
    Failed(String),
}

pub enum Role {
    /// This caller fetches, then must call [`Leader::finish`].
    Leader(Leader),
    /// Another caller is fetching; await [`Follower::wait`].
    Follower(Follower),
}

pub fn in_flight(key: &PageKey) -> bool {
    FLIGHTS.with(|f| f.borrow().contains_key(key))
}

pub fn join(key: &PageKey) -> Role {
    FLIGHTS.with(|flights| {
        let mut flights = flights.borrow_mut();
        match flights.get_mut(key) {
            Some(waiters) => {
                let mut resolver = None;
                let promise = Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
                waiters.extend(resolver);
                Role::Follower(Follower { promise })
            }
            None => {
                flights.insert(key.clone(), Vec::new());
                Role::Leader(Leader {
                    key: Some(key.clone()),
                })
            }
        }
    })
}

pub struct Leader {
    key: Option<PageKey>,
}

impl Leader {
    pub fn finish(mut self, result: &Result<PageEntry, OriginError>) {
        let outcome = match result {
            Ok(entry) => Outcome::Page(entry.clone()),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        let message = serde_json::to_string(&outcome)
            .map(|s| JsValue::from_str(&s))
            .unwrap_or(JsValue::NULL);
        if let Some(key) = self.key.take() {
            wake(&key, &message);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            wake(&key, &JsValue::NULL);
        }
    }
}

fn wake(key: &PageKey, message: &JsValue) {
    let waiters = FLIGHTS
        .with(|f| f.borrow_mut().remove(key))
        .unwrap_or_default();
    for resolve in waiters {
        let _ = resolve.call1(&JsValue::NULL, message);
    }
}

pub struct Follower {
    promise: Promise,
}

impl Follower {
    /// The leader's result, or `None` when the leader went away or took too long.
    pub async fn wait(self) -> Option<Result<PageEntry, OriginError>> {
        let patience = Delay::from(ORIGIN_TIMEOUT + std::time::Duration::from_secs(1));
        let message = match select(JsFuture::from(self.promise), patience).await {
            Either::Left((Ok(value), _)) => value.as_string()?,
            _ => return None,
        };
        match serde_json::from_str(&message).ok()? {
            Outcome::Page(entry) => Some(Ok(entry)),
            Outcome::Failed(reason) => Some(Err(OriginError::Network(reason))),
        }
    }
}
