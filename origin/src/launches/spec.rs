//! A launch file validated into a typed [`LaunchSpec`], every problem reported at once.
//!
//! Each value with rules of its own is a newtype with a `parse` that says what is allowed;
//! [`LaunchSpec::validate`] runs them all and collects a [`FieldError`] (the field's path,
//! e.g. `cta[1].url`, and the problem) for each failure instead of stopping at the first.
//! [`LaunchSpec::to_file`] gives back the canonical [`LaunchFile`]: defaults filled in,
//! the launch time with its Pacific offset. The canonical form is what is stored and
//! compared, so re-applying a file that only differs in spelled-out defaults changes nothing.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use launch_edge_proto::Slug;

use super::file::{
    BusinessFile, CtaFile, ImageFile, LaunchFile, ProductHuntFile, SocialFile, VariantFile,
};
pub use super::values::*;
use sections::{business, ctas, hosts, image, social, variants};

mod sections;
#[cfg(test)]
mod tests;

/// One problem with one field of a launch file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Where, as a path into the file: `slug`, `cta[0].url`, `variants.fr.tagline`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Every problem found in a launch file (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<FieldError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the launch file has {} problem(s):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// What validation needs beyond the file.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The origin's `LAUNCH_CTA_HOSTS`: when set, a file's `cta_hosts` must stay within it.
    pub origin_cta_hosts: Vec<HostPattern>,
    /// Reloading a stored spec: the host allowlist was enforced when it was applied.
    pub stored: bool,
}

pub const MAX_CTAS: usize = 6;
pub const MAX_HOSTS: usize = 10;
pub const MAX_BEACON_ORIGINS: usize = 10;
pub const MAX_CHANNELS: usize = 20;
pub const MAX_DESCRIPTION_BYTES: usize = 20_000;
pub const MAX_TEMPLATE_BYTES: usize = 32 * 1024;
/// Largest amount in minor units (10^13: a hundred billion dollars).
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Cta {
    pub name: CtaName,
    pub url: HttpsUrl,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub url: HttpsUrl,
    pub width: u32,
    pub height: u32,
    pub alt: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Social {
    pub title: String,
    pub description: String,
    pub image: Option<Image>,
    pub twitter_card: TwitterCard,
    pub twitter_site: Option<TwitterHandle>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variant {
    pub tagline: Option<String>,
    pub description: Option<Markdown>,
    pub social_title: Option<String>,
    pub social_description: Option<String>,
    pub cta_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Business {
    pub currency: Currency,
    pub spend: BTreeMap<Channel, i64>,
    pub expected_ltv: Option<i64>,
    pub revenue_window_days: Option<u32>,
    pub cost_per_visitor: Option<i64>,
}

impl Business {
    /// The report's spend: every channel added up.
    pub fn total_spend(&self) -> i64 {
        self.spend.values().sum()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub slug: Slug,
    pub name: String,
    pub tagline: String,
    pub description: Markdown,
    pub lang: Lang,
    pub canonical_url: Option<HttpsUrl>,
    pub theme_color: Color,
    pub template_html: Option<String>,
    pub post_slug: PostSlug,
    pub launch_at: LaunchTime,
    pub cta_hosts: Vec<HostPattern>,
    pub ctas: Vec<Cta>,
    pub hero: Option<Image>,
    pub social: Social,
    pub variants: BTreeMap<Lang, Variant>,
    pub beacon_origins: Vec<HttpsOrigin>,
    pub business: Business,
}

/// Collects field errors while values are parsed.
#[derive(Default)]
struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    fn fail(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            problem: problem.into(),
        });
    }

    fn ok<T>(&mut self, field: impl Into<String>, result: Result<T, String>) -> Option<T> {
        result.map_err(|p| self.fail(field, p)).ok()
    }

    fn required<'a, T>(&mut self, field: &str, value: &'a Option<T>, what: &str) -> Option<&'a T> {
        if value.is_none() {
            self.fail(field, format!("required: {what}"));
        }
        value.as_ref()
    }

    /// A one-line text of at most `max` characters; `None` stays `None`.
    fn line(&mut self, field: &str, value: Option<&String>, max: usize) -> Option<String> {
        let value = value?;
        self.ok(field, plain_text(value, max, false))
    }
}

/// Text without control characters (newlines only when `multiline`), at most `max`
/// characters, not blank.
pub fn plain_text(value: &str, max: usize, multiline: bool) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    let count = trimmed.chars().count();
    if count > max {
        return Err(format!("at most {max} characters (it has {count})"));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

impl LaunchSpec {
    /// Every field checked; all problems or the typed spec.
    pub fn validate(file: &LaunchFile, rules: &Rules) -> Result<Self, SpecErrors> {
        let mut c = Check::default();

        let slug = c.required(
            "slug",
            &file.slug,
            "the page's address, e.g. \"acme-notes\"",
        );
        let slug = slug.and_then(|s| {
            c.ok(
                "slug",
                Slug::parse(s).map_err(|_| {
                    "1 to 64 characters of a-z, 0-9 and single hyphens, e.g. \"acme-notes\"".into()
                }),
            )
        });
        let name = c.required("name", &file.name, "the product's name");
        let name = c.line("name", name, 100);
        let tagline = c.line("tagline", file.tagline.as_ref(), 120);
        let description = match &file.description {
            None => Some(Markdown::default()),
            Some(d) => c.ok("description", Markdown::parse(d)),
        };
        let lang = match &file.lang {
            None => Some(Lang::En),
            Some(l) => c.ok("lang", Lang::parse(l)),
        };
        let canonical_url = file
            .canonical_url
            .as_ref()
            .map(|u| c.ok("canonical_url", HttpsUrl::parse(u)));
        let theme_color = match &file.theme_color {
            None => Some(Color::default()),
            Some(t) => c.ok("theme_color", Color::parse(t)),
        };
        let template_html = match (&file.template, &file.template_html) {
            (Some(_), Some(_)) => {
                c.fail(
                    "template",
                    "give either template (a path) or template_html, not both",
                );
                None
            }
            (Some(_), None) => {
                c.fail(
                    "template",
                    "a template path is read by `launch apply FILE` (relative to the file); over the admin API send the template's text as template_html",
                );
                None
            }
            (None, Some(html)) if html.len() > MAX_TEMPLATE_BYTES => {
                c.fail(
                    "template_html",
                    format!("at most {MAX_TEMPLATE_BYTES} bytes (it has {})", html.len()),
                );
                None
            }
            (None, html) => html.clone(),
        };

        let ph = c.required(
            "product_hunt",
            &file.product_hunt,
            "a [product_hunt] table with post_slug and launch_at",
        );
        let empty = ProductHuntFile::default();
        let ph = ph.unwrap_or(&empty);
        let post_slug = if file.product_hunt.is_some() {
            let p = c.required(
                "product_hunt.post_slug",
                &ph.post_slug,
                "the post's slug, as in producthunt.com/posts/<post_slug>",
            );
            p.and_then(|p| c.ok("product_hunt.post_slug", PostSlug::parse(p)))
        } else {
            None
        };
        let launch_at = if file.product_hunt.is_some() {
            let t = c.required(
                "product_hunt.launch_at",
                &ph.launch_at,
                "the launch time, e.g. \"2026-12-10T00:01:00\" (Pacific time)",
            );
            t.and_then(|t| c.ok("product_hunt.launch_at", LaunchTime::parse(t)))
        } else {
            None
        };

        let cta_hosts = hosts(&mut c, &file.cta_hosts, rules);
        let ctas = ctas(&mut c, &file.cta, cta_hosts.as_deref(), rules);
        let hero = file.hero.as_ref().map(|h| image(&mut c, "hero", h));
        let social = social(&mut c, file, name.as_deref(), tagline.as_deref());
        let variants = variants(&mut c, &file.variants, lang, ctas.as_deref());

        if file.beacon_origins.len() > MAX_BEACON_ORIGINS {
            c.fail(
                "beacon_origins",
                format!("at most {MAX_BEACON_ORIGINS} origins"),
            );
        }
        let mut beacon_origins = Vec::new();
        for (i, o) in file.beacon_origins.iter().enumerate() {
            if let Some(o) = c.ok(format!("beacon_origins[{i}]"), HttpsOrigin::parse(o)) {
                if beacon_origins.contains(&o) {
                    c.fail(format!("beacon_origins[{i}]"), "listed twice");
                } else {
                    beacon_origins.push(o);
                }
            }
        }
        let business = business(&mut c, file.business.as_ref());

        if !c.errors.is_empty() {
            return Err(SpecErrors(c.errors));
        }
        // Every `?` below is Some: each None pushed an error above.
        let missing = || SpecErrors(vec![]);
        Ok(LaunchSpec {
            slug: slug.ok_or_else(missing)?,
            name: name.ok_or_else(missing)?,
            tagline: tagline.unwrap_or_default(),
            description: description.ok_or_else(missing)?,
            lang: lang.ok_or_else(missing)?,
            canonical_url: canonical_url.flatten(),
            theme_color: theme_color.ok_or_else(missing)?,
            template_html,
            post_slug: post_slug.ok_or_else(missing)?,
            launch_at: launch_at.ok_or_else(missing)?,
            cta_hosts: cta_hosts.unwrap_or_default(),
            ctas: ctas.ok_or_else(missing)?,
            hero: hero.flatten(),
            social: social.ok_or_else(missing)?,
            variants: variants.ok_or_else(missing)?,
            beacon_origins,
            business: business.ok_or_else(missing)?,
        })
    }

    /// Languages the page has texts in: its own and every variant's.
    pub fn languages(&self) -> Vec<Lang> {
        let mut langs = vec![self.lang];
        langs.extend(self.variants.keys().copied());
        langs
    }

    pub fn launch_at_utc(&self) -> DateTime<Utc> {
        self.launch_at.utc()
    }

    /// The canonical file: what is stored, shown and compared.
    pub fn to_file(&self) -> LaunchFile {
        let image_file = |i: &Image| ImageFile {
            url: Some(i.url.to_string()),
            width: Some(i64::from(i.width)),
            height: Some(i64::from(i.height)),
            alt: Some(i.alt.clone()),
        };
        LaunchFile {
            slug: Some(self.slug.as_str().to_owned()),
            name: Some(self.name.clone()),
            tagline: Some(self.tagline.clone()).filter(|t| !t.is_empty()),
            description: Some(self.description.as_str().to_owned()).filter(|d| !d.is_empty()),
            lang: Some(self.lang.as_str().to_owned()),
            canonical_url: self.canonical_url.as_ref().map(ToString::to_string),
            theme_color: Some(self.theme_color.as_str().to_owned()),
            template: None,
            template_html: self.template_html.clone(),
            product_hunt: Some(ProductHuntFile {
                post_slug: Some(self.post_slug.as_str().to_owned()),
                launch_at: Some(self.launch_at.to_string()),
            }),
            cta_hosts: self.cta_hosts.iter().map(ToString::to_string).collect(),
            cta: self
                .ctas
                .iter()
                .map(|c| CtaFile {
                    name: Some(c.name.as_str().to_owned()),
                    url: Some(c.url.to_string()),
                    label: Some(c.label.clone()),
                })
                .collect(),
            hero: self.hero.as_ref().map(image_file),
            social: Some(SocialFile {
                title: Some(self.social.title.clone()),
                description: Some(self.social.description.clone()),
                image: self.social.image.as_ref().map(image_file),
                twitter_card: Some(self.social.twitter_card.as_str().to_owned()),
                twitter_site: self.social.twitter_site.as_ref().map(ToString::to_string),
            }),
            variants: self
                .variants
                .iter()
                .map(|(lang, v)| {
                    (
                        lang.as_str().to_owned(),
                        VariantFile {
                            tagline: v.tagline.clone(),
                            description: v.description.as_ref().map(|d| d.as_str().to_owned()),
                            social_title: v.social_title.clone(),
                            social_description: v.social_description.clone(),
                            cta_labels: v.cta_labels.clone(),
                        },
                    )
                })
                .collect(),
            beacon_origins: self
                .beacon_origins
                .iter()
                .map(ToString::to_string)
                .collect(),
            business: Some(BusinessFile {
                currency: Some(self.business.currency.as_str().to_owned()),
                spend: self
                    .business
                    .spend
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), *v))
                    .collect(),
                expected_ltv: self.business.expected_ltv,
                revenue_window_days: self.business.revenue_window_days.map(i64::from),
                cost_per_visitor: self.business.cost_per_visitor,
            }),
        }
    }
}
