//! Storage faults: the database opened read-only, locked by another connection past the busy
//! timeout, or full. Each time the user gets a clear ephemeral reply
//! that says nothing was changed, the data is exactly as before (no task without its history
//! row), the duties worker claims nothing it cannot keep, and once the fault clears the same
//! command succeeds and the due reminder is posted exactly once.

use std::time::Instant;

use chrono::Duration;
use serde_json::Value;
use sqlx::{Connection, Executor, SqliteConnection};

use crate::support::bot::*;
use crate::support::interactions::{s, slash, Opt};
use crate::support::turns;
use crate::support::wait::eventually_every;

/// When the 24 h reminder of a task due "in 2 days" falls due.
fn reminder_time() -> chrono::DateTime<chrono::Utc> {
    start_time() + Duration::hours(24)
}

/// A task due in two days, whose first reminder falls due at [`reminder_time`].
async fn dated_task(bot: &TestBot) -> i64 {
    bot.create_task(
        &member(ALICE),
        "Ship the release",
        vec![Opt::User("assignee", ALICE), s("due", "in 2 days")],
    )
    .await
}

/// Tables the duties worker writes, as text: a failed step must leave them as they were.
async fn duty_state(bot: &TestBot) -> String {
    let mut out = String::new();
    for table in ["outbox", "duty_claims", "standup_runs"] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(bot.pool())
            .await
            .expect("count duty rows");
        out.push_str(&format!("{table}: {count}\n"));
    }
    out
}

/// Every task has its "created" history row, and no history row lacks its task.
async fn assert_tasks_have_history(bot: &TestBot) {
    let orphans: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM tasks t WHERE NOT EXISTS \
           (SELECT 1 FROM task_history h WHERE h.task_id = t.id)) + \
         (SELECT COUNT(*) FROM task_history h WHERE NOT EXISTS \
           (SELECT 1 FROM tasks t WHERE t.id = h.task_id))",
    )
    .fetch_one(bot.pool())
    .await
    .expect("orphan query");
    assert_eq!(
        orphans, 0,
        "a task without history or history without a task"
    );
}

#[track_caller]
fn assert_fault_reply(reply: &Value, needle: &str) {
    assert_private_error(reply, needle);
    assert_private_error(reply, "nothing was changed");
    assert!(
        !content(reply).contains("Something went wrong"),
        "the cause is known, so the reply should name it: {reply}"
    );
}

/// After the fault: the same command works, and the reminder that fell due during the fault is
/// posted exactly once (and not again on the next step).
async fn assert_recovers(bot: &TestBot, title: &str) {
    let reply = bot
        .run(&member(ALICE), &["task", "create"], vec![s("title", title)])
        .await;
    assert!(!is_ephemeral(&reply), "create after the fault: {reply}");
    assert!(content(&reply).contains(title), "{reply}");
    bot.step_at(reminder_time() + Duration::seconds(1)).await;
    bot.step_at(reminder_time() + Duration::seconds(2)).await;
    assert_eq!(
        bot.posted_with("Ship the release").len(),
        1,
        "the reminder that fell due during the fault: posted once, not lost, not repeated"
    );
    assert_tasks_have_history(bot).await;
}

#[tokio::test]
async fn read_only_database_refuses_changes_clearly_and_recovers() {
    let mut bot = TestBot::start().await;
    dated_task(&bot).await;
    let writable_url = bot.settings.database.url.clone();
    bot.settings.database.url = format!("{writable_url}?mode=ro");
    bot.restart().await;
    let before = bot.snapshot().await;
    let duties_before = duty_state(&bot).await;

    let cases: Vec<(&[&str], Vec<Opt>)> = vec![
        (
            &["task", "create"],
            vec![s("title", "Written while read-only")],
        ),
        (&["task", "done"], vec![Opt::Int("task", 1)]),
        (
            &["task", "comment"],
            vec![Opt::Int("task", 1), s("text", "hi")],
        ),
        (&["timezone"], vec![s("zone", "Europe/Berlin")]),
    ];
    for (path, options) in cases {
        let reply = bot.run(&member(ALICE), path, options).await;
        assert_fault_reply(&reply, "read-only");
    }
    // Reads still work on a read-only database.
    let show = bot
        .run(&member(ALICE), &["task", "show"], vec![Opt::Int("task", 1)])
        .await;
    assert!(content(&show).is_empty(), "{show}");
    assert!(embed_text(&show).contains("Ship the release"), "{show}");

    let worker = &bot.running.as_ref().expect("running").worker;
    bot.clock.set(reminder_time());
    let step = worker.step(reminder_time()).await;
    assert!(
        matches!(step, Err(coordinator::store::StoreError::ReadOnly(_))),
        "{step:?}"
    );
    assert!(
        bot.fake.messages().is_empty(),
        "nothing claimed, nothing sent"
    );
    assert_eq!(before, bot.snapshot().await, "data changed");
    assert_eq!(duties_before, duty_state(&bot).await, "duty rows changed");

    bot.settings.database.url = writable_url;
    bot.restart().await;
    assert_recovers(&bot, "Written after the fault").await;
}

#[tokio::test]
async fn locked_database_times_out_clearly_and_recovers() {
    // Measures how long the bot waits on the lock: alone, so a busy machine cannot blur it.
    let _alone = turns::exclusive().await;
    let bot = TestBot::start().await;
    dated_task(&bot).await;
    let before = bot.snapshot().await;
    let duties_before = duty_state(&bot).await;

    // Another program holds the write lock past the bot's 5 s busy timeout.
    let mut locker = SqliteConnection::connect(&bot.settings.database.url)
        .await
        .expect("second connection");
    locker
        .execute("BEGIN EXCLUSIVE")
        .await
        .expect("exclusive lock");

    let started = Instant::now();
    // A private command: a public one is deferred publicly, so its error would show to all.
    let (id, command) = slash(
        &member(ALICE),
        &["timezone"],
        vec![s("zone", "Europe/Berlin")],
    );
    bot.fake.inject(command).await;
    bot.clock.set(reminder_time());
    let worker = &bot.running.as_ref().expect("running").worker;
    let (step, edit) = tokio::join!(
        worker.step(reminder_time()),
        bot.fake.wait_original_edit(id)
    );
    let waited = started.elapsed();
    // Too slow for Discord's window, so the command was deferred (privately: no change to show).
    let deferred = bot.fake.response(id).await;
    assert_eq!(deferred["type"], 5, "deferred: {deferred}");
    assert_eq!(
        deferred["data"]["flags"], 64,
        "deferred privately: {deferred}"
    );
    let text = edit["content"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        text.contains("busy") && text.contains("nothing was changed"),
        "{edit}"
    );
    assert!(
        matches!(step, Err(coordinator::store::StoreError::Busy(_))),
        "{step:?}"
    );
    assert!(
        bot.fake.messages().is_empty(),
        "nothing claimed, nothing sent"
    );
    assert!(
        waited >= std::time::Duration::from_secs(4),
        "gave up before the busy timeout: {waited:?}"
    );
    assert_eq!(before, bot.snapshot().await, "data changed");
    assert_eq!(duties_before, duty_state(&bot).await, "duty rows changed");

    locker.execute("ROLLBACK").await.expect("release the lock");
    locker.close().await.expect("close");
    let reply = bot
        .run(
            &member(ALICE),
            &["timezone"],
            vec![s("zone", "Europe/Berlin")],
        )
        .await;
    assert!(content(&reply).contains("Europe/Berlin"), "{reply}");
    assert_recovers(&bot, "Written after the fault").await;
}

/// Sets `PRAGMA max_page_count` on every pooled connection (the pragma is per connection): all
/// four are held at once, so each one gets it.
async fn set_max_pages(bot: &TestBot, pages: i64) {
    let pool = bot.pool();
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        let mut conn = pool.acquire().await.expect("pooled connection");
        sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
            .execute(&mut *conn)
            .await
            .expect("set max_page_count");
        held.push(conn);
    }
}

#[tokio::test]
async fn full_database_rolls_back_clearly_and_recovers() {
    let bot = TestBot::start().await;
    dated_task(&bot).await;
    // Never lower than the current size, so 1 means "no page may be added".
    set_max_pages(&bot, 1).await;

    // A task fits into a page's free space until none is left; the first that needs a new page
    // must be refused and leave nothing behind.
    let description: String = (0..2000)
        .map(|i| char::from(b'a' + ((i * 7 + i / 26) % 26) as u8))
        .collect();
    let mut refused = None;
    for attempt in 0..40 {
        let before = bot.snapshot().await;
        let duties_before = duty_state(&bot).await;
        let reply = bot
            .run(
                &member(ALICE),
                &["task", "create"],
                vec![
                    s("title", &format!("Filler {attempt} {}", "t".repeat(150))),
                    s("description", &description),
                ],
            )
            .await;
        if is_ephemeral(&reply) {
            assert_fault_reply(&reply, "full");
            assert_eq!(before, bot.snapshot().await, "data changed");
            assert_eq!(duties_before, duty_state(&bot).await, "duty rows changed");
            refused = Some(attempt);
            break;
        }
    }
    let refused = refused.expect("a full database refused a new task within 40 attempts");
    assert_tasks_have_history(&bot).await;
    // A comment adds a history row to a full page set: refused too, or fits; never half-written.
    let reply = bot
        .run(
            &member(ALICE),
            &["task", "comment"],
            vec![Opt::Int("task", 1), s("text", &description[..1000])],
        )
        .await;
    if is_ephemeral(&reply) {
        assert_fault_reply(&reply, "full");
    }
    assert_tasks_have_history(&bot).await;

    // The worker may or may not find room for its claim; either way nothing is lost (below).
    bot.clock.set(reminder_time());
    let worker = &bot.running.as_ref().expect("running").worker;
    match worker.step(reminder_time()).await {
        Ok(_) | Err(coordinator::store::StoreError::Full(_)) => {}
        Err(other) => panic!("unexpected worker error: {other}"),
    }

    set_max_pages(&bot, 1_073_741_823).await;
    assert_recovers(&bot, "Written after the fault").await;
    eprintln!("full database: refused after {refused} filler tasks");
}

/// The background worker, as in production: a reminder falls due while another program holds
/// the write lock; the worker's steps fail and are retried, and once the lock is released the
/// reminder is posted exactly once.
#[tokio::test]
async fn background_worker_retries_through_a_lock() {
    let bot = TestBot::start_with_worker(true).await;
    dated_task(&bot).await;
    let mut locker = SqliteConnection::connect(&bot.settings.database.url)
        .await
        .expect("second connection");
    locker
        .execute("BEGIN EXCLUSIVE")
        .await
        .expect("exclusive lock");
    bot.clock.set(reminder_time());
    bot.app().db.wake_worker();
    // Held until a step has failed on it (after the 5 s busy timeout).
    let failures = bot.app().metrics.worker_step_failures();
    let app = bot.app();
    eventually_every(
        "a duties step to fail on the held lock",
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(50),
        || async move { app.metrics.worker_step_failures() != failures },
    )
    .await;
    assert!(
        bot.posted_with("Ship the release").is_empty(),
        "nothing can be claimed while the lock is held"
    );
    locker.execute("ROLLBACK").await.expect("release the lock");
    locker.close().await.expect("close");
    bot.app().db.wake_worker();
    bot.fake
        .wait_until("the reminder after the lock", |f| {
            f.messages()
                .iter()
                .any(|m| {
                    m.body["content"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("Ship the release")
                })
                .then_some(())
        })
        .await;
    // Another step (racing the background one: leases keep them apart) sends nothing new.
    let worker = &bot.running.as_ref().expect("running").worker;
    worker
        .step(reminder_time() + Duration::seconds(1))
        .await
        .expect("step after the fault");
    assert_eq!(bot.posted_with("Ship the release").len(), 1, "posted once");
}
