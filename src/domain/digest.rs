//! docs/behaviour.md §10: the personal morning digest. When it is due, and what it lists.

use chrono::{DateTime, Datelike, Days, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::dates::resolve_local;
use super::ids::UserId;
use super::task::{Status, Task};
use super::UserError;

/// Reads `08:30`, `8:30` or `off` (None).
pub fn parse_digest_time(text: &str) -> Result<Option<NaiveTime>, UserError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .map(Some)
        .map_err(|_| {
            UserError::Invalid(format!(
                "I couldn't read \"{}\" as a digest time: give a time such as 08:30 (24-hour), \
                 or off.",
                super::clip(text, 20)
            ))
        })
}

/// The first weekday (Monday to Friday) at `time` in `zone` strictly after `after`. A time a
/// DST change skips moves to the first valid instant, as for standups.
pub fn next_digest_at(time: NaiveTime, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut date = after.with_timezone(&zone).date_naive();
    for _ in 0..8 {
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            let at = resolve_local(zone, date.and_time(time));
            if at > after {
                return Some(at);
            }
        }
        date = date.checked_add_days(Days::new(1))?;
    }
    None
}

/// What the digest of `user` lists at `now`: their open tasks that are overdue, due before the
/// end of today in `zone`, or blocked; soonest due first, undated ones last.
pub fn digest_tasks(tasks: &[Task], user: UserId, now: DateTime<Utc>, zone: Tz) -> Vec<&Task> {
    let tomorrow = now
        .with_timezone(&zone)
        .date_naive()
        .checked_add_days(Days::new(1))
        .map(|day| resolve_local(zone, day.and_time(NaiveTime::MIN)));
    let mut listed: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.assignee_id == Some(user) && t.status.is_open())
        .filter(|t| {
            t.status == Status::Blocked
                || t.due_at
                    .is_some_and(|due| tomorrow.is_none_or(|end| due < end))
        })
        .collect();
    listed.sort_by_key(|t| (t.due_at.is_none(), t.due_at, t.number));
    listed
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn digest_times_read_as_24_hour_clock_or_off() {
        assert_eq!(
            parse_digest_time("08:30"),
            Ok(NaiveTime::from_hms_opt(8, 30, 0))
        );
        assert_eq!(parse_digest_time("off"), Ok(None));
        for bad in ["8.30", "25:00", "tomorrow", ""] {
            assert!(parse_digest_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_digest_skips_weekends_and_keeps_local_time_across_dst() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let time = NaiveTime::from_hms_opt(8, 30, 0).expect("valid");
        // Friday 27 March 2026 at 09:00 UTC: past Friday's 08:30 (07:30 UTC); the next is
        // Monday the 30th, after the clocks went forward: 08:30 CEST = 06:30 UTC.
        assert_eq!(
            next_digest_at(time, berlin, at(2026, 3, 27, 9, 0)),
            Some(at(2026, 3, 30, 6, 30))
        );
        // Before Friday's: Friday's, in CET.
        assert_eq!(
            next_digest_at(time, berlin, at(2026, 3, 27, 7, 0)),
            Some(at(2026, 3, 27, 7, 30))
        );
    }
}
