//! The real binary: how it starts, fails and stops.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::fake_discord::FakeDiscord;

const BIN: &str = env!("CARGO_BIN_EXE_coordinator");

/// Kills the bot if the test fails half-way, so no process outlives it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn without_a_token_it_exits_non_zero_with_one_line_naming_discord_token() {
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
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "bin-test-token.AAAA.never-log-me";
    let child = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISCORD_TOKEN", token)
        .env("DISCORD_API_BASE", fake.base_url())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/nested/bot.db", dir.path().display()),
        )
        .env("DISCORD_GUILD_ID", "123456789")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let pid = child.id().to_string();
    let _guard = KillOnDrop(child.id());
    // Drain the output while it runs, so a full pipe can never stall the bot.
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    fake.wait_ready().await;
    let registered = fake
        .wait_until("commands registered", |f| {
            f.registered_commands().into_iter().next()
        })
        .await;
    assert_eq!(registered.0, Some(123_456_789));
    assert_eq!(fake.identify_tokens(), vec![token.to_string()]);
    assert!(
        dir.path().join("nested/bot.db").exists(),
        "the database file is created"
    );

    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("stops within 20 s")
        .expect("wait task")
        .expect("output");
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

    // A port that was just free: nothing answers there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISCORD_TOKEN", "unreachable-discord-token")
        .env("DISCORD_API_BASE", format!("http://{closed}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/bot.db", dir.path().display()),
        )
        .env("RUST_LOG", "info")
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
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
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
