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
//! bounded where they are counted (`counters`: past its limit a new source counts as
//! [`OTHER`]), so a flood of random `?utm_source=` values cannot explode cardinality.
//!
//! `utm_medium` and `utm_campaign` are parsed and sanitized the same way and carried in
//! [`Attribution`]; the counters key on the source only (the wire type `CounterDelta`
//! has one source dimension).

/// The headline source of a Product Hunt launch.
pub const PRODUCT_HUNT: &str = "producthunt";
/// No query attribution and no (foreign) Referer.
pub const DIRECT: &str = "direct";
/// Where labels beyond the per-day limit are folded.
pub const OTHER: &str = "other";
/// Longest label kept, in characters (ASCII after sanitizing).
pub const MAX_LABEL_LEN: usize = 64;

const PRODUCT_HUNT_HOST: &str = "producthunt.com";

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
