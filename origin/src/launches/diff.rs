//! What `launch apply` changed, field by field, between two canonical launch files.
//!
//! Both files are flattened into `path → value` (`product_hunt.launch_at`,
//! `cta.signup.url`: buttons are keyed by name, so reordering shows as a change of
//! `cta` order only); lists of plain values (`cta_hosts`) compare whole.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::file::LaunchFile;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub field: String,
    /// `None`: the field was not set before.
    pub old: Option<String>,
    /// `None`: the field is no longer set.
    pub new: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
        write!(
            f,
            "{}: {} → {}",
            self.field,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// Longest value shown in full; longer ones are cut (with their length).
const SHOWN_CHARS: usize = 80;

fn show(field: &str, value: &Value) -> String {
    let text = match value {
        Value::String(s) if field == "template_html" => {
            return format!("<template, {} bytes>", s.len());
        }
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => other.to_string(),
    };
    if text.chars().count() <= SHOWN_CHARS {
        return text;
    }
    let cut: String = text.chars().take(SHOWN_CHARS).collect();
    format!("{cut}… ({} characters)", text.chars().count())
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                flatten(&join(key), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(named) => {
            let order: Vec<Value> = items.iter().map(|i| i["name"].clone()).collect();
            out.insert(format!("{prefix} (order)"), Value::Array(order));
            for item in items {
                let name = item["name"].as_str().unwrap_or_default();
                let mut rest = item.clone();
                // The name is in the path already.
                if let Some(map) = rest.as_object_mut() {
                    map.remove("name");
                }
                flatten(&join(name), &rest, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

fn named(item: &Value) -> bool {
    item.get("name").and_then(Value::as_str).is_some()
}

fn flat(file: &LaunchFile) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten(
        "",
        &serde_json::to_value(file).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

/// Every field whose value differs, in path order. Empty: nothing changed.
pub fn changes(old: Option<&LaunchFile>, new: &LaunchFile) -> Vec<Change> {
    let old = old.map(flat).unwrap_or_default();
    let new = flat(new);
    let mut fields: Vec<&String> = old.keys().chain(new.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| old.get(*f) != new.get(*f))
        .map(|f| Change {
            field: f.clone(),
            old: old.get(f).map(|v| show(f, v)),
            new: new.get(f).map(|v| show(f, v)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launches::file::{CtaFile, ProductHuntFile};

    fn file() -> LaunchFile {
        LaunchFile {
            slug: Some("acme".into()),
            name: Some("Acme".into()),
            product_hunt: Some(ProductHuntFile {
                post_slug: Some("acme".into()),
                launch_at: Some("2026-12-10T00:01:00-08:00".into()),
            }),
            cta: vec![CtaFile {
                name: Some("signup".into()),
                url: Some("https://acme.dev/a".into()),
                label: None,
            }],
            ..LaunchFile::default()
        }
    }

    #[test]
    fn the_same_file_has_no_changes() {
        assert_eq!(changes(Some(&file()), &file()), vec![]);
    }

    #[test]
    fn a_changed_nested_field_is_listed_with_its_old_and_new_value() {
        let mut new = file();
        new.cta[0].url = Some("https://acme.dev/b".into());
        new.tagline = Some("Notes".into());
        let listed: Vec<String> = changes(Some(&file()), &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listed,
            [
                "cta.signup.url: \"https://acme.dev/a\" → \"https://acme.dev/b\"",
                "tagline: (unset) → \"Notes\"",
            ]
        );
    }

    #[test]
    fn a_long_value_is_cut_and_a_template_shows_only_its_size() {
        let mut new = file();
        new.description = Some("x".repeat(500));
        new.template_html = Some("<p>{{ name }}</p>".into());
        let listed = changes(Some(&file()), &new);
        assert!(listed[0]
            .new
            .as_deref()
            .unwrap()
            .ends_with("(502 characters)"));
        assert_eq!(listed[1].new.as_deref(), Some("<template, 17 bytes>"));
    }
}
