//! Who the standup asks and counts (docs/behaviour.md §9): the roster, the prompt lead, away
//! periods, and the attendance a summary shows. Plain rules over plain data; the store keeps
//! the rows and the worker sends the messages.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::dates::{parse_day_edge, parse_span, DayEdge};
use super::ids::UserId;
use super::UserError;

/// How long before the summary the roster is asked: 5 minutes to 12 hours, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptLead(Option<Duration>);

impl PromptLead {
    pub const DEFAULT: PromptLead = PromptLead(Some(Duration::hours(1)));
    const SHORTEST: Duration = Duration::minutes(5);
    const LONGEST: Duration = Duration::hours(12);

    /// Reads `1h`, `30m`, `off`.
    pub fn parse(text: &str) -> Result<Self, UserError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(PromptLead(None));
        }
        let out_of_range = || {
            UserError::Invalid(format!(
                "I couldn't use \"{}\" as the prompt lead: give 5m to 12h before the summary \
                 (for example 1h or 30m), or off.",
                super::clip(text, 30)
            ))
        };
        let lead = parse_span(text).ok_or_else(out_of_range)?;
        if lead < Self::SHORTEST || lead > Self::LONGEST {
            return Err(out_of_range());
        }
        Ok(PromptLead(Some(lead)))
    }

    /// As stored: seconds, 0 for off.
    pub fn from_secs(secs: i64) -> Self {
        PromptLead((secs > 0).then(|| Duration::seconds(secs)))
    }

    pub fn secs(self) -> i64 {
        self.0.map_or(0, |lead| lead.num_seconds())
    }

    pub fn lead(self) -> Option<Duration> {
        self.0
    }

    /// `1h`, `30m`, `1h30m`, or `off`.
    pub fn describe(self) -> String {
        match self.0 {
            None => "off".into(),
            Some(lead) => {
                let (hours, minutes) = (lead.num_hours(), lead.num_minutes() % 60);
                match (hours, minutes) {
                    (0, m) => format!("{m}m"),
                    (h, 0) => format!("{h}h"),
                    (h, m) => format!("{h}h{m}m"),
                }
            }
        }
    }
}

/// The two asks before one summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// At summary time minus the lead.
    Prompt,
    /// Halfway between the prompt and the summary, to those still missing.
    Nudge,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prompt => "prompt",
            Stage::Nudge => "nudge",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "prompt" => Some(Stage::Prompt),
            "nudge" => Some(Stage::Nudge),
            _ => None,
        }
    }
}

/// When the prompt and the nudge of the summary at `run_at` fall due, if prompts are on.
pub fn ask_times(
    run_at: DateTime<Utc>,
    lead: PromptLead,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let lead = lead.lead()?;
    let prompt = run_at - lead;
    Some((prompt, prompt + lead / 2))
}

/// The next ask owed for the summary at `run_at`, seen at `now`: the prompt (sent at once if
/// its instant passed while the summary is still ahead), else the nudge if still ahead.
pub fn next_ask_at(
    run_at: DateTime<Utc>,
    lead: PromptLead,
    prompt_claimed: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let (prompt, nudge) = ask_times(run_at, lead)?;
    if run_at <= now {
        return None;
    }
    if !prompt_claimed {
        return Some(prompt.max(now));
    }
    (nudge > now).then_some(nudge)
}

/// A member's away period in one guild: `from` inclusive, `until` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwayPeriod {
    pub user_id: UserId,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub note: Option<String>,
}

impl AwayPeriod {
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.until
    }
}

/// Reads `/away set`'s `until` and `from` typed at `now` in `zone`: `until` without a time is
/// the end of that day, `from` without a time its start, and a `from` already past means now.
/// Refuses a period that ends in the past or not after it starts.
pub fn read_away(
    until: &str,
    from: Option<&str>,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<(DateTime<Utc>, DateTime<Utc>), UserError> {
    let until_at = parse_day_edge(until, now, zone, DayEdge::End)?;
    let from_at = match from {
        Some(from) => parse_day_edge(from, now, zone, DayEdge::Start)?.max(now),
        None => now,
    };
    if until_at <= now {
        return Err(UserError::Invalid(
            "That away period ends in the past; give an end that is still ahead (until: friday, \
             until: 2026-12-24)."
                .into(),
        ));
    }
    if until_at <= from_at {
        return Err(UserError::Invalid(
            "That away period ends before it starts; give an until after the from.".into(),
        ));
    }
    Ok((from_at, until_at))
}

/// A roster member as the standup sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterMember {
    pub user_id: UserId,
    /// Discord said they left the server: not asked, not counted.
    pub gone: bool,
}

/// Who checked in, who is missing, who is away, for one summary (or one ask).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attendance {
    /// Roster members neither away nor gone who checked in.
    pub checked_in: Vec<UserId>,
    /// Roster members neither away nor gone who did not.
    pub missing: Vec<UserId>,
    /// Roster members away at the moment, with the end of their period.
    pub away: Vec<(UserId, DateTime<Utc>)>,
}

impl Attendance {
    /// M in "Checked in: N of M".
    pub fn expected(&self) -> usize {
        self.checked_in.len() + self.missing.len()
    }

    /// Whether the summary has anything to say about the roster.
    pub fn is_empty(&self) -> bool {
        self.expected() == 0 && self.away.is_empty()
    }
}

/// The roster's attendance at `now`: gone members are left out; away members are listed apart
/// and neither missing nor expected.
pub fn attendance(
    roster: &[RosterMember],
    away: &[AwayPeriod],
    checked_in: &HashSet<UserId>,
    now: DateTime<Utc>,
) -> Attendance {
    let mut out = Attendance::default();
    for member in roster.iter().filter(|m| !m.gone) {
        if let Some(period) = away
            .iter()
            .find(|a| a.user_id == member.user_id && a.covers(now))
        {
            out.away.push((member.user_id, period.until));
        } else if checked_in.contains(&member.user_id) {
            out.checked_in.push(member.user_id);
        } else {
            out.missing.push(member.user_id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn the_prompt_lead_reads_off_and_five_minutes_to_twelve_hours() {
        assert_eq!(PromptLead::parse("off"), Ok(PromptLead(None)));
        assert_eq!(PromptLead::parse("1h").map(PromptLead::secs), Ok(3_600));
        assert_eq!(PromptLead::parse("5m").map(PromptLead::secs), Ok(300));
        assert_eq!(PromptLead::parse("12h").map(PromptLead::secs), Ok(43_200));
        for bad in ["4m", "13h", "0m", "soon", "", "-1h"] {
            assert!(PromptLead::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(PromptLead::from_secs(5_400).describe(), "1h30m");
        assert_eq!(PromptLead::from_secs(0).describe(), "off");
    }

    #[test]
    fn the_nudge_falls_halfway_between_prompt_and_summary() {
        let run = at(9, 30);
        let (prompt, nudge) = ask_times(run, PromptLead::DEFAULT).expect("prompts on");
        assert_eq!((prompt, nudge), (at(8, 30), at(9, 0)));
        assert_eq!(ask_times(run, PromptLead::from_secs(0)), None);
        // Before the prompt: the prompt. After it was claimed: the nudge, if still ahead.
        assert_eq!(
            next_ask_at(run, PromptLead::DEFAULT, false, at(7, 0)),
            Some(at(8, 30))
        );
        assert_eq!(
            next_ask_at(run, PromptLead::DEFAULT, false, at(9, 10)),
            Some(at(9, 10))
        );
        assert_eq!(
            next_ask_at(run, PromptLead::DEFAULT, true, at(8, 31)),
            Some(at(9, 0))
        );
        assert_eq!(next_ask_at(run, PromptLead::DEFAULT, true, at(9, 5)), None);
        assert_eq!(
            next_ask_at(run, PromptLead::DEFAULT, false, at(9, 30)),
            None
        );
    }

    #[test]
    fn away_until_a_day_means_through_that_day_and_a_past_from_means_now() {
        let zone: Tz = "Europe/Berlin".parse().expect("zone");
        // Friday 4 December 2026, 10:00 UTC (11:00 in Berlin).
        let now = at(10, 0);
        let (from, until) = read_away("monday", Some("today"), now, zone).expect("reads");
        assert_eq!(from, now);
        // Through Monday 7 December in Berlin: until Tuesday 00:00 local = Monday 23:00 UTC.
        assert_eq!(
            until,
            Utc.with_ymd_and_hms(2026, 12, 7, 23, 0, 0)
                .single()
                .expect("valid")
        );
        // `until: today` is through today, not today at 17:00 or 00:00.
        let (_, today) = read_away("today", None, now, zone).expect("reads");
        assert_eq!(
            today,
            Utc.with_ymd_and_hms(2026, 12, 4, 23, 0, 0)
                .single()
                .expect("valid")
        );
        let (from, _) = read_away("monday", Some("tomorrow"), now, zone).expect("reads");
        assert_eq!(
            from,
            Utc.with_ymd_and_hms(2026, 12, 4, 23, 0, 0)
                .single()
                .expect("valid")
        );
    }

    #[test]
    fn an_away_period_in_the_past_or_ending_before_it_starts_is_refused() {
        let now = at(10, 0);
        assert!(read_away("2026-12-01", None, now, Tz::UTC).is_err());
        assert!(read_away("friday", Some("next monday"), now, Tz::UTC).is_err());
        assert!(read_away("in 2h", Some("in 3h"), now, Tz::UTC).is_err());
        assert!(read_away("whenever", None, now, Tz::UTC).is_err());
        assert!(read_away("in 2h", Some("in 1h"), now, Tz::UTC).is_ok());
    }

    #[test]
    fn attendance_counts_the_roster_without_away_and_gone_members() {
        let now = at(9, 30);
        let member = |id: u64, gone| RosterMember {
            user_id: UserId::new(id),
            gone,
        };
        let roster = [
            member(1, false),
            member(2, false),
            member(3, false),
            member(4, true),
        ];
        let away = [AwayPeriod {
            user_id: UserId::new(3),
            from: at(0, 0),
            until: at(23, 0),
            note: None,
        }];
        let checked: HashSet<UserId> = [UserId::new(1), UserId::new(9)].into_iter().collect();
        let seen = attendance(&roster, &away, &checked, now);
        assert_eq!(seen.checked_in, vec![UserId::new(1)]);
        assert_eq!(seen.missing, vec![UserId::new(2)]);
        assert_eq!(seen.away, vec![(UserId::new(3), at(23, 0))]);
        assert_eq!(seen.expected(), 2);
    }
}
