//! Worker counters (`edge_<name>` at the origin: webhook rejections, origin fetches)
//! tallied in the isolate and sent as aggregates. Pure: the glue (`crate::tasks`) keeps
//! one tally per isolate, gives it the JS clock, and sends what [`EdgeTally::take`]
//! returns to the task scheduler in one call.
//!
//! Why: the scheduler is one Durable Object for the whole worker (it owns the outbound
//! budgets). One call per counted event made every unauthenticated webhook rejection a
//! write to that object, so a flood of forged webhooks queued in front of task delivery.
//! Tallied here, a flood costs the object at most one call per isolate per
//! [`FLUSH_DELAY_MS`], whatever its rate.
//!
//! The trade-off: counts still in an isolate's tally when it dies are not sent. They are
//! operational counters about refused or internal requests, never an acknowledged event.
//!
//! Bounded: at most [`MAX_NAMES`] distinct names are kept (names come from code and
//! error codes, a few dozen at most); any beyond count under [`OVERFLOW_NAME`].
//!
//! A counter may be counted for a launch (the origin exports it with that `launch`
//! label, as `inbound_rate_limited`): its tally key is `name@launch` ([`launch_key`]),
//! read back by the scheduler with [`parse_key`]. The scheduler keeps at most
//! [`MAX_PENDING_LAUNCH_ROWS`] such rows waiting for a batch; past that (a flood over
//! random slugs), counts keep their name and lose their launch ([`fold_launch`]).

use std::collections::BTreeMap;

/// How long counts gather before they leave together.
pub const FLUSH_DELAY_MS: u64 = 2_000;
/// Rounds one flush chain runs at most before it ends; the next count starts another.
/// Keeps a chain (and the request whose `waitUntil` carries it) short: the platform
/// cuts `waitUntil` work 30 s after the response.
pub const MAX_ROUNDS: u32 = 3;
/// A chain armed longer ago than this was cut short without disarming: count on.
pub const STALE_ARM_MS: u64 = 30_000;
/// Distinct names kept per tally.
pub const MAX_NAMES: usize = 64;
/// Where counts of names beyond [`MAX_NAMES`] go.
pub const OVERFLOW_NAME: &str = "edge_tally_overflow";

/// Separates a counter's name from its launch in a tally key.
pub const LAUNCH_SEPARATOR: char = '@';
/// Launch-scoped counter rows the scheduler keeps waiting for a batch, at most.
pub const MAX_PENDING_LAUNCH_ROWS: usize = 1_000;

/// The tally key of counter `name` counted for `launch`: `name@launch`.
pub fn launch_key(name: &str, launch: &str) -> String {
    format!("{name}{LAUNCH_SEPARATOR}{launch}")
}

/// A tally key's counter name and launch (`None` for a worker-wide counter), or `None`
/// when it is malformed: a name is 1 to 64 of a-z, 0-9, `_`, `.`, `-` (what the origin
/// accepts after `edge_`), a launch a slug.
pub fn parse_key(key: &str) -> Option<(&str, Option<&str>)> {
    let (name, launch) = match key.split_once(LAUNCH_SEPARATOR) {
        Some((name, launch)) => (name, Some(launch)),
        None => (key, None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    let launch_ok = launch.is_none_or(|l| launch_edge_proto::Slug::parse(l).is_ok());
    (name_ok && launch_ok).then_some((name, launch))
}

/// The key to store a count under when `pending_launch_rows` launch-scoped rows already
/// wait and `key` would add another: the worker-wide name once the bound is reached.
pub fn fold_launch(key: &str, new_row: bool, pending_launch_rows: usize) -> &str {
    match parse_key(key) {
        Some((name, Some(_))) if new_row && pending_launch_rows >= MAX_PENDING_LAUNCH_ROWS => name,
        _ => key,
    }
}

/// What the caller of [`EdgeTally::count`] must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCount {
    /// Start a flush chain (none is running).
    StartFlush,
    /// A chain is running and will carry this count.
    Tallied,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeTally {
    counts: BTreeMap<String, u64>,
    /// When the running flush chain started, if one runs.
    armed_at_ms: Option<u64>,
}

impl EdgeTally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one to `name` at `now_ms`.
    pub fn count(&mut self, name: &str, now_ms: u64) -> AfterCount {
        let key = if self.counts.contains_key(name) || self.counts.len() < MAX_NAMES - 1 {
            name
        } else {
            OVERFLOW_NAME
        };
        let slot = self.counts.entry(key.to_owned()).or_insert(0);
        *slot = slot.saturating_add(1);
        match self.armed_at_ms {
            Some(at) if now_ms.saturating_sub(at) < STALE_ARM_MS => AfterCount::Tallied,
            _ => {
                self.armed_at_ms = Some(now_ms);
                AfterCount::StartFlush
            }
        }
    }

    /// Everything tallied, to send now; the chain stays armed so counts arriving during
    /// the send wait for its next round.
    pub fn take(&mut self) -> BTreeMap<String, u64> {
        std::mem::take(&mut self.counts)
    }

    /// After a round (`sent` false: the send failed and `unsent` comes back): whether the
    /// chain goes on for another round. It ends, disarmed, when nothing is left or after
    /// [`MAX_ROUNDS`]; a failed send ends it too, keeping the counts for the next chain.
    pub fn after_round(&mut self, round: u32, sent: bool, unsent: BTreeMap<String, u64>) -> bool {
        for (name, n) in unsent {
            let slot = self.counts.entry(name).or_insert(0);
            *slot = slot.saturating_add(n);
        }
        let more = sent && !self.counts.is_empty() && round < MAX_ROUNDS;
        if !more {
            self.armed_at_ms = None;
        }
        more
    }

    /// Counts waiting to be sent.
    pub fn pending(&self) -> u64 {
        self.counts.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_counts_starts_one_flush_and_leaves_as_one_aggregate() {
        let mut tally = EdgeTally::new();
        assert_eq!(
            tally.count("webhook_rejected.signature_mismatch", 0),
            AfterCount::StartFlush
        );
        for i in 1..5_000 {
            assert_eq!(
                tally.count("webhook_rejected.signature_mismatch", i / 10),
                AfterCount::Tallied
            );
        }
        tally.count("origin_fetch", 400);
        let sent = tally.take();
        assert_eq!(
            sent,
            BTreeMap::from([
                ("origin_fetch".to_owned(), 1),
                ("webhook_rejected.signature_mismatch".to_owned(), 5_000),
            ])
        );
        assert_eq!(tally.pending(), 0);
        assert!(
            !tally.after_round(1, true, BTreeMap::new()),
            "nothing left: done"
        );
        assert_eq!(tally.count("origin_fetch", 3_000), AfterCount::StartFlush);
    }

    #[test]
    fn counts_arriving_during_a_send_leave_in_the_next_round_within_the_round_limit() {
        let mut tally = EdgeTally::new();
        tally.count("a", 0);
        let first = tally.take();
        assert_eq!(tally.count("a", 10), AfterCount::Tallied, "still armed");
        assert_eq!(first["a"], 1);
        assert!(tally.after_round(1, true, BTreeMap::new()));
        assert_eq!(tally.take()["a"], 1);
        tally.count("a", 20);
        assert!(tally.after_round(2, true, BTreeMap::new()));
        tally.take();
        tally.count("a", 30);
        assert!(
            !tally.after_round(MAX_ROUNDS, true, BTreeMap::new()),
            "the chain ends"
        );
        assert_eq!(tally.pending(), 1, "kept for the next chain");
        assert_eq!(tally.count("a", 40), AfterCount::StartFlush);
    }

    #[test]
    fn a_failed_send_keeps_the_counts_and_lets_the_next_count_retry() {
        let mut tally = EdgeTally::new();
        tally.count("a", 0);
        tally.count("b", 0);
        let unsent = tally.take();
        tally.count("a", 5);
        assert!(!tally.after_round(1, false, unsent));
        assert_eq!(tally.pending(), 3);
        assert_eq!(tally.count("b", 6), AfterCount::StartFlush);
        assert_eq!(
            tally.take(),
            BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 2)])
        );
    }

    #[test]
    fn a_chain_cut_short_without_disarming_does_not_stall_counting() {
        let mut tally = EdgeTally::new();
        assert_eq!(tally.count("a", 0), AfterCount::StartFlush);
        assert_eq!(tally.count("a", STALE_ARM_MS - 1), AfterCount::Tallied);
        assert_eq!(tally.count("a", STALE_ARM_MS), AfterCount::StartFlush);
    }

    #[test]
    fn a_launch_scoped_key_names_its_counter_and_launch_and_malformed_keys_are_refused() {
        let key = launch_key("inbound_rate_limited", "acme-notes");
        assert_eq!(key, "inbound_rate_limited@acme-notes");
        assert_eq!(
            parse_key(&key),
            Some(("inbound_rate_limited", Some("acme-notes")))
        );
        assert_eq!(parse_key("origin_fetch"), Some(("origin_fetch", None)));
        assert_eq!(
            parse_key("webhook_rejected.missing_header.webhook-id"),
            Some(("webhook_rejected.missing_header.webhook-id", None))
        );
        for bad in [
            "", "@acme", "Bad@acme", "a@", "a@Acme", "a@-acme", "a@b@c", "a b",
        ] {
            assert_eq!(parse_key(bad), None, "{bad:?}");
        }
        assert_eq!(parse_key(&"n".repeat(65)), None);
    }

    #[test]
    fn launch_scoped_rows_past_the_bound_keep_their_name_and_lose_their_launch() {
        let key = "inbound_rate_limited@acme";
        assert_eq!(fold_launch(key, true, MAX_PENDING_LAUNCH_ROWS - 1), key);
        assert_eq!(
            fold_launch(key, true, MAX_PENDING_LAUNCH_ROWS),
            "inbound_rate_limited"
        );
        assert_eq!(
            fold_launch(key, false, MAX_PENDING_LAUNCH_ROWS),
            key,
            "a row already waiting still grows"
        );
        assert_eq!(
            fold_launch("origin_fetch", true, MAX_PENDING_LAUNCH_ROWS),
            "origin_fetch"
        );
    }

    #[test]
    fn distinct_names_are_bounded() {
        let mut tally = EdgeTally::new();
        for i in 0..1_000 {
            tally.count(&format!("name_{i}"), 0);
        }
        let sent = tally.take();
        assert_eq!(sent.len(), MAX_NAMES);
        assert_eq!(sent[OVERFLOW_NAME], 1_000 - (MAX_NAMES as u64 - 1));
        assert_eq!(sent.values().sum::<u64>(), 1_000);
    }
}
