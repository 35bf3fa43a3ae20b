//! The playground's line grammar: one line is one action. Slash commands are read against the
//! command registry, as Discord's client reads what is typed, so a mistake is explained before
//! anything is sent: which option was expected, which member exists.

use chrono::Duration;

use super::guild;
use super::interactions::OptionValue;
use crate::discord::registry::{self, CommandSpec, Kind, COMMANDS};

/// The longest line read: Discord's own client accepts no longer message.
pub const MAX_LINE: usize = 4_000;
/// The furthest one `wait` moves the clock.
pub const MAX_WAIT_DAYS: i64 = 400;

/// What a line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Blank, or a comment (`# …`).
    Nothing,
    Command(Command),
    /// `as NAME`: act as another member from now on.
    As(guild::Member),
    /// `in #channel`: type in another channel from now on.
    In(u64),
    /// `click LABEL`.
    Click(String),
    /// `form field:value …`: fill in and submit the form that is open.
    Form(Vec<(String, String)>),
    /// `wait 2h`.
    Wait(Duration),
    /// `wait until 09:00`, `wait until friday 17:00`: read against the guild's clock.
    WaitUntil(String),
    Help,
    Quit,
}

/// A slash command as the client would send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub name: &'static str,
    pub sub: Option<&'static str>,
    pub options: Vec<(String, OptionValue)>,
}

/// Why a line cannot be read, in one sentence that says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LineError(pub String);

fn error<T>(message: impl Into<String>) -> Result<T, LineError> {
    Err(LineError(message.into()))
}

pub const ACTIONS: &str = "a line is a /command, as NAME, in #channel, click LABEL, \
     form field:value, wait 2h, wait until 09:00, help or quit";

/// Reads one line.
pub fn parse_line(line: &str) -> Result<Line, LineError> {
    let length = line.chars().count();
    if length > MAX_LINE {
        return error(format!(
            "That line is {length} characters long; a line may have at most {MAX_LINE}."
        ));
    }
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Line::Nothing);
    }
    if line.starts_with('/') {
        return parse_command(line).map(Line::Command);
    }
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    };
    match word.to_ascii_lowercase().as_str() {
        "help" | "?" => Ok(Line::Help),
        "quit" | "exit" => Ok(Line::Quit),
        "as" => match guild::member(unquote(rest)) {
            Some(member) => Ok(Line::As(member)),
            None if rest.is_empty() => error(format!(
                "as needs a member's name: {}.",
                guild::member_names()
            )),
            None => error(format!(
                "There is no member called {:?} here; the members are {}.",
                unquote(rest),
                guild::member_names()
            )),
        },
        "in" => match guild::channel(unquote(rest)) {
            Some(channel) => Ok(Line::In(channel)),
            None => error(format!("in needs a channel: {}.", guild::channel_names())),
        },
        "click" if rest.is_empty() => error(
            "click needs a button's label, as shown in brackets: click Mark done, click Check in.",
        ),
        "click" => Ok(Line::Click(unquote(rest).to_string())),
        "form" => {
            let fields = tokens(rest)?
                .into_iter()
                .map(|token| match token.split_once(':') {
                    Some((name, value)) if !name.is_empty() => {
                        Ok((name.to_ascii_lowercase(), value.to_string()))
                    }
                    _ => error(format!(
                        "form takes field:value pairs, such as today:\"write the tests\"; got {:?}.",
                        token.text
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Line::Form(fields))
        }
        "wait" => parse_wait(rest),
        _ => error(format!("I don't know {word:?}: {ACTIONS}.")),
    }
}

/// `"bob"` → `bob`: a quoted single argument.
fn unquote(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

fn parse_wait(rest: &str) -> Result<Line, LineError> {
    const EXPECTED: &str =
        "wait moves the clock forward: wait 30m, wait 2h, wait 1d, wait 1w, wait 1d12h, or wait until 09:00.";
    if let Some(when) = rest.strip_prefix("until") {
        let when = unquote(when);
        if when.is_empty() {
            return error("wait until needs a time: wait until 09:00, wait until friday 17:00.");
        }
        return Ok(Line::WaitUntil(when.to_string()));
    }
    let Some(duration) = parse_duration(rest) else {
        return error(EXPECTED);
    };
    if duration <= Duration::zero() {
        return error(EXPECTED);
    }
    if duration > Duration::days(MAX_WAIT_DAYS) {
        return error(format!(
            "One wait moves the clock at most {MAX_WAIT_DAYS} days."
        ));
    }
    Ok(Line::Wait(duration))
}

/// `2h`, `1d12h`, `30m`, `1w`, `45s`; None for anything else (a sign included).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 6 {
            return None;
        }
        let amount: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let part = match unit {
            "s" | "sec" | "secs" => Duration::seconds(amount),
            "m" | "min" | "mins" => Duration::minutes(amount),
            "h" | "hour" | "hours" => Duration::hours(amount),
            "d" | "day" | "days" => Duration::days(amount),
            "w" | "week" | "weeks" => Duration::weeks(amount),
            _ => return None,
        };
        total += part;
    }
    Some(total)
}

/// A word of a line, its quotes taken off.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
}

impl Token {
    fn split_once(&self, on: char) -> Option<(&str, &str)> {
        self.text.split_once(on)
    }
}

/// Splits on spaces outside double quotes; `\"` is a quote inside quotes.
fn tokens(text: &str) -> Result<Vec<Token>, LineError> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut started = false;
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            '\\' if quoted => match chars.next() {
                Some(next) => current.push(next),
                None => current.push('\\'),
            },
            c if c.is_whitespace() && !quoted => {
                if started {
                    out.push(Token {
                        text: std::mem::take(&mut current),
                    });
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if quoted {
        return error(
            "A quote is not closed: put the closing \" after the value, as in title:\"Write the plan\".",
        );
    }
    if started {
        out.push(Token { text: current });
    }
    Ok(out)
}

/// The top-level command names, in the registry's order.
pub fn command_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = COMMANDS.iter().map(|c| c.name).collect();
    names.dedup();
    names
}

/// The subcommands of `name` (empty for a command without any).
pub fn subcommands(name: &str) -> Vec<&'static str> {
    COMMANDS
        .iter()
        .filter(|c| c.name == name)
        .filter_map(|c| c.sub)
        .collect()
}

fn parse_command(line: &str) -> Result<Command, LineError> {
    let words = tokens(line)?;
    let Some(first) = words.first() else {
        return error("A command starts with /, such as /task create title:\"Write the plan\".");
    };
    let name = first.text.trim_start_matches('/').to_ascii_lowercase();
    let Some(name) = command_names().into_iter().find(|n| *n == name) else {
        return error(format!(
            "There is no command /{name}; the commands are {}.",
            command_names()
                .iter()
                .map(|n| format!("/{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let subs = subcommands(name);
    let (spec, rest) = if subs.is_empty() {
        (registry::find(name, None), &words[1..])
    } else {
        let sub = words.get(1).map(|w| w.text.to_ascii_lowercase());
        match sub.as_deref().and_then(|s| subs.iter().find(|x| **x == s)) {
            Some(sub) => (registry::find(name, Some(sub)), &words[2..]),
            None => {
                let said = match &sub {
                    Some(sub) if !sub.contains(':') => format!("has no subcommand {sub:?}"),
                    _ => "needs a subcommand".to_string(),
                };
                return error(format!("/{name} {said}: {}.", subs.join(", ")));
            }
        }
    };
    let Some(spec) = spec else {
        return error(format!("There is no command /{name}."));
    };
    let mut options: Vec<(String, OptionValue)> = Vec::new();
    for word in rest {
        let Some((option, value)) = word.split_once(':') else {
            return error(format!(
                "{:?} is not an option: options are written name:value, as in {}.",
                word.text,
                example(spec)
            ));
        };
        let option = option.to_ascii_lowercase();
        let Some(option_spec) = spec.options.iter().find(|o| o.name == option) else {
            return error(format!(
                "/{} has no option {option:?}; {}.",
                registry::spec_path(spec),
                options_of(spec)
            ));
        };
        if options.iter().any(|(n, _)| *n == option) {
            return error(format!("The option {option} is given twice."));
        }
        let value = option_value(option_spec, value)?;
        options.push((option, value));
    }
    if let Some(missing) = spec
        .options
        .iter()
        .find(|o| o.required && !options.iter().any(|(n, _)| n == o.name))
    {
        return error(format!(
            "/{} needs {}:…, as in {}.",
            registry::spec_path(spec),
            missing.name,
            example(spec)
        ));
    }
    Ok(Command {
        name: spec.name,
        sub: spec.sub,
        options,
    })
}

fn example(spec: &CommandSpec) -> String {
    format!("/{} {}", registry::spec_path(spec), spec.example)
        .trim_end()
        .to_string()
}

fn options_of(spec: &CommandSpec) -> String {
    if spec.options.is_empty() {
        return "it takes no options".into();
    }
    let names: Vec<&str> = spec.options.iter().map(|o| o.name).collect();
    format!("its options are {}", names.join(", "))
}

/// One typed value, read as the option's type: `@bob`, `#alerts`, `&manager`, `12`.
pub fn option_value(spec: &registry::OptionSpec, value: &str) -> Result<OptionValue, LineError> {
    let name = spec.name;
    match spec.kind {
        Kind::Str => {
            if !spec.choices.is_empty() && !spec.choices.contains(&value) {
                return error(format!(
                    "{name} is one of {}.",
                    spec.choices.join(", ")
                ));
            }
            if let Some(max) = registry::max_length(name) {
                let count = value.chars().count();
                if count > usize::from(max) {
                    return error(format!(
                        "{name} takes at most {max} characters; this one has {count}."
                    ));
                }
            }
            if spec.required && value.is_empty() {
                return error(format!("{name} cannot be empty."));
            }
            Ok(OptionValue::Str(value.to_string()))
        }
        Kind::Int => value
            .trim_start_matches('#')
            .parse::<i64>()
            .map(OptionValue::Int)
            .or_else(|_| error(format!("{name} takes a number, such as {name}:3."))),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "yes" => Ok(OptionValue::Bool(true)),
            "false" | "no" => Ok(OptionValue::Bool(false)),
            _ => error(format!("{name} is true or false.")),
        },
        Kind::User => match guild::member(value) {
            Some(member) => Ok(OptionValue::User(member.id)),
            None => error(format!(
                "{name} takes a member, such as {name}:@bob; there is no member {value:?} (the members are {}).",
                guild::member_names()
            )),
        },
        Kind::Channel => match guild::channel(value) {
            Some(channel) => Ok(OptionValue::Channel(channel)),
            None => error(format!(
                "{name} takes a channel: {}.",
                guild::channel_names()
            )),
        },
        Kind::Role => match guild::role(value.trim_start_matches('@')) {
            Some(role) => Ok(OptionValue::Role(role)),
            None => error(format!("{name} takes a role: &manager.")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> Command {
        match parse_line(line) {
            Ok(Line::Command(command)) => command,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn refused(line: &str) -> String {
        match parse_line(line) {
            Err(LineError(message)) => message,
            other => panic!("{line} was read: {other:?}"),
        }
    }

    #[test]
    fn a_command_reads_as_the_client_sends_it() {
        let c = command(r#"/task create title:"Write the plan" due:"tomorrow 9am" assignee:@bob"#);
        assert_eq!((c.name, c.sub), ("task", Some("create")));
        assert_eq!(
            c.options,
            vec![
                ("title".into(), OptionValue::Str("Write the plan".into())),
                ("due".into(), OptionValue::Str("tomorrow 9am".into())),
                ("assignee".into(), OptionValue::User(guild::MEMBERS[3].id)),
            ]
        );
        let c = command("/standup schedule time:09:30 channel:#standup");
        assert_eq!(c.options[0].1, OptionValue::Str("09:30".into()));
        assert_eq!(c.options[1].1, OptionValue::Channel(guild::STANDUP));
        let c = command("/task show task:#3");
        assert_eq!(c.options, vec![("task".into(), OptionValue::Int(3))]);
        let c = command("/config manager-role role:&manager");
        assert_eq!(c.options[0].1, OptionValue::Role(guild::MANAGER_ROLE));
        let c = command(r#"/checkin yesterday:"the \"API\"" today:tests"#);
        assert_eq!(c.options[0].1, OptionValue::Str("the \"API\"".into()));
    }

    #[test]
    fn mistakes_say_what_was_expected() {
        assert!(refused("/tsk list").contains("/task"));
        assert!(refused("/task").contains("create"));
        assert!(refused("/task explode").contains("no subcommand"));
        assert!(refused("/task create").contains("needs title"));
        assert!(refused("/task create title:x colour:red").contains("options are title"));
        assert!(refused("/task create title:x assignee:@zed").contains("ada, mia, alice, bob"));
        assert!(refused(r#"/task create title:"never closed"#).contains("quote is not closed"));
        assert!(refused("/task show task:three").contains("number"));
        assert!(refused("/task create title:x priority:max").contains("low, normal"));
        assert!(refused("/task create title:x title:y").contains("twice"));
        assert!(refused("as zed").contains("ada, mia"));
        assert!(refused("in #random").contains("#general"));
        assert!(refused("dance").contains("a line is"));
        assert!(refused(&"x".repeat(5_000)).contains("5000 characters"));
        assert!(refused("click").contains("label"));
    }

    #[test]
    fn wait_goes_forward_only() {
        assert_eq!(parse_line("wait 2h"), Ok(Line::Wait(Duration::hours(2))));
        assert_eq!(
            parse_line("wait 1d12h"),
            Ok(Line::Wait(Duration::hours(36)))
        );
        assert_eq!(parse_line("wait 1w"), Ok(Line::Wait(Duration::days(7))));
        assert_eq!(
            parse_line("wait until 09:00"),
            Ok(Line::WaitUntil("09:00".into()))
        );
        for bad in [
            "wait -1h",
            "wait",
            "wait 0h",
            "wait soon",
            "wait 2x",
            "wait 9999d",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_playground_words() {
        assert_eq!(parse_line("  "), Ok(Line::Nothing));
        assert_eq!(parse_line("# a comment"), Ok(Line::Nothing));
        assert_eq!(parse_line("as Bob"), Ok(Line::As(guild::MEMBERS[3])));
        assert_eq!(parse_line("in #alerts"), Ok(Line::In(guild::ALERTS)));
        assert_eq!(
            parse_line("click Mark done"),
            Ok(Line::Click("Mark done".into()))
        );
        assert_eq!(
            parse_line(r#"form yesterday:"the API" today:tests"#),
            Ok(Line::Form(vec![
                ("yesterday".into(), "the API".into()),
                ("today".into(), "tests".into())
            ]))
        );
        assert_eq!(parse_line("quit"), Ok(Line::Quit));
        assert_eq!(parse_line("help"), Ok(Line::Help));
    }
}
