//! At most one origin fetch per page key per isolate, safe across request contexts.
//!
//! workerd forbids touching I/O objects (a fetch's body stream) from another request's
//! handler, so followers must never poll the leader's fetch (a `futures::Shared` would let
//! them). Instead the leader alone fetches and reads the body in its own context, then
//! leaves the page, as plain data, in each follower's [`Slot`]; followers look for it on
//! their own timers ([`crate::isolate::handoff`]). If the leader goes away (its request
//! was cancelled), its guard tells the followers it is gone and they fetch for themselves.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::isolate::handoff::{self, Slot};
use crate::net::origin::{OriginError, ORIGIN_TIMEOUT};
use launch_edge_core::page::entry::PageEntry;
use launch_edge_core::page::key::PageKey;

thread_local! {
    static FLIGHTS: RefCell<HashMap<PageKey, Vec<Slot<Outcome>>>> = RefCell::new(HashMap::new());
}

/// What a follower receives: plain data, never an I/O object.
#[derive(Debug, Clone)]
enum Outcome {
    Page(PageEntry),
    Failed(String),
    /// The leader went away without an answer.
    Gone,
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
                let slot = Slot::new();
                waiters.push(slot.clone());
                Role::Follower(Follower { slot })
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
        if let Some(key) = self.key.take() {
            hand_over(&key, &outcome);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            hand_over(&key, &Outcome::Gone);
        }
    }
}

fn hand_over(key: &PageKey, outcome: &Outcome) {
    let waiters = FLIGHTS
        .with(|f| f.borrow_mut().remove(key))
        .unwrap_or_default();
    for slot in waiters {
        slot.fill(outcome.clone());
    }
}

pub struct Follower {
    slot: Slot<Outcome>,
}

impl Follower {
    /// The leader's result, or `None` when the leader went away or took too long.
    pub async fn wait(self) -> Option<Result<PageEntry, OriginError>> {
        let patience = ORIGIN_TIMEOUT + std::time::Duration::from_secs(1);
        match handoff::wait(&self.slot, patience).await? {
            Outcome::Page(entry) => Some(Ok(entry)),
            Outcome::Failed(reason) => Some(Err(OriginError::Network(reason))),
            Outcome::Gone => None,
        }
    }
}
