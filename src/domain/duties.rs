//! docs/behaviour.md §4.1–4.2: which reminders and alerts a task owes, and when.
//!
//! A task with a due time owes, in time order: a reminder at each of the guild's offsets before
//! the due time (skipping those already past when the due time was set), the overdue alert at
//! the due time, and one escalation 24 hours later. The task keeps a cursor: every duty at or
//! before it is claimed or skipped. What is next is a pure function of these few instants.

use chrono::{DateTime, Duration, Utc};

pub const ESCALATION_AFTER: Duration = Duration::hours(24);

/// The snooze buttons on a reminder (docs/behaviour.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoozeChoice {
    OneHour,
    ThreeHours,
    /// Tomorrow at 09:00 in the assignee's zone (else the clicker's, else the guild's).
    TomorrowMorning,
}

impl SnoozeChoice {
    pub const ALL: [SnoozeChoice; 3] = [
        SnoozeChoice::OneHour,
        SnoozeChoice::ThreeHours,
        SnoozeChoice::TomorrowMorning,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SnoozeChoice::OneHour => "Snooze 1 h",
            SnoozeChoice::ThreeHours => "3 h",
            SnoozeChoice::TomorrowMorning => "Tomorrow 09:00",
        }
    }

    /// Until when no reminder comes, chosen at `now` in `zone`.
    pub fn until(self, now: DateTime<Utc>, zone: chrono_tz::Tz) -> DateTime<Utc> {
        match self {
            SnoozeChoice::OneHour => now + Duration::hours(1),
            SnoozeChoice::ThreeHours => now + Duration::hours(3),
            SnoozeChoice::TomorrowMorning => {
                let tomorrow = now.with_timezone(&zone).date_naive() + Duration::days(1);
                let nine =
                    chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(chrono::NaiveTime::MIN);
                super::dates::resolve_local(zone, tomorrow.and_time(nine))
            }
        }
    }

    /// The choices worth showing at `now` for a task due at `due`: none that ends after it.
    pub fn offered(
        now: DateTime<Utc>,
        due: DateTime<Utc>,
        zone: chrono_tz::Tz,
    ) -> Vec<SnoozeChoice> {
        SnoozeChoice::ALL
            .into_iter()
            .filter(|choice| choice.until(now, zone) < due)
            .collect()
    }
}

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

/// Property tests: for any due time, offsets, snooze and cursor, the duties a task owes
/// are in time order, reminders strictly before the deadline, and a worker that sends
/// `due_now` and moves the cursor never sends a duty twice.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    /// Up to 5 distinct offsets from 1 minute to 30 days, longest first (as settings store them).
    fn offsets() -> impl Strategy<Value = Vec<Duration>> {
        prop::collection::btree_set(60i64..=30 * 86_400, 0..=5).prop_map(|set| {
            set.into_iter()
                .rev()
                .map(Duration::seconds)
                .collect::<Vec<_>>()
        })
    }

    /// A dated task: set at `set`, due `lead` seconds later, cursor somewhere from `set` on,
    /// and maybe snoozed.
    fn duty_clock() -> impl Strategy<Value = DutyClock> {
        (
            1_700_000_000i64..1_900_000_000,
            1i64..60 * 86_400,
            0i64..70 * 86_400,
            prop::option::of(0i64..62 * 86_400),
        )
            .prop_map(|(set, lead, cursor_after, snooze)| DutyClock {
                due_at: at(set + lead),
                due_set_at: at(set),
                cursor: at(set + cursor_after.min(lead + 2 * 86_400)),
                snoozed_until: snooze.map(|s| at(set + s)),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn reminders_are_before_the_deadline_and_in_order(
            clock in duty_clock(),
            offsets in offsets(),
        ) {
            let duties = pending(&clock, &offsets);
            for pair in duties.windows(2) {
                prop_assert!(pair[0].at <= pair[1].at, "out of order: {duties:?}");
            }
            for duty in &duties {
                prop_assert!(duty.at > clock.cursor, "at or before the cursor: {duty:?}");
                match duty.kind {
                    DutyKind::Reminder { offset } => {
                        prop_assert!(duty.at < clock.due_at, "reminder not before due: {duty:?}");
                        prop_assert!(duty.at > clock.due_set_at, "reminder caught up: {duty:?}");
                        prop_assert!(offsets.contains(&offset));
                        if let Some(snoozed) = clock.snoozed_until {
                            prop_assert!(duty.at >= snoozed || duty.at <= clock.cursor,
                                "reminder inside the snooze: {duty:?}");
                        }
                    }
                    DutyKind::Overdue => prop_assert_eq!(duty.at, clock.due_at),
                    DutyKind::Escalation => prop_assert_eq!(duty.at, clock.due_at + ESCALATION_AFTER),
                }
            }
            // Without a snooze, every offset whose moment is still ahead gets its own reminder.
            if clock.snoozed_until.is_none() {
                let expected = offsets
                    .iter()
                    .filter(|o| {
                        let when = clock.due_at - **o;
                        when > clock.due_set_at && when > clock.cursor
                    })
                    .count();
                let reminders = duties
                    .iter()
                    .filter(|d| matches!(d.kind, DutyKind::Reminder { .. }))
                    .count();
                prop_assert_eq!(reminders, expected);
            }
            prop_assert_eq!(next_at(&clock, &offsets), duties.first().map(|d| d.at));
        }

        /// A worker waking at arbitrary moments, sending `due_now` and moving the cursor to it:
        /// what it sends is strictly increasing in time, never the same duty twice, never early,
        /// and the escalation (the last duty) is always sent once the worker wakes after it.
        #[test]
        fn a_worker_following_due_now_sends_each_duty_at_most_once(
            clock in duty_clock(),
            offsets in offsets(),
            wakes in prop::collection::vec(0i64..4 * 86_400, 1..30),
        ) {
            let mut clock = clock;
            let owes_escalation = clock.cursor < clock.due_at + ESCALATION_AFTER;
            let mut now = clock.cursor;
            let mut sent: Vec<Duty> = Vec::new();
            let mut wakes = wakes;
            // A last wake after the escalation.
            wakes.push((clock.due_at + ESCALATION_AFTER - now).num_seconds().max(0) + 1);
            for gap in wakes {
                now += Duration::seconds(gap);
                if let Some(duty) = due_now(&clock, &offsets, now) {
                    prop_assert!(duty.at <= now, "sent early: {duty:?} at {now}");
                    if let Some(last) = sent.last() {
                        prop_assert!(duty.at > last.at, "not after the previous one: {sent:?} then {duty:?}");
                    }
                    prop_assert!(
                        !sent.iter().any(|d| d.kind == duty.kind),
                        "sent twice: {duty:?}"
                    );
                    clock.cursor = duty.at;
                    sent.push(duty);
                }
            }
            let kinds = |k: DutyKind| sent.iter().filter(|d| d.kind == k).count();
            prop_assert!(kinds(DutyKind::Overdue) <= 1);
            prop_assert_eq!(kinds(DutyKind::Escalation), usize::from(owes_escalation), "{:?}", sent);
            prop_assert!(pending(&clock, &offsets).is_empty());
        }
    }
}
