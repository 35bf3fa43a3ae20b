//! The binary's one-shot commands, beside `run`: `migrate`, `check-config`,
//! `register-commands` and `export`. Each returns what to print; `main` prints it.

use std::fmt;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serenity::all::{Command, GuildId};

use crate::config::{self, ConfigError, Settings};
use crate::discord;
use crate::store::export::{self as store_export, AppliedMigration, ExportedTask};
use crate::store::{self, Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Discord answered with an error: {0}")]
    Discord(#[from] serenity::Error),
    #[error("the database {0} does not exist (run `coordinator migrate` or the bot first)")]
    NoDatabase(String),
    #[error("cannot write the export to {target}: {source}")]
    Write {
        target: String,
        source: std::io::Error,
    },
}

impl OpsError {
    /// Whether the operator's settings are at fault (exit code 2) rather than the run (1).
    pub fn is_config(&self) -> bool {
        matches!(self, OpsError::Config(_))
    }
}

/// What `migrate` did.
#[derive(Debug, Clone)]
pub struct MigrateReport {
    pub database: String,
    /// Applied by this run, oldest first.
    pub applied: Vec<AppliedMigration>,
    /// Every migration the database now has.
    pub total: usize,
}

impl fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.applied.is_empty() {
            return write!(
                f,
                "{}: up to date ({} migrations, none to apply)",
                self.database, self.total
            );
        }
        writeln!(
            f,
            "{}: applied {} of {} migrations:",
            self.database,
            self.applied.len(),
            self.total
        )?;
        let lines: Vec<String> = self
            .applied
            .iter()
            .map(|m| format!("  {:04} {}", m.version, m.description))
            .collect();
        f.write_str(&lines.join("\n"))
    }
}

/// Opens (creating if missing) the database and applies the pending migrations.
pub async fn migrate(settings: &Settings) -> Result<MigrateReport, OpsError> {
    let url = &settings.database.url;
    let before = store_export::applied_versions(url).await?;
    let db = Db::connect(url).await?;
    let now = db.applied_migrations().await;
    db.close().await;
    let now = now?;
    Ok(MigrateReport {
        database: url.clone(),
        total: now.len(),
        applied: now
            .into_iter()
            .filter(|m| !before.contains(&m.version))
            .collect(),
    })
}

/// What `copy` did: rows per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub from: String,
    pub to: String,
    pub tables: Vec<(&'static str, u64)>,
}

impl fmt::Display for CopyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u64 = self.tables.iter().map(|(_, n)| n).sum();
        writeln!(f, "copied {total} rows from {} to {}:", self.from, self.to)?;
        for (table, rows) in &self.tables {
            writeln!(f, "  {table:<17} {rows}")?;
        }
        Ok(())
    }
}

/// Copies every row of the database at `from` into the one at `to` (migrated first, and
/// required to be empty), across engines: the way to move a team from SQLite to PostgreSQL.
/// The source must exist; it is only read.
pub async fn copy(from: &str, to: &str) -> Result<CopyReport, OpsError> {
    for url in [from, to] {
        config::check_database_url_text(url)
            .map_err(|e| ConfigError::Invalid(format!("database URL {url:?}: {e}")))?;
    }
    if !store_export::database_exists(from)? {
        return Err(OpsError::NoDatabase(from.to_owned()));
    }
    let source = Db::connect(from).await?;
    let target = Db::connect(to).await?;
    let copied = source.copy_into(&target).await;
    source.close().await;
    target.close().await;
    Ok(CopyReport {
        from: from.to_owned(),
        to: to.to_owned(),
        tables: copied?.tables,
    })
}

/// Where `register-commands` put the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub count: usize,
    /// `None`: globally.
    pub guild_id: Option<u64>,
}

impl fmt::Display for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.guild_id {
            Some(guild) => write!(f, "registered {} commands to guild {guild}", self.count),
            None => write!(
                f,
                "registered {} commands globally (Discord may take up to an hour to show them)",
                self.count
            ),
        }
    }
}

/// Registers the slash commands over REST only (no gateway), to `discord.guild_id` when set,
/// globally otherwise: the same schemas the running bot registers on connecting.
pub async fn register_commands(settings: &Settings) -> Result<Registered, OpsError> {
    let token = settings.token()?;
    let http = discord::client::http_client(token, &settings.discord.api_base);
    // Without a gateway session nobody tells the client its application id: ask for it.
    let application = http.get_current_application_info().await?;
    http.set_application_id(application.id);
    let commands = discord::registry::registrations();
    let count = match settings.discord.guild_id {
        Some(0) => {
            return Err(ConfigError::Invalid("discord.guild_id = 0: not a server id".into()).into())
        }
        Some(guild) => GuildId::new(guild)
            .set_commands(&http, commands)
            .await?
            .len(),
        None => Command::set_global_commands(&http, commands).await?.len(),
    };
    Ok(Registered {
        count,
        guild_id: settings.discord.guild_id,
    })
}

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One row per task; the history in its last column, one entry per line.
    Csv,
    /// An array of tasks, each with a `history` array.
    Json,
}

/// Writes every task of `guild_id` (deleted ones too) with its history to `out`; returns how
/// many tasks were written. The database must already exist: an export never creates one.
pub async fn export(
    settings: &Settings,
    guild_id: u64,
    format: ExportFormat,
    out: &mut dyn Write,
    target: &str,
) -> Result<usize, OpsError> {
    let url = &settings.database.url;
    if !store_export::database_exists(url)? {
        return Err(OpsError::NoDatabase(url.clone()));
    }
    let db = Db::connect(url).await?;
    let tasks = db
        .export_tasks(crate::domain::ids::GuildId::new(guild_id))
        .await;
    db.close().await;
    let tasks = tasks?;
    let written = match format {
        ExportFormat::Csv => write_csv(&tasks, out),
        ExportFormat::Json => write_json(&tasks, out),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|source| OpsError::Write {
            target: target.to_owned(),
            source,
        })?;
    Ok(tasks.len())
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Serialize)]
struct TaskJson<'a> {
    guild_id: String,
    number: i64,
    title: &'a str,
    description: Option<&'a str>,
    status: &'static str,
    blocked_reason: Option<&'a str>,
    priority: &'static str,
    project: Option<&'a str>,
    assignee_id: Option<String>,
    creator_id: String,
    channel_id: String,
    due_at: Option<String>,
    created_at: String,
    updated_at: String,
    done_at: Option<String>,
    deleted_at: Option<String>,
    /// `weekly (Europe/Berlin)` for a recurring task.
    repeat: Option<String>,
    history: Vec<HistoryJson<'a>>,
}

#[derive(Serialize)]
struct HistoryJson<'a> {
    at: String,
    actor_id: String,
    action: &'a str,
    detail: &'a str,
}

/// JSON: ids as strings (a JavaScript number cannot hold a 64-bit id), times RFC 3339 UTC.
pub fn write_json(tasks: &[ExportedTask], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<TaskJson> = tasks
        .iter()
        .map(|exported| {
            let t = &exported.task;
            TaskJson {
                guild_id: t.guild_id.to_string(),
                number: t.number.0,
                title: &t.title,
                description: t.description.as_deref(),
                status: t.status.as_str(),
                blocked_reason: t.blocked_reason.as_deref(),
                priority: t.priority.as_str(),
                project: t.project.as_ref().map(|p| p.name.as_str()),
                assignee_id: t.assignee_id.map(|id| id.to_string()),
                creator_id: t.creator_id.to_string(),
                channel_id: t.channel_id.to_string(),
                due_at: t.due_at.map(time),
                created_at: time(t.created_at),
                updated_at: time(t.updated_at),
                done_at: t.done_at.map(time),
                deleted_at: exported.deleted_at.map(time),
                repeat: t.repeat.map(|r| r.describe()),
                history: exported
                    .history
                    .iter()
                    .map(|h| HistoryJson {
                        at: time(h.at),
                        actor_id: h.actor_id.to_string(),
                        action: &h.action,
                        detail: &h.detail,
                    })
                    .collect(),
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &rows)?;
    out.write_all(b"\n")
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 17] = [
    "number",
    "title",
    "description",
    "status",
    "blocked_reason",
    "priority",
    "project",
    "assignee_id",
    "creator_id",
    "channel_id",
    "due_at",
    "created_at",
    "updated_at",
    "done_at",
    "deleted_at",
    "repeat",
    "history",
];

/// CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted, quotes
/// doubled), one row per task, so a spreadsheet counts and filters tasks; the history is the
/// last column, one `time user action: detail` entry per line.
pub fn write_csv(tasks: &[ExportedTask], out: &mut dyn Write) -> std::io::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(CSV_COLUMNS)?;
    for exported in tasks {
        let t = &exported.task;
        let history: Vec<String> = exported
            .history
            .iter()
            .map(|h| {
                let mut entry = format!("{} {} {}", time(h.at), h.actor_id, h.action);
                if !h.detail.is_empty() {
                    entry.push_str(": ");
                    entry.push_str(&h.detail);
                }
                entry
            })
            .collect();
        let id = |id: Option<crate::domain::ids::UserId>| {
            id.map(|id| id.to_string()).unwrap_or_default()
        };
        let at = |at: Option<DateTime<Utc>>| at.map(time).unwrap_or_default();
        // (cell, typed by a user)
        let cells: [(String, bool); 17] = [
            (t.number.0.to_string(), false),
            (t.title.clone(), true),
            (t.description.clone().unwrap_or_default(), true),
            (t.status.as_str().to_owned(), false),
            (t.blocked_reason.clone().unwrap_or_default(), true),
            (t.priority.as_str().to_owned(), false),
            (
                t.project
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                true,
            ),
            (id(t.assignee_id), false),
            (t.creator_id.to_string(), false),
            (t.channel_id.to_string(), false),
            (at(t.due_at), false),
            (time(t.created_at), false),
            (time(t.updated_at), false),
            (at(t.done_at), false),
            (at(exported.deleted_at), false),
            (t.repeat.map(|r| r.describe()).unwrap_or_default(), false),
            (history.join("\n"), false),
        ];
        writer.write_record(cells.iter().map(|(cell, typed)| guarded(cell, *typed)))?;
    }
    writer.flush()
}

/// A cell starting with = + - @ runs as a formula when a spreadsheet opens the file (CSV
/// injection): user text gets a leading apostrophe, which spreadsheets hide.
fn guarded(cell: &str, user_typed: bool) -> String {
    if user_typed && cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// What `check-config` prints: every setting with its value and where it came from (the token
/// redacted), after the same validation `run` does plus the token's format.
/// `role`, when given, is also checked: what that role needs is set (see [`crate::Role::check`]).
pub fn check_config(dir: &Path, role: Option<crate::Role>) -> Result<String, ConfigError> {
    let figment = Settings::figment(dir);
    let mut settings = Settings::load_from(&figment)?;
    settings.discord.token = std::env::var("DISCORD_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(config::Token::new);
    let token = settings.token()?;
    token.check_format()?;
    let rust_log = config::env_log_filter()?;
    // Without a role, what every role checks (a public key, if set, must be one).
    role.unwrap_or_default().check(&settings)?;

    let show = |value: Option<String>| value.unwrap_or_else(|| "unset".into());
    let rows = [
        (
            "discord.token",
            format!("[redacted, {} characters]", token.expose().len()),
            "environment variable DISCORD_TOKEN".to_owned(),
        ),
        (
            "discord.api_base",
            format!("{:?}", settings.discord.api_base),
            config::origin(&figment, "discord.api_base"),
        ),
        (
            "discord.guild_id",
            show(settings.discord.guild_id.map(|g| g.to_string())),
            config::origin(&figment, "discord.guild_id"),
        ),
        (
            "discord.public_key",
            show(settings.discord.public_key.clone()),
            config::origin(&figment, "discord.public_key"),
        ),
        (
            "discord.requests_per_second",
            settings.discord.requests_per_second.to_string(),
            config::origin(&figment, "discord.requests_per_second"),
        ),
        (
            "discord.dm_opens_per_second",
            settings.discord.dm_opens_per_second.to_string(),
            config::origin(&figment, "discord.dm_opens_per_second"),
        ),
        (
            "database.url",
            format!("{:?}", settings.database.url),
            config::origin(&figment, "database.url"),
        ),
        (
            "log.filter",
            format!("{:?}", settings.log.filter),
            match &rust_log {
                Some(filter) => format!(
                    "{}; RUST_LOG={filter:?} wins",
                    config::origin(&figment, "log.filter")
                ),
                None => config::origin(&figment, "log.filter"),
            },
        ),
        (
            "log.format",
            format!("{:?}", settings.log.format).to_ascii_lowercase(),
            config::origin(&figment, "log.format"),
        ),
        (
            "http.listen",
            show(settings.http.listen.map(|a| a.to_string())),
            config::origin(&figment, "http.listen"),
        ),
        (
            "http.public_url",
            show(settings.http.public_url.as_ref().map(|u| format!("{u:?}"))),
            config::origin(&figment, "http.public_url"),
        ),
    ];
    let mut text = match role {
        Some(role) => format!(
            "configuration OK for --role {} (config directory {})\n",
            role.name(),
            dir.display()
        ),
        None => format!("configuration OK (config directory {})\n", dir.display()),
    };
    for (key, value, origin) in rows {
        text.push_str(&format!("  {key:<17} = {value} (from {origin})\n"));
    }
    let several = role.is_some_and(|role| role != crate::Role::All);
    if several && store::engine_of(&settings.database.url) == store::Engine::Sqlite {
        text.push_str(
            "warning: a role splits the work between processes, which share one PostgreSQL \
             database; with SQLite, run one process with --role all\n",
        );
    }
    for unknown in config::unknown_keys(&figment) {
        text.push_str(&format!("warning: {unknown}\n"));
    }
    text.push_str(
        "Nothing was contacted: the token's format is valid, not that Discord accepts it.",
    );
    Ok(text)
}

#[cfg(test)]
mod tests {
    use crate::domain::ids::{ChannelId, GuildId, UserId};
    use chrono::TimeZone;

    use super::*;
    use crate::domain::task::{HistoryEntry, Priority, Status, Task, TaskNumber};

    fn task(title: &str) -> ExportedTask {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
            .single()
            .expect("time");
        ExportedTask {
            task: Task {
                repeat: None,
                id: 1,
                guild_id: GuildId::new(1 << 60),
                number: TaskNumber(7),
                title: title.into(),
                description: None,
                status: Status::Todo,
                blocked_reason: None,
                priority: Priority::Normal,
                project: None,
                assignee_id: Some(UserId::new(u64::MAX)),
                creator_id: UserId::new(5),
                channel_id: ChannelId::new(6),
                due_at: None,
                created_at: at,
                updated_at: at,
                done_at: None,
            },
            deleted_at: None,
            history: vec![HistoryEntry {
                actor_id: UserId::new(5),
                at,
                action: "created".into(),
                detail: title.into(),
            }],
        }
    }

    fn csv(tasks: &[ExportedTask]) -> String {
        let mut out = Vec::new();
        write_csv(tasks, &mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn csv_quotes_only_what_needs_it_and_doubles_quotes() {
        let text = csv(&[task("plain"), task("a, \"b\"\nc")]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert!(
            lines[1].starts_with(
                "7,plain,,todo,,normal,,18446744073709551615,5,6,,2026-03-01T09:30:00Z,"
            ),
            "{}",
            lines[1]
        );
        assert!(text.contains("7,\"a, \"\"b\"\"\nc\",,todo"), "{text}");
        assert!(text.ends_with("\r\n"));
    }

    #[test]
    fn csv_defuses_formulas_in_user_text_only() {
        let text = csv(&[task("=HYPERLINK(\"x\")")]);
        assert!(text.contains(",\"'=HYPERLINK(\"\"x\"\")\","), "{text}");
        // The history cell starts with a time, so the title inside it needs no guard.
        assert!(
            text.contains("2026-03-01T09:30:00Z 5 created: =HYPERLINK"),
            "{text}"
        );
    }

    #[test]
    fn json_has_string_ids_and_utc_times() {
        let mut out = Vec::new();
        write_json(&[task("t")], &mut out).expect("write");
        let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value[0]["guild_id"], "1152921504606846976");
        assert_eq!(value[0]["assignee_id"], "18446744073709551615");
        assert_eq!(value[0]["created_at"], "2026-03-01T09:30:00Z");
        assert_eq!(value[0]["history"][0]["actor_id"], "5");
        assert_eq!(value[0]["due_at"], serde_json::Value::Null);
    }
}
