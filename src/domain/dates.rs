//! Reading the due dates people type: `tomorrow 9am`, `in 2h`, `dec 1`, `eow`.
//!
//! The accepted language is small and fixed, so it is a hand-written
//! tokenizer plus one function per form family; a regex would hide the rules
//! that the tests below pin down.

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// Shown with every refusal so people can fix their input without help.
pub const ACCEPTED_FORMS: &str = "Try: 2026-12-01, 2026-12-01 17:00, dec 1, 1 dec 9:30, today, tomorrow 9am, friday, next monday 14:00, in 3 days, in 2h, in 90 minutes, eod, eow.";

/// Why a due date was refused; Display text is shown to users as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("I couldn't read \"{input}\" as a date. {}", ACCEPTED_FORMS)]
    Unreadable { input: String },
    #[error(
        "That due time is already in the past; pick one that is still ahead. {}",
        ACCEPTED_FORMS
    )]
    InPast,
}

/// A date given without a time means the end of the working day.
const DEFAULT_TIME: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(time) => time,
    None => panic!("17:00 is a valid time"),
};

/// The refused input is echoed back to chat; keep the echo short.
const ECHO_LIMIT: usize = 60;

/// Enough to cover the largest real gap (Samoa skipped a whole day in 2011).
const MAX_GAP_MINUTES: u32 = 2 * 24 * 60;

/// How far ahead a day and month without a year may roll (Feb 29 needs up to 8).
const MAX_YEARS_AHEAD: i32 = 8;

/// Reads `input` typed at `now` by someone in `zone`.
pub fn parse_due(input: &str, now: DateTime<Utc>, zone: Tz) -> Result<DateTime<Utc>, DateError> {
    let tokens = tokenize(input);
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let clock = Clock::new(now, zone);

    let due = match words.as_slice() {
        ["in", span @ ..] => relative(span, now),
        ["eod"] => clock.resolve(Some(DaySpec::Today), None),
        ["eow"] => clock.resolve(
            Some(DaySpec::Weekday {
                day: Weekday::Fri,
                after_today: false,
            }),
            None,
        ),
        _ => absolute(&words, &clock),
    };

    match due {
        None => Err(DateError::Unreadable { input: echo(input) }),
        // Equal to now counts as past: `in 0m` is not a useful deadline.
        Some(due) if due <= now => Err(DateError::InPast),
        Some(due) => Ok(due),
    }
}

/// Which edge of a day a date typed without a time stands for (away periods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEdge {
    /// The day's first instant (`from:monday` = from Monday morning).
    Start,
    /// The day's last instant, exclusive: the next day's start (`until:friday` = through Friday).
    End,
}

/// Reads a bound of an away period typed at `now` in `zone`: as [`parse_due`], except that a
/// date without a time means that day's `edge`, and an instant already past is returned as is
/// (the caller decides what a past bound means).
pub fn parse_day_edge(
    input: &str,
    now: DateTime<Utc>,
    zone: Tz,
    edge: DayEdge,
) -> Result<DateTime<Utc>, DateError> {
    let tokens = tokenize(input);
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let clock = Clock::new(now, zone);
    let unreadable = || DateError::Unreadable { input: echo(input) };
    let day = match words.as_slice() {
        ["in", span @ ..] => return relative(span, now).ok_or_else(unreadable),
        ["eod"] => Some(DaySpec::Today),
        ["eow"] => Some(DaySpec::Weekday {
            day: Weekday::Fri,
            after_today: false,
        }),
        _ => {
            let (day_words, time) = split_time(&words);
            if time.is_some() || day_words.is_empty() {
                return absolute(&words, &clock).ok_or_else(unreadable);
            }
            Some(parse_day(day_words).ok_or_else(unreadable)?)
        }
    };
    // The last second of a day picks the same day as any time on it would, today included.
    let last_second = NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(unreadable)?;
    let date = clock
        .resolve(day, Some(last_second))
        .ok_or_else(unreadable)?
        .with_timezone(&zone)
        .date_naive();
    let date = match edge {
        DayEdge::Start => date,
        DayEdge::End => date.checked_add_days(Days::new(1)).ok_or_else(unreadable)?,
    };
    Ok(resolve_local(zone, date.and_time(NaiveTime::MIN)))
}

/// Reads a span like `90m`, `2h`, `1d`, `45 minutes`, `3 days`, `1h30m`, `2w` (no leading "in").
/// Used for `in ...` and for reminder offsets. None when unreadable. Zero is returned as a zero Duration (callers validate ranges).
pub fn parse_span(input: &str) -> Option<Duration> {
    let text = input.to_lowercase();
    let mut chars = text.chars().peekable();
    let mut total = Duration::zero();
    let mut pending: Option<i64> = None;
    let mut groups = 0;
    // Set by "and" so that a trailing "and" (`2h and`) is refused.
    let mut expect_group = false;

    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        match chars.peek() {
            None => break,
            Some(c) if c.is_ascii_digit() => {
                if pending.is_some() {
                    return None;
                }
                pending = Some(read_number(&mut chars)?);
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let mut word = String::new();
                while let Some(c) = chars.next_if(char::is_ascii_alphabetic) {
                    word.push(c);
                }
                match (pending.take(), word.as_str()) {
                    // "an hour", "a day".
                    (None, "a" | "an") => pending = Some(1),
                    (None, "and") if groups > 0 && !expect_group => expect_group = true,
                    (Some(amount), unit) => {
                        total = total.checked_add(&unit_span(unit, amount)?)?;
                        groups += 1;
                        expect_group = false;
                    }
                    (None, _) => return None,
                }
            }
            Some(_) => return None,
        }
    }

    (pending.is_none() && groups > 0 && !expect_group).then_some(total)
}

/// Resolve a local wall-clock time in `zone`: skipped (DST gap) -> first valid instant after; ambiguous -> earlier.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    earliest_instant(zone, local).unwrap_or_else(|| end_of_gap(zone, local))
}

/// The instant a wall-clock time names, taking the earlier of two; None in a gap.
fn earliest_instant(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(first.min(second).with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// The first instant after the gap that swallowed `local`.
///
/// chrono-tz does not expose transitions, so walk forward a minute at a time
/// to a wall time that exists, then back a second at a time to where the gap
/// ends (so `02:30:37` still lands on `03:00:00`).
fn end_of_gap(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let minute = Duration::minutes(1);
    let second = Duration::seconds(1);
    let mut probe = local;
    for _ in 0..MAX_GAP_MINUTES {
        let Some(next) = probe.checked_add_signed(minute) else {
            break;
        };
        probe = next;
        if earliest_instant(zone, probe).is_none() {
            continue;
        }
        for _ in 0..60 {
            match probe.checked_sub_signed(second) {
                Some(before) if earliest_instant(zone, before).is_some() => probe = before,
                _ => break,
            }
        }
        if let Some(found) = earliest_instant(zone, probe) {
            return found;
        }
    }
    // Unreachable with real zone data; use the offset in force around then
    // rather than panic.
    let offset = zone.offset_from_utc_datetime(&local).fix();
    local.checked_sub_offset(offset).unwrap_or(local).and_utc()
}

/// Lower-cased words, with "9 am" joined to "9am" and "2026-12-01t17:00"
/// split in two, so each form family sees one shape per word.
fn tokenize(input: &str) -> Vec<String> {
    let lowered = input.to_lowercase().replace(',', " ");
    let mut tokens: Vec<String> = Vec::new();
    for word in lowered.split_whitespace() {
        if matches!(word, "am" | "pm") {
            if let Some(previous) = tokens.last_mut() {
                if previous.bytes().all(|b| b.is_ascii_digit() || b == b':') {
                    previous.push_str(word);
                    continue;
                }
            }
        }
        if let Some((date, time)) = word.split_once('t') {
            if date.contains('-') && date.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                tokens.push(date.to_string());
                tokens.push(time.to_string());
                continue;
            }
        }
        tokens.push(word.to_string());
    }
    tokens
}

/// The day part of an absolute due date, before it is pinned to a calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DaySpec {
    Today,
    Tomorrow,
    /// `after_today` is the `next monday` form, which never means today.
    Weekday {
        day: Weekday,
        after_today: bool,
    },
    /// No year given: rolls to next year once the day has passed.
    MonthDay {
        month: u32,
        day: u32,
    },
    /// Year given: never rolls, so a past one is refused.
    Date(NaiveDate),
}

/// `now` seen from the typist's zone.
struct Clock {
    now: DateTime<Utc>,
    zone: Tz,
    today: NaiveDate,
}

impl Clock {
    fn new(now: DateTime<Utc>, zone: Tz) -> Self {
        let today = now.with_timezone(&zone).date_naive();
        Clock { now, zone, today }
    }

    fn at(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        resolve_local(self.zone, date.and_time(time))
    }

    fn days_ahead(&self, days: u64) -> Option<NaiveDate> {
        self.today.checked_add_days(Days::new(days))
    }

    /// Pins a day and/or time to an instant; None when neither was given.
    fn resolve(&self, day: Option<DaySpec>, time: Option<NaiveTime>) -> Option<DateTime<Utc>> {
        let Some(day) = day else {
            return time.and_then(|time| self.bare_time(time));
        };
        let time = time.unwrap_or(DEFAULT_TIME);
        match day {
            DaySpec::Today => Some(self.at(self.today, time)),
            DaySpec::Tomorrow => Some(self.at(self.days_ahead(1)?, time)),
            DaySpec::Weekday { day, after_today } => self.weekday(day, after_today, time),
            DaySpec::MonthDay { month, day } => self.month_day(month, day, time),
            DaySpec::Date(date) => Some(self.at(date, time)),
        }
    }

    /// A time alone means the next time the clock shows it.
    fn bare_time(&self, time: NaiveTime) -> Option<DateTime<Utc>> {
        let today = self.at(self.today, time);
        if today > self.now {
            Some(today)
        } else {
            Some(self.at(self.days_ahead(1)?, time))
        }
    }

    fn weekday(&self, day: Weekday, after_today: bool, time: NaiveTime) -> Option<DateTime<Utc>> {
        let from = self.today.weekday().num_days_from_monday();
        let to = day.num_days_from_monday();
        let ahead = (to + 7 - from) % 7;
        if ahead == 0 {
            let today = self.at(self.today, time);
            if !after_today && today > self.now {
                return Some(today);
            }
            return Some(self.at(self.days_ahead(7)?, time));
        }
        Some(self.at(self.days_ahead(u64::from(ahead))?, time))
    }

    /// This year's date unless the day is already behind us. Today stays
    /// today (a past time then is refused, not moved a year on), and Feb 29
    /// waits for the next leap year.
    fn month_day(&self, month: u32, day: u32, time: NaiveTime) -> Option<DateTime<Utc>> {
        let year = self.today.year();
        (year..=year.saturating_add(MAX_YEARS_AHEAD))
            .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
            .find(|date| *date >= self.today)
            .map(|date| self.at(date, time))
    }
}

/// `in <span>`: exactly now plus the span, seconds included.
fn relative(span: &[&str], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if span.is_empty() {
        return None;
    }
    now.checked_add_signed(parse_span(&span.join(" "))?)
}

/// Everything that names a day and/or a clock time.
fn absolute(words: &[&str], clock: &Clock) -> Option<DateTime<Utc>> {
    let (day_words, time) = split_time(words);
    let day = if day_words.is_empty() {
        None
    } else {
        Some(parse_day(day_words)?)
    };
    clock.resolve(day, time)
}

/// Takes the clock time off either end (`tomorrow at 9am`, `9am tomorrow`).
fn split_time<'a, 'b>(words: &'a [&'b str]) -> (&'a [&'b str], Option<NaiveTime>) {
    if let [rest @ .., last] = words {
        if let Some(time) = parse_time(last) {
            let rest = match rest {
                [before @ .., "at"] => before,
                _ => rest,
            };
            return (rest, Some(time));
        }
    }
    let leading = match words {
        ["at", rest @ ..] => rest,
        _ => words,
    };
    if let [first, rest @ ..] = leading {
        if let Some(time) = parse_time(first) {
            return (rest, Some(time));
        }
    }
    (words, None)
}

fn parse_day(words: &[&str]) -> Option<DaySpec> {
    match *words {
        ["today"] => Some(DaySpec::Today),
        ["tomorrow"] => Some(DaySpec::Tomorrow),
        [word] => parse_weekday(word)
            .map(|day| DaySpec::Weekday {
                day,
                after_today: false,
            })
            .or_else(|| parse_iso_date(word).map(DaySpec::Date)),
        ["this", word] => parse_weekday(word).map(|day| DaySpec::Weekday {
            day,
            after_today: false,
        }),
        ["next", word] => parse_weekday(word).map(|day| DaySpec::Weekday {
            day,
            after_today: true,
        }),
        [first, second] => {
            let (month, day) = parse_month_day(first, second)?;
            Some(DaySpec::MonthDay { month, day })
        }
        [first, second, year] => {
            let (month, day) = parse_month_day(first, second)?;
            let year = i32::try_from(parse_number(year, 4, 4)?).ok()?;
            NaiveDate::from_ymd_opt(year, month, day).map(DaySpec::Date)
        }
        _ => None,
    }
}

/// `dec 1` or `1 dec`; None for days no year has (`feb 30`).
fn parse_month_day(first: &str, second: &str) -> Option<(u32, u32)> {
    let (month, day) = match (parse_month(first), parse_month(second)) {
        (Some(month), None) => (month, parse_day_of_month(second)?),
        (None, Some(month)) => (month, parse_day_of_month(first)?),
        _ => return None,
    };
    // 2000 is a leap year, so this admits Feb 29 and nothing impossible.
    NaiveDate::from_ymd_opt(2000, month, day)?;
    Some((month, day))
}

/// `1`, `01`, `1st`, `22nd`.
fn parse_day_of_month(word: &str) -> Option<u32> {
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|suffix| word.strip_suffix(suffix))
        .unwrap_or(word);
    parse_number(digits, 1, 2)
}

/// `2026-12-01` (single-digit month and day allowed).
fn parse_iso_date(word: &str) -> Option<NaiveDate> {
    let mut parts = word.split('-');
    let year = parse_number(parts.next()?, 4, 4)?;
    let month = parse_number(parts.next()?, 1, 2)?;
    let day = parse_number(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// `17:00`, `9:30`, `9am`, `9:30pm`, `12am`, `noon`. A bare number is never a
/// time, so `dec 1` stays a date.
pub(crate) fn parse_time(word: &str) -> Option<NaiveTime> {
    if word == "noon" {
        return NaiveTime::from_hms_opt(12, 0, 0);
    }
    let (clock, pm) = match (word.strip_suffix("am"), word.strip_suffix("pm")) {
        (Some(clock), _) => (clock, Some(false)),
        (_, Some(clock)) => (clock, Some(true)),
        _ => (word, None),
    };
    let (hour, minute) = match clock.split_once(':') {
        Some((hour, minute)) => (parse_number(hour, 1, 2)?, parse_number(minute, 2, 2)?),
        None if pm.is_some() => (parse_number(clock, 1, 2)?, 0),
        None => return None,
    };
    let hour = match pm {
        None => hour,
        Some(_) if !(1..=12).contains(&hour) => return None,
        // 12am is midnight and 12pm is noon.
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    // Range checks (25:00, 9:61) happen here.
    NaiveTime::from_hms_opt(hour, minute, 0)
}

pub(crate) fn parse_weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn parse_month(word: &str) -> Option<u32> {
    Some(match word {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

/// ASCII digits only (so no other script's digits sneak in), with a length
/// window that also keeps the value far from overflow.
fn parse_number(text: &str, min_len: usize, max_len: usize) -> Option<u32> {
    if !(min_len..=max_len).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A run of ASCII digits; None when it overflows.
fn read_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<i64> {
    let mut value: i64 = 0;
    while let Some(digit) = chars.next_if(char::is_ascii_digit) {
        let digit = i64::from(digit.to_digit(10)?);
        value = value.checked_mul(10)?.checked_add(digit)?;
    }
    Some(value)
}

fn unit_span(unit: &str, amount: i64) -> Option<Duration> {
    match unit {
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::try_minutes(amount),
        "h" | "hr" | "hrs" | "hour" | "hours" => Duration::try_hours(amount),
        "d" | "day" | "days" => Duration::try_days(amount),
        "w" | "wk" | "wks" | "week" | "weeks" => Duration::try_weeks(amount),
        _ => None,
    }
}

/// The input as echoed in an error: one line, and short.
fn echo(input: &str) -> String {
    let collapsed = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= ECHO_LIMIT {
        return collapsed;
    }
    let mut short: String = collapsed.chars().take(ECHO_LIMIT).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Europe::Berlin, Pacific::Apia, UTC};

    /// Every zone the zone-independent forms are checked in.
    const ZONES: [Tz; 3] = [UTC, New_York, Berlin];

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// A wall-clock time that exists exactly once in `zone`, as UTC.
    fn local(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    fn due(input: &str, now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        parse_due(input, now, zone).unwrap_or_else(|e| panic!("{input:?} in {zone}: {e}"))
    }

    fn unreadable(input: &str, now: DateTime<Utc>, zone: Tz) -> bool {
        matches!(
            parse_due(input, now, zone),
            Err(DateError::Unreadable { .. })
        )
    }

    /// Wednesday 2026-06-10, mid-morning in all three zones, with stray seconds.
    fn wednesday() -> DateTime<Utc> {
        utc(2026, 6, 10, 10, 15, 37)
    }

    /// What `parse_due` must answer.
    #[derive(Debug, PartialEq)]
    enum Want {
        At(DateTime<Utc>),
        InPast,
        Unreadable,
    }

    use Want::{At, InPast, Unreadable};

    /// [`Want::At`] a UTC time.
    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Want {
        At(utc(y, mo, d, h, mi, s))
    }

    /// One row: what was typed, when, in which zone, and the answer.
    type Row = (&'static str, DateTime<Utc>, Tz, Want);

    /// Checks every row, then fails once, naming each row that went wrong.
    fn check(rows: &[Row]) {
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|(input, now, zone, want)| {
                let got = match parse_due(input, *now, *zone) {
                    Ok(at) => At(at),
                    Err(DateError::InPast) => InPast,
                    Err(DateError::Unreadable { .. }) => Unreadable,
                };
                (got != *want)
                    .then(|| format!("{input:?} at {now} in {zone}: want {want:?}, got {got:?}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} rows failed:\n{}",
            failures.len(),
            rows.len(),
            failures.join("\n")
        );
    }

    /// The same text at the same moment in each of [`ZONES`], its answer per zone.
    fn in_every_zone(
        inputs: &[&'static str],
        now: DateTime<Utc>,
        want: impl Fn(Tz) -> Want,
    ) -> Vec<Row> {
        ZONES
            .into_iter()
            .flat_map(|zone| inputs.iter().map(move |input| (*input, now, zone)))
            .map(|(input, now, zone)| (input, now, zone, want(zone)))
            .collect()
    }

    #[test]
    fn iso_dates() {
        let now = wednesday();
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            // Without a time: 17:00 local.
            ("2026-12-01",        now, UTC,      at(2026, 12, 1, 17, 0, 0)),
            ("2026-12-01",        now, New_York, at(2026, 12, 1, 22, 0, 0)),
            ("2026-12-01",        now, Berlin,   at(2026, 12, 1, 16, 0, 0)),
            // With a time: that local time.
            ("2026-12-01 17:00",  now, UTC,      at(2026, 12, 1, 17, 0, 0)),
            ("2026-12-01 17:00",  now, New_York, at(2026, 12, 1, 22, 0, 0)),
            ("2026-12-01 9:30",   now, Berlin,   at(2026, 12, 1, 8, 30, 0)),
            ("2026-12-01 at 9am", now, New_York, at(2026, 12, 1, 14, 0, 0)),
            // A `T` separator, and single-digit month and day.
            ("2026-12-01T17:00",  now, Berlin,   at(2026, 12, 1, 16, 0, 0)),
            ("2026-7-4",          now, UTC,      at(2026, 7, 4, 17, 0, 0)),
        ];
        check(&rows);
    }

    #[test]
    fn month_names() {
        let now = wednesday();
        // Month and day in either order and spelling.
        let mut rows = in_every_zone(
            &[
                "dec 1",
                "1 dec",
                "december 1",
                "1 december",
                "Dec 1st",
                "DEC 01",
            ],
            now,
            |zone| At(local(zone, 2026, 12, 1, 17, 0)),
        );
        let december_2nd = utc(2026, 12, 2, 12, 0, 0);
        let december_1st_evening = utc(2026, 12, 1, 18, 0, 0);
        #[rustfmt::skip]
        let more: Vec<Row> = vec![
            // With a time.
            ("1 dec 9:30",           now,                  UTC,      at(2026, 12, 1, 9, 30, 0)),
            ("1 dec 9:30",           now,                  New_York, at(2026, 12, 1, 14, 30, 0)),
            ("dec 1 at 9:30pm",      now,                  Berlin,   at(2026, 12, 1, 20, 30, 0)),
            // With an explicit year.
            ("dec 1 2027",           now,                  UTC,      at(2027, 12, 1, 17, 0, 0)),
            ("1 december, 2027 9am", now,                  New_York, at(2027, 12, 1, 14, 0, 0)),
            // Already past this year: next year.
            ("dec 1",                december_2nd,         UTC,      at(2027, 12, 1, 17, 0, 0)),
            ("jan 15 9:00",          december_2nd,         Berlin,   at(2027, 1, 15, 8, 0, 0)),
            // Today, with the time past: in the past, not next year.
            ("dec 1",                december_1st_evening, UTC,      InPast),
            ("dec 1 19:00",          december_1st_evening, UTC,      at(2026, 12, 1, 19, 0, 0)),
            // February 29th waits for a leap year.
            ("feb 29",               now,                  UTC,      at(2028, 2, 29, 17, 0, 0)),
        ];
        rows.extend(more);
        check(&rows);
    }

    #[test]
    fn today_and_tomorrow() {
        let now = wednesday();
        // 02:00 UTC Wednesday is still Tuesday 22:00 in New York.
        let late_tuesday_in_new_york = utc(2026, 6, 10, 2, 0, 0);
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            // 17:00 local today.
            ("today",           now,                      UTC,      at(2026, 6, 10, 17, 0, 0)),
            ("today",           now,                      New_York, at(2026, 6, 10, 21, 0, 0)),
            ("today",           now,                      Berlin,   at(2026, 6, 10, 15, 0, 0)),
            // Today with the time past.
            ("today 9am",       now,                      UTC,      InPast),
            // 17:00 local tomorrow.
            ("tomorrow",        now,                      UTC,      at(2026, 6, 11, 17, 0, 0)),
            ("tomorrow",        now,                      New_York, at(2026, 6, 11, 21, 0, 0)),
            ("tomorrow",        now,                      Berlin,   at(2026, 6, 11, 15, 0, 0)),
            // Tomorrow with a time.
            ("tomorrow 9am",    now,                      UTC,      at(2026, 6, 11, 9, 0, 0)),
            ("tomorrow 9am",    now,                      New_York, at(2026, 6, 11, 13, 0, 0)),
            ("tomorrow 9am",    now,                      Berlin,   at(2026, 6, 11, 7, 0, 0)),
            ("tomorrow at 9am", now,                      Berlin,   at(2026, 6, 11, 7, 0, 0)),
            ("tomorrow 9 am",   now,                      Berlin,   at(2026, 6, 11, 7, 0, 0)),
            ("9am tomorrow",    now,                      Berlin,   at(2026, 6, 11, 7, 0, 0)),
            ("tomorrow 14:45",  now,                      New_York, at(2026, 6, 11, 18, 45, 0)),
            // The local date decides, not the UTC one.
            ("today",           late_tuesday_in_new_york, New_York, InPast),
            ("tomorrow",        late_tuesday_in_new_york, New_York, at(2026, 6, 10, 21, 0, 0)),
            ("tomorrow",        late_tuesday_in_new_york, UTC,      at(2026, 6, 11, 17, 0, 0)),
        ];
        check(&rows);
    }

    #[test]
    fn weekdays() {
        let now = wednesday();
        #[rustfmt::skip]
        let mut rows: Vec<Row> = vec![
            // A weekday name means its next occurrence.
            ("friday",             now,                        UTC,      at(2026, 6, 12, 17, 0, 0)),
            ("fri",                now,                        New_York, at(2026, 6, 12, 21, 0, 0)),
            ("this friday",        now,                        Berlin,   at(2026, 6, 12, 15, 0, 0)),
            ("monday",             now,                        UTC,      at(2026, 6, 15, 17, 0, 0)),
            ("thurs 8:00",         now,                        UTC,      at(2026, 6, 11, 8, 0, 0)),
            // On that day after the time: next week.
            ("fri 9am",            utc(2026, 6, 12, 10, 0, 0), UTC,      at(2026, 6, 19, 9, 0, 0)),
            // Wednesday typed on a Wednesday after 17:00: next week.
            ("wed",                utc(2026, 6, 10, 17, 0, 0), UTC,      at(2026, 6, 17, 17, 0, 0)),
            // `next` with a time.
            ("next monday 14:00",  now,                        UTC,      at(2026, 6, 15, 14, 0, 0)),
            ("next monday 14:00",  now,                        New_York, at(2026, 6, 15, 18, 0, 0)),
            ("next monday 14:00",  now,                        Berlin,   at(2026, 6, 15, 12, 0, 0)),
            ("next monday at 2pm", now,                        Berlin,   at(2026, 6, 15, 12, 0, 0)),
        ];
        for zone in ZONES {
            let friday_morning = local(zone, 2026, 6, 12, 9, 0);
            let friday_evening = local(zone, 2026, 6, 12, 18, 0);
            let monday_morning = local(zone, 2026, 6, 15, 8, 0);
            #[rustfmt::skip]
            let more: Vec<Row> = vec![
                // On that day with the time still ahead: today.
                ("friday",      friday_morning, zone, At(local(zone, 2026, 6, 12, 17, 0))),
                // On that day after the time: next week.
                ("friday",      friday_evening, zone, At(local(zone, 2026, 6, 19, 17, 0))),
                // `next monday` on a Monday is a week later; without `next`, today.
                ("next monday", monday_morning, zone, At(local(zone, 2026, 6, 22, 17, 0))),
                ("monday",      monday_morning, zone, At(local(zone, 2026, 6, 15, 17, 0))),
            ];
            rows.extend(more);
        }
        check(&rows);
    }

    #[test]
    fn relative_spans() {
        let now = wednesday();
        let spring_night = utc(2026, 3, 29, 0, 30, 0);
        let mut rows: Vec<Row> = Vec::new();
        // Now plus the span, to the second, in every zone.
        for zone in ZONES {
            #[rustfmt::skip]
            let more: Vec<Row> = vec![
                ("in 3 days",     now, zone, at(2026, 6, 13, 10, 15, 37)),
                ("in 2h",         now, zone, at(2026, 6, 10, 12, 15, 37)),
                ("in 90 minutes", now, zone, at(2026, 6, 10, 11, 45, 37)),
                ("in 45m",        now, zone, at(2026, 6, 10, 11, 0, 37)),
                ("in 2h30m",      now, zone, at(2026, 6, 10, 12, 45, 37)),
                ("in 1 week",     now, zone, at(2026, 6, 17, 10, 15, 37)),
                ("in an hour",    now, zone, at(2026, 6, 10, 11, 15, 37)),
            ];
            rows.extend(more);
        }
        #[rustfmt::skip]
        let more: Vec<Row> = vec![
            // Across DST, exact elapsed time: 01:30 CET on spring-forward night, two real
            // hours later is 04:30 CEST.
            ("in 2h",                          spring_night, Berlin, at(2026, 3, 29, 2, 30, 0)),
            ("in 0m",                          now,          UTC,    InPast),
            // Without a readable span.
            ("in",                             now,          UTC,    Unreadable),
            ("in 3",                           now,          UTC,    Unreadable),
            ("in 3 parsecs",                   now,          UTC,    Unreadable),
            ("in -5m",                         now,          UTC,    Unreadable),
            ("in 1.5h",                        now,          UTC,    Unreadable),
            ("in 2h and",                      now,          UTC,    Unreadable),
            // Too large: unreadable, not a panic.
            ("in 99999999999999 weeks",        now,          UTC,    Unreadable),
            ("in 9223372036854775807 minutes", now,          UTC,    Unreadable),
            ("in 99999999999999999999999m",    now,          UTC,    Unreadable),
        ];
        rows.extend(more);
        check(&rows);
    }

    #[test]
    fn eod_and_eow() {
        let now = wednesday();
        let evening = utc(2026, 6, 10, 18, 0, 0);
        let friday_afternoon = local(New_York, 2026, 6, 12, 16, 0);
        let friday_evening = utc(2026, 6, 12, 18, 0, 0);
        let saturday = local(Berlin, 2026, 6, 13, 10, 0);
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            // End of day: today 17:00.
            ("eod",        now,              UTC,      at(2026, 6, 10, 17, 0, 0)),
            ("EOD",        now,              New_York, at(2026, 6, 10, 21, 0, 0)),
            ("eod",        evening,          UTC,      InPast),
            // End of week: this week's Friday 17:00.
            ("eow",        now,              UTC,      at(2026, 6, 12, 17, 0, 0)),
            ("eow",        now,              Berlin,   at(2026, 6, 12, 15, 0, 0)),
            ("eow",        friday_afternoon, New_York, at(2026, 6, 12, 21, 0, 0)),
            // After Friday 17:00: next Friday.
            ("eow",        friday_evening,   UTC,      at(2026, 6, 19, 17, 0, 0)),
            ("eow",        saturday,         Berlin,   at(2026, 6, 19, 15, 0, 0)),
            // Nothing may follow them.
            ("eod 9am",    now,              UTC,      Unreadable),
            ("eow friday", now,              UTC,      Unreadable),
        ];
        check(&rows);
    }

    #[test]
    fn bare_times() {
        let now = wednesday();
        let eleven_pm = utc(2026, 6, 10, 23, 0, 0);
        let eleven_pm_new_york = local(New_York, 2026, 6, 10, 23, 0);
        let eleven_pm_berlin = local(Berlin, 2026, 6, 10, 23, 0);
        let nine = utc(2026, 6, 10, 9, 0, 0);
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            // Still ahead: today.
            ("17:00",            now,                UTC,      at(2026, 6, 10, 17, 0, 0)),
            ("9:30pm",           now,                UTC,      at(2026, 6, 10, 21, 30, 0)),
            ("12pm",             now,                UTC,      at(2026, 6, 10, 12, 0, 0)),
            ("noon",             now,                UTC,      at(2026, 6, 10, 12, 0, 0)),
            ("at 3pm",           now,                New_York, at(2026, 6, 10, 19, 0, 0)),
            // Already past: tomorrow.
            ("9am",              eleven_pm,          UTC,      at(2026, 6, 11, 9, 0, 0)),
            ("9am",              eleven_pm_new_york, New_York, at(2026, 6, 11, 13, 0, 0)),
            ("9am",              eleven_pm_berlin,   Berlin,   at(2026, 6, 11, 7, 0, 0)),
            // 12am is the midnight that starts the next day.
            ("12am",             now,                UTC,      at(2026, 6, 11, 0, 0, 0)),
            ("tomorrow 12:30am", now,                UTC,      at(2026, 6, 11, 0, 30, 0)),
            // Equal to now: tomorrow.
            ("9:00",             nine,               UTC,      at(2026, 6, 11, 9, 0, 0)),
        ];
        check(&rows);
    }

    #[test]
    fn case_and_extra_whitespace_are_ignored() {
        let now = wednesday();
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            ("  TOMORROW    9AM \t", now, UTC, at(2026, 6, 11, 9, 0, 0)),
            ("Next  Monday 14:00\n", now, UTC, at(2026, 6, 15, 14, 0, 0)),
            ("IN 2H",                now, UTC, at(2026, 6, 10, 12, 15, 37)),
            (" Dec 1 ",              now, UTC, at(2026, 12, 1, 17, 0, 0)),
        ];
        check(&rows);
    }

    #[test]
    fn dst_changes() {
        let march = utc(2026, 3, 1, 12, 0, 0);
        let berlin_spring_eve = utc(2026, 3, 28, 19, 0, 0);
        let new_york_spring_eve = utc(2026, 3, 8, 1, 0, 0);
        let berlin_fall_eve = utc(2026, 10, 24, 18, 0, 0);
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            // A skipped local time moves to the end of the gap. Berlin 02:30 does not exist on
            // 2026-03-29 (03:00 CEST is 01:00 UTC); New York 02:30 not on 2026-03-08 (03:00 EDT
            // is 07:00 UTC).
            ("2026-03-29 02:30",  march,               Berlin,   at(2026, 3, 29, 1, 0, 0)),
            ("2026-03-08 02:30",  march,               New_York, at(2026, 3, 8, 7, 0, 0)),
            // A repeated local time means the earlier. Berlin 02:30 happens at 00:30 UTC (CEST)
            // and 01:30 UTC (CET); New York 01:30 at 05:30 UTC (EDT) and 06:30 UTC (EST).
            ("2026-10-25 02:30",  march,               Berlin,   at(2026, 10, 25, 0, 30, 0)),
            ("2026-11-01 1:30am", march,               New_York, at(2026, 11, 1, 5, 30, 0)),
            // `tomorrow` typed on the eve of a change uses the new offset. Saturday 20:00 CET:
            // Sunday 09:00 is CEST (UTC+2); Saturday 20:00 EST: Sunday 09:00 is EDT (UTC-4);
            // Saturday 20:00 CEST: Sunday 09:00 is CET (UTC+1).
            ("tomorrow 9am",      berlin_spring_eve,   Berlin,   at(2026, 3, 29, 7, 0, 0)),
            ("tomorrow 9am",      new_york_spring_eve, New_York, at(2026, 3, 8, 13, 0, 0)),
            ("tomorrow 9am",      berlin_fall_eve,     Berlin,   at(2026, 10, 25, 8, 0, 0)),
        ];
        check(&rows);
    }

    #[test]
    fn resolve_local_handles_normal_gap_overlap_and_skipped_days() {
        #[rustfmt::skip]
        let rows = [
            (Berlin,   naive(2026, 6, 10, 12, 0, 0),  utc(2026, 6, 10, 10, 0, 0)),
            // In the gap: the end of the gap, seconds included.
            (Berlin,   naive(2026, 3, 29, 2, 30, 0),  utc(2026, 3, 29, 1, 0, 0)),
            (Berlin,   naive(2026, 3, 29, 2, 0, 0),   utc(2026, 3, 29, 1, 0, 0)),
            (Berlin,   naive(2026, 3, 29, 2, 59, 59), utc(2026, 3, 29, 1, 0, 0)),
            (Berlin,   naive(2026, 3, 29, 2, 30, 37), utc(2026, 3, 29, 1, 0, 0)),
            // In the overlap: the earlier.
            (Berlin,   naive(2026, 10, 25, 2, 30, 0), utc(2026, 10, 25, 0, 30, 0)),
            (New_York, naive(2026, 3, 8, 2, 30, 0),   utc(2026, 3, 8, 7, 0, 0)),
            (UTC,      naive(2026, 3, 29, 2, 30, 0),  utc(2026, 3, 29, 2, 30, 0)),
            // Samoa went from 2011-12-29 23:59:59 (-10) to 2011-12-31 00:00 (+14).
            (Apia,     naive(2011, 12, 30, 12, 0, 0), utc(2011, 12, 30, 10, 0, 0)),
        ];
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|(zone, wall, want)| {
                let got = resolve_local(*zone, *wall);
                (got != *want).then(|| format!("{wall} in {zone}: want {want}, got {got}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    // ---- errors ----

    #[test]
    fn unreadable_text_is_refused() {
        let inputs = [
            "garbage",
            "",
            "   ",
            "2026-02-30",
            "2026-13-01",
            "25:00",
            "24:00",
            "9:61",
            "9:5",
            "13pm",
            "0am",
            "feb 30",
            "dec 32",
            "dec 1 26",
            "1 2",
            "next",
            "next dec",
            "tomorrow at",
            "monday tuesday",
            "dec",
            "17",
            "today tomorrow",
            "2026-12-01t",
            "2026-12-01 17:00 18:00",
            "in",
            "yesterday",
        ];
        check(&in_every_zone(&inputs, wednesday(), |_| Unreadable));
    }

    #[test]
    fn past_explicit_date_is_in_past_not_next_year() {
        let inputs = [
            "2026-01-15",
            "jan 15 2026",
            "2025-12-01 9:00",
            "2026-06-10 6:00",
        ];
        check(&in_every_zone(&inputs, wednesday(), |_| InPast));
    }

    #[test]
    fn error_messages_list_the_accepted_forms() {
        let now = wednesday();
        let unreadable = parse_due("garbage", now, UTC).unwrap_err().to_string();
        assert!(unreadable.contains("\"garbage\""), "{unreadable}");
        assert!(unreadable.contains(ACCEPTED_FORMS), "{unreadable}");
        let past = parse_due("2020-01-01", now, UTC).unwrap_err().to_string();
        assert!(past.contains("past"), "{past}");
        assert!(past.contains(ACCEPTED_FORMS), "{past}");
    }

    #[test]
    fn error_echo_is_one_short_line() {
        let long = format!("{}\nmore", "x".repeat(500));
        let Err(DateError::Unreadable { input }) = parse_due(&long, wednesday(), UTC) else {
            panic!("expected Unreadable");
        };
        assert!(!input.contains('\n'));
        assert_eq!(input.chars().count(), ECHO_LIMIT + 1);
        assert!(input.ends_with('…'));
    }

    #[test]
    fn very_long_input_never_panics() {
        let now = wednesday();
        let inputs = [
            "a".repeat(10_000),
            "9".repeat(10_000),
            format!("in {}m", "9".repeat(10_000)),
            format!("in {}", "1h ".repeat(3_000)),
            "tomorrow ".repeat(1_100),
            format!("2026-12-01 {}", "x".repeat(10_000)),
            ":".repeat(10_000),
            "-".repeat(10_000),
            "pm ".repeat(3_000),
        ];
        for input in &inputs {
            // Any outcome is fine as long as it is not a panic.
            let _ = parse_due(input, now, Berlin);
            let _ = parse_span(input);
        }
        assert!(unreadable(&inputs[0], now, Berlin));
    }

    #[test]
    fn odd_unicode_never_panics() {
        let now = wednesday();
        let inputs = [
            "明日",
            "🎉🎉🎉",
            "ｔｏｍｏｒｒｏｗ",
            "İİİ",
            "in ٣ days",
            "in ３h",
            "tomorrow\u{0}9am",
            "tomorrow\u{200b}",
            "9\u{0301}am",
            "dec\u{00a0}1",
            "ﬁve",
            "ß",
            "in 2ｈ",
            "2026‐12‐01",
            "\u{feff}today",
            "t\u{0307}oday",
        ];
        for input in inputs {
            let _ = parse_due(input, now, New_York);
            let _ = parse_span(input);
        }
        assert!(unreadable("明日", now, New_York));
        assert!(unreadable("in ٣ days", now, New_York));
        // A non-breaking space is whitespace, so this one reads fine.
        assert_eq!(due("dec\u{00a0}1", now, UTC), utc(2026, 12, 1, 17, 0, 0));
    }

    // ---- parse_span ----

    #[test]
    fn parse_span_reads_each_form_or_refuses() {
        let ninety = Some(Duration::minutes(90));
        #[rustfmt::skip]
        let rows = [
            // Every unit spelling.
            ("90m",                   Some(Duration::minutes(90))),
            ("45 min",                Some(Duration::minutes(45))),
            ("45 mins",               Some(Duration::minutes(45))),
            ("1 minute",              Some(Duration::minutes(1))),
            ("45 minutes",            Some(Duration::minutes(45))),
            ("2h",                    Some(Duration::hours(2))),
            ("2 hr",                  Some(Duration::hours(2))),
            ("2 hrs",                 Some(Duration::hours(2))),
            ("1 hour",                Some(Duration::hours(1))),
            ("3 hours",               Some(Duration::hours(3))),
            ("1d",                    Some(Duration::days(1))),
            ("1 day",                 Some(Duration::days(1))),
            ("3 days",                Some(Duration::days(3))),
            ("2w",                    Some(Duration::weeks(2))),
            ("1 week",                Some(Duration::weeks(1))),
            ("2 weeks",               Some(Duration::weeks(2))),
            // Compound forms add up.
            ("1h30m",                 ninety),
            ("1h 30m",                ninety),
            ("1 hour 30 minutes",     ninety),
            ("1 hour and 30 minutes", ninety),
            ("1 hour, 30 minutes",    ninety),
            ("1d2h",                  Some(Duration::hours(26))),
            ("an hour",               Some(Duration::hours(1))),
            ("a day",                 Some(Duration::days(1))),
            ("  2H  ",                Some(Duration::hours(2))),
            // Zero is a zero duration.
            ("0m",                    Some(Duration::zero())),
            ("0 days",                Some(Duration::zero())),
            // Anything else is refused.
            ("",                      None),
            ("  ",                    None),
            ("2",                     None),
            ("h",                     None),
            ("2x",                    None),
            ("-5m",                   None),
            ("1.5h",                  None),
            ("2h30",                  None),
            ("in 2h",                 None),
            ("and 2h",                None),
            ("2h and",                None),
            ("2h and and 1m",         None),
            ("a",                     None),
            ("an",                    None),
            ("2 a hour",              None),
            ("hour 2",                None),
            ("2hh",                   None),
            ("tomorrow",              None),
            ("٣d",                    None),
            ("99999999999999999999m", None),
            ("9223372036854775807w",  None),
        ];
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|(input, want)| {
                let got = parse_span(input);
                (got != *want).then(|| format!("{input:?}: want {want:?}, got {got:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

/// Property tests: any input, any instant, any zone. Case counts are chosen so the
/// whole module runs in about a second in a debug build; RELIABILITY.md records the totals.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Instants from 1990 to 2090, where every zone's rules are known.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (631_152_000_i64..3_786_912_000).prop_map(|secs| {
            DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        })
    }

    fn zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec())
    }

    /// Text shaped like a due date, then mutated: words the parser knows, numbers, and noise.
    fn date_like() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            prop::sample::select(vec![
                "in",
                "next",
                "today",
                "tomorrow",
                "eod",
                "eow",
                "monday",
                "fri",
                "dec",
                "feb",
                "29",
                "31",
                "9am",
                "12pm",
                "23:59",
                "24:00",
                "17:00",
                "2026-02-29",
                "2028-02-29",
                "and",
                "a",
                "an",
                "h",
                "m",
                "days",
                "weeks",
                "1h30m",
                "at",
                ",",
                ":",
                "-",
            ])
            .prop_map(String::from),
            any::<i64>().prop_map(|n| n.to_string()),
            "[0-9]{1,25}",
            "\\PC{1,6}",
        ];
        prop::collection::vec(word, 0..6).prop_map(|words| words.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Never a panic; a due time is always strictly after `now`; a refusal echoes at most
        /// a short line.
        #[test]
        fn parse_due_never_panics_and_is_after_now(
            input in prop_oneof![
                date_like(),
                "\\PC{0,40}",
                "[\\x00-\\x1f\\x7f\\u{200b}\\u{feff}]{0,10}",
                (1usize..5000).prop_map(|n| "9".repeat(n)),
                (1usize..2000).prop_map(|n| "in 1h ".repeat(n)),
            ],
            now in instant(),
            zone in zone(),
        ) {
            match parse_due(&input, now, zone) {
                Ok(due) => prop_assert!(due > now, "{input:?} gave {due} at {now}"),
                Err(DateError::Unreadable { input: echoed }) => {
                    prop_assert!(echoed.chars().count() <= ECHO_LIMIT + 1);
                    prop_assert!(!echoed.contains('\n'));
                }
                Err(DateError::InPast) => {}
            }
        }

        /// `in N unit` is exactly N units after now, to the second, in every zone.
        #[test]
        fn relative_spans_round_trip(
            amount in 1i64..100_000,
            unit in prop::sample::select(vec![
                ("m", 60_i64), ("minutes", 60), ("h", 3600), ("hours", 3600),
                ("d", 86_400), ("days", 86_400), ("w", 604_800), ("weeks", 604_800),
            ]),
            spaced in any::<bool>(),
            now in instant(),
            zone in zone(),
        ) {
            let (name, secs) = unit;
            let input = if spaced { format!("in {amount} {name}") } else { format!("in {amount}{name}") };
            let want = now + Duration::seconds(amount * secs);
            prop_assert_eq!(parse_due(&input, now, zone), Ok(want));
            prop_assert_eq!(parse_span(&input[3..]), Some(Duration::seconds(amount * secs)));
        }

        /// Spans never panic (overflow included) and are never negative.
        #[test]
        fn parse_span_never_panics_or_goes_negative(input in prop_oneof![date_like(), "\\PC{0,30}"]) {
            if let Some(span) = parse_span(&input) {
                prop_assert!(span >= Duration::zero(), "{input:?} gave {span}");
            }
        }

        /// A date without a time is 17:00 local that day (none of these days has a DST gap at
        /// 17:00), whatever the zone.
        #[test]
        fn a_date_without_time_means_1700_local(
            days_ahead in 1u64..3000,
            now in instant(),
            zone in zone(),
        ) {
            let today = now.with_timezone(&zone).date_naive();
            let Some(day) = today.checked_add_days(Days::new(days_ahead)) else { return Ok(()) };
            let due = parse_due(&day.format("%Y-%m-%d").to_string(), now, zone);
            let want = resolve_local(zone, day.and_time(DEFAULT_TIME));
            prop_assert_eq!(due, Ok(want));
        }

        /// A wall-clock time resolves to itself, or (in a DST gap) to the first instant after
        /// the gap; an ambiguous one to the earlier instant; and resolution never goes back in
        /// time as the wall clock moves forward.
        #[test]
        fn local_times_resolve_forward_and_monotonically(
            now in instant(),
            step_minutes in 1i64..180,
            zone in zone(),
        ) {
            let local = now.with_timezone(&zone).naive_local();
            let later = local + Duration::minutes(step_minutes);
            let at = resolve_local(zone, local);
            let at_later = resolve_local(zone, later);
            prop_assert!(at <= at_later, "{local} -> {at}, {later} -> {at_later} in {zone}");
            let seen = at.with_timezone(&zone).naive_local();
            match zone.from_local_datetime(&later) {
                LocalResult::Single(x) => prop_assert_eq!(at_later, x.with_timezone(&Utc)),
                LocalResult::Ambiguous(a, b) => {
                    prop_assert_eq!(at_later, a.min(b).with_timezone(&Utc));
                }
                LocalResult::None => {
                    let shown = at_later.with_timezone(&zone).naive_local();
                    prop_assert!(shown > later, "gap {later} moved back to {shown} in {zone}");
                }
            }
            // `now`'s own wall time exists, so it resolves to an instant showing that wall time.
            prop_assert_eq!(seen, local);
        }
    }

    /// DST days: every minute of the spring-forward and fall-back days in Berlin, New York and
    /// Lord Howe (a 30-minute shift), typed as `<date> HH:MM`, gives a due time showing that
    /// wall time, or the end of the gap, or the earlier of two.
    #[test]
    fn every_minute_of_dst_days_reads() {
        use chrono_tz::{America::New_York, Australia::Lord_Howe, Europe::Berlin};
        let days = [
            (Berlin, (2026, 3, 29)),
            (Berlin, (2026, 10, 25)),
            (New_York, (2026, 3, 8)),
            (New_York, (2026, 11, 1)),
            (Lord_Howe, (2026, 4, 5)),
            (Lord_Howe, (2026, 10, 4)),
        ];
        let now = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 2026-01-01
        let mut cases = 0;
        for (zone, (y, m, d)) in days {
            let day = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
            let mut previous = now;
            for minute in 0..24 * 60 {
                let local = day
                    .and_hms_opt(minute / 60, minute % 60, 0)
                    .unwrap_or_default();
                let input = local.format("%Y-%m-%d %H:%M").to_string();
                let due = parse_due(&input, now, zone).unwrap_or_else(|e| panic!("{input}: {e}"));
                let shown = due.with_timezone(&zone).naive_local();
                assert!(shown >= local, "{input} in {zone} went back to {shown}");
                assert!(
                    due >= previous,
                    "{input} in {zone} is before the minute before"
                );
                if zone.from_local_datetime(&local).earliest().is_some() {
                    assert_eq!(shown, local, "{input} in {zone}");
                }
                previous = due;
                cases += 1;
            }
        }
        assert_eq!(cases, 6 * 1440);
    }
}
