//! The **Create task** message command (docs/behaviour.md §12): a form prefilled from the
//! message, a task that links back to it, and **Try again** with what was typed when the
//! form's input is refused.

use serenity::all::{
    ButtonStyle, CommandInteraction, CreateActionRow, CreateButton, CreateInteractionResponse,
    CreateInteractionResponseMessage, MessageId,
};

use super::context::Context;
use super::CommandResult;
use crate::domain::permissions::Action;
use crate::domain::{validate, UserError};
use crate::render::forms::{task_form, FIELD_DESCRIPTION, FIELD_DUE, FIELD_TITLE};
use crate::render::ids::{CustomId, TaskForm};
use crate::render::{self, no_pings};
use crate::store::{NewTask, TaskFormDraft};

/// The message command's name, as Discord shows it in a message's Apps menu.
pub const CREATE_TASK: &str = "Create task";

/// The message command: the form, its title prefilled with the message's text.
pub async fn open(
    ctx: &Context<'_>,
    command: &CommandInteraction,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::CreateTask { assignee: None })?;
    let message_id = command
        .data
        .target_id
        .map(|target| target.get())
        .ok_or_else(|| UserError::Invalid("Pick a message to make a task of.".into()))?;
    let text = command
        .data
        .resolved
        .messages
        .get(&MessageId::new(message_id))
        .map(|message| message.content.trim().to_string())
        .unwrap_or_default();
    let form = TaskForm {
        channel_id: ctx.channel_id.get(),
        message_id,
    };
    let title: String = text.chars().take(validate::TITLE_MAX).collect();
    Ok(task_form(form, &title, "", ""))
}

/// The submitted form: a new unassigned task linking back to the message, announced like
/// `/task create`; refused input comes back privately with **Try again**.
pub async fn submit(
    ctx: &Context<'_>,
    form: TaskForm,
    field: impl Fn(&str) -> Option<String>,
) -> CommandResult<CreateInteractionResponse> {
    let draft = TaskFormDraft {
        source: format!("{}:{}", form.channel_id, form.message_id),
        title: field(FIELD_TITLE).unwrap_or_default(),
        due: field(FIELD_DUE).unwrap_or_default(),
        description: field(FIELD_DESCRIPTION).unwrap_or_default(),
    };
    match create(ctx, form, &draft).await {
        Err(super::CommandError::User(refused)) if !matches!(refused, UserError::Refused(_)) => {
            let id = ctx
                .app
                .db
                .save_task_draft(ctx.guild_id, ctx.actor.user_id, &draft, ctx.now)
                .await?;
            Ok(CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(render::fit(
                        &render::typed(&refused.to_string()),
                        render::CONTENT_MAX,
                    ))
                    .ephemeral(true)
                    .allowed_mentions(no_pings())
                    .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
                        CustomId::RetryTaskForm(id).to_string(),
                    )
                    .label("Try again")
                    .style(ButtonStyle::Primary)])]),
            ))
        }
        other => other,
    }
}

async fn create(
    ctx: &Context<'_>,
    form: TaskForm,
    draft: &TaskFormDraft,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::CreateTask { assignee: None })?;
    let title = validate::title(&draft.title)?;
    let due_at = match draft.due.trim() {
        "" => None,
        text => Some(super::task::due(ctx, text).await?),
    };
    let link = format!(
        "https://discord.com/channels/{}/{}/{}",
        ctx.guild_id.get(),
        form.channel_id,
        form.message_id
    );
    let written = draft.description.trim();
    let description = if written.is_empty() {
        format!("From {link}")
    } else {
        format!("{written}\n\nFrom {link}")
    };
    let description = validate::description(&description)?;
    let new = NewTask {
        guild_id: ctx.guild_id,
        title,
        description: Some(description),
        priority: Default::default(),
        project: None,
        assignee_id: None,
        creator_id: ctx.actor.user_id,
        channel_id: ctx.channel_id,
        due_at,
        repeat: None,
    };
    let task = ctx.app.db.create_task(&new, ctx.now).await?;
    let _ = ctx.created_task.set(task.number.0);
    let due = task
        .due_at
        .map(|at| format!("due {}, ", render::due(at)))
        .unwrap_or_default();
    Ok(render::public(
        format!(
            "📝 Created **{}** — {due}unassigned, from {link}",
            render::task_label(&task)
        ),
        &[],
    ))
}

/// **Try again**: the form again, with what the presser typed (their own draft only).
pub async fn retry(ctx: &Context<'_>, draft_id: i64) -> CommandResult<CreateInteractionResponse> {
    let stale = || UserError::Invalid("That button is no longer active.".into());
    let draft = ctx
        .app
        .db
        .task_draft(draft_id, ctx.guild_id, ctx.actor.user_id)
        .await?
        .ok_or_else(stale)?;
    let form: TaskForm = format!("taskform:{}", draft.source)
        .parse()
        .map_err(|_| stale())?;
    Ok(task_form(
        form,
        &draft.title,
        &draft.due,
        &draft.description,
    ))
}
