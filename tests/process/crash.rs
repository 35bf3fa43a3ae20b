//! The real binary, real clock: duties survive SIGKILL exactly once, and arrive on time.

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use coordinator::domain::task::Priority;
use coordinator::store::{sql, Db, Engine, NewTask};

use crate::support::fake_discord::{FakeDiscord, PostedMessage};
use crate::support::process::{bot_command, overdue_alerts_per_task as alerts_per_task};
use crate::support::rng::SplitMix as Rng;
use crate::support::turns;
use crate::support::wait::eventually_every;

const GUILD: u64 = 424_242_424_242_424_242;
const TASKS: u64 = 240;
const CHANNELS: u64 = 60;

/// Kills the bot if the test fails half-way, so no process outlives it.
struct Bot(Child);

impl Bot {
    fn start(fake: &FakeDiscord, db_url: &str) -> Bot {
        let child = bot_command("crash-test-token", &fake.base_url(), db_url, "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts");
        Bot(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Tasks due `due_in` from now (each owes one overdue alert); returns the stored due time.
async fn seed(db_url: &str, count: u64, due_in: chrono::Duration) -> chrono::DateTime<Utc> {
    let db = Db::connect(db_url).await.expect("database");
    let now = Utc::now();
    // Stored in whole seconds, as every due time is.
    let due = chrono::DateTime::from_timestamp((now + due_in).timestamp(), 0).expect("due time");
    for i in 0..count {
        let new = NewTask {
            repeat: None,
            guild_id: GUILD.into(),
            title: format!("crash task {}", i + 1),
            description: None,
            priority: Priority::Normal,
            project: None,
            assignee_id: Some(7.into()),
            creator_id: 7.into(),
            channel_id: (10_000 + i % CHANNELS).into(),
            due_at: Some(due),
        };
        let created = if due_in < chrono::Duration::zero() {
            now - chrono::Duration::hours(2)
        } else {
            now
        };
        db.create_task(&new, created).await.expect("task");
    }
    db.close().await;
    due
}

#[tokio::test]
async fn sigkill_during_delivery_loses_nothing_and_posts_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    sigkill_during_delivery(&format!("sqlite://{}/crash.db", dir.path().display())).await;
}

#[cfg(postgres_tests)]
#[tokio::test]
async fn sigkill_during_delivery_on_postgres_loses_nothing_and_posts_nothing_twice() {
    sigkill_during_delivery(&crate::support::database::fresh_postgres_database().await).await;
}

async fn sigkill_during_delivery(db_url: &str) {
    let db_url = db_url.to_owned();
    let fake = FakeDiscord::start().await;
    seed(&db_url, TASKS, -chrono::Duration::hours(1)).await;

    let mut kills = Vec::new();
    for kill_after in [5_usize, 20, 40] {
        let mut bot = Bot::start(&fake, &db_url);
        fake.wait_until("messages before the kill", |f| {
            (f.messages().len() >= kill_after).then_some(())
        })
        .await;
        bot.kill();
        kills.push(fake.messages().len());
    }
    let _bot = Bot::start(&fake, &db_url);
    let alerts = fake
        .wait_until("every duty delivered", |f| {
            let seen = alerts_per_task(f);
            (seen.len() as u64 == TASKS).then_some(seen)
        })
        .await;
    let twice: Vec<_> = alerts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    assert_eq!(
        alerts.keys().copied().collect::<Vec<_>>(),
        (1..=TASKS).collect::<Vec<_>>()
    );
    eprintln!(
        "crash test ({}): {TASKS} duties in {} messages, killed after {kills:?} messages, \
         {} resends de-duplicated by nonce, 0 lost, 0 duplicated",
        engine_name(&db_url),
        fake.messages().len(),
        fake.deduplicated()
    );
}

#[tokio::test]
async fn with_the_real_clock_an_overdue_alert_arrives_on_time() {
    // Measures lateness on the real clock: alone.
    let _alone = turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}/clock.db", dir.path().display());
    let due = seed(&db_url, 1, chrono::Duration::seconds(4)).await;
    let _bot = Bot::start(&fake, &db_url);
    let started = Instant::now();
    fake.wait_until("the overdue alert", |f| {
        (!alerts_per_task(f).is_empty()).then_some(())
    })
    .await;
    let lateness = Utc::now() - due;
    eprintln!(
        "real clock: overdue alert observed {} ms after its due time (bound asserted: 15 s)",
        lateness.num_milliseconds()
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(lateness < chrono::Duration::seconds(15));
}

// ----- Mixed load: commands, buttons and duties, killed at random moments -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Create,
    Assign,
    Start,
    Done,
    Reopen,
    Block,
    Comment,
    Edit,
    Delete,
    ButtonDone,
    ButtonSnooze,
    Show,
}

impl Kind {
    /// The history action an applied command writes (`None`: it writes nothing).
    fn action(self) -> Option<&'static str> {
        Some(match self {
            Kind::Create => "created",
            Kind::Assign => "assigned",
            Kind::Start => "started",
            Kind::Done | Kind::ButtonDone => "done",
            Kind::Reopen => "reopened",
            Kind::Block => "blocked",
            Kind::Comment => "commented",
            Kind::Edit => "edited",
            Kind::Delete => "deleted",
            Kind::ButtonSnooze => "snoozed",
            Kind::Show => return None,
        })
    }
}

/// One interaction the driver injected.
struct Sent {
    id: u64,
    kind: Kind,
    task: Option<i64>,
    /// A text only this command writes (a create's title, a block reason, a comment).
    unique: Option<String>,
}

/// What the bot answered: `Some(applied)` once the answer is final, `None` if there is none.
fn outcome(fake: &FakeDiscord, sent: &Sent) -> Option<(bool, String)> {
    let response = fake.try_response(sent.id)?;
    let (data, flags) = match response["type"].as_u64() {
        // Deferred: the answer is the edit of @original, if it came.
        Some(5) | Some(6) => {
            let edit = fake.original_edits_for(sent.id).into_iter().next()?;
            (edit, response["data"]["flags"].as_u64().unwrap_or(0))
        }
        _ => {
            let data = response["data"].clone();
            let flags = data["flags"].as_u64().unwrap_or(0);
            (data, flags)
        }
    };
    let content = data["content"].as_str().unwrap_or_default().to_string();
    let applied = match sent.kind {
        // The snooze and Mark done confirmations are private even when they worked (Mark done
        // edits the reminder itself).
        Kind::ButtonSnooze => content.contains("Snoozed"),
        Kind::ButtonDone => content.contains("is done"),
        Kind::Show => false,
        _ => flags & 64 == 0,
    };
    Some((applied, content))
}

struct Driver {
    rng: Rng,
    sent: Vec<Sent>,
    /// Task numbers known to exist: seeded ones, and those of answered creates.
    highest: i64,
    seq: u64,
}

const MIX_CHANNEL: u64 = 20_000;
const MIX_USER: u64 = 31;
const MIX_ASSIGNEE: u64 = 32;

/// Builds the next interaction, records it, injects it and waits a bounded time for its answer.
async fn drive_one(fake: &FakeDiscord, driver: &std::sync::Mutex<Driver>) {
    use crate::support::interactions::{button, slash, Caller, Opt, ADMINISTRATOR};
    let caller = Caller::member(GUILD, MIX_CHANNEL, MIX_USER).with_permissions(ADMINISTRATOR);
    let (sent_at, interaction) = {
        let mut d = driver.lock().expect("driver");
        d.seq += 1;
        let seq = d.seq;
        let pick = d.rng.range(0, 100);
        let highest = d.highest as u64;
        let task = d.rng.range(1, highest + 2) as i64;
        let posted: Vec<PostedMessage> = fake.messages();
        let (kind, unique, built) = match pick {
            0..=24 => {
                let title = format!("mix {seq}");
                let mut options = vec![Opt::Str("title", title.clone())];
                if seq.is_multiple_of(3) {
                    options.push(Opt::Str("due", "in 3 days".into()));
                }
                (
                    Kind::Create,
                    Some(title),
                    slash(&caller, &["task", "create"], options),
                )
            }
            25..=32 => (
                Kind::Assign,
                None,
                slash(
                    &caller,
                    &["task", "assign"],
                    vec![Opt::Int("task", task), Opt::User("assignee", MIX_ASSIGNEE)],
                ),
            ),
            33..=39 => (
                Kind::Start,
                None,
                slash(&caller, &["task", "start"], vec![Opt::Int("task", task)]),
            ),
            40..=49 => (
                Kind::Done,
                None,
                slash(&caller, &["task", "done"], vec![Opt::Int("task", task)]),
            ),
            50..=55 => (
                Kind::Reopen,
                None,
                slash(&caller, &["task", "reopen"], vec![Opt::Int("task", task)]),
            ),
            56..=61 => {
                let reason = format!("reason {seq}");
                (
                    Kind::Block,
                    Some(reason.clone()),
                    slash(
                        &caller,
                        &["task", "block"],
                        vec![Opt::Int("task", task), Opt::Str("reason", reason)],
                    ),
                )
            }
            62..=71 => {
                let text = format!("comment {seq}");
                (
                    Kind::Comment,
                    Some(text.clone()),
                    slash(
                        &caller,
                        &["task", "comment"],
                        vec![Opt::Int("task", task), Opt::Str("text", text)],
                    ),
                )
            }
            72..=78 => (
                Kind::Edit,
                None,
                slash(
                    &caller,
                    &["task", "edit"],
                    vec![
                        Opt::Int("task", task),
                        Opt::Str("title", format!("edited {seq}")),
                        Opt::Str("priority", "high".into()),
                    ],
                ),
            ),
            79..=80 => (
                Kind::Delete,
                None,
                slash(&caller, &["task", "delete"], vec![Opt::Int("task", task)]),
            ),
            81..=95 if !posted.is_empty() => {
                // A button on a duty message the fake holds, as Discord would send it.
                let message = &posted[d.rng.range(0, posted.len() as u64) as usize];
                let ids: Vec<String> = message.body["components"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
                    .filter_map(|b| b["custom_id"].as_str().map(String::from))
                    .collect();
                let Some(done) = ids.first().cloned() else {
                    return;
                };
                let (kind, custom_id) = if pick.is_multiple_of(3) {
                    (
                        Kind::ButtonSnooze,
                        done.replace("duty:done:", "duty:snooze:"),
                    )
                } else {
                    (Kind::ButtonDone, done)
                };
                let on = caller.clone().in_channel(message.channel_id);
                let full = fake.message(message.id).expect("posted message");
                let built = crate::support::interactions::button_on_message(&on, &custom_id, full);
                (kind, None, (built.0, built.1))
            }
            81..=95 => (
                Kind::ButtonSnooze,
                None,
                button(&caller, &format!("duty:snooze:{task}"), 1),
            ),
            _ => (
                Kind::Show,
                None,
                slash(&caller, &["task", "show"], vec![Opt::Int("task", task)]),
            ),
        };
        let number = match kind {
            Kind::Create | Kind::Show => None,
            Kind::ButtonDone | Kind::ButtonSnooze => built.1["data"]["custom_id"]
                .as_str()
                .and_then(|c| c.rsplit(':').next())
                .and_then(|n| n.parse().ok()),
            _ => Some(task),
        };
        d.sent.push(Sent {
            id: built.0,
            kind,
            task: number,
            unique,
        });
        (d.sent.len() - 1, built.1)
    };
    fake.inject(interaction).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let answer = {
            let d = driver.lock().expect("driver");
            outcome(fake, &d.sent[sent_at])
        };
        if let Some((applied, content)) = answer {
            let mut d = driver.lock().expect("driver");
            if applied && d.sent[sent_at].kind == Kind::Create {
                let number: Option<i64> = content
                    .split('#')
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|n| n.parse().ok());
                if let Some(number) = number {
                    d.highest = d.highest.max(number);
                }
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// Two lanes of commands and buttons, forever (the caller stops them by dropping the future).
async fn drive(fake: &FakeDiscord, driver: &std::sync::Mutex<Driver>) {
    let lane = || async {
        loop {
            drive_one(fake, driver).await;
        }
    };
    tokio::join!(lane(), lane());
}

/// How often each task number appears in an overdue alert: every duty message the fake
/// accepted, a nonce resend counted once (the fake hands back the first message).
fn alert_counts(fake: &FakeDiscord) -> BTreeMap<i64, usize> {
    alerts_per_task(fake)
        .into_iter()
        .map(|(n, c)| (n as i64, c))
        .collect()
}

/// A task as its history rows tell it.
#[derive(Default)]
struct Replayed {
    status: &'static str,
    reason: Option<String>,
    /// `Some` once an assign or unassign row exists: the assignee it left.
    assignee: Option<Option<String>>,
    title: String,
    edited: bool,
    deleted: bool,
}

/// What the checks found, for the record.
#[derive(Default, Debug)]
struct Figures {
    answered: usize,
    applied: usize,
    unanswered: usize,
    unanswered_applied: usize,
    tasks: i64,
    history: i64,
}

/// Every invariant of a database the bot was killed on.
async fn check_consistency(db_url: &str, fake: &FakeDiscord, driver: &Driver) -> Figures {
    let db = Db::connect(db_url).await.expect("database reopens");
    if db.engine() == Engine::Sqlite {
        let integrity: String = sql("PRAGMA integrity_check")
            .scalar(db.on())
            .await
            .expect("integrity check");
        assert_eq!(integrity, "ok");
    }
    let numbers: Vec<i64> = sql("SELECT number FROM tasks WHERE guild_id = $1 ORDER BY number")
        .bind(GUILD as i64)
        .scalars(db.on())
        .await
        .expect("numbers");
    assert_eq!(
        numbers,
        (1..=numbers.len() as i64).collect::<Vec<_>>(),
        "task numbers are 1..=N: no gap, no duplicate"
    );
    let without_creation: i64 = sql(
        "SELECT COUNT(*) FROM tasks t WHERE (SELECT COUNT(*) FROM task_history h \
         WHERE h.task_id = t.id AND h.action = 'created') <> 1",
    )
    .scalar(db.on())
    .await
    .expect("creation rows");
    assert_eq!(
        without_creation, 0,
        "every task has exactly one creation row"
    );
    let rows: Vec<(i64, String, String)> = sql(
        "SELECT t.number, h.action, h.detail FROM task_history h JOIN tasks t ON t.id = h.task_id",
    )
    .fetch_all(db.on())
    .await
    .expect("history");
    let mut per_action: BTreeMap<(i64, String), usize> = BTreeMap::new();
    let mut per_detail: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for (number, action, detail) in &rows {
        let (number, action, detail) = (*number, action.clone(), detail.clone());
        *per_action.entry((number, action.clone())).or_default() += 1;
        per_detail.entry((action, detail)).or_default().push(number);
    }
    let mut figures = Figures {
        tasks: numbers.len() as i64,
        history: rows.len() as i64,
        ..Figures::default()
    };
    // (task, action) -> (applied answered, unanswered)
    let mut expected: BTreeMap<(i64, &str), (usize, usize)> = BTreeMap::new();
    for sent in &driver.sent {
        let answer = outcome(fake, sent);
        match &answer {
            Some((applied, _)) => {
                figures.answered += 1;
                figures.applied += usize::from(*applied);
            }
            None => figures.unanswered += 1,
        }
        let Some(action) = sent.kind.action() else {
            continue;
        };
        if let Some(unique) = &sent.unique {
            let found = per_detail
                .get(&(action.to_string(), unique.clone()))
                .cloned()
                .unwrap_or_default();
            match &answer {
                Some((true, content)) => {
                    assert_eq!(found.len(), 1, "{action} {unique:?} answered: once");
                    if sent.kind == Kind::Create {
                        assert!(
                            content.contains(&format!("#{} ", found[0])),
                            "the answered number is the stored one: {content}"
                        );
                    }
                }
                Some((false, content)) => {
                    assert!(
                        found.is_empty(),
                        "refused {unique:?} changed data: {content}"
                    )
                }
                None => {
                    assert!(found.len() <= 1, "unanswered {unique:?} applied twice");
                    figures.unanswered_applied += found.len();
                }
            }
        }
        if let Some(task) = sent.task {
            let entry = expected.entry((task, action)).or_default();
            match answer {
                Some((true, _)) => entry.0 += 1,
                Some((false, _)) => {}
                None => entry.1 += 1,
            }
        }
    }
    for ((task, action), count) in &per_action {
        if action == "created" {
            continue;
        }
        let (applied, unanswered) = expected
            .get(&(*task, action.as_str()))
            .copied()
            .unwrap_or_default();
        assert!(
            (applied..=applied + unanswered).contains(count),
            "task #{task}: {count} {action} rows for {applied} answered and {unanswered} \
             unanswered commands"
        );
    }
    for ((task, action), (applied, _)) in &expected {
        let count = per_action
            .get(&(*task, action.to_string()))
            .copied()
            .unwrap_or(0);
        assert!(
            count >= *applied,
            "task #{task}: {applied} answered {action} commands but {count} rows"
        );
    }
    // Each task's row is what its history says happened to it: no change without its history
    // row, no history row without its change.
    #[allow(clippy::type_complexity)]
    let states: Vec<(i64, i64, String, Option<String>, Option<i64>, String, bool)> = sql(
        "SELECT id, number, status, blocked_reason, assignee_id, title, deleted_at IS NOT NULL \
         FROM tasks WHERE guild_id = $1",
    )
    .bind(GUILD as i64)
    .fetch_all(db.on())
    .await
    .expect("task states");
    let history: Vec<(i64, String, String)> =
        sql("SELECT task_id, action, detail FROM task_history ORDER BY id")
            .fetch_all(db.on())
            .await
            .expect("history in order");
    let mut replayed: BTreeMap<i64, Replayed> = BTreeMap::new();
    for (task_id, action, detail) in history {
        let entry = replayed.entry(task_id).or_default();
        match action.as_str() {
            "created" => entry.title = detail,
            "started" => entry.status = "in_progress",
            "done" => entry.status = "done",
            "reopened" => entry.status = "todo",
            "blocked" => {
                entry.status = "blocked";
                entry.reason = Some(detail);
            }
            "assigned" => entry.assignee = Some(detail.strip_prefix("user:").map(String::from)),
            "unassigned" => entry.assignee = Some(None),
            "edited" => entry.edited = true,
            "deleted" => entry.deleted = true,
            _ => {}
        }
    }
    for (id, number, stored_status, reason, assignee_id, title, deleted) in states {
        let expected = replayed.remove(&id).unwrap_or_default();
        let status = if expected.status.is_empty() {
            "todo"
        } else {
            expected.status
        };
        assert_eq!(stored_status, status, "task #{number}: status");
        if status == "blocked" {
            assert_eq!(reason, expected.reason, "task #{number}");
        }
        if let Some(assignee) = expected.assignee {
            let stored = assignee_id.map(|a| (a as u64).to_string());
            assert_eq!(stored, assignee, "task #{number}: assignee");
        }
        if !expected.edited {
            assert_eq!(
                title, expected.title,
                "task #{number}: title without an edit row"
            );
        }
        assert_eq!(deleted, expected.deleted, "task #{number}: deleted");
    }
    let twice: Vec<_> = alert_counts(fake)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "alerts posted twice: {twice:?}");
    db.close().await;
    figures
}

/// Open tasks whose due time has passed: each is owed its overdue alert.
async fn owed_alerts(db_url: &str, now: i64) -> Vec<i64> {
    let db = Db::connect(db_url).await.expect("database");
    let owed = sql(
        "SELECT number FROM tasks WHERE guild_id = $1 AND status <> 'done' \
         AND deleted_at IS NULL AND due_at IS NOT NULL AND due_at <= $2 ORDER BY number",
    )
    .bind(GUILD as i64)
    .bind(now)
    .scalars(db.on())
    .await
    .expect("owed alerts");
    db.close().await;
    owed
}

const MIX_KILLS: usize = 20;
const MIX_SEEDED: u64 = 120;

#[tokio::test]
async fn sigkill_under_mixed_load_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    sigkill_under_mixed_load(&format!("sqlite://{}/mixed.db", dir.path().display())).await;
}

#[cfg(postgres_tests)]
#[tokio::test]
async fn sigkill_under_mixed_load_on_postgres_loses_and_doubles_nothing() {
    sigkill_under_mixed_load(&crate::support::database::fresh_postgres_database().await).await;
}

/// "SQLite" or "PostgreSQL", for the figures a test prints.
fn engine_name(db_url: &str) -> &'static str {
    match coordinator::store::engine_of(db_url) {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
    }
}

async fn sigkill_under_mixed_load(db_url: &str) {
    // Times its load and its kills, and its figures are the record: alone.
    let _alone = turns::exclusive().await;
    let db_url = db_url.to_owned();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64);
    eprintln!("mixed-load crash test: seed {seed} (replay with CRASH_SEED={seed})");
    let fake = FakeDiscord::start().await;
    // Duties fall due all through the run: a backlog, then one every ~150 ms.
    let start = Utc::now();
    {
        let db = Db::connect(&db_url).await.expect("database");
        for i in 0..MIX_SEEDED {
            let due_secs = -20 + (i as i64 * 40) / MIX_SEEDED as i64;
            let due = chrono::DateTime::from_timestamp(start.timestamp() + due_secs, 0)
                .expect("due time");
            let new = NewTask {
                repeat: None,
                guild_id: GUILD.into(),
                title: format!("seeded {}", i + 1),
                description: None,
                priority: Priority::Normal,
                project: None,
                assignee_id: Some(MIX_ASSIGNEE.into()),
                creator_id: MIX_USER.into(),
                channel_id: (10_000 + i % 6).into(),
                due_at: Some(due),
            };
            db.create_task(&new, start - chrono::Duration::hours(2))
                .await
                .expect("seeded task");
        }
        db.close().await;
    }
    let last_due = start.timestamp() + 20;
    let mut driver = std::sync::Mutex::new(Driver {
        rng: Rng(seed),
        sent: Vec::new(),
        highest: MIX_SEEDED as i64,
        seq: 0,
    });
    let started = Instant::now();
    let mut kill_points = Vec::new();
    let mut after_message_kills = 0;
    for cycle in 0..MIX_KILLS {
        let identified = fake.identify_count();
        let mut bot = Bot::start(&fake, &db_url);
        fake.wait_identified(identified + 1).await;
        let (run_for, right_after) = {
            let mut d = driver.lock().expect("driver");
            (
                Duration::from_millis(if cycle % 2 == 0 {
                    d.rng.range(100, 900)
                } else {
                    2_000
                }),
                Duration::from_micros(d.rng.range(0, 500)),
            )
        };
        // Every other kill lands just after a duty message was accepted, where the outbox row
        // is most likely not yet marked sent: the restart must resend it with the same nonce.
        let messages_before = fake.messages().len();
        let after_a_message = async {
            if cycle % 2 == 0 {
                std::future::pending::<()>().await;
            }
            while fake.messages().len() == messages_before {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(right_after).await;
        };
        let started_load = Instant::now();
        tokio::select! {
            () = drive(&fake, &driver) => unreachable!("the driver runs until stopped"),
            () = tokio::time::sleep(run_for) => {}
            () = after_a_message => { after_message_kills += 1; }
        }
        bot.kill();
        let run_for = started_load.elapsed();
        kill_points.push(run_for.as_millis());
        // The driver is stopped: nothing else holds its state now.
        let d = driver.get_mut().expect("driver");
        check_consistency(&db_url, &fake, d).await;
    }

    // The last run is not killed: every owed alert arrives, once.
    let identified = fake.identify_count();
    let _bot = Bot::start(&fake, &db_url);
    fake.wait_identified(identified + 1).await;
    {
        let (db_url, fake) = (&db_url, &fake);
        eventually_every(
            "every owed alert to be posted",
            Duration::from_secs(40),
            Duration::from_millis(100),
            || async move {
                let now = Utc::now().timestamp();
                let owed = owed_alerts(db_url, now).await;
                let counts = alert_counts(fake);
                let missing: Vec<i64> = owed
                    .iter()
                    .copied()
                    .filter(|n| !counts.contains_key(n))
                    .collect();
                if now > last_due + 1 && missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("owed alerts never posted: {missing:?}"))
                }
            },
        )
        .await;
    }
    let figures = check_consistency(&db_url, &fake, driver.get_mut().expect("driver")).await;
    let counts = alert_counts(&fake);
    let posted: usize = counts.values().sum();
    assert!(counts.values().all(|n| *n == 1));
    let pending: i64 = {
        let db = Db::connect(&db_url).await.expect("database");
        let n = sql("SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND kind = 'post'")
            .scalar(db.on())
            .await
            .expect("outbox");
        db.close().await;
        n
    };
    assert_eq!(pending, 0, "every claimed duty message was sent");
    eprintln!(
        "mixed-load crash test ({}, seed {seed}): {MIX_KILLS} SIGKILLs after {kill_points:?} ms of \
         load ({after_message_kills} right after a duty message); {} interactions injected, \
         {} answered ({} applied), {} unanswered of which {} applied whole and the rest not \
         at all; {} tasks, {} history rows; {posted} overdue \
         alerts posted in {} messages, {} resends de-duplicated by nonce; consistent after \
         every kill; lost 0, duplicated 0; {:.1} s",
        engine_name(&db_url),
        driver.lock().expect("driver").sent.len(),
        figures.answered,
        figures.applied,
        figures.unanswered,
        figures.unanswered_applied,
        figures.tasks,
        figures.history,
        fake.messages().len(),
        fake.deduplicated(),
        started.elapsed().as_secs_f64()
    );
}
