//! Coordinator's benchmarks (BENCHMARKS.md has the figures and the goals). They print figures; they assert only that the work was
//! done correctly (every duty delivered once), never how fast.
//!
//! `cargo bench --bench coordinator` runs the full sizes (release build, several minutes);
//! `cargo test --bench coordinator` (part of `cargo test`) runs a quick pass with small sizes so
//! the suite cannot rot. `-- --quick` forces the quick sizes under `cargo bench`.

#[path = "../tests/support/mod.rs"]
mod support;

/// The shared test support's switch; the benchmarks choose their engine at run time instead
/// (see [`Backend`]).
pub const ON_POSTGRES: bool = false;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coordinator::clock::ManualClock;
use coordinator::config::Token;
use coordinator::discord::sender::Sender;
use coordinator::discord::sender::DM_OPENS_PER_SECOND;
use coordinator::domain::duties::{next_at, DutyClock};
use coordinator::domain::guild::GuildSettings;
use coordinator::domain::ids::{ChannelId, UserId};
use coordinator::domain::roster::{attendance, AwayPeriod, PromptLead, RosterMember};
use coordinator::domain::summary::{build, Checkin, SummaryInput};
use coordinator::domain::task::{Priority, ProjectRef, Status, Task, TaskNumber};
use coordinator::domain::validate::search_key;
use coordinator::render::summary::summary_embeds;
use coordinator::store::{sql, Db, Engine};
use coordinator::worker::Worker;
use coordinator::App;
use support::bot::{member, start_time, TestBot, GUILD};
use support::database::fresh_postgres_database_on;
use support::fake_discord::FakeDiscord;
use support::interactions::{autocomplete, slash, Opt};

struct Sizes {
    label: &'static str,
    round_trip_tasks: i64,
    round_trip_samples: usize,
    scheduler_sizes: &'static [i64],
    fanout_reminders: i64,
    fanout_channels: i64,
    summary_tasks: usize,
    summary_checkins: usize,
    lateness_duties: i64,
    lateness_spread_secs: i64,
    idle_pending: i64,
    idle_secs: u64,
    memory_tasks: i64,
    prompt_roster: u64,
    /// The roster whose DM channels are not known yet (opened at 5 per second).
    prompt_roster_unopened: u64,
    /// Guild sizes for the adversarial autocomplete series, and times each text is typed.
    autocomplete_sizes: &'static [i64],
    autocomplete_rounds: usize,
    /// `/task create` commands sent to the bot process before its memory is read again, and
    /// the stored tasks of the second memory run (with `growth_creates / 10` creates on top).
    growth_creates: i64,
    growth_stored: i64,
}

const FULL: Sizes = Sizes {
    label: "full",
    round_trip_tasks: 100_000,
    round_trip_samples: 1_000,
    scheduler_sizes: &[10_000, 100_000, 1_000_000],
    fanout_reminders: 10_000,
    fanout_channels: 500,
    summary_tasks: 10_000,
    summary_checkins: 500,
    lateness_duties: 1_000,
    lateness_spread_secs: 60,
    idle_pending: 100_000,
    idle_secs: 60,
    memory_tasks: 1_000_000,
    prompt_roster: 1_000,
    prompt_roster_unopened: 1_000,
    autocomplete_sizes: &[100_000, 1_000_000],
    autocomplete_rounds: 60,
    growth_creates: 100_000,
    growth_stored: 1_000_000,
};

const QUICK: Sizes = Sizes {
    label: "quick",
    round_trip_tasks: 2_000,
    round_trip_samples: 40,
    scheduler_sizes: &[1_000, 10_000],
    fanout_reminders: 200,
    fanout_channels: 20,
    summary_tasks: 1_000,
    summary_checkins: 50,
    lateness_duties: 30,
    lateness_spread_secs: 3,
    idle_pending: 2_000,
    idle_secs: 2,
    memory_tasks: 10_000,
    prompt_roster: 100,
    prompt_roster_unopened: 20,
    autocomplete_sizes: &[2_000],
    autocomplete_rounds: 2,
    growth_creates: 300,
    growth_stored: 3_000,
};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn summary_line(name: &str, mut samples: Vec<f64>, unit: &str) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99, max) = (
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "  {name:<34} n={:<6} p50 {p50:>9.3} {unit}  p99 {p99:>9.3} {unit}  max {max:>9.3} {unit}",
        samples.len()
    );
    (p50, p99, max)
}

/// The engine the benchmarks run on: SQLite files in temp dirs, or, when
/// `COORDINATOR_BENCH_POSTGRES` names a PostgreSQL server, a fresh database on it per section.
#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    fn from_env() -> Self {
        match std::env::var("COORDINATOR_BENCH_POSTGRES") {
            Ok(server) if !server.is_empty() => Backend::Postgres(server),
            _ => Backend::Sqlite,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    /// A new, empty database: a file in `dir`, or a database of its own on the server.
    async fn database(&self, dir: &std::path::Path, name: &str) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}/{name}.db", dir.display()),
            Backend::Postgres(server) => fresh_postgres_database_on(server).await,
        }
    }
}

/// Rows per multi-row INSERT when seeding (well under both engines' limits on bound values).
const SEED_BATCH: i64 = 500;

/// Inserts `count` tasks of `guild`, with their next duty computed as the bot would (default
/// offsets) and titles keyed for search as the bot keys them. Due times spread from `first_due`
/// every `step` seconds. Written through the store's engine-neutral statements, so the same
/// seed serves SQLite and PostgreSQL.
async fn seed(
    db: &Db,
    guild: u64,
    count: i64,
    channels: i64,
    created: DateTime<Utc>,
    first_due: DateTime<Utc>,
    step: i64,
) {
    let offsets = GuildSettings::default_reminder_offsets();
    sql(
        "INSERT INTO guild_settings (guild_id, next_task_number) VALUES ($1, $2) \
         ON CONFLICT (guild_id) DO UPDATE SET next_task_number = excluded.next_task_number",
    )
    .bind(guild as i64)
    .bind(count + 1)
    .execute(db.on())
    .await
    .expect("settings");
    let mut first = 0;
    while first < count {
        let last = (first + SEED_BATCH).min(count);
        let mut values = Vec::new();
        for row in 0..(last - first) {
            let b = row * 9;
            values.push(format!(
                "(${}, ${}, ${}, 'todo', 'normal', ${}, 1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 7,
                b + 7,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        let mut statement = sql(format!(
            "INSERT INTO tasks (guild_id, number, title, status, priority, assignee_id, creator_id, \
             channel_id, due_at, created_at, updated_at, due_set_at, duty_cursor, next_duty_at, title_key) \
             VALUES {}",
            values.join(", ")
        ));
        for i in first..last {
            let due = first_due + chrono::Duration::seconds(i * step);
            let next = next_at(
                &DutyClock {
                    due_at: due,
                    due_set_at: created,
                    cursor: created,
                    snoozed_until: None,
                },
                &offsets,
            );
            let title = bench_title(i + 1);
            statement = statement
                .bind(guild as i64)
                .bind(i + 1)
                .bind(title.clone())
                .bind(1_000 + (i % 50))
                .bind(10_000 + (i % channels))
                .bind(due.timestamp())
                .bind(created.timestamp())
                .bind(next.map(|n| n.timestamp()))
                .bind(search_key(&title));
        }
        statement.execute(db.on()).await.expect("tasks");
        first = last;
    }
    match db.engine() {
        // Fresh statistics, as after any bulk load: planned against the empty table's, a page
        // of ten sorted all 100,000 rows (60 ms).
        Engine::Postgres => {
            sql("ANALYZE").execute(db.on()).await.expect("analyze");
        }
        // The load's write-ahead log folded in before anything is timed, as the bot's
        // background checkpoint would soon after a bulk load.
        Engine::Sqlite => {
            sql("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(db.on())
                .await
                .expect("checkpoint");
        }
    }
}

/// The title of seeded task `number`.
fn bench_title(number: i64) -> String {
    format!(
        "bench task {number} {}",
        ["alpha", "beta", "gamma", "delta"][(number % 4) as usize]
    )
}

async fn command_round_trip(sizes: &Sizes, backend: &Backend) {
    println!("\n1. Command round trip ({} tasks in the guild; INTERACTION_CREATE sent -> callback received)", sizes.round_trip_tasks);
    let dir = tempfile::tempdir().expect("dir");
    let url = backend.database(dir.path(), "r").await;
    let bot =
        TestBot::start_with_settings(false, move |settings| settings.database.url = url).await;
    let far = start_time() + chrono::Duration::days(30);
    seed(
        &bot.app().db,
        GUILD,
        sizes.round_trip_tasks,
        50,
        start_time(),
        far,
        1,
    )
    .await;
    let n = sizes.round_trip_tasks;
    if let Ok(only) = std::env::var("COORDINATOR_BENCH_ONE") {
        one_series_alone(&bot.fake, n, &only).await;
        return;
    }
    let results = round_trip_series(&bot.fake, n, sizes.round_trip_samples, "").await;
    // The same interactions, in the same run, answered by a bot that does no work.
    println!("  a bare serenity bot, fixed replies, same fake Discord:");
    let fake = FakeDiscord::start().await;
    let bare_bot = start_bare_bot(&fake).await;
    let bare = round_trip_series(&fake, n, sizes.round_trip_samples, "").await;
    bare_bot.abort();
    println!(
        "  ratio to the bare bot (goal: reads 2x at p50, create 3x; p99 4x), and CPU per command:"
    );
    for ((name, ours), (_, floor)) in results.iter().zip(&bare) {
        println!(
            "    {name:<28} p50 {:>5.2}x ({:.3} / {:.3} ms)  p99 {:>5.2}x ({:.3} / {:.3} ms)  cpu {:>4.0} / {:>3.0} µs",
            ours.p50 / floor.p50,
            ours.p50,
            floor.p50,
            ours.p99 / floor.p99,
            ours.p99,
            floor.p99,
            ours.cpu,
            floor.cpu,
        );
    }
    // Baseline: the same reads as bare statements on the same database (through the store's
    // thin engine-neutral layer, which only binds and decodes).
    let db = &bot.app().db;
    let mut show = Vec::new();
    let mut list = Vec::new();
    let mut search = Vec::new();
    for i in 0..sizes.round_trip_samples {
        let number = 1 + (i as i64 * 7919) % n;
        let t = Instant::now();
        let _: Option<String> = sql("SELECT title FROM tasks WHERE guild_id = $1 AND number = $2")
            .bind(GUILD as i64)
            .bind(number)
            .scalar_optional(db.on())
            .await
            .expect("show");
        show.push(t.elapsed().as_secs_f64() * 1_000.0);
        let t = Instant::now();
        let _: Vec<String> = sql(
            "SELECT title FROM tasks WHERE guild_id = $1 AND status <> 'done' \
             AND deleted_at IS NULL ORDER BY number LIMIT 10",
        )
        .bind(GUILD as i64)
        .scalars(db.on())
        .await
        .expect("list");
        list.push(t.elapsed().as_secs_f64() * 1_000.0);
        let t = Instant::now();
        let _: Vec<i64> = sql(
            "SELECT number FROM tasks WHERE guild_id = $1 AND deleted_at IS NULL \
             AND status <> 'done' AND (CAST(number AS TEXT) LIKE $2 OR title_key LIKE $3) \
             ORDER BY number DESC LIMIT 25",
        )
        .bind(GUILD as i64)
        .bind(format!("{}%", number % 1000))
        .bind(format!("%{}%", number % 1000))
        .scalars(db.on())
        .await
        .expect("search");
        search.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    println!("  baseline, the same queries as bare statements:");
    let show_base = summary_line("bare: task by number", show, "ms");
    let list_base = summary_line("bare: first page of open tasks", list, "ms");
    let search_base = summary_line("bare: autocomplete LIKE", search, "ms");
    for (name, base) in [
        ("/task show", show_base),
        ("/task list", list_base),
        ("task autocomplete", search_base),
    ] {
        if let Some((_, ours)) = results.iter().find(|(n, _)| *n == name) {
            println!(
                "  ratio {name:<20} p50 {:.2}x the bare query",
                ours.p50 / base.0
            );
        }
    }
}

/// A bot that does no work: every interaction gets a fixed reply, through the same fake
/// Discord, gateway and HTTP client setup as the real bot. The floor the commands are held to.
struct BareBot;

#[serenity::async_trait]
impl serenity::all::EventHandler for BareBot {
    async fn interaction_create(
        &self,
        ctx: serenity::all::Context,
        interaction: serenity::all::Interaction,
    ) {
        use serenity::all::{
            CreateAutocompleteResponse, CreateInteractionResponse,
            CreateInteractionResponseMessage, Interaction,
        };
        let sent = match interaction {
            Interaction::Command(command) => {
                command
                    .create_response(
                        &ctx.http,
                        CreateInteractionResponse::Message(
                            CreateInteractionResponseMessage::new().content("ok"),
                        ),
                    )
                    .await
            }
            Interaction::Autocomplete(command) => {
                command
                    .create_response(
                        &ctx.http,
                        CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new()),
                    )
                    .await
            }
            _ => Ok(()),
        };
        if let Err(error) = sent {
            eprintln!("bare bot: {error}");
        }
    }
}

/// Connects a [`BareBot`] to `fake` and waits for its READY.
async fn start_bare_bot(fake: &FakeDiscord) -> tokio::task::JoinHandle<()> {
    let http = coordinator::discord::client::http_client(&Token::new("bare"), &fake.base_url());
    let mut client =
        serenity::client::ClientBuilder::new_with_http(http, serenity::all::GatewayIntents::GUILDS)
            .event_handler(BareBot)
            .await
            .expect("bare bot builds");
    let task = tokio::spawn(async move {
        if let Err(error) = client.start().await {
            eprintln!("bare bot stopped: {error}");
        }
    });
    fake.wait_ready().await;
    task
}

/// `COORDINATOR_BENCH_ONE=<series>`: only the round-trip series whose name contains it, 300
/// times to warm up and then `COORDINATOR_BENCH_SAMPLES` times (20,000 unless set), against
/// this bot or, with `COORDINATOR_BENCH_BARE` set, the bare one. Under
/// `valgrind --tool=callgrind --instr-atstart=no` (with `COORDINATOR_BENCH_CALLGRIND` set)
/// only the measured commands are counted: instructions per command, bot against bare bot,
/// repeatable where latency on a shared machine is not (BENCHMARKS.md).
async fn one_series_alone(bot_fake: &FakeDiscord, n: i64, only: &str) {
    let bare_fake;
    let fake = if std::env::var_os("COORDINATOR_BENCH_BARE").is_some() {
        bare_fake = FakeDiscord::start().await;
        start_bare_bot(&bare_fake).await;
        &bare_fake
    } else {
        bot_fake
    };
    round_trip_series(fake, n, 300, only).await;
    let samples = std::env::var("COORDINATOR_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let callgrind = |switch: &str| {
        if std::env::var_os("COORDINATOR_BENCH_CALLGRIND").is_some() {
            let pid = std::process::id().to_string();
            let switched = std::process::Command::new("callgrind_control")
                .args(["-i", switch, &pid])
                .status();
            if !switched.is_ok_and(|s| s.success()) {
                eprintln!("callgrind_control -i {switch} failed");
            }
        }
    };
    callgrind("on");
    let costs = round_trip_series(fake, n, samples, only).await;
    callgrind("off");
    for (name, cost) in costs {
        println!(
            "  {name}: {samples} commands, p50 {:.3} ms, cpu {:.0} µs per command",
            cost.p50, cost.cpu
        );
    }
}

/// One command's cost in a round-trip series.
struct Cost {
    /// Latency, INTERACTION_CREATE sent to callback received, in ms.
    p50: f64,
    p99: f64,
    /// CPU time of the whole process (bot, fake Discord and the benchmark) per command, in µs:
    /// steadier than latency on a shared machine, and what a busy bot pays per command.
    cpu: f64,
}

/// CPU time this process has used so far, all threads, in µs.
fn process_cpu_us() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return f64::NAN;
    }
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// The command series of the round trip whose names contain `only` (all for ""), each
/// `samples` times, against whatever bot is connected to `fake`.
async fn round_trip_series(
    fake: &FakeDiscord,
    n: i64,
    samples: usize,
    only: &str,
) -> Vec<(&'static str, Cost)> {
    let caller = member(7);
    let mut results = Vec::new();
    for (name, build) in [
        ("/task create", 0),
        ("/task list", 1),
        ("/task show", 2),
        ("task autocomplete", 3),
        ("autocomplete, common words", 4),
    ] {
        if !name.contains(only) {
            continue;
        }
        let mut times = Vec::new();
        let cpu_before = process_cpu_us();
        for i in 0..samples {
            let number = 1 + (i as i64 * 7919) % n;
            let (id, interaction) = match build {
                0 => slash(
                    &caller,
                    &["task", "create"],
                    vec![Opt::Str("title", format!("bench created {i}"))],
                ),
                1 => slash(&caller, &["task", "list"], vec![]),
                2 => slash(&caller, &["task", "show"], vec![Opt::Int("task", number)]),
                3 => autocomplete(
                    &caller,
                    &["task", "show"],
                    vec![Opt::Str("task", format!("{}", number % 1000))],
                    "task",
                ),
                // The guild's own title words, the most common first: every title has "bench"
                // and "task", a quarter each "alpha" ... "delta"; then short and rare texts.
                _ => autocomplete(
                    &caller,
                    &["task", "show"],
                    vec![Opt::Str(
                        "task",
                        [
                            "task",
                            "bench",
                            "bench task",
                            "alpha",
                            "delta",
                            "ta",
                            "be",
                            "gam",
                            "task 4",
                            "zzz",
                        ][i % 10]
                            .to_string(),
                    )],
                    "task",
                ),
            };
            fake.inject(interaction).await;
            fake.response(id).await;
            let latency = fake.response_latency(id).expect("latency");
            times.push(latency.as_secs_f64() * 1_000.0);
        }
        let cpu = (process_cpu_us() - cpu_before) / samples as f64;
        let (p50, p99, _) = summary_line(name, times, "ms");
        results.push((name, Cost { p50, p99, cpu }));
    }
    results
}

/// Autocomplete's goal for the worst typed text's p99, in ms.
fn autocomplete_goal_ms(backend: &Backend) -> f64 {
    match backend {
        Backend::Sqlite => 5.0,
        Backend::Postgres(_) => 10.0,
    }
}

/// What a user may type into `task` in this guild: its own title words, the most common
/// first, a pair of them and a word with a number's start; one or two characters; digits, an
/// exact number, numbers that match nothing; punctuation (LIKE's wildcards among it); a rare
/// word, accents, and 200 characters.
async fn typed_texts(db: &Db, guild: u64, tasks: i64) -> Vec<String> {
    let titles: Vec<String> = sql("SELECT title FROM tasks WHERE guild_id = $1")
        .bind(guild as i64)
        .scalars(db.on())
        .await
        .expect("titles");
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for title in &titles {
        for word in title.split_whitespace() {
            *counts.entry(word.to_lowercase()).or_default() += 1;
        }
    }
    let mut words: Vec<(String, usize)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let top: Vec<String> = words.iter().take(6).map(|(w, _)| w.clone()).collect();
    let word = |i: usize| top.get(i).cloned().unwrap_or_else(|| "task".into());
    let start = |w: String, n: usize| w.chars().take(n).collect::<String>();
    let mut texts = top.clone();
    texts.push(format!("{} {}", word(0), word(1)));
    texts.push(format!("{} 5", word(1)));
    texts.push(format!("{} {}", word(1), tasks / 3));
    texts.push(start(word(0), 1));
    texts.push(start(word(0), 2));
    texts.push(start(word(1), 2));
    texts.push(start(word(2), 3));
    for text in [
        "4".to_string(),
        "47".to_string(),
        (tasks / 2).to_string(),
        (tasks * 10 + 7).to_string(),
        "12345678901234567890".to_string(),
        "#12".to_string(),
        "%".to_string(),
        "_".to_string(),
        "!?".to_string(),
        "\"'".to_string(),
        "zzz".to_string(),
        "ÉTÉ".to_string(),
        "x".repeat(200),
        titles
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect(),
    ] {
        texts.push(text);
    }
    texts
}

/// How a typed text is shown in the tables: quoted, long ones shortened.
fn shown(text: &str) -> String {
    let count = text.chars().count();
    if count > 20 {
        format!(
            "{:?}…({count} chars)",
            text.chars().take(12).collect::<String>()
        )
    } else {
        format!("{text:?}")
    }
}

/// Autocomplete on `task` typing adversarial texts into a guild of each size, through the real
/// bot. Prints each text's figures and the worst p99, and `FAIL` when that exceeds the goal
/// (full sizes only: quick sizes run a debug build). Returns whether the goal held.
async fn autocomplete_adversarial(sizes: &Sizes, backend: &Backend, judge: bool) -> bool {
    let goal = autocomplete_goal_ms(backend);
    println!(
        "\n1b. Autocomplete on `task`, adversarial typed texts ({}; each typed {} times, round robin, after one warm-up round)",
        backend.label(),
        sizes.autocomplete_rounds
    );
    let mut passed = true;
    for &count in sizes.autocomplete_sizes {
        let dir = tempfile::tempdir().expect("dir");
        let url = backend.database(dir.path(), "a").await;
        let bot =
            TestBot::start_with_settings(false, move |settings| settings.database.url = url).await;
        let far = start_time() + chrono::Duration::days(30);
        seed(&bot.app().db, GUILD, count, 50, start_time(), far, 1).await;
        let texts = typed_texts(&bot.app().db, GUILD, count).await;
        let caller = member(7);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); texts.len()];
        let mut hits = vec![0usize; texts.len()];
        for round in 0..=sizes.autocomplete_rounds {
            for (i, text) in texts.iter().enumerate() {
                let (id, interaction) = autocomplete(
                    &caller,
                    &["task", "show"],
                    vec![Opt::Str("task", text.clone())],
                    "task",
                );
                bot.fake.inject(interaction).await;
                let response = bot.fake.response(id).await;
                if round == 0 {
                    let choices = response["data"]["choices"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    hits[i] = choices.len();
                    if let Ok(number) = text.parse::<i64>() {
                        if (1..=count).contains(&number) {
                            assert_eq!(
                                choices.first().and_then(|c| c["value"].as_i64()),
                                Some(number),
                                "the exact number comes first"
                            );
                        }
                    }
                    continue;
                }
                let latency = bot.fake.response_latency(id).expect("latency");
                samples[i].push(latency.as_secs_f64() * 1_000.0);
            }
        }
        println!("  {count} tasks in the guild:");
        let mut worst = (0.0f64, String::new());
        let mut all = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            all.extend(samples[i].iter().copied());
            let label = format!("{} ({} hits)", shown(text), hits[i]);
            let (_, p99, _) = summary_line(&label, samples[i].clone(), "ms");
            if p99 > worst.0 {
                worst = (p99, shown(text));
            }
        }
        summary_line("all texts together", all, "ms");
        if !judge {
            println!(
                "  worst p99 {:.2} ms ({}); not judged at quick sizes",
                worst.0, worst.1
            );
        } else if worst.0 > goal {
            passed = false;
            println!(
                "  FAIL: autocomplete's worst p99 is {:.2} ms ({}) at {count} tasks on {}; the goal is {goal} ms",
                worst.0,
                worst.1,
                backend.label()
            );
        } else {
            println!(
                "  ok: worst p99 {:.2} ms ({}) within the goal of {goal} ms",
                worst.0, worst.1
            );
        }
    }
    passed
}

/// `count` `/task create` commands through `fake`, one after another: their latencies (ms),
/// and the bot's RSS (MB) after each tenth.
async fn create_many(fake: &FakeDiscord, pid: u32, count: i64) -> (Vec<f64>, Vec<f64>) {
    let caller = member(7);
    let mut latencies = Vec::new();
    let mut rss = Vec::new();
    for i in 0..count {
        let (id, interaction) = slash(
            &caller,
            &["task", "create"],
            vec![Opt::Str("title", format!("Perf task {i} lorem ipsum"))],
        );
        fake.inject(interaction).await;
        fake.response(id).await;
        latencies.push(fake.response_latency(id).expect("latency").as_secs_f64() * 1_000.0);
        if (i + 1) % (count / 10).max(1) == 0 {
            rss.push(rss_kb(pid, "VmRSS:") as f64 / 1024.0);
        }
    }
    (latencies, rss)
}

/// The bot process's memory as a new user would see it grow: idle on an empty database, then
/// after `growth_creates` `/task create`s; then started on `growth_stored` tasks and given a
/// tenth as many creates. Read from `/proc/<pid>/status` of the bot binary (VmRSS now, VmHWM
/// peak). The creates' latencies show the tail (their maximum).
async fn memory_growth(sizes: &Sizes, backend: &Backend) {
    println!(
        "\n6b. Memory of the bot process over /task create ({}; the binary, /proc/<pid>/status)",
        backend.label()
    );
    let mb = |pid: u32, field: &str| rss_kb(pid, field) as f64 / 1024.0;
    for (stored, creates) in [
        (0, sizes.growth_creates),
        (sizes.growth_stored, sizes.growth_creates / 10),
    ] {
        let (fake, _dir, bot) = settled_binary(backend, stored, "g").await;
        let pid = bot.0.id();
        let idle = mb(pid, "VmRSS:");
        let (latencies, rss) = create_many(&fake, pid, creates).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "  {stored} tasks stored: RSS idle {idle:.1} MB; after {creates} creates {:.1} MB, peak {:.1} MB",
            mb(pid, "VmRSS:"),
            mb(pid, "VmHWM:")
        );
        println!(
            "    RSS after each tenth of the creates (MB): {}",
            rss.iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        summary_line("/task create", latencies, "ms");
    }
}

/// How the engine runs `query`: SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN`.
async fn query_plan(db: &Db, query: &str) -> String {
    let lines: Vec<String> = match db.engine() {
        Engine::Sqlite => sql(format!("EXPLAIN QUERY PLAN {query}"))
            .fetch_all::<(i64, i64, i64, String)>(db.on())
            .await
            .expect("plan")
            .into_iter()
            .map(|row| row.3)
            .collect(),
        Engine::Postgres => sql(format!("EXPLAIN (COSTS OFF) {query}"))
            .scalars::<String>(db.on())
            .await
            .expect("plan")
            .into_iter()
            .map(|line| line.trim().to_owned())
            .collect(),
    };
    lines.join(" | ")
}

async fn scheduler_cost(sizes: &Sizes, backend: &Backend) {
    println!(
        "\n3. Scheduler cost (one worker step with nothing due; finding the next due instant)"
    );
    for &count in sizes.scheduler_sizes {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::connect(&backend.database(dir.path(), "s").await)
            .await
            .expect("db");
        let now = start_time();
        seed(
            &db,
            GUILD,
            count,
            100,
            now,
            now + chrono::Duration::days(2),
            1,
        )
        .await;
        let fake = FakeDiscord::start().await;
        let app = Arc::new(App::new(db.clone(), Arc::new(ManualClock::new(now))));
        let worker = Worker::new(
            Arc::clone(&app),
            Arc::new(Sender::new(&Token::new("t"), &fake.base_url())),
        );
        let mut steps = Vec::new();
        let mut next = Vec::new();
        let mut bare = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let outcome = worker.step(now).await.expect("step");
            steps.push(t.elapsed().as_secs_f64() * 1_000.0);
            assert_eq!(outcome.claimed, 0);
            let t = Instant::now();
            db.next_wake().await.expect("next");
            next.push(t.elapsed().as_secs_f64() * 1_000.0);
            let t = Instant::now();
            let _: Option<i64> =
                sql("SELECT MIN(next_duty_at) FROM tasks WHERE next_duty_at IS NOT NULL")
                    .scalar(db.on())
                    .await
                    .expect("bare");
            bare.push(t.elapsed().as_secs_f64() * 1_000.0);
        }
        println!("  {count} tasks:");
        let step = summary_line("worker step (nothing due)", steps, "ms");
        summary_line("next due instant (Db::next_wake)", next, "ms");
        let base = summary_line("baseline: bare MIN(next_duty_at)", bare, "ms");
        println!("  ratio step / bare query: {:.1}x", step.0 / base.0);
        if count == *sizes.scheduler_sizes.last().unwrap_or(&0) {
            for (what, query) in [
                ("due tasks", "SELECT id FROM tasks WHERE next_duty_at <= 0 ORDER BY next_duty_at LIMIT 500"),
                ("next due", "SELECT MIN(next_duty_at) FROM tasks WHERE next_duty_at IS NOT NULL"),
                ("pending outbox", "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= 0 ORDER BY id LIMIT 10"),
            ] {
                println!("  plan, {what}: {}", query_plan(&db, query).await);
            }
        }
        db.close().await;
    }
}

async fn fan_out(sizes: &Sizes, per_message: usize, backend: &Backend) {
    let fake = FakeDiscord::start().await;
    fake.enforce_rate_limits(50, 5, Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::connect(&backend.database(dir.path(), "f").await)
        .await
        .expect("db");
    let now = start_time();
    // All due at one instant: their 1h reminders fall due together.
    let due = now + chrono::Duration::hours(2);
    seed(
        &db,
        GUILD,
        sizes.fanout_reminders,
        sizes.fanout_channels,
        now,
        due,
        0,
    )
    .await;
    let app = Arc::new(App::new(
        db.clone(),
        Arc::new(ManualClock::new(due - chrono::Duration::hours(1))),
    ));
    let worker = Worker::new(
        Arc::clone(&app),
        Arc::new(Sender::new(&Token::new("t"), &fake.base_url())),
    )
    .with_duties_per_message(per_message);
    let started = Instant::now();
    let outcome = worker
        .step(due - chrono::Duration::hours(1))
        .await
        .expect("step");
    let elapsed = started.elapsed().as_secs_f64();
    let messages = fake.messages();
    let reminders: usize = messages
        .iter()
        .map(|m| {
            m.body["content"]
                .as_str()
                .unwrap_or_default()
                .matches("⏰")
                .count()
        })
        .sum();
    assert_eq!(
        reminders as i64, sizes.fanout_reminders,
        "every reminder delivered exactly once"
    );
    // The fastest the limits allow: the global window passes 50 per second, and each channel's
    // 5 per 5 s; a message count that fits in the first windows goes out at once.
    let per_channel = (messages.len() as f64 / sizes.fanout_channels as f64).ceil();
    let ideal = ((messages.len() as f64 / 50.0).ceil() - 1.0)
        .max(((per_channel / 5.0).ceil() - 1.0) * 5.0)
        .max(0.0);
    let requests = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/messages"))
        .count();
    println!(
        "  {} per message: {} reminders in {} messages, last posted after {:.2} s (the limits allow {:.2} s at best: {}); \
         {:.1} messages/s; {} of {} requests answered 429 ({:.2}%); claimed {}",
        per_message,
        reminders,
        messages.len(),
        elapsed,
        ideal,
        if ideal > 0.0 { format!("{:.0}% of the allowed rate", 100.0 * ideal / elapsed) } else { "within one window".into() },
        messages.len() as f64 / elapsed,
        fake.rate_limited(),
        requests,
        100.0 * fake.rate_limited() as f64 / requests.max(1) as f64,
        outcome.claimed
    );
    // The flow itself, from the first message to the last, without the claim before it.
    let first = messages.iter().map(|m| m.received_at).min();
    let last = messages.iter().map(|m| m.received_at).max();
    if let (Some(first), Some(last)) = (first, last) {
        let flow = last.duration_since(first).as_secs_f64().max(1e-9);
        let share = if ideal > 0.0 {
            format!(" ({:.0}% of the allowed rate)", 100.0 * ideal / flow)
        } else {
            String::new()
        };
        println!(
            "    flow: {flow:.2} s from the first message to the last, {:.1} messages/s{share}",
            (messages.len() as f64 - 1.0) / flow
        );
    }
    db.close().await;
}

/// A standup prompt to the whole roster, DM channels known (`known`) or opened at Discord's
/// pace first: time from the prompt's instant to the last DM, the share of the allowed rate
/// used, and 429s.
async fn prompt_fan_out(roster: u64, known: bool, backend: &Backend) {
    let fake = FakeDiscord::start().await;
    fake.enforce_rate_limits(50, 5, Duration::from_secs(5));
    if !known {
        fake.limit_dm_opens(DM_OPENS_PER_SECOND);
    }
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::connect(&backend.database(dir.path(), "p").await)
        .await
        .expect("db");
    let prompt_at = start_time();
    let run_at = prompt_at + chrono::Duration::hours(1);
    db.set_standup(
        GUILD.into(),
        ChannelId::new(77),
        "0 13 * * *",
        Some(PromptLead::DEFAULT),
        prompt_at - chrono::Duration::hours(1),
        |_| Some(run_at),
    )
    .await
    .expect("standup");
    for i in 0..roster {
        let user = UserId::new(600_000_000_000_000_000 + i);
        db.join_roster(GUILD.into(), user, prompt_at - chrono::Duration::days(1))
            .await
            .expect("roster");
        if known {
            db.set_dm_channel(user, ChannelId::new(700_000_000_000_000_000 + i))
                .await
                .expect("dm channel");
        }
    }
    let app = Arc::new(App::new(db.clone(), Arc::new(ManualClock::new(prompt_at))));
    let worker = Worker::new(
        Arc::clone(&app),
        Arc::new(Sender::new(&Token::new("t"), &fake.base_url())),
    );
    let started = Instant::now();
    let outcome = worker.step(prompt_at).await.expect("step");
    let elapsed = started.elapsed().as_secs_f64();
    let dms = fake.messages();
    assert_eq!(
        dms.len() as u64,
        roster,
        "every member prompted exactly once"
    );
    assert_eq!(outcome.asks, 1);
    let requests = fake.requests().len();
    // Each DM is its own channel: only the global 50/s (opens included) bounds a known roster.
    let ideal = if known {
        (roster as f64 / 50.0).ceil() - 1.0
    } else {
        (roster as f64 / DM_OPENS_PER_SECOND as f64).ceil() - 1.0
    };
    println!(
        "  roster {roster}, DM channels {}: last DM {:.2} s after the prompt instant (the limits \
         allow {:.2} s at best{}); {} of {} requests answered 429",
        if known {
            "known"
        } else {
            "opened first, 5 per second"
        },
        elapsed,
        ideal.max(0.0),
        if ideal > 0.0 {
            format!(": {:.0}% of the allowed rate", 100.0 * ideal / elapsed)
        } else {
            String::new()
        },
        fake.rate_limited(),
        requests
    );
    db.close().await;
}

fn summary_cost(sizes: &Sizes) {
    println!(
        "\n5. Standup summary ({} open tasks over 30 projects, {} check-ins): build + render",
        sizes.summary_tasks, sizes.summary_checkins
    );
    let now = start_time();
    let tasks: Vec<Task> = (0..sizes.summary_tasks)
        .map(|i| {
            let i = i as i64;
            Task {
                repeat: None,
                id: i,
                guild_id: coordinator::domain::ids::GuildId::new(GUILD),
                number: TaskNumber(i + 1),
                title: format!("summary task {i} with a title of ordinary length"),
                description: None,
                status: [
                    Status::Todo,
                    Status::InProgress,
                    Status::Blocked,
                    Status::Done,
                ][(i % 4) as usize],
                blocked_reason: (i % 4 == 2).then(|| "waiting on review".to_string()),
                priority: Priority::Normal,
                project: Some(ProjectRef {
                    id: i % 30,
                    name: format!("project {}", i % 30),
                    channel_id: None,
                }),
                assignee_id: (i % 5 != 0).then_some(UserId::new(1_000 + (i % 40) as u64)),
                creator_id: UserId::new(1),
                channel_id: ChannelId::new(1),
                due_at: Some(now + chrono::Duration::hours(i % 72 - 24)),
                created_at: now,
                updated_at: now,
                done_at: (i % 4 == 3).then_some(now - chrono::Duration::hours(1)),
            }
        })
        .collect();
    let checkins: Vec<Checkin> = (0..sizes.summary_checkins)
        .map(|i| Checkin {
            user_id: UserId::new(2_000 + i as u64),
            yesterday: "finished the review of the parser".into(),
            today: "start on the scheduler".into(),
            blockers: (i % 3 == 0).then(|| "none".to_string()),
            at: now - chrono::Duration::minutes(i as i64),
        })
        .collect();
    // A roster of 1,000: the check-ins' authors, 50 away, the rest missing.
    let roster: Vec<RosterMember> = (0..1_000_u64)
        .map(|i| RosterMember {
            user_id: UserId::new(2_000 + i),
            gone: false,
        })
        .collect();
    let away: Vec<AwayPeriod> = (0..50_u64)
        .map(|i| AwayPeriod {
            user_id: UserId::new(2_950 + i),
            from: now - chrono::Duration::days(1),
            until: now + chrono::Duration::days(2),
            note: None,
        })
        .collect();
    println!(
        "  with a roster of {} ({} checked in, {} away)",
        roster.len(),
        checkins.len(),
        away.len()
    );
    let mut build_ms = Vec::new();
    let mut total_ms = Vec::new();
    let mut messages = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let checked: std::collections::HashSet<UserId> =
            checkins.iter().map(|c| c.user_id).collect();
        let summary = build(&SummaryInput {
            now,
            since: Some(now - chrono::Duration::hours(24)),
            tasks: &tasks,
            checkins: &checkins,
            attendance: attendance(&roster, &away, &checked, now),
        });
        build_ms.push(t.elapsed().as_secs_f64() * 1_000.0);
        let rendered = summary_embeds(&summary, "Daily standup");
        total_ms.push(t.elapsed().as_secs_f64() * 1_000.0);
        messages = rendered.len();
    }
    summary_line("build", build_ms, "ms");
    summary_line("build + render", total_ms, "ms");
    println!("  rendered into {messages} messages");
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
}

struct Binary(std::process::Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bot binary over a database seeded with `tasks` tasks, once it has settled (connected,
/// commands registered, the first worker step, a little idle time): what memory is measured on.
async fn settled_binary(
    backend: &Backend,
    tasks: i64,
    tag: &str,
) -> (FakeDiscord, tempfile::TempDir, Binary) {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let url = backend.database(dir.path(), tag).await;
    let db = Db::connect(&url).await.expect("db");
    let now = Utc::now();
    seed(
        &db,
        GUILD,
        tasks,
        100,
        now,
        now + chrono::Duration::days(3),
        1,
    )
    .await;
    db.close().await;
    let bot = start_binary(&fake, &url);
    fake.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    (fake, dir, bot)
}

fn start_binary(fake: &FakeDiscord, db_url: &str) -> Binary {
    // The binary of the same profile: release under `cargo bench`, debug under `cargo test`;
    // `COORDINATOR_BENCH_BIN` names another build (to compare before and after a change).
    let bin = std::env::var("COORDINATOR_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_coordinator").to_owned());
    let child = std::process::Command::new(bin)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISCORD_TOKEN", "bench-token")
        .env("DISCORD_API_BASE", fake.base_url())
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the coordinator binary starts");
    Binary(child)
}

async fn lateness_and_idle(sizes: &Sizes, backend: &Backend) {
    println!(
        "\n2. Duty lateness, real clock: {} duties spread over {} s (posted - due)",
        sizes.lateness_duties, sizes.lateness_spread_secs
    );
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let url = backend.database(dir.path(), "l").await;
    let db = Db::connect(&url).await.expect("db");
    let now = Utc::now();
    let first = DateTime::from_timestamp(now.timestamp() + 3, 0).expect("time");
    // Spread over the window, several per second; each is an overdue alert at its due second.
    let step_ms = sizes.lateness_spread_secs * 1_000 / sizes.lateness_duties.max(1);
    let mut dues = Vec::new();
    {
        for i in 0..sizes.lateness_duties {
            let due = DateTime::from_timestamp(
                (first + chrono::Duration::milliseconds(i * step_ms)).timestamp(),
                0,
            )
            .expect("due");
            dues.push(due);
            sql("INSERT INTO tasks (guild_id, number, title, status, priority, creator_id, channel_id, due_at, created_at, updated_at, due_set_at, duty_cursor, next_duty_at, title_key) VALUES ($1, $2, $3, 'todo', 'normal', 1, $4, $5, $6, $6, $6, $6, $5, $3)")
                .bind(GUILD as i64).bind(i + 1).bind(format!("late {}", i + 1)).bind(10_000 + i % 100).bind(due.timestamp()).bind(now.timestamp())
                .execute(db.on()).await.expect("task");
        }
    }
    db.close().await;
    let anchor = (Instant::now(), Utc::now());
    let bot = start_binary(&fake, &url);
    let expected = sizes.lateness_duties as usize;
    // The fake's own waits stop at 15 s; this one lasts the whole spread.
    let deadline = Instant::now() + Duration::from_secs(sizes.lateness_spread_secs as u64 + 30);
    loop {
        let seen: usize = fake
            .messages()
            .iter()
            .map(|m| {
                m.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .matches("🚨")
                    .count()
            })
            .sum();
        if seen >= expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {seen} of {expected} duties arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut late = Vec::new();
    for message in fake.messages() {
        let posted = anchor.1
            + chrono::Duration::from_std(message.received_at.duration_since(anchor.0))
                .unwrap_or_default();
        for line in message.body["content"].as_str().unwrap_or_default().lines() {
            if let Some(n) = line
                .strip_prefix("🚨 **#")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
            {
                if let Some(due) = dues.get(n - 1) {
                    late.push((posted - *due).num_milliseconds() as f64);
                }
            }
        }
    }
    summary_line("posted - due", late, "ms");
    drop(bot);

    println!(
        "\n   CPU used by the idle bot over {} s with {} pending duties",
        sizes.idle_secs, sizes.idle_pending
    );
    let dir = tempfile::tempdir().expect("dir");
    let url = backend.database(dir.path(), "i").await;
    let db = Db::connect(&url).await.expect("db");
    let now = Utc::now();
    seed(
        &db,
        GUILD,
        sizes.idle_pending,
        100,
        now,
        now + chrono::Duration::days(3),
        1,
    )
    .await;
    db.close().await;
    let fake = FakeDiscord::start().await;
    let bot = start_binary(&fake, &url);
    fake.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cpu_ticks(bot.0.id());
    tokio::time::sleep(Duration::from_secs(sizes.idle_secs)).await;
    let used = cpu_ticks(bot.0.id()) - before;
    println!(
        "  CPU: {:.2} s over {} s idle ({} clock ticks)",
        used as f64 / 100.0,
        sizes.idle_secs,
        used
    );
}

async fn memory(sizes: &Sizes, backend: &Backend) {
    println!("\n6. Memory of the bot process (VmHWM = peak RSS)");
    for (label, tasks) in [
        ("idle, empty database", 0),
        ("with tasks stored", sizes.memory_tasks),
    ] {
        let (_fake, _dir, bot) = settled_binary(backend, tasks, "m").await;
        let pid = bot.0.id();
        println!(
            "  {label:<24} {tasks:>8} tasks: peak RSS {:.1} MB, RSS now {:.1} MB",
            rss_kb(pid, "VmHWM:") as f64 / 1024.0,
            rss_kb(pid, "VmRSS:") as f64 / 1024.0
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--quick");
    let sizes = if full { FULL } else { QUICK };
    let backend = Backend::from_env();
    println!(
        "Coordinator benchmarks ({} sizes, {} build, {}) on {} cores",
        sizes.label,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        backend.label(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    // `cargo bench --bench coordinator -- fanout memory` runs only the named sections.
    let chosen: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| chosen.is_empty() || chosen.iter().any(|c| name.contains(c.as_str()));
    if run("roundtrip") {
        command_round_trip(&sizes, &backend).await;
    }
    let mut failed = 0;
    if run("autocomplete") && !autocomplete_adversarial(&sizes, &backend, full).await {
        failed += 1;
    }
    if run("growth") {
        memory_growth(&sizes, &backend).await;
    }
    if run("lateness") {
        lateness_and_idle(&sizes, &backend).await;
    }
    if run("scheduler") {
        scheduler_cost(&sizes, &backend).await;
    }
    if run("fanout") {
        println!("\n4. Fan-out: {} reminders due at one instant across {} channels (fake enforces 50/s and 5 per 5 s per channel)", sizes.fanout_reminders, sizes.fanout_channels);
        fan_out(&sizes, 5, &backend).await;
        fan_out(&sizes, 1, &backend).await;
    }
    if run("summary") {
        summary_cost(&sizes);
    }
    if run("prompts") {
        println!("\n6. Standup prompts by DM (fake enforces 50/s, and 5 DM opens per second when opening)");
        prompt_fan_out(sizes.prompt_roster, true, &backend).await;
        prompt_fan_out(sizes.prompt_roster_unopened, false, &backend).await;
    }
    if run("memory") {
        memory(&sizes, &backend).await;
    }
    if run("playground") {
        playground_month(if full { 1_000 } else { 100 }).await;
    }
    if failed > 0 {
        println!("\nbenchmarks: FAIL, {failed} regression check(s) over their goal");
        std::process::exit(1);
    }
    println!("\nbenchmarks: 1 passed, 0 failed");
}

/// `coordinator try`'s `wait 30d` over `tasks` open tasks (due on the hour, 09:00–17:00, on the
/// next 28 days): how long the playground takes to step the worker through the month, and that
/// every duty the worker claimed is shown in the transcript exactly once.
async fn playground_month(tasks: usize) {
    use coordinator::playground::Playground;
    println!("\n8. Playground: `wait 30d` with {tasks} open tasks");
    let mut playground = Playground::start().await.expect("playground starts");
    let mut transcript = String::new();
    for i in 0..tasks {
        let day = 2 + i % 28;
        let hour = 9 + (i / 28) % 9;
        let who = ["alice", "bob"][i % 2];
        let line = format!(
            "/task create title:\"Task {}\" due:\"2026-06-{day:02} {hour:02}:00\" assignee:@{who}",
            i + 1
        );
        let outcome = playground.run_line(&line).await;
        assert!(!outcome.refused, "{line}: {}", outcome.text);
        transcript.push_str(&outcome.text);
    }
    let posted_before = playground.posted;
    let steps_before = playground.steps;
    // CPU time too (all threads, in clock ticks of 10 ms): on shared cores the wall clock
    // measures the neighbours as well.
    let ticks_before = cpu_ticks(std::process::id());
    let started = Instant::now();
    let outcome = playground.run_line("wait 30d").await;
    let elapsed = started.elapsed();
    let cpu_ms = (cpu_ticks(std::process::id()) - ticks_before) * 10;
    assert!(!outcome.refused, "{}", outcome.text);
    transcript.push_str(&outcome.text);
    // A duty's line: kind, task and when, up to the assignee.
    let mut seen = std::collections::HashSet::new();
    let mut shown = 0;
    for line in transcript.lines() {
        let line = line.trim_start();
        if !(line.starts_with('⏰') || line.starts_with('🚨')) {
            continue;
        }
        let key = line.split(" — ").next().unwrap_or(line).to_string();
        assert!(seen.insert(key), "shown twice: {line}");
        shown += 1;
    }
    let claimed: i64 = sql("SELECT COUNT(*) FROM duty_claims")
        .scalar(playground.app().db.on())
        .await
        .expect("count claims");
    assert_eq!(shown as i64, claimed, "every duty claimed is shown once");
    let escalations = transcript.matches("🚨🚨 #").count();
    assert_eq!(
        escalations, tasks,
        "each task escalated once within the month"
    );
    println!(
        "   wait 30d: {:.0} ms ({cpu_ms} ms of CPU), {} worker steps, {} duties in {} messages; all {shown} duties shown once",
        elapsed.as_secs_f64() * 1000.0,
        playground.steps - steps_before,
        transcript_duties(&outcome.text),
        playground.posted - posted_before,
    );
    playground.close().await;
}

fn transcript_duties(text: &str) -> usize {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('⏰') || l.starts_with('🚨'))
        .count()
}
