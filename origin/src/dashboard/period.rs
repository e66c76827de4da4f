//! The dashboard's period (`?day=`, or `?from=&to=`, or all days) and Pacific-time labels.
//!
//! Days are Pacific (America/Los_Angeles) launch days, as the day tables hold them. A range
//! is inclusive and at most [`MAX_RANGE_DAYS`] days. Refusals (400, JSON `error`):
//! `invalid_day`, `invalid_from`, `invalid_to` (not `YYYY-MM-DD`), `range_incomplete`
//! (only one of from/to), `day_and_range` (both forms at once), `range_reversed`
//! (from after to), `range_too_long` (more than 31 days).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::America::Los_Angeles;

use crate::error::AppError;
use crate::ingest::parse_day;

pub const MAX_RANGE_DAYS: i64 = 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    All,
    /// Inclusive Pacific days; `from == to` for one day.
    Days {
        from: NaiveDate,
        to: NaiveDate,
    },
}

fn day_as(raw: &str, code: &'static str) -> Result<NaiveDate, AppError> {
    parse_day(raw).map_err(|_| AppError::BadRequest(code))
}

impl Period {
    /// Validates the query's `day`, `from` and `to`. Pure.
    pub fn parse(
        day: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, AppError> {
        match (day, from, to) {
            (None, None, None) => Ok(Period::All),
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                Err(AppError::BadRequest("day_and_range"))
            }
            (Some(day), None, None) => {
                let day = day_as(day, "invalid_day")?;
                Ok(Period::Days { from: day, to: day })
            }
            (None, Some(from), Some(to)) => {
                let (from, to) = (day_as(from, "invalid_from")?, day_as(to, "invalid_to")?);
                if from > to {
                    return Err(AppError::BadRequest("range_reversed"));
                }
                if (to - from).num_days() + 1 > MAX_RANGE_DAYS {
                    return Err(AppError::BadRequest("range_too_long"));
                }
                Ok(Period::Days { from, to })
            }
            (None, _, _) => Err(AppError::BadRequest("range_incomplete")),
        }
    }

    pub fn bounds(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        match *self {
            Period::All => (None, None),
            Period::Days { from, to } => (Some(from), Some(to)),
        }
    }

    /// The single day, when the period is one day.
    pub fn single_day(&self) -> Option<NaiveDate> {
        match *self {
            Period::Days { from, to } if from == to => Some(from),
            _ => None,
        }
    }

    /// `day=…` or `from=…&to=…`, empty for all days.
    pub fn query(&self) -> String {
        match *self {
            Period::All => String::new(),
            Period::Days { from, to } if from == to => format!("day={from}"),
            Period::Days { from, to } => format!("from={from}&to={to}"),
        }
    }

    /// The same length of period, shifted by `steps` lengths (negative: earlier).
    pub fn shifted(&self, steps: i64) -> Option<Period> {
        match *self {
            Period::All => None,
            Period::Days { from, to } => {
                let len = (to - from).num_days() + 1;
                let by = Duration::days(len * steps);
                Some(Period::Days {
                    from: from + by,
                    to: to + by,
                })
            }
        }
    }

    pub fn label(&self) -> String {
        match *self {
            Period::All => "all days".to_owned(),
            Period::Days { from, to } if from == to => format!("Pacific day {from}"),
            Period::Days { from, to } => format!("Pacific days {from} to {to}"),
        }
    }

    /// A file-name part: `all`, `2026-12-01`, `2026-12-01_2026-12-07`.
    pub fn file_part(&self) -> String {
        match *self {
            Period::All => "all".to_owned(),
            Period::Days { from, to } if from == to => from.to_string(),
            Period::Days { from, to } => format!("{from}_{to}"),
        }
    }
}

/// `14:05 PT` (Pacific time, daylight saving included).
pub fn pt_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Los_Angeles).format("%H:%M PT").to_string()
}

/// `12-01 14:05 PT`.
pub fn pt_day_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Los_Angeles)
        .format("%m-%d %H:%M PT")
        .to_string()
}

/// `2026-12-01 14:05:09 PT`.
pub fn pt_full(t: DateTime<Utc>) -> String {
    t.with_timezone(&Los_Angeles)
        .format("%Y-%m-%d %H:%M:%S PT")
        .to_string()
}

/// Today's Pacific day.
pub fn pacific_today() -> NaiveDate {
    Utc::now().with_timezone(&Los_Angeles).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn code(r: Result<Period, AppError>) -> &'static str {
        match r {
            Err(AppError::BadRequest(c)) => c,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_period_is_one_day_a_bounded_range_or_all_days() {
        assert_eq!(Period::parse(None, None, None).unwrap(), Period::All);
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            Period::parse(Some("2026-12-01"), None, None)
                .unwrap()
                .single_day(),
            Some(d)
        );
        let r = Period::parse(None, Some("2026-12-01"), Some("2026-12-31")).unwrap();
        assert_eq!(r.query(), "from=2026-12-01&to=2026-12-31");
        assert_eq!(
            r.shifted(-1).unwrap().query(),
            "from=2026-10-31&to=2026-11-30"
        );
        assert_eq!(
            code(Period::parse(Some("2026-13-01"), None, None)),
            "invalid_day"
        );
        assert_eq!(
            code(Period::parse(None, Some("x"), Some("2026-12-01"))),
            "invalid_from"
        );
        assert_eq!(
            code(Period::parse(None, Some("2026-12-01"), Some("2026-02-30"))),
            "invalid_to"
        );
        assert_eq!(
            code(Period::parse(None, Some("2026-12-01"), None)),
            "range_incomplete"
        );
        assert_eq!(
            code(Period::parse(Some("2026-12-01"), Some("2026-12-01"), None)),
            "day_and_range"
        );
        assert_eq!(
            code(Period::parse(None, Some("2026-12-02"), Some("2026-12-01"))),
            "range_reversed"
        );
        assert_eq!(
            code(Period::parse(None, Some("2026-12-01"), Some("2027-01-01"))),
            "range_too_long"
        );
    }

    #[test]
    fn times_are_labelled_in_pacific_time_with_daylight_saving() {
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 8, 5, 0).unwrap();
        assert_eq!(pt_time(winter), "00:05 PT");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 8, 5, 0).unwrap();
        assert_eq!(pt_time(summer), "01:05 PT");
    }
}
