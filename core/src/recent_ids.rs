//! Ids remembered for a fixed window, in memory and mirrored in a Durable Object's SQLite
//! table: what makes "apply once" hold for a redelivery. Pure: the glue runs the returned
//! statements with no `await` in between, together with the writes of the change the id
//! stands for, so "applied" and "remembered" commit as one.
//!
//! Used twice: the webhook inbox remembers `(source, event_id)` for its source's dedupe
//! window (the dedupe store; [`DEFAULT_DEDUPE_WINDOW_MS`] unless the source sets one, at
//! most [`MAX_DEDUPE_WINDOW_MS`]), and a counter shard remembers the idempotency key of
//! every webhook conversion it counted for [`DEDUPE_WINDOW_MS`], so a delivery retried
//! after a crash between "counted" and "recorded" is not counted again.
//!
//! Bounded: [`RecentIds::remember`] also forgets ids older than the window (measured from
//! the time it is given), and [`RecentIds::purge`] does the same from an alarm when no
//! new id arrives. Timestamps come from the caller (the JS clock at the edge).

use std::collections::{BTreeSet, HashMap};

use crate::count::shard::SqlValue;

const HOUR_MS: i64 = 60 * 60 * 1000;

/// How long a delivered webhook id is remembered when its source sets no window: longer
/// than the longest automatic retry schedule of the senders we take (Stripe retries for
/// up to three days; Standard Webhooks senders for about a day), plus a day of margin
/// for a first attempt that reached us late.
pub const DEFAULT_DEDUPE_WINDOW_MS: i64 = 4 * 24 * HOUR_MS;

/// The longest window a source may configure (a month: manual resends from a sender's
/// dashboard reach back that far).
pub const MAX_DEDUPE_WINDOW_MS: i64 = 30 * 24 * HOUR_MS;

/// The shortest window a source may configure: below a few hours even a sender's quick
/// retries would count twice.
pub const MIN_DEDUPE_WINDOW_MS: i64 = HOUR_MS;

/// How long a counter shard remembers the idempotency key of a webhook conversion it
/// counted. A shard serves every source, so it keeps keys for the longest window any
/// source may have: a redelivery the inbox still dedupes is never counted twice here.
pub const DEDUPE_WINDOW_MS: i64 = MAX_DEDUPE_WINDOW_MS;

// Checked when compiling: the default outlasts Stripe's three days of retries, and no
// window a source may set outlasts the counter shard's memory of what it counted.
const _: () = assert!(DEFAULT_DEDUPE_WINDOW_MS >= 3 * 24 * HOUR_MS);
const _: () = assert!(DEDUPE_WINDOW_MS >= MAX_DEDUPE_WINDOW_MS);

/// A SQL statement with `?` parameters, for `SqlStorage::exec`.
pub type Statement = (String, Vec<SqlValue>);

/// The remembered ids of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentIds {
    table: &'static str,
    window_ms: i64,
    at: HashMap<String, i64>,
    by_time: BTreeSet<(i64, String)>,
}

impl RecentIds {
    /// An empty set kept in `table` (a fixed identifier, never user input).
    pub fn new(table: &'static str, window_ms: i64) -> Self {
        Self {
            table,
            window_ms,
            at: HashMap::new(),
            by_time: BTreeSet::new(),
        }
    }

    /// The table definition (idempotent).
    pub fn schema(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
            self.table
        )
    }

    /// Columns: id, at_ms.
    pub fn select_all(&self) -> String {
        format!("SELECT id, at_ms FROM {}", self.table)
    }

    /// Rebuilds the set from the rows of [`RecentIds::select_all`].
    pub fn restore(mut self, rows: impl IntoIterator<Item = (String, i64)>) -> Self {
        for (id, at_ms) in rows {
            self.insert(id, at_ms);
        }
        self
    }

    /// The window ids are kept for.
    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Changes the window (a source's configured window changed); clamped to
    /// [`MIN_DEDUPE_WINDOW_MS`]..=[`MAX_DEDUPE_WINDOW_MS`]. Ids already kept stay until
    /// the next purge measures them against the new window.
    pub fn set_window(&mut self, window_ms: i64) {
        self.window_ms = window_ms.clamp(MIN_DEDUPE_WINDOW_MS, MAX_DEDUPE_WINDOW_MS);
    }

    pub fn contains(&self, id: &str) -> bool {
        self.at.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// When the oldest id expires (for the purge alarm), if any id is kept.
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.by_time
            .first()
            .map(|(at, _)| at.saturating_add(self.window_ms))
    }

    /// Remembers `id` as applied at `now_ms` and forgets expired ids. Returns the writes;
    /// an id already remembered keeps its first time and costs nothing.
    pub fn remember(&mut self, id: &str, now_ms: i64) -> Vec<Statement> {
        let mut statements = self.purge(now_ms);
        if !self.contains(id) {
            self.insert(id.to_owned(), now_ms);
            statements.push((
                format!(
                    "INSERT OR IGNORE INTO {} (id, at_ms) VALUES (?, ?)",
                    self.table
                ),
                vec![SqlValue::Text(id.to_owned()), SqlValue::Integer(now_ms)],
            ));
        }
        statements
    }

    /// Forgets ids remembered more than the window before `now_ms`. Returns the delete,
    /// or nothing when no id expired.
    pub fn purge(&mut self, now_ms: i64) -> Vec<Statement> {
        let cutoff = now_ms.saturating_sub(self.window_ms);
        let expired: Vec<(i64, String)> = self
            .by_time
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .cloned()
            .collect();
        if expired.is_empty() {
            return Vec::new();
        }
        for (at, id) in expired {
            self.by_time.remove(&(at, id.clone()));
            self.at.remove(&id);
        }
        vec![(
            format!("DELETE FROM {} WHERE at_ms < ?", self.table),
            vec![SqlValue::Integer(cutoff)],
        )]
    }

    fn insert(&mut self, id: String, at_ms: i64) {
        if let Some(previous) = self.at.insert(id.clone(), at_ms) {
            self.by_time.remove(&(previous, id.clone()));
        }
        self.by_time.insert((at_ms, id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 60 * 60 * 1000;
    const DAY: i64 = 24 * HOUR;
    const WINDOW: i64 = DAY;

    fn ids() -> RecentIds {
        RecentIds::new("seen", WINDOW)
    }

    #[test]
    fn by_default_a_stripe_retry_three_days_after_the_first_delivery_is_still_recognised() {
        let mut seen = RecentIds::new("seen", DEFAULT_DEDUPE_WINDOW_MS);
        seen.remember("stripe:evt_1", 0);
        let last_stripe_retry = 3 * DAY;
        assert!(seen.purge(last_stripe_retry).is_empty());
        assert!(seen.contains("stripe:evt_1"));
        assert!(seen.remember("stripe:evt_1", last_stripe_retry).is_empty());
    }

    #[test]
    fn the_counter_shards_window_covers_every_window_a_source_may_set() {
        let mut longest = RecentIds::new("applied", DEDUPE_WINDOW_MS);
        longest.remember("webhook:k", 0);
        longest.purge(MAX_DEDUPE_WINDOW_MS);
        assert!(longest.contains("webhook:k"));
    }

    #[test]
    fn a_changed_window_is_clamped_and_applies_from_the_next_purge() {
        let mut seen = RecentIds::new("seen", DEFAULT_DEDUPE_WINDOW_MS);
        seen.remember("a", 0);
        seen.set_window(2 * HOUR);
        assert_eq!(seen.window_ms(), 2 * HOUR);
        assert_eq!(seen.next_expiry_ms(), Some(2 * HOUR));
        assert!(!seen.purge(2 * HOUR + 1).is_empty());
        assert!(!seen.contains("a"));
        seen.set_window(1);
        assert_eq!(seen.window_ms(), MIN_DEDUPE_WINDOW_MS);
        seen.set_window(i64::MAX);
        assert_eq!(seen.window_ms(), MAX_DEDUPE_WINDOW_MS);
    }

    #[test]
    fn a_remembered_id_is_recognised_and_written_once() {
        let mut seen = ids();
        let first = seen.remember("evt_1", 1_000);
        assert_eq!(first.len(), 1);
        assert!(first[0].0.starts_with("INSERT OR IGNORE INTO seen"));
        assert_eq!(
            first[0].1,
            vec![SqlValue::Text("evt_1".into()), SqlValue::Integer(1_000)]
        );
        assert!(seen.contains("evt_1") && !seen.contains("evt_2"));
        assert!(seen.remember("evt_1", 2_000).is_empty(), "no second write");
        assert_eq!(seen.next_expiry_ms(), Some(1_000 + WINDOW));
    }

    #[test]
    fn ids_are_kept_for_the_whole_window_and_forgotten_after_it() {
        let mut seen = ids();
        seen.remember("old", 0);
        seen.remember("newer", 10 * HOUR);
        assert!(seen.purge(WINDOW).is_empty(), "exactly 24 h: kept");
        let purge = seen.purge(WINDOW + 1);
        assert_eq!(
            purge,
            vec![(
                "DELETE FROM seen WHERE at_ms < ?".to_owned(),
                vec![SqlValue::Integer(1)]
            )]
        );
        assert!(!seen.contains("old") && seen.contains("newer"));
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn remembering_a_new_id_forgets_the_expired_ones_in_the_same_writes() {
        let mut seen = ids();
        seen.remember("a", 0);
        let statements = seen.remember("b", WINDOW + HOUR);
        let sql: Vec<&str> = statements.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            sql,
            [
                "DELETE FROM seen WHERE at_ms < ?",
                "INSERT OR IGNORE INTO seen (id, at_ms) VALUES (?, ?)"
            ]
        );
        assert!(!seen.contains("a") && seen.contains("b"));
    }

    #[test]
    fn a_restored_set_equals_the_one_that_wrote_the_rows() {
        let mut seen = ids();
        seen.remember("x", 5);
        seen.remember("y", 7);
        let restored = ids().restore([("y".to_owned(), 7), ("x".to_owned(), 5)]);
        assert_eq!(restored, seen);
        assert_eq!(restored.next_expiry_ms(), Some(5 + WINDOW));
        assert!(ids().is_empty() && ids().next_expiry_ms().is_none());
        assert!(ids().schema().contains("CREATE TABLE IF NOT EXISTS seen"));
        assert_eq!(ids().select_all(), "SELECT id, at_ms FROM seen");
    }
}
