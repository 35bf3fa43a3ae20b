//! docs/behaviour.md §10: where a member's reminders and alerts reach them.

use std::fmt;
use std::str::FromStr;

use super::duties::DutyKind;

/// A member's choice for deadline reminders in one guild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReminderDelivery {
    /// In the task's channel, as for everyone (the default).
    #[default]
    Channel,
    /// By direct message only.
    Dm,
    /// Both.
    Both,
}

impl ReminderDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderDelivery::Channel => "channel",
            ReminderDelivery::Dm => "dm",
            ReminderDelivery::Both => "both",
        }
    }
}

impl fmt::Display for ReminderDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReminderDelivery {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text.trim().to_ascii_lowercase().as_str() {
            "channel" => Ok(ReminderDelivery::Channel),
            "dm" => Ok(ReminderDelivery::Dm),
            "both" => Ok(ReminderDelivery::Both),
            _ => Err(()),
        }
    }
}

/// Where one duty message about an assignee's task goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub channel: bool,
    pub dm: bool,
}

/// Reminders follow the assignee's choice; overdue alerts and escalations always go to the
/// channel, the team's shared view, and also by DM for `dm` and `both`. An away assignee gets
/// no DM, so what would have gone only by DM goes to the channel.
pub fn route(kind: DutyKind, delivery: ReminderDelivery, away: bool) -> Route {
    let wants_dm = delivery != ReminderDelivery::Channel && !away;
    let channel = match kind {
        DutyKind::Reminder { .. } => delivery != ReminderDelivery::Dm || !wants_dm,
        DutyKind::Overdue | DutyKind::Escalation => true,
    };
    Route {
        channel,
        dm: wants_dm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn reminders_follow_the_choice_and_alerts_always_reach_the_channel() {
        let reminder = DutyKind::Reminder {
            offset: Duration::hours(1),
        };
        let r = |kind, delivery, away| {
            let route = route(kind, delivery, away);
            (route.channel, route.dm)
        };
        assert_eq!(r(reminder, ReminderDelivery::Channel, false), (true, false));
        assert_eq!(r(reminder, ReminderDelivery::Dm, false), (false, true));
        assert_eq!(r(reminder, ReminderDelivery::Both, false), (true, true));
        assert_eq!(r(reminder, ReminderDelivery::Dm, true), (true, false));
        for alert in [DutyKind::Overdue, DutyKind::Escalation] {
            assert_eq!(r(alert, ReminderDelivery::Channel, false), (true, false));
            assert_eq!(r(alert, ReminderDelivery::Dm, false), (true, true));
            assert_eq!(r(alert, ReminderDelivery::Both, true), (true, false));
        }
    }

    #[test]
    fn choices_read_back() {
        for choice in [
            ReminderDelivery::Channel,
            ReminderDelivery::Dm,
            ReminderDelivery::Both,
        ] {
            assert_eq!(choice.as_str().parse(), Ok(choice));
        }
        assert_eq!("DM".parse(), Ok(ReminderDelivery::Dm));
        assert_eq!("email".parse::<ReminderDelivery>(), Err(()));
    }
}
