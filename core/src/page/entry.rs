//! What a cached page is and how old it may get: the pure half of page serving.
//!
//! A [`PageEntry`] is stored identically in the isolate's memory, the Cache API and KV.
//! [`CachePolicy::classify`] decides from its age whether it is served as a `HIT`, served
//! `STALE` while a background revalidation runs, or no longer served (except when the
//! origin is failing, within `stale_if_error`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageEntry {
    /// 200 for a launch page, 404 for an unknown launch (cached briefly).
    pub status: u16,
    pub html: String,
    pub etag: String,
    pub fetched_at_ms: u64,
    /// The launch's click destinations (name → URL), from the origin's render.
    #[serde(default)]
    pub destinations: BTreeMap<String, String>,
    /// The https origins whose pages may send the launch's beacon (CORS), from the render.
    #[serde(default)]
    pub beacon_origins: Vec<String>,
}

impl PageEntry {
    pub fn new(status: u16, html: String, fetched_at_ms: u64) -> Self {
        let etag = etag_for(&html);
        Self {
            status,
            html,
            etag,
            fetched_at_ms,
            destinations: BTreeMap::new(),
            beacon_origins: Vec::new(),
        }
    }

    pub fn is_found(&self) -> bool {
        self.status == 200
    }

    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.fetched_at_ms) / 1000
    }
}

/// A strong validator: the first 128 bits of the body's SHA-256.
pub fn etag_for(html: &str) -> String {
    let digest = Sha256::digest(html.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// True when an `If-None-Match` header names this ETag (or `*`).
pub fn if_none_match_hits(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// Time limits for cached pages, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Served as a `HIT` while younger than this.
    pub soft_ttl_secs: u64,
    /// Served `STALE` (with a background revalidation) while younger than this, and
    /// served when the origin fails while younger than this. Also the KV and Cache API TTL.
    pub max_stale_secs: u64,
    /// How long a 404 for an unknown launch is remembered.
    pub not_found_ttl_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Stale,
    Expired,
}

impl CachePolicy {
    pub fn classify(&self, entry: &PageEntry, now_ms: u64) -> Freshness {
        let age = entry.age_secs(now_ms);
        let (soft, max) = if entry.is_found() {
            (self.soft_ttl_secs, self.max_stale_secs)
        } else {
            // A 404 is never served stale: a launch that appears must show up quickly.
            (self.not_found_ttl_secs, self.not_found_ttl_secs)
        };
        if age < soft {
            Freshness::Fresh
        } else if age < max {
            Freshness::Stale
        } else {
            Freshness::Expired
        }
    }

    /// How long the storage layers (KV, Cache API) should keep an entry.
    pub fn storage_ttl_secs(&self, entry: &PageEntry) -> u64 {
        if entry.is_found() {
            self.max_stale_secs
        } else {
            self.not_found_ttl_secs
        }
    }

    /// The `Cache-Control` header sent to browsers and shared caches.
    pub fn cache_control(&self, entry: &PageEntry) -> String {
        if entry.is_found() {
            format!(
                "public, max-age={}, stale-while-revalidate={}, stale-if-error={}",
                self.soft_ttl_secs,
                self.max_stale_secs.saturating_sub(self.soft_ttl_secs),
                self.max_stale_secs
            )
        } else {
            format!("public, max-age={}", self.not_found_ttl_secs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CachePolicy = CachePolicy {
        soft_ttl_secs: 60,
        max_stale_secs: 3600,
        not_found_ttl_secs: 30,
    };

    fn entry(status: u16) -> PageEntry {
        PageEntry::new(status, "<h1>acme</h1>".into(), 1_000_000)
    }

    #[test]
    fn a_page_is_fresh_then_stale_then_expired() {
        let e = entry(200);
        assert_eq!(POLICY.classify(&e, 1_000_000), Freshness::Fresh);
        assert_eq!(POLICY.classify(&e, 1_000_000 + 59_999), Freshness::Fresh);
        assert_eq!(POLICY.classify(&e, 1_000_000 + 60_000), Freshness::Stale);
        assert_eq!(POLICY.classify(&e, 1_000_000 + 3_599_999), Freshness::Stale);
        assert_eq!(
            POLICY.classify(&e, 1_000_000 + 3_600_000),
            Freshness::Expired
        );
    }

    #[test]
    fn a_not_found_page_is_never_stale() {
        let e = entry(404);
        assert_eq!(POLICY.classify(&e, 1_000_000 + 29_999), Freshness::Fresh);
        assert_eq!(POLICY.classify(&e, 1_000_000 + 30_000), Freshness::Expired);
        assert_eq!(POLICY.storage_ttl_secs(&e), 30);
        assert_eq!(POLICY.cache_control(&e), "public, max-age=30");
    }

    #[test]
    fn a_clock_behind_the_entry_counts_as_age_zero() {
        assert_eq!(POLICY.classify(&entry(200), 0), Freshness::Fresh);
    }

    #[test]
    fn etags_follow_the_body() {
        let a = etag_for("a");
        assert_eq!(a, etag_for("a"));
        assert_ne!(a, etag_for("b"));
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let tag = etag_for("page");
        assert!(if_none_match_hits(&tag, &tag));
        assert!(if_none_match_hits(&format!("\"x\", W/{tag}"), &tag));
        assert!(if_none_match_hits("*", &tag));
        assert!(!if_none_match_hits("\"other\"", &tag));
        assert!(!if_none_match_hits("", &tag));
    }

    #[test]
    fn cache_control_advertises_swr_and_sie() {
        assert_eq!(
            POLICY.cache_control(&entry(200)),
            "public, max-age=60, stale-while-revalidate=3540, stale-if-error=3600"
        );
    }
}
