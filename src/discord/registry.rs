//! The registry: ONE table, [`COMMANDS`], holds every slash command's schema, handler and
//! visibility, and [`press`] maps every button ([`CustomId`]) to its handler. Registration with
//! Discord, option parsing, routing, deferral and metrics labels all read it, so what Discord
//! shows, what the router accepts and how it answers cannot drift apart.
//!
//! Adding a command is one row here and one handler; a row without a handler does not compile,
//! and neither does a button id without one.

use std::future::Future;
use std::pin::Pin;

use serenity::all::{
    ChannelType, CommandDataOptionValue, CommandInteraction, CommandOptionType, CommandType,
    CreateCommand, CreateCommandOption, CreateInteractionResponse, InteractionContext,
};

use super::context::Context;
use super::invocation::Invocation;
use super::{away, config, help, notify, project, standup, task, task_form, CommandResult};
use crate::render::ids::CustomId;

/// What a handler returns: the interaction's answer, or why there is none.
pub type Reply<'a> =
    Pin<Box<dyn Future<Output = CommandResult<CreateInteractionResponse>> + Send + 'a>>;

/// A command handler: the caller's context and the parsed options in, the answer out.
pub type Handler = for<'a> fn(&'a Context<'a>, &'a Invocation) -> Reply<'a>;

/// Who sees a command's answer when it succeeds. Errors and refusals are always private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Changes the team should see (a task created, assigned, done): posted in the channel.
    Public,
    /// Only the caller's concern (lists, settings, confirmations): ephemeral.
    Private,
}

/// Turns an `async fn(&Context, &Invocation)` into a [`Handler`].
macro_rules! handler {
    ($f:path) => {
        |ctx, inv| Box::pin($f(ctx, inv))
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    User,
    Channel,
    Role,
}

#[derive(Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub autocomplete: bool,
    pub choices: &'static [&'static str],
}

pub struct CommandSpec {
    /// `task create` is `("task", Some("create"))`; `/timezone` is `("timezone", None)`.
    pub name: &'static str,
    pub sub: Option<&'static str>,
    pub description: &'static str,
    pub options: &'static [OptionSpec],
    pub visibility: Visibility,
    pub handler: Handler,
    /// The options of a typical use, for `/help` (after the command's path).
    pub example: &'static str,
    /// Only managers may use it at all (`/help` lists it for them alone).
    pub managers_only: bool,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSpec")
            .field("path", &spec_path(self))
            .field("visibility", &self.visibility)
            .finish_non_exhaustive()
    }
}

const fn opt(name: &'static str, description: &'static str, kind: Kind) -> OptionSpec {
    OptionSpec {
        name,
        description,
        kind,
        required: false,
        autocomplete: false,
        choices: &[],
    }
}

const fn req(name: &'static str, description: &'static str, kind: Kind) -> OptionSpec {
    OptionSpec {
        required: true,
        ..opt(name, description, kind)
    }
}

const fn auto(spec: OptionSpec) -> OptionSpec {
    OptionSpec {
        autocomplete: true,
        ..spec
    }
}

const TASK: OptionSpec = auto(req("task", "The task's number (#12)", Kind::Int));
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
const STATUSES: &[&str] = &["todo", "in_progress", "blocked", "done"];
const REPEAT_HELP: &str =
    "Comes back when done: daily, weekdays, weekly, monthly, every 3 days, every 2 weeks";
const DUE_HELP: &str = "When it's due: 2026-12-01 17:00, tomorrow 9am, friday, in 3 days, eod…";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "task",
        sub: Some("create"),
        description: "Create a task",
        options: &[
            req("title", "What needs doing", Kind::Str),
            auto(opt("due", DUE_HELP, Kind::Str)),
            opt(
                "assignee",
                "Who does it (managers may pick anyone)",
                Kind::User,
            ),
            OptionSpec {
                choices: PRIORITIES,
                ..opt("priority", "low, normal, high or urgent", Kind::Str)
            },
            auto(opt("project", "The project it belongs to", Kind::Str)),
            opt("description", "Details", Kind::Str),
            opt("repeat", REPEAT_HELP, Kind::Str),
        ],
        visibility: Visibility::Public,
        handler: handler!(task::create),
        example: "title:Write the launch plan due:friday 14:00",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("assign"),
        description: "Assign a task to someone (managers)",
        options: &[TASK, req("assignee", "Who does it", Kind::User)],
        visibility: Visibility::Public,
        handler: handler!(task::assign),
        example: "task:12 assignee:@ana",
        managers_only: true,
    },
    CommandSpec {
        name: "task",
        sub: Some("unassign"),
        description: "Take a task off its assignee (managers)",
        options: &[TASK],
        visibility: Visibility::Public,
        handler: handler!(task::unassign),
        example: "task:12",
        managers_only: true,
    },
    CommandSpec {
        name: "task",
        sub: Some("start"),
        description: "Mark a task in progress",
        options: &[TASK],
        visibility: Visibility::Public,
        handler: handler!(task::start),
        example: "task:12",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("done"),
        description: "Mark a task done",
        options: &[TASK],
        visibility: Visibility::Public,
        handler: handler!(task::done),
        example: "task:12",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("reopen"),
        description: "Reopen a done task",
        options: &[TASK],
        visibility: Visibility::Public,
        handler: handler!(task::reopen),
        example: "task:12",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("block"),
        description: "Mark a task blocked, with the reason",
        options: &[TASK, req("reason", "What it is waiting for", Kind::Str)],
        visibility: Visibility::Public,
        handler: handler!(task::block),
        example: "task:12 reason:waiting on legal",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("edit"),
        description: "Change a task's title, due date, priority, project, description or repeat",
        options: &[
            TASK,
            opt("title", "New title", Kind::Str),
            auto(opt("due", DUE_HELP, Kind::Str)),
            OptionSpec {
                choices: PRIORITIES,
                ..opt("priority", "low, normal, high or urgent", Kind::Str)
            },
            auto(opt("project", "Move it to this project", Kind::Str)),
            opt("description", "New description", Kind::Str),
            opt("repeat", "daily, weekdays, weekly, monthly, every 3 days, every 2 weeks, or never", Kind::Str),
        ],
        visibility: Visibility::Public,
        handler: handler!(task::edit),
        example: "task:12 due:in 3 days priority:urgent",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("comment"),
        description: "Add a note to a task's history",
        options: &[TASK, req("text", "The note", Kind::Str)],
        visibility: Visibility::Public,
        handler: handler!(task::comment),
        example: "task:12 text:halfway there",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("show"),
        description: "Show a task and its recent history",
        options: &[TASK],
        visibility: Visibility::Private,
        handler: handler!(task::show),
        example: "task:12",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("list"),
        description: "List tasks (open ones unless you pick a status)",
        options: &[
            opt("assignee", "Only this person's tasks", Kind::User),
            auto(opt("project", "Only this project's tasks", Kind::Str)),
            OptionSpec {
                choices: STATUSES,
                ..opt("status", "Only tasks with this status", Kind::Str)
            },
            opt("overdue", "Only overdue tasks", Kind::Bool),
            OptionSpec {
                choices: &["due", "priority", "number"],
                ..opt(
                    "sort",
                    "due (default: overdue first, undated last), priority or number",
                    Kind::Str,
                )
            },
        ],
        visibility: Visibility::Private,
        handler: handler!(task::list),
        example: "assignee:@ana status:blocked sort:priority",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("mine"),
        description: "Your open tasks, soonest due first",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(task::mine),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "task",
        sub: Some("delete"),
        description: "Delete a task (its history is kept for export)",
        options: &[TASK],
        visibility: Visibility::Public,
        handler: handler!(task::delete),
        example: "task:12",
        managers_only: false,
    },
    CommandSpec {
        name: "project",
        sub: Some("create"),
        description: "Create a project (managers)",
        options: &[
            req("name", "Project name, unique in this server", Kind::Str),
            opt(
                "channel",
                "Where the project's reminders and alerts go",
                Kind::Channel,
            ),
            opt("description", "What the project is", Kind::Str),
        ],
        visibility: Visibility::Public,
        handler: handler!(project::create),
        example: "name:Apollo channel:#apollo",
        managers_only: true,
    },
    CommandSpec {
        name: "project",
        sub: Some("list"),
        description: "List the server's projects",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(project::list),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "project",
        sub: Some("archive"),
        description: "Archive a project: it takes no new tasks (managers)",
        options: &[auto(req("project", "The project", Kind::Str))],
        visibility: Visibility::Public,
        handler: handler!(project::archive),
        example: "project:Apollo",
        managers_only: true,
    },
    CommandSpec {
        name: "project",
        sub: Some("feed"),
        description: "The project's calendar-feed link, only for you (managers)",
        options: &[
            auto(req("project", "The project", Kind::Str)),
            opt(
                "rotate",
                "Make a new link; the old one stops working",
                Kind::Bool,
            ),
        ],
        visibility: Visibility::Private,
        handler: handler!(project::feed),
        example: "project:Apollo",
        managers_only: true,
    },
    CommandSpec {
        name: "config",
        sub: Some("show"),
        description: "Show this server's settings",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(config::show),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "config",
        sub: Some("manager-role"),
        description: "Set the role whose members are managers (managers)",
        options: &[req("role", "The manager role", Kind::Role)],
        visibility: Visibility::Private,
        handler: handler!(config::manager_role),
        example: "role:@Leads",
        managers_only: true,
    },
    CommandSpec {
        name: "config",
        sub: Some("timezone"),
        description: "Set the server's time zone (managers)",
        options: &[auto(req(
            "zone",
            "IANA name, such as Europe/Berlin",
            Kind::Str,
        ))],
        visibility: Visibility::Private,
        handler: handler!(config::timezone),
        example: "zone:Europe/Berlin",
        managers_only: true,
    },
    CommandSpec {
        name: "config",
        sub: Some("alerts-channel"),
        description: "Where reminders go for tasks without a project channel (managers)",
        options: &[req("channel", "The alerts channel", Kind::Channel)],
        visibility: Visibility::Private,
        handler: handler!(config::alerts_channel),
        example: "channel:#alerts",
        managers_only: true,
    },
    CommandSpec {
        name: "config",
        sub: Some("reminders"),
        description: "When deadline reminders fire, before the due time (managers)",
        options: &[req("offsets", "For example: 1d, 1h, 30m", Kind::Str)],
        visibility: Visibility::Private,
        handler: handler!(config::reminders),
        example: "offsets:1d, 1h",
        managers_only: true,
    },
    CommandSpec {
        name: "standup",
        sub: Some("schedule"),
        description: "When and where the daily summary is posted (managers)",
        options: &[
            req(
                "time",
                "09:30, or a 5-field crontab such as 30 9 * * 1-5",
                Kind::Str,
            ),
            req("channel", "Where the summary goes", Kind::Channel),
            opt(
                "days",
                "mon-fri (default), daily, or mon,wed,fri",
                Kind::Str,
            ),
            opt(
                "prompt",
                "When the roster is asked by DM before the summary: 1h (default), 5m to 12h, or off",
                Kind::Str,
            ),
        ],
        visibility: Visibility::Private,
        handler: handler!(standup::schedule),
        example: "time:09:30 channel:#standup prompt:1h",
        managers_only: true,
    },
    CommandSpec {
        name: "standup",
        sub: Some("join"),
        description: "Join the standup roster: you are asked for your update before each summary",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(standup::join),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "standup",
        sub: Some("leave"),
        description: "Leave the standup roster (you can still check in)",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(standup::leave),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "standup",
        sub: Some("add"),
        description: "Put someone on the standup roster (managers)",
        options: &[req("user", "Who to add", Kind::User)],
        visibility: Visibility::Private,
        handler: handler!(standup::add),
        example: "user:@ana",
        managers_only: false,
    },
    CommandSpec {
        name: "standup",
        sub: Some("remove"),
        description: "Take someone off the standup roster (managers)",
        options: &[req("user", "Who to remove", Kind::User)],
        visibility: Visibility::Private,
        handler: handler!(standup::remove),
        example: "user:@ana",
        managers_only: false,
    },
    CommandSpec {
        name: "standup",
        sub: Some("roster"),
        description: "Who is on the roster: checked in, missing, away",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(standup::roster),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "standup",
        sub: Some("now"),
        description: "Preview the next summary here (uses up no check-ins)",
        options: &[],
        visibility: Visibility::Public,
        handler: handler!(standup::now),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "standup",
        sub: Some("off"),
        description: "Stop scheduled summaries (managers)",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(standup::off),
        example: "",
        managers_only: true,
    },
    CommandSpec {
        name: "checkin",
        sub: None,
        description: "Your standup update, shown in the next summary",
        options: &[
            opt(
                "yesterday",
                "What you did (leave every option out to open the form)",
                Kind::Str,
            ),
            opt("today", "What you will do", Kind::Str),
            opt("blockers", "What is in your way", Kind::Str),
        ],
        visibility: Visibility::Private,
        handler: handler!(standup::checkin),
        example: "yesterday:wrote the API today:tests",
        managers_only: false,
    },
    CommandSpec {
        name: "away",
        sub: Some("set"),
        description: "Set an away period: no standup asks or DMs, not counted missing",
        options: &[
            auto(req(
                "until",
                "Last day away (through that day), or a time: friday, 2026-12-24, in 3 days",
                Kind::Str,
            )),
            auto(opt("from", "First day away (default now): monday, dec 21", Kind::Str)),
            opt("user", "Someone else (managers)", Kind::User),
            opt("note", "Shown with the away period", Kind::Str),
        ],
        visibility: Visibility::Private,
        handler: handler!(away::set),
        example: "until:friday note:conference",
        managers_only: false,
    },
    CommandSpec {
        name: "away",
        sub: Some("clear"),
        description: "End an away period now",
        options: &[opt("user", "Someone else (managers)", Kind::User)],
        visibility: Visibility::Private,
        handler: handler!(away::clear),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "away",
        sub: Some("list"),
        description: "Who is away, until when",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(away::list),
        example: "",
        managers_only: false,
    },
    CommandSpec {
        name: "timezone",
        sub: None,
        description: "Set your own time zone, for reading the dates you type",
        options: &[auto(req(
            "zone",
            "IANA name, such as America/New_York",
            Kind::Str,
        ))],
        visibility: Visibility::Private,
        handler: handler!(config::personal_timezone),
        example: "zone:America/New_York",
        managers_only: false,
    },
    CommandSpec {
        name: "notify",
        sub: None,
        description: "Where your reminders reach you here: the channel, direct messages, or both",
        options: &[
            OptionSpec {
                choices: &["channel", "dm", "both"],
                ..opt(
                    "reminders",
                    "channel (default), dm or both; leave out to see your choice",
                    Kind::Str,
                )
            },
            opt(
                "digest",
                "A weekday-morning DM of your overdue, due-today and blocked tasks: 08:30, or off",
                Kind::Str,
            ),
        ],
        visibility: Visibility::Private,
        handler: handler!(notify::notify),
        example: "reminders:dm digest:08:30",
        managers_only: false,
    },
    CommandSpec {
        name: "help",
        sub: None,
        description: "The commands you can use here, with an example each",
        options: &[],
        visibility: Visibility::Private,
        handler: handler!(help::help),
        example: "",
        managers_only: false,
    },
];

fn option_type(kind: Kind) -> CommandOptionType {
    match kind {
        Kind::Str => CommandOptionType::String,
        Kind::Int => CommandOptionType::Integer,
        Kind::Bool => CommandOptionType::Boolean,
        Kind::User => CommandOptionType::User,
        Kind::Channel => CommandOptionType::Channel,
        Kind::Role => CommandOptionType::Role,
    }
}

/// The most characters Discord's client lets someone type into a string option, by name: the
/// limits the server checks (docs/behaviour.md §8), so nothing typed is lost to a refusal.
/// The server still checks everything: a client can be bypassed.
pub fn max_length(option: &str) -> Option<u16> {
    use crate::domain::validate::{DESCRIPTION_MAX, NOTE_MAX, PROJECT_NAME_MAX, TITLE_MAX};
    let limit = match option {
        "title" => TITLE_MAX,
        "description" => DESCRIPTION_MAX,
        "reason" | "text" | "yesterday" | "today" | "blockers" => NOTE_MAX,
        "name" | "project" => PROJECT_NAME_MAX,
        "note" => 200,
        "due" | "until" | "from" | "repeat" | "digest" | "prompt" | "time" | "days" | "offsets"
        | "zone" => 100,
        _ => return None,
    };
    u16::try_from(limit).ok()
}

fn build_option(spec: &OptionSpec) -> CreateCommandOption {
    let mut option = CreateCommandOption::new(option_type(spec.kind), spec.name, spec.description)
        .required(spec.required)
        .set_autocomplete(spec.autocomplete);
    for choice in spec.choices {
        option = option.add_string_choice(*choice, *choice);
    }
    match spec.kind {
        Kind::Str if spec.choices.is_empty() => {
            if let Some(max) = max_length(spec.name) {
                option = option.max_length(max);
            }
            if spec.required {
                option = option.min_length(1);
            }
        }
        // Only channels a message can be posted in.
        Kind::Channel => {
            option = option.channel_types(vec![
                ChannelType::Text,
                ChannelType::News,
                ChannelType::PublicThread,
                ChannelType::PrivateThread,
                ChannelType::NewsThread,
            ]);
        }
        Kind::Int if spec.name == "task" => option = option.min_int_value(1),
        _ => {}
    }
    option
}

/// Every command as registered with Discord: guild-only, grouped by top-level name.
pub fn registrations() -> Vec<CreateCommand> {
    let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let specs = COMMANDS.iter().filter(|c| c.name == name);
            let mut command = CreateCommand::new(name)
                .contexts(vec![InteractionContext::Guild])
                .dm_permission(false);
            for spec in specs {
                match spec.sub {
                    Some(sub) => {
                        let mut group = CreateCommandOption::new(
                            CommandOptionType::SubCommand,
                            sub,
                            spec.description,
                        );
                        for option in spec.options {
                            group = group.add_sub_option(build_option(option));
                        }
                        command = command
                            .description(group_description(name))
                            .add_option(group);
                    }
                    None => {
                        command = command.description(spec.description);
                        for option in spec.options {
                            command = command.add_option(build_option(option));
                        }
                    }
                }
            }
            command
        })
        .chain(std::iter::once(
            // The one message command, in a message's Apps menu.
            CreateCommand::new(super::task_form::CREATE_TASK)
                .kind(CommandType::Message)
                .contexts(vec![InteractionContext::Guild]),
        ))
        .collect()
}

/// The command at `name` / `sub`, if the registry has it.
pub fn find(name: &str, sub: Option<&str>) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name && c.sub == sub)
}

/// The command an interaction calls, if the registry has it.
pub fn command_of(interaction: &CommandInteraction) -> Option<&'static CommandSpec> {
    let data = &interaction.data;
    let sub = match data.options.first() {
        Some(option) if matches!(option.value, CommandDataOptionValue::SubCommand(_)) => {
            Some(option.name.as_str())
        }
        _ => None,
    };
    find(&data.name, sub)
}

/// The metric labels of a slash command: `("task", "create")`, or `("unknown", "")` for a
/// command the registry does not have.
pub fn command_labels(interaction: &CommandInteraction) -> (&'static str, &'static str) {
    command_of(interaction)
        .map(|spec| (spec.name, spec.sub.unwrap_or("")))
        .unwrap_or(("unknown", ""))
}

/// Runs the handler of a pressed button. Every [`CustomId`] variant has its arm here.
pub async fn press(ctx: &Context<'_>, id: CustomId) -> CommandResult<CreateInteractionResponse> {
    match id {
        CustomId::DutyDone(number) => task::done_button(ctx, number).await,
        CustomId::DutySnooze(number, choice) => task::snooze_button(ctx, number, choice).await,
        CustomId::ListPage(page) => task::list_page_button(ctx, page).await,
        CustomId::CheckIn => standup::checkin_button(ctx).await,
        CustomId::StopDms => standup::stop_dms_button(ctx).await,
        CustomId::StopDigest => notify::stop_digest(ctx.app, ctx.guild_id, ctx.actor.user_id).await,
        CustomId::RetryTaskForm(draft) => task_form::retry(ctx, draft).await,
    }
}

/// The metric labels of a button, by what it does; `unknown` for an id this version does not
/// know.
pub fn button_labels(id: Option<&CustomId>) -> (&'static str, &'static str) {
    let sub = match id {
        Some(CustomId::DutyDone(_)) => "done",
        Some(CustomId::DutySnooze(..)) => "snooze",
        Some(CustomId::ListPage(_)) => "list-page",
        Some(CustomId::CheckIn) => "check-in",
        Some(CustomId::StopDms) => "stop-dms",
        Some(CustomId::StopDigest) => "stop-digest",
        Some(CustomId::RetryTaskForm(_)) => "task-form-retry",
        None => "unknown",
    };
    ("button", sub)
}

pub fn spec_path(spec: &CommandSpec) -> String {
    match spec.sub {
        Some(sub) => format!("{} {sub}", spec.name),
        None => spec.name.to_string(),
    }
}

pub fn group_description(name: &str) -> &'static str {
    match name {
        "task" => "Create, assign and track tasks",
        "project" => "Projects group tasks and route their reminders",
        "config" => "This server's settings",
        "standup" => "The daily standup summary",
        "away" => "Away periods: no standup asks while you are out",
        _ => "Coordinator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_path_is_unique() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in &COMMANDS[i + 1..] {
                assert!(
                    !(a.name == b.name && a.sub == b.sub),
                    "{} twice",
                    spec_path(a)
                );
            }
        }
    }

    #[test]
    fn options_follow_the_spec_types() {
        for command in COMMANDS {
            for option in command.options {
                let expected = match option.name {
                    "task" => Kind::Int,
                    "assignee" | "user" => Kind::User,
                    "channel" => Kind::Channel,
                    "role" => Kind::Role,
                    "overdue" | "rotate" => Kind::Bool,
                    _ => Kind::Str,
                };
                assert_eq!(
                    option.kind,
                    expected,
                    "{} {}",
                    spec_path(command),
                    option.name
                );
                if matches!(option.name, "task" | "project" | "zone") {
                    assert!(
                        option.autocomplete,
                        "{} {}",
                        spec_path(command),
                        option.name
                    );
                }
            }
        }
    }

    #[test]
    fn registrations_group_subcommands_under_one_command() {
        let names: Vec<String> = registrations()
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .filter_map(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
            .collect();
        assert_eq!(
            names,
            vec![
                "task",
                "project",
                "config",
                "standup",
                "checkin",
                "away",
                "timezone",
                "notify",
                "help",
                "Create task"
            ]
        );
    }
}
