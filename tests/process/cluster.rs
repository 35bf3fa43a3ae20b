//! Several processes on one PostgreSQL database, as a large installation runs them (README
//! "Running several processes"): the real binary as `gateway`, `web` and `worker` processes
//! against the fake Discord, with workers killed mid-run.
//!
//! - Endpoint mode: 2 `web`, 3 `worker`, 1 `gateway`; duties falling due over a minute across
//!   64 guilds while commands and button presses arrive through the `web` processes, and a
//!   worker SIGKILLed at seeded moments (every other time just after Discord accepted a
//!   message from it) and restarted. Every duty is posted once, in order per channel, nothing
//!   is left pending, numbering stays gapless, no partition is ever held twice (read from
//!   `pg_locks`), no global 429, every interaction is answered, and forged, stale or replayed
//!   requests get 401 and change nothing. It prints the failover and lateness figures.
//! - Gateway mode: two `gateway` processes on disjoint shard ranges; each guild's events reach
//!   the one process running its shard, the two IDENTIFY in turn, and a third process for a
//!   shard already running waits until that shard's process dies.
//!
//! `COORDINATOR_CLUSTER_TASKS`, `COORDINATOR_CLUSTER_SECS`, `COORDINATOR_CLUSTER_KILLS`,
//! `COORDINATOR_CLUSTER_WORKERS` and `COORDINATOR_CLUSTER_SEED` size the endpoint run (2,000
//! tasks over 60 s, 10 kills, 3 workers, seed 15 by default; RELIABILITY.md also has a longer
//! run, and BENCHMARKS.md the fan-out with 1 and 3 workers).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coordinator::domain::task::Priority;
use coordinator::store::partitions::partition_of;
use coordinator::store::{sql, Db, NewTask};

use crate::support::fake_discord::{post_signed, signing_key, FakeDiscord, PostedMessage};
use crate::support::interactions::{button_on_message, s, slash, Caller, ADMINISTRATOR};
use crate::support::process::{bot_command, KillOnDrop};
use crate::support::rng::SplitMix as Rng;
use crate::support::turns;
use crate::support::wait::eventually;

const TOKEN: &str = "cluster-test-token";
const GUILDS: u64 = 64;
const ASSIGNEE: u64 = 7;
/// The partition advisory locks' first key ("CooP", see the store's `partitions.rs`).
const PARTITION_CLASS: i64 = 0x436f_6f50;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Guild `i`'s id: snowflakes made `4 * i` milliseconds apart, so the 64 guilds fall in 64
/// different partitions.
fn guild(i: u64) -> u64 {
    ((10_000 + 4 * i) << 22) | 1
}

fn channel(i: u64) -> u64 {
    50_000 + i
}

/// A child process of the cluster, killed when dropped.
struct Proc {
    name: String,
    child: Child,
    _kill: KillOnDrop,
}

impl Proc {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `coordinator run --role ROLE` named `name` (its PostgreSQL application name, so
/// `pg_stat_activity` tells which process holds which lock).
fn spawn(
    fake: &FakeDiscord,
    db_url: &str,
    name: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> Proc {
    let separator = if db_url.contains('?') { '&' } else { '?' };
    let url = format!("{db_url}{separator}application_name={name}");
    let mut command = bot_command(TOKEN, &fake.base_url(), &url, "info");
    command.arg("run").args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    // `COORDINATOR_CLUSTER_LOGS=DIR` keeps each process's log in DIR/NAME.log.
    let log = std::env::var("COORDINATOR_CLUSTER_LOGS")
        .ok()
        .and_then(|dir| {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!("{dir}/{name}.log"));
            file.ok()
        })
        .map_or_else(Stdio::null, Stdio::from);
    let child = command
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let pid = child.id();
    Proc {
        name: name.to_owned(),
        child,
        _kill: KillOnDrop(pid),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn web_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("COORDINATOR_HTTP__LISTEN", format!("127.0.0.1:{port}")),
        (
            "COORDINATOR_DISCORD__PUBLIC_KEY",
            FakeDiscord::public_key_hex(),
        ),
    ]
}

/// Which process (by application name) holds each partition now, from `pg_locks`.
async fn partition_owners(db: &Db) -> Vec<(String, i64)> {
    sql(
        "SELECT a.application_name, l.objid::bigint FROM pg_locks l \
         JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
         AND l.classid::bigint = $1 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(PARTITION_CLASS)
    .fetch_all::<(String, i64)>(db.on())
    .await
    .expect("pg_locks")
}

/// Partitions with more than one holder right now (never, if the locks work).
async fn partitions_held_twice(db: &Db) -> i64 {
    sql("SELECT COUNT(*) FROM (SELECT objid FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid::bigint = $1 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         GROUP BY objid HAVING COUNT(*) > 1) AS twice")
    .bind(PARTITION_CLASS)
    .scalar::<i64>(db.on())
    .await
    .expect("pg_locks")
}

/// The overdue alerts of the seeded tasks in `message`: their numbers in "Cluster task NNNN".
fn seeded_alerts(message: &PostedMessage) -> Vec<u64> {
    let content = message.body["content"].as_str().unwrap_or_default();
    content
        .lines()
        .filter(|line| line.starts_with("🚨"))
        .filter_map(|line| {
            let at = line.find("Cluster task ")? + "Cluster task ".len();
            line.get(at..at + 4)?.parse().ok()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One answered interaction: whether it was answered, and how long the round trip took.
struct Answered {
    id: u64,
    status: u16,
    kind: Option<u64>,
    took: Duration,
}

#[tokio::test]
async fn endpoint_mode_cluster_survives_worker_kills_with_every_duty_once_and_in_order() {
    let _alone = turns::exclusive().await;
    let tasks = env_number("COORDINATOR_CLUSTER_TASKS", 2_000);
    let spread_secs = env_number("COORDINATOR_CLUSTER_SECS", 60);
    let kills = env_number("COORDINATOR_CLUSTER_KILLS", 10);
    let worker_count = env_number("COORDINATOR_CLUSTER_WORKERS", 3).max(1);
    let mut rng = Rng(env_number("COORDINATOR_CLUSTER_SEED", 15));
    let fake = FakeDiscord::start().await;
    fake.enforce_rate_limits(50, 5, Duration::from_secs(5));
    let db_url = crate::support::database::fresh_postgres_database().await;
    let db = Db::connect(&db_url).await.expect("database");

    // Seeded straight into the database: due from 25 s from now, over `spread_secs`.
    let start_utc = Utc::now();
    let start_instant = Instant::now();
    // Time to seed and start first (a larger run seeds longer).
    let first_due = start_utc.timestamp() + 25 + (tasks / 1_000) as i64;
    let due_of = move |k: u64| first_due + (k * spread_secs / tasks) as i64;
    let mut seeding = tokio::task::JoinSet::new();
    for part in 0..8_u64 {
        let url = db_url.clone();
        seeding.spawn(async move {
            let db = Db::connect(&url).await.expect("database");
            for k in (part..tasks).step_by(8) {
                let g = k % GUILDS;
                let new = NewTask {
                    repeat: None,
                    guild_id: guild(g).into(),
                    title: format!("Cluster task {k:04}"),
                    description: None,
                    priority: Priority::Normal,
                    project: None,
                    assignee_id: Some(ASSIGNEE.into()),
                    creator_id: ASSIGNEE.into(),
                    channel_id: channel(g).into(),
                    due_at: DateTime::from_timestamp(due_of(k), 0),
                };
                db.create_task(&new, Utc::now()).await.expect("seed task");
            }
            db.close().await;
        });
    }
    while let Some(done) = seeding.join_next().await {
        done.expect("seeding");
    }
    println!(
        "cluster: seeded {tasks} tasks in {:?}",
        start_instant.elapsed()
    );

    // The cluster: one gateway (guild events, registration), two web, three workers.
    // The workers divide the budget among themselves; 45 leaves some for the web processes'
    // webhook calls.
    let worker_env = vec![("COORDINATOR_DISCORD__REQUESTS_PER_SECOND", "45".to_owned())];
    let _gateway = spawn(&fake, &db_url, "gateway", &["--role", "gateway"], &[]);
    let ports = [free_port(), free_port()];
    let mut _webs = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        _webs.push(spawn(
            &fake,
            &db_url,
            &format!("web-{i}"),
            &["--role", "web"],
            &web_env(*port),
        ));
    }
    let mut workers: Vec<Proc> = (0..worker_count)
        .map(|i| {
            spawn(
                &fake,
                &db_url,
                &format!("worker-{i}"),
                &["--role", "worker"],
                &worker_env,
            )
        })
        .collect();
    let urls: Vec<String> = ports
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect();
    let client = reqwest::Client::new();
    for url in &urls {
        eventually(
            "a web process to answer /healthz",
            Duration::from_secs(30),
            || async {
                let response = client.get(format!("{url}/healthz")).send().await.ok()?;
                response.status().is_success().then_some(())
            },
        )
        .await;
    }
    fake.wait_ready().await;
    eventually(
        "the workers to share every partition",
        Duration::from_secs(30),
        || async {
            let owners = partition_owners(&db).await;
            let names: BTreeSet<&String> = owners.iter().map(|(name, _)| name).collect();
            (owners.len() == 256 && names.len() as u64 == worker_count).then_some(())
        },
    )
    .await;
    println!(
        "cluster: 6 processes up {:?} after the start",
        start_instant.elapsed()
    );

    // Watching pg_locks the whole run: a partition must never have two holders.
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (url, stop, samples) = (db_url.clone(), Arc::clone(&stop), Arc::clone(&samples));
        tokio::spawn(async move {
            let db = Db::connect(&url).await.expect("database");
            let mut twice = 0;
            while !stop.load(Ordering::Relaxed) {
                twice += partitions_held_twice(&db).await;
                samples.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            db.close().await;
            twice
        })
    };

    // Commands and button presses through the web processes, all run long.
    let answered: Arc<Mutex<Vec<Answered>>> = Arc::default();
    let driver = {
        let (fake, urls, stop, answered) = (
            fake.clone(),
            urls.clone(),
            Arc::clone(&stop),
            Arc::clone(&answered),
        );
        let mut rng = Rng(rng.next());
        tokio::spawn(async move {
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let g = rng.below(GUILDS);
                let url = format!("{}/interactions", urls[(n % 2) as usize]);
                let caller =
                    Caller::member(guild(g), channel(g), 100 + g).with_permissions(ADMINISTRATOR);
                let (id, interaction) = if n.is_multiple_of(4) {
                    // Mark done on the newest posted alert that still has its button.
                    let pressable = fake.messages().into_iter().rev().find_map(|m| {
                        let stored = fake.message(m.id)?;
                        let custom_id = stored["components"][0]["components"][0]["custom_id"]
                            .as_str()?
                            .to_owned();
                        custom_id
                            .contains("done")
                            .then_some((m.channel_id, stored, custom_id))
                    });
                    match pressable {
                        Some((channel_id, message, custom_id)) => {
                            let g = channel_id - channel(0);
                            let assignee = Caller::member(guild(g), channel_id, ASSIGNEE);
                            button_on_message(&assignee, &custom_id, message)
                        }
                        None => continue,
                    }
                } else {
                    slash(
                        &caller,
                        &["task", "create"],
                        vec![s("title", &format!("Web task {n}"))],
                    )
                };
                let started = Instant::now();
                let (status, answer) = fake.post_interaction(&url, &interaction).await;
                answered.lock().expect("answers").push(Answered {
                    id,
                    status,
                    kind: answer["type"].as_u64(),
                    took: started.elapsed(),
                });
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    // The kills: at seeded moments over the run, every other one just after Discord accepted
    // a message from the worker that is killed.
    let utc_of = |at: Instant| {
        start_utc + chrono::Duration::from_std(at - start_instant).unwrap_or_default()
    };
    let run_start = DateTime::from_timestamp(first_due, 0).expect("due");
    let mut kill_log = Vec::new();
    for i in 0..kills {
        let at = run_start
            + chrono::Duration::milliseconds((i * spread_secs * 1_000 / kills.max(1)) as i64)
            + chrono::Duration::milliseconds(rng.range(500, 4_000) as i64);
        if let Ok(wait) = (at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let mut owners = partition_owners(&db).await;
        let victim = if i % 2 == 1 {
            // Whoever sent the next message Discord accepts, while Discord's answer is on
            // its way: the killed worker never marks it sent, and the new owner resends it.
            let seen = fake.messages().len();
            fake.hold_next_answer(Duration::from_secs(2));
            let message = eventually(
                "a message to be accepted",
                Duration::from_secs(20),
                || async { fake.messages().get(seen).cloned() },
            )
            .await;
            let g = message.channel_id.saturating_sub(channel(0));
            let partition = i64::from(partition_of(guild(g).into()));
            owners = partition_owners(&db).await;
            owners
                .iter()
                .find(|(_, p)| *p == partition)
                .and_then(|(name, _)| workers.iter().position(|w| &w.name == name))
                .unwrap_or(0)
        } else {
            rng.below(worker_count) as usize
        };
        let held: BTreeSet<i64> = owners
            .iter()
            .filter(|(name, _)| *name == workers[victim].name)
            .map(|(_, p)| *p)
            .collect();
        workers[victim].kill();
        let killed_at = Instant::now();
        kill_log.push((killed_at, held));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let name = format!("worker-{victim}");
        workers[victim] = spawn(&fake, &db_url, &name, &["--role", "worker"], &worker_env);
    }

    // Every duty posted, once.
    let limit = Duration::from_secs(spread_secs + 120);
    let alerts = eventually("every seeded duty to be posted", limit, || async {
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for message in fake.messages() {
            for k in seeded_alerts(&message) {
                *seen.entry(k).or_default() += 1;
            }
        }
        (seen.len() as u64 == tasks).then_some(seen)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    driver.await.expect("driver");
    let twice: Vec<_> = alerts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "duties posted more than once: {twice:?}");

    // Nothing left pending once the last edits are out.
    eventually(
        "the outbox to be empty",
        Duration::from_secs(60),
        || async {
            let pending: i64 = sql("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .scalar(db.on())
                .await
                .expect("outbox");
            (pending == 0).then_some(())
        },
    )
    .await;
    let held_twice = watcher.await.expect("watcher");
    assert_eq!(held_twice, 0, "a partition was held by two workers at once");

    // Per-channel order: each channel's messages arrived in the order the outbox holds them.
    let rows: Vec<(i64, i64)> = sql("SELECT channel_id, message_id FROM outbox \
         WHERE kind = 'post' AND state = 'sent' AND channel_id <> 0 ORDER BY id")
    .fetch_all(db.on())
    .await
    .expect("outbox");
    let mut stored_order: HashMap<u64, Vec<u64>> = HashMap::new();
    for (channel_id, message_id) in rows {
        stored_order
            .entry(channel_id as u64)
            .or_default()
            .push(message_id as u64);
    }
    let mut posted_order: HashMap<u64, Vec<u64>> = HashMap::new();
    for message in fake.messages() {
        posted_order
            .entry(message.channel_id)
            .or_default()
            .push(message.id);
    }
    for (channel_id, stored) in &stored_order {
        assert_eq!(
            posted_order.get(channel_id),
            Some(stored),
            "channel {channel_id}: messages out of order"
        );
    }

    // Numbering stays gapless per guild, whichever web process created the task.
    let gaps: Vec<(i64, i64, i64)> = sql("SELECT guild_id, COUNT(*), MAX(number) FROM tasks \
         GROUP BY guild_id HAVING COUNT(*) <> MAX(number)")
    .fetch_all(db.on())
    .await
    .expect("tasks");
    assert!(gaps.is_empty(), "task numbers with gaps: {gaps:?}");
    // The open-task count each guild's list shows, kept by triggers while two processes
    // created and finished tasks at once, equals a count of the tasks themselves.
    let miscounted: Vec<(i64, i64, i64)> = sql("SELECT t.guild_id, COUNT(*), \
         COALESCE(MAX(c.open_tasks), 0) FROM tasks t \
         LEFT JOIN guild_open_tasks c ON c.guild_id = t.guild_id \
         WHERE t.deleted_at IS NULL AND t.status <> 'done' GROUP BY t.guild_id \
         HAVING COUNT(*) <> COALESCE(MAX(c.open_tasks), 0)")
    .fetch_all(db.on())
    .await
    .expect("open tasks");
    assert!(
        miscounted.is_empty(),
        "open-task counts off: {miscounted:?}"
    );

    // Every interaction answered: in the response, or deferred and then finished.
    let answered = std::mem::take(&mut *answered.lock().expect("answers"));
    assert!(
        answered.len() > 20,
        "only {} interactions sent",
        answered.len()
    );
    for a in &answered {
        assert_eq!(a.status, 200, "interaction {} got {}", a.id, a.status);
        match a.kind {
            Some(4) | Some(7) => {}
            Some(5) | Some(6) => {
                let id = a.id;
                eventually(
                    "a deferred interaction to be finished",
                    Duration::from_secs(30),
                    || async {
                        (!fake.original_edits_for(id).is_empty()
                            || !fake.followups_for(id).is_empty())
                        .then_some(())
                    },
                )
                .await;
            }
            other => panic!("interaction {} answered with type {other:?}", a.id),
        }
    }

    // Forged, stale and replayed requests: 401, and nothing changes.
    let tasks_before: i64 = sql("SELECT COUNT(*) FROM tasks")
        .scalar(db.on())
        .await
        .expect("count");
    let caller = Caller::member(guild(0), channel(0), 100).with_permissions(ADMINISTRATOR);
    let url = format!("{}/interactions", urls[0]);
    let now = Utc::now().timestamp();
    let (_, forged) = slash(&caller, &["task", "create"], vec![s("title", "Forged")]);
    let wrong_key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    assert_eq!(post_signed(&url, &wrong_key, now, &forged).await.0, 401);
    let (_, stale) = slash(&caller, &["task", "create"], vec![s("title", "Stale")]);
    assert_eq!(
        post_signed(&url, &signing_key(), now - 301, &stale).await.0,
        401
    );
    let (_, replayed) = slash(&caller, &["task", "create"], vec![s("title", "Replayed")]);
    assert_eq!(
        post_signed(&url, &signing_key(), now, &replayed).await.0,
        200
    );
    // The replay goes to the other web process: the handled ids live in the database.
    let other = format!("{}/interactions", urls[1]);
    assert_eq!(
        post_signed(&other, &signing_key(), now, &replayed).await.0,
        401
    );
    let tasks_after: i64 = sql("SELECT COUNT(*) FROM tasks")
        .scalar(db.on())
        .await
        .expect("count");
    assert_eq!(
        tasks_after,
        tasks_before + 1,
        "only the first delivery of the replayed one counts"
    );

    // Figures: failover (kill to the first message Discord accepted for one of the killed
    // worker's partitions) and lateness (accepted minus due) of every seeded duty.
    let messages = fake.messages();
    let mut failovers: Vec<Duration> = kill_log
        .iter()
        .filter_map(|(killed_at, held)| {
            messages
                .iter()
                .filter(|m| m.received_at > *killed_at)
                .find(|m| {
                    let g = m.channel_id.saturating_sub(channel(0));
                    g < GUILDS && held.contains(&i64::from(partition_of(guild(g).into())))
                })
                .map(|m| m.received_at - *killed_at)
        })
        .collect();
    failovers.sort();
    let mut lateness: Vec<Duration> = messages
        .iter()
        .flat_map(|m| {
            let posted = utc_of(m.received_at);
            seeded_alerts(m).into_iter().map(move |k| {
                let due = DateTime::from_timestamp(due_of(k), 0).expect("due");
                (posted - due).to_std().unwrap_or_default()
            })
        })
        .collect();
    lateness.sort();
    let last_posted = messages
        .iter()
        .filter(|m| !seeded_alerts(m).is_empty())
        .map(|m| m.received_at)
        .max()
        .map(|at| (utc_of(at) - run_start).to_std().unwrap_or_default())
        .unwrap_or_default();
    let mut round_trips: Vec<Duration> = answered.iter().map(|a| a.took).collect();
    round_trips.sort();
    println!(
        "cluster: {tasks} duties over {spread_secs} s in 64 guilds, 2 web, {worker_count} workers, \
         1 gateway; {} kills; {} messages, the last {last_posted:?} after the first due time; \
         {} resends de-duplicated by nonce; 0 lost, 0 duplicated; {} pg_locks samples, \
         0 partitions held twice; {} 429s ({} global)",
        kill_log.len(),
        messages.len(),
        fake.deduplicated(),
        samples.load(Ordering::Relaxed),
        fake.rate_limited(),
        fake.globally_rate_limited(),
    );
    println!(
        "cluster: failover (SIGKILL to first send by the new owner) p50 {:?} p99 {:?} max {:?} over {} kills",
        percentile(&failovers, 0.5),
        percentile(&failovers, 0.99),
        failovers.last().copied().unwrap_or_default(),
        failovers.len()
    );
    println!(
        "cluster: duty lateness p50 {:?} p99 {:?} max {:?}",
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness.last().copied().unwrap_or_default()
    );
    println!(
        "cluster: {} interactions through web, round trip p50 {:?} p99 {:?}",
        round_trips.len(),
        percentile(&round_trips, 0.5),
        percentile(&round_trips, 0.99)
    );
    assert_eq!(fake.globally_rate_limited(), 0, "global 429s");
    for mut worker in workers {
        worker.kill();
    }
    db.close().await;
}

#[tokio::test]
async fn gateway_mode_runs_each_shard_in_one_process_and_routes_guilds_to_their_shard() {
    let _alone = turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let db_url = crate::support::database::fresh_postgres_database().await;
    // Migrated before the processes start, so none waits on another's migration.
    Db::connect(&db_url).await.expect("database").close().await;

    let _worker = spawn(&fake, &db_url, "worker", &["--role", "worker"], &[]);
    let mut first = spawn(
        &fake,
        &db_url,
        "gateway-0",
        &["--role", "gateway", "--shards", "0-0/2"],
        &[],
    );
    let started = Instant::now();
    let _second = spawn(
        &fake,
        &db_url,
        "gateway-1",
        &["--role", "gateway", "--shards", "1-1/2"],
        &[],
    );
    eventually(
        "the first shard to identify",
        Duration::from_secs(30),
        || async { (fake.identify_count() >= 1).then_some(()) },
    )
    .await;
    let first_at = started.elapsed();
    eventually(
        "both shards to be open",
        Duration::from_secs(30),
        || async { (fake.open_shards() == vec![0, 1]).then_some(()) },
    )
    .await;
    let gap = started.elapsed() - first_at;
    let shards: BTreeSet<String> = fake
        .identifies()
        .iter()
        .map(|identify| identify["shard"].to_string())
        .collect();
    assert_eq!(
        shards,
        BTreeSet::from(["[0,2]".to_owned(), "[1,2]".to_owned()])
    );
    // The second process waited for the IDENTIFY turn: 5 s after the first shard connected.
    assert!(
        gap >= Duration::from_millis(4_500),
        "IDENTIFYs only {gap:?} apart"
    );

    // Commands from guilds of both shards: each reaches its own shard, and is answered once.
    let mut round_trips = Vec::new();
    let mut ids = Vec::new();
    for g in 0..8_u64 {
        let caller = Caller::member(guild(g), channel(g), 100 + g).with_permissions(ADMINISTRATOR);
        let (id, interaction) = slash(
            &caller,
            &["task", "create"],
            vec![s("title", &format!("Sharded {g}"))],
        );
        let sent = Instant::now();
        fake.inject(interaction).await;
        let response = fake
            .response_within(id, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no answer to the command from guild {g}"));
        round_trips.push(sent.elapsed());
        assert!(
            response.to_string().contains(&format!("Sharded {g}")),
            "{response}"
        );
        ids.push(id);
    }
    let per_shard: BTreeMap<u64, usize> = fake
        .shard_dispatches()
        .iter()
        .filter(|(_, event)| event == "INTERACTION_CREATE")
        .fold(BTreeMap::new(), |mut counts, (shard, _)| {
            *counts.entry(*shard).or_default() += 1;
            counts
        });
    let expected: BTreeMap<u64, usize> = (0..8_u64).fold(BTreeMap::new(), |mut counts, g| {
        *counts.entry((guild(g) >> 22) % 2).or_default() += 1;
        counts
    });
    assert_eq!(per_shard, expected, "interactions per shard");

    // A third process for shard 0 waits while the first runs it, and takes over once it dies.
    let identifies = fake.identify_count();
    let _third = spawn(
        &fake,
        &db_url,
        "gateway-2",
        &["--role", "gateway", "--shards", "0-0/2"],
        &[],
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fake.identify_count(), identifies, "shard 0 started twice");
    first.kill();
    let killed = Instant::now();
    eventually("shard 0 to run again", Duration::from_secs(30), || async {
        (fake.identify_count() > identifies && fake.open_shards() == vec![0, 1]).then_some(())
    })
    .await;
    round_trips.sort();
    println!(
        "gateway mode: 2 processes on shards 0-0/2 and 1-1/2, IDENTIFYs {gap:?} apart; \
         command round trip through the gateway p50 {:?} max {:?}; shard 0 taken over {:?} after SIGKILL",
        percentile(&round_trips, 0.5),
        round_trips.last().copied().unwrap_or_default(),
        killed.elapsed()
    );
}
