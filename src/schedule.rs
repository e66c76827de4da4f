//! What each Cron Trigger does at a given instant: the pure plan behind `cron`.
//!
//! Crons run in UTC. `* * * * *` sweeps: it flushes the counter shards of active launches
//! (a safety net behind each shard's own alarm) and pre-warms the page of any launch due
//! within [`PREWARM_AHEAD_MS`]. `0 7 * * *` and `0 8 * * *` exist because Pacific midnight
//! is 07:00 UTC in summer and 08:00 UTC in winter; only the firing that lands in the first
//! hour of a Pacific day finalizes the day that ended, so exactly one of them acts whatever
//! the season, and a second firing only repeats an idempotent finalize. Sweeps during that
//! first hour finalize again, which picks up batches that arrived late.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::pacific;

pub const SWEEP_CRON: &str = "* * * * *";
pub const ROLLOVER_CRONS: [&str; 2] = ["0 7 * * *", "0 8 * * *"];
/// Pages are pre-warmed this long before their launch.
pub const PREWARM_AHEAD_MS: i64 = 2 * 60 * 60 * 1000;
/// Launches this close to now (either way) have their shards swept.
pub const ACTIVE_WINDOW_MS: i64 = 3 * 24 * 60 * 60 * 1000;

/// A launch as the origin lists it for the crons (`GET /internal/launches`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LaunchSchedule {
    pub slug: String,
    pub launch_at_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Launches whose shards are flushed now.
    pub flush: Vec<String>,
    /// The Pacific day to finalize at the origin, after the flush.
    pub finalize_day: Option<NaiveDate>,
    /// Launches whose page should be in KV by now.
    pub prewarm: Vec<String>,
}

/// Whether this firing polls the monitored launches (every minute; the monitor keeps
/// its own, slower cadence within the Product Hunt budget).
pub fn runs_monitor(cron: &str) -> bool {
    cron == SWEEP_CRON
}

pub fn plan(cron: &str, now_ms: i64, launches: &[LaunchSchedule]) -> Plan {
    let sweep = cron == SWEEP_CRON;
    let rollover = ROLLOVER_CRONS.contains(&cron);
    if !sweep && !rollover {
        return Plan::default();
    }
    let finalize_day = pacific::is_pacific_midnight_hour(pacific::instant_from_ms(now_ms));
    let active = |l: &&LaunchSchedule| (l.launch_at_ms - now_ms).abs() <= ACTIVE_WINDOW_MS;
    let flush = if sweep || finalize_day.is_some() {
        launches
            .iter()
            .filter(active)
            .map(|l| l.slug.clone())
            .collect()
    } else {
        Vec::new()
    };
    let prewarm = if sweep {
        launches
            .iter()
            .filter(|l| l.launch_at_ms > now_ms && l.launch_at_ms - now_ms <= PREWARM_AHEAD_MS)
            .map(|l| l.slug.clone())
            .collect()
    } else {
        Vec::new()
    };
    Plan {
        flush,
        finalize_day,
        prewarm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn in_summer_the_07_00_utc_firing_finalizes_and_the_08_00_one_does_not() {
        assert_eq!(
            plan("0 7 * * *", ms(2026, 7, 15, 7, 0), &[]).finalize_day,
            day(2026, 7, 14)
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 7, 15, 8, 0), &[]).finalize_day,
            None
        );
    }

    #[test]
    fn in_winter_the_08_00_utc_firing_finalizes_and_the_07_00_one_does_not() {
        assert_eq!(
            plan("0 7 * * *", ms(2026, 12, 2, 7, 0), &[]).finalize_day,
            None
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 12, 2, 8, 0), &[]).finalize_day,
            day(2026, 12, 1)
        );
    }

    #[test]
    fn the_day_of_the_spring_transition_ends_at_07_00_utc() {
        // 2026-03-08 is 23 hours long: it starts at 08:00 UTC (PST) and the next day
        // starts at 07:00 UTC (PDT).
        assert_eq!(
            plan("0 7 * * *", ms(2026, 3, 9, 7, 0), &[]).finalize_day,
            day(2026, 3, 8)
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 3, 9, 8, 0), &[]).finalize_day,
            None
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 3, 8, 8, 0), &[]).finalize_day,
            day(2026, 3, 7)
        );
    }

    #[test]
    fn the_day_of_the_autumn_transition_ends_at_08_00_utc() {
        // 2026-11-01 is 25 hours long: it starts at 07:00 UTC (PDT) and ends at 08:00 UTC (PST).
        assert_eq!(
            plan("0 7 * * *", ms(2026, 11, 1, 7, 0), &[]).finalize_day,
            day(2026, 10, 31)
        );
        assert_eq!(
            plan("0 7 * * *", ms(2026, 11, 2, 7, 0), &[]).finalize_day,
            None
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 11, 2, 8, 0), &[]).finalize_day,
            day(2026, 11, 1)
        );
    }

    #[test]
    fn firing_twice_plans_the_same_idempotent_finalize() {
        let at = ms(2026, 12, 2, 8, 0);
        assert_eq!(
            plan("0 8 * * *", at, &[]),
            plan("0 8 * * *", at + 30_000, &[])
        );
    }

    #[test]
    fn sweeps_flush_active_launches_and_prewarm_those_due_within_two_hours() {
        let now = ms(2026, 12, 1, 6, 0);
        let launches = [
            LaunchSchedule {
                slug: "soon".into(),
                launch_at_ms: now + PREWARM_AHEAD_MS,
            },
            LaunchSchedule {
                slug: "later".into(),
                launch_at_ms: now + PREWARM_AHEAD_MS + 60_000,
            },
            LaunchSchedule {
                slug: "live".into(),
                launch_at_ms: now - 3_600_000,
            },
            LaunchSchedule {
                slug: "old".into(),
                launch_at_ms: now - ACTIVE_WINDOW_MS - 1,
            },
        ];
        let p = plan(SWEEP_CRON, now, &launches);
        assert_eq!(p.flush, ["soon", "later", "live"]);
        assert_eq!(p.prewarm, ["soon"]);
        assert_eq!(p.finalize_day, None);
    }

    #[test]
    fn a_sweep_in_the_first_pacific_hour_finalizes_yesterday_again() {
        assert_eq!(
            plan(SWEEP_CRON, ms(2026, 12, 2, 8, 30), &[]).finalize_day,
            day(2026, 12, 1)
        );
    }

    #[test]
    fn only_the_sweep_polls_the_monitor() {
        assert!(runs_monitor(SWEEP_CRON));
        assert!(!runs_monitor("0 7 * * *"));
    }

    #[test]
    fn an_unknown_cron_does_nothing() {
        assert_eq!(
            plan("*/5 * * * *", ms(2026, 12, 2, 8, 0), &[]),
            Plan::default()
        );
    }
}
