//! Spawns the real bot (in this process, with a settable clock) against the fake Discord and a
//! fresh SQLite file in a temp dir, and offers the assertions the end-to-end tests share.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use coordinator::clock::ManualClock;
use coordinator::config::{
    DatabaseSettings, DiscordSettings, HttpSettings, LogSettings, Settings, Token,
};
use coordinator::Running;
use serde_json::Value;

use super::fake_discord::FakeDiscord;
use super::interactions::{autocomplete, slash, Caller, Opt};
use super::turns::{self, Turn};

pub const GUILD: u64 = 111_000_000_000_000_001;
pub const OTHER_GUILD: u64 = 222_000_000_000_000_002;
pub const CHANNEL: u64 = 333_000_000_000_000_003;
pub const MANAGER_ROLE: u64 = 444_000_000_000_000_004;
pub const BOSS: u64 = 500_000_000_000_000_001;
pub const ALICE: u64 = 500_000_000_000_000_002;
pub const BOB: u64 = 500_000_000_000_000_003;
pub const CAROL: u64 = 500_000_000_000_000_004;
pub const TOKEN: &str = "test-token.must-never-be-logged";

/// Wednesday 2026-11-25 12:00 UTC: every test starts here.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("valid start time")
}

/// `h` hours after [`start_time`].
pub fn hours(h: i64) -> DateTime<Utc> {
    start_time() + chrono::Duration::hours(h)
}

pub fn member(user: u64) -> Caller {
    Caller::member(GUILD, CHANNEL, user)
}

/// A manager through the configured manager role (tests set it up with `set_manager_role`).
pub fn manager() -> Caller {
    Caller::member(GUILD, CHANNEL, BOSS).with_roles(&[MANAGER_ROLE])
}

/// Who a caller is, for messages: `Alice`, `Boss with the manager role`, `Carol (admin)`.
pub fn who(caller: &Caller) -> String {
    let name = match caller.user_id {
        BOSS => "Boss".to_string(),
        ALICE => "Alice".to_string(),
        BOB => "Bob".to_string(),
        CAROL => "Carol".to_string(),
        other => format!("user {other}"),
    };
    let mut out = name;
    if caller.roles.contains(&MANAGER_ROLE) {
        out.push_str(" with the manager role");
    }
    if caller.permissions & super::interactions::ADMINISTRATOR != 0 {
        out.push_str(" (admin)");
    } else if caller.permissions & super::interactions::MANAGE_GUILD != 0 {
        out.push_str(" (Manage Server)");
    }
    match caller.guild_id {
        None => out.push_str(" in a DM"),
        Some(GUILD) => {}
        Some(guild) => out.push_str(&format!(" in guild {guild}")),
    }
    out
}

/// A write lock held by a test, released with [`WriteLock::release`].
pub enum WriteLock {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    pub async fn release(self) {
        match self {
            WriteLock::Sqlite(tx) => tx.rollback().await.expect("release the lock"),
            WriteLock::Postgres(connection) => {
                <sqlx::PgConnection as sqlx::Connection>::close(connection)
                    .await
                    .expect("release the lock");
            }
        }
    }
}

/// The settings of a test bot: the fake Discord, the development guild, the given database.
pub fn bot_settings(fake: &FakeDiscord, database_url: String) -> Settings {
    Settings {
        discord: DiscordSettings {
            token: Some(Token::new(TOKEN)),
            api_base: fake.base_url(),
            guild_id: Some(GUILD),
            ..DiscordSettings::default()
        },
        database: DatabaseSettings { url: database_url },
        log: LogSettings::default(),
        http: HttpSettings::default(),
    }
}

pub struct TestBot {
    pub fake: FakeDiscord,
    pub clock: ManualClock,
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub settings: Settings,
    /// Off by default: tests drive the duties worker with `step_at`, so nothing races them.
    pub background_worker: bool,
    /// The test's turn, held for the bot's lifetime (see `support::turns`).
    turn: Turn,
}

impl TestBot {
    pub async fn start() -> TestBot {
        TestBot::start_with_worker(false).await
    }

    /// A bot whose duties worker runs on its own, as in production.
    pub async fn start_with_worker(background_worker: bool) -> TestBot {
        TestBot::start_with_settings(background_worker, |_| {}).await
    }

    /// A bot whose settings `adjust` changes first (e.g. to turn the HTTP listener on).
    pub async fn start_with_settings(
        background_worker: bool,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestBot {
        let turn = turns::shared().await;
        let fake = FakeDiscord::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = super::database::url_for_test(dir.path()).await;
        let mut settings = bot_settings(&fake, database_url);
        adjust(&mut settings);
        let clock = ManualClock::new(start_time());
        let options = coordinator::StartOptions {
            background_worker,
            ..Default::default()
        };
        let running = coordinator::start_with(&settings, Arc::new(clock.clone()), options)
            .await
            .expect("bot starts");
        fake.wait_ready().await;
        TestBot {
            fake,
            clock,
            running: Some(running),
            dir,
            settings,
            background_worker,
            turn,
        }
    }

    /// A bot whose manager role is configured (by an administrator).
    pub async fn with_manager_role() -> TestBot {
        let bot = TestBot::start().await;
        bot.set_manager_role().await;
        bot
    }

    /// An administrator makes `MANAGER_ROLE` the manager role.
    pub async fn set_manager_role(&self) {
        let admin = member(CAROL).with_permissions(super::interactions::ADMINISTRATOR);
        let reply = self
            .run(
                &admin,
                &["config", "manager-role"],
                vec![Opt::Role("role", MANAGER_ROLE)],
            )
            .await;
        assert!(content(&reply).contains("Managers are now"), "{reply}");
    }

    pub fn app(&self) -> &coordinator::App {
        &self.running.as_ref().expect("bot running").app
    }

    /// The store, for statements a test runs itself (`coordinator::store::sql`, on either
    /// engine).
    pub fn db(&self) -> &coordinator::store::Db {
        &self.app().db
    }

    /// Holds the write lock the store's writes to `GUILD` wait for, from another connection:
    /// SQLite's database write lock, or the guild's advisory lock on PostgreSQL.
    pub async fn hold_write_lock(&self) -> WriteLock {
        match self.db().sqlite_pool() {
            Some(pool) => WriteLock::Sqlite(
                pool.begin_with("BEGIN IMMEDIATE")
                    .await
                    .expect("write lock"),
            ),
            None => {
                let mut connection =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&self.settings.database.url)
                        .await
                        .expect("second connection");
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(GUILD as i64)
                    .execute(&mut connection)
                    .await
                    .expect("advisory lock");
                WriteLock::Postgres(connection)
            }
        }
    }

    /// The SQLite pool, for the tests that inspect SQLite itself (files, locks, FTS).
    pub fn pool(&self) -> &sqlx::SqlitePool {
        self.app()
            .db
            .sqlite_pool()
            .expect("this test inspects SQLite itself")
    }

    /// Stops the bot cleanly and starts it again on the same database file.
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        let identified = self.fake.identify_count();
        let options = coordinator::StartOptions {
            background_worker: self.background_worker,
            ..Default::default()
        };
        let running =
            coordinator::start_with(&self.settings, Arc::new(self.clock.clone()), options)
                .await
                .expect("bot restarts");
        self.running = Some(running);
        self.fake.wait_identified(identified + 1).await;
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// Sends a slash command and returns the interaction callback body.
    pub async fn run(&self, caller: &Caller, path: &[&str], options: Vec<Opt>) -> Value {
        let (id, interaction) = slash(caller, path, options);
        self.fake.inject(interaction).await;
        self.fake.response(id).await
    }

    /// Sends an autocomplete request and returns the choices offered.
    pub async fn complete(
        &self,
        caller: &Caller,
        path: &[&str],
        options: Vec<Opt>,
        focused: &str,
    ) -> Vec<Value> {
        let (id, interaction) = autocomplete(caller, path, options, focused);
        self.fake.inject(interaction).await;
        let response = self.fake.response(id).await;
        assert_eq!(response["type"], 8, "autocomplete result type: {response}");
        response["data"]["choices"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Creates a task as `caller` and returns its number.
    pub async fn create_task(&self, caller: &Caller, title: &str, mut options: Vec<Opt>) -> i64 {
        options.insert(0, Opt::Str("title", title.to_string()));
        let reply = self.run(caller, &["task", "create"], options).await;
        assert!(!is_ephemeral(&reply), "create failed: {reply}");
        let text = content(&reply);
        let number = text
            .split('#')
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no task number in {text}"));
        number
    }

    /// Everything stored, as text: compare before and after to prove nothing changed.
    pub async fn snapshot(&self) -> String {
        let mut out = String::new();
        for table in [
            "guild_settings",
            "user_settings",
            "projects",
            "tasks",
            "task_history",
        ] {
            let rows = self.db().rows_as_text(table).await.expect("snapshot query");
            out.push_str(&format!("{table}: {} rows\n", rows.len()));
            for row in rows {
                out.push_str(&row);
                out.push('\n');
            }
        }
        out
    }

    /// A task row's column, by guild and number.
    pub async fn task_column(&self, guild: u64, number: i64, column: &str) -> Option<String> {
        coordinator::store::sql(format!(
            "SELECT CAST({column} AS TEXT) AS v FROM tasks WHERE guild_id = $1 AND number = $2"
        ))
        .bind(guild as i64)
        .bind(number)
        .scalar_optional::<Option<String>>(self.db().on())
        .await
        .expect("task column query")
        .flatten()
    }

    pub async fn history_actions(&self, guild: u64, number: i64) -> Vec<String> {
        coordinator::store::sql(
            "SELECT h.action FROM task_history h JOIN tasks t ON t.id = h.task_id \
             WHERE t.guild_id = $1 AND t.number = $2 ORDER BY h.id",
        )
        .bind(guild as i64)
        .bind(number)
        .scalars(self.db().on())
        .await
        .expect("history query")
    }
}

pub fn content(response: &Value) -> String {
    response["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn is_ephemeral(response: &Value) -> bool {
    response["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0
}

/// The first embed's text: title, description, fields and footer.
pub fn embed_text(response: &Value) -> String {
    let embed = &response["data"]["embeds"][0];
    let mut out = format!(
        "{}\n{}\n",
        embed["title"].as_str().unwrap_or_default(),
        embed["description"].as_str().unwrap_or_default()
    );
    for field in embed["fields"].as_array().cloned().unwrap_or_default() {
        out.push_str(&format!(
            "{}: {}\n",
            field["name"].as_str().unwrap_or_default(),
            field["value"].as_str().unwrap_or_default()
        ));
    }
    out.push_str(embed["footer"]["text"].as_str().unwrap_or_default());
    out
}

/// An ephemeral reply, whose text contains `needle`.
#[track_caller]
pub fn assert_private_error(response: &Value, needle: &str) {
    assert_private_error_for("", response, needle);
}

/// [`assert_private_error`], its messages starting with `case` (which case of a table failed).
#[track_caller]
pub fn assert_private_error_for(case: &str, response: &Value, needle: &str) {
    let case = prefix(case);
    assert!(
        is_ephemeral(response),
        "{case}expected an ephemeral reply: {response}"
    );
    let text = content(response);
    assert!(
        text.to_lowercase().contains(&needle.to_lowercase()),
        "{case}expected {needle:?} in {text:?}"
    );
}

/// The reply pings nobody at all.
#[track_caller]
pub fn assert_pings_nobody(response: &Value) {
    assert_pings_nobody_for("", response);
}

/// [`assert_pings_nobody`], its messages starting with `case`.
#[track_caller]
pub fn assert_pings_nobody_for(case: &str, response: &Value) {
    let case = prefix(case);
    let mentions = &response["data"]["allowed_mentions"];
    assert!(
        mentions.is_object(),
        "{case}allowed_mentions must be explicit: {response}"
    );
    assert_eq!(mentions["parse"], serde_json::json!([]), "{case}{mentions}");
    assert!(
        mentions["users"].as_array().is_none_or(|u| u.is_empty()),
        "{case}{mentions}"
    );
    assert!(
        mentions["roles"].as_array().is_none_or(|r| r.is_empty()),
        "{case}{mentions}"
    );
}

fn prefix(case: &str) -> String {
    if case.is_empty() {
        String::new()
    } else {
        format!("{case}: ")
    }
}

impl TestBot {
    /// Moves the clock to `at` and runs one step of the duties worker there.
    pub async fn step_at(&self, at: DateTime<Utc>) -> coordinator::worker::Outcome {
        self.clock.set(at);
        self.running
            .as_ref()
            .expect("bot running")
            .worker
            .step(at)
            .await
            .expect("duties step")
    }

    /// Channel messages whose content mentions `needle`.
    pub fn posted_with(&self, needle: &str) -> Vec<Value> {
        self.fake
            .messages()
            .into_iter()
            .map(|m| m.body)
            .filter(|b| b["content"].as_str().unwrap_or_default().contains(needle))
            .collect()
    }
}
