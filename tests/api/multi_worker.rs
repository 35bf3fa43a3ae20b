//! Two bots sharing one PostgreSQL database, as two processes would (each with its own pool,
//! worker and Discord connection): 500 overdue alerts fall due within the same minute across
//! 50 channels, both workers are woken together every simulated second to claim and send, and
//! every alert is posted exactly once. PostgreSQL only: SQLite serves one process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use coordinator::clock::ManualClock;
use coordinator::domain::task::Priority;
use coordinator::store::{sql, Db, NewTask, OutboxKind};

use crate::support::bot::*;
use crate::support::fake_discord::FakeDiscord;
use crate::support::wait::eventually;

const TASKS: u64 = 500;
const CHANNELS: u64 = 50;

#[tokio::test]
async fn two_workers_on_one_database_post_each_duty_exactly_once() {
    let _turn = crate::support::turns::shared().await;
    let url = crate::support::database::fresh_postgres_database().await;
    let now = start_time();
    let seed = Db::connect(&url).await.expect("database");
    for i in 0..TASKS {
        let new = NewTask {
            repeat: None,
            guild_id: GUILD.into(),
            title: format!("Duty load {i:03}"),
            description: None,
            priority: Priority::Normal,
            project: None,
            assignee_id: Some(ALICE.into()),
            creator_id: ALICE.into(),
            channel_id: (10_000 + i % CHANNELS).into(),
            // Spread over one minute, so the workers meet on every second of it.
            due_at: Some(
                now + ChronoDuration::minutes(30) + ChronoDuration::seconds((i % 60) as i64),
            ),
        };
        seed.create_task(&new, now).await.expect("seed task");
    }
    seed.close().await;

    let clock = ManualClock::new(now);
    let mut bots = Vec::new();
    let mut fakes = Vec::new();
    for _ in 0..2 {
        let fake = FakeDiscord::start().await;
        let running = coordinator::start_with(
            &bot_settings(&fake, url.clone()),
            Arc::new(clock.clone()),
            coordinator::StartOptions {
                background_worker: true,
                ..Default::default()
            },
        )
        .await
        .expect("bot starts");
        fake.wait_ready().await;
        bots.push(running);
        fakes.push(fake);
    }
    // The minute passes a second at a time; both workers are woken at each step and race for
    // what fell due.
    clock.set(now + ChronoDuration::minutes(30));
    for _ in 0..=60 {
        clock.advance(ChronoDuration::seconds(1));
        for bot in &bots {
            bot.app.db.wake_worker();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let fakes = &fakes;
    let posted = eventually(
        "all 500 overdue alerts to be posted",
        Duration::from_secs(60),
        || async move {
            let mut seen: HashMap<String, usize> = HashMap::new();
            for fake in fakes {
                for message in fake.messages() {
                    let content = message.body["content"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    for line in content.lines() {
                        if let Some(at) = line.find("Duty load ") {
                            let title = line[at..at + "Duty load 000".len()].to_owned();
                            *seen.entry(title).or_default() += 1;
                        }
                    }
                }
            }
            (seen.len() as u64 == TASKS).then_some(seen)
        },
    )
    .await;
    let twice: Vec<_> = posted.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    // Which worker won each race varies from run to run; the total never does.
    let per_fake: Vec<usize> = fakes.iter().map(|f| f.messages().len()).collect();
    let db = &bots[0].app.db;
    let claims: i64 = sql("SELECT COUNT(*) FROM duty_claims")
        .scalar(db.on())
        .await
        .expect("claims");
    assert_eq!(claims, TASKS as i64, "one claim per duty");
    // A message is marked sent just after Discord took it: the last may still be on its way.
    eventually(
        "every message to be marked sent",
        Duration::from_secs(10),
        || async move {
            let unsent: i64 = sql("SELECT COUNT(*) FROM outbox WHERE state <> 'sent'")
                .scalar(db.on())
                .await
                .expect("outbox");
            unsent == 0
        },
    )
    .await;
    println!("messages posted by each worker: {per_fake:?}");
    for bot in bots {
        bot.shutdown().await;
    }
}

/// A process killed mid-delivery leaves its outbox rows leased for two minutes. Another process
/// takes them over as soon as the dead one's session is gone, and never while it lives.
#[tokio::test]
async fn rows_leased_by_a_process_that_died_are_taken_over_at_once_and_only_then() {
    let _turn = crate::support::turns::shared().await;
    let url = crate::support::database::fresh_postgres_database().await;
    let now = start_time();
    let (holder, survivor) = (
        Db::connect(&url).await.expect("database"),
        Db::connect(&url).await.expect("database"),
    );
    for channel in 0..3_u64 {
        holder
            .enqueue(
                GUILD.into(),
                (10_000 + channel).into(),
                &OutboxKind::Post,
                "{}",
                now,
            )
            .await
            .expect("outbox row");
    }
    let lease = ChronoDuration::seconds(120);
    let leased = holder
        .lease_pending(now, now + lease, 10)
        .await
        .expect("lease");
    assert_eq!(leased.len(), 3);
    assert_eq!(
        survivor.release_dead_leases(now).await.expect("release"),
        0,
        "the holder is alive: its leases stand"
    );
    assert!(survivor
        .lease_pending(now, now + lease, 10)
        .await
        .expect("lease")
        .is_empty());

    // The holder's process ends: its connections close, and with them its lock.
    holder.close().await;
    drop(holder);
    let survivor = &survivor;
    eventually(
        "the dead holder's three rows to be released",
        Duration::from_secs(10),
        || async move {
            let released = survivor.release_dead_leases(now).await.expect("release");
            (released == 3)
                .then_some(())
                .ok_or(format!("{released} released"))
        },
    )
    .await;
    let taken = survivor
        .lease_pending(now, now + lease, 10)
        .await
        .expect("lease");
    assert_eq!(
        taken.len(),
        3,
        "the survivor sends them, long before the lease ends"
    );
    survivor.close().await;
}

/// A worker in a process of its own is woken by another process's write through PostgreSQL's
/// NOTIFY: the alert goes out long before its 30-second safety poll would find it.
#[tokio::test]
async fn a_write_in_another_process_wakes_a_worker_process_at_once() {
    let _turn = crate::support::turns::shared().await;
    let url = crate::support::database::fresh_postgres_database().await;
    let fake = FakeDiscord::start().await;
    let clock = ManualClock::new(start_time());
    let worker = coordinator::start_with(
        &bot_settings(&fake, url.clone()),
        Arc::new(clock.clone()),
        coordinator::StartOptions {
            background_worker: true,
            role: coordinator::Role::Worker,
            ..Default::default()
        },
    )
    .await
    .expect("worker starts");
    // Its first step done, only a wake-up makes it look again before the 30 s poll.
    let metrics = &worker.app.metrics;
    eventually(
        "the worker's first step",
        Duration::from_secs(10),
        || async move { metrics.worker_steps() >= 1 },
    )
    .await;
    let other = Db::connect(&url).await.expect("another process's database");
    let started = std::time::Instant::now();
    other
        .create_task(
            &NewTask {
                guild_id: GUILD.into(),
                title: "Woken across processes".into(),
                description: None,
                priority: Priority::Normal,
                project: None,
                assignee_id: Some(ALICE.into()),
                creator_id: ALICE.into(),
                channel_id: CHANNEL.into(),
                due_at: Some(start_time() - ChronoDuration::minutes(1)),
                repeat: None,
            },
            start_time() - ChronoDuration::hours(1),
        )
        .await
        .expect("task");
    fake.wait_until("the overdue alert", |f| {
        f.messages()
            .iter()
            .any(|m| {
                m.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Woken across processes")
            })
            .then_some(())
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "woken by NOTIFY, not by the 30 s poll: {took:?}"
    );
    println!("alert posted {took:?} after another process's write");
    other.close().await;
    worker.shutdown().await;
}

/// The partitions each live worker holds, read from PostgreSQL's own `pg_locks`: two-key
/// advisory locks of the partition class ("CooP") in this test's database, by holding backend.
async fn partition_holders(db: &Db) -> Vec<(i32, i64)> {
    sql(
        "SELECT pid, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND objsubid = 2 AND classid::bigint = 1131376464 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         ORDER BY objid",
    )
    .fetch_all::<(i32, i64)>(db.on())
    .await
    .expect("pg_locks")
}

/// Workers share the 256 partitions evenly, each partition held by exactly one of them; a
/// worker joining takes its share from the others, and a worker that stops (its session
/// closes, as when its process dies) has its partitions taken over by the others in seconds.
#[tokio::test]
async fn workers_share_the_partitions_evenly_and_take_over_a_stopped_workers_share() {
    use coordinator::store::partitions::{fair_share, PARTITIONS};

    let _turn = crate::support::turns::shared().await;
    let url = crate::support::database::fresh_postgres_database().await;
    let observer = Db::connect(&url).await.expect("database");
    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(Db::connect(&url).await.expect("database"));
    }
    // Each holding, checked against pg_locks: disjoint, covering all, at most `share` each.
    let balanced = |live: &'static [usize]| {
        let (observer, workers) = (&observer, &workers);
        move || async move {
            let holders = partition_holders(observer).await;
            let mut partitions: Vec<i64> = holders.iter().map(|(_, p)| *p).collect();
            partitions.dedup();
            if partitions.len() != holders.len() {
                panic!("a partition held twice: {holders:?}");
            }
            let shares: Vec<usize> = live
                .iter()
                .map(|w| workers[*w].held_partitions().map_or(0, |held| held.len()))
                .collect();
            let share = fair_share(live.len() as i64);
            let even = shares.iter().all(|held| *held <= share);
            (holders.len() == usize::from(PARTITIONS)
                && shares.iter().sum::<usize>() == 256
                && even)
                .then_some(shares.clone())
                .ok_or(format!(
                    "{} held in pg_locks; shares {shares:?}",
                    holders.len()
                ))
        }
    };
    let first = workers[0]
        .hold_partitions()
        .await
        .expect("hold")
        .expect("postgres");
    assert_eq!(
        workers[0].held_partitions().map(|held| held.len()),
        Some(256),
        "a lone worker holds every partition from its start"
    );
    let second = workers[1]
        .hold_partitions()
        .await
        .expect("hold")
        .expect("postgres");
    let shares = eventually(
        "two workers to share",
        Duration::from_secs(10),
        balanced(&[0, 1]),
    )
    .await;
    assert_eq!(shares, vec![128, 128]);
    // Discord's budget is divided between them too.
    assert_eq!(workers[1].live_workers(), 2);
    let third = workers[2]
        .hold_partitions()
        .await
        .expect("hold")
        .expect("postgres");
    let shares = eventually(
        "three workers to share",
        Duration::from_secs(10),
        balanced(&[0, 1, 2]),
    )
    .await;
    // Shares are rounded up, so one worker may end a partition or two short.
    assert!(
        shares.iter().all(|held| (84..=86).contains(held)),
        "{shares:?}"
    );

    // The first worker's session ends: the other two take its partitions over.
    let stopped = std::time::Instant::now();
    first.abort();
    let _ = first.await;
    let shares = eventually(
        "two survivors to take over",
        Duration::from_secs(10),
        balanced(&[1, 2]),
    )
    .await;
    assert_eq!(shares, vec![128, 128]);
    assert_eq!(
        workers[2].live_workers(),
        2,
        "the survivors take the dead worker's budget"
    );
    println!(
        "partitions taken over {:?} after the worker stopped",
        stopped.elapsed()
    );
    for task in [second, third] {
        task.abort();
        let _ = task.await;
    }
    for db in workers {
        db.close().await;
    }
    observer.close().await;
}
