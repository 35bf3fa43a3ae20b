//! Graceful shutdown under load, with the real binary: SIGTERM while slash commands pour in and
//! duties are being posted. Every interaction that reached the bot is answered, nothing is
//! half-written, each duty is either posted and marked sent or still pending, and a restart
//! posts the rest exactly once. The database closes cleanly (integrity ok, WAL checkpointed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use coordinator::domain::task::Priority;
use coordinator::store::{sql, Db, Engine, NewTask};
use serde_json::Value;

use crate::support::fake_discord::FakeDiscord;
use crate::support::interactions::{slash, Caller, Opt};
use crate::support::process::{bot_command, overdue_alerts_per_task as alerts_per_task, terminate};
use crate::support::turns;
use crate::support::wait::{eventually, eventually_every};

const GUILD: u64 = 424_242_424_242_424_243;
const CHANNEL: u64 = 77_000;
/// The seeded tasks' creator, who may comment on them and close them.
const OWNER: u64 = 7;
/// Overdue tasks, one channel each: one alert message per task, paced at 50/s by the bot.
const TASKS: u64 = 300;
/// SIGTERM once this many alerts are posted (and commands answered), mid-delivery.
const SIGNAL_AFTER_MESSAGES: usize = 60;
const SIGNAL_AFTER_ANSWERS: usize = 40;
/// At most this many commands waiting for their answer at a time.
const OUTSTANDING: usize = 24;
const EXIT_BOUND: Duration = Duration::from_secs(20);

/// The binary, its log lines, and a kill on drop so no process outlives a failed test.
struct Bot {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Bot {
    fn start(fake: &FakeDiscord, db_url: &str) -> Bot {
        let mut child = bot_command(
            "shutdown-test-token",
            &fake.base_url(),
            db_url,
            "warn,coordinator=info,coordinator::discord::client=debug",
        )
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().expect("logs").push(strip_ansi(&line));
                }
            });
        }
        Bot { child, logs }
    }

    fn terminate(&self) {
        terminate(self.child.id());
    }

    /// Waits (bounded) for the process to exit; returns its status and how long it took.
    async fn exit(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let (child, logs) = (&mut self.child, &self.logs);
        let status = eventually(
            &format!("the bot to exit, at most {EXIT_BOUND:?} after SIGTERM"),
            EXIT_BOUND,
            || {
                let exited = child.try_wait().expect("wait").ok_or_else(|| {
                    let last = logs.lock().expect("logs");
                    let last: Vec<String> = last.iter().rev().take(30).cloned().collect();
                    format!("still running; last logs:\n{}", last.join("\n"))
                });
                std::future::ready(exited)
            },
        )
        .await;
        (status, started.elapsed())
    }

    fn log_lines(&self) -> Vec<String> {
        self.logs.lock().expect("logs").clone()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Interaction ids the bot logged as received.
fn received_ids(lines: &[String]) -> BTreeSet<u64> {
    lines
        .iter()
        .filter(|l| l.contains("interaction received"))
        .filter_map(|l| {
            let rest = &l[l.find("interaction=")? + "interaction=".len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// Overdue tasks with an alert owed now, `TASKS` channels, created by `OWNER`.
async fn seed(db_url: &str) {
    let db = Db::connect(db_url).await.expect("database");
    let now = Utc::now();
    let due = chrono::DateTime::from_timestamp((now - chrono::Duration::hours(1)).timestamp(), 0)
        .expect("due time");
    for i in 0..TASKS {
        let new = NewTask {
            repeat: None,
            guild_id: GUILD.into(),
            title: format!("seeded task {}", i + 1),
            description: None,
            priority: Priority::Normal,
            project: None,
            assignee_id: Some(OWNER.into()),
            creator_id: OWNER.into(),
            channel_id: (10_000 + i).into(),
            due_at: Some(due),
        };
        db.create_task(&new, now - chrono::Duration::hours(2))
            .await
            .expect("task");
    }
    db.close().await;
}

#[derive(Debug, Clone)]
enum Load {
    Create(String),
    Comment(i64, String),
    Done(i64),
}

/// The `k`-th command of the load: mostly creates, with comments and closes of seeded tasks.
fn load_command(k: usize) -> Load {
    match k % 4 {
        0 | 1 => Load::Create(format!("load task {k}")),
        2 => Load::Comment((k % TASKS as usize) as i64 + 1, format!("load note {k}")),
        // Each seeded task is closed at most once (k/4 is distinct per k ≡ 3 mod 4).
        _ => Load::Done(((k / 4) % TASKS as usize) as i64 + 1),
    }
}

fn interaction(command: &Load) -> (u64, Value) {
    let caller = Caller::member(GUILD, CHANNEL, OWNER);
    match command {
        Load::Create(title) => slash(
            &caller,
            &["task", "create"],
            vec![Opt::Str("title", title.clone())],
        ),
        Load::Comment(task, text) => slash(
            &caller,
            &["task", "comment"],
            vec![Opt::Int("task", *task), Opt::Str("text", text.clone())],
        ),
        Load::Done(task) => slash(&caller, &["task", "done"], vec![Opt::Int("task", *task)]),
    }
}

/// The answer's text if the interaction was answered (a deferred one only once edited in).
fn answer(fake: &FakeDiscord, id: u64) -> Option<String> {
    let response = fake.try_response(id)?;
    if response["type"] == 5 {
        let edit = fake.original_edits_for(id).into_iter().last()?;
        return Some(edit["content"].as_str().unwrap_or_default().to_string());
    }
    Some(
        response["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// A SQLite file the bot closed cleanly has an empty write-ahead log (PostgreSQL has none to
/// check from outside).
fn assert_wal_checkpointed(db_url: &str) {
    let Some(path) = db_url.strip_prefix("sqlite://") else {
        return;
    };
    let wal = format!("{path}-wal");
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(size, 0, "{wal} left with {size} bytes");
}

#[tokio::test]
async fn sigterm_under_load_answers_what_arrived_and_leaves_nothing_half_done() {
    let dir = tempfile::tempdir().expect("temp dir");
    sigterm_under_load(&format!(
        "sqlite://{}",
        dir.path().join("shutdown.db").display()
    ))
    .await;
}

#[cfg(postgres_tests)]
#[tokio::test]
async fn sigterm_under_load_on_postgres_answers_what_arrived_and_leaves_nothing_half_done() {
    sigterm_under_load(&crate::support::database::fresh_postgres_database().await).await;
}

async fn sigterm_under_load(db_url: &str) {
    // Bounds how long the stop takes, and its figures are the record: alone.
    let _alone = turns::exclusive().await;
    let db_url = db_url.to_owned();
    let fake = FakeDiscord::start().await;
    seed(&db_url).await;

    let mut bot = Bot::start(&fake, &db_url);
    fake.wait_ready().await;

    // Commands pour in while the worker posts alerts; they stop at the signal.
    let stop = Arc::new(AtomicBool::new(false));
    let injected: Arc<Mutex<Vec<(u64, Load)>>> = Arc::new(Mutex::new(Vec::new()));
    let injector = {
        let (fake, stop, injected) = (fake.clone(), Arc::clone(&stop), Arc::clone(&injected));
        tokio::spawn(async move {
            let mut k = 0;
            while !stop.load(Ordering::SeqCst) {
                let outstanding = {
                    let sent = injected.lock().expect("injected");
                    sent.iter()
                        .filter(|(id, _)| fake.try_response(*id).is_none())
                        .count()
                };
                if outstanding >= OUTSTANDING {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                let command = load_command(k);
                k += 1;
                let (id, payload) = interaction(&command);
                // Recorded first: an interaction on the socket when the signal lands counts.
                injected.lock().expect("injected").push((id, command));
                if !fake.try_inject(payload).await {
                    break;
                }
            }
        })
    };
    fake.wait_until("alerts and answers before the signal", |f| {
        let answered = injected
            .lock()
            .expect("injected")
            .iter()
            .filter(|(id, _)| f.try_response(*id).is_some())
            .count();
        (f.messages().len() >= SIGNAL_AFTER_MESSAGES && answered >= SIGNAL_AFTER_ANSWERS)
            .then_some(())
    })
    .await;
    bot.terminate();
    stop.store(true, Ordering::SeqCst);
    let posted_at_signal = fake.messages().len();
    let (status, took) = bot.exit().await;
    assert!(status.success(), "clean exit: {status:?}");
    injector.await.expect("injector");
    let logs = bot.log_lines();
    assert!(logs.iter().any(|l| l.contains("stopped")), "{logs:?}");

    // Every interaction that reached the bot was answered, and none with an apology.
    let injected = injected.lock().expect("injected").clone();
    let received = received_ids(&logs);
    let ids: BTreeSet<u64> = injected.iter().map(|(id, _)| *id).collect();
    assert!(received.is_subset(&ids), "the bot saw only what was sent");
    assert!(received.len() >= SIGNAL_AFTER_ANSWERS);
    let mut unanswered = Vec::new();
    for id in &received {
        match answer(&fake, *id) {
            Some(text) => assert!(
                !text.contains("Something went wrong"),
                "interaction {id} got an apology: {text}"
            ),
            None => unanswered.push(*id),
        }
    }
    assert!(
        unanswered.is_empty(),
        "received but never answered: {unanswered:?}"
    );

    // The database closed cleanly, and nothing is half-done.
    assert_wal_checkpointed(&db_url);
    let db = Db::connect(&db_url).await.expect("open database");
    if db.engine() == Engine::Sqlite {
        let integrity: String = sql("PRAGMA integrity_check")
            .scalar(db.on())
            .await
            .expect("integrity check");
        assert_eq!(integrity, "ok");
    }
    let orphans: i64 = sql("SELECT COUNT(*) FROM tasks t WHERE NOT EXISTS \
         (SELECT 1 FROM task_history h WHERE h.task_id = t.id AND h.action = 'created')")
    .scalar(db.on())
    .await
    .expect("orphans");
    assert_eq!(orphans, 0, "a task without its history row");
    let mut effects = 0;
    for (id, command) in &injected {
        let happened = match command {
            Load::Create(title) => {
                let n: i64 = sql("SELECT COUNT(*) FROM tasks WHERE title = $1")
                    .bind(title)
                    .scalar(db.on())
                    .await
                    .expect("tasks");
                assert!(n <= 1, "{title} created {n} times");
                n == 1
            }
            Load::Comment(_, text) => {
                let n: i64 = sql(
                    "SELECT COUNT(*) FROM task_history WHERE action = 'commented' AND detail = $1",
                )
                .bind(text)
                .scalar(db.on())
                .await
                .expect("comments");
                assert!(n <= 1, "{text} recorded {n} times");
                n == 1
            }
            Load::Done(number) => {
                let status: String =
                    sql("SELECT status FROM tasks WHERE guild_id = $1 AND number = $2")
                        .bind(GUILD as i64)
                        .bind(*number)
                        .scalar(db.on())
                        .await
                        .expect("status");
                status == "done"
            }
        };
        // An effect without an answer would be a command cut off half-way.
        let answered = answer(&fake, *id).is_some();
        assert_eq!(
            happened, answered,
            "interaction {id} ({command:?}): effect {happened}, answered {answered}"
        );
        effects += usize::from(happened);
    }

    // Each posted alert is marked sent with its message; nothing is posted but still pending.
    let rows: Vec<(i64, String, String, Option<i64>)> =
        sql("SELECT id, kind, state, message_id FROM outbox ORDER BY id")
            .fetch_all(db.on())
            .await
            .expect("outbox");
    let posted: BTreeMap<String, u64> = fake
        .messages()
        .into_iter()
        .filter_map(|m| Some((m.body["nonce"].as_str()?.to_string(), m.id)))
        .collect();
    let (mut sent, mut pending) = (0, 0);
    for (id, kind, state, message_id) in &rows {
        if kind != "post" {
            continue;
        }
        let message = posted.get(&format!("c{id}"));
        match state.as_str() {
            "sent" => {
                sent += 1;
                assert_eq!(
                    message.map(|m| *m as i64),
                    *message_id,
                    "outbox {id} marked sent without its message"
                );
            }
            "pending" => {
                pending += 1;
                assert!(message.is_none(), "outbox {id} posted but left pending");
            }
            other => panic!("outbox {id} is {other}"),
        }
    }
    assert_eq!(sent, posted.len(), "every posted message is a sent row");
    assert!(pending > 0, "the signal came mid-delivery ({sent} sent)");
    db.close().await;

    // A restart posts the rest, each alert once, without leaning on nonce de-duplication.
    let mut again = Bot::start(&fake, &db_url);
    let db = Db::connect(&db_url).await.expect("open database");
    let pending_db = &db;
    eventually_every(
        "the restarted bot to send every pending outbox row",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async move {
            let pending: i64 = sql("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .scalar(pending_db.on())
                .await
                .expect("pending rows");
            if pending == 0 {
                Ok(())
            } else {
                Err(format!("{pending} rows still pending after the restart"))
            }
        },
    )
    .await;
    let open_tasks: BTreeSet<u64> =
        sql("SELECT number FROM tasks WHERE guild_id = $1 AND status <> 'done' AND number <= $2")
            .bind(GUILD as i64)
            .bind(TASKS as i64)
            .scalars::<i64>(db.on())
            .await
            .expect("open tasks")
            .into_iter()
            .map(|n| n as u64)
            .collect();
    db.close().await;
    again.terminate();
    let (status, took_again) = again.exit().await;
    assert!(status.success(), "clean exit: {status:?}");
    let alerts = alerts_per_task(&fake);
    let twice: Vec<_> = alerts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    let missing: Vec<_> = open_tasks
        .iter()
        .filter(|n| !alerts.contains_key(n))
        .collect();
    assert!(missing.is_empty(), "open tasks never alerted: {missing:?}");
    assert_eq!(
        fake.deduplicated(),
        0,
        "no resend of a message already posted"
    );
    assert_wal_checkpointed(&db_url);

    let lost_at_gateway = ids.len() - received.len();
    eprintln!(
        "shutdown test ({}): {} commands injected, {} reached the bot and all were answered \
         ({effects} with effects), {lost_at_gateway} still on the socket when it closed (no \
         effect); SIGTERM after {posted_at_signal} of {TASKS} alerts, {sent} sent + {pending} \
         pending at exit; exit took {took:?} (restart: {took_again:?}); 0 lost, 0 duplicated",
        if db_url.starts_with("sqlite:") {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        ids.len(),
        received.len(),
    );
}
