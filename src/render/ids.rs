//! The custom ids of every button the bot posts. Discord hands a custom id back when the button
//! is pressed, possibly months later, so the text form is a stored format: new variants may be
//! added, but an id already on a posted message must keep parsing to the same meaning.
//!
//! The router maps each variant to its handler in `discord::registry`, with an exhaustive match:
//! a variant without a handler does not compile.

use std::fmt;
use std::str::FromStr;

use crate::domain::duties::SnoozeChoice;
use crate::domain::ids::UserId;
use crate::domain::task::{Status, TaskNumber, TaskSort};

/// Discord limits a custom id to 100 characters.
pub const CUSTOM_ID_MAX: usize = 100;

/// What a pressed button means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomId {
    /// **Mark #N done** on a reminder or alert: `duty:done:N`.
    DutyDone(TaskNumber),
    /// A snooze button on a reminder: `duty:snooze:N` (1 hour, as on every reminder posted
    /// before the other choices), `duty:snooze3h:N`, `duty:snoozetomorrow:N`.
    DutySnooze(TaskNumber, SnoozeChoice),
    /// Previous / next on a `/task list` page: `list:PAGE:ASSIGNEE:PROJECT:STATUS:OVERDUE`,
    /// `-` for a filter that is not set.
    ListPage(ListPage),
    /// **Check in** on a standup prompt, nudge or channel message: `standup:checkin`. Opens
    /// the check-in form for whoever presses it.
    CheckIn,
    /// **Stop these DMs** on a prompt or nudge: `standup:stop`. Takes the presser off the
    /// roster of the guild the prompt came from.
    StopDms,
    /// **Stop these DMs** on a morning digest: `digest:stop`. Turns the presser's digest off
    /// in the guild it came from.
    StopDigest,
    /// **Try again** on a refused Create task form: `taskform:retry:DRAFT`.
    RetryTaskForm(i64),
}

/// A `/task list` page with its filter, carried in the page buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListPage {
    pub page: i64,
    pub assignee: Option<UserId>,
    pub project_id: Option<i64>,
    pub status: Option<Status>,
    pub overdue: bool,
    /// Ids from before sorting existed have no sort part: they listed by number.
    pub sort: TaskSort,
}

impl CustomId {
    /// The task a button acts on, if it acts on one.
    pub fn task(&self) -> Option<TaskNumber> {
        match self {
            CustomId::DutyDone(n) | CustomId::DutySnooze(n, _) => Some(*n),
            CustomId::ListPage(_)
            | CustomId::CheckIn
            | CustomId::StopDms
            | CustomId::StopDigest
            | CustomId::RetryTaskForm(_) => None,
        }
    }
}

const DUTY_DONE: &str = "duty:done:";
const DUTY_SNOOZE: &str = "duty:snooze:";
const DUTY_SNOOZE_3H: &str = "duty:snooze3h:";
const DUTY_SNOOZE_TOMORROW: &str = "duty:snoozetomorrow:";
const LIST_PAGE: &str = "list:";
const CHECK_IN: &str = "standup:checkin";
const STOP_DMS: &str = "standup:stop";
const STOP_DIGEST: &str = "digest:stop";
const RETRY_TASK_FORM: &str = "taskform:retry:";

impl fmt::Display for CustomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomId::DutyDone(n) => write!(f, "{DUTY_DONE}{}", n.0),
            CustomId::DutySnooze(n, SnoozeChoice::OneHour) => write!(f, "{DUTY_SNOOZE}{}", n.0),
            CustomId::DutySnooze(n, SnoozeChoice::ThreeHours) => {
                write!(f, "{DUTY_SNOOZE_3H}{}", n.0)
            }
            CustomId::DutySnooze(n, SnoozeChoice::TomorrowMorning) => {
                write!(f, "{DUTY_SNOOZE_TOMORROW}{}", n.0)
            }
            CustomId::CheckIn => f.write_str(CHECK_IN),
            CustomId::StopDms => f.write_str(STOP_DMS),
            CustomId::StopDigest => f.write_str(STOP_DIGEST),
            CustomId::RetryTaskForm(draft) => write!(f, "{RETRY_TASK_FORM}{draft}"),
            CustomId::ListPage(p) => {
                fn part(f: &mut fmt::Formatter<'_>, value: Option<String>) -> fmt::Result {
                    match value {
                        Some(v) => write!(f, ":{v}"),
                        None => write!(f, ":-"),
                    }
                }
                write!(f, "{LIST_PAGE}{}", p.page)?;
                part(f, p.assignee.map(|u| u.get().to_string()))?;
                part(f, p.project_id.map(|id| id.to_string()))?;
                part(f, p.status.map(|s| s.as_str().to_string()))?;
                write!(f, ":{}:{}", u8::from(p.overdue), p.sort.as_str())
            }
        }
    }
}

/// The custom id of the check-in form: `checkin:form` where the guild is the interaction's,
/// `checkin:form:MESSAGE` when opened from a prompt in a DM (the guild then comes from the
/// stored record of that message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckinForm {
    pub prompt_message: Option<u64>,
}

const CHECKIN_FORM: &str = "checkin:form";

impl fmt::Display for CheckinForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prompt_message {
            Some(message) => write!(f, "{CHECKIN_FORM}:{message}"),
            None => f.write_str(CHECKIN_FORM),
        }
    }
}

impl FromStr for CheckinForm {
    type Err = UnknownCustomId;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        match id.strip_prefix(CHECKIN_FORM) {
            Some("") => Ok(CheckinForm {
                prompt_message: None,
            }),
            Some(rest) => rest
                .strip_prefix(':')
                .and_then(|m| m.parse().ok())
                .map(|message| CheckinForm {
                    prompt_message: Some(message),
                })
                .ok_or(UnknownCustomId),
            None => Err(UnknownCustomId),
        }
    }
}

/// The custom id of the Create task form: `taskform:CHANNEL:MESSAGE`, the message it was
/// opened from (for the link back to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskForm {
    pub channel_id: u64,
    pub message_id: u64,
}

const TASK_FORM: &str = "taskform:";

impl fmt::Display for TaskForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TASK_FORM}{}:{}", self.channel_id, self.message_id)
    }
}

impl FromStr for TaskForm {
    type Err = UnknownCustomId;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let (channel, message) = id
            .strip_prefix(TASK_FORM)
            .and_then(|rest| rest.split_once(':'))
            .ok_or(UnknownCustomId)?;
        Ok(TaskForm {
            channel_id: channel.parse().map_err(|_| UnknownCustomId)?,
            message_id: message.parse().map_err(|_| UnknownCustomId)?,
        })
    }
}

/// A custom id this version of the bot does not know (an old or forged one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown custom id")]
pub struct UnknownCustomId;

impl FromStr for CustomId {
    type Err = UnknownCustomId;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let number = |rest: &str| rest.parse().map(TaskNumber).map_err(|_| UnknownCustomId);
        match id {
            CHECK_IN => return Ok(CustomId::CheckIn),
            STOP_DMS => return Ok(CustomId::StopDms),
            STOP_DIGEST => return Ok(CustomId::StopDigest),
            _ => {}
        }
        if let Some(rest) = id.strip_prefix(DUTY_DONE) {
            return number(rest).map(CustomId::DutyDone);
        }
        for (prefix, choice) in [
            (DUTY_SNOOZE, SnoozeChoice::OneHour),
            (DUTY_SNOOZE_3H, SnoozeChoice::ThreeHours),
            (DUTY_SNOOZE_TOMORROW, SnoozeChoice::TomorrowMorning),
        ] {
            if let Some(rest) = id.strip_prefix(prefix) {
                return number(rest).map(|n| CustomId::DutySnooze(n, choice));
            }
        }
        if let Some(rest) = id.strip_prefix(RETRY_TASK_FORM) {
            return rest
                .parse()
                .map(CustomId::RetryTaskForm)
                .map_err(|_| UnknownCustomId);
        }
        if let Some(rest) = id.strip_prefix(LIST_PAGE) {
            return list_page(rest)
                .map(CustomId::ListPage)
                .ok_or(UnknownCustomId);
        }
        Err(UnknownCustomId)
    }
}

fn list_page(rest: &str) -> Option<ListPage> {
    let parts: Vec<&str> = rest.split(':').collect();
    let (page, assignee, project, status, overdue, sort) = match parts.as_slice() {
        [page, assignee, project, status, overdue] => {
            (page, assignee, project, status, overdue, TaskSort::Number)
        }
        [page, assignee, project, status, overdue, sort] => {
            (page, assignee, project, status, overdue, sort.parse().ok()?)
        }
        _ => return None,
    };
    fn set(part: &str) -> Option<&str> {
        (part != "-").then_some(part)
    }
    Some(ListPage {
        page: page.parse().ok()?,
        assignee: set(assignee)
            .map(|s| s.parse::<u64>().map(UserId::new))
            .transpose()
            .ok()?,
        project_id: set(project).map(str::parse).transpose().ok()?,
        status: set(status).map(str::parse::<Status>).transpose().ok()?,
        overdue: match *overdue {
            "1" => true,
            "0" => false,
            _ => return None,
        },
        sort,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_on_messages_already_posted_still_parse() {
        let old_list = ListPage {
            page: 3,
            assignee: Some(UserId::new(42)),
            project_id: Some(7),
            status: Some(Status::Blocked),
            overdue: true,
            sort: TaskSort::Number,
        };
        // Posted before list sorting: they keep listing by number.
        assert_eq!(
            "list:3:42:7:blocked:1".parse::<CustomId>(),
            Ok(CustomId::ListPage(old_list))
        );
        let cases = [
            ("duty:done:12", CustomId::DutyDone(TaskNumber(12))),
            (
                "duty:snooze:7",
                CustomId::DutySnooze(TaskNumber(7), SnoozeChoice::OneHour),
            ),
            (
                "duty:snooze3h:7",
                CustomId::DutySnooze(TaskNumber(7), SnoozeChoice::ThreeHours),
            ),
            (
                "duty:snoozetomorrow:7",
                CustomId::DutySnooze(TaskNumber(7), SnoozeChoice::TomorrowMorning),
            ),
            ("list:3:42:7:blocked:1:number", CustomId::ListPage(old_list)),
            (
                "list:0:-:-:-:0:due",
                CustomId::ListPage(ListPage::default()),
            ),
            (
                "list:1:-:-:-:0:priority",
                CustomId::ListPage(ListPage {
                    page: 1,
                    sort: TaskSort::Priority,
                    ..ListPage::default()
                }),
            ),
            ("standup:checkin", CustomId::CheckIn),
            ("standup:stop", CustomId::StopDms),
            ("digest:stop", CustomId::StopDigest),
            ("taskform:retry:42", CustomId::RetryTaskForm(42)),
        ];
        for (text, id) in cases {
            assert_eq!(text.parse::<CustomId>(), Ok(id), "{text}");
            assert_eq!(id.to_string(), text, "{text}");
        }
    }

    #[test]
    fn unknown_and_broken_ids_are_refused() {
        for text in [
            "",
            "duty:done:",
            "duty:done:x",
            "duty:later:1",
            "list:x:y",
            "list:0:-:-:-:2",
            "list:0:-:-:nope:0",
            "list:0:-:-:-:0:sideways",
        ] {
            assert_eq!(text.parse::<CustomId>(), Err(UnknownCustomId), "{text:?}");
        }
    }

    #[test]
    fn the_longest_list_id_fits_discords_limit() {
        let id = CustomId::ListPage(ListPage {
            page: i64::MAX,
            assignee: Some(UserId::new(u64::MAX)),
            project_id: Some(i64::MAX),
            status: Some(Status::InProgress),
            overdue: true,
            sort: TaskSort::Priority,
        });
        assert!(id.to_string().len() <= CUSTOM_ID_MAX, "{id}");
    }
}
