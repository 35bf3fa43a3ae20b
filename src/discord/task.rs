//! `/task …`: translate options into domain requests, and results into replies.

use serenity::all::{CreateActionRow, CreateInteractionResponse, CreateInteractionResponseMessage};

use super::context::Context;
use super::invocation::Invocation;
use super::CommandResult;
use crate::domain::dates::parse_due;
use crate::domain::duties::SnoozeChoice;
use crate::domain::ids::UserId;
use crate::domain::permissions::Action;
use crate::domain::recurrence::{Recurrence, Repeat};
use crate::domain::task::{
    check, Priority, ProjectRef, Status, Task, TaskCommand, TaskEdit, TaskNumber, TaskSort,
};
use crate::domain::{validate, UserError};
use crate::render::ids::{CustomId, ListPage};
use crate::render::{self, private, private_embed, public};
use crate::store::{NewTask, TaskFilter};

const PAGE_SIZE: i64 = 10;
const HISTORY_SHOWN: i64 = 10;
const MINE_SHOWN: i64 = 25;

fn priority(text: &str) -> Result<Priority, UserError> {
    text.parse()
        .map_err(|()| UserError::Invalid("Priority must be low, normal, high or urgent.".into()))
}

fn task_number(inv: &Invocation) -> Result<TaskNumber, UserError> {
    Ok(TaskNumber(inv.required_int("task")?))
}

/// An active project of this guild, by name.
async fn active_project(ctx: &Context<'_>, name: &str) -> CommandResult<ProjectRef> {
    let project = super::project::named(ctx, name).await?;
    if project.is_archived() {
        return Err(UserError::Invalid(format!(
            "The project \"{}\" is archived and takes no new tasks.",
            render::typed(&project.name)
        ))
        .into());
    }
    Ok(ProjectRef {
        id: project.id,
        name: project.name,
        channel_id: project.channel_id,
    })
}

pub(super) async fn due(
    ctx: &Context<'_>,
    text: &str,
) -> CommandResult<chrono::DateTime<chrono::Utc>> {
    let zone = ctx.typing_zone().await?;
    Ok(parse_due(text, ctx.now, zone).map_err(UserError::from)?)
}

pub async fn create(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let assignee_id = inv.user("assignee");
    ctx.require(Action::CreateTask {
        assignee: assignee_id,
    })?;
    let title = validate::title(inv.required_str("title")?)?;
    let description = inv
        .str("description")
        .map(validate::description)
        .transpose()?
        .filter(|d| !d.is_empty());
    let priority = inv
        .str("priority")
        .map(priority)
        .transpose()?
        .unwrap_or_default();
    let due_at = match inv.str("due") {
        Some(text) => Some(due(ctx, text).await?),
        None => None,
    };
    let project = match inv.str("project") {
        Some(name) => Some(active_project(ctx, name).await?),
        None => None,
    };
    let repeat = match (inv.str("repeat"), due_at) {
        (None, _) => None,
        (Some(text), Some(due_at)) => recurrence(ctx, text, due_at).await?,
        (Some(_), None) => return Err(needs_due().into()),
    };
    let new = NewTask {
        guild_id: ctx.guild_id,
        title,
        description,
        priority,
        project,
        assignee_id,
        creator_id: ctx.actor.user_id,
        channel_id: ctx.channel_id,
        due_at,
        repeat,
    };
    let task = ctx.app.db.create_task(&new, ctx.now).await?;
    let _ = ctx.created_task.set(task.number.0);
    let mut text = format!("📝 Created **{}**", render::task_label(&task));
    let mut details = Vec::new();
    if let Some(at) = task.due_at {
        details.push(format!("due {}", render::due(at)));
    }
    match task.assignee_id {
        Some(id) => details.push(format!("assigned to {}", render::user(id))),
        None => details.push("unassigned".into()),
    }
    if task.priority != Priority::Normal {
        details.push(format!("priority {}", task.priority.as_str()));
    }
    if let Some(project) = &task.project {
        details.push(format!("project {}", render::typed(&project.name)));
    }
    if let Some(repeat) = &task.repeat {
        details.push(format!("repeats {}", repeat.describe()));
    }
    text.push_str(&format!(" — {}.", details.join(", ")));
    let pings: Vec<UserId> = task.assignee_id.into_iter().collect();
    Ok(public(text, &pings))
}

/// Applies `command` to the task named in the options, after the domain's checks.
fn needs_due() -> UserError {
    UserError::Invalid("A repeating task needs a due time: give due as well.".into())
}

/// Reads `repeat` in the caller's zone, anchored at the series' first due time; `never` is
/// `None` (which only `/task edit` accepts).
async fn recurrence(
    ctx: &Context<'_>,
    text: &str,
    anchor: chrono::DateTime<chrono::Utc>,
) -> CommandResult<Option<Recurrence>> {
    let Some(repeat) = Repeat::parse(text)? else {
        return Err(UserError::Invalid(
            "never only stops a task that repeats: use it with /task edit.".into(),
        )
        .into());
    };
    Ok(Some(Recurrence {
        repeat,
        zone: ctx.typing_zone().await?,
        anchor,
    }))
}

async fn change(ctx: &Context<'_>, inv: &Invocation, command: TaskCommand) -> CommandResult<Task> {
    change_number(ctx, task_number(inv)?, command).await
}

/// Applies `command` to task `number` of the caller's guild, after the domain's checks (inside
/// the store's transaction), and disables the buttons of a closed task's reminders.
async fn change_number(
    ctx: &Context<'_>,
    number: TaskNumber,
    command: TaskCommand,
) -> CommandResult<Task> {
    let actor = ctx.actor;
    let task = ctx
        .app
        .db
        .change_task(
            ctx.guild_id,
            number,
            actor.user_id,
            ctx.now,
            &command,
            |task| check(&actor, task, &command),
        )
        .await?;
    if matches!(command, TaskCommand::Done | TaskCommand::Delete) {
        crate::app::disable_buttons_of_task(ctx.app, task.id).await?;
    }
    Ok(task)
}

/// The done reply, public for `/task done`, private for a reminder's button (whose message is
/// edited in place instead); for a recurring task it names the next occurrence, or says that
/// the series ended.
async fn done_reply(
    ctx: &Context<'_>,
    task: &Task,
    announce: bool,
) -> CommandResult<CreateInteractionResponse> {
    let mut text = format!(
        "✅ **{}** is done (marked by {}).",
        render::task_label(task),
        render::user(ctx.actor.user_id)
    );
    if task.repeat.is_some() {
        match ctx.app.db.next_occurrence_of(task.id).await? {
            Some(next) => text.push_str(&format!(
                " It repeats — next: **{}**, due {}.",
                render::task_label(&next),
                next.due_at.map(render::due).unwrap_or_default()
            )),
            None => text.push_str(" Its project is archived, so the series ends here."),
        }
    }
    Ok(if announce {
        public(text, &[])
    } else {
        private(text)
    })
}

/// The **Mark done** button on a reminder.
pub async fn done_button(
    ctx: &Context<'_>,
    number: TaskNumber,
) -> CommandResult<CreateInteractionResponse> {
    let task = change_number(ctx, number, TaskCommand::Done).await?;
    done_reply(ctx, &task, false).await
}

/// A snooze button on a reminder: delays the next reminder, not the deadline. Tomorrow 09:00
/// is read in the assignee's zone, else the clicker's, else the guild's.
pub async fn snooze_button(
    ctx: &Context<'_>,
    number: TaskNumber,
    choice: SnoozeChoice,
) -> CommandResult<CreateInteractionResponse> {
    let db = &ctx.app.db;
    let assignee = db
        .task(ctx.guild_id, number)
        .await?
        .and_then(|task| task.assignee_id);
    let zone = match assignee {
        Some(assignee) => db.user_timezone(assignee).await?,
        None => None,
    };
    let zone = match zone {
        Some(zone) => zone,
        None => ctx.typing_zone().await?,
    };
    let until = choice.until(ctx.now, zone);
    let task = change_number(ctx, number, TaskCommand::Snooze(until)).await?;
    Ok(private(format!(
        "😴 Snoozed: no reminder for **{}** before {}. The deadline stays {}.",
        render::task_label(&task),
        render::when(until),
        task.due_at
            .map(render::due)
            .unwrap_or_else(|| "unset".into())
    )))
}

pub async fn assign(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let assignee = inv.required_user("assignee")?;
    let task = change(ctx, inv, TaskCommand::Assign(Some(assignee))).await?;
    Ok(public(
        format!(
            "👤 **{}** is now assigned to {}.",
            render::task_label(&task),
            render::user(assignee)
        ),
        &[assignee],
    ))
}

pub async fn unassign(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let task = change(ctx, inv, TaskCommand::Assign(None)).await?;
    Ok(public(
        format!("**{}** is now unassigned.", render::task_label(&task)),
        &[],
    ))
}

pub async fn start(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let task = change(ctx, inv, TaskCommand::Start).await?;
    Ok(public(
        format!(
            "▶️ {} started **{}**.",
            render::user(ctx.actor.user_id),
            render::task_label(&task)
        ),
        &[],
    ))
}

pub async fn done(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let task = change(ctx, inv, TaskCommand::Done).await?;
    done_reply(ctx, &task, true).await
}

pub async fn reopen(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let task = change(ctx, inv, TaskCommand::Reopen).await?;
    Ok(public(
        format!("↩️ **{}** is open again.", render::task_label(&task)),
        &[],
    ))
}

pub async fn block(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let reason = validate::note("reason", inv.required_str("reason")?)?;
    let task = change(ctx, inv, TaskCommand::Block(reason.clone())).await?;
    Ok(public(
        format!(
            "⛔ **{}** is blocked: {}",
            render::task_label(&task),
            render::typed(&reason)
        ),
        &[],
    ))
}

pub async fn edit(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let mut edit = TaskEdit {
        title: inv.str("title").map(validate::title).transpose()?,
        description: inv
            .str("description")
            .map(validate::description)
            .transpose()?,
        priority: inv.str("priority").map(priority).transpose()?,
        ..TaskEdit::default()
    };
    if let Some(text) = inv.str("due") {
        edit.due_at = Some(due(ctx, text).await?);
    }
    if let Some(name) = inv.str("project") {
        edit.project = Some(active_project(ctx, name).await?);
    }
    if let Some(text) = inv.str("repeat") {
        // The store anchors the rule at the new due time, else the task's own.
        edit.repeat = Some(match Repeat::parse(text)? {
            Some(repeat) => Some(Recurrence {
                repeat,
                zone: ctx.typing_zone().await?,
                anchor: edit.due_at.unwrap_or(ctx.now),
            }),
            None => None,
        });
    }
    if edit.is_empty() {
        return Err(UserError::Invalid(
            "Tell me what to change: title, due, priority, project, description or repeat.".into(),
        )
        .into());
    }
    let task = change(ctx, inv, TaskCommand::Edit(edit.clone())).await?;
    let mut changes = Vec::new();
    if edit.title.is_some() {
        changes.push("title".to_string());
    }
    if let Some(at) = edit.due_at {
        changes.push(format!("due {}", render::due(at)));
    }
    if let Some(p) = edit.priority {
        changes.push(format!("priority {}", p.as_str()));
    }
    if let Some(project) = &edit.project {
        changes.push(format!("project {}", render::typed(&project.name)));
    }
    if edit.description.is_some() {
        changes.push("description".to_string());
    }
    match (&edit.repeat, &task.repeat) {
        (Some(Some(_)), Some(repeat)) => changes.push(format!("repeats {}", repeat.describe())),
        (Some(_), _) => changes.push("no longer repeats".to_string()),
        (None, _) => {}
    }
    Ok(public(
        format!(
            "✏️ **{}** updated: {}.",
            render::task_label(&task),
            changes.join(", ")
        ),
        &[],
    ))
}

pub async fn comment(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let text = validate::note("comment", inv.required_str("text")?)?;
    let task = change(ctx, inv, TaskCommand::Comment(text.clone())).await?;
    Ok(public(
        format!(
            "💬 {} on **{}**: {}",
            render::user(ctx.actor.user_id),
            render::task_label(&task),
            render::typed(&text)
        ),
        &[],
    ))
}

pub async fn delete(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let task = change(ctx, inv, TaskCommand::Delete).await?;
    let series = if task.repeat.is_some() {
        " It repeated; the series ends here."
    } else {
        ""
    };
    Ok(public(
        format!(
            "🗑️ **{}** was deleted by {}.{series}",
            render::task_label(&task),
            render::user(ctx.actor.user_id)
        ),
        &[],
    ))
}

pub async fn show(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let number = task_number(inv)?;
    let (task, history) = ctx
        .app
        .db
        .task_with_history(ctx.guild_id, number, HISTORY_SHOWN)
        .await?
        .ok_or_else(|| super::task_not_found(number))?;
    Ok(private_embed(
        render::task_embed(&task, &history, ctx.now),
        Vec::new(),
    ))
}

/// A list page's button id: the same filter, another page.
fn list_custom_id(filter: &TaskFilter, overdue: bool, page: i64) -> CustomId {
    CustomId::ListPage(ListPage {
        page,
        assignee: filter.assignee_id,
        project_id: filter.project_id,
        status: filter.status,
        overdue,
        sort: filter.sort,
    })
}

async fn list_page(
    ctx: &Context<'_>,
    mut filter: TaskFilter,
    overdue: bool,
    page: i64,
) -> CommandResult<(serenity::all::CreateEmbed, Vec<CreateActionRow>)> {
    let id_filter = filter.clone();
    if overdue {
        filter.overdue_at = Some(ctx.now);
    }
    let page = page.max(0);
    let result = ctx
        .app
        .db
        .list_tasks(ctx.guild_id, &filter, page * PAGE_SIZE, PAGE_SIZE)
        .await?;
    let counted_pages = ((result.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // Past the count cap, "next" stays on while the current page is full.
    let pages = if result.capped {
        counted_pages.max(page + 1 + i64::from(result.tasks.len() as i64 == PAGE_SIZE))
    } else {
        counted_pages
    };
    let plus = if result.capped { "+" } else { "" };
    let lines: Vec<String> = result
        .tasks
        .iter()
        .map(|task| render::task_line(task, ctx.now))
        .collect();
    let body = if lines.is_empty() {
        "No tasks match.".to_string()
    } else {
        render::lines_within(&lines, render::EMBED_DESCRIPTION_MAX)
    };
    let embed = render::embed("Tasks")
        .description(body)
        .footer(render::footer(format!(
            "Page {} of {counted_pages}{plus} · {}{plus} task{}",
            page + 1,
            result.total,
            if result.total == 1 { "" } else { "s" }
        )));
    let rows = if pages > 1 {
        vec![render::pager(
            |p| list_custom_id(&id_filter, overdue, p),
            page,
            pages,
        )]
    } else {
        Vec::new()
    };
    Ok((embed, rows))
}

pub async fn list(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let project_id = match inv.str("project") {
        Some(name) => Some(super::project::named(ctx, name).await?.id),
        None => None,
    };
    let status = inv
        .str("status")
        .map(|s| {
            s.parse::<Status>().map_err(|()| {
                UserError::Invalid("Status must be todo, in_progress, blocked or done.".into())
            })
        })
        .transpose()?;
    let sort = inv
        .str("sort")
        .map(|s| {
            s.parse::<TaskSort>()
                .map_err(|()| UserError::Invalid("sort takes due, priority or number.".into()))
        })
        .transpose()?
        .unwrap_or_default();
    let filter = TaskFilter {
        assignee_id: inv.user("assignee"),
        project_id,
        status,
        overdue_at: None,
        sort,
    };
    let (embed, rows) = list_page(ctx, filter, inv.bool("overdue").unwrap_or(false), 0).await?;
    Ok(private_embed(embed, rows))
}

/// A previous/next button on a list: the same list, another page, in place.
pub async fn list_page_button(
    ctx: &Context<'_>,
    page: ListPage,
) -> CommandResult<CreateInteractionResponse> {
    let filter = TaskFilter {
        assignee_id: page.assignee,
        project_id: page.project_id,
        status: page.status,
        overdue_at: None,
        sort: page.sort,
    };
    let (embed, rows) = list_page(ctx, filter, page.overdue, page.page).await?;
    Ok(CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .embed(embed)
            .components(rows)
            .allowed_mentions(render::no_pings()),
    ))
}

pub async fn mine(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let page = ctx
        .app
        .db
        .tasks_of(ctx.guild_id, ctx.actor.user_id, MINE_SHOWN)
        .await?;
    if page.tasks.is_empty() {
        return Ok(private("You have no open tasks. 🎉"));
    }
    let mut lines: Vec<String> = page
        .tasks
        .iter()
        .map(|task| render::task_line(task, ctx.now))
        .collect();
    let hidden = page.total - page.tasks.len() as i64;
    if hidden > 0 {
        lines.push(format!("… and {hidden} more"));
    }
    let embed = render::embed("Your open tasks")
        .description(render::lines_within(&lines, render::EMBED_DESCRIPTION_MAX));
    Ok(private_embed(embed, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_buttons_carry_their_filter() {
        let filter = TaskFilter {
            assignee_id: Some(UserId::new(42)),
            project_id: Some(7),
            status: Some(Status::Blocked),
            overdue_at: None,
            sort: TaskSort::Priority,
        };
        let id = list_custom_id(&filter, true, 3).to_string();
        assert!(id.len() <= 100, "custom ids are limited to 100 characters");
        let Ok(CustomId::ListPage(page)) = id.parse::<CustomId>() else {
            panic!("{id} does not read back as a list page");
        };
        assert_eq!(
            (
                page.assignee,
                page.project_id,
                page.status,
                page.overdue,
                page.page
            ),
            (
                filter.assignee_id,
                filter.project_id,
                filter.status,
                true,
                3
            )
        );
    }

    #[test]
    fn permission_for_creating_for_others_is_checked_before_anything_else() {
        use crate::domain::permissions::{may, Actor};
        let member = Actor::new(UserId::new(1), &[], false, None);
        let other = Some(UserId::new(2));
        assert!(may(&member, Action::CreateTask { assignee: other }, None).is_err());
    }
}
