//! A slash command's options, read once against the registry's schema: a handler asks for
//! `inv.str("title")` and gets exactly what the schema promised.

use serenity::all::{CommandDataOption, CommandDataOptionValue, CommandInteraction};

use super::registry::{find, spec_path, CommandSpec, Kind};
use crate::domain::ids::{ChannelId, RoleId, UserId};
use crate::domain::UserError;

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
    /// Reads an interaction's command data, checking every option against the registry.
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
        let spec = find(&data.name, sub).ok_or_else(unknown_command)?;
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
                    invocation.focused = Some((option_spec.name, typed_text(value)));
                    continue;
                }
                (CommandDataOptionValue::String(s), Kind::Str) => Value::Str(typed_text(s)),
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

    pub fn user(&self, name: &str) -> Option<UserId> {
        match self.get(name) {
            Some(Value::User(id)) => Some(UserId::new(*id)),
            _ => None,
        }
    }

    pub fn channel(&self, name: &str) -> Option<ChannelId> {
        match self.get(name) {
            Some(Value::Channel(id)) => Some(ChannelId::new(*id)),
            _ => None,
        }
    }

    pub fn role(&self, name: &str) -> Option<RoleId> {
        match self.get(name) {
            Some(Value::Role(id)) => Some(RoleId::new(*id)),
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

    pub fn required_user(&self, name: &str) -> Result<UserId, UserError> {
        self.user(name).ok_or_else(|| missing(name))
    }

    pub fn required_channel(&self, name: &str) -> Result<ChannelId, UserError> {
        self.channel(name).ok_or_else(|| missing(name))
    }

    pub fn required_role(&self, name: &str) -> Result<RoleId, UserError> {
        self.role(name).ok_or_else(|| missing(name))
    }
}

/// Typed text as the rest of the bot sees it: without U+0000, which no keyboard types and
/// PostgreSQL cannot store (a title of "\0" is then empty, and refused as such).
fn typed_text(text: &str) -> String {
    text.replace('\0', "")
}

fn missing(name: &str) -> UserError {
    UserError::Invalid(format!("The option \"{name}\" is required."))
}
