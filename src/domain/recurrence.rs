//! docs/behaviour.md §11: recurring tasks. A rule, read once at the edge, and the one function
//! that says when the next occurrence is due: at the same local wall-clock time as the series'
//! first due time, in the zone the rule was read in, on the first allowed day after the done
//! task's due time that is still ahead.

use std::fmt;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;

use super::dates::resolve_local;
use super::UserError;

/// How often a task comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    /// Monday to Friday.
    Weekdays,
    Weekly,
    /// The same day of the month as the series' first due date, or the month's last day when
    /// it has fewer days (Jan 31, Feb 28, Mar 31).
    Monthly,
    EveryDays(u32),
    EveryWeeks(u32),
}

const MAX_EVERY: u32 = 365;

const ACCEPTED: &str = "daily, weekdays, weekly, monthly, every 3 days or every 2 weeks (1 to 365)";

impl Repeat {
    /// Reads a rule; `Ok(None)` for `never` (which only `/task edit` accepts).
    pub fn parse(text: &str) -> Result<Option<Repeat>, UserError> {
        let text = text.trim().to_lowercase();
        let words: Vec<&str> = text.split_whitespace().collect();
        let unreadable = || {
            UserError::Invalid(format!(
                "I couldn't read \"{}\" as a repeat rule. Try: {ACCEPTED}, or never.",
                super::clip(&text, 40)
            ))
        };
        let every = |n: &str| -> Result<u32, UserError> {
            let n: u32 = n.parse().map_err(|_| unreadable())?;
            if (1..=MAX_EVERY).contains(&n) {
                Ok(n)
            } else {
                Err(UserError::Invalid(format!(
                    "Repeat every {n} is out of range: give 1 to {MAX_EVERY}."
                )))
            }
        };
        let rule = match words.as_slice() {
            ["never"] => return Ok(None),
            ["daily"] | ["every", "day"] => Repeat::Daily,
            ["weekdays"] | ["every", "weekday"] => Repeat::Weekdays,
            ["weekly"] | ["every", "week"] => Repeat::Weekly,
            ["monthly"] | ["every", "month"] => Repeat::Monthly,
            ["every", n, "day" | "days"] => Repeat::EveryDays(every(n)?),
            ["every", n, "week" | "weeks"] => Repeat::EveryWeeks(every(n)?),
            _ => return Err(unreadable()),
        };
        Ok(Some(rule))
    }

    /// The next allowed day after `date`, for a series whose first day is `anchor`.
    fn step(self, date: NaiveDate, anchor: NaiveDate) -> Option<NaiveDate> {
        match self {
            Repeat::Daily => date.checked_add_days(Days::new(1)),
            Repeat::Weekdays => {
                let mut next = date.checked_add_days(Days::new(1))?;
                while matches!(next.weekday(), Weekday::Sat | Weekday::Sun) {
                    next = next.checked_add_days(Days::new(1))?;
                }
                Some(next)
            }
            Repeat::Weekly => date.checked_add_days(Days::new(7)),
            Repeat::EveryDays(n) => date.checked_add_days(Days::new(u64::from(n))),
            Repeat::EveryWeeks(n) => date.checked_add_days(Days::new(7 * u64::from(n))),
            Repeat::Monthly => {
                // From the first of this month, one month on, then back to the anchor day (or
                // the month's last day): a clamped Feb 28 does not drag March to the 28th.
                let first = date.with_day(1)?.checked_add_months(Months::new(1))?;
                let last = first.checked_add_months(Months::new(1))?.pred_opt()?.day();
                first.with_day(anchor.day().min(last))
            }
        }
    }
}

/// The stored form, which [`Repeat::parse`] reads back.
impl fmt::Display for Repeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repeat::Daily => f.write_str("daily"),
            Repeat::Weekdays => f.write_str("weekdays"),
            Repeat::Weekly => f.write_str("weekly"),
            Repeat::Monthly => f.write_str("monthly"),
            Repeat::EveryDays(n) => write!(f, "every {n} days"),
            Repeat::EveryWeeks(n) => write!(f, "every {n} weeks"),
        }
    }
}

/// A task's rule with what it keeps from when it was set: the zone it was read in, and the
/// series' first due time (its local time of day, and for monthly its day of the month).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recurrence {
    pub repeat: Repeat,
    pub zone: Tz,
    pub anchor: DateTime<Utc>,
}

/// However far behind the done task was, the search for the next occurrence stops here.
const MAX_STEPS: usize = 100_000;

impl Recurrence {
    fn local_anchor(&self) -> NaiveDateTime {
        self.anchor.with_timezone(&self.zone).naive_local()
    }

    /// The first occurrence after `previous_due` that is also after `now`, at the anchor's
    /// local time of day (a time a DST change skips moves to the first valid instant).
    pub fn next_after(
        &self,
        previous_due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let anchor = self.local_anchor();
        let mut date = previous_due.with_timezone(&self.zone).date_naive();
        for _ in 0..MAX_STEPS {
            date = self.repeat.step(date, anchor.date())?;
            let at = resolve_local(self.zone, date.and_time(anchor.time()));
            if at > previous_due && at > now {
                return Some(at);
            }
        }
        None
    }

    /// `weekly (Europe/Berlin)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.repeat, self.zone.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Timelike};
    use proptest::prelude::*;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().expect("zone")
    }

    fn local(zone: Tz, y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        resolve_local(
            zone,
            NaiveDate::from_ymd_opt(y, m, d)
                .and_then(|date| date.and_hms_opt(h, 0, 0))
                .expect("valid"),
        )
    }

    #[test]
    fn rules_read_and_print_back() {
        for (text, rule) in [
            ("daily", Repeat::Daily),
            ("Weekdays", Repeat::Weekdays),
            ("weekly", Repeat::Weekly),
            ("monthly", Repeat::Monthly),
            ("every 3 days", Repeat::EveryDays(3)),
            ("every 1 day", Repeat::EveryDays(1)),
            ("every 2 weeks", Repeat::EveryWeeks(2)),
        ] {
            assert_eq!(Repeat::parse(text), Ok(Some(rule)), "{text}");
            assert_eq!(Repeat::parse(&rule.to_string()), Ok(Some(rule)));
        }
        assert_eq!(Repeat::parse("never"), Ok(None));
        for bad in [
            "every 0 days",
            "every 400 weeks",
            "fortnightly",
            "every x days",
            "",
        ] {
            assert!(Repeat::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn monthly_keeps_its_anchor_day_through_short_months() {
        let zone = Tz::UTC;
        let rule = Recurrence {
            repeat: Repeat::Monthly,
            zone,
            anchor: local(zone, 2027, 1, 31, 9),
        };
        let jan = local(zone, 2027, 1, 31, 9);
        let feb = rule.next_after(jan, jan).expect("feb");
        assert_eq!(feb, local(zone, 2027, 2, 28, 9));
        let mar = rule.next_after(feb, feb).expect("mar");
        assert_eq!(mar, local(zone, 2027, 3, 31, 9));
        let apr = rule.next_after(mar, mar).expect("apr");
        assert_eq!(apr, local(zone, 2027, 4, 30, 9));
    }

    #[test]
    fn weekly_keeps_nine_oclock_across_spring_forward_in_berlin() {
        let zone = berlin();
        // Monday 22 March 2027, 09:00 CET; clocks go forward on Sunday 28 March.
        let first = local(zone, 2027, 3, 22, 9);
        let rule = Recurrence {
            repeat: Repeat::Weekly,
            zone,
            anchor: first,
        };
        let next = rule.next_after(first, first).expect("next");
        assert_eq!(next, local(zone, 2027, 3, 29, 9));
        assert_eq!(next - first, chrono::Duration::hours(7 * 24 - 1));
        assert_eq!(next.with_timezone(&zone).hour(), 9);
    }

    #[test]
    fn an_occurrence_already_past_is_skipped_to_the_first_one_ahead() {
        let zone = Tz::UTC;
        let due = local(zone, 2027, 1, 4, 9);
        let rule = Recurrence {
            repeat: Repeat::Daily,
            zone,
            anchor: due,
        };
        // Done five days late, at 10:00: the 9th at 09:00 is past too.
        let now = local(zone, 2027, 1, 9, 10);
        assert_eq!(rule.next_after(due, now), Some(local(zone, 2027, 1, 10, 9)));
        let weekdays = Recurrence {
            repeat: Repeat::Weekdays,
            ..rule
        };
        // Friday the 8th: the next weekday is Monday the 11th.
        let friday = local(zone, 2027, 1, 8, 9);
        assert_eq!(
            weekdays.next_after(friday, friday),
            Some(local(zone, 2027, 1, 11, 9))
        );
    }

    fn zones() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            Tz::UTC,
            berlin(),
            "America/New_York".parse().expect("zone"),
            "Australia/Lord_Howe".parse().expect("zone"),
            "Pacific/Apia".parse().expect("zone"),
        ])
    }

    fn rules() -> impl Strategy<Value = Repeat> {
        prop_oneof![
            Just(Repeat::Daily),
            Just(Repeat::Weekdays),
            Just(Repeat::Weekly),
            Just(Repeat::Monthly),
            (1..=MAX_EVERY).prop_map(Repeat::EveryDays),
            (1..=MAX_EVERY).prop_map(Repeat::EveryWeeks),
        ]
    }

    proptest! {
        #[test]
        fn each_next_occurrence_is_ahead_on_an_allowed_day_at_the_same_local_time(
            repeat in rules(),
            zone in zones(),
            anchor_days in 0_i64..3_000,
            hour in 0_u32..24,
            late_hours in 0_i64..2_000,
            steps in 1_usize..6,
        ) {
            let anchor_date = NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid")
                + chrono::Duration::days(anchor_days);
            let anchor_local = anchor_date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("valid"));
            let anchor = resolve_local(zone, anchor_local);
            let rule = Recurrence { repeat, zone, anchor };
            let mut previous = anchor;
            for step in 0..steps {
                let now = if step == 0 { previous + chrono::Duration::hours(late_hours) } else { previous };
                let next = rule.next_after(previous, now).expect("a next occurrence");
                prop_assert!(next > previous && next > now);
                let local = next.with_timezone(&zone).naive_local();
                // Same wall-clock time as the first due, unless that day skips it (then the
                // first valid instant). A first due typed inside a DST gap was read as the
                // instant the clocks jumped to, and that is the time the series keeps.
                let kept = anchor.with_timezone(&zone).time();
                let wanted = local.date().and_time(kept);
                prop_assert_eq!(next, resolve_local(zone, wanted));
                match repeat {
                    Repeat::Weekdays => prop_assert!(!matches!(local.weekday(), Weekday::Sat | Weekday::Sun)),
                    Repeat::Monthly => {
                        let last = (local.date().with_day(1).expect("first") + Months::new(1)).pred_opt().expect("last").day();
                        prop_assert_eq!(local.day(), anchor_date.day().min(last));
                    }
                    Repeat::Weekly | Repeat::EveryWeeks(_) => {
                        prop_assert_eq!(local.weekday(), anchor_date.weekday());
                    }
                    _ => {}
                }
                previous = next;
            }
        }
    }
}
