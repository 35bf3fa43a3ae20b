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
