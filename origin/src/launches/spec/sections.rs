//! The checks of the launch file's tables and lists, each recording its problems in the
//! shared [`Check`].

use std::collections::{BTreeMap, BTreeSet};

use super::*;

pub(super) fn amount(value: i64) -> Result<i64, String> {
    if (0..=MAX_AMOUNT).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "an amount in minor units from 0 to {MAX_AMOUNT} (it is {value})"
        ))
    }
}

pub(super) fn pixels(value: Option<i64>) -> Result<u32, String> {
    match value {
        None => Err("required: the image's size in pixels (1 to 8192), so the page does not shift when it loads".into()),
        Some(v @ 1..=8192) => Ok(v as u32),
        Some(v) => Err(format!("pixels from 1 to 8192 (it is {v})")),
    }
}

pub(super) fn image(check: &mut Check, path: &str, file: &ImageFile) -> Option<Image> {
    let url = check.required(&format!("{path}.url"), &file.url, "an https URL");
    let url = url.and_then(|u| check.ok(format!("{path}.url"), HttpsUrl::parse(u)));
    let width = check.ok(format!("{path}.width"), pixels(file.width));
    let height = check.ok(format!("{path}.height"), pixels(file.height));
    let alt = check.required(
        &format!("{path}.alt"),
        &file.alt,
        "a text alternative for people who cannot see the image",
    );
    let alt = check.line(&format!("{path}.alt"), alt, 200);
    Some(Image {
        url: url?,
        width: width?,
        height: height?,
        alt: alt?,
    })
}

/// The effective host allowlist: the file's (within the origin's, when that is set), or
/// the origin's. `None` when it is unusable (an error was recorded).
pub(super) fn hosts(c: &mut Check, listed: &[String], rules: &Rules) -> Option<Vec<HostPattern>> {
    if listed.len() > MAX_HOSTS {
        c.fail("cta_hosts", format!("at most {MAX_HOSTS} hosts"));
        return None;
    }
    let mut hosts = Vec::new();
    let mut ok = true;
    for (i, h) in listed.iter().enumerate() {
        match HostPattern::parse(h) {
            Ok(h) => {
                let allowed = rules.stored
                    || rules.origin_cta_hosts.is_empty()
                    || rules.origin_cta_hosts.iter().any(|o| o.covers(h.as_str()));
                if allowed {
                    hosts.push(h);
                } else {
                    ok = false;
                    c.fail(
                        format!("cta_hosts[{i}]"),
                        format!(
                            "{h} is outside the origin's LAUNCH_CTA_HOSTS ({})",
                            list(&rules.origin_cta_hosts)
                        ),
                    );
                }
            }
            Err(p) => {
                ok = false;
                c.fail(format!("cta_hosts[{i}]"), p);
            }
        }
    }
    if hosts.is_empty() && ok && !rules.stored {
        if rules.origin_cta_hosts.is_empty() {
            c.fail(
                "cta_hosts",
                "required: the hosts your call-to-action URLs may point at, e.g. [\"acme.dev\"] (or set LAUNCH_CTA_HOSTS on the origin)",
            );
            return None;
        }
        return Some(rules.origin_cta_hosts.clone());
    }
    ok.then_some(hosts)
}

pub(super) fn list(hosts: &[HostPattern]) -> String {
    hosts
        .iter()
        .map(HostPattern::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn ctas(
    c: &mut Check,
    files: &[CtaFile],
    hosts: Option<&[HostPattern]>,
    rules: &Rules,
) -> Option<Vec<Cta>> {
    if files.is_empty() && rules.stored {
        return Some(Vec::new());
    }
    if files.is_empty() {
        c.fail(
            "cta",
            "required: at least one [[cta]] with name and url (the page's buttons)",
        );
        return None;
    }
    if files.len() > MAX_CTAS {
        c.fail("cta", format!("at most {MAX_CTAS} buttons"));
        return None;
    }
    let mut ctas = Vec::new();
    let mut names = BTreeSet::new();
    let mut all = true;
    for (i, f) in files.iter().enumerate() {
        let path = format!("cta[{i}]");
        let name = c.required(
            &format!("{path}.name"),
            &f.name,
            "the link's name, e.g. \"signup\"",
        );
        let name = name.and_then(|n| c.ok(format!("{path}.name"), CtaName::parse(n)));
        if let Some(n) = &name {
            if !names.insert(n.as_str().to_owned()) {
                c.fail(
                    format!("{path}.name"),
                    format!("{n} is used by another button"),
                );
            }
        }
        let url = c.required(&format!("{path}.url"), &f.url, "an https URL");
        let url = url.and_then(|u| c.ok(format!("{path}.url"), HttpsUrl::parse(u)));
        if let (Some(u), Some(hosts)) = (&url, hosts) {
            if !rules.stored && !hosts.iter().any(|h| h.covers(u.host())) {
                c.fail(
                    format!("{path}.url"),
                    format!("host {} is not in cta_hosts ({})", u.host(), list(hosts)),
                );
            }
        }
        let label = match &f.label {
            None => name.as_ref().map(|n| n.as_str().to_owned()),
            Some(l) => c.ok(format!("{path}.label"), plain_text(l, 40, false)),
        };
        match (name, url, label) {
            (Some(name), Some(url), Some(label)) => ctas.push(Cta { name, url, label }),
            _ => all = false,
        }
    }
    all.then_some(ctas)
}

pub(super) fn social(
    c: &mut Check,
    file: &LaunchFile,
    name: Option<&str>,
    tagline: Option<&str>,
) -> Option<Social> {
    let empty = SocialFile::default();
    let s = file.social.as_ref().unwrap_or(&empty);
    // Each part is checked even when another failed, so every problem is reported.
    let title = match &s.title {
        Some(t) => c.ok("social.title", plain_text(t, 100, false)),
        None => name.map(|name| match tagline {
            Some(t) => format!("{name} — {t}"),
            None => name.to_owned(),
        }),
    };
    let description = match &s.description {
        Some(d) => c.ok("social.description", plain_text(d, 300, false)),
        None => Some(tagline.unwrap_or_default().to_owned()),
    };
    let image = s.image.as_ref().map(|i| image(c, "social.image", i));
    let twitter_card = match &s.twitter_card {
        Some(t) => c.ok("social.twitter_card", TwitterCard::parse(t)),
        None if s.image.is_some() => Some(TwitterCard::SummaryLargeImage),
        None => Some(TwitterCard::Summary),
    };
    let twitter_site = s
        .twitter_site
        .as_ref()
        .map(|h| c.ok("social.twitter_site", TwitterHandle::parse(h)));
    let (title, description, twitter_card) = (title?, description?, twitter_card?);
    let image = match image {
        Some(i) => Some(i?),
        None => None,
    };
    let twitter_site = match twitter_site {
        Some(h) => Some(h?),
        None => None,
    };
    Some(Social {
        title,
        description,
        image,
        twitter_card,
        twitter_site,
    })
}

pub(super) fn variants(
    c: &mut Check,
    files: &BTreeMap<String, VariantFile>,
    base: Option<Lang>,
    ctas: Option<&[Cta]>,
) -> Option<BTreeMap<Lang, Variant>> {
    let mut variants = BTreeMap::new();
    let mut all = true;
    for (key, f) in files {
        let path = format!("variants.{key}");
        let Some(lang) = c.ok(&path, Lang::parse(key)) else {
            all = false;
            continue;
        };
        if Some(lang) == base {
            c.fail(
                &path,
                format!(
                    "{key} is the page's own language (lang): its texts are the top-level ones"
                ),
            );
            all = false;
            continue;
        }
        let before = c.errors.len();
        let mut v = Variant {
            tagline: c.line(&format!("{path}.tagline"), f.tagline.as_ref(), 120),
            description: f
                .description
                .as_ref()
                .and_then(|d| c.ok(format!("{path}.description"), Markdown::parse(d))),
            social_title: c.line(
                &format!("{path}.social_title"),
                f.social_title.as_ref(),
                100,
            ),
            social_description: c.line(
                &format!("{path}.social_description"),
                f.social_description.as_ref(),
                300,
            ),
            cta_labels: BTreeMap::new(),
        };
        for (name, label) in &f.cta_labels {
            let field = format!("{path}.cta_labels.{name}");
            let known = ctas.is_none_or(|ctas| ctas.iter().any(|c| c.name.as_str() == name));
            if !known {
                c.fail(&field, "no [[cta]] has this name");
            } else if let Some(label) = c.ok(&field, plain_text(label, 40, false)) {
                v.cta_labels.insert(name.clone(), label);
            }
        }
        if c.errors.len() == before {
            variants.insert(lang, v);
        } else {
            all = false;
        }
    }
    all.then_some(variants)
}

pub(super) fn business(c: &mut Check, file: Option<&BusinessFile>) -> Option<Business> {
    let file = match file {
        Some(f) => f,
        None => {
            c.fail(
                "business",
                "required: a [business] table with at least currency (spend, expected_ltv or revenue_window_days for the report)",
            );
            return None;
        }
    };
    let currency = c.required(
        "business.currency",
        &file.currency,
        "an ISO 4217 code, e.g. \"USD\"",
    );
    let currency = currency.and_then(|cur| c.ok("business.currency", Currency::parse(cur)));
    if file.spend.len() > MAX_CHANNELS {
        c.fail("business.spend", format!("at most {MAX_CHANNELS} channels"));
    }
    let mut spend = BTreeMap::new();
    for (channel, value) in &file.spend {
        let field = format!("business.spend.{channel}");
        let channel = c.ok(&field, Channel::parse(channel));
        let value = c.ok(&field, amount(*value));
        if let (Some(ch), Some(v)) = (channel, value) {
            spend.insert(ch, v);
        }
    }
    let expected_ltv = file
        .expected_ltv
        .and_then(|v| c.ok("business.expected_ltv", amount(v)));
    let revenue_window_days = match file.revenue_window_days {
        None => None,
        Some(d @ 1..=365) => Some(d as u32),
        Some(d) => {
            c.fail(
                "business.revenue_window_days",
                format!("days from 1 to 365 (it is {d})"),
            );
            None
        }
    };
    if file.expected_ltv.is_some() && file.revenue_window_days.is_some() {
        c.fail(
            "business.revenue_window_days",
            "give either expected_ltv or revenue_window_days, not both",
        );
    }
    let cost_per_visitor = file
        .cost_per_visitor
        .and_then(|v| c.ok("business.cost_per_visitor", amount(v)));
    Some(Business {
        currency: currency?,
        spend,
        expected_ltv,
        revenue_window_days,
        cost_per_visitor,
    })
}
