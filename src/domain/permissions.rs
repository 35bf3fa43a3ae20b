//! docs/behaviour.md §1: who may do what. One function, [`may`], decides every permission question.

use super::ids::{RoleId, UserId};
use super::task::{Field, Task};

/// The person behind a command, as computed from the interaction's own member data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub is_manager: bool,
}

impl Actor {
    /// A manager holds the configured manager role, or Administrator / Manage Server
    /// (so a new server can bootstrap before a role is set).
    pub fn new(
        user_id: UserId,
        roles: &[RoleId],
        admin_or_manage_server: bool,
        manager_role: Option<RoleId>,
    ) -> Self {
        let has_role = manager_role.is_some_and(|role| roles.contains(&role));
        Self {
            user_id,
            is_manager: has_role || admin_or_manage_server,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create a task, assigned to `assignee` (or nobody).
    CreateTask {
        assignee: Option<UserId>,
    },
    /// Assign, reassign or unassign.
    Assign,
    /// Change one field through `/task edit`.
    Edit(Field),
    /// Start, block, done, reopen, comment, and the reminder buttons.
    Progress,
    Delete,
    /// Projects, `/config` settings, standup schedules: what it is, for the refusal
    /// ("change the server's time zone").
    Manage(&'static str),
    /// See or rotate a project's calendar-feed link (it opens the project's tasks to anyone holding it).
    Feed,
    /// Put someone else on the standup roster or take them off.
    RosterOthers,
    /// Set or clear someone else's away period.
    AwayOthers,
}

/// Who would have been allowed: the text of a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    Manager,
    ManagerOrCreator,
    /// The creator only while the task is unassigned or assigned to the creator.
    ManagerOrOwningCreator,
    ManagerAssigneeOrCreator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub action: Action,
    pub needed: Needed,
}

impl Refusal {
    /// The user-facing explanation; `manager_role` is how the edge names the role.
    pub fn explain(&self, manager_role: &str) -> String {
        let what = match self.action {
            Action::CreateTask { .. } => "create a task for someone else".to_string(),
            Action::Assign => "assign or unassign tasks".to_string(),
            Action::Edit(field) => format!("change the {} of this task", field.name()),
            Action::Progress => "update this task".to_string(),
            Action::Delete => "delete this task".to_string(),
            Action::Manage(what) => what.to_string(),
            Action::Feed => "see or rotate a project's calendar feed".to_string(),
            Action::RosterOthers => "put others on the standup roster or take them off".to_string(),
            Action::AwayOthers => "set or clear someone else's away period".to_string(),
        };
        let role = format!("the manager role ({manager_role})");
        match self.needed {
            Needed::Manager => format!("Only managers can {what}: that needs {role}."),
            Needed::ManagerOrCreator => format!(
                "Only managers and the task's creator can {what}: that needs {role}, or being \
                 the task's creator."
            ),
            Needed::ManagerOrOwningCreator => format!(
                "Only managers, and the task's creator while it is unassigned or assigned to \
                 them, can {what}: that needs {role}."
            ),
            Needed::ManagerAssigneeOrCreator => format!(
                "Only managers and the task's assignee or creator can {what}: that needs {role}."
            ),
        }
    }
}

/// Decides whether `actor` may perform `action` (on `task`, for task actions).
pub fn may(actor: &Actor, action: Action, task: Option<&Task>) -> Result<(), Refusal> {
    if actor.is_manager {
        return Ok(());
    }
    let refuse = |needed| Err(Refusal { action, needed });
    let is_creator = task.is_some_and(|t| t.creator_id == actor.user_id);
    let is_assignee = task.is_some_and(|t| t.assignee_id == Some(actor.user_id));
    // The creator keeps control of scheduling only while nobody else has been given the task.
    let owns_as_creator = task.is_some_and(|t| {
        t.creator_id == actor.user_id
            && t.assignee_id
                .is_none_or(|assignee| assignee == actor.user_id)
    });
    match action {
        Action::CreateTask { assignee } => match assignee {
            None => Ok(()),
            Some(user) if user == actor.user_id => Ok(()),
            Some(_) => refuse(Needed::Manager),
        },
        Action::Assign
        | Action::Manage(_)
        | Action::Feed
        | Action::RosterOthers
        | Action::AwayOthers => refuse(Needed::Manager),
        Action::Edit(Field::Due | Field::Priority | Field::Repeat) | Action::Delete => {
            if owns_as_creator {
                Ok(())
            } else {
                refuse(Needed::ManagerOrOwningCreator)
            }
        }
        Action::Edit(Field::Title | Field::Description | Field::Project) => {
            if is_creator {
                Ok(())
            } else {
                refuse(Needed::ManagerOrCreator)
            }
        }
        Action::Progress => {
            if is_creator || is_assignee {
                Ok(())
            } else {
                refuse(Needed::ManagerAssigneeOrCreator)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    /// Every refusal the bot can give, as its user reads it: each names the action it refused
    /// and the role that would allow it.
    #[test]
    fn every_refusal_names_the_action_and_the_role() {
        use crate::domain::task::Field;
        let cases = [
            (
                Action::CreateTask { assignee: None },
                Needed::Manager,
                "create a task for someone else",
            ),
            (Action::Assign, Needed::Manager, "assign or unassign tasks"),
            (
                Action::Edit(Field::Title),
                Needed::ManagerOrCreator,
                "change the title of this task",
            ),
            (
                Action::Edit(Field::Due),
                Needed::ManagerOrOwningCreator,
                "change the due of this task",
            ),
            (
                Action::Edit(Field::Repeat),
                Needed::ManagerOrOwningCreator,
                "change the repeat of this task",
            ),
            (
                Action::Progress,
                Needed::ManagerAssigneeOrCreator,
                "update this task",
            ),
            (
                Action::Delete,
                Needed::ManagerOrOwningCreator,
                "delete this task",
            ),
            (
                Action::Manage("create projects"),
                Needed::Manager,
                "create projects",
            ),
            (
                Action::Feed,
                Needed::Manager,
                "see or rotate a project's calendar feed",
            ),
            (
                Action::RosterOthers,
                Needed::Manager,
                "put others on the standup roster",
            ),
            (
                Action::AwayOthers,
                Needed::Manager,
                "set or clear someone else's away period",
            ),
        ];
        for (action, needed, what) in cases {
            let text = Refusal { action, needed }.explain("<@&9>");
            assert!(text.starts_with("Only managers"), "{text}");
            assert!(text.contains(what), "{what}: {text}");
            assert!(text.contains("the manager role (<@&9>)"), "{text}");
            println!("{text}");
        }
    }

    use super::*;
    use crate::domain::ids::{ChannelId, GuildId};
    use crate::domain::task::{Priority, Status, TaskNumber};

    const CREATOR: UserId = UserId::new(1);
    const ASSIGNEE: UserId = UserId::new(2);
    const OTHER: UserId = UserId::new(3);
    const BOSS: UserId = UserId::new(4);
    const ROLE: RoleId = RoleId::new(77);

    /// Who asks.
    #[derive(Debug, Clone, Copy)]
    enum Who {
        Manager,
        /// The task's creator (a plain member).
        Creator,
        /// A plain member, the assignee where the task has one.
        Assignee,
        /// A plain member who neither created nor holds the task.
        Other,
    }

    /// The task asked about: none, or one made by `CREATOR`, assigned to nobody or someone.
    #[derive(Debug, Clone, Copy)]
    enum On {
        NoTask,
        Unassigned,
        AssignedToCreator,
        AssignedToAssignee,
    }

    use On::*;
    use Who::*;

    /// One row: who asks to do what on which task, and what `may` must answer: `Ok`, or the
    /// refusal naming who would have been allowed.
    type Row = (Who, Action, On, Result<(), Needed>);

    fn actor(who: Who) -> Actor {
        match who {
            Manager => Actor::new(BOSS, &[ROLE], false, Some(ROLE)),
            Creator => Actor::new(CREATOR, &[], false, Some(ROLE)),
            Assignee => Actor::new(ASSIGNEE, &[], false, Some(ROLE)),
            Other => Actor::new(OTHER, &[], false, Some(ROLE)),
        }
    }

    fn task(on: On) -> Option<Task> {
        let assignee = match on {
            NoTask => return None,
            Unassigned => None,
            AssignedToCreator => Some(CREATOR),
            AssignedToAssignee => Some(ASSIGNEE),
        };
        let epoch = DateTime::from_timestamp(0, 0).unwrap_or_default();
        Some(Task {
            repeat: None,
            id: 1,
            guild_id: GuildId::new(9),
            number: TaskNumber(1),
            title: "t".into(),
            description: None,
            status: Status::Todo,
            blocked_reason: None,
            priority: Priority::Normal,
            project: None,
            assignee_id: assignee,
            creator_id: CREATOR,
            channel_id: ChannelId::new(5),
            due_at: None,
            created_at: epoch,
            updated_at: epoch,
            done_at: None,
        })
    }

    /// Checks every row, then fails once, naming each row that went wrong.
    fn check(rows: &[Row]) {
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|&(who, action, on, want)| {
                let got = may(&actor(who), action, task(on).as_ref()).map_err(|r| r.needed);
                (got != want).then(|| {
                    format!("{who:?} asking {action:?} on {on:?}: want {want:?}, got {got:?}")
                })
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

    #[test]
    fn manager_comes_from_role_or_server_permissions() {
        // (roles held, Administrator or Manage Server, configured manager role, is a manager)
        let rows: [(&[RoleId], bool, Option<RoleId>, bool); 4] = [
            (&[ROLE], false, Some(ROLE), true),
            (&[], true, None, true),
            (&[ROLE], false, None, false),
            (&[RoleId::new(5)], false, Some(ROLE), false),
        ];
        for (roles, admin, role, want) in rows {
            assert_eq!(
                Actor::new(UserId::new(1), roles, admin, role).is_manager,
                want,
                "roles {roles:?}, admin {admin}, manager role {role:?}"
            );
        }
    }

    #[test]
    fn anyone_creates_unassigned_or_self_assigned_tasks() {
        check(&[
            (Other, Action::CreateTask { assignee: None }, NoTask, Ok(())),
            (
                Other,
                Action::CreateTask {
                    assignee: Some(OTHER),
                },
                NoTask,
                Ok(()),
            ),
        ]);
    }

    #[test]
    fn only_managers_create_for_others_and_assign() {
        let for_someone = Action::CreateTask {
            assignee: Some(ASSIGNEE),
        };
        check(&[
            (Other, for_someone, NoTask, Err(Needed::Manager)),
            (Manager, for_someone, NoTask, Ok(())),
            (Creator, Action::Assign, Unassigned, Err(Needed::Manager)),
            (Manager, Action::Assign, Unassigned, Ok(())),
        ]);
    }

    #[test]
    fn due_and_priority_belong_to_the_creator_only_while_unassigned_or_self_assigned() {
        let refused = Err(Needed::ManagerOrOwningCreator);
        let rows: Vec<Row> = [Field::Due, Field::Priority]
            .into_iter()
            .map(Action::Edit)
            .flat_map(|edit| {
                [
                    (Creator, edit, Unassigned, Ok(())),
                    (Creator, edit, AssignedToCreator, Ok(())),
                    (Creator, edit, AssignedToAssignee, refused),
                    (Assignee, edit, AssignedToAssignee, refused),
                    (Manager, edit, AssignedToAssignee, Ok(())),
                ]
            })
            .collect();
        check(&rows);
    }

    #[test]
    fn title_description_project_belong_to_the_creator() {
        let rows: Vec<Row> = [Field::Title, Field::Description, Field::Project]
            .into_iter()
            .map(Action::Edit)
            .flat_map(|edit| {
                [
                    (Creator, edit, AssignedToAssignee, Ok(())),
                    (
                        Assignee,
                        edit,
                        AssignedToAssignee,
                        Err(Needed::ManagerOrCreator),
                    ),
                    (Manager, edit, Unassigned, Ok(())),
                ]
            })
            .collect();
        check(&rows);
    }

    #[test]
    fn progress_is_for_manager_assignee_and_creator() {
        check(&[
            (Assignee, Action::Progress, AssignedToAssignee, Ok(())),
            (Creator, Action::Progress, AssignedToAssignee, Ok(())),
            (Manager, Action::Progress, AssignedToAssignee, Ok(())),
            (
                Other,
                Action::Progress,
                AssignedToAssignee,
                Err(Needed::ManagerAssigneeOrCreator),
            ),
        ]);
    }

    #[test]
    fn delete_follows_the_owning_creator_rule() {
        let refused = Err(Needed::ManagerOrOwningCreator);
        check(&[
            (Creator, Action::Delete, Unassigned, Ok(())),
            (Creator, Action::Delete, AssignedToAssignee, refused),
            (Assignee, Action::Delete, AssignedToAssignee, refused),
            (Manager, Action::Delete, AssignedToAssignee, Ok(())),
        ]);
    }

    #[test]
    fn managing_projects_config_and_standups_needs_a_manager() {
        check(&[
            (
                Creator,
                Action::Manage("create projects"),
                NoTask,
                Err(Needed::Manager),
            ),
            (Manager, Action::Manage("create projects"), NoTask, Ok(())),
        ]);
    }

    #[test]
    fn refusals_name_the_role_and_the_field() {
        let text = Refusal {
            action: Action::Edit(Field::Due),
            needed: Needed::ManagerOrOwningCreator,
        }
        .explain("@Leads");
        assert!(text.contains("due"), "{text}");
        assert!(text.contains("manager role (@Leads)"), "{text}");
    }
}
