//! Spec §4.1–4.2: which reminders and alerts a task owes, and when.
//!
//! A task with a due time owes, in time order: a reminder at each of the guild's offsets before
//! the due time (skipping those already past when the due time was set), the overdue alert at
//! the due time, and one escalation 24 hours later. The task keeps a cursor: every duty at or
//! before it is claimed or skipped. What is next is a pure function of these few instants.

use chrono::{DateTime, Duration, Utc};

pub const ESCALATION_AFTER: Duration = Duration::hours(24);
pub const SNOOZE: Duration = Duration::hours(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DutyKind {
    /// `offset` before the due time.
    Reminder {
        offset: Duration,
    },
    Overdue,
    /// The second alert, 24 hours after the due time, that pings the manager role.
    Escalation,
}

impl DutyKind {
    /// The stable name stored with a claim.
    pub fn as_str(self) -> &'static str {
        match self {
            DutyKind::Reminder { .. } => "reminder",
            DutyKind::Overdue => "overdue",
            DutyKind::Escalation => "escalation",
        }
    }

    /// Seconds of the reminder offset (0 for alerts): part of a claim's unique key.
    pub fn offset_secs(self) -> i64 {
        match self {
            DutyKind::Reminder { offset } => offset.num_seconds(),
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    pub kind: DutyKind,
    /// When it is due.
    pub at: DateTime<Utc>,
}

/// The instants that decide an open, dated task's duties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DutyClock {
    pub due_at: DateTime<Utc>,
    /// When the due time was set: offsets already past then are skipped, not caught up.
    pub due_set_at: DateTime<Utc>,
    /// Every duty at or before this instant has been claimed or skipped.
    pub cursor: DateTime<Utc>,
    /// Snooze: no reminder before this instant.
    pub snoozed_until: Option<DateTime<Utc>>,
}

/// Every duty the task still owes after its cursor, in time order. `offsets` longest first.
pub fn pending(clock: &DutyClock, offsets: &[Duration]) -> Vec<Duty> {
    let mut duties = Vec::new();
    let mut reminders: Vec<Duty> = offsets
        .iter()
        .map(|offset| Duty {
            kind: DutyKind::Reminder { offset: *offset },
            at: clock.due_at - *offset,
        })
        .filter(|d| d.at > clock.due_set_at && d.at < clock.due_at)
        .collect();
    reminders.sort_by_key(|d| d.at);
    if let Some(snoozed) = clock.snoozed_until {
        // Reminders falling inside the snooze collapse into one at its end (if still before
        // the deadline); later ones are untouched.
        let (held, rest): (Vec<Duty>, Vec<Duty>) = reminders
            .into_iter()
            .partition(|d| d.at < snoozed && d.at > clock.cursor);
        reminders = rest;
        if let Some(last_held) = held.last() {
            if snoozed < clock.due_at {
                reminders.push(Duty {
                    kind: last_held.kind,
                    at: snoozed,
                });
            }
        }
        reminders.retain(|d| d.at >= snoozed || d.at <= clock.cursor);
        reminders.sort_by_key(|d| d.at);
    }
    duties.extend(reminders);
    duties.push(Duty {
        kind: DutyKind::Overdue,
        at: clock.due_at,
    });
    duties.push(Duty {
        kind: DutyKind::Escalation,
        at: clock.due_at + ESCALATION_AFTER,
    });
    duties.retain(|d| d.at > clock.cursor);
    duties
}

/// When the task's next duty falls due, if it owes any.
pub fn next_at(clock: &DutyClock, offsets: &[Duration]) -> Option<DateTime<Utc>> {
    pending(clock, offsets).first().map(|d| d.at)
}

/// The one duty to send at `now`: the latest one already due. Earlier ones that were missed
/// (the bot was down) are skipped, so a reminder whose deadline has passed is replaced by the
/// overdue alert, and nothing is sent twice. The cursor then moves to the returned duty.
pub fn due_now(clock: &DutyClock, offsets: &[Duration], now: DateTime<Utc>) -> Option<Duty> {
    pending(clock, offsets)
        .into_iter()
        .take_while(|d| d.at <= now)
        .last()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::hours(h)
    }

    fn offsets() -> Vec<Duration> {
        vec![Duration::hours(24), Duration::hours(1)]
    }

    fn clock(due: i64, set: i64) -> DutyClock {
        DutyClock {
            due_at: t(due),
            due_set_at: t(set),
            cursor: t(set),
            snoozed_until: None,
        }
    }

    #[test]
    fn a_task_owes_reminders_then_overdue_then_one_escalation() {
        let duties = pending(&clock(48, 0), &offsets());
        let kinds: Vec<(DutyKind, DateTime<Utc>)> = duties.iter().map(|d| (d.kind, d.at)).collect();
        assert_eq!(
            kinds,
            vec![
                (
                    DutyKind::Reminder {
                        offset: Duration::hours(24)
                    },
                    t(24)
                ),
                (
                    DutyKind::Reminder {
                        offset: Duration::hours(1)
                    },
                    t(47)
                ),
                (DutyKind::Overdue, t(48)),
                (DutyKind::Escalation, t(72)),
            ]
        );
    }

    #[test]
    fn offsets_already_past_when_the_due_time_is_set_are_skipped() {
        // Due in 10 hours: the 24h reminder is skipped, the 1h one kept.
        let duties = pending(&clock(10, 0), &offsets());
        assert_eq!(
            duties[0].kind,
            DutyKind::Reminder {
                offset: Duration::hours(1)
            }
        );
        assert_eq!(duties.len(), 3);
    }

    #[test]
    fn the_cursor_consumes_duties() {
        let mut c = clock(48, 0);
        c.cursor = t(24);
        assert_eq!(next_at(&c, &offsets()), Some(t(47)));
        c.cursor = t(72);
        assert_eq!(next_at(&c, &offsets()), None);
    }

    #[test]
    fn only_the_latest_missed_duty_is_sent() {
        let c = clock(48, 0);
        assert_eq!(due_now(&c, &offsets(), t(23)), None);
        assert_eq!(due_now(&c, &offsets(), t(24)).map(|d| d.at), Some(t(24)));
        // Down from before the first reminder until after the deadline: only the overdue alert.
        assert_eq!(
            due_now(&c, &offsets(), t(50)).map(|d| d.kind),
            Some(DutyKind::Overdue)
        );
        assert_eq!(
            due_now(&c, &offsets(), t(100)).map(|d| d.kind),
            Some(DutyKind::Escalation)
        );
    }

    #[test]
    fn snooze_delays_the_next_reminder_by_collapsing_it_to_the_snooze_end() {
        let mut c = clock(48, 0);
        c.cursor = t(24); // the 24h reminder went out at t(24)
        c.snoozed_until = Some(t(47) + Duration::minutes(30));
        let duties = pending(&c, &offsets());
        assert_eq!(duties[0].at, t(47) + Duration::minutes(30));
        assert_eq!(
            duties[0].kind,
            DutyKind::Reminder {
                offset: Duration::hours(1)
            }
        );
        assert_eq!(duties[1].kind, DutyKind::Overdue);
    }

    #[test]
    fn snooze_past_the_deadline_drops_the_reminder_but_not_the_alert() {
        let mut c = clock(48, 0);
        c.cursor = t(24);
        c.snoozed_until = Some(t(49));
        let duties = pending(&c, &offsets());
        assert_eq!(duties[0].kind, DutyKind::Overdue);
        assert_eq!(duties[0].at, t(48));
    }

    #[test]
    fn snooze_leaves_later_reminders_alone() {
        let c = DutyClock {
            snoozed_until: Some(t(1)),
            ..clock(48, 0)
        };
        assert_eq!(next_at(&c, &offsets()), Some(t(24)));
    }

    #[test]
    fn claim_keys_tell_reminders_apart() {
        let a = DutyKind::Reminder {
            offset: Duration::hours(1),
        };
        assert_eq!((a.as_str(), a.offset_secs()), ("reminder", 3600));
        assert_eq!(
            (DutyKind::Overdue.as_str(), DutyKind::Overdue.offset_secs()),
            ("overdue", 0)
        );
    }
}
