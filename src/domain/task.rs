//! Tasks as the team sees them: numbers, statuses, priorities and what changed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::ids::{ChannelId, GuildId, UserId};
use super::recurrence::Recurrence;

/// A task's per-guild number, shown as `#12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskNumber(pub i64);

impl fmt::Display for TaskNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Todo,
    InProgress,
    Blocked,
    Done,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Todo,
        Status::InProgress,
        Status::Blocked,
        Status::Done,
    ];

    /// The stable name stored in the database and typed in `/task list status:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Todo => "todo",
            Status::InProgress => "in_progress",
            Status::Blocked => "blocked",
            Status::Done => "done",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Todo => "To do",
            Status::InProgress => "In progress",
            Status::Blocked => "Blocked",
            Status::Done => "Done",
        }
    }

    pub fn is_open(self) -> bool {
        self != Status::Done
    }
}

impl FromStr for Status {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == key)
            .ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// How `/task list` orders tasks (docs/behaviour.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskSort {
    /// Overdue first, then soonest due, undated last.
    #[default]
    Due,
    /// Urgent first; within a priority, by due.
    Priority,
    Number,
}

impl TaskSort {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskSort::Due => "due",
            TaskSort::Priority => "priority",
            TaskSort::Number => "number",
        }
    }
}

impl FromStr for TaskSort {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "due" => Ok(TaskSort::Due),
            "priority" => Ok(TaskSort::Priority),
            "number" => Ok(TaskSort::Number),
            _ => Err(()),
        }
    }
}

impl FromStr for Priority {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase();
        Priority::ALL
            .into_iter()
            .find(|priority| priority.as_str() == key)
            .ok_or(())
    }
}

/// The project a task belongs to, as far as a task needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRef {
    pub id: i64,
    pub name: String,
    pub channel_id: Option<ChannelId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub guild_id: GuildId,
    pub number: TaskNumber,
    pub title: String,
    pub description: Option<String>,
    pub status: Status,
    pub blocked_reason: Option<String>,
    pub priority: Priority,
    pub project: Option<ProjectRef>,
    pub assignee_id: Option<UserId>,
    pub creator_id: UserId,
    /// Where the task was created: the last resort for its reminders.
    pub channel_id: ChannelId,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was last marked done; None while open.
    pub done_at: Option<DateTime<Utc>>,
    /// Set for a recurring task: done, it comes back as a new task (docs/behaviour.md §11).
    pub repeat: Option<Recurrence>,
}

impl Task {
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        overdue(self.status, self.due_at, now)
    }
}

/// Still open and past its due time.
fn overdue(status: Status, due_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    status.is_open() && due_at.is_some_and(|due| due <= now)
}

/// A task as one line of a list shows it. `/task list` and `/task mine` read only this much:
/// every column read is a value the database layer copies and frees, per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    pub number: TaskNumber,
    pub title: String,
    pub status: Status,
    pub priority: Priority,
    pub project_name: Option<String>,
    pub assignee_id: Option<UserId>,
    pub due_at: Option<DateTime<Utc>>,
    pub repeat: Option<Recurrence>,
}

impl TaskLine {
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        overdue(self.status, self.due_at, now)
    }
}

impl From<&Task> for TaskLine {
    fn from(task: &Task) -> TaskLine {
        TaskLine {
            number: task.number,
            title: task.title.clone(),
            status: task.status,
            priority: task.priority,
            project_name: task.project.as_ref().map(|p| p.name.clone()),
            assignee_id: task.assignee_id,
            due_at: task.due_at,
            repeat: task.repeat,
        }
    }
}

/// One line of a task's history: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub actor_id: UserId,
    pub at: DateTime<Utc>,
    pub action: String,
    pub detail: String,
}

/// A field of a task that `/task edit` can change; named in refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Description,
    Project,
    Due,
    Priority,
    Repeat,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Description => "description",
            Field::Project => "project",
            Field::Due => "due",
            Field::Priority => "priority",
            Field::Repeat => "repeat",
        }
    }
}

/// What a `/task edit` asks to change. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub project: Option<ProjectRef>,
    pub due_at: Option<DateTime<Utc>>,
    pub priority: Option<Priority>,
    /// `Some(None)` is `repeat:never`: the task stops recurring.
    pub repeat: Option<Option<Recurrence>>,
}

impl TaskEdit {
    pub fn fields(&self) -> Vec<Field> {
        let mut fields = Vec::new();
        if self.title.is_some() {
            fields.push(Field::Title);
        }
        if self.description.is_some() {
            fields.push(Field::Description);
        }
        if self.project.is_some() {
            fields.push(Field::Project);
        }
        if self.due_at.is_some() {
            fields.push(Field::Due);
        }
        if self.priority.is_some() {
            fields.push(Field::Priority);
        }
        if self.repeat.is_some() {
            fields.push(Field::Repeat);
        }
        fields
    }

    pub fn is_empty(&self) -> bool {
        self.fields().is_empty()
    }
}

/// A change someone asks for on an existing task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskCommand {
    /// Assign to a user, or unassign with `None`.
    Assign(Option<UserId>),
    Start,
    Block(String),
    Done,
    Reopen,
    Edit(TaskEdit),
    Comment(String),
    Delete,
    /// A reminder's snooze button: no reminder before this instant.
    Snooze(DateTime<Utc>),
}

impl TaskCommand {
    /// The history row this change writes: (action, detail).
    pub fn history(&self, task: &Task) -> (&'static str, String) {
        match self {
            TaskCommand::Assign(Some(user)) => ("assigned", format!("user:{user}")),
            TaskCommand::Assign(None) => ("unassigned", String::new()),
            TaskCommand::Start => ("started", String::new()),
            TaskCommand::Block(reason) => ("blocked", reason.clone()),
            TaskCommand::Done => ("done", String::new()),
            TaskCommand::Reopen => ("reopened", String::new()),
            TaskCommand::Edit(edit) => {
                let fields: Vec<&str> = edit.fields().iter().map(|f| f.name()).collect();
                ("edited", fields.join(", "))
            }
            TaskCommand::Comment(text) => ("commented", text.clone()),
            TaskCommand::Delete => ("deleted", task.title.clone()),
            TaskCommand::Snooze(until) => ("snoozed", format!("until {}", until.to_rfc3339())),
        }
    }
}

/// Checks that `actor` may apply `command` to `task` and that it makes sense in the task's
/// current state. Nothing is changed here; the store applies an accepted command.
pub fn check(
    actor: &crate::domain::permissions::Actor,
    task: &Task,
    command: &TaskCommand,
) -> Result<(), crate::domain::UserError> {
    use crate::domain::permissions::{may, Action};
    use crate::domain::UserError;

    match command {
        TaskCommand::Assign(_) => may(actor, Action::Assign, Some(task))?,
        TaskCommand::Edit(edit) => {
            // Refused whole, naming the first field the caller may not change.
            for field in edit.fields() {
                may(actor, Action::Edit(field), Some(task))?;
            }
        }
        TaskCommand::Delete => may(actor, Action::Delete, Some(task))?,
        TaskCommand::Start
        | TaskCommand::Block(_)
        | TaskCommand::Done
        | TaskCommand::Reopen
        | TaskCommand::Comment(_)
        | TaskCommand::Snooze(_) => may(actor, Action::Progress, Some(task))?,
    }
    let number = task.number;
    match (command, task.status) {
        (TaskCommand::Reopen, status) if status != Status::Done => Err(UserError::Invalid(
            format!("{number} is not done, so there is nothing to reopen."),
        )),
        (TaskCommand::Done, Status::Done) => {
            Err(UserError::Invalid(format!("{number} is already done.")))
        }
        (TaskCommand::Start, Status::InProgress) => Err(UserError::Invalid(format!(
            "{number} is already in progress."
        ))),
        (
            TaskCommand::Start
            | TaskCommand::Block(_)
            | TaskCommand::Assign(_)
            | TaskCommand::Edit(_)
            | TaskCommand::Snooze(_),
            Status::Done,
        ) => Err(UserError::Invalid(format!(
            "{number} is done; reopen it first with /task reopen."
        ))),
        (TaskCommand::Edit(edit), _)
            if matches!(edit.repeat, Some(Some(_)))
                && edit.due_at.is_none()
                && task.due_at.is_none() =>
        {
            Err(UserError::Invalid(format!(
                "{number} has no due time, so it cannot repeat: give a due as well."
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChannelId, GuildId, UserId};

    #[test]
    fn status_reads_its_own_names_and_friendly_spellings() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert_eq!("In Progress".parse(), Ok(Status::InProgress));
        assert_eq!("in-progress".parse(), Ok(Status::InProgress));
        assert_eq!("finished".parse::<Status>(), Err(()));
    }

    #[test]
    fn priority_reads_case_insensitively() {
        assert_eq!("URGENT".parse(), Ok(Priority::Urgent));
        assert_eq!("meh".parse::<Priority>(), Err(()));
        assert!(Priority::Urgent > Priority::High);
    }

    #[test]
    fn edit_lists_the_fields_it_touches() {
        let edit = TaskEdit {
            title: Some("x".into()),
            priority: Some(Priority::High),
            ..TaskEdit::default()
        };
        assert_eq!(edit.fields(), vec![Field::Title, Field::Priority]);
        assert!(TaskEdit::default().is_empty());
    }

    #[test]
    fn only_open_tasks_past_due_are_overdue() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
        let mut task = Task {
            repeat: None,
            id: 1,
            guild_id: GuildId::new(1),
            number: TaskNumber(1),
            title: "t".into(),
            description: None,
            status: Status::Todo,
            blocked_reason: None,
            priority: Priority::Normal,
            project: None,
            assignee_id: None,
            creator_id: UserId::new(1),
            channel_id: ChannelId::new(1),
            due_at: Some(at(100)),
            created_at: at(0),
            updated_at: at(0),
            done_at: None,
        };
        assert!(!task.is_overdue(at(99)));
        assert!(task.is_overdue(at(100)));
        task.status = Status::Done;
        assert!(!task.is_overdue(at(200)));
    }
}
