//! The page layer this isolate keeps in memory, and the per-key state that goes with it:
//! the pages themselves, when a key's last origin fetch failed (so an outage does not
//! turn every stale hit into another doomed fetch), the launch list and the requests
//! waiting for its fetch. Every map is bounded by `memory_cache_entries`.

use std::cell::RefCell;

use launch_edge_core::bounded_map::BoundedMap;
use launch_edge_core::config::Config;
use launch_edge_core::page::entry::PageEntry;
use launch_edge_core::page::key::PageKey;
use launch_edge_core::page::known_launches::KnownLaunches;

use crate::isolate::handoff::Slot;

#[derive(Default)]
pub struct PageMemory {
    pages: Option<BoundedMap<PageKey, PageEntry>>,
    /// Only keys that reached the origin get here.
    last_failure_ms: Option<BoundedMap<PageKey, u64>>,
    pub known: KnownLaunches,
    /// Requests waiting for the launch list fetch in flight.
    pub list_waiters: Vec<Slot<()>>,
}

thread_local! {
    static MEMORY: RefCell<PageMemory> = RefCell::new(PageMemory::default());
}

/// Runs `f` on this isolate's page memory (never across an `await`).
pub fn with<R>(f: impl FnOnce(&mut PageMemory) -> R) -> R {
    MEMORY.with(|m| f(&mut m.borrow_mut()))
}

pub fn get(key: &PageKey) -> Option<PageEntry> {
    with(|m| m.pages.as_ref().and_then(|p| p.get(key)))
}

pub fn put(config: &Config, key: &PageKey, entry: &PageEntry) {
    with(|m| {
        let pages = m
            .pages
            .get_or_insert_with(|| BoundedMap::new(config.memory_cache_entries));
        pages.set_capacity(config.memory_cache_entries);
        pages.insert(key.clone(), entry.clone());
    });
}

pub fn remove(key: &PageKey) {
    with(|m| {
        if let Some(pages) = m.pages.as_mut() {
            pages.remove(key);
        }
    });
}

impl PageMemory {
    /// When the last origin fetch of `key` failed, if it did.
    pub fn last_failure_ms(&self, key: &PageKey) -> Option<u64> {
        self.last_failure_ms.as_ref().and_then(|m| m.get(key))
    }

    /// Records the outcome of an origin fetch of `key`.
    pub fn record_fetch(&mut self, config: &Config, key: &PageKey, failed_at_ms: Option<u64>) {
        let failures = self
            .last_failure_ms
            .get_or_insert_with(|| BoundedMap::new(config.memory_cache_entries));
        match failed_at_ms {
            None => {
                failures.remove(key);
            }
            Some(t) => failures.insert(key.clone(), t),
        }
    }
}
