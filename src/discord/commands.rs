//! The command schemas, and the router. Registration and parsing both read [`COMMANDS`], so
//! what Discord shows and what the router accepts cannot drift apart.

use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, CommandOptionType,
    CreateCommand, CreateCommandOption, InteractionContext,
};

use crate::domain::UserError;

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

#[derive(Debug)]
pub struct CommandSpec {
    /// `task create` is `("task", Some("create"))`; `/timezone` is `("timezone", None)`.
    pub name: &'static str,
    pub sub: Option<&'static str>,
    pub description: &'static str,
    pub options: &'static [OptionSpec],
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
const DUE_HELP: &str = "When it's due: 2026-12-01 17:00, tomorrow 9am, friday, in 3 days, eod…";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "task",
        sub: Some("create"),
        description: "Create a task",
        options: &[
            req("title", "What needs doing", Kind::Str),
            opt("due", DUE_HELP, Kind::Str),
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
        ],
    },
    CommandSpec {
        name: "task",
        sub: Some("assign"),
        description: "Assign a task to someone (managers)",
        options: &[TASK, req("assignee", "Who does it", Kind::User)],
    },
    CommandSpec {
        name: "task",
        sub: Some("unassign"),
        description: "Take a task off its assignee (managers)",
        options: &[TASK],
    },
    CommandSpec {
        name: "task",
        sub: Some("start"),
        description: "Mark a task in progress",
        options: &[TASK],
    },
    CommandSpec {
        name: "task",
        sub: Some("done"),
        description: "Mark a task done",
        options: &[TASK],
    },
    CommandSpec {
        name: "task",
        sub: Some("reopen"),
        description: "Reopen a done task",
        options: &[TASK],
    },
    CommandSpec {
        name: "task",
        sub: Some("block"),
        description: "Mark a task blocked, with the reason",
        options: &[TASK, req("reason", "What it is waiting for", Kind::Str)],
    },
    CommandSpec {
        name: "task",
        sub: Some("edit"),
        description: "Change a task's title, due date, priority, project or description",
        options: &[
            TASK,
            opt("title", "New title", Kind::Str),
            opt("due", DUE_HELP, Kind::Str),
            OptionSpec {
                choices: PRIORITIES,
                ..opt("priority", "low, normal, high or urgent", Kind::Str)
            },
            auto(opt("project", "Move it to this project", Kind::Str)),
            opt("description", "New description", Kind::Str),
        ],
    },
    CommandSpec {
        name: "task",
        sub: Some("comment"),
        description: "Add a note to a task's history",
        options: &[TASK, req("text", "The note", Kind::Str)],
    },
    CommandSpec {
        name: "task",
        sub: Some("show"),
        description: "Show a task and its recent history",
        options: &[TASK],
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
        ],
    },
    CommandSpec {
        name: "task",
        sub: Some("mine"),
        description: "Your open tasks, soonest due first",
        options: &[],
    },
    CommandSpec {
        name: "task",
        sub: Some("delete"),
        description: "Delete a task (its history is kept for export)",
        options: &[TASK],
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
    },
    CommandSpec {
        name: "project",
        sub: Some("list"),
        description: "List the server's projects",
        options: &[],
    },
    CommandSpec {
        name: "project",
        sub: Some("archive"),
        description: "Archive a project: it takes no new tasks (managers)",
        options: &[auto(req("project", "The project", Kind::Str))],
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
    },
    CommandSpec {
        name: "config",
        sub: Some("show"),
        description: "Show this server's settings",
        options: &[],
    },
    CommandSpec {
        name: "config",
        sub: Some("manager-role"),
        description: "Set the role whose members are managers (managers)",
        options: &[req("role", "The manager role", Kind::Role)],
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
    },
    CommandSpec {
        name: "config",
        sub: Some("alerts-channel"),
        description: "Where reminders go for tasks without a project channel (managers)",
        options: &[req("channel", "The alerts channel", Kind::Channel)],
    },
    CommandSpec {
        name: "config",
        sub: Some("reminders"),
        description: "When deadline reminders fire, before the due time (managers)",
        options: &[req("offsets", "For example: 1d, 1h, 30m", Kind::Str)],
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
        ],
    },
    CommandSpec {
        name: "standup",
        sub: Some("now"),
        description: "Preview the next summary here (uses up no check-ins)",
        options: &[],
    },
    CommandSpec {
        name: "standup",
        sub: Some("off"),
        description: "Stop scheduled summaries (managers)",
        options: &[],
    },
    CommandSpec {
        name: "checkin",
        sub: None,
        description: "Your standup update, shown in the next summary",
        options: &[
            req("yesterday", "What you did", Kind::Str),
            req("today", "What you will do", Kind::Str),
            opt("blockers", "What is in your way", Kind::Str),
        ],
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

fn build_option(spec: &OptionSpec) -> CreateCommandOption {
    let mut option = CreateCommandOption::new(option_type(spec.kind), spec.name, spec.description)
        .required(spec.required)
        .set_autocomplete(spec.autocomplete);
    for choice in spec.choices {
        option = option.add_string_choice(*choice, *choice);
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
        .collect()
}

fn group_description(name: &str) -> &'static str {
    match name {
        "task" => "Create, assign and track tasks",
        "project" => "Projects group tasks and route their reminders",
        "config" => "This server's settings",
        "standup" => "The daily standup summary",
        _ => "Coordinator",
    }
}

/// A typed option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    User(u64),
    Channel(u64),
    Role(u64),
}

/// A parsed command: which spec it matched, and its options checked against that spec.
#[derive(Debug)]
pub struct Invocation {
    pub spec: &'static CommandSpec,
    values: Vec<(&'static str, Value)>,
    /// For autocomplete: the option being typed, and its partial text.
    pub focused: Option<(&'static str, String)>,
}

fn unknown_command() -> UserError {
    UserError::Invalid(
        "I don't know that command; Discord may still be showing an old version. Try again in a minute."
            .into(),
    )
}

impl Invocation {
    /// Reads an interaction's command data, checking every option against [`COMMANDS`].
    pub fn parse(interaction: &CommandInteraction) -> Result<Self, UserError> {
        let data = &interaction.data;
        let (sub, options): (Option<&str>, &[CommandDataOption]) = match data.options.first() {
            Some(CommandDataOption {
                name,
                value: CommandDataOptionValue::SubCommand(inner),
                ..
            }) => (Some(name.as_str()), inner),
            _ => (None, &data.options),
        };
        let spec = COMMANDS
            .iter()
            .find(|c| c.name == data.name && c.sub == sub)
            .ok_or_else(unknown_command)?;
        let mut invocation = Invocation {
            spec,
            values: Vec::new(),
            focused: None,
        };
        for option in options {
            let Some(option_spec) = spec.options.iter().find(|o| o.name == option.name) else {
                return Err(UserError::Invalid(format!(
                    "/{} has no option named \"{}\".",
                    spec_path(spec),
                    crate::domain::clip(&option.name, 32)
                )));
            };
            let value = match (&option.value, option_spec.kind) {
                (CommandDataOptionValue::Autocomplete { value, .. }, _) => {
                    invocation.focused = Some((option_spec.name, value.clone()));
                    continue;
                }
                (CommandDataOptionValue::String(s), Kind::Str) => Value::Str(s.clone()),
                (CommandDataOptionValue::Integer(i), Kind::Int) => Value::Int(*i),
                (CommandDataOptionValue::Boolean(b), Kind::Bool) => Value::Bool(*b),
                (CommandDataOptionValue::User(id), Kind::User) => Value::User(id.get()),
                (CommandDataOptionValue::Channel(id), Kind::Channel) => Value::Channel(id.get()),
                (CommandDataOptionValue::Role(id), Kind::Role) => Value::Role(id.get()),
                _ => {
                    return Err(UserError::Invalid(format!(
                        "The option \"{}\" has the wrong type.",
                        option_spec.name
                    )))
                }
            };
            invocation.values.push((option_spec.name, value));
        }
        if invocation.focused.is_none() {
            if let Some(missing) = spec
                .options
                .iter()
                .find(|o| o.required && !invocation.values.iter().any(|(n, _)| *n == o.name))
            {
                return Err(UserError::Invalid(format!(
                    "/{} needs the option \"{}\".",
                    spec_path(spec),
                    missing.name
                )));
            }
        }
        Ok(invocation)
    }

    /// `task create`, `timezone`.
    pub fn path(&self) -> (&'static str, Option<&'static str>) {
        (self.spec.name, self.spec.sub)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        debug_assert!(
            self.spec.options.iter().any(|o| o.name == name),
            "option {name} is not in the schema of {}",
            spec_path(self.spec)
        );
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A user, channel or role id.
    pub fn id(&self, name: &str) -> Option<u64> {
        match self.get(name) {
            Some(Value::User(id) | Value::Channel(id) | Value::Role(id)) => Some(*id),
            _ => None,
        }
    }

    /// A required string: parsing already checked it is present.
    pub fn required_str(&self, name: &str) -> Result<&str, UserError> {
        self.str(name).ok_or_else(|| missing(name))
    }

    pub fn required_int(&self, name: &str) -> Result<i64, UserError> {
        self.int(name).ok_or_else(|| missing(name))
    }

    pub fn required_id(&self, name: &str) -> Result<u64, UserError> {
        self.id(name).ok_or_else(|| missing(name))
    }
}

fn missing(name: &str) -> UserError {
    UserError::Invalid(format!("The option \"{name}\" is required."))
}

fn spec_path(spec: &CommandSpec) -> String {
    match spec.sub {
        Some(sub) => format!("{} {sub}", spec.name),
        None => spec.name.to_string(),
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
                    "assignee" => Kind::User,
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
            vec!["task", "project", "config", "standup", "checkin", "timezone"]
        );
    }
}
