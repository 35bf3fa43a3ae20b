//! The real binary, run as a child process.

use std::collections::BTreeMap;
use std::io;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::fake_discord::FakeDiscord;
use super::turns::{self, Turn};

pub const BIN: &str = env!("CARGO_BIN_EXE_coordinator");

/// The bot as a deployment runs it, from the crate root (so it reads the shipped `config/`),
/// with its token, Discord API, database and log filter set; callers add what else they need.
pub fn bot_command(token: &str, api_base: &str, database_url: &str, log_filter: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISCORD_TOKEN", token)
        .env("DISCORD_API_BASE", api_base)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", log_filter);
    command
}

/// Kills the process if the test fails half-way, so no process outlives it.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Sends SIGTERM to `pid`, as a service manager stops the bot.
pub fn terminate(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// A running bot whose stdout and stderr are read while it runs, so a full pipe can never
/// stall it, and which is killed if the test ends first.
pub struct Piped {
    pid: u32,
    waiting: JoinHandle<io::Result<Output>>,
    _kill: KillOnDrop,
    _turn: Turn,
}

impl Piped {
    pub async fn spawn(command: &mut Command) -> Piped {
        let turn = turns::shared().await;
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let pid = child.id();
        Piped {
            pid,
            waiting: tokio::task::spawn_blocking(move || child.wait_with_output()),
            _kill: KillOnDrop(pid),
            _turn: turn,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGTERM, then everything it wrote, once it has exited within `limit`.
    pub async fn stop_within(self, limit: Duration) -> Output {
        terminate(self.pid);
        tokio::time::timeout(limit, self.waiting)
            .await
            .unwrap_or_else(|_| panic!("stops within {limit:?}"))
            .expect("wait task")
            .expect("output")
    }
}

/// How many times each task number appears in an overdue alert the fake holds.
pub fn overdue_alerts_per_task(fake: &FakeDiscord) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for message in fake.messages() {
        for line in message.body["content"].as_str().unwrap_or_default().lines() {
            if let Some(rest) = line.strip_prefix("🚨 **#") {
                if let Some(n) = rest.split(' ').next().and_then(|n| n.parse().ok()) {
                    *seen.entry(n).or_insert(0) += 1;
                }
            }
        }
    }
    seen
}
