//! What each Cron Trigger does at a given instant: the pure plan behind `cron`.
//!
//! Crons run in UTC. `* * * * *` sweeps: it flushes the counter shards of active launches
//! (a safety net behind each shard's own alarm) and pre-warms the page of any launch due
//! within [`PREWARM_AHEAD_MS`]. `0 7 * * *` and `0 8 * * *` exist because Pacific midnight
//! is 07:00 UTC in summer and 08:00 UTC in winter; only the firing that lands in the first
//! hour of a Pacific day finalizes the day that ended, so exactly one of them acts whatever
//! the season, and a second firing only repeats an idempotent finalize. Sweeps during that
//! first hour finalize again, which picks up batches that arrived late.
//!
//! Catching up: the worker remembers the last day it finalized (KV). A sweep at any hour
//! finalizes every day after that one up to yesterday (at most [`MAX_CATCH_UP_DAYS`]), so
//! a missed rollover firing (a deploy, an outage of the origin at midnight) is made good
//! a minute later; with nothing remembered, yesterday is finalized once more. Finalizing
//! is idempotent, so catching up twice is harmless.
//!
//! Forgetting: whenever a day is finalized, the swept launches' shards forget the live
//! stats of the days before it ([`Plan::forget_before`]): those days are over and in
//! Postgres, yesterday and today stay for the live stats. A shard keeps a day whose
//! counts or sketch have not drained yet (`CounterState::forget_days_before`).

use chrono::NaiveDate;
use serde::Deserialize;

use crate::pacific;

pub const SWEEP_CRON: &str = "* * * * *";
pub const ROLLOVER_CRONS: [&str; 2] = ["0 7 * * *", "0 8 * * *"];
/// Pages are pre-warmed this long before their launch.
pub const PREWARM_AHEAD_MS: i64 = 2 * 60 * 60 * 1000;
/// Launches this close to now (either way) have their shards swept.
pub const ACTIVE_WINDOW_MS: i64 = 3 * 24 * 60 * 60 * 1000;
/// Most missed days one sweep finalizes.
pub const MAX_CATCH_UP_DAYS: u64 = 7;

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
    /// The Pacific days to finalize at the origin, oldest first, after the flush.
    pub finalize_days: Vec<NaiveDate>,
    /// The swept launches' shards forget the live stats of days before this one.
    pub forget_before: Option<NaiveDate>,
    /// Launches whose page should be in KV by now.
    pub prewarm: Vec<String>,
}

/// Whether this firing polls the monitored launches (every minute; the monitor keeps
/// its own, slower cadence within the Product Hunt budget).
pub fn runs_monitor(cron: &str) -> bool {
    cron == SWEEP_CRON
}

/// The plan at `now_ms`; `last_finalized` is the last day the worker finalized, if it
/// remembers one.
pub fn plan(
    cron: &str,
    now_ms: i64,
    launches: &[LaunchSchedule],
    last_finalized: Option<NaiveDate>,
) -> Plan {
    let sweep = cron == SWEEP_CRON;
    let rollover = ROLLOVER_CRONS.contains(&cron);
    if !sweep && !rollover {
        return Plan::default();
    }
    let midnight_hour = pacific::is_pacific_midnight_hour(pacific::instant_from_ms(now_ms));
    let mut finalize_days: Vec<NaiveDate> = midnight_hour.into_iter().collect();
    if sweep {
        finalize_days = catch_up(now_ms, last_finalized);
        finalize_days.extend(midnight_hour.filter(|d| !finalize_days.contains(d)));
    }
    let active = |l: &&LaunchSchedule| (l.launch_at_ms - now_ms).abs() <= ACTIVE_WINDOW_MS;
    let flush = if sweep || !finalize_days.is_empty() {
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
        forget_before: finalize_days.iter().max().copied(),
        finalize_days,
        prewarm,
    }
}

/// The days after `last_finalized` up to yesterday (yesterday alone when none is known).
fn catch_up(now_ms: i64, last_finalized: Option<NaiveDate>) -> Vec<NaiveDate> {
    let Some(yesterday) = pacific::pacific_day_at_ms(now_ms).pred_opt() else {
        return Vec::new();
    };
    let earliest = yesterday - chrono::Days::new(MAX_CATCH_UP_DAYS - 1);
    let first = match last_finalized {
        None => yesterday,
        Some(last) => match last.succ_opt() {
            Some(next) => next.max(earliest),
            None => return Vec::new(),
        },
    };
    first.iter_days().take_while(|d| *d <= yesterday).collect()
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

    fn days(list: &[(i32, u32, u32)]) -> Vec<NaiveDate> {
        list.iter().filter_map(|&(y, m, d)| day(y, m, d)).collect()
    }

    #[test]
    fn a_sweep_after_a_missed_rollover_finalizes_the_missed_day() {
        // Noon PT on 2026-12-02; the rollover at 08:00 UTC never ran, the last day the
        // worker finalized is 2026-11-30.
        let noon = ms(2026, 12, 2, 20, 0);
        let p = plan(SWEEP_CRON, noon, &[], day(2026, 11, 30));
        assert_eq!(p.finalize_days, days(&[(2026, 12, 1)]));
        assert_eq!(p.forget_before, day(2026, 12, 1));
        // Once it is done, later sweeps that day have nothing to finalize.
        let later = plan(SWEEP_CRON, noon + 60_000, &[], day(2026, 12, 1));
        assert_eq!((later.finalize_days, later.forget_before), (vec![], None));
    }

    #[test]
    fn catching_up_finalizes_every_missed_day_up_to_a_week_and_nothing_ahead() {
        let noon = ms(2026, 12, 2, 20, 0);
        assert_eq!(
            plan(SWEEP_CRON, noon, &[], day(2026, 11, 28)).finalize_days,
            days(&[(2026, 11, 29), (2026, 11, 30), (2026, 12, 1)])
        );
        let long_ago = plan(SWEEP_CRON, noon, &[], day(2026, 1, 1)).finalize_days;
        assert_eq!(long_ago.len() as u64, MAX_CATCH_UP_DAYS);
        assert_eq!(long_ago.last().copied(), day(2026, 12, 1));
        assert_eq!(
            plan(SWEEP_CRON, noon, &[], None).finalize_days,
            days(&[(2026, 12, 1)]),
            "nothing remembered: yesterday once more"
        );
        assert!(plan(SWEEP_CRON, noon, &[], day(2026, 12, 5))
            .finalize_days
            .is_empty());
    }

    #[test]
    fn the_rollover_crons_never_catch_up_outside_the_first_pacific_hour() {
        assert!(
            plan("0 7 * * *", ms(2026, 12, 2, 7, 0), &[], day(2026, 11, 1))
                .finalize_days
                .is_empty()
        );
    }

    #[test]
    fn in_summer_the_07_00_utc_firing_finalizes_and_the_08_00_one_does_not() {
        assert_eq!(
            plan("0 7 * * *", ms(2026, 7, 15, 7, 0), &[], None).finalize_days,
            days(&[(2026, 7, 14)])
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 7, 15, 8, 0), &[], None).finalize_days,
            days(&[])
        );
    }

    #[test]
    fn in_winter_the_08_00_utc_firing_finalizes_and_the_07_00_one_does_not() {
        assert_eq!(
            plan("0 7 * * *", ms(2026, 12, 2, 7, 0), &[], None).finalize_days,
            days(&[])
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 12, 2, 8, 0), &[], None).finalize_days,
            days(&[(2026, 12, 1)])
        );
    }

    #[test]
    fn the_day_of_the_spring_transition_ends_at_07_00_utc() {
        // 2026-03-08 is 23 hours long: it starts at 08:00 UTC (PST) and the next day
        // starts at 07:00 UTC (PDT).
        assert_eq!(
            plan("0 7 * * *", ms(2026, 3, 9, 7, 0), &[], None).finalize_days,
            days(&[(2026, 3, 8)])
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 3, 9, 8, 0), &[], None).finalize_days,
            days(&[])
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 3, 8, 8, 0), &[], None).finalize_days,
            days(&[(2026, 3, 7)])
        );
    }

    #[test]
    fn the_day_of_the_autumn_transition_ends_at_08_00_utc() {
        // 2026-11-01 is 25 hours long: it starts at 07:00 UTC (PDT) and ends at 08:00 UTC (PST).
        assert_eq!(
            plan("0 7 * * *", ms(2026, 11, 1, 7, 0), &[], None).finalize_days,
            days(&[(2026, 10, 31)])
        );
        assert_eq!(
            plan("0 7 * * *", ms(2026, 11, 2, 7, 0), &[], None).finalize_days,
            days(&[])
        );
        assert_eq!(
            plan("0 8 * * *", ms(2026, 11, 2, 8, 0), &[], None).finalize_days,
            days(&[(2026, 11, 1)])
        );
    }

    #[test]
    fn firing_twice_plans_the_same_idempotent_finalize() {
        let at = ms(2026, 12, 2, 8, 0);
        assert_eq!(
            plan("0 8 * * *", at, &[], None),
            plan("0 8 * * *", at + 30_000, &[], None)
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
        let p = plan(SWEEP_CRON, now, &launches, day(2026, 11, 29));
        assert_eq!(p.flush, ["soon", "later", "live"]);
        assert_eq!(p.prewarm, ["soon"]);
        assert_eq!((p.finalize_days, p.forget_before), (vec![], None));
    }

    #[test]
    fn a_sweep_in_the_first_pacific_hour_finalizes_yesterday_again() {
        assert_eq!(
            plan(SWEEP_CRON, ms(2026, 12, 2, 8, 30), &[], day(2026, 12, 1)).finalize_days,
            days(&[(2026, 12, 1)])
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
            plan("*/5 * * * *", ms(2026, 12, 2, 8, 0), &[], None),
            Plan::default()
        );
    }
}
