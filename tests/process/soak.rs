//! Soak under faults: the real bot, in process with its background duties worker and a
//! manual clock, against a fake Discord that injects seeded REST faults (429, 500/502/503, slow
//! answers, connections cut before or after the request took effect) and gateway faults (closes
//! 1000, 4000, 4009 and zombie connections whose heartbeats go unacknowledged). Several users
//! type commands and press buttons while a clock driver makes duties fall due.
//!
//! At the end: every interaction delivered on a live gateway connection was answered, or the
//! bot logged why not; every command took effect once; every duty was posted exactly once (the
//! fake's nonce de-duplication counted as protection that was needed); the database is intact.
//!
//! `SOAK_SECS` sets the duration (default 30, run in CI); `SOAK_SEED` the fault seed. The
//! 10-minute run:
//! `SOAK_SECS=600 cargo test --test process soak -- --nocapture` (prints the figures
//! RELIABILITY.md records). `SOAK_LOG=1` echoes the bot's log, `SOAK_FILTER` sets its filter.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use coordinator::clock::Clock;
use serde_json::Value;
use sqlx::Row;

use crate::support::bot::*;
use crate::support::fake_discord::{FakeDiscord, Faults};
use crate::support::interactions::{autocomplete, button_on_message, s, slash, Caller, Opt};
use crate::support::logs::{self, Format};
use crate::support::rng::SplitMix as Rng;
use crate::support::turns;
use crate::support::wait::eventually_every;

const CHANNELS: [u64; 3] = [CHANNEL, CHANNEL + 1, CHANNEL + 2];
/// Manual time the clock driver adds per tick, and how often it ticks: about as many duty
/// messages fall due per channel as Discord's 5-per-5-s channel limit lets out, so the backlog
/// left for the drain stays small.
const TICK: ChronoDuration = ChronoDuration::minutes(30);
const TICK_EVERY: Duration = Duration::from_secs(1);
const DRAIN_TICK_EVERY: Duration = Duration::from_millis(200);
/// Generous bounds: an answer is awaited this long before it counts as missing.
const ANSWER_LIMIT: Duration = Duration::from_secs(15);
/// The drain's floor; a long run gets half its duration (the +3-day jump at the end makes every
/// open task's escalation due at once, about one message per five tasks per channel).
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ----- What the users did -----

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Create,
    List,
    Show,
    Assign,
    Comment,
    Done,
    Complete,
    Button,
}

#[derive(Debug)]
struct Sent {
    id: u64,
    kind: Kind,
    title: Option<String>,
}

#[derive(Default)]
struct Ledger {
    sent: Vec<Sent>,
    /// Interactions the fake could not send: no live gateway session at that moment.
    offline: usize,
    /// Task numbers announced in creation replies.
    numbers: Vec<i64>,
}

fn created_number(reply: &Value) -> Option<i64> {
    let text = reply["data"]["content"].as_str()?;
    text.split('#').nth(1)?.split(' ').next()?.parse().ok()
}

/// One user typing commands until `until`.
async fn user_loop(
    fake: FakeDiscord,
    caller: Caller,
    seed: u64,
    until: Instant,
    ledger: Arc<Mutex<Ledger>>,
) {
    let mut rng = Rng(seed);
    let users = [ALICE, BOB, CAROL];
    let mut k = 0;
    while Instant::now() < until {
        k += 1;
        // Think time, so four users make a busy guild rather than a flood.
        tokio::time::sleep(Duration::from_millis(50 + rng.below(200))).await;
        let known: Vec<i64> = ledger.lock().expect("ledger").numbers.clone();
        let task = if known.is_empty() {
            1
        } else {
            known[rng.below(known.len() as u64) as usize]
        };
        let roll = rng.below(100);
        let mut title = None;
        let (kind, (id, interaction)) = if roll < 20 || known.is_empty() {
            let name = format!("soak {} {k}", caller.user_id % 1000);
            title = Some(name.clone());
            let due = format!("in {}h", 1 + rng.below(6));
            // Members may only assign themselves; a manager anyone. Every create is valid, so
            // each one delivered must leave exactly one task.
            let assignee = if caller.user_id == BOSS {
                rng.pick(&users)
            } else {
                caller.user_id
            };
            let opts = vec![
                s("title", &name),
                s("due", &due),
                Opt::User("assignee", assignee),
            ];
            (Kind::Create, slash(&caller, &["task", "create"], opts))
        } else if roll < 42 {
            (Kind::List, slash(&caller, &["task", "list"], vec![]))
        } else if roll < 54 {
            let opts = vec![Opt::Int("task", task)];
            (Kind::Show, slash(&caller, &["task", "show"], opts))
        } else if roll < 62 {
            let opts = vec![
                Opt::Int("task", task),
                Opt::User("assignee", rng.pick(&users)),
            ];
            (Kind::Assign, slash(&caller, &["task", "assign"], opts))
        } else if roll < 72 {
            let opts = vec![Opt::Int("task", task), s("text", "still on it")];
            (Kind::Comment, slash(&caller, &["task", "comment"], opts))
        } else if roll < 80 {
            let opts = vec![Opt::Int("task", task)];
            (Kind::Done, slash(&caller, &["task", "done"], opts))
        } else if roll < 90 {
            let opts = vec![s("task", "soak")];
            (
                Kind::Complete,
                autocomplete(&caller, &["task", "show"], opts, "task"),
            )
        } else {
            // A button on a duty message the bot posted in this user's channel.
            let posted: Vec<_> = fake
                .messages_in(caller.channel_id)
                .into_iter()
                .filter(|m| m.body["components"].is_array())
                .collect();
            let Some(message) = posted.last() else {
                continue;
            };
            let custom_id = message.body["components"][0]["components"][0]["custom_id"]
                .as_str()
                .unwrap_or("duty:done:1")
                .to_owned();
            let Some(current) = fake.message(message.id) else {
                continue;
            };
            (
                Kind::Button,
                button_on_message(&caller, &custom_id, current),
            )
        };
        if !fake.try_inject(interaction).await {
            ledger.lock().expect("ledger").offline += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        ledger
            .lock()
            .expect("ledger")
            .sent
            .push(Sent { id, kind, title });
        // A user waits for the answer before typing on (bounded: a lost one is judged later).
        if let Some(reply) = fake.response_within(id, ANSWER_LIMIT).await {
            if kind == Kind::Create {
                if let Some(n) = created_number(&reply) {
                    ledger.lock().expect("ledger").numbers.push(n);
                }
            }
        }
    }
}

/// Gateway faults in turn: closes 4009, 1000, 4000 and a zombie connection, each after the bot
/// is back online from the last one. 4009 comes first: serenity keeps the heartbeat interval of
/// the HELLO it identified with (a resume ignores the new one), so the fast heartbeat that makes
/// a zombie noticeable needs a fresh IDENTIFY.
async fn gateway_faults(fake: FakeDiscord, seed: u64, until: Instant) {
    let mut rng = Rng(seed ^ 0x6A7E);
    let cycle = [Some(4009), Some(1000), None, Some(4000)];
    let mut i = 0;
    loop {
        let pause = Duration::from_millis(1_500 + rng.below(2_000));
        if Instant::now() + pause >= until {
            return;
        }
        tokio::time::sleep(pause).await;
        fake.wait_ready().await;
        match cycle[i % cycle.len()] {
            Some(code) => fake.close_gateway(code).await,
            None => {
                fake.stop_acking();
            }
        }
        i += 1;
        fake.wait_ready().await;
    }
}

/// Moves the manual clock in ticks so duties fall due, waking the worker each time.
async fn clock_driver(
    bot_clock: coordinator::clock::ManualClock,
    app: Arc<coordinator::App>,
    until: Instant,
) {
    while Instant::now() < until {
        tokio::time::sleep(TICK_EVERY).await;
        bot_clock.advance(TICK);
        app.db.wake_worker();
    }
}

async fn count(pool: &sqlx::SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_answers_everything_and_posts_each_duty_once() {
    // Its figures are the record, and it is long: alone.
    let _alone = turns::exclusive().await;
    let secs = env_u64("SOAK_SECS", 30);
    let seed = env_u64("SOAK_SEED", 5);
    // "Or the bot logged why not" is checked against what it logged.
    let filter = std::env::var("SOAK_FILTER").unwrap_or_else(|_| "warn,coordinator=info".into());
    let logs = logs::capture(
        Format::Text,
        &filter,
        std::env::var_os("SOAK_LOG").is_some(),
    );
    let mut bot = TestBot::start_with_worker(true).await;
    let fake = bot.fake.clone();
    // Fast heartbeats so a zombie connection is noticed within a second or two.
    fake.set_heartbeat_interval(Duration::from_millis(500));
    fake.accept_resumes(true);
    fake.enforce_rate_limits(50, 5, Duration::from_secs(5));
    // Discord's window: a callback later than 3 s is refused (and must then be logged).
    fake.set_ack_deadline(Some(Duration::from_secs(3)));
    bot.set_manager_role().await;
    let setup_interactions = fake.delivered_interactions().len();

    fake.inject_faults(Faults {
        seed,
        rate_limit: 0.05,
        retry_after: Duration::from_millis(300),
        server_error: 0.05,
        drop: 0.03,
        drop_after: 0.03,
        error_after: 0.03,
        truncate_after: 0.03,
        slow: 0.05,
        slow_delay: Duration::from_millis(700),
        ..Faults::default()
    });
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let app = bot.running.as_ref().expect("running").app.clone();
    let mut jobs = Vec::new();
    let callers = [
        member(ALICE).in_channel(CHANNELS[0]),
        member(BOB).in_channel(CHANNELS[1]),
        member(CAROL).in_channel(CHANNELS[2]),
        manager().in_channel(CHANNELS[0]),
    ];
    for (i, caller) in callers.into_iter().enumerate() {
        jobs.push(tokio::spawn(user_loop(
            fake.clone(),
            caller,
            seed.wrapping_mul(31).wrapping_add(i as u64),
            until,
            ledger.clone(),
        )));
    }
    jobs.push(tokio::spawn(gateway_faults(fake.clone(), seed, until)));
    jobs.push(tokio::spawn(clock_driver(
        bot.clock.clone(),
        app.clone(),
        until,
    )));
    for job in jobs {
        job.await.expect("soak task");
    }
    let driven = started.elapsed();
    let draining = Instant::now();

    // Drain: faults off, the clock far ahead so every owed duty (escalations included) falls
    // due, then ticks until nothing is pending.
    fake.clear_faults();
    fake.wait_ready().await;
    bot.clock.advance(ChronoDuration::days(3));
    app.db.wake_worker();
    let pool = bot.pool().clone();
    let (drain_pool, drain_app, clock, drain_fake) = (&pool, &app, &bot.clock, &fake);
    let mut first = true;
    eventually_every(
        "the outbox to drain",
        DRAIN_LIMIT.max(Duration::from_secs(secs / 2)),
        DRAIN_TICK_EVERY,
        || {
            // After each pause the clock moves a tick on, so what is owed keeps falling due.
            let tick = !std::mem::replace(&mut first, false);
            async move {
                if tick {
                    clock.advance(TICK);
                    drain_app.db.wake_worker();
                }
                let pending = count(
                    drain_pool,
                    "SELECT COUNT(*) FROM outbox WHERE state = 'pending'",
                )
                .await;
                let unclaimed_due = drain_app.db.next_wake().await.expect("next wake");
                if pending == 0 && unclaimed_due.is_none_or(|at| at > clock.now()) {
                    Ok(())
                } else {
                    Err(format!(
                        "outbox not drained: {pending} pending\n{}",
                        drain_fake.debug_summary()
                    ))
                }
            }
        },
    )
    .await;

    let drained = draining.elapsed();

    // ----- Interactions: answered, or the failure logged -----
    let ledger = std::mem::take(&mut *ledger.lock().expect("ledger"));
    let delivered: BTreeSet<u64> = fake.delivered_interactions()[setup_interactions..]
        .iter()
        .copied()
        .collect();
    let sent_ids: BTreeSet<u64> = ledger.sent.iter().map(|s| s.id).collect();
    assert!(
        delivered.is_subset(&sent_ids),
        "only the users' interactions were sent"
    );
    let judge = || {
        let log_text = logs.text();
        let mut answered = 0;
        let mut deferred = 0;
        let mut logged = Vec::new();
        let mut missing = Vec::new();
        for sent in ledger.sent.iter().filter(|s| delivered.contains(&s.id)) {
            let complete = match fake.try_response(sent.id) {
                Some(r) if r["type"] == 5 => {
                    deferred += 1;
                    !fake.original_edits_for(sent.id).is_empty()
                }
                Some(_) => true,
                None => false,
            };
            if complete {
                answered += 1;
            } else if log_text.contains(&format!("interaction={}", sent.id)) {
                logged.push(sent.id);
            } else {
                missing.push((sent.id, sent.kind));
            }
        }
        (answered, deferred, logged, missing)
    };
    // Answers still on their way (retries, deferred edits) get a generous bounded wait.
    let settle = Instant::now();
    let (answered, deferred, logged, missing) = loop {
        let verdict = judge();
        if verdict.3.is_empty() || settle.elapsed() > ANSWER_LIMIT {
            break verdict;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut by_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    for sent in ledger.sent.iter().filter(|s| delivered.contains(&s.id)) {
        *by_kind.entry(sent.kind).or_default() += 1;
    }
    // Callback retries, and those Discord (the fake) refused as already acknowledged.
    let mut callback_attempts: BTreeMap<String, usize> = BTreeMap::new();
    let mut already_acknowledged = 0;
    for r in fake.requests() {
        if r.method == "POST" && r.path.starts_with("/api/v10/interactions/") {
            *callback_attempts.entry(r.path.clone()).or_default() += 1;
            if r.response["code"] == 40060 {
                already_acknowledged += 1;
            }
        }
    }
    let retried = callback_attempts.values().filter(|n| **n > 1).count();
    let log_text = logs.text();
    assert!(
        missing.is_empty(),
        "interactions neither answered nor logged: {missing:?}\n{}\nlogs:\n{}",
        fake.debug_summary(),
        log_text
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // ----- Commands took effect exactly once -----
    let creates: Vec<&String> = ledger
        .sent
        .iter()
        .filter(|s| s.kind == Kind::Create && delivered.contains(&s.id))
        .filter_map(|s| s.title.as_ref())
        .collect();
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM tasks WHERE guild_id = $1")
        .bind(GUILD as i64)
        .fetch_all(&pool)
        .await
        .expect("titles");
    let mut wanted: Vec<String> = creates.iter().map(|t| t.to_string()).collect();
    wanted.sort();
    let mut stored = titles.clone();
    stored.sort();
    assert_eq!(stored, wanted, "one task per delivered create, none twice");

    // ----- Duties: each posted exactly once -----
    let rows = sqlx::query(
        "SELECT id, kind, state, message_id, target_message_id FROM outbox ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("outbox");
    // The fake's message ids, by the nonce each message was created with.
    let mut per_nonce: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for message in fake.messages() {
        let nonce = message.body["nonce"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        per_nonce.entry(nonce).or_default().push(message.id);
    }
    let posted_ids: BTreeSet<u64> = per_nonce.values().flatten().copied().collect();
    let mut posts = 0;
    let mut edits = 0;
    let mut lost = Vec::new();
    let mut duplicated = Vec::new();
    let mut wrong = Vec::new();
    for row in &rows {
        let id: i64 = row.get("id");
        let kind: String = row.get("kind");
        let state: String = row.get("state");
        let message_id: Option<i64> = row.get("message_id");
        if kind == "edit" {
            edits += 1;
            let target: Option<i64> = row.get("target_message_id");
            // An edit goes to a message the bot posted, and is done.
            if state != "sent" || !target.is_some_and(|t| posted_ids.contains(&(t as u64))) {
                wrong.push((id, kind, state, target));
            }
            continue;
        }
        posts += 1;
        match per_nonce
            .remove(&format!("c{id}"))
            .unwrap_or_default()
            .as_slice()
        {
            // Recorded as sent, with the id Discord gave the message (buttons are disabled
            // through it later).
            [only] if state == "sent" && message_id == Some(*only as i64) => {}
            [] => lost.push((id, state)),
            [_] => wrong.push((id, kind, state, message_id)),
            many => duplicated.push((id, many.len(), state)),
        }
    }
    assert!(
        per_nonce.is_empty(),
        "messages no outbox row accounts for: {per_nonce:?}"
    );
    assert_eq!(wrong, vec![], "rows whose state or message id is wrong");
    let claims = count(&pool, "SELECT COUNT(*) FROM duty_claims").await;
    let unsent_claims = count(
        &pool,
        "SELECT COUNT(*) FROM duty_claims c LEFT JOIN outbox o ON o.id = c.outbox_id \
         WHERE o.id IS NULL OR o.state <> 'sent'",
    )
    .await;
    assert_eq!(lost, vec![], "duty messages never posted");
    assert_eq!(duplicated, vec![], "duty messages posted twice");
    assert_eq!(unsent_claims, 0, "every claimed duty is in a sent message");
    let posted_once_ids = count(
        &pool,
        "SELECT COUNT(DISTINCT message_id) FROM outbox WHERE kind = 'post' AND state = 'sent'",
    )
    .await;
    assert_eq!(
        posted_once_ids, posts,
        "each post has its own Discord message id"
    );

    // ----- The database is intact -----
    let fk = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&pool)
        .await
        .expect("foreign keys");
    assert!(fk.is_empty(), "foreign key violations: {}", fk.len());
    let numbers: Vec<i64> =
        sqlx::query_scalar("SELECT number FROM tasks WHERE guild_id = $1 ORDER BY number")
            .bind(GUILD as i64)
            .fetch_all(&pool)
            .await
            .expect("numbers");
    assert_eq!(
        numbers,
        (1..=numbers.len() as i64).collect::<Vec<_>>(),
        "task numbers have no gaps or repeats"
    );

    // ----- Figures -----
    let faults = fake.fault_counts();
    let warnings: Vec<&str> = log_text
        .lines()
        .filter(|l| {
            l.contains("could not answer")
                || l.contains("could not deliver")
                || l.contains("could not defer")
        })
        .collect();
    let interaction_logs = warnings.len();
    for line in warnings.iter().take(10) {
        eprintln!("SOAK warning: {line}");
    }
    eprintln!(
        "SOAK seed={seed} driven={driven:?} drained={drained:?} total={:?}\n\
         injected: {faults:?}\n\
         fake rate limiter 429s: {}\n\
         interactions: delivered={} offline(not sent)={} answered={answered} deferred={deferred} \
         failure-logged={} missing={} by kind {by_kind:?}; interaction warnings in log: {interaction_logs}\n\
         callbacks retried={retried}, of which refused 40060 (an earlier attempt had landed): \
         {already_acknowledged}\n\
         gateway: identifies={} resumes={}\n\
         tasks={} duty claims={claims} posts={posts} edits={edits} lost={} duplicated={} \
         wrong message id or state={} \
         nonce de-duplications={}",
        started.elapsed(),
        fake.rate_limited(),
        delivered.len(),
        ledger.offline,
        logged.len(),
        missing.len(),
        fake.identify_count(),
        fake.resume_count(),
        numbers.len(),
        lost.len(),
        duplicated.len(),
        wrong.len(),
        fake.deduplicated(),
    );
    // The run must actually have been under fire.
    assert!(faults.rate_limited + faults.server_errors > 0, "{faults:?}");
    assert!(
        faults.dropped + faults.dropped_after + faults.errors_after > 0,
        "{faults:?}"
    );
    if secs >= 30 {
        for code in [1000, 4000, 4009] {
            assert!(
                faults.gateway_closes.get(&code).is_some_and(|n| *n > 0),
                "{faults:?}"
            );
        }
        assert!(faults.zombies > 0 && faults.acks_withheld > 0, "{faults:?}");
        assert!(
            posts > 0 && delivered.len() > 50,
            "posts {posts}, delivered {}",
            delivered.len()
        );
    }
    assert!(
        answered + logged.len() == delivered.len(),
        "every delivered interaction accounted for"
    );

    // The file as the next start finds it is intact. Checked on a fresh connection once the
    // bot has stopped: on SQLite 3.46, `PRAGMA integrity_check` on a pooled connection whose
    // peers have just written intermittently reported a "malformed inverted index" for the FTS5
    // title index, while a `VACUUM INTO` copy taken right after checked clean.
    drop(pool);
    bot.stop().await;
    let url = bot.settings.database.url.clone();
    let check = sqlx::SqlitePool::connect(&url).await.expect("reopen");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&check)
        .await
        .expect("integrity");
    if integrity != "ok" {
        // Keep the evidence: the temp dir goes with the bot.
        let copy =
            std::env::temp_dir().join(format!("soak-failed-{seed}-{}.db", std::process::id()));
        let _ = sqlx::query(&format!("VACUUM INTO '{}'", copy.display()))
            .execute(&check)
            .await;
        panic!(
            "integrity_check: {integrity}; a copy is in {}",
            copy.display()
        );
    }
    let fts =
        sqlx::query("INSERT INTO task_title_grams (task_title_grams) VALUES ('integrity-check')")
            .execute(&check)
            .await;
    assert!(fts.is_ok(), "title search index: {fts:?}");
    check.close().await;
}
