//! Standup schedules (docs/behaviour.md §2 `/standup schedule`, §4.3).
//!
//! A schedule is stored as a 5-field crontab, but only its date fields are
//! left to croner. We pick the next matching local date ourselves and turn the
//! fixed time of day into an instant with the crate-wide DST rule
//! ([`resolve_local`]): a skipped time fires when the gap ends, a repeated
//! time fires at the earlier instant, and each scheduled day fires once.
//!
//! Why not croner's own `find_next_occurrence`: croner 2 could hand back the
//! earlier instant of a fall-back hour when it was already behind the start.
//! Croner 4 fixed that (our Berlin and New York clock-change tests pass with
//! it), but it still loses a run across a skipped calendar day: with
//! `0 0 * * 5` in Pacific/Apia from 2011-12-30 09:59:59 UTC (Samoa skipped
//! Friday 30 December 2011) it finds no next run at all, where ours answers
//! Friday 6 January. The property test below found that case, so we keep our
//! own date walk.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use croner::Cron;

use crate::domain::dates::{parse_weekday, resolve_local};
use crate::domain::{clip, UserError};

/// Shown whenever a `time` can't be read.
const TIME_FORMS: &str = "Use a time like `09:30`, `9:30`, `17:00`, `9am` or `5:30pm`, \
     or a 5-field crontab such as `30 9 * * 1-5`.";

/// Shown whenever `days` can't be read.
const DAYS_FORMS: &str = "Use day names like `mon,wed,fri` (or `monday`), a range like \
     `tue-thu`, or one of `daily`, `weekdays` (mon-fri), `weekends`.";

/// Shown whenever a crontab can't be used.
const CRONTAB_FORMS: &str = "A crontab has 5 fields: minute hour day-of-month month \
     day-of-week, e.g. `30 9 * * 1-5` for 09:30 Mon–Fri. Day of week is 0–7 \
     (Sunday is 0 or 7) or SUN–SAT.";

/// Refused input is echoed back to chat; keep the echo short.
const ECHO_LIMIT: usize = 60;

/// Days in 400 Gregorian years: after that, dates and weekdays repeat
/// exactly, so a pattern with no match in this window never matches.
const CYCLE_DAYS: u64 = 146_097;

/// Weekday sets use bit `n` for cron day-of-week `n` (0 = Sunday).
const ALL_DAYS: u8 = 0b111_1111;
const WEEKDAYS: u8 = 0b011_1110;
const WEEKENDS: u8 = 0b100_0001;

/// Monday first, the order people read a week in.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// A daily (or weekday-limited) standup schedule, stored as a normalized 5-field crontab.
#[derive(Debug, Clone)]
pub struct StandupSchedule {
    expr: String,
    cron: Cron,
    /// Kept beside `cron` because the time of day is resolved by us, not croner.
    hour: u32,
    minute: u32,
}

impl StandupSchedule {
    /// Reads what a user typed in `/standup schedule` (`time`, optional `days`).
    pub fn parse(time: &str, days: Option<&str>) -> Result<Self, UserError> {
        let words = time.split_whitespace().count();
        // `@daily` and friends are crontab shorthands, refused with the crontab help.
        if words == 5 || time.trim_start().starts_with('@') {
            if days.is_some() {
                return Err(UserError::Invalid(
                    "`days` can't be combined with a crontab: put the days in the crontab's \
                     last field instead (e.g. `30 9 * * 1,3,5`), or give a plain time like \
                     `09:30` with `days`."
                        .to_string(),
                ));
            }
            return Self::from_expr(time);
        }
        let (hour, minute) = parse_time(time).ok_or_else(|| {
            let message = format!(
                "I couldn't read \"{}\" as a time. {TIME_FORMS}",
                clip(time.trim(), ECHO_LIMIT)
            );
            // Three or more words were probably meant as a crontab: explain that too.
            UserError::Invalid(if words >= 3 {
                format!("{message} {CRONTAB_FORMS}")
            } else {
                message
            })
        })?;
        let days = match days {
            None => WEEKDAYS,
            Some(text) => parse_days(text)?,
        };
        Self::build(
            format!("{minute} {hour} * * {}", dow_field(days)),
            hour,
            minute,
        )
    }

    /// Rebuilds a schedule from its stored crontab (as returned by `expr`).
    pub fn from_expr(expr: &str) -> Result<Self, UserError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(UserError::Invalid(format!(
                "\"{}\" isn't a 5-field crontab. {CRONTAB_FORMS}",
                clip(expr.trim(), ECHO_LIMIT)
            )));
        };
        let (Some(minute), Some(hour)) = (plain_number(minute), plain_number(hour)) else {
            return Err(UserError::Invalid(format!(
                "A standup runs once a day, so the crontab's minute and hour must each be \
                 one plain number (like `30 9 * * 1-5`); `*`, lists, ranges and steps \
                 aren't allowed there. {CRONTAB_FORMS}"
            )));
        };
        if minute > 59 || hour > 23 {
            return Err(UserError::Invalid(format!(
                "The crontab's minute must be 0–59 and its hour 0–23. {CRONTAB_FORMS}"
            )));
        }
        // Let croner judge the date fields as written, so its error is about the user's text.
        compile(&fields.join(" "))?;
        // Simple weekday schedules are rewritten in one spelling (`MON-FRI`,
        // `1-5` and `1,2,3,4,5` all become `1-5`) so `describe` and stored
        // values are uniform; anything fancier is kept as written.
        let normalized = match (is_star(dom), is_star(month), decode_dow(dow)) {
            (true, true, Some(days)) => format!("{minute} {hour} * * {}", dow_field(days)),
            _ => format!("{minute} {hour} {dom} {month} {dow}"),
        };
        let schedule = Self::build(normalized, hour, minute)?;
        let cycle_start = NaiveDate::from_ymd_opt(2000, 1, 1);
        if cycle_start
            .and_then(|start| {
                let end = start.checked_add_days(Days::new(CYCLE_DAYS))?;
                schedule.next_matching_date(start, end)
            })
            .is_none()
        {
            return Err(UserError::Invalid(format!(
                "The crontab \"{}\" never matches a real date. {CRONTAB_FORMS}",
                clip(expr.trim(), ECHO_LIMIT)
            )));
        }
        Ok(schedule)
    }

    /// The normalized crontab, e.g. "30 9 * * 1-5" (for `09:30` + default days).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first run strictly after `after`, in `zone`. None only if the schedule can never fire.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        // Start a day early: where a fall-back crosses midnight, the previous
        // local date's run can still lie ahead of `after`.
        let mut from = after.with_timezone(&zone).date_naive().pred_opt()?;
        let until = from.checked_add_days(Days::new(CYCLE_DAYS + 3))?;
        while let Some(date) = self.next_matching_date(from, until) {
            let run = resolve_local(zone, date.and_hms_opt(self.hour, self.minute, 0)?);
            // One run per date, so a date whose run is behind us is done,
            // even if its wall time comes round again after a fall-back.
            if run > after {
                return Some(run);
            }
            from = date.succ_opt()?;
        }
        None
    }

    /// For people: e.g. "09:30 Mon–Fri", "09:30 every day", "17:00 Mon, Wed, Fri", or the crontab itself for complex ones.
    pub fn describe(&self) -> String {
        let fields: Vec<&str> = self.expr.split_whitespace().collect();
        match fields[..] {
            [_, _, dom, month, dow] if is_star(dom) && is_star(month) => match decode_dow(dow) {
                Some(days) => format!("{:02}:{:02} {}", self.hour, self.minute, days_text(days)),
                None => self.expr.clone(),
            },
            _ => self.expr.clone(),
        }
    }

    fn build(expr: String, hour: u32, minute: u32) -> Result<Self, UserError> {
        let cron = compile(&expr)?;
        Ok(Self {
            expr,
            cron,
            hour,
            minute,
        })
    }

    /// The first date in `from..=until` that the day-of-month, month and
    /// day-of-week fields accept.
    fn next_matching_date(&self, from: NaiveDate, until: NaiveDate) -> Option<NaiveDate> {
        let pattern = &self.cron.pattern;
        let mut date = from;
        while date <= until {
            if !pattern.month_match(date.month()).unwrap_or(false) {
                // Skipping whole months keeps "never fires" checks (`31 2`) cheap.
                date = date.with_day(1)?.checked_add_months(Months::new(1))?;
                continue;
            }
            if pattern
                .day_match(
                    date.year(),
                    date.month(),
                    date.day(),
                    croner::Weekday::from_days_from_sunday(date.weekday().num_days_from_sunday()),
                )
                .unwrap_or(false)
            {
                return Some(date);
            }
            date = date.succ_opt()?;
        }
        None
    }
}

fn compile(expr: &str) -> Result<Cron, UserError> {
    expr.parse::<Cron>().map_err(|error| {
        UserError::Invalid(format!(
            "I couldn't read the crontab \"{}\" ({error}). {CRONTAB_FORMS}",
            clip(expr.trim(), ECHO_LIMIT)
        ))
    })
}

/// ASCII digits only, at most two of them (so `009` and `٩` are refused).
fn plain_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `09:30`, `9:30`, `17:00`, `9am`, `9 am`, `5:30pm`, `12am`, `noon`, `midnight`: the same
/// clock times a due date accepts. A bare number is refused: `9` could be a typo for anything.
fn parse_time(text: &str) -> Option<(u32, u32)> {
    let lowered = text.trim().to_lowercase();
    if lowered == "midnight" {
        return Some((0, 0));
    }
    // "9 am" reads like "9am".
    let compact: String = lowered.split_whitespace().collect();
    let time = crate::domain::dates::parse_time(&compact)?;
    Some((time.hour(), time.minute()))
}

/// Reads `days` into a weekday set; never empty.
fn parse_days(text: &str) -> Result<u8, UserError> {
    let lowered = text.trim().to_lowercase();
    // Whole phrases first: the list splitter below would cut `every day` in two.
    if let Some(days) = day_alias(&lowered) {
        return Ok(days);
    }
    // Allow `mon - fri`; any other space separates items like a comma does.
    let compact = lowered
        .split('-')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("-");
    let mut days = 0;
    for item in compact
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
    {
        days |= parse_day_item(item)?;
    }
    if days == 0 {
        return Err(UserError::Invalid(format!(
            "`days` is empty: say which days the standup runs. {DAYS_FORMS}"
        )));
    }
    Ok(days)
}

fn parse_day_item(item: &str) -> Result<u8, UserError> {
    if let Some(days) = day_alias(item) {
        return Ok(days);
    }
    let unknown = |word: &str| {
        UserError::Invalid(format!(
            "I don't know the day \"{}\". {DAYS_FORMS}",
            clip(word, ECHO_LIMIT)
        ))
    };
    let Some((first, last)) = item.split_once('-') else {
        return parse_weekday(item)
            .map(day_bit)
            .ok_or_else(|| unknown(item));
    };
    // Name the bad side of the range, or the whole range if a side is missing.
    let day = |word: &str| {
        parse_weekday(word).ok_or_else(|| unknown(if word.is_empty() { item } else { word }))
    };
    let (first, last) = (day(first)?, day(last)?);
    // Ranges run forward through the week and may wrap: `fri-mon` is Fri, Sat, Sun, Mon.
    let mut days = 0;
    let mut day = first;
    loop {
        days |= day_bit(day);
        if day == last {
            return Ok(days);
        }
        day = day.succ();
    }
}

fn day_alias(text: &str) -> Option<u8> {
    match text {
        "daily" | "every day" | "everyday" => Some(ALL_DAYS),
        "weekdays" => Some(WEEKDAYS),
        "weekends" => Some(WEEKENDS),
        _ => None,
    }
}

fn day_bit(day: Weekday) -> u8 {
    1 << day.num_days_from_sunday()
}

/// The crontab day-of-week field for a weekday set: `*`, or numbers 0–6
/// with runs of three or more as ranges (`1-5`, `1,3,5`, `0,6`).
fn dow_field(days: u8) -> String {
    if days == ALL_DAYS {
        return "*".to_string();
    }
    let mut parts = Vec::new();
    let mut day = 0;
    while day < 7 {
        if days & (1 << day) == 0 {
            day += 1;
            continue;
        }
        let start = day;
        while day < 7 && days & (1 << day) != 0 {
            day += 1;
        }
        let end = day - 1;
        match end - start {
            0 => parts.push(start.to_string()),
            1 => parts.push(format!("{start},{end}")),
            _ => parts.push(format!("{start}-{end}")),
        }
    }
    parts.join(",")
}

/// Reads a day-of-week field made only of `*`, numbers, names and ranges,
/// the way croner does (`7` and a range ending in `sun` mean Sunday).
/// Anything else (`/`, `#`, `L`) is None and is left to croner as written.
fn decode_dow(field: &str) -> Option<u8> {
    if is_star(field) {
        return Some(ALL_DAYS);
    }
    let mut days = 0u8;
    for item in field.split(',') {
        let (first, last) = match item.split_once('-') {
            Some((first, last)) => (dow_value(first, false)?, dow_value(last, true)?),
            None => {
                let day = dow_value(item, false)?;
                (day, day)
            }
        };
        if first > last {
            return None;
        }
        for day in first..=last {
            days |= 1 << (day % 7);
        }
    }
    (days != 0).then_some(days)
}

fn dow_value(text: &str, range_end: bool) -> Option<u8> {
    let named = match text.to_ascii_lowercase().as_str() {
        // croner reads a range ending in `sun` as ending at 7.
        "sun" if range_end => Some(7),
        "sun" => Some(0),
        "mon" => Some(1),
        "tue" => Some(2),
        "wed" => Some(3),
        "thu" => Some(4),
        "fri" => Some(5),
        "sat" => Some(6),
        _ => None,
    };
    match named {
        Some(day) => Some(day),
        None => plain_number(text)
            .and_then(|day| u8::try_from(day).ok())
            .filter(|day| *day <= 7),
    }
}

fn is_star(field: &str) -> bool {
    field == "*" || field == "?"
}

/// `every day`, `Mon–Fri`, `Mon, Wed, Fri`, `Sat, Sun`: runs of three or
/// more days (Monday first) become ranges.
fn days_text(days: u8) -> String {
    if days == ALL_DAYS {
        return "every day".to_string();
    }
    let name = |day: Weekday| match day {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    };
    let included = |index: usize| days & day_bit(WEEK[index]) != 0;
    let mut parts = Vec::new();
    let mut index = 0;
    while index < WEEK.len() {
        if !included(index) {
            index += 1;
            continue;
        }
        let start = index;
        while index < WEEK.len() && included(index) {
            index += 1;
        }
        let end = index - 1;
        if end - start >= 2 {
            parts.push(format!("{}–{}", name(WEEK[start]), name(WEEK[end])));
        } else {
            parts.extend((start..=end).map(|i| name(WEEK[i]).to_string()));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, TimeZone};
    use chrono_tz::{America::New_York, Europe::Berlin};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    fn schedule(time: &str, days: Option<&str>) -> StandupSchedule {
        StandupSchedule::parse(time, days)
            .unwrap_or_else(|e| panic!("{time:?} {days:?} refused: {e}"))
    }

    fn crontab(expr: &str) -> StandupSchedule {
        StandupSchedule::from_expr(expr).unwrap_or_else(|e| panic!("{expr:?} refused: {e}"))
    }

    fn refusal(time: &str, days: Option<&str>) -> String {
        match StandupSchedule::parse(time, days) {
            Err(UserError::Invalid(message)) => message,
            other => panic!("{time:?} {days:?} should be refused, got {other:?}"),
        }
    }

    fn next(schedule: &StandupSchedule, after: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        schedule.next_after(after, zone).unwrap()
    }

    /// The next `count` runs after `from`, each strictly later than the last.
    fn runs(
        schedule: &StandupSchedule,
        from: DateTime<Utc>,
        zone: Tz,
        count: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut at = from;
        (0..count)
            .map(|_| {
                let run = next(schedule, at, zone);
                assert!(run > at, "{run} is not after {at}");
                at = run;
                run
            })
            .collect()
    }

    fn local_dates(runs: &[DateTime<Utc>], zone: Tz) -> Vec<NaiveDate> {
        runs.iter()
            .map(|run| run.with_timezone(&zone).date_naive())
            .collect()
    }

    /// Walks a daily schedule day by day from local midnight on `first` for a
    /// week and checks there is exactly one run on each local date.
    fn week_of_daily_runs(time: &str, zone: Tz, first: NaiveDate) -> Vec<DateTime<Utc>> {
        let daily = schedule(time, Some("daily"));
        let midnight = resolve_local(zone, first.and_hms_opt(0, 0, 0).unwrap());
        let week = runs(&daily, midnight, zone, 7);
        let expected: Vec<NaiveDate> = first.iter_days().take(7).collect();
        assert_eq!(local_dates(&week, zone), expected, "{time} in {zone}");
        week
    }

    /// Fails once for a table, listing every row that went wrong (empty: all passed).
    fn assert_rows(rows: usize, failures: Vec<String>) {
        assert!(
            failures.is_empty(),
            "{} of {rows} rows failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    // ---- Reading schedules ----

    #[test]
    fn times_and_days_are_read() {
        // (time, days, stored crontab, description if checked)
        #[rustfmt::skip]
        let rows: Vec<(&str, Option<&str>, &str, Option<&str>)> = vec![
            // A plain time means weekdays.
            ("09:30",        None,                              "30 9 * * 1-5",     Some("09:30 Mon–Fri")),
            // Every spelling of every day.
            ("09:30",        Some("daily"),                     "30 9 * * *",       Some("09:30 every day")),
            ("9:30",         Some("daily"),                     "30 9 * * *",       None),
            ("9:30",         Some("every day"),                 "30 9 * * *",       None),
            ("9:30",         Some("Everyday"),                  "30 9 * * *",       None),
            ("9:30",         Some("  DAILY "),                  "30 9 * * *",       None),
            ("9:30",         Some("mon-sun"),                   "30 9 * * *",       None),
            ("9:30",         Some("sun,weekdays,sat"),          "30 9 * * *",       None),
            // Day lists, names, ranges and aliases.
            ("17:00",        Some("mon,wed,fri"),               "0 17 * * 1,3,5",   Some("17:00 Mon, Wed, Fri")),
            ("09:30",        Some("tue-thu"),                   "30 9 * * 2-4",     Some("09:30 Tue–Thu")),
            ("09:30",        Some("Monday, Wednesday, Friday"), "30 9 * * 1,3,5",   Some("09:30 Mon, Wed, Fri")),
            ("09:30",        Some("mon wed"),                   "30 9 * * 1,3",     Some("09:30 Mon, Wed")),
            ("09:30",        Some("mon - fri"),                 "30 9 * * 1-5",     Some("09:30 Mon–Fri")),
            ("09:30",        Some("weekdays"),                  "30 9 * * 1-5",     Some("09:30 Mon–Fri")),
            ("09:30",        Some("weekends"),                  "30 9 * * 0,6",     Some("09:30 Sat, Sun")),
            ("09:30",        Some("sun"),                       "30 9 * * 0",       Some("09:30 Sun")),
            ("09:30",        Some("fri-mon"),                   "30 9 * * 0,1,5,6", Some("09:30 Mon, Fri–Sun")),
            ("09:30",        Some("tues,thurs"),                "30 9 * * 2,4",     Some("09:30 Tue, Thu")),
            // Twelve- and twenty-four-hour times.
            ("09:30",        None,                              "30 9 * * 1-5",     None),
            ("9:30",         None,                              "30 9 * * 1-5",     None),
            ("9am",          None,                              "0 9 * * 1-5",      None),
            ("9 AM",         None,                              "0 9 * * 1-5",      None),
            ("17:00",        None,                              "0 17 * * 1-5",     None),
            ("5:30pm",       None,                              "30 17 * * 1-5",    Some("17:30 Mon–Fri")),
            ("12am",         None,                              "0 0 * * 1-5",      None),
            ("12:15pm",      None,                              "15 12 * * 1-5",    None),
            ("00:00",        None,                              "0 0 * * 1-5",      None),
            ("23:59",        None,                              "59 23 * * 1-5",    None),
            ("noon",         None,                              "0 12 * * 1-5",     None),
            // A crontab for weekdays reads as the plain form does.
            ("30 9 * * 1-5", None,                              "30 9 * * 1-5",     Some("09:30 Mon–Fri")),
        ];
        let failures = rows
            .iter()
            .filter_map(|(time, days, expr, described)| {
                let read = schedule(time, *days);
                let got = (read.expr().to_string(), read.describe());
                let fine = got.0 == *expr && described.is_none_or(|d| got.1 == d);
                (!fine)
                    .then(|| format!("{time:?} {days:?}: want {expr:?} {described:?}, got {got:?}"))
            })
            .collect();
        assert_rows(rows.len(), failures);
    }

    #[test]
    fn crontabs_are_normalized_where_simple_and_kept_as_written_otherwise() {
        // (crontab as typed, stored crontab if checked, description if checked)
        #[rustfmt::skip]
        let rows: Vec<(&str, Option<&str>, Option<&str>)> = vec![
            // Simple weekday fields are normalized.
            ("  30  09 * *   MON-FRI ", Some("30 9 * * 1-5"),  None),
            ("0 9 ? * 1,2,3,4,5",       Some("0 9 * * 1-5"),   None),
            ("0 9 * * fri-sun",         Some("0 9 * * 0,5,6"), None),
            // Sunday is 0, 7 or SUN.
            ("0 10 * * 0",              Some("0 10 * * 0"),    Some("10:00 Sun")),
            ("0 10 * * 7",              Some("0 10 * * 0"),    Some("10:00 Sun")),
            ("0 10 * * SUN",            Some("0 10 * * 0"),    Some("10:00 Sun")),
            ("0 10 * * 6-7",            None,                  Some("10:00 Sat, Sun")),
            // Anything else is kept, and described, as written.
            ("0 9 1 * *",               Some("0 9 1 * *"),     Some("0 9 1 * *")),
            ("0 9 * * 1-5/2",           None,                  Some("0 9 * * 1-5/2")),
        ];
        let failures = rows
            .iter()
            .filter_map(|(typed, expr, described)| {
                let read = crontab(typed);
                let got = (read.expr().to_string(), read.describe());
                let fine = expr.is_none_or(|e| got.0 == e) && described.is_none_or(|d| got.1 == d);
                (!fine).then(|| format!("{typed:?}: want {expr:?} {described:?}, got {got:?}"))
            })
            .collect();
        assert_rows(rows.len(), failures);
    }

    #[test]
    fn expr_round_trips_through_from_expr() {
        let all = [
            schedule("09:30", None),
            schedule("5:30pm", Some("mon,wed,fri")),
            schedule("9am", Some("weekends")),
            schedule("0 10 * * 7", None),
            schedule("15 8 1,15 * *", None),
        ];
        let after = utc(2026, 5, 5, 5, 5);
        let failures = all
            .iter()
            .filter_map(|original| {
                let rebuilt = crontab(original.expr());
                let fine = rebuilt.expr() == original.expr()
                    && rebuilt.describe() == original.describe()
                    && rebuilt.next_after(after, New_York) == original.next_after(after, New_York);
                (!fine).then(|| format!("{:?} rebuilt differs", original.expr()))
            })
            .collect();
        assert_rows(all.len(), failures);
    }

    // ---- Next runs ----

    #[test]
    fn next_runs() {
        let weekdays = schedule("09:30", None);
        let daily = schedule("09:30", Some("daily"));
        let late = schedule("23:30", None);
        let crontab_weekdays = schedule("30 9 * * 1-5", None);
        let berlin_0230 = schedule("02:30", Some("daily"));
        let new_york_0130 = schedule("01:30", Some("daily"));
        // Friday 2026-01-16 09:30 CET; Wednesday 2026-01-14.
        let friday = utc(2026, 1, 16, 8, 30);
        let wednesday = utc(2026, 1, 14, 12, 0);
        let daily_run = utc(2026, 1, 14, 8, 30);
        let minute_before = friday - chrono::Duration::minutes(1);
        let second_before = daily_run - chrono::Duration::seconds(1);
        // (schedule, after, zone, next run)
        #[rustfmt::skip]
        let rows: Vec<(StandupSchedule, DateTime<Utc>, Tz, DateTime<Utc>)> = vec![
            // A Friday run is followed by Monday's.
            (weekdays.clone(),        friday,                   Berlin,   utc(2026, 1, 19, 8, 30)),
            (weekdays.clone(),        minute_before,            Berlin,   friday),
            (crontab_weekdays,        friday,                   Berlin,   utc(2026, 1, 19, 8, 30)),
            // Sunday as 0, 7 or SUN; the 1st of the month.
            (crontab("0 10 * * 0"),   wednesday,                Berlin,   utc(2026, 1, 18, 9, 0)),
            (crontab("0 10 * * 7"),   wednesday,                Berlin,   utc(2026, 1, 18, 9, 0)),
            (crontab("0 10 * * SUN"), wednesday,                Berlin,   utc(2026, 1, 18, 9, 0)),
            (crontab("0 9 1 * *"),    wednesday,                Berlin,   utc(2026, 2, 1, 8, 0)),
            // Local time, winter (CET, UTC+1; EST, UTC-5) and summer (CEST, UTC+2; EDT, UTC-4).
            (weekdays.clone(),        wednesday,                Berlin,   utc(2026, 1, 15, 8, 30)),
            (weekdays.clone(),        utc(2026, 7, 1, 6, 0),    Berlin,   utc(2026, 7, 1, 7, 30)),
            (weekdays.clone(),        utc(2026, 1, 14, 15, 0),  New_York, utc(2026, 1, 15, 14, 30)),
            (weekdays.clone(),        utc(2026, 7, 1, 12, 0),   New_York, utc(2026, 7, 1, 13, 30)),
            // The local date decides the day: 23:30 Friday in New York is Saturday in UTC.
            (late.clone(),            utc(2026, 1, 16, 4, 30),  New_York, utc(2026, 1, 17, 4, 30)),
            (late,                    utc(2026, 1, 17, 4, 30),  New_York, utc(2026, 1, 20, 4, 30)),
            // A restart inside the repeated hour does not run again (croner alone answers with
            // the earlier 02:30, already past, in Berlin), nor between the two New York 01:30s.
            (berlin_0230.clone(),     utc(2026, 10, 25, 1, 10), Berlin,   utc(2026, 10, 26, 1, 30)),
            (new_york_0130.clone(),   utc(2026, 11, 1, 6, 10),  New_York, utc(2026, 11, 2, 6, 30)),
            (new_york_0130,           utc(2026, 11, 1, 6, 0),   New_York, utc(2026, 11, 2, 6, 30)),
            // A restart just before the gap (01:59 CET on spring-forward day) still runs then.
            (berlin_0230,             utc(2026, 3, 29, 0, 59),  Berlin,   utc(2026, 3, 29, 1, 0)),
            // The next run is strictly after the given instant.
            (daily.clone(),           daily_run,                Berlin,   utc(2026, 1, 15, 8, 30)),
            (daily,                   second_before,            Berlin,   daily_run),
        ];
        let failures = rows
            .iter()
            .filter_map(|(schedule, after, zone, want)| {
                let got = schedule.next_after(*after, *zone);
                (got != Some(*want)).then(|| {
                    format!(
                        "{} after {after} in {zone}: want {want}, got {got:?}",
                        schedule.expr()
                    )
                })
            })
            .collect();
        assert_rows(rows.len(), failures);
    }

    #[test]
    fn runs_follow_each_other() {
        // (schedule, from, zone, the next runs in order)
        let rows = [
            // Daily runs on weekends too.
            (
                schedule("09:30", Some("daily")),
                utc(2026, 1, 16, 8, 30),
                Berlin,
                vec![
                    utc(2026, 1, 17, 8, 30),
                    utc(2026, 1, 18, 8, 30),
                    utc(2026, 1, 19, 8, 30),
                ],
            ),
            // A day list runs on those days only: from Monday 2026-01-12 noon UTC, in UTC+1.
            (
                schedule("17:00", Some("mon,wed,fri")),
                utc(2026, 1, 12, 12, 0),
                Berlin,
                vec![
                    utc(2026, 1, 12, 16, 0),
                    utc(2026, 1, 14, 16, 0),
                    utc(2026, 1, 16, 16, 0),
                    utc(2026, 1, 19, 16, 0),
                ],
            ),
            // POSIX day-of-month OR day-of-week, as in Vixie cron: the 1st or a Monday. From
            // Friday 2026-01-30: Sunday 2026-02-01, then Monday 2026-02-02.
            (
                crontab("0 9 1 * 1"),
                utc(2026, 1, 30, 12, 0),
                Berlin,
                vec![utc(2026, 2, 1, 8, 0), utc(2026, 2, 2, 8, 0)],
            ),
        ];
        let failures = rows
            .iter()
            .filter_map(|(schedule, from, zone, want)| {
                let got = runs(schedule, *from, *zone, want.len());
                (got != *want).then(|| {
                    format!(
                        "{} from {from} in {zone}: want {want:?}, got {got:?}",
                        schedule.expr()
                    )
                })
            })
            .collect();
        assert_rows(rows.len(), failures);
    }

    // ---- Refusals ----

    #[test]
    fn refusals_say_what_is_accepted() {
        let bad_times = [
            "25:00",
            "9:75",
            "noonish",
            "",
            "9",
            "930",
            "9:5",
            "13pm",
            "0am",
            "24:00",
            "9:30:00",
            "-1:00",
            "nine",
            "half past 9",
        ];
        // (time, days, what the refusal must say)
        #[rustfmt::skip]
        let mut rows: Vec<(&str, Option<&str>, Vec<&str>)> = vec![
            // `days` together with a crontab.
            ("30 9 * * 1-5",   Some("mon"),          vec!["`days` can't be combined with a crontab"]),
            // A crontab firing more than once a day.
            ("*/15 9 * * *",   None,                 vec!["one plain number"]),
            ("0 9,17 * * *",   None,                 vec!["one plain number"]),
            ("0 * * * *",      None,                 vec!["one plain number"]),
            ("0 9-17 * * *",   None,                 vec!["one plain number"]),
            ("0,30 9 * * *",   None,                 vec!["one plain number"]),
            ("0 */2 * * *",    None,                 vec!["one plain number"]),
            // A crontab that can't be read, or never fires.
            ("a b c d e",      None,                 vec!["5 fields"]),
            ("0 9 * * 1 5",    None,                 vec!["5 fields"]),
            ("0 9 * *",        None,                 vec!["5 fields"]),
            ("@daily",         None,                 vec!["5 fields"]),
            ("60 9 * * *",     None,                 vec!["5 fields"]),
            ("0 24 * * *",     None,                 vec!["5 fields"]),
            ("0 9 32 * *",     None,                 vec!["5 fields"]),
            ("0 9 * 13 *",     None,                 vec!["5 fields"]),
            ("0 9 * * 8",      None,                 vec!["5 fields"]),
            ("0 9 * * funday", None,                 vec!["5 fields"]),
            ("0 9 31 2 *",     None,                 vec!["5 fields"]),
            // Unknown days, and empty ones.
            ("09:30",          Some("funday"),       vec!["I don't know the day", "`tue-thu`"]),
            ("09:30",          Some("mon,blursday"), vec!["I don't know the day", "`tue-thu`"]),
            ("09:30",          Some("mon-"),         vec!["I don't know the day", "`tue-thu`"]),
            ("09:30",          Some("mon-wed-fri"),  vec!["I don't know the day", "`tue-thu`"]),
            ("09:30",          Some("monday-ish"),   vec!["I don't know the day", "`tue-thu`"]),
            ("09:30",          Some(""),             vec!["empty", "`daily`"]),
            ("09:30",          Some("  "),           vec!["empty", "`daily`"]),
            ("09:30",          Some(","),            vec!["empty", "`daily`"]),
            ("09:30",          Some(", ,"),          vec!["empty", "`daily`"]),
        ];
        // Times that can't be read: the accepted forms.
        for time in bad_times {
            rows.push((time, None, vec!["`09:30`", "`5:30pm`", "`30 9 * * 1-5`"]));
        }
        let failures = rows
            .iter()
            .filter_map(|(time, days, needles)| {
                let message = refusal(time, *days);
                let missing: Vec<&&str> =
                    needles.iter().filter(|n| !message.contains(**n)).collect();
                (!missing.is_empty())
                    .then(|| format!("{time:?} {days:?}: {missing:?} not in {message:?}"))
            })
            .collect();
        assert_rows(rows.len(), failures);
    }

    #[test]
    fn from_expr_refuses_crontabs_that_are_not_once_a_day() {
        let rows = [
            "*/15 9 * * *",
            "0 9,17 * * *",
            "0 * * * *",
            "0 9-17 * * *",
            "0,30 9 * * *",
            "0 */2 * * *",
            "",
        ];
        let failures = rows
            .iter()
            .filter(|expr| StandupSchedule::from_expr(expr).is_ok())
            .map(|expr| format!("{expr:?} was accepted"))
            .collect();
        assert_rows(rows.len(), failures);
    }

    // ---- Daylight saving ----

    #[test]
    fn dst_weeks_have_one_run_a_day() {
        let at_3 = |d: NaiveDate| d.and_hms_opt(3, 0, 0).unwrap();
        // (time, zone, first of the 7 days walked, runs checked by index, and a run whose
        // local wall time is checked: the end of the gap)
        type Row = (
            &'static str,
            Tz,
            NaiveDate,
            Vec<(usize, DateTime<Utc>)>,
            Option<(usize, NaiveDateTime)>,
        );
        let rows: Vec<Row> = vec![
            // Berlin: clocks jump 02:00 -> 03:00 on Sunday 2026-03-29; 02:30 doesn't exist that
            // day, so the run is at 03:00 CEST.
            (
                "09:30",
                Berlin,
                date(2026, 3, 26),
                vec![(2, utc(2026, 3, 28, 8, 30)), (3, utc(2026, 3, 29, 7, 30))],
                None,
            ),
            (
                "02:30",
                Berlin,
                date(2026, 3, 26),
                vec![
                    (2, utc(2026, 3, 28, 1, 30)),
                    (3, utc(2026, 3, 29, 1, 0)),
                    (4, utc(2026, 3, 30, 0, 30)),
                ],
                Some((3, at_3(date(2026, 3, 29)))),
            ),
            // Berlin: clocks go back 03:00 -> 02:00 on Sunday 2026-10-25; 02:30 happens twice,
            // the run is the first one, 02:30 CEST.
            (
                "09:30",
                Berlin,
                date(2026, 10, 22),
                vec![(2, utc(2026, 10, 24, 7, 30)), (3, utc(2026, 10, 25, 8, 30))],
                None,
            ),
            (
                "02:30",
                Berlin,
                date(2026, 10, 22),
                vec![
                    (2, utc(2026, 10, 24, 0, 30)),
                    (3, utc(2026, 10, 25, 0, 30)),
                    (4, utc(2026, 10, 26, 1, 30)),
                ],
                None,
            ),
            // New York: clocks jump 02:00 -> 03:00 on Sunday 2026-03-08; 02:30 doesn't exist
            // that day, so the run is at 03:00 EDT; 01:30 is before the gap and unaffected.
            (
                "09:30",
                New_York,
                date(2026, 3, 5),
                vec![(2, utc(2026, 3, 7, 14, 30)), (3, utc(2026, 3, 8, 13, 30))],
                None,
            ),
            (
                "02:30",
                New_York,
                date(2026, 3, 5),
                vec![
                    (2, utc(2026, 3, 7, 7, 30)),
                    (3, utc(2026, 3, 8, 7, 0)),
                    (4, utc(2026, 3, 9, 6, 30)),
                ],
                Some((3, at_3(date(2026, 3, 8)))),
            ),
            (
                "01:30",
                New_York,
                date(2026, 3, 5),
                vec![(3, utc(2026, 3, 8, 6, 30)), (4, utc(2026, 3, 9, 5, 30))],
                None,
            ),
            // New York: clocks go back 02:00 -> 01:00 on Sunday 2026-11-01; 01:30 happens
            // twice, the run is the first one, 01:30 EDT; 02:30 comes once (in EST).
            (
                "09:30",
                New_York,
                date(2026, 10, 29),
                vec![
                    (2, utc(2026, 10, 31, 13, 30)),
                    (3, utc(2026, 11, 1, 14, 30)),
                ],
                None,
            ),
            (
                "01:30",
                New_York,
                date(2026, 10, 29),
                vec![
                    (2, utc(2026, 10, 31, 5, 30)),
                    (3, utc(2026, 11, 1, 5, 30)),
                    (4, utc(2026, 11, 2, 6, 30)),
                ],
                None,
            ),
            (
                "02:30",
                New_York,
                date(2026, 10, 29),
                vec![(2, utc(2026, 10, 31, 6, 30)), (3, utc(2026, 11, 1, 7, 30))],
                None,
            ),
        ];
        let failures = rows
            .iter()
            .flat_map(|(time, zone, first, checked, wall)| {
                let week = week_of_daily_runs(time, *zone, *first);
                let mut wrong: Vec<String> = checked
                    .iter()
                    .filter(|(i, want)| week[*i] != *want)
                    .map(|(i, want)| {
                        format!(
                            "{time} in {zone} from {first}: run {i} want {want}, got {}",
                            week[*i]
                        )
                    })
                    .collect();
                if let Some((i, want)) = wall {
                    let shown = week[*i].with_timezone(zone).naive_local();
                    if shown != *want {
                        wrong.push(format!(
                            "{time} in {zone} from {first}: run {i} shows {shown}, want {want}"
                        ));
                    }
                }
                wrong
            })
            .collect();
        assert_rows(rows.len(), failures);
    }
}

/// Property tests: any typed schedule reads or is refused without panicking; a
/// schedule's next run is after the given instant, on an allowed weekday at its wall time (or
/// the end of a DST gap), never skips a day's run, and moves forward as time does.
#[cfg(test)]
mod properties {
    use chrono::{Duration, TimeZone, Timelike};
    use chrono_tz::{America, Australia, Europe, Pacific};
    use proptest::prelude::*;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    /// DST-heavy zones (30-minute shifts, a skipped day in Apia) more often than the rest.
    fn zone() -> impl Strategy<Value = Tz> {
        prop_oneof![
            3 => prop::sample::select(vec![
                Europe::Berlin,
                America::New_York,
                Australia::Lord_Howe,
                Pacific::Apia,
                Pacific::Chatham,
                Australia::Sydney,
                chrono_tz::UTC,
            ]),
            1 => prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()),
        ]
    }

    /// Any instant 1990–2090, or one within three days of a 2026 DST change in Berlin, New
    /// York, Lord Howe or Sydney (and Apia's skipped 2011-12-30).
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let changes = vec![
            1_774_746_000_i64, // 2026-03-29 01:00 UTC, Berlin springs forward
            1_792_890_000,     // 2026-10-25 01:00 UTC, Berlin falls back
            1_772_953_200,     // 2026-03-08 07:00 UTC, New York springs forward
            1_793_512_800,     // 2026-11-01 06:00 UTC, New York falls back
            1_775_314_800,     // 2026-04-04 15:00 UTC, Lord Howe and Sydney fall back
            1_791_043_200,     // 2026-10-03 16:00 UTC, Lord Howe and Sydney spring forward
            1_325_239_200,     // 2011-12-30 10:00 UTC, Apia skips a day
        ];
        prop_oneof![
            1 => (631_152_000_i64..3_786_912_000).prop_map(at),
            1 => (prop::sample::select(changes), -3 * 86_400_i64..3 * 86_400)
                .prop_map(|(change, offset)| at(change + offset)),
        ]
    }

    /// A weekday schedule at a random time (every minute of the DST hours included).
    fn schedule() -> impl Strategy<Value = (StandupSchedule, u8, u32, u32)> {
        (
            1u8..=ALL_DAYS,
            0u32..24,
            prop_oneof![0u32..60, Just(0u32), Just(30u32)],
        )
            .prop_map(|(days, hour, minute)| {
                let expr = format!("{minute} {hour} * * {}", dow_field(days));
                let schedule = StandupSchedule::from_expr(&expr)
                    .unwrap_or_else(|e| panic!("{expr} should read: {e}"));
                (schedule, days, hour, minute)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn next_run_is_after_on_an_allowed_day_and_never_skips_one(
            (schedule, days, hour, minute) in schedule(),
            after in instant(),
            zone in zone(),
            probe in 0.0f64..1.0,
        ) {
            let next = schedule.next_after(after, zone);
            let Some(next) = next else {
                return Err(TestCaseError::fail(format!("{} never runs", schedule.expr())));
            };
            prop_assert!(next > after, "{} after {after} in {zone}: {next}", schedule.expr());
            // The run is some allowed date's hh:mm, resolved like a typed time (a DST gap moves
            // it forward, so its date may be the day before the one it shows).
            let shown = next.with_timezone(&zone).date_naive();
            let from_day = [shown, shown.pred_opt().unwrap_or(shown)].into_iter().find(|day| {
                days & (1 << day.weekday().num_days_from_sunday()) != 0
                    && day
                        .and_hms_opt(hour, minute, 0)
                        .is_some_and(|local| resolve_local(zone, local) == next)
            });
            prop_assert!(from_day.is_some(), "{} gave {next} ({}) in {zone}",
                schedule.expr(), next.with_timezone(&zone));
            if let Some(day) = from_day {
                if day == shown && zone.from_local_datetime(&day.and_hms_opt(hour, minute, 0).unwrap_or_default()).earliest().is_some() {
                    let local = next.with_timezone(&zone);
                    prop_assert_eq!((local.hour(), local.minute()), (hour, minute));
                }
            }
            // Any instant in [after, next) has the same next run: no run in between was skipped.
            let span = (next - after).num_seconds();
            let between = after + Duration::seconds((span as f64 * probe) as i64);
            prop_assert_eq!(schedule.next_after(between, zone), Some(next));
        }

        #[test]
        fn next_run_is_monotonic(
            (schedule, _days, _hour, _minute) in schedule(),
            after in instant(),
            later_by in 0i64..10 * 86_400,
            zone in zone(),
        ) {
            let first = schedule.next_after(after, zone);
            let second = schedule.next_after(after + Duration::seconds(later_by), zone);
            prop_assert!(first <= second, "{first:?} then {second:?} in {zone}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever is typed into `/standup schedule`, it reads or is refused; what reads is
        /// stored as a crontab that reads back the same and runs at least once.
        #[test]
        fn typed_schedules_read_or_are_refused_without_panicking(
            time in prop_oneof![
                "\\PC{0,30}",
                "[0-9*,/ -]{0,20}",
                (any::<u8>(), any::<u8>(), "[0-9*,/-]{1,6}", "[0-9*,/-]{1,6}", "[0-9a-zA-Z*,/?#L-]{1,8}")
                    .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}")),
                prop::sample::select(vec!["09:30", "9am", "noon", "midnight", "24:00", "12:60",
                    "@daily", "0 9 30 2 *", "0 9 31 4 *", "0 9 29 2 *", "0 9 * * 7"]).prop_map(String::from),
            ],
            days in prop::option::of(prop_oneof![
                "\\PC{0,20}",
                "[a-z, -]{0,20}",
                prop::sample::select(vec!["mon-fri", "fri-mon", "daily", "weekends", "sun", "-",
                    "mon-", ",", "every day"]).prop_map(String::from),
            ]),
        ) {
            if let Ok(schedule) = StandupSchedule::parse(&time, days.as_deref()) {
                let again = StandupSchedule::from_expr(schedule.expr());
                prop_assert!(again.is_ok(), "{} does not read back", schedule.expr());
                if let Ok(again) = again {
                    prop_assert_eq!(again.expr(), schedule.expr());
                }
                prop_assert!(schedule.next_after(at(1_767_225_600), chrono_tz::UTC).is_some());
                prop_assert!(!schedule.describe().is_empty());
            }
            let _ = StandupSchedule::from_expr(&time);
        }
    }
}
