//! The command line, through the real binary: help, check-config, migrate, register-commands
//! and export. Every run starts from an empty environment, so the CI's variables cannot leak in.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use coordinator::domain::task::{Priority, ProjectRef, TaskCommand, TaskNumber};
use coordinator::store::{Db, NewTask};
use serde_json::Value;

use crate::support::fake_discord::FakeDiscord;
use crate::support::process::{Piped, BIN};
use crate::support::turns::{self, Turn};

/// Shaped like a real bot token (three base64url parts); never a real one.
const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbcde.cli-test-secret_part-0123456789";
const GUILD: u64 = 700_000_000_000_000_001;
const OTHER_GUILD: u64 = 700_000_000_000_000_002;

/// A temp dir holding `config/default.toml` (the shipped one) and the database's place.
struct Setup {
    dir: tempfile::TempDir,
    /// The binary runs while this is held (see `support::turns`).
    _turn: Turn,
}

impl Setup {
    fn new() -> Setup {
        let turn = turns::shared_blocking();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("config")).expect("config dir");
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"),
            dir.path().join("config/default.toml"),
        )
        .expect("copy default.toml");
        Setup { dir, _turn: turn }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}/data/bot.db", self.path().display())
    }

    fn write_local(&self, text: &str) {
        std::fs::write(self.path().join("config/local.toml"), text).expect("local.toml");
    }

    /// The binary, run in the temp dir with only `env` set.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(BIN);
        command.current_dir(self.path()).env_clear().args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().expect("binary runs")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure: the given exit code and exactly one line on stderr, which is returned.
fn one_line_failure(output: &Output, code: i32) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("coordinator: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn help_is_printed_for_the_program_and_every_subcommand() {
    let setup = Setup::new();
    let output = setup.run(&["--help"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for sub in [
        "run",
        "migrate",
        "check-config",
        "register-commands",
        "copy",
        "export",
        "try",
    ] {
        assert!(text.contains(sub), "{sub} listed: {text}");
        let output = setup.run(&[sub, "--help"], &[]);
        assert!(output.status.success(), "{sub}: {}", stderr(&output));
        let help = stdout(&output);
        assert!(
            help.contains(&format!("Usage: coordinator {sub}")),
            "{sub}: {help}"
        );
        assert!(help.contains("--config <DIR>"), "{sub}: {help}");
    }
    let export = stdout(&setup.run(&["export", "--help"], &[]));
    for option in [
        "--guild <ID>",
        "--format <FORMAT>",
        "csv",
        "json",
        "--output <FILE>",
    ] {
        assert!(export.contains(option), "{option}: {export}");
    }
}

#[test]
fn usage_errors_are_one_line_with_exit_code_2() {
    let setup = Setup::new();
    let cases: [(&[&str], &str); 5] = [
        (&["export"], "--guild"),
        (&["export", "--guild", "1", "--format", "xml"], "xml"),
        (&["export", "--guild", "0"], "0"),
        (&["frobnicate"], "frobnicate"),
        (&["migrate", "--bogus"], "--bogus"),
    ];
    for (args, named) in cases {
        let err = one_line_failure(&setup.run(args, &[("DISCORD_TOKEN", TOKEN)]), 2);
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?}: {err}");
    }
}

#[test]
fn check_config_prints_every_setting_with_its_source_and_the_token_redacted() {
    let setup = Setup::new();
    setup.write_local("[http]\nlisten = \"127.0.0.1:8080\"\n");
    let output = setup.run(
        &["check-config"],
        &[
            ("DISCORD_TOKEN", TOKEN),
            ("LOG_FORMAT", "json"),
            ("COORDINATOR_HTTP__PUBLIC_URL", "https://c.example.com"),
            // Empty counts as unset, as in an env file's `DISCORD_GUILD_ID=`.
            ("DISCORD_GUILD_ID", ""),
            // A typo is reported, not silently ignored.
            ("COORDINATOR_HTTP__LISTN", "127.0.0.1:1"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing: {text}"))
            .to_owned()
    };
    assert!(line("log.format").contains("json (from environment variable LOG_FORMAT)"));
    assert!(line("http.listen").contains("127.0.0.1:8080 (from config/local.toml)"));
    assert!(line("http.public_url")
        .contains("(from environment variable COORDINATOR_HTTP__PUBLIC_URL)"));
    assert!(line("database.url").contains("(from config/default.toml)"));
    assert!(line("discord.guild_id").contains("unset"));
    assert!(line("discord.token").contains("redacted"));
    assert!(
        line("warning: http.listn")
            .contains("(from environment variable COORDINATOR_HTTP__LISTN): ignored"),
        "{text}"
    );
    for part in TOKEN.split('.') {
        assert!(
            !text.contains(part),
            "a part of the token was printed: {text}"
        );
    }
    assert!(
        !setup.path().join("data").exists(),
        "check-config must not create the database"
    );
}

#[test]
fn check_config_names_a_bad_value_with_the_file_or_variable_it_came_from() {
    let setup = Setup::new();
    let token = ("DISCORD_TOKEN", TOKEN);
    let err = one_line_failure(
        &setup.run(
            &["check-config"],
            &[token, ("COORDINATOR_HTTP__LISTEN", "x")],
        ),
        2,
    );
    assert!(
        err.contains(
            "http.listen = \"x\" (from environment variable COORDINATOR_HTTP__LISTEN): not an address"
        ),
        "{err}"
    );

    let err = one_line_failure(
        &setup.run(
            &["check-config"],
            &[token, ("DATABASE_URL", "mysql://db/coordinator")],
        ),
        2,
    );
    assert!(
        err.contains(
            "database.url = \"mysql://db/coordinator\" (from environment variable DATABASE_URL)"
        ),
        "{err}"
    );

    setup.write_local("[log]\nformat = \"xml\"\n[discord]\napi_base = \"discord.com\"\n");
    let err = one_line_failure(&setup.run(&["check-config"], &[token]), 2);
    assert!(
        err.contains("log.format = \"xml\" (from config/local.toml): must be human or json"),
        "{err}"
    );
    assert!(
        err.contains("discord.api_base = \"discord.com\" (from config/local.toml)"),
        "{err}"
    );
    // The environment wins over the file, and is named instead of it.
    let err = one_line_failure(
        &setup.run(&["check-config"], &[token, ("LOG_FORMAT", "yaml")]),
        2,
    );
    assert!(
        err.contains("log.format = \"yaml\" (from environment variable LOG_FORMAT)"),
        "{err}"
    );
    setup.write_local("");

    let err = one_line_failure(&setup.run(&["check-config"], &[]), 2);
    assert!(err.contains("DISCORD_TOKEN is not set"), "{err}");
    let err = one_line_failure(
        &setup.run(&["check-config"], &[("DISCORD_TOKEN", "not-a-token")]),
        2,
    );
    assert!(
        err.contains("DISCORD_TOKEN") && err.contains("three parts"),
        "{err}"
    );
    assert!(!err.contains("not-a-token"), "the token was printed: {err}");

    let err = one_line_failure(
        &setup.run(&["--config", "missing", "check-config"], &[token]),
        2,
    );
    assert!(
        err.contains("missing") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn migrate_creates_a_fresh_database_then_finds_nothing_to_do() {
    let setup = Setup::new();
    let url = setup.database_url();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    let output = setup.run(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!("applied {migrations} of {migrations} migrations")),
        "{text}"
    );
    assert!(text.contains("0001 init"), "{text}");
    assert_eq!(text.lines().count(), migrations + 1, "{text}");
    assert!(setup.path().join("data/bot.db").is_file());

    let again = setup.run(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!("up to date ({migrations} migrations")),
        "{}",
        stdout(&again)
    );
}

async fn run_async(command: Command) -> Output {
    let mut command = command;
    tokio::task::spawn_blocking(move || command.output().expect("binary runs"))
        .await
        .expect("join")
}

#[tokio::test]
async fn register_commands_uses_rest_only_for_a_guild_or_globally() {
    let fake = FakeDiscord::start().await;
    let setup = Setup::new();
    let base = fake.base_url();
    let guild = GUILD.to_string();
    let env = [
        ("DISCORD_TOKEN", TOKEN),
        ("DISCORD_API_BASE", base.as_str()),
        ("DISCORD_GUILD_ID", guild.as_str()),
    ];
    let output = run_async(setup.command(&["register-commands"], &env)).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let registered = fake.registered_commands();
    assert_eq!(registered.len(), 1, "one bulk overwrite");
    assert_eq!(registered[0].0, Some(GUILD));
    let count = registered[0].1.as_array().map(Vec::len).unwrap_or_default();
    assert!(count > 0);
    assert_eq!(
        stdout(&output).trim(),
        format!("registered {count} commands to guild {GUILD}")
    );

    let output = run_async(setup.command(&["register-commands"], &env[..2])).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let registered = fake.registered_commands();
    assert_eq!(registered.len(), 2);
    assert_eq!(registered[1].0, None, "globally without DISCORD_GUILD_ID");
    assert!(stdout(&output).contains("globally"), "{}", stdout(&output));

    assert_eq!(fake.identify_count(), 0, "no gateway session was opened");
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.authorization.as_deref() == Some(&format!("Bot {TOKEN}"))));

    // Discord refusing is a runtime failure (1) on one line, without the token.
    fake.fail_next(
        "PUT",
        "/api/v10/applications",
        401,
        serde_json::json!({"message": "401: Unauthorized", "code": 0}),
    );
    let output = run_async(setup.command(&["register-commands"], &env)).await;
    let err = one_line_failure(&output, 1);
    assert!(!err.contains("secret_part"), "{err}");
}

/// Seeds two guilds: ours with tasks whose titles need quoting, a project, a done task and a
/// deleted one; the other guild's task must not be exported.
async fn seed(url: &str) {
    let db = Db::connect(url).await.expect("db");
    let at = |h: u32| {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0)
            .single()
            .expect("time")
    };
    let project = db
        .create_project(GUILD.into(), "Launch, v2", None, None, 11.into(), at(8))
        .await
        .expect("project");
    let new = |guild_id: u64, title: &str| NewTask {
        repeat: None,
        guild_id: guild_id.into(),
        title: title.into(),
        description: None,
        priority: Priority::Normal,
        project: None,
        assignee_id: None,
        creator_id: 11.into(),
        channel_id: 21.into(),
        due_at: None,
    };
    for (i, title) in TITLES.iter().enumerate() {
        let mut task = new(GUILD, title);
        if i == 1 {
            task.project = Some(ProjectRef {
                id: project.id,
                name: project.name.clone(),
                channel_id: None,
            });
            task.description = Some("line one\nline two".into());
            task.due_at = Some(at(18));
        }
        db.create_task(&task, at(9)).await.expect("task");
    }
    let change = |number: i64, command: TaskCommand, hour: u32| {
        let db = db.clone();
        async move {
            db.change_task(
                GUILD.into(),
                TaskNumber(number),
                12.into(),
                at(hour),
                &command,
                |_| Ok(()),
            )
            .await
            .expect("change");
        }
    };
    change(1, TaskCommand::Assign(Some((u64::MAX - 1).into())), 10).await;
    change(1, TaskCommand::Done, 11).await;
    change(
        2,
        TaskCommand::Comment("said \"soon\", then, later".into()),
        10,
    )
    .await;
    change(3, TaskCommand::Delete, 12).await;
    db.create_task(&new(OTHER_GUILD, "not ours"), at(9))
        .await
        .expect("other task");
    db.close().await;
}

const TITLES: [&str; 4] = [
    "Plain title",
    "Comma, \"quotes\" and\na newline",
    "Deleted one",
    "=1+1 looks like a formula",
];

/// A small RFC 4180 reader: quoted fields, doubled quotes, CRLF records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => {
                assert!(c != '"' && c != '\n' && c != '\r', "bare {c:?} in {text:?}");
                field.push(c);
            }
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "unterminated: {text:?}"
    );
    records
}

/// Every table of the store, as text rows, for comparing two databases.
async fn every_table(url: &str) -> Vec<(String, Vec<String>)> {
    let db = Db::connect(url).await.expect("db");
    let mut out = Vec::new();
    for table in [
        "guild_settings",
        "user_settings",
        "projects",
        "tasks",
        "task_history",
        "outbox",
        "duty_claims",
        "standups",
        "standup_runs",
        "checkins",
        "channel_failures",
        "project_feeds",
    ] {
        out.push((
            table.to_owned(),
            db.rows_as_text(table).await.expect("rows"),
        ));
    }
    db.close().await;
    out
}

/// `copy` into a new SQLite file, and, when the test PostgreSQL server is there, into a new
/// PostgreSQL database: every table equal after, a second copy into a full database refused,
/// and on PostgreSQL new rows get ids past the copied ones.
#[tokio::test]
async fn copy_moves_every_table_into_an_empty_database_of_either_engine() {
    let setup = Setup::new();
    let from = setup.database_url();
    seed(&from).await;
    let before = every_table(&from).await;
    assert!(
        before
            .iter()
            .any(|(table, rows)| table == "tasks" && rows.len() >= 3),
        "the seed wrote tasks: {before:?}"
    );
    let mut targets = vec![format!("sqlite://{}/data/copy.db", setup.path().display())];
    if std::env::var_os("COORDINATOR_TEST_POSTGRES").is_some() {
        targets.push(crate::support::database::fresh_postgres_database().await);
    }
    for to in &targets {
        let output = run_async(setup.command(&["copy", "--from", &from, "--to", to], &[])).await;
        assert!(output.status.success(), "{to}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(text.contains("  tasks "), "{text}");
        assert_eq!(
            every_table(to).await,
            before,
            "{to}: a table differs after the copy"
        );

        let again = run_async(setup.command(&["copy", "--from", &from, "--to", to], &[])).await;
        assert_eq!(again.status.code(), Some(1), "a second copy is refused");
        assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));

        // New rows must not collide with copied ids (PostgreSQL's sequences were moved).
        let db = Db::connect(to).await.expect("target");
        let max_id: i64 = coordinator::store::sql("SELECT MAX(id) FROM tasks")
            .scalar(db.on())
            .await
            .expect("max id");
        let now = Utc::now();
        let task = db
            .create_task(
                &NewTask {
                    repeat: None,
                    guild_id: GUILD.into(),
                    title: "After the move".into(),
                    description: None,
                    priority: Priority::Normal,
                    project: None,
                    assignee_id: None,
                    creator_id: 11.into(),
                    channel_id: 21.into(),
                    due_at: None,
                },
                now,
            )
            .await
            .expect("a new task after the copy");
        assert!(
            task.id > max_id,
            "{to}: id {} reused (max {max_id})",
            task.id
        );
        db.close().await;
    }
}

#[tokio::test]
async fn export_writes_a_guilds_tasks_with_history_as_json_and_csv() {
    let setup = Setup::new();
    let url = setup.database_url();
    seed(&url).await;
    let guild = GUILD.to_string();
    let env = [("DATABASE_URL", url.as_str())];

    let output =
        run_async(setup.command(&["export", "--guild", &guild, "--format", "json"], &env)).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "stdout holds only the export");
    let tasks: Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let tasks = tasks.as_array().expect("an array");
    assert_eq!(
        tasks.len(),
        TITLES.len(),
        "the other guild's task is left out"
    );
    for (task, title) in tasks.iter().zip(TITLES) {
        assert_eq!(task["title"], title);
        assert_eq!(task["guild_id"], guild.as_str(), "ids are strings");
    }
    assert_eq!(tasks[0]["status"], "done");
    assert_eq!(tasks[0]["assignee_id"], (u64::MAX - 1).to_string());
    assert_eq!(tasks[0]["done_at"], "2026-03-02T11:00:00Z");
    let actions: Vec<&str> = tasks[0]["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["created", "assigned", "done"]);
    assert_eq!(tasks[0]["history"][1]["actor_id"], "12");
    assert_eq!(tasks[0]["history"][1]["at"], "2026-03-02T10:00:00Z");
    assert_eq!(tasks[1]["project"], "Launch, v2");
    assert_eq!(tasks[1]["due_at"], "2026-03-02T18:00:00Z");
    assert_eq!(
        tasks[1]["history"][1]["detail"],
        "said \"soon\", then, later"
    );
    assert_eq!(tasks[2]["deleted_at"], "2026-03-02T12:00:00Z");
    assert_eq!(tasks[3]["deleted_at"], Value::Null);

    let file = setup.path().join("tasks.csv");
    let file_arg = file.display().to_string();
    let output = run_async(setup.command(
        &[
            "export", "--guild", &guild, "--format", "csv", "--output", &file_arg,
        ],
        &env,
    ))
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("exported 4 tasks"),
        "{}",
        stdout(&output)
    );
    let text = std::fs::read_to_string(&file).expect("csv written");
    let records = parse_csv(&text);
    assert_eq!(records.len(), 1 + TITLES.len(), "{text}");
    let header = &records[0];
    assert!(
        records.iter().all(|r| r.len() == header.len()),
        "{records:?}"
    );
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let rows = &records[1..];
    for (row, title) in rows.iter().zip(TITLES) {
        let expected = if title.starts_with('=') {
            format!("'{title}")
        } else {
            title.to_owned()
        };
        assert_eq!(row[col("title")], expected);
    }
    assert_eq!(rows[1][col("project")], "Launch, v2");
    assert_eq!(rows[1][col("description")], "line one\nline two");
    assert_eq!(rows[0][col("status")], "done");
    assert_eq!(rows[2][col("deleted_at")], "2026-03-02T12:00:00Z");
    let history: Vec<&str> = rows[0][col("history")].lines().collect();
    assert_eq!(
        history,
        [
            "2026-03-02T09:00:00Z 11 created: Plain title",
            &format!("2026-03-02T10:00:00Z 12 assigned: user:{}", u64::MAX - 1),
            "2026-03-02T11:00:00Z 12 done",
        ]
    );
    assert!(rows[1][col("history")].contains("said \"soon\", then, later"));
}

#[test]
fn export_of_a_missing_database_fails_without_creating_one() {
    let setup = Setup::new();
    let url = setup.database_url();
    let err = one_line_failure(
        &setup.run(&["export", "--guild", "5"], &[("DATABASE_URL", &url)]),
        1,
    );
    assert!(err.contains("does not exist"), "{err}");
    assert!(!setup.path().join("data").exists());
}

#[tokio::test]
async fn run_is_the_default_and_log_format_json_writes_one_json_object_per_line() {
    // Bounds how long the stop takes: alone.
    let _alone = turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let setup = Setup::new();
    let url = setup.database_url();
    let base = fake.base_url();
    let mut command = setup.command(
        &[],
        &[
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_BASE", &base),
            ("DATABASE_URL", &url),
            ("DISCORD_GUILD_ID", "123456789"),
            ("LOG_FORMAT", "json"),
        ],
    );
    let bot = Piped::spawn(&mut command).await;
    fake.wait_ready().await;
    fake.wait_until("commands registered", |f| {
        f.registered_commands().into_iter().next()
    })
    .await;
    let output = bot.stop_within(std::time::Duration::from_secs(20)).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let logs = stdout(&output);
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(lines.len() >= 3, "{logs}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
        assert!(
            line["message"].is_string(),
            "event fields at the top level: {line}"
        );
    }
    assert!(
        lines.iter().any(|l| l["message"] == "shutting down"),
        "{logs}"
    );
    assert!(!logs.contains("secret_part"), "the token leaked");
}

/// `KEY=value` pairs each deployment recipe sets, by file: the env example (its commented
/// examples too), the Dockerfile's `ENV` and the unit's `Environment=`.
fn deploy_variables() -> Vec<(&'static str, Vec<(String, String)>)> {
    let read = |name: &str| {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy")
                .join(name),
        )
        .unwrap_or_else(|e| panic!("deploy/{name}: {e}"))
    };
    let pairs = |assignments: Vec<&str>| -> Vec<(String, String)> {
        assignments
            .into_iter()
            .filter_map(|a| a.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect()
    };
    let example = read("coordinator.env.example");
    let dockerfile = read("Dockerfile").replace("\\\n", " ");
    let unit = read("coordinator.service");
    vec![
        (
            "coordinator.env.example",
            pairs(
                example
                    .lines()
                    .map(|l| l.trim_start_matches(['#', ' ']))
                    .collect(),
            ),
        ),
        (
            "Dockerfile",
            pairs(
                dockerfile
                    .lines()
                    .filter_map(|l| l.strip_prefix("ENV "))
                    .flat_map(str::split_whitespace)
                    .collect(),
            ),
        ),
        (
            "coordinator.service",
            pairs(
                unit.lines()
                    .filter_map(|l| l.strip_prefix("Environment="))
                    .collect(),
            ),
        ),
    ]
}

#[test]
fn the_deploy_recipes_settings_pass_check_config() {
    let setup = Setup::new();
    for (file, pairs) in deploy_variables() {
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        let expected: &[&str] = match file {
            "coordinator.env.example" => {
                &["DISCORD_TOKEN", "LOG_FORMAT", "COORDINATOR_HTTP__LISTEN"]
            }
            _ => &["DATABASE_URL"],
        };
        for key in expected {
            assert!(keys.contains(key), "{file}: {key} in {keys:?}");
        }
        let mut command = setup.command(&["check-config"], &[]);
        for (key, value) in &pairs {
            command.env(key, value);
        }
        command.env("DISCORD_TOKEN", TOKEN);
        let output = command.output().expect("binary runs");
        assert!(
            output.status.success(),
            "{file}: {pairs:?}: {}",
            stderr(&output)
        );
        let text = stdout(&output);
        assert!(
            text.contains("(from environment variable DATABASE_URL)"),
            "{file}: {text}"
        );
    }
}

/// A bot service of `deploy/compose.yaml`.
#[derive(Debug, Default)]
struct ComposeService {
    name: String,
    /// From `command`, a JSON list; None for a service that does not run the bot.
    role: Option<String>,
    /// The `KEY: value` pairs of its `environment`.
    env: Vec<(String, String)>,
}

/// The services of `deploy/compose.yaml` that run the bot with a role.
fn compose_services() -> Vec<ComposeService> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/compose.yaml"))
        .expect("deploy/compose.yaml");
    let mut services = Vec::new();
    let mut in_services = false;
    let mut current: Option<ComposeService> = None;
    let mut in_environment = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_services = line == "services:";
            continue;
        }
        if !in_services || line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let line = line.trim();
        if indent == 2 {
            services.extend(current.take());
            current = Some(ComposeService {
                name: line.trim_end_matches(':').to_owned(),
                ..Default::default()
            });
            in_environment = false;
        } else if let Some(ComposeService { role, env, .. }) = current.as_mut() {
            if indent == 4 {
                in_environment = line == "environment:";
                if let Some(command) = line.strip_prefix("command: ") {
                    let words: Vec<String> = serde_json::from_str(command).unwrap_or_default();
                    *role = words
                        .iter()
                        .position(|w| w == "--role")
                        .and_then(|at| words.get(at + 1).cloned());
                }
            } else if indent == 6 && in_environment {
                if let Some((key, value)) = line.split_once(": ") {
                    env.push((key.to_owned(), value.trim_matches('"').to_owned()));
                }
            }
        }
    }
    services.extend(current);
    services.retain(|service| service.role.is_some());
    services
}

#[test]
fn the_compose_files_services_pass_check_config_for_their_roles() {
    let setup = Setup::new();
    let services = compose_services();
    let roles: Vec<&str> = services.iter().filter_map(|s| s.role.as_deref()).collect();
    assert_eq!(roles, ["gateway", "web", "worker"], "{services:?}");
    // What coordinator.env holds: the token and the application's public key.
    let public_key = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[42; 32])
            .verifying_key()
            .to_bytes(),
    );
    for ComposeService {
        name: service,
        role,
        env,
    } in &services
    {
        let role = role.as_deref().unwrap_or_default();
        let mut command = setup.command(&["check-config", "--role", role], &[]);
        for (key, value) in env {
            command.env(key, value);
        }
        command
            .env("DISCORD_TOKEN", TOKEN)
            .env("COORDINATOR_DISCORD__PUBLIC_KEY", &public_key);
        let output = command.output().expect("binary runs");
        assert!(output.status.success(), "{service}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(
            text.contains(&format!("configuration OK for --role {role}")),
            "{text}"
        );
        assert!(
            text.contains("postgres://"),
            "{service} runs on PostgreSQL: {text}"
        );
        assert!(!text.contains("warning"), "{service}: {text}");
    }
    // Without the public key a web process could not check a signature: refused.
    let mut command = setup.command(&["check-config", "--role", "web"], &[]);
    for (key, value) in &services[1].env {
        command.env(key, value);
    }
    let output = command
        .env("DISCORD_TOKEN", TOKEN)
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("discord.public_key"),
        "{}",
        stderr(&output)
    );
}
