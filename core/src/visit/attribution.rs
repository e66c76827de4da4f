//! Where a visit came from: one bounded source label per visit, plus medium and campaign.
//!
//! Rules, first match wins:
//! 1. `ref=producthunt`, `utm_source=producthunt` or a Referer on producthunt.com (or a
//!    subdomain) is the headline source [`PRODUCT_HUNT`];
//! 2. else `utm_source`; 3. else `ref`; 4. else the Referer's host, lowercased, without
//!    `www.` and port (a Referer from our own host is ignored: it is navigation);
//! 5. else [`DIRECT`].
//!
//! Every label is untrusted input that becomes a counter key, so it is sanitized to
//! `[a-z0-9._-]`, at most [`MAX_LABEL_LEN`] characters (runs of anything else become one
//! `-`). That bounds each label; the number of distinct labels per launch and day is
//! bounded where they are counted, by [`LabelSlots`] (one per shard, launch and day):
//!
//! - the [`KNOWN_SOURCES`] (Product Hunt, direct, the big social and search sites,
//!   newsletters, webhooks and signed server calls) always count under their own label
//!   and use no slot: a stranger cannot push them into `other`;
//! - any other label gets one of the day's slots (`Limits::max_sources_per_day`) only by
//!   frequency, not by arriving first: it is admitted on its [`ADMIT_AFTER_HITS`]-th hit
//!   of the day, and its earlier hits count as [`OTHER`]. A flood of random values, each
//!   seen once or twice, never takes a slot; a real campaign that keeps bringing
//!   visitors does. Hits are tallied for at most [`MAX_CANDIDATES`] labels; when the
//!   tally is full the label with the fewest hits (the least recent among equals) is
//!   dropped from it, so a label keeps its hits as long as fewer than that many one-off
//!   labels arrive between two of its hits: repeating labels survive a flood;
//! - once every slot is taken, new labels count as [`OTHER`].
//!
//! The tally lives in memory only: a shard restart forgets hits of labels not yet
//! admitted (admitted ones are restored from the stored totals).
//!
//! `utm_medium` and `utm_campaign` are parsed and sanitized the same way, carried in
//! [`Attribution`] and counted as two more dimensions of every counter, bounded by slots
//! of their own ([`KNOWN_MEDIUMS`] use none); a visit without one counts under the empty
//! label. Unlike a source, a medium or campaign takes a free slot on its first hit
//! ([`LabelSlots::first_come`]): a team's campaign often brings a handful of visitors,
//! whose events the isolates spread over every shard of the launch, so a third hit in
//! one shard may never come and the campaign would vanish into `other`. The price: a
//! flood of random campaigns can fill a shard's slots for the day, after which new
//! campaigns there count as `other`; the source dimension, which the headline figures
//! use, keeps the frequency rule.

/// The headline source of a Product Hunt launch.
pub const PRODUCT_HUNT: &str = "producthunt";
/// No query attribution and no (foreign) Referer.
pub const DIRECT: &str = "direct";
/// Where labels beyond the per-day limit are folded.
pub const OTHER: &str = "other";
/// Longest label kept, in characters (ASCII after sanitizing).
pub const MAX_LABEL_LEN: usize = 64;

const PRODUCT_HUNT_HOST: &str = "producthunt.com";

/// Labels always counted as themselves, outside the per-day slots.
pub const KNOWN_SOURCES: &[&str] = &[
    PRODUCT_HUNT,
    DIRECT,
    OTHER,
    "webhook",
    "server",
    "twitter",
    "twitter.com",
    "x.com",
    "t.co",
    "linkedin",
    "linkedin.com",
    "lnkd.in",
    "facebook",
    "facebook.com",
    "instagram.com",
    "reddit",
    "reddit.com",
    "hn",
    "hackernews",
    "news.ycombinator.com",
    "google",
    "google.com",
    "bing.com",
    "duckduckgo.com",
    "youtube.com",
    "github.com",
    "indiehackers.com",
    "newsletter",
    "email",
];
/// Hits of the day a label needs before it takes a slot.
pub const ADMIT_AFTER_HITS: u32 = 3;
/// Labels whose hits are tallied at once, per shard, launch and day.
pub const MAX_CANDIDATES: usize = 512;

/// The `utm_medium` values always counted as themselves, outside the per-day slots.
pub const KNOWN_MEDIUMS: &[&str] = &[
    OTHER,
    "email",
    "newsletter",
    "social",
    "cpc",
    "paid",
    "paid_social",
    "display",
    "organic",
    "referral",
    "affiliate",
    "community",
];
/// The `utm_campaign` values always counted as themselves: only the fold-over label.
pub const KNOWN_CAMPAIGNS: &[&str] = &[OTHER];

/// Which labels of one dimension (source, medium or campaign), launch and day count as
/// themselves (see the module): the dimension's known labels always, any other label
/// once admitted by frequency into one of the day's slots.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSlots {
    known: &'static [&'static str],
    /// Hits a label needs before it takes a slot.
    admit_after: u32,
    admitted: BTreeSet<String>,
    /// Label → (hits, when last seen), for labels not admitted yet.
    candidates: HashMap<String, (u32, u64)>,
    clock: u64,
}

impl Default for LabelSlots {
    /// Slots for sources ([`KNOWN_SOURCES`] always count).
    fn default() -> Self {
        Self::new(KNOWN_SOURCES)
    }
}

impl LabelSlots {
    /// Slots of a dimension whose `known` labels always count as themselves, admitting
    /// any other label on its [`ADMIT_AFTER_HITS`]-th hit.
    pub fn new(known: &'static [&'static str]) -> Self {
        Self {
            known,
            admit_after: ADMIT_AFTER_HITS,
            admitted: BTreeSet::new(),
            candidates: HashMap::new(),
            clock: 0,
        }
    }

    /// Slots that admit any label on its first hit while one is free (mediums and
    /// campaigns, see the module).
    pub fn first_come(known: &'static [&'static str]) -> Self {
        Self {
            admit_after: 1,
            ..Self::new(known)
        }
    }

    /// Whether a hit of `label` counts under its own name (else as [`OTHER`]), with
    /// `slots` slots for labels outside the known ones.
    pub fn admit(&mut self, label: &str, slots: usize) -> bool {
        self.admit_new(label, slots).is_some()
    }

    /// Like [`LabelSlots::admit`], and says whether this hit is the one that took a slot
    /// (`Some(true)`: the caller persists the admission), or the label already counted
    /// as itself (`Some(false)`); `None` when it counts as [`OTHER`].
    pub fn admit_new(&mut self, label: &str, slots: usize) -> Option<bool> {
        if self.known.contains(&label) || self.admitted.contains(label) {
            return Some(false);
        }
        if self.admitted.len() >= slots {
            self.candidates.clear();
            return None;
        }
        self.clock += 1;
        if !self.candidates.contains_key(label) && self.candidates.len() >= MAX_CANDIDATES {
            let weakest = self
                .candidates
                .iter()
                .min_by_key(|(_, &(hits, seen))| (hits, seen))
                .map(|(l, _)| l.clone());
            if let Some(weakest) = weakest {
                self.candidates.remove(&weakest);
            }
        }
        let tally = self.candidates.entry(label.to_owned()).or_insert((0, 0));
        *tally = (tally.0 + 1, self.clock);
        if tally.0 < self.admit_after {
            return None;
        }
        self.candidates.remove(label);
        self.admitted.insert(label.to_owned());
        Some(true)
    }

    /// A label that already has counts (restored from storage) keeps its slot.
    pub fn restore_admitted(&mut self, label: &str) {
        if !self.known.contains(&label) {
            self.admitted.insert(label.to_owned());
        }
    }

    /// Labels holding a slot.
    pub fn admitted(&self) -> usize {
        self.admitted.len()
    }
}

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub source: String,
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

/// Attributes a visit from its decoded query pairs and its `Referer` header.
///
/// `own_host` is the host the launch pages are served on; a Referer from it is ignored.
pub fn attribute<'a>(
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    referer: Option<&str>,
    own_host: Option<&str>,
) -> Attribution {
    let mut ref_param = None;
    let mut utm_source = None;
    let mut medium = None;
    let mut campaign = None;
    for (name, value) in query {
        // The first usable value of a parameter wins; repeats cannot override it.
        let slot = match name {
            "ref" => &mut ref_param,
            "utm_source" => &mut utm_source,
            "utm_medium" => &mut medium,
            "utm_campaign" => &mut campaign,
            _ => continue,
        };
        if slot.is_none() {
            *slot = sanitize_label(value);
        }
    }
    let referer_host = referer
        .and_then(referer_host)
        .filter(|host| own_host.and_then(normalize_host).as_deref() != Some(host.as_str()));

    let from_product_hunt = ref_param.as_deref() == Some(PRODUCT_HUNT)
        || utm_source.as_deref() == Some(PRODUCT_HUNT)
        || referer_host.as_deref().is_some_and(is_product_hunt_host);
    let source = if from_product_hunt {
        PRODUCT_HUNT.to_owned()
    } else {
        utm_source
            .or(ref_param)
            .or(referer_host)
            .unwrap_or_else(|| DIRECT.to_owned())
    };
    Attribution {
        source,
        medium,
        campaign,
    }
}

/// Lowercases and restricts a label to `[a-z0-9._-]`, at most [`MAX_LABEL_LEN`] long.
/// Runs of other characters become one `-`; `None` when nothing is left.
pub fn sanitize_label(raw: &str) -> Option<String> {
    let mut label = String::with_capacity(raw.len().min(MAX_LABEL_LEN));
    let mut pending_dash = false;
    for c in raw.trim().chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
            if pending_dash && !label.is_empty() {
                label.push('-');
            }
            pending_dash = false;
            label.push(c);
        } else {
            pending_dash = true;
        }
        if label.len() >= MAX_LABEL_LEN {
            break;
        }
    }
    label.truncate(MAX_LABEL_LEN);
    let label = label.trim_matches(|c| matches!(c, '-' | '.' | '_'));
    (!label.is_empty()).then(|| label.to_owned())
}

/// The normalized host of a Referer URL (`https://www.Example.com:8443/x` → `example.com`).
pub fn referer_host(referer: &str) -> Option<String> {
    let (_, rest) = referer.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    normalize_host(authority)
}

/// Lowercases a host, drops userinfo, port, a trailing dot and a leading `www.`, and
/// rejects anything that is not a plausible DNS name or IPv4 address.
fn normalize_host(authority: &str) -> Option<String> {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split_once(':').map_or(host, |(h, _)| h);
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let valid = !host.is_empty()
        && host.len() <= MAX_LABEL_LEN
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    valid.then(|| host.to_owned())
}

fn is_product_hunt_host(host: &str) -> bool {
    host == PRODUCT_HUNT_HOST || host.ends_with(".producthunt.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(query: &[(&str, &str)], referer: Option<&str>) -> String {
        attribute(query.iter().copied(), referer, Some("launch.example.com")).source
    }

    #[test]
    fn ref_producthunt_is_the_headline_source() {
        assert_eq!(source(&[("ref", "producthunt")], None), "producthunt");
        assert_eq!(source(&[("ref", "ProductHunt")], None), "producthunt");
    }

    #[test]
    fn product_hunt_wins_over_any_other_utm_source() {
        assert_eq!(
            source(
                &[("utm_source", "newsletter"), ("ref", "producthunt")],
                None
            ),
            "producthunt"
        );
        assert_eq!(
            source(
                &[("utm_source", "twitter")],
                Some("https://www.producthunt.com/posts/acme")
            ),
            "producthunt"
        );
        assert_eq!(
            source(&[("utm_source", "producthunt")], None),
            "producthunt"
        );
    }

    #[test]
    fn a_product_hunt_referer_alone_is_product_hunt() {
        assert_eq!(
            source(&[], Some("https://www.producthunt.com/")),
            "producthunt"
        );
        assert_eq!(
            source(&[], Some("https://api.producthunt.com/v2")),
            "producthunt"
        );
        // A look-alike domain is not.
        assert_eq!(
            source(&[], Some("https://notproducthunt.com/")),
            "notproducthunt.com"
        );
    }

    #[test]
    fn utm_source_beats_ref_which_beats_the_referer() {
        let referer = Some("https://news.ycombinator.com/item?id=1");
        assert_eq!(
            source(&[("ref", "hn"), ("utm_source", "newsletter")], referer),
            "newsletter"
        );
        assert_eq!(source(&[("ref", "hn")], referer), "hn");
        assert_eq!(source(&[], referer), "news.ycombinator.com");
    }

    #[test]
    fn no_attribution_at_all_is_direct() {
        assert_eq!(source(&[], None), "direct");
        assert_eq!(source(&[("utm_source", "   ")], None), "direct");
        assert_eq!(source(&[], Some("not a url")), "direct");
    }

    #[test]
    fn the_referer_host_is_normalized() {
        assert_eq!(
            referer_host("https://WWW.Twitter.com:443/x?y#z").as_deref(),
            Some("twitter.com")
        );
        assert_eq!(
            referer_host("http://user:pw@example.org/").as_deref(),
            Some("example.org")
        );
        assert_eq!(referer_host("https://t.co./abc").as_deref(), Some("t.co"));
        assert_eq!(referer_host("https://exa mple.com/"), None);
    }

    #[test]
    fn a_referer_from_our_own_host_is_navigation_not_a_source() {
        assert_eq!(
            source(&[], Some("https://launch.example.com/launch/acme")),
            "direct"
        );
        assert_eq!(
            source(&[], Some("https://www.launch.example.com/")),
            "direct"
        );
    }

    #[test]
    fn medium_and_campaign_are_kept_sanitized() {
        let visit = attribute(
            [
                ("utm_source", "Newsletter"),
                ("utm_medium", "E-Mail"),
                ("utm_campaign", "Launch Day #1"),
            ],
            None,
            None,
        );
        assert_eq!(visit.source, "newsletter");
        assert_eq!(visit.medium.as_deref(), Some("e-mail"));
        assert_eq!(visit.campaign.as_deref(), Some("launch-day-1"));
    }

    #[test]
    fn the_first_usable_value_of_a_repeated_parameter_wins() {
        assert_eq!(
            source(&[("utm_source", "a"), ("utm_source", "b")], None),
            "a"
        );
        assert_eq!(
            source(&[("utm_source", "!!!"), ("utm_source", "b")], None),
            "b"
        );
    }

    #[test]
    fn known_sources_always_count_as_themselves_and_use_no_slot() {
        let mut slots = LabelSlots::default();
        for label in KNOWN_SOURCES {
            assert!(slots.admit(label, 0), "{label}");
        }
        assert_eq!(slots.admitted(), 0);
        assert!(KNOWN_SOURCES
            .iter()
            .all(|l| sanitize_label(l).as_deref() == Some(*l)));
    }

    #[test]
    fn a_label_takes_a_slot_on_its_third_hit_not_its_first() {
        let mut slots = LabelSlots::default();
        assert!(!slots.admit("my-campaign", 50));
        assert!(!slots.admit("my-campaign", 50));
        assert!(slots.admit("my-campaign", 50));
        assert!(slots.admit("my-campaign", 50));
        assert_eq!(slots.admitted(), 1);
    }

    #[test]
    fn a_flood_of_one_off_labels_takes_no_slot_and_real_sources_still_get_theirs() {
        let mut slots = LabelSlots::default();
        let mut real_hits = 0;
        for i in 0..100_000 {
            assert!(!slots.admit(&format!("junk{i}"), 3), "junk{i}");
            // Two real campaigns, one visit each per 200 junk values.
            if i % 200 == 0 {
                real_hits += usize::from(slots.admit("launch-newsletter", 3));
                real_hits += usize::from(slots.admit("partner-blog", 3));
            }
        }
        assert_eq!(slots.admitted(), 2);
        assert_eq!(
            real_hits,
            2 * (100_000 / 200) - 2 * 2,
            "all but the first two hits"
        );
        assert!(slots.candidates.len() <= MAX_CANDIDATES);
    }

    #[test]
    fn once_every_slot_is_taken_new_labels_count_as_other() {
        let mut slots = LabelSlots::default();
        for label in ["a", "b"] {
            for _ in 0..ADMIT_AFTER_HITS {
                slots.admit(label, 2);
            }
        }
        for _ in 0..10 {
            assert!(!slots.admit("c", 2));
        }
        assert!(slots.admit("a", 2) && slots.admit("b", 2));
        let mut restored = LabelSlots::default();
        restored.restore_admitted("a");
        restored.restore_admitted("direct");
        assert_eq!(restored.admitted(), 1);
        assert!(restored.admit("a", 1));
    }

    #[test]
    fn mediums_and_campaigns_have_their_own_known_labels_and_take_free_slots_on_a_first_hit() {
        let mut mediums = LabelSlots::first_come(KNOWN_MEDIUMS);
        assert_eq!(mediums.admit_new("email", 0), Some(false), "known: no slot");
        assert_eq!(
            mediums.admit_new("direct", 0),
            None,
            "a source is no medium"
        );
        assert_eq!(mediums.admit_new("push", 1), Some(true));
        assert_eq!(mediums.admit_new("sms", 1), None, "no slot left");
        let mut campaigns = LabelSlots::first_come(KNOWN_CAMPAIGNS);
        assert_eq!(campaigns.admit_new("dec-launch", 2), Some(true));
        assert_eq!(campaigns.admit_new("dec-launch", 2), Some(false));
        assert_eq!(campaigns.admit_new("jan-promo", 2), Some(true));
        assert_eq!(campaigns.admit_new("late", 2), None, "no slot left");
        assert_eq!(campaigns.admit_new(OTHER, 0), Some(false));
        assert!(KNOWN_MEDIUMS
            .iter()
            .chain(KNOWN_CAMPAIGNS)
            .all(|l| sanitize_label(l).as_deref() == Some(*l)));
    }

    #[test]
    fn labels_are_bounded_and_restricted_to_a_safe_alphabet() {
        assert_eq!(
            sanitize_label("Hello World!").as_deref(),
            Some("hello-world")
        );
        assert_eq!(sanitize_label("<script>x").as_deref(), Some("script-x"));
        assert_eq!(sanitize_label("ünïcödé").as_deref(), Some("n-c-d"));
        assert_eq!(sanitize_label("--a--").as_deref(), Some("a"));
        assert_eq!(sanitize_label("   "), None);
        let long = sanitize_label(&"ab".repeat(100)).unwrap();
        assert_eq!(long.len(), MAX_LABEL_LEN);
        for raw in ["A B", "x\u{0}y", "é", "../../etc", "a\"b", &"z".repeat(500)] {
            if let Some(label) = sanitize_label(raw) {
                assert!(label.len() <= MAX_LABEL_LEN);
                assert!(label.chars().all(|c| c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, '.' | '_' | '-')));
            }
        }
    }
}
