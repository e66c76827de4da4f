//! Which launch slugs exist, as one isolate knows them (pure; the glue is `pages`).
//!
//! Without this, every never-seen slug is a cache miss that costs an origin render, and
//! a stranger requesting random slugs sends the origin one render per request. So before
//! any origin render, a slug missing from every cache layer is checked against the
//! launch list (`GET /internal/launches`), kept in the isolate:
//!
//! - a slug in the list renders as before; a slug that rendered a page joins the list;
//! - a slug not in a list older than [`REFRESH_AFTER_MS`] makes the isolate fetch the
//!   list again first (one fetch at a time, the others wait for it);
//! - a slug not in a fresher list may still be rendered, within a small budget
//!   ([`PROBE_BURST`], then one per [`PROBE_EVERY_MS`]): the origin's answer decides
//!   (its 404 is cached briefly, as before), so a launch created after the last fetch
//!   works at once. Past the budget the slug is answered 404 at the edge with no origin
//!   call. A flood of random slugs thus costs each isolate at most one list fetch per
//!   [`REFRESH_AFTER_MS`] and four renders a second, whatever its rate, and a launch
//!   created during such a flood is found on the next list fetch;
//! - while the list cannot be fetched (the origin is down), an unlisted slug is 503, as
//!   an uncached page was before.

use std::collections::HashSet;

/// How often an unlisted slug may make the isolate fetch the launch list again.
pub const REFRESH_AFTER_MS: u64 = 5_000;
/// Renders of unlisted slugs an isolate may start at once, and the pace of more.
pub const PROBE_BURST: u32 = 10;
pub const PROBE_EVERY_MS: u64 = 250;
/// A fetch not finished after this long is taken as lost (its request went away).
pub const FETCH_LOST_AFTER_MS: u64 = 10_000;

/// What to do with a slug that no cache layer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Listed: render it through the origin.
    Known,
    /// Not listed, but within the budget: render it, the origin decides.
    Probe,
    /// Not listed in a list fresh enough, and the budget is spent: 404 without asking
    /// the origin.
    Unknown,
    /// Fetch the list now, then ask again.
    Refresh,
    /// Another request is fetching the list: wait for it, then ask again.
    Wait,
    /// The list could not be fetched lately: 503.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownLaunches {
    slugs: HashSet<String>,
    /// When the last fetch started, and whether it succeeded (`None` while in flight).
    last_fetch: Option<(u64, Option<bool>)>,
    /// Renders of unlisted slugs allowed now, and when the budget was last topped up.
    probes: u32,
    probes_at_ms: u64,
}

impl Default for KnownLaunches {
    fn default() -> Self {
        Self {
            slugs: HashSet::new(),
            last_fetch: None,
            probes: PROBE_BURST,
            probes_at_ms: 0,
        }
    }
}

impl KnownLaunches {
    /// What to do with `slug` at `now_ms` (a [`Verdict::Probe`] uses up budget).
    pub fn verdict(&mut self, slug: &str, now_ms: u64) -> Verdict {
        if self.slugs.contains(slug) {
            return Verdict::Known;
        }
        match self.last_fetch {
            None => Verdict::Refresh,
            Some((at, None)) if now_ms.saturating_sub(at) < FETCH_LOST_AFTER_MS => Verdict::Wait,
            Some((at, Some(ok))) if now_ms.saturating_sub(at) < REFRESH_AFTER_MS => {
                if !ok {
                    Verdict::Unavailable
                } else if self.take_probe(now_ms) {
                    Verdict::Probe
                } else {
                    Verdict::Unknown
                }
            }
            Some(_) => Verdict::Refresh,
        }
    }

    fn take_probe(&mut self, now_ms: u64) -> bool {
        let earned = now_ms.saturating_sub(self.probes_at_ms) / PROBE_EVERY_MS;
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.probes = self.probes.saturating_add(earned).min(PROBE_BURST);
            // Keep the fraction of an interval already earned.
            self.probes_at_ms = now_ms - now_ms.saturating_sub(self.probes_at_ms) % PROBE_EVERY_MS;
        }
        if self.probes == 0 {
            return false;
        }
        self.probes -= 1;
        true
    }

    /// A fetch of the list starts (call when [`Verdict::Refresh`] was answered).
    pub fn fetching(&mut self, now_ms: u64) {
        self.last_fetch = Some((now_ms, None));
    }

    /// The fetch returned the list.
    pub fn fetched(&mut self, slugs: impl IntoIterator<Item = String>) {
        self.slugs = slugs.into_iter().collect();
        self.finish(true);
    }

    /// The fetch failed.
    pub fn failed(&mut self) {
        self.finish(false);
    }

    fn finish(&mut self, ok: bool) {
        if let Some((at, _)) = self.last_fetch {
            self.last_fetch = Some((at, Some(ok)));
        }
    }

    /// The origin rendered a page for `slug`: it exists.
    pub fn found(&mut self, slug: &str) {
        if !self.slugs.contains(slug) {
            self.slugs.insert(slug.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_unlisted_slug_fetches_the_list_and_others_wait_for_it() {
        let mut known = KnownLaunches::default();
        assert_eq!(known.verdict("acme", 0), Verdict::Refresh);
        known.fetching(0);
        assert_eq!(known.verdict("acme", 1), Verdict::Wait);
        assert_eq!(
            known.verdict("acme", FETCH_LOST_AFTER_MS),
            Verdict::Refresh,
            "a lost fetch"
        );
        known.fetched(["acme".to_owned()]);
        assert_eq!(known.verdict("acme", 2), Verdict::Known);
        assert_eq!(
            known.verdict("maybe-new", 2),
            Verdict::Probe,
            "the origin decides"
        );
    }

    #[test]
    fn random_slugs_cost_at_most_one_list_fetch_per_interval_and_two_renders_a_second() {
        let mut known = KnownLaunches::default();
        let (mut fetches, mut renders) = (0, 0);
        for i in 0..100_000u64 {
            let now = i; // one request a millisecond: 100 s of random slugs
            loop {
                match known.verdict(&format!("random-{i}"), now) {
                    Verdict::Refresh => {
                        fetches += 1;
                        known.fetching(now);
                        known.fetched(Vec::new());
                    }
                    Verdict::Probe => break renders += 1,
                    Verdict::Unknown => break,
                    other => panic!("{other:?} for a random slug"),
                }
            }
        }
        assert_eq!(fetches, 100_000 / REFRESH_AFTER_MS);
        let most = u64::from(PROBE_BURST) + 100_000 / PROBE_EVERY_MS;
        assert!(
            (100_000 / PROBE_EVERY_MS..=most).contains(&renders),
            "{renders} renders"
        );
    }

    #[test]
    fn a_launch_created_after_the_last_fetch_is_found_on_the_next_one() {
        let mut known = KnownLaunches::default();
        known.fetching(0);
        known.fetched(Vec::new());
        // During a flood the budget is spent: an unlisted slug is 404 until the next fetch.
        while known.verdict("junk", 1) == Verdict::Probe {}
        assert_eq!(known.verdict("brand-new", 1), Verdict::Unknown);
        assert_eq!(
            known.verdict("brand-new", REFRESH_AFTER_MS),
            Verdict::Refresh
        );
        known.fetching(REFRESH_AFTER_MS);
        known.fetched(["brand-new".to_owned()]);
        assert_eq!(known.verdict("brand-new", REFRESH_AFTER_MS), Verdict::Known);
        known.found("prewarmed");
        assert_eq!(known.verdict("prewarmed", 0), Verdict::Known);
    }

    #[test]
    fn while_the_list_cannot_be_fetched_unlisted_slugs_are_unavailable_not_unknown() {
        let mut known = KnownLaunches::default();
        known.fetching(0);
        known.fetched(["acme".to_owned()]);
        known.fetching(10_000);
        known.failed();
        assert_eq!(known.verdict("other", 10_001), Verdict::Unavailable);
        assert_eq!(
            known.verdict("acme", 10_001),
            Verdict::Known,
            "listed before"
        );
        assert_eq!(
            known.verdict("other", 10_000 + REFRESH_AFTER_MS),
            Verdict::Refresh
        );
    }
}
