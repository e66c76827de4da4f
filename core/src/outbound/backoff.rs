//! What to do after an outbound attempt: done, retry later (and when), or dead-letter.
//!
//! Retries use capped exponential backoff with *full* jitter: after the n-th failed
//! attempt the delay is uniform in `[0, min(cap, base · 2^(n-1))]`. Full jitter (rather
//! than a fixed or "equal" jitter) spreads the retries of many tasks that failed together,
//! so a recovering server does not see them return as one wave.
//!
//! When the server says how long to wait (`Retry-After`, or a rate-limit reset while
//! throttled, see [`RateLimitInfo::server_delay_ms`]) that delay replaces the computed one,
//! clamped to [`BackoffPolicy::max_server_delay_ms`] (1 hour by default) so a garbage or
//! hostile header cannot park a task for days; a task still throttled after that spends
//! another attempt and is asked again.
//!
//! Classification: 2xx is delivered; 408, 429, 5xx, network errors and timeouts are
//! retryable; anything else (other 4xx, and 1xx/3xx, which `fetch` never hands back for a
//! well-behaved endpoint) fails at once, because repeating the same request cannot
//! change the answer. Retries stop after `max_attempts` attempts in total and the task
//! goes to the dead-letter queue with its last error.
//!
//! [`RateLimitInfo::server_delay_ms`]: super::rate_limit::RateLimitInfo::server_delay_ms

use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::rng::uniform_inclusive;

/// Upper bound on any server-provided delay (1 hour).
pub const MAX_SERVER_DELAY_MS: u64 = 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackoffPolicy {
    /// Ceiling of the first retry's delay.
    pub base_ms: u64,
    /// Ceiling of any computed delay.
    pub cap_ms: u64,
    /// Attempts in total, the first one included (at least 1).
    pub max_attempts: u32,
    /// Clamp for server-provided delays.
    pub max_server_delay_ms: u64,
}

impl Default for BackoffPolicy {
    /// 1 s, doubling to at most 5 min, 8 attempts: about 10 minutes of expected retrying
    /// before a task is dead-lettered, long enough to ride out a webhook provider's blip.
    fn default() -> Self {
        Self {
            base_ms: 1_000,
            cap_ms: 5 * 60 * 1000,
            max_attempts: 8,
            max_server_delay_ms: MAX_SERVER_DELAY_MS,
        }
    }
}

/// How an attempt ended, as the glue observed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    /// The server answered with this status.
    Status { status: u16 },
    /// The request never got an answer (DNS, connection reset, TLS, ...).
    NetworkError { message: String },
    /// No answer within the glue's deadline.
    Timeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeClass {
    Success,
    Retryable,
    Permanent,
}

impl Outcome {
    pub fn status(status: u16) -> Self {
        Outcome::Status { status }
    }

    pub fn class(&self) -> OutcomeClass {
        match self {
            Outcome::Status { status } => match status {
                200..=299 => OutcomeClass::Success,
                408 | 429 | 500..=599 => OutcomeClass::Retryable,
                _ => OutcomeClass::Permanent,
            },
            Outcome::NetworkError { .. } | Outcome::Timeout => OutcomeClass::Retryable,
        }
    }

    /// A short description for the dead-letter record and logs (never contains secrets:
    /// the glue passes only the status or its own error text).
    pub fn describe(&self) -> String {
        match self {
            // Outbound calls never follow redirects: say so, the status alone puzzles.
            Outcome::Status { status } if (300..400).contains(status) => {
                format!("HTTP {status} (redirects are not followed)")
            }
            Outcome::Status { status } => format!("HTTP {status}"),
            Outcome::NetworkError { message } => format!("network error: {message}"),
            Outcome::Timeout => "timeout".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadReason {
    /// A permanent failure: retrying cannot help.
    Permanent,
    /// Retryable failures until `max_attempts` ran out.
    Exhausted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    /// Schedule attempt number `next_attempt` (1-based) after `delay_ms`.
    Retry {
        delay_ms: u64,
        next_attempt: u32,
        /// True when the delay came from the server rather than from the backoff.
        server_directed: bool,
    },
    DeadLetter {
        reason: DeadReason,
        last_error: String,
        attempts: u32,
    },
}

impl BackoffPolicy {
    /// `min(cap, base · 2^(failed_attempts - 1))`, saturating; 0 failed attempts counts as 1.
    pub fn ceiling_ms(&self, failed_attempts: u32) -> u64 {
        let exponent = failed_attempts.saturating_sub(1).min(63);
        self.base_ms
            .saturating_mul(1u64 << exponent)
            .min(self.cap_ms)
    }

    /// A full-jitter delay: uniform in `[0, ceiling_ms(failed_attempts)]`.
    pub fn jittered_delay_ms(&self, failed_attempts: u32, rng: &mut impl RngCore) -> u64 {
        uniform_inclusive(rng, self.ceiling_ms(failed_attempts))
    }

    /// The delay before the next attempt: the server's (clamped) when it gave one,
    /// otherwise a full-jitter draw. Returns the delay and whether the server chose it.
    pub fn retry_delay_ms(
        &self,
        failed_attempts: u32,
        server_delay_ms: Option<u64>,
        rng: &mut impl RngCore,
    ) -> (u64, bool) {
        match server_delay_ms {
            Some(server) => (server.min(self.max_server_delay_ms), true),
            None => (self.jittered_delay_ms(failed_attempts, rng), false),
        }
    }

    /// Decides what follows attempt number `attempt` (1-based) that ended with `outcome`.
    /// `server_delay_ms` is what the response's headers asked for, if anything.
    pub fn decide(
        &self,
        attempt: u32,
        outcome: &Outcome,
        server_delay_ms: Option<u64>,
        rng: &mut impl RngCore,
    ) -> Decision {
        let attempt = attempt.max(1);
        match outcome.class() {
            OutcomeClass::Success => Decision::Delivered,
            OutcomeClass::Permanent => Decision::DeadLetter {
                reason: DeadReason::Permanent,
                last_error: outcome.describe(),
                attempts: attempt,
            },
            OutcomeClass::Retryable if attempt >= self.max_attempts.max(1) => {
                Decision::DeadLetter {
                    reason: DeadReason::Exhausted,
                    last_error: outcome.describe(),
                    attempts: attempt,
                }
            }
            OutcomeClass::Retryable => {
                let (delay_ms, server_directed) =
                    self.retry_delay_ms(attempt, server_delay_ms, rng);
                Decision::Retry {
                    delay_ms,
                    next_attempt: attempt + 1,
                    server_directed,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::rng::SplitMix64;

    const POLICY: BackoffPolicy = BackoffPolicy {
        base_ms: 1_000,
        cap_ms: 60_000,
        max_attempts: 5,
        max_server_delay_ms: MAX_SERVER_DELAY_MS,
    };

    #[test]
    fn the_ceiling_doubles_from_the_base_until_the_cap() {
        let ceilings: Vec<u64> = (1..=8).map(|n| POLICY.ceiling_ms(n)).collect();
        assert_eq!(
            ceilings,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(POLICY.ceiling_ms(0), 1_000);
        assert_eq!(POLICY.ceiling_ms(u32::MAX), 60_000);
    }

    #[test]
    fn every_attempts_delay_stays_within_zero_and_its_ceiling() {
        let mut rng = SplitMix64::new(1);
        for attempt in 1..=40 {
            let ceiling = POLICY.ceiling_ms(attempt);
            for _ in 0..200 {
                let d = POLICY.jittered_delay_ms(attempt, &mut rng);
                assert!(d <= ceiling, "attempt {attempt}: {d} > {ceiling}");
            }
        }
    }

    #[test]
    fn jitter_spreads_delays_across_the_whole_interval_with_a_mean_near_half_the_cap() {
        let mut rng = SplitMix64::new(0x5eed);
        let attempt = 10; // ceiling is the cap, 60 s
        let draws: Vec<u64> = (0..1000)
            .map(|_| POLICY.jittered_delay_ms(attempt, &mut rng))
            .collect();
        let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
        assert!((27_000.0..33_000.0).contains(&mean), "mean {mean}");
        // Every tenth of the interval gets a share of the draws (expected 100 each).
        let mut deciles = [0u32; 10];
        for d in &draws {
            deciles[((*d * 10 / 60_001) as usize).min(9)] += 1;
        }
        assert!(
            deciles.iter().all(|&c| (60..=140).contains(&c)),
            "{deciles:?}"
        );
        assert!(*draws.iter().min().unwrap() < 1_000);
        assert!(*draws.iter().max().unwrap() > 59_000);
    }

    #[test]
    fn a_seeded_source_reproduces_the_same_schedule() {
        let schedule = |seed| {
            let mut rng = SplitMix64::new(seed);
            (1..=5)
                .map(|n| POLICY.jittered_delay_ms(n, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(schedule(9), schedule(9));
        assert_ne!(schedule(9), schedule(10));
    }

    #[test]
    fn a_server_delay_overrides_the_computed_one_and_is_clamped_to_an_hour() {
        let mut rng = SplitMix64::new(3);
        assert_eq!(
            POLICY.retry_delay_ms(1, Some(120_000), &mut rng),
            (120_000, true)
        );
        assert_eq!(POLICY.retry_delay_ms(4, Some(0), &mut rng), (0, true));
        assert_eq!(
            POLICY.retry_delay_ms(1, Some(86_400_000), &mut rng),
            (MAX_SERVER_DELAY_MS, true)
        );
        let (d, server) = POLICY.retry_delay_ms(1, None, &mut rng);
        assert!(!server && d <= 1_000);
    }

    #[test]
    fn statuses_408_429_and_5xx_and_network_failures_are_retryable() {
        for status in [408, 429, 500, 502, 503, 504, 520, 599] {
            assert_eq!(Outcome::status(status).class(), OutcomeClass::Retryable);
        }
        assert_eq!(Outcome::Timeout.class(), OutcomeClass::Retryable);
        let reset = Outcome::NetworkError {
            message: "connection reset".into(),
        };
        assert_eq!(reset.class(), OutcomeClass::Retryable);
    }

    #[test]
    fn other_4xx_and_odd_statuses_fail_at_once_and_2xx_succeeds() {
        for status in [
            400, 401, 403, 404, 405, 409, 410, 413, 422, 301, 304, 100, 600,
        ] {
            assert_eq!(Outcome::status(status).class(), OutcomeClass::Permanent);
        }
        for status in [200, 201, 204, 299] {
            assert_eq!(Outcome::status(status).class(), OutcomeClass::Success);
        }
    }

    #[test]
    fn a_redirect_is_a_permanent_failure_that_says_it_was_not_followed() {
        for status in [301, 302, 303, 307, 308] {
            let outcome = Outcome::status(status);
            assert_eq!(outcome.class(), OutcomeClass::Permanent);
            assert_eq!(
                outcome.describe(),
                format!("HTTP {status} (redirects are not followed)")
            );
        }
        assert_eq!(Outcome::status(404).describe(), "HTTP 404");
    }

    #[test]
    fn a_permanent_failure_is_dead_lettered_on_the_first_attempt() {
        let mut rng = SplitMix64::new(4);
        let decision = POLICY.decide(1, &Outcome::status(404), Some(5_000), &mut rng);
        assert_eq!(
            decision,
            Decision::DeadLetter {
                reason: DeadReason::Permanent,
                last_error: "HTTP 404".into(),
                attempts: 1,
            }
        );
    }

    #[test]
    fn retryable_failures_retry_until_max_attempts_then_dead_letter_with_the_last_error() {
        let mut rng = SplitMix64::new(5);
        for attempt in 1..POLICY.max_attempts {
            match POLICY.decide(attempt, &Outcome::status(503), None, &mut rng) {
                Decision::Retry {
                    delay_ms,
                    next_attempt,
                    server_directed,
                } => {
                    assert_eq!(next_attempt, attempt + 1);
                    assert!(delay_ms <= POLICY.ceiling_ms(attempt));
                    assert!(!server_directed);
                }
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
        assert_eq!(
            POLICY.decide(5, &Outcome::Timeout, None, &mut rng),
            Decision::DeadLetter {
                reason: DeadReason::Exhausted,
                last_error: "timeout".into(),
                attempts: 5,
            }
        );
    }

    #[test]
    fn a_429_with_retry_after_retries_exactly_when_the_server_asked() {
        let mut rng = SplitMix64::new(6);
        assert_eq!(
            POLICY.decide(2, &Outcome::status(429), Some(7_000), &mut rng),
            Decision::Retry {
                delay_ms: 7_000,
                next_attempt: 3,
                server_directed: true,
            }
        );
    }

    #[test]
    fn success_is_delivered_whatever_the_attempt() {
        let mut rng = SplitMix64::new(7);
        assert_eq!(
            POLICY.decide(99, &Outcome::status(204), None, &mut rng),
            Decision::Delivered
        );
    }

    #[test]
    fn outcomes_round_trip_through_json_for_the_dead_letter_record() {
        let o = Outcome::NetworkError {
            message: "dns".into(),
        };
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(json, r#"{"type":"network_error","message":"dns"}"#);
        assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), o);
    }
}
