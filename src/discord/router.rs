//! One entry point for every interaction, whichever transport brought it (the gateway today,
//! an HTTP interactions endpoint later): [`handle`] turns an `Interaction` into its answer, by
//! the registry.

use serenity::all::{
    ActionRowComponent, AutocompleteChoice, CommandDataOptionValue, CommandInteraction,
    CommandType, ComponentInteraction, CreateAutocompleteResponse, CreateInteractionResponse,
    Interaction, Member, ModalInteraction,
};
use tracing::{error, info};

use super::context::Context;
use super::invocation::Invocation;
use super::registry::{self, Visibility};
use super::{CommandError, CommandResult};
use crate::app::App;
use crate::domain::guild::GuildSettings;
use crate::domain::ids::{ChannelId, GuildId, RoleId, UserId};
use crate::domain::permissions::Actor;
use crate::domain::UserError;
use crate::metrics::CommandOutcome;
use crate::render::ids::{CheckinForm, CustomId, TaskForm};
use crate::render::standup::{checkin_form, FIELD_BLOCKERS, FIELD_TODAY, FIELD_YESTERDAY};
use crate::render::{self, private};
use crate::store::StoreError;

const NOT_IN_GUILD: &str = "Coordinator works only inside a server, not in direct messages.";
const INTERNAL: &str =
    "Something went wrong on my side, and nothing was changed. Please try again in a moment.";

const STORE_READ_ONLY: &str = "My database is read-only right now, so nothing was changed. \
     The bot's operator needs to make it writable; then please try again.";
const STORE_BUSY: &str = "My database is busy (another program is holding it), so nothing was \
     changed. Please try again in a moment.";
const STORE_FULL: &str = "My database is full (out of disk space), so nothing was changed. \
     The bot's operator needs to free some space; then please try again.";

/// How the manager role is named in refusals.
pub fn manager_role_label(settings: &GuildSettings) -> String {
    match settings.manager_role_id {
        Some(role) => render::role(role),
        None => "not set yet, so Administrator or Manage Server; see /config manager-role".into(),
    }
}

/// Who an interaction's answer is for, before it is known: a slow command is deferred with
/// this, from the registry. Everything but a public command is private.
pub fn expected_visibility(interaction: &Interaction) -> Visibility {
    match interaction {
        Interaction::Command(command) => registry::command_of(command)
            .map(|spec| spec.visibility)
            .unwrap_or(Visibility::Private),
        _ => Visibility::Private,
    }
}

/// An interaction's answer, and who it is for: the registry's visibility for a command that
/// went through; private for an error or refusal, whatever the command.
pub struct Answer {
    pub response: CreateInteractionResponse,
    pub visibility: Visibility,
}

/// Answers one interaction. `None` means there is nothing to answer (an unknown kind).
pub async fn handle(app: &App, interaction: &Interaction) -> Option<Answer> {
    let private = |response| Answer {
        response,
        visibility: Visibility::Private,
    };
    match interaction {
        Interaction::Command(command) => Some(handle_command(app, command).await),
        Interaction::Autocomplete(command) => {
            Some(private(handle_autocomplete(app, command).await))
        }
        Interaction::Component(component) => Some(private(handle_component(app, component).await)),
        Interaction::Modal(modal) => Some(private(handle_form(app, modal).await)),
        Interaction::Ping(_) => Some(private(CreateInteractionResponse::Pong)),
        _ => None,
    }
}

/// Builds the caller's context from the interaction's own member data (never a cache).
async fn context<'a>(
    app: &'a App,
    guild_id: Option<GuildId>,
    channel_id: ChannelId,
    member: Option<&Member>,
    user_id: UserId,
) -> CommandResult<Context<'a>> {
    let (Some(guild_id), Some(member)) = (guild_id, member) else {
        return Err(UserError::Invalid(NOT_IN_GUILD.into()).into());
    };
    let settings = app.db.guild_settings(guild_id).await?;
    let roles: Vec<RoleId> = member.roles.iter().map(|r| RoleId::new(r.get())).collect();
    let admin = member
        .permissions
        .is_some_and(|p| p.administrator() || p.manage_guild());
    Ok(Context {
        app,
        guild_id,
        channel_id,
        actor: Actor::new(user_id, &roles, admin, settings.manager_role_id),
        settings,
        now: app.clock.now(),
        created_task: std::sync::OnceLock::new(),
    })
}

/// Turns an error into the reply: user errors as written, anything else apologised for (the
/// caller's one log line carries the error).
fn error_reply(error: CommandError, settings: Option<&GuildSettings>) -> CreateInteractionResponse {
    match error {
        CommandError::User(UserError::Refused(refusal)) => {
            let label = settings
                .map(manager_role_label)
                .unwrap_or_else(|| "manager".into());
            private(refusal.explain(&label))
        }
        // Errors echo what was typed (an unreadable date, say): no live @everyone / @here.
        CommandError::User(user) => private(render::typed(&user.to_string())),
        CommandError::Store(store) => private(match store {
            StoreError::ReadOnly(_) => STORE_READ_ONLY,
            StoreError::Busy(_) | StoreError::Conflict(_) => STORE_BUSY,
            StoreError::Full(_) => STORE_FULL,
            _ => INTERNAL,
        }),
    }
}

/// What a command came to, for its log line and metrics.
fn outcome_of<T>(result: &CommandResult<T>) -> CommandOutcome {
    match result {
        Ok(_) => CommandOutcome::Ok,
        Err(CommandError::User(_)) => CommandOutcome::Refused,
        Err(CommandError::Store(_)) => CommandOutcome::Error,
    }
}

/// Which kind of mistake or failure, for logs.
fn error_class<T>(result: &CommandResult<T>) -> Option<&'static str> {
    let Err(error) = result else {
        return None;
    };
    Some(match error {
        CommandError::User(UserError::Refused(_)) => "permission",
        CommandError::User(UserError::Invalid(_)) => "invalid",
        CommandError::User(UserError::NotFound(_)) => "not_found",
        CommandError::User(UserError::Date(_)) => "date",
        CommandError::Store(StoreError::ReadOnly(_)) => "read_only",
        CommandError::Store(StoreError::Busy(_) | StoreError::Conflict(_)) => "busy",
        CommandError::Store(StoreError::Full(_)) => "full",
        CommandError::Store(_) => "store",
    })
}

/// One log line per command or button: guild, user, what was called, the task when there is
/// one, and the outcome; a failure of ours is logged as an error, with it.
fn log_command<T>(
    guild: Option<GuildId>,
    user: UserId,
    command: &str,
    task: Option<i64>,
    result: &CommandResult<T>,
) {
    let outcome = outcome_of(result).as_str();
    let error_class = error_class(result);
    let guild = guild.map(GuildId::get);
    let user = user.get();
    match result {
        Err(CommandError::Store(e)) => {
            error!(guild, user, command, task, outcome, error_class, error = %e, "command");
        }
        _ => info!(guild, user, command, task, outcome, error_class, "command"),
    }
}

/// The task a command is about, when it names one.
fn task_of(inv: &Invocation) -> Option<i64> {
    inv.spec
        .options
        .iter()
        .any(|o| o.name == "task")
        .then(|| inv.int("task"))
        .flatten()
}

async fn handle_command(app: &App, command: &CommandInteraction) -> Answer {
    if command.data.kind == CommandType::Message {
        return handle_message_command(app, command).await;
    }
    let user_id = UserId::new(command.user.id.get());
    let guild_id = command.guild_id.map(|g| GuildId::new(g.get()));
    let labels = registry::command_labels(command);
    let mut task = None;
    let mut visibility = Visibility::Private;
    let (ctx, result) = match context(
        app,
        guild_id,
        ChannelId::new(command.channel_id.get()),
        command.member.as_deref(),
        user_id,
    )
    .await
    {
        Ok(ctx) => {
            let result = match Invocation::parse(command) {
                Ok(invocation) => {
                    let result = (invocation.spec.handler)(&ctx, &invocation).await;
                    visibility = invocation.spec.visibility;
                    task = task_of(&invocation).or_else(|| ctx.created_task.get().copied());
                    result
                }
                Err(e) => Err(e.into()),
            };
            (Some(ctx), result)
        }
        Err(e) => (None, Err(e)),
    };
    app.metrics.command(labels, outcome_of(&result));
    let path = match labels {
        ("unknown", _) => std::borrow::Cow::Borrowed(command.data.name.as_str()),
        (name, "") => std::borrow::Cow::Borrowed(name),
        (name, sub) => format!("{name} {sub}").into(),
    };
    log_command(guild_id, user_id, &path, task, &result);
    match result {
        Ok(response) => Answer {
            response,
            visibility,
        },
        Err(e) => Answer {
            response: error_reply(e, ctx.as_ref().map(|c| &c.settings)),
            visibility: Visibility::Private,
        },
    }
}

/// A message command (from a message's Apps menu): today only **Create task**.
async fn handle_message_command(app: &App, command: &CommandInteraction) -> Answer {
    let user_id = UserId::new(command.user.id.get());
    let guild_id = command.guild_id.map(|g| GuildId::new(g.get()));
    let (settings, result) = match context(
        app,
        guild_id,
        ChannelId::new(command.channel_id.get()),
        command.member.as_deref(),
        user_id,
    )
    .await
    {
        Ok(ctx) => {
            let result = if command.data.name == super::task_form::CREATE_TASK {
                super::task_form::open(&ctx, command).await
            } else {
                Err(UserError::Invalid(
                    "I don't know that command; Discord may still be showing an old version."
                        .into(),
                )
                .into())
            };
            (Some(ctx.settings), result)
        }
        Err(e) => (None, Err(e)),
    };
    app.metrics
        .command(("message", "create-task"), outcome_of(&result));
    log_command(guild_id, user_id, &command.data.name, None, &result);
    Answer {
        response: result.unwrap_or_else(|e| error_reply(e, settings.as_ref())),
        visibility: Visibility::Private,
    }
}

async fn handle_autocomplete(app: &App, command: &CommandInteraction) -> CreateInteractionResponse {
    let choices = match autocomplete_choices(app, command).await {
        Ok(choices) => choices,
        Err(e) => {
            if let CommandError::Store(store) = e {
                error!(error = %store, "autocomplete failed");
            }
            Vec::new()
        }
    };
    CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new().set_choices(choices))
}

async fn autocomplete_choices(
    app: &App,
    command: &CommandInteraction,
) -> CommandResult<Vec<AutocompleteChoice>> {
    let Some(guild_id) = command.guild_id.map(|g| GuildId::new(g.get())) else {
        return Ok(Vec::new());
    };
    let inv = Invocation::parse(command)?;
    let Some((option, typed)) = &inv.focused else {
        return Ok(Vec::new());
    };
    let limit = render::AUTOCOMPLETE_MAX as i64;
    let choices = match *option {
        "task" => {
            let include_done = matches!(inv.path(), ("task", Some("show" | "reopen")));
            app.db
                .search_tasks(guild_id, typed, include_done, limit)
                .await?
                .into_iter()
                .map(|(number, title)| {
                    let name = render::fit(&format!("{number} {title}"), render::CHOICE_NAME_MAX);
                    AutocompleteChoice::new(name, number.0)
                })
                .collect()
        }
        "project" => app
            .db
            .search_projects(guild_id, typed, limit)
            .await?
            .into_iter()
            .map(|name| AutocompleteChoice::new(name.clone(), name))
            .collect(),
        "due" | "until" | "from" => {
            let zone = match app
                .db
                .user_timezone(UserId::new(command.user.id.get()))
                .await?
            {
                Some(zone) => zone,
                None => app.db.guild_settings(guild_id).await?.timezone,
            };
            date_preview(option, typed, app.clock.now(), zone)
                .into_iter()
                .collect()
        }
        "zone" => {
            let typed = typed.trim().to_ascii_lowercase();
            chrono_tz::TZ_VARIANTS
                .iter()
                .map(|zone| zone.name())
                .filter(|name| name.to_ascii_lowercase().contains(&typed))
                .take(render::AUTOCOMPLETE_MAX)
                .map(|name| AutocompleteChoice::new(name, name))
                .collect()
        }
        _ => Vec::new(),
    };
    Ok(choices)
}

/// Whether the interaction's answer may be a form, which must be its first response and so can
/// never be deferred: `/checkin` with no option, and the Check in button.
pub fn may_answer_with_form(interaction: &Interaction) -> bool {
    match interaction {
        Interaction::Command(command) if command.data.kind == CommandType::Message => true,
        Interaction::Command(command) => {
            command.data.name == "checkin"
                && command
                    .data
                    .options
                    .iter()
                    .all(|o| matches!(o.value, CommandDataOptionValue::SubCommand(_)))
        }
        Interaction::Component(component) => matches!(
            component.data.custom_id.parse::<CustomId>(),
            Ok(CustomId::CheckIn | CustomId::RetryTaskForm(_))
        ),
        _ => false,
    }
}

/// The answer when a form could not be made ready in time (a form cannot be deferred).
pub const FORM_TOO_SLOW: &str =
    "That took me too long, so I couldn't open the form. Please try again.";

/// A prompt's guild, read from the stored record of the DM message that was clicked (a DM
/// carries no guild, and nothing the client sends is trusted for it); only its recipient may
/// use it.
async fn prompt_guild(app: &App, message_id: u64, user_id: UserId) -> CommandResult<GuildId> {
    let stale = || UserError::Invalid("That button is no longer active.".into());
    let posted = app.db.posted_prompt(message_id).await?.ok_or_else(stale)?;
    match posted.recipient {
        Some(recipient) if recipient != user_id => Err(stale().into()),
        _ => Ok(posted.guild_id),
    }
}

/// Check in and Stop these DMs pressed on a prompt in a DM: no member, no guild.
async fn handle_dm_button(
    app: &App,
    component: &ComponentInteraction,
    id: CustomId,
) -> CommandResult<CreateInteractionResponse> {
    if matches!(id, CustomId::DutyDone(_) | CustomId::DutySnooze(..)) {
        return handle_dm_task_button(app, component, id).await;
    }
    if id == CustomId::StopDigest {
        let user_id = UserId::new(component.user.id.get());
        let guild_id = app
            .db
            .dm_guild(component.message.id.get(), user_id)
            .await?
            .ok_or_else(|| UserError::Invalid("That button is no longer active.".into()))?;
        return super::notify::stop_digest(app, guild_id, user_id).await;
    }
    let user_id = UserId::new(component.user.id.get());
    let message_id = component.message.id.get();
    let guild_id = prompt_guild(app, message_id, user_id).await?;
    match id {
        CustomId::CheckIn => {
            let current = app.db.pending_checkin_of(guild_id, user_id).await?;
            Ok(checkin_form(
                CheckinForm {
                    prompt_message: Some(message_id),
                },
                current.as_ref(),
            ))
        }
        CustomId::StopDms => super::standup::stop_dms(app, guild_id, user_id).await,
        // Task and digest buttons were answered above; a list page never reaches a DM.
        CustomId::StopDigest
        | CustomId::RetryTaskForm(_)
        | CustomId::DutyDone(_)
        | CustomId::DutySnooze(..)
        | CustomId::ListPage(_) => Err(UserError::Invalid(NOT_IN_GUILD.into()).into()),
    }
}

/// Mark done and Snooze pressed on a reminder sent by DM: the guild and the task come from the
/// stored record of the clicked message, and the clicker acts with no manager rights (a DM
/// carries no member), so only the task's assignee or creator may.
async fn handle_dm_task_button(
    app: &App,
    component: &ComponentInteraction,
    id: CustomId,
) -> CommandResult<CreateInteractionResponse> {
    let stale = || UserError::Invalid("That button is no longer active.".into());
    let user_id = UserId::new(component.user.id.get());
    // Not a reminder the bot sent by DM: a task button is only for a server.
    let stored = app
        .db
        .dm_duty_of_message(component.message.id.get())
        .await?
        .ok_or_else(|| UserError::Invalid(NOT_IN_GUILD.into()))?;
    if id.task() != Some(stored.number) {
        return Err(stale().into());
    }
    let settings = app.db.guild_settings(stored.guild_id).await?;
    let ctx = Context {
        app,
        guild_id: stored.guild_id,
        channel_id: ChannelId::new(component.channel_id.get()),
        actor: Actor::new(user_id, &[], false, None),
        settings,
        now: app.clock.now(),
        created_task: std::sync::OnceLock::new(),
    };
    registry::press(&ctx, id).await
}

/// A submitted check-in form: from `/checkin`, or the Check in button in a channel or a DM.
async fn handle_form(app: &App, modal: &ModalInteraction) -> CreateInteractionResponse {
    let user_id = UserId::new(modal.user.id.get());
    let labels = ("form", "checkin");
    let result = submit_form(app, modal, user_id).await;
    app.metrics.command(labels, outcome_of(&result));
    let guild_id = modal.guild_id.map(|g| GuildId::new(g.get()));
    log_command(guild_id, user_id, &modal.data.custom_id, None, &result);
    result.unwrap_or_else(|e| error_reply(e, None))
}

async fn submit_form(
    app: &App,
    modal: &ModalInteraction,
    user_id: UserId,
) -> CommandResult<CreateInteractionResponse> {
    let field = |name: &str| {
        modal
            .data
            .components
            .iter()
            .flat_map(|row| row.components.iter())
            .find_map(|component| match component {
                ActionRowComponent::InputText(input) if input.custom_id == name => {
                    input.value.clone()
                }
                _ => None,
            })
    };
    if let Ok(form) = modal.data.custom_id.parse::<TaskForm>() {
        let ctx = context(
            app,
            modal.guild_id.map(|g| GuildId::new(g.get())),
            ChannelId::new(modal.channel_id.get()),
            modal.member.as_ref(),
            user_id,
        )
        .await?;
        return super::task_form::submit(&ctx, form, field).await;
    }
    let form = modal
        .data
        .custom_id
        .parse::<CheckinForm>()
        .map_err(|_| UserError::Invalid("That form is no longer active.".into()))?;
    let guild_id = match (form.prompt_message, modal.guild_id) {
        (Some(message), _) => prompt_guild(app, message, user_id).await?,
        (None, Some(guild)) => GuildId::new(guild.get()),
        (None, None) => return Err(UserError::Invalid(NOT_IN_GUILD.into()).into()),
    };
    let (yesterday, today) = (field(FIELD_YESTERDAY), field(FIELD_TODAY));
    let blockers = field(FIELD_BLOCKERS);
    super::standup::save_checkin(
        app,
        guild_id,
        user_id,
        yesterday.as_deref().unwrap_or_default(),
        today.as_deref().unwrap_or_default(),
        blockers.as_deref(),
        app.clock.now(),
    )
    .await
}

/// One choice showing what a typed date will mean (`friday → Fri 11 Dec, 17:00
/// Europe/Berlin`) or why it cannot be read; its value is the typed text itself, so picking it
/// changes nothing. Nothing for empty text. Within Discord's 100 characters.
fn date_preview(
    option: &str,
    typed: &str,
    now: chrono::DateTime<chrono::Utc>,
    zone: chrono_tz::Tz,
) -> Option<AutocompleteChoice> {
    use crate::domain::dates::{parse_day_edge, parse_due, DayEdge};
    let typed = typed.trim();
    if typed.is_empty() {
        return None;
    }
    let read = match option {
        "until" => parse_day_edge(typed, now, zone, DayEdge::End),
        "from" => parse_day_edge(typed, now, zone, DayEdge::Start),
        _ => parse_due(typed, now, zone),
    };
    let shown = render::fit(typed, 40);
    let name = match read {
        Ok(at) => {
            let local = at.with_timezone(&zone);
            let whole_day = local.time() == chrono::NaiveTime::MIN;
            let when = match option {
                "from" if at <= now => "now".to_string(),
                // A day without a time: through that day (its end is the next midnight).
                "until" if whole_day => {
                    let day = (at - chrono::Duration::seconds(1)).with_timezone(&zone);
                    format!("through {}", day.format("%a %-d %b %Y"))
                }
                "from" if whole_day => format!("from {}", local.format("%a %-d %b %Y")),
                _ => local.format("%a %-d %b %Y, %H:%M").to_string(),
            };
            format!("{shown} → {when} {}", zone.name())
        }
        Err(crate::domain::dates::DateError::InPast) => {
            format!("{shown} → already past: pick a time still ahead")
        }
        Err(_) => format!("{shown} → can't read it: try friday, in 2h, dec 24 17:00"),
    };
    Some(AutocompleteChoice::new(
        render::fit(&name, render::CHOICE_NAME_MAX),
        render::fit(typed, render::CHOICE_NAME_MAX),
    ))
}

async fn handle_component(
    app: &App,
    component: &ComponentInteraction,
) -> CreateInteractionResponse {
    let custom_id = component.data.custom_id.as_str();
    let id = custom_id.parse::<CustomId>().ok();
    let labels = registry::button_labels(id.as_ref());
    let guild_id = component.guild_id.map(|g| GuildId::new(g.get()));
    let user_id = UserId::new(component.user.id.get());
    if let (None, Some(id)) = (guild_id, id) {
        let result = handle_dm_button(app, component, id).await;
        app.metrics.command(labels, outcome_of(&result));
        log_command(None, user_id, custom_id, None, &result);
        return result.unwrap_or_else(|e| error_reply(e, None));
    }
    let ctx = match context(
        app,
        guild_id,
        ChannelId::new(component.channel_id.get()),
        component.member.as_ref(),
        user_id,
    )
    .await
    {
        Ok(ctx) => ctx,
        Err(e) => {
            let result: CommandResult<()> = Err(e);
            app.metrics.command(labels, outcome_of(&result));
            log_command(guild_id, user_id, custom_id, None, &result);
            return match result {
                Err(e) => error_reply(e, None),
                Ok(()) => private(INTERNAL),
            };
        }
    };
    let task = id.and_then(|id| id.task()).map(|n| n.0);
    let result = match id {
        Some(id) => registry::press(&ctx, id).await,
        None => Err(UserError::Invalid("That button is no longer active.".into()).into()),
    };
    app.metrics.command(labels, outcome_of(&result));
    log_command(guild_id, user_id, custom_id, task, &result);
    result.unwrap_or_else(|e| error_reply(e, Some(&ctx.settings)))
}
