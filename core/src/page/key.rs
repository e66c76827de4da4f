//! Cache keys for launch pages: the slug plus an allowlist of variant parameters.
//!
//! Attribution parameters (`utm_*`, `ref`, `fbclid`, `gclid`) and anything unknown never
//! reach the key, and a variant parameter only counts with one of its allowed values, so
//! a flood of random query strings maps onto the few keys the configuration allows.

use std::collections::BTreeMap;
use std::fmt;

use launch_edge_proto::Slug;

/// Parameters that may select a page variant, each with the values it may take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantAllowlist {
    params: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PAGE_VARIANTS entry {0:?} is not name=value|value")]
pub struct VariantConfigError(String);

impl VariantAllowlist {
    /// Parses `lang=en|fr|de;theme=dark|light` (empty string: no variants).
    pub fn parse(spec: &str) -> Result<Self, VariantConfigError> {
        let mut params = BTreeMap::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, values) = entry
                .split_once('=')
                .ok_or_else(|| VariantConfigError(entry.to_owned()))?;
            let values: Vec<String> = values
                .split('|')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect();
            if name.trim().is_empty() || values.is_empty() {
                return Err(VariantConfigError(entry.to_owned()));
            }
            params.insert(name.trim().to_owned(), values);
        }
        Ok(Self { params })
    }

    fn allows(&self, name: &str, value: &str) -> bool {
        self.params
            .get(name)
            .is_some_and(|values| values.iter().any(|v| v == value))
    }

    /// Every key a slug can have: the default page and each single-parameter variant.
    pub fn keys_for(&self, slug: &Slug) -> Vec<PageKey> {
        let mut keys = vec![PageKey {
            slug: slug.clone(),
            variants: Vec::new(),
        }];
        for (name, values) in &self.params {
            for value in values {
                keys.push(PageKey {
                    slug: slug.clone(),
                    variants: vec![(name.clone(), value.clone())],
                });
            }
        }
        keys
    }
}

/// The normalized identity of a cached page.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageKey {
    slug: Slug,
    /// Sorted by name; at most one value per name.
    variants: Vec<(String, String)>,
}

impl PageKey {
    /// Builds the key from the slug and the raw query pairs of the visitor's request.
    pub fn normalize<'a>(
        slug: Slug,
        query: impl IntoIterator<Item = (&'a str, &'a str)>,
        allowlist: &VariantAllowlist,
    ) -> Self {
        let mut chosen: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in query {
            // The first allowed value of a parameter wins; repeats cannot fork the key.
            if allowlist.allows(name, value) {
                chosen.entry(name).or_insert(value);
            }
        }
        let variants = chosen
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        Self { slug, variants }
    }

    pub fn slug(&self) -> &Slug {
        &self.slug
    }

    /// The query string sent to the origin's renderer (`?lang=fr`, or empty).
    pub fn origin_query(&self) -> String {
        if self.variants.is_empty() {
            return String::new();
        }
        let pairs: Vec<String> = self
            .variants
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        format!("?{}", pairs.join("&"))
    }

    /// A stable string form, used as the KV key and in the Cache API URL.
    pub fn storage_key(&self) -> String {
        format!("page:{self}")
    }
}

impl fmt::Display for PageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.slug, self.origin_query())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowlist() -> VariantAllowlist {
        VariantAllowlist::parse("lang=en|fr|de; theme=dark|light").unwrap()
    }

    fn key(query: &[(&str, &str)]) -> PageKey {
        PageKey::normalize(
            Slug::parse("acme").unwrap(),
            query.iter().copied(),
            &allowlist(),
        )
    }

    #[test]
    fn attribution_and_unknown_parameters_do_not_change_the_key() {
        let plain = key(&[]);
        let noisy = key(&[
            ("ref", "producthunt"),
            ("utm_source", "producthunt"),
            ("utm_campaign", "launch"),
            ("fbclid", "abc"),
            ("gclid", "xyz"),
            ("cachebuster", "8213"),
        ]);
        assert_eq!(plain, noisy);
        assert_eq!(noisy.storage_key(), "page:acme");
    }

    #[test]
    fn allowed_variants_are_kept_sorted_whatever_the_order() {
        let a = key(&[("theme", "dark"), ("lang", "fr")]);
        let b = key(&[("lang", "fr"), ("utm_medium", "x"), ("theme", "dark")]);
        assert_eq!(a, b);
        assert_eq!(a.origin_query(), "?lang=fr&theme=dark");
        assert_eq!(a.storage_key(), "page:acme?lang=fr&theme=dark");
    }

    #[test]
    fn a_variant_value_outside_the_allowlist_is_dropped() {
        assert_eq!(key(&[("lang", "xx-random")]), key(&[]));
        assert_eq!(key(&[("lang", "EN")]), key(&[]));
    }

    #[test]
    fn repeating_a_parameter_keeps_the_first_allowed_value() {
        assert_eq!(
            key(&[("lang", "de"), ("lang", "fr")]),
            key(&[("lang", "de")])
        );
        assert_eq!(
            key(&[("lang", "zz"), ("lang", "fr")]),
            key(&[("lang", "fr")])
        );
    }

    #[test]
    fn a_flood_of_random_query_strings_yields_one_key() {
        let keys: std::collections::HashSet<PageKey> = (0..1000)
            .map(|i| {
                let v = format!("{i}");
                PageKey::normalize(
                    Slug::parse("acme").unwrap(),
                    [
                        ("q", v.as_str()),
                        ("utm_term", v.as_str()),
                        ("lang", v.as_str()),
                    ],
                    &allowlist(),
                )
            })
            .collect();
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn the_allowlist_spec_is_validated() {
        assert_eq!(
            VariantAllowlist::parse("").unwrap(),
            VariantAllowlist::default()
        );
        assert!(VariantAllowlist::parse("lang").is_err());
        assert!(VariantAllowlist::parse("lang=").is_err());
        assert!(VariantAllowlist::parse("=en").is_err());
    }

    #[test]
    fn keys_for_lists_the_default_and_each_variant() {
        let slug = Slug::parse("acme").unwrap();
        let keys: Vec<String> = allowlist()
            .keys_for(&slug)
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(keys[0], "acme");
        assert!(keys.contains(&"acme?lang=fr".to_owned()));
        assert_eq!(keys.len(), 1 + 3 + 2);
    }
}
