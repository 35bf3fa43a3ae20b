//! The real binary, real clock: duties survive SIGKILL exactly once, and arrive on time.

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use coordinator::domain::task::Priority;
use coordinator::store::{Db, NewTask};
use support::fake_discord::FakeDiscord;

const BIN: &str = env!("CARGO_BIN_EXE_coordinator");
const GUILD: u64 = 424_242_424_242_424_242;
const TASKS: u64 = 240;
const CHANNELS: u64 = 60;

/// Kills the bot if the test fails half-way, so no process outlives it.
struct Bot(Child);

impl Bot {
    fn start(fake: &FakeDiscord, db_url: &str) -> Bot {
        let child = Command::new(BIN)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DISCORD_TOKEN", "crash-test-token")
            .env("DISCORD_API_BASE", fake.base_url())
            .env("DATABASE_URL", db_url)
            .env("RUST_LOG", "warn")
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
            guild_id: GUILD,
            title: format!("crash task {}", i + 1),
            description: None,
            priority: Priority::Normal,
            project: None,
            assignee_id: Some(7),
            creator_id: 7,
            channel_id: 10_000 + i % CHANNELS,
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

/// How many times each task number appears in an overdue alert the fake holds.
fn alerts_per_task(fake: &FakeDiscord) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for message in fake.messages() {
        let content = message.body["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for line in content.lines() {
            if let Some(rest) = line.strip_prefix("🚨 **#") {
                if let Some(n) = rest.split(' ').next().and_then(|n| n.parse().ok()) {
                    *seen.entry(n).or_insert(0) += 1;
                }
            }
        }
    }
    seen
}

#[tokio::test]
async fn sigkill_during_delivery_loses_nothing_and_posts_nothing_twice() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}/crash.db", dir.path().display());
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
        "crash test: {TASKS} duties in {} messages, killed after {kills:?} messages, \
         {} resends de-duplicated by nonce, 0 lost, 0 duplicated",
        fake.messages().len(),
        fake.deduplicated()
    );
}

#[tokio::test]
async fn with_the_real_clock_an_overdue_alert_arrives_on_time() {
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
