//! The real binary: how it starts, fails and stops, and that its token shows in no log line
//! (even at trace) and in nothing it sends.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use coordinator::domain::task::Priority;
use coordinator::store::{Db, NewTask};
use serde_json::json;

use crate::support::bot::ALICE;
use crate::support::fake_discord::FakeDiscord;
use crate::support::interactions::{autocomplete, s, slash, Caller, Opt};
use crate::support::process::{bot_command, terminate, KillOnDrop, Piped, BIN};
use crate::support::turns;

#[test]
fn without_a_token_it_exits_non_zero_with_one_line_naming_discord_token() {
    let _turn = turns::shared_blocking();
    let output = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DISCORD_TOKEN")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("DISCORD_TOKEN"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[tokio::test]
async fn it_connects_registers_commands_and_stops_cleanly_on_sigterm_without_logging_the_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}/nested/bot.db", dir.path().display());
    starts_and_stops_cleanly(&db_url).await;
    assert!(
        dir.path().join("nested/bot.db").exists(),
        "the database file is created"
    );
}

#[cfg(postgres_tests)]
#[tokio::test]
async fn on_postgres_it_connects_registers_commands_and_stops_cleanly_on_sigterm() {
    let db_url = crate::support::database::fresh_postgres_database().await;
    starts_and_stops_cleanly(&db_url).await;
    let db = Db::connect(&db_url).await.expect("database");
    let migrations: i64 = coordinator::store::sql("SELECT COUNT(*) FROM _sqlx_migrations")
        .scalar(db.on())
        .await
        .expect("migrations table");
    assert!(migrations > 0, "the bot migrated the empty database");
    db.close().await;
}

async fn starts_and_stops_cleanly(db_url: &str) {
    // Bounds how long the stop takes: alone.
    let _alone = turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let token = "bin-test-token.AAAA.never-log-me";
    let bot = Piped::spawn(
        bot_command(token, &fake.base_url(), db_url, "debug").env("DISCORD_GUILD_ID", "123456789"),
    )
    .await;
    fake.wait_ready().await;
    let registered = fake
        .wait_until("commands registered", |f| {
            f.registered_commands().into_iter().next()
        })
        .await;
    assert_eq!(registered.0, Some(123_456_789));
    assert_eq!(fake.identify_tokens(), vec![token.to_string()]);

    let output = bot.stop_within(Duration::from_secs(20)).await;
    assert!(output.status.success(), "clean exit: {:?}", output.status);
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(token), "the token leaked into the logs");
    assert!(
        !logs.contains("never-log-me"),
        "part of the token leaked into the logs"
    );
}

/// A bot that cannot reach Discord loops on reconnecting its shard, which never acknowledges a
/// shutdown; SIGTERM must still stop it cleanly, well before the 30 s safety cap in `main`.
#[test]
fn sigterm_stops_a_bot_that_cannot_reach_discord() {
    use std::io::BufRead;
    // Measures how long the stop takes: alone.
    let _alone = turns::exclusive_blocking();

    // A port that was just free: nothing answers there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = bot_command(
        "unreachable-discord-token",
        &format!("http://{closed}"),
        &format!("sqlite://{}/bot.db", dir.path().display()),
        "info",
    )
    .env("NO_COLOR", "1")
    .stderr(Stdio::null())
    .stdout(Stdio::piped())
    .spawn()
    .expect("binary starts");
    let _guard = KillOnDrop(child.id());
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout piped");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let mut logs = String::new();
    // The signal handler is installed before "started" is logged.
    while !logs.contains("started") {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the bot logs that it started");
        logs.push_str(&line);
        logs.push('\n');
    }

    let signalled = std::time::Instant::now();
    terminate(child.id());
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(25)) {
        logs.push_str(&line);
        logs.push('\n');
    }
    let exit = child.wait().expect("the bot exits");
    let took = signalled.elapsed();
    assert!(exit.success(), "clean exit: {exit:?}\n{logs}");
    assert!(logs.contains("stopped"), "the database was closed: {logs}");
    assert!(
        !logs.contains("exiting anyway"),
        "the safety cap was needed: {logs}"
    );
    eprintln!("stopped {took:?} after SIGTERM without Discord");
}

// ----- The token, at trace level -----

const SECRET_TOKEN: &str = "MTIzNDU2.sec-token.recognisable-Zq7Wx";
const SEC_GUILD: u64 = 515_151_515_151_515_151;

/// Forms the token could be written in: as is, hex (a websocket frame dump), base64.
fn token_forms() -> Vec<String> {
    let hex: String = SECRET_TOKEN.bytes().map(|b| format!("{b:02x}")).collect();
    let tail = SECRET_TOKEN.rsplit('.').next().unwrap_or(SECRET_TOKEN);
    vec![SECRET_TOKEN.to_string(), tail.to_string(), hex]
}

#[tokio::test]
async fn the_token_is_in_no_log_line_at_trace_and_no_reply() {
    // Bounds how long the stop takes: alone.
    let _alone = turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}/token.db", dir.path().display());
    // An overdue task whose channel refuses the bot (403), and one whose channel fails (500).
    {
        let db = Db::connect(&db_url).await.expect("database");
        let now = Utc::now();
        for (i, channel) in [(1, 61_u64), (2, 62)] {
            let new = NewTask {
                repeat: None,
                guild_id: SEC_GUILD.into(),
                title: format!("token task {i}"),
                description: None,
                priority: Priority::Normal,
                project: None,
                assignee_id: Some(7.into()),
                creator_id: 7.into(),
                channel_id: channel.into(),
                due_at: Some(now - chrono::Duration::minutes(5)),
            };
            db.create_task(&new, now - chrono::Duration::hours(1))
                .await
                .expect("task");
        }
        db.close().await;
    }
    fake.fail_channel(61, 403);
    fake.fail_channel(62, 500);
    let bot = Piped::spawn(&mut bot_command(
        SECRET_TOKEN,
        &fake.base_url(),
        &db_url,
        "trace",
    ))
    .await;
    fake.wait_ready().await;
    fake.wait_until("commands registered", |f| {
        f.registered_commands().into_iter().next()
    })
    .await;
    let caller = Caller::member(SEC_GUILD, 63, ALICE);
    // A good command, a bad one, an unknown one, and answers refused 401 / 403 / 500.
    let mut ids = Vec::new();
    for (path, options) in [
        (&["task", "create"][..], vec![s("title", "token check")]),
        (&["task", "show"][..], vec![Opt::Int("task", 999)]),
        (&["nonexistent"][..], vec![]),
    ] {
        let (id, interaction) = slash(&caller, path, options);
        fake.inject(interaction).await;
        ids.push(id);
        fake.response(id).await;
    }
    for status in [401_u16, 403, 500] {
        fake.fail_next(
            "POST",
            "/interactions",
            status,
            json!({ "message": format!("{status}: refused by the test"), "code": 0 }),
        );
        let (id, interaction) = slash(&caller, &["task", "mine"], vec![]);
        fake.inject(interaction).await;
        fake.wait_until("the refused answer", |f| {
            f.rejected()
                .iter()
                .any(|r| r.path.contains(&id.to_string()))
                .then_some(())
        })
        .await;
    }
    let (id, interaction) = autocomplete(&caller, &["task", "show"], vec![], "task");
    fake.inject(interaction).await;
    fake.response(id).await;
    // Both duties were tried (and failed) before the bot stops.
    fake.wait_until("both failing duties tried", |f| {
        let tried = |c: u64| {
            f.rejected()
                .iter()
                .any(|r| r.path == format!("/api/v10/channels/{c}/messages"))
        };
        (tried(61) && tried(62)).then_some(())
    })
    .await;
    let output = bot.stop_within(Duration::from_secs(20)).await;
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = logs.lines().count();
    assert!(logs.contains("TRACE"), "trace logging was on");
    assert!(logs.contains("shutting down"), "{logs}");
    for form in token_forms() {
        let hits: Vec<&str> = logs.lines().filter(|l| l.contains(&form)).take(3).collect();
        assert!(
            hits.is_empty(),
            "the token ({form}) is in the logs: {hits:#?}"
        );
    }
    // Nothing the bot sent carries it either (the Authorization header and IDENTIFY aside).
    let requests = fake.requests();
    for request in &requests {
        let sent = format!("{} {:?} {}", request.body, request.query, request.path);
        for form in token_forms() {
            assert!(
                !sent.contains(&form),
                "{} {} carries the token",
                request.method,
                request.path
            );
        }
    }
    for followup in fake.followups() {
        assert!(!followup.to_string().contains(SECRET_TOKEN));
    }
    eprintln!(
        "token: {lines} log lines at RUST_LOG=trace and {} REST requests (401, 403, 500 and \
         403/500 channel failures among them) carry no form of the token",
        requests.len()
    );
}
