//! The Product Hunt launch day: 00:00 to 24:00 America/Los_Angeles.
//!
//! Product Hunt's day (and so every "today" in the counters, the stats and the rollover
//! cron) starts at Pacific midnight, which is 08:00 UTC in winter (PST, UTC-8) and 07:00
//! UTC in summer (PDT, UTC-7). The offset changes at 2 a.m. local on the second Sunday of
//! March and the first Sunday of November, so one launch day a year lasts 23 hours and
//! one lasts 25. Everything here goes through the tz database (`chrono-tz`, built with
//! only the zones we use, see `.cargo/config.toml`), never through a fixed offset.
//!
//! Cron Triggers run in UTC and cannot express "Pacific midnight", so the rollover cron
//! fires at both 07:00 and 08:00 UTC and [`is_pacific_midnight_hour`] tells the one that
//! falls in the first hour of a Pacific day, exactly one of the two on every date.
//!
//! All functions take the instant as an argument; none reads a clock.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The zone whose midnight starts a launch day.
pub const LAUNCH_TZ: Tz = chrono_tz::America::Los_Angeles;

/// The UTC instant of a Unix-milliseconds timestamp, saturating at chrono's range
/// (a JavaScript `Date.now()` is always well inside it).
pub fn instant_from_ms(at_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at_ms).unwrap_or(if at_ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// The Pacific launch day that contains `now`.
pub fn pacific_day(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&LAUNCH_TZ).date_naive()
}

/// The Pacific launch day that contains the Unix-milliseconds instant `at_ms`.
pub fn pacific_day_at_ms(at_ms: i64) -> NaiveDate {
    pacific_day(instant_from_ms(at_ms))
}

/// The UTC instant at which `day` starts (its 00:00 in Los Angeles).
pub fn day_start_utc(day: NaiveDate) -> DateTime<Utc> {
    // Los Angeles never skips or repeats midnight (its changes happen at 2 a.m.), so the
    // first candidate always resolves; later hours only guard a zone that jumps at 00:00.
    (0..4)
        .filter_map(|hour| NaiveTime::from_hms_opt(hour, 0, 0))
        .find_map(|time| {
            LAUNCH_TZ
                .from_local_datetime(&day.and_time(time))
                .earliest()
        })
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| day.and_time(NaiveTime::MIN).and_utc())
}

/// The UTC instant at which the launch day after the one containing `now` starts.
pub fn next_midnight_utc(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = pacific_day(now);
    match today.checked_add_days(Days::new(1)) {
        Some(tomorrow) => day_start_utc(tomorrow),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// For a cron firing at `now` (07:00 or 08:00 UTC): the Pacific day that just ended
/// when `now` falls in the first hour of a Pacific day, else `None`.
///
/// Exactly one of the 07:00 and 08:00 UTC firings of any date qualifies; a firing that
/// runs late by up to 59 minutes still does.
pub fn is_pacific_midnight_hour(now: DateTime<Utc>) -> Option<NaiveDate> {
    let local = now.with_timezone(&LAUNCH_TZ);
    if local.hour() != 0 {
        return None;
    }
    local.date_naive().checked_sub_days(Days::new(1))
}

/// The stable text form of a launch day, `YYYY-MM-DD` (as in `CounterDelta::day`).
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Parses `YYYY-MM-DD` (e.g. a `?day=` query on the stats endpoint).
pub fn parse_day_key(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        parse_day_key(text).unwrap()
    }

    fn ms(text: &str) -> i64 {
        utc(text).timestamp_millis()
    }

    #[test]
    fn an_ordinary_winter_day_starts_at_eight_utc() {
        assert_eq!(
            day_start_utc(date("2026-01-15")),
            utc("2026-01-15T08:00:00Z")
        );
        assert_eq!(pacific_day(utc("2026-01-15T12:00:00Z")), date("2026-01-15"));
        // Late evening in California is already tomorrow in UTC.
        assert_eq!(pacific_day(utc("2026-01-16T05:00:00Z")), date("2026-01-15"));
    }

    #[test]
    fn an_ordinary_summer_day_starts_at_seven_utc() {
        assert_eq!(
            day_start_utc(date("2026-06-15")),
            utc("2026-06-15T07:00:00Z")
        );
        assert_eq!(pacific_day(utc("2026-06-16T06:30:00Z")), date("2026-06-15"));
    }

    #[test]
    fn the_last_millisecond_before_midnight_belongs_to_the_old_day() {
        let midnight = ms("2026-06-16T07:00:00Z");
        assert_eq!(pacific_day_at_ms(midnight - 1), date("2026-06-15"));
        assert_eq!(pacific_day_at_ms(midnight), date("2026-06-16"));
        assert_eq!(pacific_day_at_ms(midnight + 1), date("2026-06-16"));

        let winter_midnight = ms("2026-12-01T08:00:00Z");
        assert_eq!(pacific_day_at_ms(winter_midnight - 1), date("2026-11-30"));
        assert_eq!(pacific_day_at_ms(winter_midnight), date("2026-12-01"));
    }

    #[test]
    fn the_spring_forward_day_lasts_twenty_three_hours() {
        // 2026-03-08: 01:59:59.999 PST is followed by 03:00:00.000 PDT.
        let start = day_start_utc(date("2026-03-08"));
        let end = day_start_utc(date("2026-03-09"));
        assert_eq!(start, utc("2026-03-08T08:00:00Z"));
        assert_eq!(end, utc("2026-03-09T07:00:00Z"));
        assert_eq!((end - start).num_hours(), 23);

        let jump = ms("2026-03-08T10:00:00Z");
        assert_eq!(pacific_day_at_ms(jump - 1), date("2026-03-08"));
        assert_eq!(pacific_day_at_ms(jump), date("2026-03-08"));
        assert_eq!(
            instant_from_ms(jump - 1)
                .with_timezone(&LAUNCH_TZ)
                .format("%H:%M")
                .to_string(),
            "01:59"
        );
        assert_eq!(
            instant_from_ms(jump)
                .with_timezone(&LAUNCH_TZ)
                .format("%H:%M")
                .to_string(),
            "03:00"
        );
        // The new midnight is an hour earlier in UTC.
        assert_eq!(
            pacific_day_at_ms(ms("2026-03-09T06:59:59.999Z")),
            date("2026-03-08")
        );
        assert_eq!(
            pacific_day_at_ms(ms("2026-03-09T07:00:00Z")),
            date("2026-03-09")
        );
    }

    #[test]
    fn the_fall_back_day_lasts_twenty_five_hours() {
        // 2026-11-01: 01:59:59.999 PDT is followed by 01:00:00.000 PST.
        let start = day_start_utc(date("2026-11-01"));
        let end = day_start_utc(date("2026-11-02"));
        assert_eq!(start, utc("2026-11-01T07:00:00Z"));
        assert_eq!(end, utc("2026-11-02T08:00:00Z"));
        assert_eq!((end - start).num_hours(), 25);

        // Both 01:30s (PDT then PST) and the 2 a.m. edge are the same launch day.
        for instant in [
            "2026-11-01T08:30:00Z",
            "2026-11-01T08:59:59.999Z",
            "2026-11-01T09:00:00Z",
            "2026-11-01T09:30:00Z",
            "2026-11-02T07:59:59.999Z",
        ] {
            assert_eq!(pacific_day(utc(instant)), date("2026-11-01"), "{instant}");
        }
        assert_eq!(pacific_day(utc("2026-11-02T08:00:00Z")), date("2026-11-02"));
    }

    #[test]
    fn next_midnight_follows_the_offset_in_force_tomorrow() {
        assert_eq!(
            next_midnight_utc(utc("2026-03-08T12:00:00Z")),
            utc("2026-03-09T07:00:00Z")
        );
        assert_eq!(
            next_midnight_utc(utc("2026-11-01T12:00:00Z")),
            utc("2026-11-02T08:00:00Z")
        );
        // At midnight exactly, the next one is a day away.
        assert_eq!(
            next_midnight_utc(utc("2026-06-15T07:00:00Z")),
            utc("2026-06-16T07:00:00Z")
        );
        assert_eq!(
            next_midnight_utc(utc("2026-06-15T06:59:59.999Z")),
            utc("2026-06-15T07:00:00Z")
        );
    }

    #[test]
    fn exactly_one_of_the_two_rollover_crons_acts_each_day() {
        let cases = [
            // (date of the firings, which one acts, the day that ended)
            ("2026-01-15", "08", "2026-01-14"),
            ("2026-03-08", "08", "2026-03-07"),
            ("2026-03-09", "07", "2026-03-08"),
            ("2026-06-15", "07", "2026-06-14"),
            ("2026-11-01", "07", "2026-10-31"),
            ("2026-11-02", "08", "2026-11-01"),
        ];
        for (day, acting, ended) in cases {
            for hour in ["07", "08"] {
                let firing = utc(&format!("{day}T{hour}:00:05Z"));
                let expected = (hour == acting).then(|| date(ended));
                assert_eq!(is_pacific_midnight_hour(firing), expected, "{day} {hour}");
            }
        }
    }

    #[test]
    fn a_late_rollover_cron_still_acts_within_the_hour() {
        assert_eq!(
            is_pacific_midnight_hour(utc("2026-06-15T07:59:00Z")),
            Some(date("2026-06-14"))
        );
        assert_eq!(is_pacific_midnight_hour(utc("2026-06-15T08:00:00Z")), None);
    }

    #[test]
    fn day_keys_round_trip() {
        assert_eq!(day_key(date("2026-03-08")), "2026-03-08");
        assert_eq!(parse_day_key(" 2026-11-01 "), Some(date("2026-11-01")));
        assert_eq!(parse_day_key("2026-13-01"), None);
        assert_eq!(parse_day_key("yesterday"), None);
    }

    #[test]
    fn extreme_timestamps_saturate_instead_of_panicking() {
        assert_eq!(instant_from_ms(i64::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(instant_from_ms(i64::MIN), DateTime::<Utc>::MIN_UTC);
        let _ = pacific_day_at_ms(i64::MAX);
    }
}
