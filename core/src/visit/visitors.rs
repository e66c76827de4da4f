//! Visitor identity for unique counts, without cookies and without storing personal data.
//!
//! A visitor is `SHA-256(daily_salt ‖ ip ‖ user_agent)` truncated to 64 bits. The raw IP
//! and user agent are hashed on the request path and dropped; only the hash travels to
//! a counter shard, which folds it into a HyperLogLog (`launch_edge_proto::uniques`),
//! keeping 14 bits of it as a register index and a leading-zero count: not even the hash
//! is stored.
//!
//! The daily salt is `HMAC-SHA256(secret, "launch-edge visitor salt v1|" ‖ YYYY-MM-DD)`
//! for the Pacific launch day, so it rotates at 00:00 America/Los_Angeles by itself.
//! Why derived rather than a random salt per day held by a Durable Object:
//! - every isolate and every counter shard computes the same salt with no round trip
//!   and no coordination, so one visitor hashes identically on every shard and the
//!   merged sketch counts them once (a salt per shard would count them once per shard);
//! - nothing has to be stored, rotated or cleaned up, and there is no race at midnight.
//!
//! The cost: anyone holding the secret can recompute any day's salt and, by hashing every
//! IPv4 address with a guessed user agent, test whether a given hash was a given visitor.
//! Hashes are never stored or logged, so this only matters for hashes seen in transit;
//! rotating the secret ends even that. Use a dedicated secret ([`VISITOR_SALT_SECRET`]).
//! Counting: a salt change at midnight makes everyone a new visitor for the new day,
//! which is what "unique visitors per Pacific day" means anyway.

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use launch_edge_proto::Secret;
use sha2::{Digest, Sha256};

use crate::pacific;

/// The secret (`wrangler secret put`) the daily salt is derived from.
pub const VISITOR_SALT_SECRET: &str = "VISITOR_SALT_SECRET";

const SALT_LABEL: &[u8] = b"launch-edge visitor salt v1|";

/// The salt for one Pacific day. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DailySalt([u8; 32]);

impl DailySalt {
    /// Derives the salt of `day` from `secret`.
    pub fn derive(secret: &Secret, day: NaiveDate) -> Self {
        // HMAC accepts keys of any length, so new_from_slice cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(SALT_LABEL);
        mac.update(pacific::day_key(day).as_bytes());
        Self(mac.finalize().into_bytes().into())
    }

    /// The salt of the Pacific day containing the Unix-milliseconds instant `now_ms`.
    pub fn for_instant(secret: &Secret, now_ms: i64) -> Self {
        Self::derive(secret, pacific::pacific_day_at_ms(now_ms))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The salt of the Pacific day in force, derived once per day and reused: an isolate
/// serves many requests a day, and each derivation costs a time-zone lookup and an HMAC.
#[derive(Default)]
pub struct SaltCache {
    /// `[start_ms, end_ms)` of the cached day, and its salt.
    current: Option<(i64, i64, DailySalt)>,
}

impl SaltCache {
    /// The salt of the Pacific day containing `now_ms` (the same as
    /// [`DailySalt::for_instant`]).
    pub fn salt_at(&mut self, secret: &Secret, now_ms: i64) -> &DailySalt {
        let cached =
            matches!(&self.current, Some((start, end, _)) if (*start..*end).contains(&now_ms));
        if !cached {
            let day = pacific::pacific_day_at_ms(now_ms);
            let start = pacific::day_start_utc(day).timestamp_millis();
            let end = day.succ_opt().map_or(i64::MAX, |next| {
                pacific::day_start_utc(next).timestamp_millis()
            });
            self.current = Some((start, end, DailySalt::derive(secret, day)));
        }
        match &self.current {
            Some((_, _, salt)) => salt,
            None => unreachable!("filled above"),
        }
    }
}

impl std::fmt::Debug for DailySalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DailySalt(<redacted>)")
    }
}

/// The 64-bit visitor hash of an IP and user agent under a daily salt.
///
/// Each field is length-prefixed so `("1.2.3.4", "5x")` and `("1.2.3.45", "x")` differ.
pub fn visitor_hash(ip: &str, user_agent: &str, daily_salt: &[u8]) -> u64 {
    let mut hasher = Sha256::new();
    for field in [daily_salt, ip.as_bytes(), user_agent.as_bytes()] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The per-IP rate-limit key of a client address (`cf-connecting-ip`).
///
/// An IPv4 client is its address. An IPv6 client is its /64 (`2001:db8:1:2::/64`): one
/// subscriber gets at least a /64 and may rotate through its 2^64 addresses at will
/// (privacy extensions do so by themselves), so per address a single client would get an
/// unlimited budget. An IPv4-mapped IPv6 address is its IPv4 address. Anything that is
/// not an IP address (the header is missing, or not set by Cloudflare) shares the one
/// key `unknown`, so it cannot mint fresh keys either.
pub fn limiter_key(ip: &str) -> String {
    use std::net::IpAddr;
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_by_their_64_and_ipv4_clients_by_their_address() {
        assert_eq!(limiter_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(limiter_key(" 203.0.113.7 "), "203.0.113.7");
        assert_ne!(limiter_key("203.0.113.7"), limiter_key("203.0.113.8"));
        let one = limiter_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        assert_eq!(one, "2001:db8:1:2::/64");
        assert_eq!(
            limiter_key("2001:0DB8:0001:0002::1"),
            one,
            "any spelling of the /64"
        );
        assert_eq!(limiter_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), one);
        assert_ne!(
            limiter_key("2001:db8:1:3::1"),
            one,
            "the next /64 is another client"
        );
        assert_eq!(limiter_key("::ffff:198.51.100.4"), "198.51.100.4");
        assert_eq!(limiter_key("::1"), "0:0:0:0::/64");
        for junk in ["", "unknown", "not an ip", "1.2.3.4.5", "2001:db8::/64"] {
            assert_eq!(limiter_key(junk), "unknown", "{junk:?}");
        }
    }

    fn secret() -> Secret {
        Secret::new(b"test-visitor-salt-secret".to_vec())
    }

    #[test]
    fn the_cached_salt_is_the_days_salt_at_every_instant_across_midnight_and_dst() {
        let mut cache = SaltCache::default();
        let instants = [
            "2026-03-08T07:59:59.999Z",
            "2026-03-08T08:00:00Z",
            "2026-03-08T09:59:59Z",
            "2026-03-08T10:00:00Z",
            "2026-03-09T06:59:59.999Z",
            "2026-03-09T07:00:00Z",
            "2026-11-01T06:59:59.999Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T09:30:00Z",
            "2026-11-02T07:59:59.999Z",
            "2026-11-02T08:00:00Z",
            "2026-11-01T07:00:00Z",
        ];
        for at in instants {
            let ms = chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .timestamp_millis();
            let expected = DailySalt::for_instant(&secret(), ms);
            assert_eq!(cache.salt_at(&secret(), ms), &expected, "{at}");
        }
    }

    fn day(text: &str) -> NaiveDate {
        pacific::parse_day_key(text).unwrap()
    }

    #[test]
    fn the_same_visitor_hashes_the_same_within_a_day() {
        let salt = DailySalt::derive(&secret(), day("2026-03-08"));
        let again = DailySalt::derive(&secret(), day("2026-03-08"));
        assert_eq!(
            visitor_hash("203.0.113.7", "Mozilla/5.0", salt.as_bytes()),
            visitor_hash("203.0.113.7", "Mozilla/5.0", again.as_bytes())
        );
    }

    #[test]
    fn the_salt_rotates_at_pacific_midnight() {
        // 2026-06-16T07:00:00Z is 00:00 PDT.
        let midnight_ms = 1_781_593_200_000;
        let before = DailySalt::for_instant(&secret(), midnight_ms - 1);
        let after = DailySalt::for_instant(&secret(), midnight_ms);
        assert_eq!(before, DailySalt::derive(&secret(), day("2026-06-15")));
        assert_eq!(after, DailySalt::derive(&secret(), day("2026-06-16")));
        assert_ne!(
            visitor_hash("203.0.113.7", "ua", before.as_bytes()),
            visitor_hash("203.0.113.7", "ua", after.as_bytes())
        );
    }

    #[test]
    fn different_secrets_give_unrelated_salts() {
        let other = Secret::new(b"another-secret".to_vec());
        assert_ne!(
            DailySalt::derive(&secret(), day("2026-01-01")),
            DailySalt::derive(&other, day("2026-01-01"))
        );
    }

    #[test]
    fn ip_and_user_agent_boundaries_cannot_collide() {
        let salt = [7u8; 32];
        assert_ne!(
            visitor_hash("1.2.3.4", "5x", &salt),
            visitor_hash("1.2.3.45", "x", &salt)
        );
        assert_ne!(
            visitor_hash("1.2.3.4", "ua", &salt),
            visitor_hash("1.2.3.5", "ua", &salt)
        );
        assert_ne!(
            visitor_hash("1.2.3.4", "ua", &salt),
            visitor_hash("1.2.3.4", "ub", &salt)
        );
    }

    #[test]
    fn the_hash_is_the_first_eight_bytes_of_sha256_big_endian() {
        let mut input = Vec::new();
        for field in [&b"s"[..], b"ip", b"ua"] {
            input.extend_from_slice(&(field.len() as u64).to_be_bytes());
            input.extend_from_slice(field);
        }
        let digest = Sha256::digest(&input);
        let expected = u64::from_be_bytes(digest[..8].try_into().unwrap());
        assert_eq!(visitor_hash("ip", "ua", b"s"), expected);
    }

    #[test]
    fn debug_output_never_shows_the_salt() {
        let salt = DailySalt::derive(&secret(), day("2026-01-01"));
        assert_eq!(format!("{salt:?}"), "DailySalt(<redacted>)");
    }
}
