//! A small bounded map for the isolate's memory cache (first in, first out).
//!
//! Isolates live for many requests, so the hottest pages are answered without any I/O.
//! The bound keeps a flood of distinct keys from growing the isolate's memory.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Debug)]
pub struct BoundedMap<K, V> {
    capacity: usize,
    entries: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.entries.get(key).cloned()
    }

    pub fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.entries.remove(&oldest);
                }
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let value = self.entries.remove(key)?;
        self.order.retain(|k| k != key);
        Some(value)
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_goes_first_when_full() {
        let mut map = BoundedMap::new(2);
        map.insert("a", 1);
        map.insert("b", 2);
        map.insert("c", 3);
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(&"a"), None);
        assert_eq!(map.get(&"c"), Some(3));
    }

    #[test]
    fn replacing_a_value_keeps_its_place_and_the_bound() {
        let mut map = BoundedMap::new(2);
        map.insert("a", 1);
        map.insert("a", 10);
        map.insert("b", 2);
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(&"a"), Some(10));
    }

    #[test]
    fn a_removed_key_is_gone_and_frees_its_place() {
        let mut map = BoundedMap::new(2);
        map.insert("a", 1);
        map.insert("b", 2);
        assert_eq!(map.remove(&"a"), Some(1));
        assert_eq!(map.remove(&"a"), None);
        map.insert("c", 3);
        assert_eq!(
            (map.get(&"b"), map.get(&"c"), map.len()),
            (Some(2), Some(3), 2)
        );
    }

    #[test]
    fn a_flood_of_keys_never_exceeds_the_capacity() {
        let mut map = BoundedMap::new(8);
        for i in 0..10_000 {
            map.insert(i, i);
        }
        assert_eq!(map.len(), 8);
        assert_eq!(map.get(&9_999), Some(9_999));
    }
}
