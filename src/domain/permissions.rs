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
    /// Projects, `/config` settings, standup schedules.
    Manage,
    /// See or rotate a project's calendar-feed link (it opens the project's tasks to anyone holding it).
    Feed,
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
            Action::Manage => "do that".to_string(),
            Action::Feed => "see or rotate a project's calendar feed".to_string(),
        };
        let who = match self.needed {
            Needed::Manager => format!("the manager role ({manager_role})"),
            Needed::ManagerOrCreator => {
                format!("the manager role ({manager_role}), or being the task's creator")
            }
            Needed::ManagerOrOwningCreator => format!(
                "the manager role ({manager_role}), or being the task's creator while it is unassigned or assigned to you"
            ),
            Needed::ManagerAssigneeOrCreator => format!(
                "the manager role ({manager_role}), or being the task's assignee or creator"
            ),
        };
        format!("You can't {what}: that needs {who}.")
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
        Action::Assign | Action::Manage | Action::Feed => refuse(Needed::Manager),
        Action::Edit(Field::Due | Field::Priority) | Action::Delete => {
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

    use super::*;
    use crate::domain::ids::{ChannelId, GuildId};
    use crate::domain::task::{Priority, Status, TaskNumber};

    const CREATOR: UserId = UserId::new(1);
    const ASSIGNEE: UserId = UserId::new(2);
    const OTHER: UserId = UserId::new(3);
    const BOSS: UserId = UserId::new(4);
    const ROLE: RoleId = RoleId::new(77);

    fn member(user_id: UserId) -> Actor {
        Actor::new(user_id, &[], false, Some(ROLE))
    }

    fn manager() -> Actor {
        Actor::new(BOSS, &[ROLE], false, Some(ROLE))
    }

    fn task(assignee: Option<UserId>) -> Task {
        let epoch = DateTime::from_timestamp(0, 0).unwrap_or_default();
        Task {
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
        }
    }

    fn refused_needing(result: Result<(), Refusal>, needed: Needed) {
        assert_eq!(result.map_err(|r| r.needed), Err(needed));
    }

    #[test]
    fn manager_comes_from_role_or_server_permissions() {
        assert!(Actor::new(UserId::new(1), &[ROLE], false, Some(ROLE)).is_manager);
        assert!(Actor::new(UserId::new(1), &[], true, None).is_manager);
        assert!(!Actor::new(UserId::new(1), &[ROLE], false, None).is_manager);
        assert!(!Actor::new(UserId::new(1), &[RoleId::new(5)], false, Some(ROLE)).is_manager);
    }

    #[test]
    fn anyone_creates_unassigned_or_self_assigned_tasks() {
        let me = member(OTHER);
        assert!(may(&me, Action::CreateTask { assignee: None }, None).is_ok());
        let for_me = Action::CreateTask {
            assignee: Some(OTHER),
        };
        assert!(may(&me, for_me, None).is_ok());
    }

    #[test]
    fn only_managers_create_for_others_and_assign() {
        let for_someone = Action::CreateTask {
            assignee: Some(ASSIGNEE),
        };
        refused_needing(may(&member(OTHER), for_someone, None), Needed::Manager);
        assert!(may(&manager(), for_someone, None).is_ok());
        let t = task(None);
        refused_needing(
            may(&member(CREATOR), Action::Assign, Some(&t)),
            Needed::Manager,
        );
        assert!(may(&manager(), Action::Assign, Some(&t)).is_ok());
    }

    #[test]
    fn due_and_priority_belong_to_the_creator_only_while_unassigned_or_self_assigned() {
        for field in [Field::Due, Field::Priority] {
            let action = Action::Edit(field);
            assert!(may(&member(CREATOR), action, Some(&task(None))).is_ok());
            assert!(may(&member(CREATOR), action, Some(&task(Some(CREATOR)))).is_ok());
            refused_needing(
                may(&member(CREATOR), action, Some(&task(Some(ASSIGNEE)))),
                Needed::ManagerOrOwningCreator,
            );
            refused_needing(
                may(&member(ASSIGNEE), action, Some(&task(Some(ASSIGNEE)))),
                Needed::ManagerOrOwningCreator,
            );
            assert!(may(&manager(), action, Some(&task(Some(ASSIGNEE)))).is_ok());
        }
    }

    #[test]
    fn title_description_project_belong_to_the_creator() {
        for field in [Field::Title, Field::Description, Field::Project] {
            let action = Action::Edit(field);
            assert!(may(&member(CREATOR), action, Some(&task(Some(ASSIGNEE)))).is_ok());
            refused_needing(
                may(&member(ASSIGNEE), action, Some(&task(Some(ASSIGNEE)))),
                Needed::ManagerOrCreator,
            );
            assert!(may(&manager(), action, Some(&task(None))).is_ok());
        }
    }

    #[test]
    fn progress_is_for_manager_assignee_and_creator() {
        let t = task(Some(ASSIGNEE));
        assert!(may(&member(ASSIGNEE), Action::Progress, Some(&t)).is_ok());
        assert!(may(&member(CREATOR), Action::Progress, Some(&t)).is_ok());
        assert!(may(&manager(), Action::Progress, Some(&t)).is_ok());
        refused_needing(
            may(&member(OTHER), Action::Progress, Some(&t)),
            Needed::ManagerAssigneeOrCreator,
        );
    }

    #[test]
    fn delete_follows_the_owning_creator_rule() {
        assert!(may(&member(CREATOR), Action::Delete, Some(&task(None))).is_ok());
        refused_needing(
            may(
                &member(CREATOR),
                Action::Delete,
                Some(&task(Some(ASSIGNEE))),
            ),
            Needed::ManagerOrOwningCreator,
        );
        refused_needing(
            may(
                &member(ASSIGNEE),
                Action::Delete,
                Some(&task(Some(ASSIGNEE))),
            ),
            Needed::ManagerOrOwningCreator,
        );
        assert!(may(&manager(), Action::Delete, Some(&task(Some(ASSIGNEE)))).is_ok());
    }

    #[test]
    fn managing_projects_config_and_standups_needs_a_manager() {
        refused_needing(may(&member(CREATOR), Action::Manage, None), Needed::Manager);
        assert!(may(&manager(), Action::Manage, None).is_ok());
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
