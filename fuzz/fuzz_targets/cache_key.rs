//! Any query string on a launch page: the cache key keeps at most one value per allowed
//! variant, nothing else, and normalising the key's own query again gives the same key
//! (a random query can never fork the cache).
#![no_main]

use launch_edge_core::page::key::{PageKey, VariantAllowlist};
use launch_edge_proto::Slug;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let allowlist = VariantAllowlist::parse("lang=en|fr|de;theme=dark").expect("a valid spec");
    let slug = Slug::parse("fuzz-launch").expect("a valid slug");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    let key = PageKey::normalize(
        slug.clone(),
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &allowlist,
    );
    let query = key.origin_query();
    let query = query.strip_prefix('?').unwrap_or(&query);
    let again: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert!(again.len() <= 2, "more variants than the allowlist names: {query}");
    let rebuilt = PageKey::normalize(slug, again.iter().map(|(k, v)| (k.as_str(), v.as_str())), &allowlist);
    assert_eq!(rebuilt.storage_key(), key.storage_key());
});
