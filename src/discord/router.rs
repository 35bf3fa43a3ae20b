//! One entry point for every interaction, whichever transport brought it (gateway today, an
//! HTTP interactions endpoint later): [`handle`] turns an `Interaction` into its response.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serenity::all::{
    AutocompleteChoice, CommandInteraction, ComponentInteraction, CreateAutocompleteResponse,
    CreateInteractionResponse, Interaction, Member,
};
use tracing::{error, info, warn};

use super::commands::Invocation;
use super::render::{self, private};
use super::{config, project, standup, task, CommandError, CommandResult};
use crate::domain::guild::GuildSettings;
use crate::domain::permissions::{may, Action, Actor};
use crate::domain::UserError;
use crate::metrics::{self, CommandOutcome};
use crate::store::StoreError;
use crate::App;

/// Everything a command handler needs to know about the call.
pub struct Context<'a> {
    pub app: &'a App,
    pub guild_id: u64,
    pub channel_id: u64,
    pub actor: Actor,
    pub settings: GuildSettings,
    pub now: DateTime<Utc>,
    /// The number a `/task create` gave its task, so the command's log line can name it.
    pub created_task: std::sync::OnceLock<i64>,
}

impl Context<'_> {
    /// The zone the caller's typed dates are read in: theirs, else the guild's (UTC by default).
    pub async fn typing_zone(&self) -> CommandResult<Tz> {
        Ok(self
            .app
            .db
            .user_timezone(self.actor.user_id)
            .await?
            .unwrap_or(self.settings.timezone))
    }

    pub fn require(&self, action: Action) -> CommandResult<()> {
        may(&self.actor, action, None).map_err(|r| CommandError::User(r.into()))
    }
}

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
        Some(role) => format!("<@&{role}>"),
        None => "not set yet, so Administrator or Manage Server; see /config manager-role".into(),
    }
}

/// Whether a command's answer is posted for the channel (changes the team should see), rather
/// than only to the caller; a deferred answer must say so up front.
pub fn replies_publicly(interaction: &Interaction) -> bool {
    let Interaction::Command(command) = interaction else {
        return false;
    };
    let sub = command.data.options.first().map(|o| o.name.as_str());
    matches!(
        (command.data.name.as_str(), sub),
        (
            "task",
            Some(
                "create"
                    | "assign"
                    | "unassign"
                    | "start"
                    | "done"
                    | "reopen"
                    | "block"
                    | "edit"
                    | "comment"
                    | "delete"
            )
        ) | ("project", Some("create" | "archive"))
            | ("standup", Some("now"))
    )
}

/// Answers one interaction. `None` means there is nothing to answer (an unknown kind).
pub async fn handle(app: &App, interaction: &Interaction) -> Option<CreateInteractionResponse> {
    match interaction {
        Interaction::Command(command) => Some(handle_command(app, command).await),
        Interaction::Autocomplete(command) => Some(handle_autocomplete(app, command).await),
        Interaction::Component(component) => Some(handle_component(app, component).await),
        Interaction::Ping(_) => Some(CreateInteractionResponse::Pong),
        _ => None,
    }
}

/// Builds the caller's context from the interaction's own member data (never a cache).
async fn context<'a>(
    app: &'a App,
    guild_id: Option<u64>,
    channel_id: u64,
    member: Option<&Member>,
    user_id: u64,
) -> CommandResult<Context<'a>> {
    let (Some(guild_id), Some(member)) = (guild_id, member) else {
        return Err(UserError::Invalid(NOT_IN_GUILD.into()).into());
    };
    let settings = app.db.guild_settings(guild_id).await?;
    let roles: Vec<u64> = member.roles.iter().map(|r| r.get()).collect();
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
            StoreError::Busy(_) => STORE_BUSY,
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
        CommandError::Store(StoreError::Busy(_)) => "busy",
        CommandError::Store(StoreError::Full(_)) => "full",
        CommandError::Store(_) => "store",
    })
}

/// One log line per command or button: guild, user, what was called, the task when there is
/// one, and the outcome; a failure of ours is logged as an error, with it.
fn log_command<T>(
    guild: Option<u64>,
    user: u64,
    command: &str,
    task: Option<i64>,
    result: &CommandResult<T>,
) {
    let outcome = outcome_of(result).as_str();
    let error_class = error_class(result);
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

async fn handle_command(app: &App, command: &CommandInteraction) -> CreateInteractionResponse {
    let user_id = command.user.id.get();
    let guild_id = command.guild_id.map(|g| g.get());
    let labels = metrics::command_labels(command);
    let mut task = None;
    let (ctx, result) = match context(
        app,
        guild_id,
        command.channel_id.get(),
        command.member.as_deref(),
        user_id,
    )
    .await
    {
        Ok(ctx) => {
            let result = match Invocation::parse(command) {
                Ok(invocation) => {
                    let result = dispatch(&ctx, &invocation).await;
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
    result.unwrap_or_else(|e| error_reply(e, ctx.as_ref().map(|c| &c.settings)))
}

async fn dispatch(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    match inv.path() {
        ("task", Some("create")) => task::create(ctx, inv).await,
        ("task", Some("assign")) => task::assign(ctx, inv).await,
        ("task", Some("unassign")) => task::unassign(ctx, inv).await,
        ("task", Some("start")) => task::start(ctx, inv).await,
        ("task", Some("done")) => task::done(ctx, inv).await,
        ("task", Some("reopen")) => task::reopen(ctx, inv).await,
        ("task", Some("block")) => task::block(ctx, inv).await,
        ("task", Some("edit")) => task::edit(ctx, inv).await,
        ("task", Some("comment")) => task::comment(ctx, inv).await,
        ("task", Some("show")) => task::show(ctx, inv).await,
        ("task", Some("list")) => task::list(ctx, inv).await,
        ("task", Some("mine")) => task::mine(ctx).await,
        ("task", Some("delete")) => task::delete(ctx, inv).await,
        ("project", Some("create")) => project::create(ctx, inv).await,
        ("project", Some("list")) => project::list(ctx).await,
        ("project", Some("archive")) => project::archive(ctx, inv).await,
        ("project", Some("feed")) => project::feed(ctx, inv).await,
        ("config", Some("show")) => config::show(ctx).await,
        ("config", Some("manager-role")) => config::manager_role(ctx, inv).await,
        ("config", Some("timezone")) => config::timezone(ctx, inv).await,
        ("config", Some("alerts-channel")) => config::alerts_channel(ctx, inv).await,
        ("config", Some("reminders")) => config::reminders(ctx, inv).await,
        ("timezone", None) => config::personal_timezone(ctx, inv).await,
        ("standup", Some("schedule")) => standup::schedule(ctx, inv).await,
        ("standup", Some("now")) => standup::now(ctx).await,
        ("standup", Some("off")) => standup::off(ctx).await,
        ("checkin", None) => standup::checkin(ctx, inv).await,
        (name, sub) => {
            warn!(name, ?sub, "command in the schema without a handler");
            Err(UserError::Invalid("That command isn't available yet.".into()).into())
        }
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
    let Some(guild_id) = command.guild_id.map(|g| g.get()) else {
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

async fn handle_component(
    app: &App,
    component: &ComponentInteraction,
) -> CreateInteractionResponse {
    let custom_id = component.data.custom_id.as_str();
    let labels = metrics::button_labels(custom_id);
    let guild_id = component.guild_id.map(|g| g.get());
    let user_id = component.user.id.get();
    let ctx = match context(
        app,
        guild_id,
        component.channel_id.get(),
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
    let number = |prefix: &str| {
        custom_id
            .strip_prefix(prefix)
            .and_then(|n| n.parse().ok())
            .map(crate::domain::task::TaskNumber)
    };
    let task = number(super::duties::DONE_PREFIX)
        .or_else(|| number(super::duties::SNOOZE_PREFIX))
        .map(|n| n.0);
    let result = if let Some(rest) = custom_id.strip_prefix("list:") {
        task::list_page_button(&ctx, rest).await
    } else if let Some(n) = number(super::duties::DONE_PREFIX) {
        task::done_button(&ctx, n).await
    } else if let Some(n) = number(super::duties::SNOOZE_PREFIX) {
        task::snooze_button(&ctx, n).await
    } else {
        Err(UserError::Invalid("That button is no longer active.".into()).into())
    };
    app.metrics.command(labels, outcome_of(&result));
    log_command(guild_id, user_id, custom_id, task, &result);
    result.unwrap_or_else(|e| error_reply(e, Some(&ctx.settings)))
}
