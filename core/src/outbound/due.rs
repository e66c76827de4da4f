//! When a task is due, written the way an operator plans a launch.
//!
//! Accepted forms (case-insensitive, spaces optional around `+`/`-`):
//! - an RFC 3339 instant: `2026-12-01T08:01:00Z`, `2026-12-01T00:01:00-08:00`;
//! - a Pacific wall-clock time: `2026-12-01 00:01 PT`, `2026-12-01T00:01 America/Los_Angeles`
//!   (zone `PT`, `Pacific` or `America/Los_Angeles`; seconds optional);
//! - the launch day's wall clock: `launch day 00:01 PT`, `launch day+1 09:00 PT` (the
//!   zone may be omitted: the launch day is Pacific by definition);
//! - an offset from the launch instant: `launch`, `launch+2h`, `launch-24h`,
//!   `launch+1h30m` (units `d`, `h`, `m`, `s`; elapsed time, so `launch+24h` on a DST
//!   weekend lands an hour off the same wall-clock time; use `launch day+1` for that).
//!
//! The launch day is the Pacific calendar day that contains the launch instant (a launch
//! at 07:59 UTC on 1 December is still 30 November in Los Angeles). Wall-clock times go
//! through the tz database, never a fixed offset, and the two DST edges follow one rule,
//! the same as JavaScript Temporal's default ("compatible"):
//! - an **ambiguous** time (01:00–01:59 on the first Sunday of November happens twice)
//!   means the **earlier** one, in PDT;
//! - a **non-existent** time (02:00–02:59 on the second Sunday of March) is **shifted
//!   forward** by the gap, so 02:30 means 03:30 PDT.

use chrono::{DateTime, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone of Product Hunt's day (the same constant as `crate::pacific`).
const PACIFIC: Tz = chrono_tz::America::Los_Angeles;

/// Offsets from the launch are limited to a year either way.
const MAX_OFFSET_SECS: i64 = 366 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DueError {
    #[error("due time is empty")]
    Empty,
    #[error("due time {0:?} is not RFC 3339, a Pacific time such as \"2026-12-01 00:01 PT\", or relative to the launch such as \"launch day 00:01 PT\" or \"launch+2h\"")]
    Unrecognized(String),
    #[error("due time {0:?} is relative to the launch, but the launch has no launch time")]
    NeedsLaunchTime(String),
    #[error("due time {0:?} is out of range")]
    OutOfRange(String),
}

impl DueError {
    pub fn code(&self) -> &'static str {
        match self {
            DueError::Empty => "due_missing",
            DueError::Unrecognized(_) => "due_unrecognized",
            DueError::NeedsLaunchTime(_) => "due_needs_launch_time",
            DueError::OutOfRange(_) => "due_out_of_range",
        }
    }
}

/// Parses a due time into an instant. `launch_at` is needed only by the relative forms.
pub fn parse_due(input: &str, launch_at: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, DueError> {
    let text = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(DueError::Empty);
    }
    let unrecognized = || DueError::Unrecognized(input.to_owned());
    let lower = text.to_ascii_lowercase();

    if let Some(rest) = lower.strip_prefix("launch") {
        let launch = launch_at.ok_or_else(|| DueError::NeedsLaunchTime(input.to_owned()))?;
        let rest = rest.trim_start();
        if let Some(day_spec) = rest.strip_prefix("day") {
            return launch_day(day_spec, launch).ok_or_else(unrecognized);
        }
        let offset = parse_offset(rest).ok_or_else(unrecognized)?;
        return launch
            .checked_add_signed(offset)
            .ok_or_else(|| DueError::OutOfRange(input.to_owned()));
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(&text) {
        return Ok(instant.with_timezone(&Utc));
    }
    let (local, zone) = lower.rsplit_once(' ').ok_or_else(unrecognized)?;
    if !is_pacific(zone) {
        return Err(unrecognized());
    }
    let local = parse_local(local).ok_or_else(unrecognized)?;
    Ok(pacific_to_utc(local))
}

/// The UTC instant of a Pacific wall-clock time, by the DST rule in the module header.
pub fn pacific_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    match PACIFIC.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // In the spring gap: the wall clock an hour later exists (Los Angeles' gap is
        // exactly one hour), which is the same instant as the time read in PST.
        LocalResult::None => {
            let shifted = local + Duration::hours(1);
            PACIFIC
                .from_local_datetime(&shifted)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| shifted.and_utc())
        }
    }
}

/// The Pacific calendar day that contains `instant`.
pub fn pacific_day(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&PACIFIC).date_naive()
}

fn is_pacific(zone: &str) -> bool {
    matches!(zone, "pt" | "pacific" | "america/los_angeles")
}

/// `[+N|-N] HH:MM[:SS] [zone]` after `launch day`.
fn launch_day(spec: &str, launch: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let spec = spec.trim();
    let (day_offset, rest) = match spec.strip_prefix(['+', '-']) {
        Some(after_sign) => {
            let digits_end = after_sign
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_sign.len());
            let n: u64 = after_sign[..digits_end]
                .parse()
                .ok()
                .filter(|&n| n <= 366)?;
            let signed = if spec.starts_with('-') {
                -(n as i64)
            } else {
                n as i64
            };
            (signed, after_sign[digits_end..].trim_start())
        }
        None => (0, spec),
    };
    let mut parts = rest.split(' ');
    let time = parse_time(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, None) => {}
        (Some(zone), None) if is_pacific(zone) => {}
        _ => return None,
    }
    let day = pacific_day(launch);
    let day = if day_offset >= 0 {
        day.checked_add_days(Days::new(day_offset as u64))?
    } else {
        day.checked_sub_days(Days::new(day_offset.unsigned_abs()))?
    };
    Some(pacific_to_utc(day.and_time(time)))
}

/// `YYYY-MM-DD HH:MM[:SS]` or with a `T` between date and time.
fn parse_local(text: &str) -> Option<NaiveDateTime> {
    let (date, time) = text.split_once(['t', ' '])?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(date.and_time(parse_time(time)?))
}

fn parse_time(text: &str) -> Option<chrono::NaiveTime> {
    ["%H:%M", "%H:%M:%S"]
        .iter()
        .find_map(|fmt| chrono::NaiveTime::parse_from_str(text, fmt).ok())
}

/// An empty offset, or a sign followed by `<n><unit>` groups: `+2h`, `- 1h30m`, `+90s`.
fn parse_offset(text: &str) -> Option<Duration> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return Some(Duration::zero());
    }
    let (negative, mut rest) = match text.as_bytes()[0] {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits_end].parse().ok()?;
        let unit = match rest.as_bytes()[digits_end] {
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[digits_end + 1..];
    }
    if total > MAX_OFFSET_SECS {
        return None;
    }
    Some(Duration::seconds(if negative { -total } else { total }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn due(text: &str) -> DateTime<Utc> {
        parse_due(text, None).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn due_after_launch(text: &str, launch: &str) -> DateTime<Utc> {
        parse_due(text, Some(utc(launch))).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn rfc3339_instants_are_taken_as_they_are() {
        assert_eq!(due("2026-12-01T08:01:00Z"), utc("2026-12-01T08:01:00Z"));
        assert_eq!(
            due("2026-12-01T00:01:00-08:00"),
            utc("2026-12-01T08:01:00Z")
        );
        assert_eq!(
            due(" 2026-12-01T08:01:00.500+00:00 "),
            utc("2026-12-01T08:01:00.5Z")
        );
    }

    #[test]
    fn pacific_wall_clock_times_in_winter_are_utc_minus_eight() {
        let expected = utc("2026-12-01T08:01:00Z");
        assert_eq!(due("2026-12-01 00:01 PT"), expected);
        assert_eq!(due("2026-12-01T00:01 America/Los_Angeles"), expected);
        assert_eq!(due("2026-12-01 00:01:00 pacific"), expected);
        assert_eq!(due("2026-12-01t00:01  pt"), expected);
    }

    #[test]
    fn pacific_wall_clock_times_in_summer_are_utc_minus_seven() {
        assert_eq!(due("2026-07-04 00:01 PT"), utc("2026-07-04T07:01:00Z"));
    }

    #[test]
    fn the_march_transition_moves_midnight_from_eight_to_seven_utc() {
        assert_eq!(due("2026-03-07 00:01 PT"), utc("2026-03-07T08:01:00Z"));
        assert_eq!(due("2026-03-08 00:01 PT"), utc("2026-03-08T08:01:00Z"));
        assert_eq!(due("2026-03-08 01:59 PT"), utc("2026-03-08T09:59:00Z"));
        assert_eq!(due("2026-03-08 03:00 PT"), utc("2026-03-08T10:00:00Z"));
        assert_eq!(due("2026-03-09 00:01 PT"), utc("2026-03-09T07:01:00Z"));
    }

    #[test]
    fn a_time_in_the_spring_gap_is_shifted_forward_by_an_hour() {
        // 02:30 does not exist on 2026-03-08; it means 03:30 PDT.
        assert_eq!(due("2026-03-08 02:30 PT"), utc("2026-03-08T10:30:00Z"));
        assert_eq!(due("2026-03-08 02:00 PT"), due("2026-03-08 03:00 PT"));
    }

    #[test]
    fn the_november_transition_moves_midnight_from_seven_to_eight_utc() {
        assert_eq!(due("2026-10-31 00:01 PT"), utc("2026-10-31T07:01:00Z"));
        assert_eq!(due("2026-11-01 00:01 PT"), utc("2026-11-01T07:01:00Z"));
        assert_eq!(due("2026-11-01 03:00 PT"), utc("2026-11-01T11:00:00Z"));
        assert_eq!(due("2026-11-02 00:01 PT"), utc("2026-11-02T08:01:00Z"));
    }

    #[test]
    fn an_ambiguous_autumn_time_means_the_earlier_one_in_pdt() {
        assert_eq!(due("2026-11-01 01:30 PT"), utc("2026-11-01T08:30:00Z"));
    }

    #[test]
    fn launch_day_is_the_pacific_calendar_day_of_the_launch_instant() {
        // 07:59 UTC on 1 December is 23:59 on 30 November in Los Angeles.
        let launch = "2026-12-01T07:59:00Z";
        assert_eq!(
            due_after_launch("launch day 00:01 PT", launch),
            utc("2026-11-30T08:01:00Z")
        );
        assert_eq!(
            due_after_launch("Launch Day 00:01", launch),
            utc("2026-11-30T08:01:00Z")
        );
        assert_eq!(
            due_after_launch("launch day+1 09:00 America/Los_Angeles", launch),
            utc("2026-12-01T17:00:00Z")
        );
        assert_eq!(
            due_after_launch("launch day-1 18:00:30 PT", launch),
            utc("2026-11-30T02:00:30Z")
        );
    }

    #[test]
    fn launch_day_wall_clock_follows_dst_on_transition_days() {
        // Launch at 00:01 PST on 2026-03-08; by noon the clocks say PDT.
        let spring = "2026-03-08T08:01:00Z";
        assert_eq!(
            due_after_launch("launch day 12:00 PT", spring),
            utc("2026-03-08T19:00:00Z")
        );
        assert_eq!(
            due_after_launch("launch day+1 00:01 PT", spring),
            utc("2026-03-09T07:01:00Z")
        );
        // Launch at 00:01 PDT on 2026-11-01; by noon the clocks say PST.
        let autumn = "2026-11-01T07:01:00Z";
        assert_eq!(
            due_after_launch("launch day 12:00 PT", autumn),
            utc("2026-11-01T20:00:00Z")
        );
        assert_eq!(
            due_after_launch("launch day 01:30 PT", autumn),
            utc("2026-11-01T08:30:00Z")
        );
    }

    #[test]
    fn offsets_from_the_launch_are_elapsed_time() {
        let launch = "2026-03-08T08:01:00Z";
        assert_eq!(due_after_launch("launch", launch), utc(launch));
        assert_eq!(
            due_after_launch("launch+2h", launch),
            utc("2026-03-08T10:01:00Z")
        );
        assert_eq!(
            due_after_launch("launch - 24h", launch),
            utc("2026-03-07T08:01:00Z")
        );
        assert_eq!(
            due_after_launch("LAUNCH+1h30m15s", launch),
            utc("2026-03-08T09:31:15Z")
        );
        // 24 elapsed hours across the spring change: 01:01 PDT the next day, not 00:01.
        assert_eq!(
            due_after_launch("launch+1d", launch),
            utc("2026-03-09T08:01:00Z")
        );
    }

    #[test]
    fn relative_forms_need_the_launch_time() {
        for text in ["launch+2h", "launch day 00:01 PT"] {
            assert_eq!(
                parse_due(text, None),
                Err(DueError::NeedsLaunchTime(text.to_owned()))
            );
        }
    }

    #[test]
    fn malformed_due_times_get_specific_errors() {
        let launch = Some(utc("2026-12-01T08:01:00Z"));
        assert_eq!(parse_due("  ", launch).unwrap_err().code(), "due_missing");
        for bad in [
            "tomorrow",
            "2026-12-01 00:01",
            "2026-12-01 00:01 EST",
            "2026-12-01 00:01 PST",
            "2026-13-01 00:01 PT",
            "2026-12-01 24:01 PT",
            "launch+2x",
            "launch+",
            "launch+h",
            "launch 2h",
            "launch+99999999d",
            "launch+9999999999999999999h",
            "launch day 25:00 PT",
            "launch day 00:01 UTC",
            "launch day+x 00:01 PT",
            "launch day",
            "launch day 00:01 PT extra",
        ] {
            let err = parse_due(bad, launch).unwrap_err();
            assert_eq!(err.code(), "due_unrecognized", "{bad}: {err:?}");
        }
    }
}
