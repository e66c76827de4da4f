//! The launch file (`launch.toml`) as serde reads and writes it.
//!
//! Almost every field is optional here so that serde stops only on syntax, a wrong type or
//! an unknown field (`deny_unknown_fields`: a typo is an error, never ignored); what is
//! required and what values are allowed is checked by [`super::spec`], which reports every
//! problem at once. The same struct, with defaults filled in, is the canonical form that
//! is stored (`launches.spec`), shown (`launch show`) and compared (`launch apply`'s diff).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchFile {
    /// The page's address, `/launch/<slug>`; counts and reports are kept under it.
    pub slug: Option<String>,
    /// The product's name (the page's heading).
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tagline: Option<String>,
    /// Markdown. Raw HTML is shown as text, images are refused (see `hero`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The language of the texts above: `en` (default), `fr` or `de`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The page's canonical URL; default `PAGE_BASE_URL/launch/<slug>` when that is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canonical_url: Option<String>,
    /// Accent colour of buttons and the favicon, `#rgb` or `#rrggbb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme_color: Option<String>,
    /// A page template of the team's own (MiniJinja), as a path relative to this file.
    /// `launch apply` reads it and stores its text as `template_html`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The template's text itself (what is stored; the admin API takes only this).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_hunt: Option<ProductHuntFile>,
    /// Hosts the call-to-action URLs may point at (a host or any subdomain of it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cta_hosts: Vec<String>,
    /// The call-to-action buttons, in page order (the first is the primary one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cta: Vec<CtaFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hero: Option<ImageFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social: Option<SocialFile>,
    /// Texts in other languages, by language (`fr`, `de`, `en`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<String, VariantFile>,
    /// https origins allowed to send beacon events for this launch (CORS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beacon_origins: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business: Option<BusinessFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductHuntFile {
    /// The post's slug: `https://www.producthunt.com/posts/<post_slug>`.
    pub post_slug: Option<String>,
    /// `2026-12-10T00:01:00` (Pacific time, America/Los_Angeles) or with an explicit
    /// offset (`2026-12-10T08:01:00Z`). Stored with its Pacific offset.
    pub launch_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtaFile {
    /// The link's name, `/go/<slug>?to=<name>`: `a-z`, `0-9`, `-`, `_`.
    pub name: Option<String>,
    /// Where the click goes: https, on one of `cta_hosts`.
    pub url: Option<String>,
    /// The button's text (default: the name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFile {
    /// https URL.
    pub url: Option<String>,
    /// Pixels: the browser reserves the space before the image arrives.
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub alt: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialFile {
    /// `og:title` / `twitter:title` (default: `name — tagline`).
    pub title: Option<String>,
    /// `og:description` / `twitter:description` (default: the tagline).
    pub description: Option<String>,
    /// `og:image` / `twitter:image`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageFile>,
    /// `summary` or `summary_large_image` (default: the latter with an image).
    pub twitter_card: Option<String>,
    /// The team's X/Twitter handle, `@name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twitter_site: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tagline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social_description: Option<String>,
    /// Button texts by call-to-action name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cta_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessFile {
    /// ISO 4217, uppercase (`USD`); every amount is in its minor units (cents).
    pub currency: Option<String>,
    /// Spend per channel (`producthunt_ads = 30000`); the report's spend is their sum.
    #[serde(default)]
    pub spend: BTreeMap<String, i64>,
    /// Expected lifetime value of a customer, in minor units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_ltv: Option<i64>,
    /// Or: days of revenue after the launch that stand for a customer's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_window_days: Option<i64>,
    /// Cost of one visitor, in minor units, when spend is bought per visit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_visitor: Option<i64>,
}

/// Why a launch file could not be read at all (before any field is checked).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxError(pub String);

impl LaunchFile {
    /// Reads TOML. A syntax error, a wrong type or an unknown field is one error with
    /// its location (toml's message names the key and line).
    pub fn from_toml(text: &str) -> Result<Self, SyntaxError> {
        toml::from_str(text).map_err(|e| SyntaxError(e.to_string().trim_end().to_owned()))
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, SyntaxError> {
        serde_json::from_slice(bytes).map_err(|e| SyntaxError(e.to_string()))
    }

    pub fn to_toml(&self) -> String {
        // Only strings, integers, arrays and tables: serialization cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }
}
