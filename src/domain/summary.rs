//! The daily standup summary as data (docs/behaviour.md §4.3): what each project did, is doing, is stuck on
//! and is late with, plus the check-ins members sent. Rendering lives in `render::summary`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::domain::ids::UserId;
use crate::domain::roster::Attendance;
use crate::domain::task::{Status, Task, TaskNumber};

/// A member's asynchronous standup update (`/checkin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkin {
    pub user_id: UserId,
    pub yesterday: String,
    pub today: String,
    pub blockers: Option<String>,
    pub at: DateTime<Utc>,
}

pub struct SummaryInput<'a> {
    pub now: DateTime<Utc>,
    /// The last summary's instant; None before the first one (then "done since" covers the last 24 h).
    pub since: Option<DateTime<Utc>>,
    /// Open tasks and recently done ones (the caller excludes deleted tasks).
    pub tasks: &'a [Task],
    pub checkins: &'a [Checkin],
    /// The roster's attendance (empty for a guild without a roster).
    pub attendance: Attendance,
}

/// A task as one section of the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskItem {
    pub number: TaskNumber,
    pub title: String,
    pub assignee_id: Option<UserId>,
    pub due_at: Option<DateTime<Utc>>,
    /// Set only while the task is blocked.
    pub blocked_reason: Option<String>,
    /// Set only in the overdue section: `now - due_at`.
    pub late_by: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectSummary {
    /// None = tasks without a project.
    pub project: Option<String>,
    pub done: Vec<TaskItem>,
    pub in_progress: Vec<TaskItem>,
    pub blocked: Vec<TaskItem>,
    pub due_soon: Vec<TaskItem>,
    pub overdue: Vec<TaskItem>,
    pub unassigned: Vec<TaskItem>,
}

impl ProjectSummary {
    /// No task in any section.
    pub fn is_empty(&self) -> bool {
        self.sections().iter().all(|section| section.is_empty())
    }

    /// All six sections, in the order they are shown.
    fn sections(&self) -> [&Vec<TaskItem>; 6] {
        [
            &self.done,
            &self.in_progress,
            &self.blocked,
            &self.due_soon,
            &self.overdue,
            &self.unassigned,
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub now: DateTime<Utc>,
    pub since: Option<DateTime<Utc>>,
    pub projects: Vec<ProjectSummary>,
    pub checkins: Vec<Checkin>,
    /// Checked in N of M, who is missing, who is away (docs/behaviour.md §9).
    pub attendance: Attendance,
}

impl Summary {
    /// Nothing to report: no task in any section and no check-in.
    pub fn is_quiet(&self) -> bool {
        self.checkins.is_empty()
            && self.attendance.is_empty()
            && self.projects.iter().all(ProjectSummary::is_empty)
    }

    /// Where "done since" and the check-ins start (exclusive): the last summary, or 24 h ago.
    pub fn window_start(&self) -> DateTime<Utc> {
        window_start(self.now, self.since)
    }
}

/// How far ahead "due soon" looks, and how far back the first summary looks.
const DAY: Duration = Duration::hours(24);

/// Soonest due first, undated last (no real date reaches `i64::MAX` seconds), then number.
fn order(due_at: Option<DateTime<Utc>>, number: TaskNumber) -> (i64, u32, i64) {
    let (secs, nanos) = due_at.map_or((i64::MAX, 0), |due| {
        (due.timestamp(), due.timestamp_subsec_nanos())
    });
    (secs, nanos, number.0)
}

fn window_start(now: DateTime<Utc>, since: Option<DateTime<Utc>>) -> DateTime<Utc> {
    since.unwrap_or(now - DAY)
}

/// Which sections a task belongs in.
#[derive(Clone, Copy)]
struct Sections {
    done: bool,
    in_progress: bool,
    blocked: bool,
    due_soon: bool,
    overdue: bool,
    unassigned: bool,
}

/// Sorts tasks into per-project sections: one pass and one sort, whatever the number of
/// sections and projects.
pub fn build(input: &SummaryInput<'_>) -> Summary {
    let now = input.now;
    let start = window_start(now, input.since);
    let soon = now + DAY;

    let mut relevant: Vec<(Sections, &Task)> = input
        .tasks
        .iter()
        .filter_map(|task| {
            let open = task.status.is_open();
            let sections = Sections {
                done: task.status == Status::Done
                    && task.done_at.is_some_and(|at| start < at && at <= now),
                in_progress: task.status == Status::InProgress,
                blocked: task.status == Status::Blocked,
                due_soon: open && task.due_at.is_some_and(|due| now < due && due <= soon),
                overdue: task.is_overdue(now),
                unassigned: open && task.assignee_id.is_none(),
            };
            let any = sections.done
                || sections.in_progress
                || sections.blocked
                || sections.due_soon
                || sections.overdue
                || sections.unassigned;
            any.then_some((sections, task))
        })
        .collect();
    // Sorted once up front, every section comes out in order as the tasks are dealt into it.
    relevant.sort_by_cached_key(|(_, task)| order(task.due_at, task.number));

    // Grouped by project id, not name, so two projects never merge; `None` = no project.
    let mut index: HashMap<Option<i64>, usize> = HashMap::new();
    let mut projects: Vec<(Option<i64>, ProjectSummary)> = Vec::new();
    for (sections, task) in relevant {
        let key = task.project.as_ref().map(|p| p.id);
        let slot = *index.entry(key).or_insert_with(|| {
            projects.push((
                key,
                ProjectSummary {
                    project: task.project.as_ref().map(|p| p.name.clone()),
                    ..ProjectSummary::default()
                },
            ));
            projects.len() - 1
        });
        let summary = &mut projects[slot].1;

        let item = TaskItem {
            number: task.number,
            title: task.title.clone(),
            assignee_id: task.assignee_id,
            due_at: task.due_at,
            blocked_reason: if sections.blocked {
                task.blocked_reason.clone()
            } else {
                None
            },
            late_by: None,
        };
        if sections.done {
            summary.done.push(item.clone());
        }
        if sections.in_progress {
            summary.in_progress.push(item.clone());
        }
        if sections.blocked {
            summary.blocked.push(item.clone());
        }
        if sections.due_soon {
            summary.due_soon.push(item.clone());
        }
        if sections.overdue {
            summary.overdue.push(TaskItem {
                late_by: task.due_at.map(|due| now - due),
                ..item.clone()
            });
        }
        if sections.unassigned {
            summary.unassigned.push(item);
        }
    }

    // By name as people read it (case-insensitive), the no-project group last.
    projects.sort_by_cached_key(|(id, summary)| {
        let name = summary.project.clone();
        (
            name.is_none(),
            name.as_deref().map(str::to_lowercase),
            name,
            *id,
        )
    });

    let mut checkins: Vec<Checkin> = input
        .checkins
        .iter()
        .filter(|checkin| start < checkin.at && checkin.at <= now)
        .cloned()
        .collect();
    checkins.sort_by_key(|checkin| checkin.at);

    Summary {
        now,
        since: input.since,
        projects: projects.into_iter().map(|(_, summary)| summary).collect(),
        checkins,
        attendance: input.attendance.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChannelId, GuildId, UserId};
    use crate::domain::task::{Priority, ProjectRef};

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + hours * 3600, 0).unwrap_or_default()
    }

    fn now() -> DateTime<Utc> {
        at(0)
    }

    fn task(number: i64, status: Status) -> Task {
        Task {
            repeat: None,
            id: number,
            guild_id: GuildId::new(1),
            number: TaskNumber(number),
            title: format!("task {number}"),
            description: None,
            status,
            blocked_reason: None,
            priority: Priority::Normal,
            project: None,
            assignee_id: Some(UserId::new(7)),
            creator_id: UserId::new(1),
            channel_id: ChannelId::new(1),
            due_at: None,
            created_at: at(-100),
            updated_at: at(-100),
            done_at: None,
        }
    }

    fn in_project(mut task: Task, id: i64, name: &str) -> Task {
        task.project = Some(ProjectRef {
            id,
            name: name.into(),
            channel_id: None,
        });
        task
    }

    fn due(mut task: Task, due_at: DateTime<Utc>) -> Task {
        task.due_at = Some(due_at);
        task
    }

    fn done_at(mut task: Task, when: DateTime<Utc>) -> Task {
        task.done_at = Some(when);
        task
    }

    fn checkin(user_id: u64, when: DateTime<Utc>) -> Checkin {
        Checkin {
            user_id: UserId::new(user_id),
            yesterday: "y".into(),
            today: "t".into(),
            blockers: None,
            at: when,
        }
    }

    fn summarize(since: Option<DateTime<Utc>>, tasks: &[Task], checkins: &[Checkin]) -> Summary {
        build(&SummaryInput {
            now: now(),
            since,
            tasks,
            checkins,
            attendance: Attendance::default(),
        })
    }

    fn numbers(items: &[TaskItem]) -> Vec<i64> {
        items.iter().map(|item| item.number.0).collect()
    }

    /// The single (no-project) group of a summary.
    fn only(summary: &Summary) -> &ProjectSummary {
        assert_eq!(summary.projects.len(), 1, "{summary:#?}");
        &summary.projects[0]
    }

    #[test]
    fn done_counts_only_since_the_last_summary() {
        let tasks = [
            done_at(task(1, Status::Done), at(-3)),
            done_at(task(2, Status::Done), at(-5)), // before `since`
            done_at(task(3, Status::Done), at(-4)), // exactly at `since`: reported last time
            done_at(task(4, Status::Done), now()),  // exactly now: included
            task(5, Status::Done),                  // no done_at: unknown, left out
            done_at(task(6, Status::Todo), at(-1)), // reopened: not done
        ];
        let summary = summarize(Some(at(-4)), &tasks, &[]);
        assert_eq!(numbers(&only(&summary).done), vec![1, 4]);
    }

    #[test]
    fn first_summary_looks_back_24_hours() {
        let tasks = [
            done_at(task(1, Status::Done), at(-23)),
            done_at(task(2, Status::Done), at(-24)),
            done_at(task(3, Status::Done), at(-25)),
        ];
        let summary = summarize(None, &tasks, &[]);
        assert_eq!(numbers(&only(&summary).done), vec![1]);
        assert_eq!(summary.window_start(), at(-24));
    }

    #[test]
    fn in_progress_and_blocked_follow_status_and_blocked_carries_its_reason() {
        let mut blocked = task(2, Status::Blocked);
        blocked.blocked_reason = Some("waiting on design".into());
        let tasks = [task(1, Status::InProgress), blocked, task(3, Status::Todo)];
        let summary = summarize(None, &tasks, &[]);
        let project = only(&summary);
        assert_eq!(numbers(&project.in_progress), vec![1]);
        assert_eq!(numbers(&project.blocked), vec![2]);
        assert_eq!(
            project.blocked[0].blocked_reason.as_deref(),
            Some("waiting on design")
        );
        assert!(project.in_progress[0].blocked_reason.is_none());
    }

    #[test]
    fn due_soon_is_the_next_24_hours_and_due_now_is_overdue() {
        let tasks = [
            due(task(1, Status::Todo), now()),
            due(task(2, Status::Todo), at(24)),
            due(task(3, Status::Todo), at(25)),
            due(task(4, Status::Todo), at(1)),
            due(task(5, Status::Done), at(1)),
        ];
        let summary = summarize(None, &tasks, &[]);
        let project = only(&summary);
        assert_eq!(numbers(&project.due_soon), vec![4, 2]);
        assert_eq!(numbers(&project.overdue), vec![1]);
        assert_eq!(project.overdue[0].late_by, Some(Duration::zero()));
    }

    #[test]
    fn overdue_says_how_late_and_skips_done_tasks() {
        let late = now() - Duration::minutes(200);
        let tasks = [
            due(task(1, Status::Todo), late),
            done_at(due(task(2, Status::Done), late), at(-1)),
        ];
        let summary = summarize(None, &tasks, &[]);
        let project = only(&summary);
        assert_eq!(numbers(&project.overdue), vec![1]);
        assert_eq!(project.overdue[0].late_by, Some(Duration::minutes(200)));
        assert!(project.done[0].late_by.is_none());
    }

    #[test]
    fn unassigned_lists_open_tasks_without_an_assignee() {
        let mut open = task(1, Status::Todo);
        open.assignee_id = None;
        let mut closed = done_at(task(2, Status::Done), at(-30));
        closed.assignee_id = None;
        let summary = summarize(None, &[open, closed], &[]);
        assert_eq!(numbers(&only(&summary).unassigned), vec![1]);
    }

    #[test]
    fn a_task_can_appear_in_several_sections() {
        let mut task = due(task(1, Status::InProgress), at(-2));
        task.assignee_id = None;
        let summary = summarize(None, &[task], &[]);
        let project = only(&summary);
        assert_eq!(numbers(&project.in_progress), vec![1]);
        assert_eq!(numbers(&project.overdue), vec![1]);
        assert_eq!(numbers(&project.unassigned), vec![1]);
        assert!(project.due_soon.is_empty() && project.done.is_empty());
    }

    #[test]
    fn sections_order_by_due_time_undated_last_then_number() {
        let tasks = [
            task(5, Status::InProgress),
            due(task(4, Status::InProgress), at(30)),
            task(2, Status::InProgress),
            due(task(9, Status::InProgress), at(3)),
            due(task(1, Status::InProgress), at(30)),
        ];
        let summary = summarize(None, &tasks, &[]);
        assert_eq!(numbers(&only(&summary).in_progress), vec![9, 1, 4, 2, 5]);
    }

    #[test]
    fn projects_sort_by_name_with_no_project_last_and_empty_ones_omitted() {
        let tasks = [
            task(1, Status::InProgress),
            in_project(task(2, Status::InProgress), 10, "beta"),
            in_project(task(3, Status::InProgress), 11, "Alpha"),
            in_project(task(4, Status::Todo), 12, "Quiet"),
            in_project(task(5, Status::Blocked), 10, "beta"),
        ];
        let summary = summarize(None, &tasks, &[]);
        let names: Vec<Option<&str>> = summary
            .projects
            .iter()
            .map(|p| p.project.as_deref())
            .collect();
        assert_eq!(names, vec![Some("Alpha"), Some("beta"), None]);
        assert_eq!(numbers(&summary.projects[1].in_progress), vec![2]);
        assert_eq!(numbers(&summary.projects[1].blocked), vec![5]);
        assert_eq!(numbers(&summary.projects[2].in_progress), vec![1]);
    }

    #[test]
    fn checkins_since_the_last_summary_sorted_by_time() {
        let checkins = [
            checkin(1, at(-1)),
            checkin(2, at(-3)),
            checkin(3, at(-6)), // before `since`
            checkin(4, at(1)),  // after `now`: the next summary's
        ];
        let summary = summarize(Some(at(-4)), &[], &checkins);
        let users: Vec<UserId> = summary.checkins.iter().map(|c| c.user_id).collect();
        assert_eq!(users, vec![UserId::new(2), UserId::new(1)]);
    }

    #[test]
    fn quiet_means_no_task_in_any_section_and_no_checkin() {
        let idle = [
            task(1, Status::Todo),
            due(task(2, Status::Todo), at(48)),
            done_at(task(3, Status::Done), at(-48)),
        ];
        let summary = summarize(None, &idle, &[]);
        assert!(summary.projects.is_empty());
        assert!(summary.is_quiet());

        assert!(!summarize(None, &[], &[checkin(1, at(-1))]).is_quiet());
        assert!(!summarize(None, &[task(1, Status::InProgress)], &[]).is_quiet());
    }

    #[test]
    fn handles_a_large_guild() {
        let tasks: Vec<Task> = (0..10_000)
            .map(|n| {
                let status = Status::ALL[n as usize % 4];
                let task = due(task(n, status), at(n % 72 - 36));
                let task = done_at(task, at(-(n % 30)));
                in_project(task, n % 30, &format!("project {}", n % 30))
            })
            .collect();
        let checkins: Vec<Checkin> = (0..500).map(|n| checkin(n, at(-(n as i64 % 20)))).collect();
        let summary = summarize(None, &tasks, &checkins);
        assert_eq!(summary.projects.len(), 30);
        let total: usize = summary.projects.iter().map(|p| p.in_progress.len()).sum();
        assert_eq!(total, 2_500);
        assert_eq!(summary.checkins.len(), 500);
    }
}
