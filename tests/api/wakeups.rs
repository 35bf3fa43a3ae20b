//! The store wakes the duties worker itself after a write that changes what is due: the real
//! worker loop, no manual step, posts a reminder that falls due 2 seconds after its task is
//! created. Without the wake-up the worker would sleep on for up to an hour.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use coordinator::clock::Clock;

use crate::support::bot::*;
use crate::support::fake_discord::FakeDiscord;
use crate::support::interactions::{slash, Opt};
use crate::support::wait::eventually;

/// A clock that runs with real time from a chosen instant, so the worker's real sleeps and the
/// domain's instants agree.
struct RealTimeFrom {
    start: DateTime<Utc>,
    started: Instant,
}

impl Clock for RealTimeFrom {
    fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }
}

#[tokio::test]
async fn a_reminder_due_two_seconds_after_its_task_is_created_is_posted_without_a_manual_step() {
    let _alone = crate::support::turns::exclusive().await;
    // Three seconds before 09:00:00: the 1-hour reminder of a task due at 10:00 falls due at
    // 09:00:00, about two seconds after the task is created.
    let reminder_due = Utc
        .with_ymd_and_hms(2026, 12, 7, 9, 0, 0)
        .single()
        .expect("valid instant");
    let clock = Arc::new(RealTimeFrom {
        start: reminder_due - chrono::Duration::seconds(3),
        started: Instant::now(),
    });
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = bot_settings(
        &fake,
        crate::support::database::url_for_test(dir.path()).await,
    );
    let running = coordinator::start_with(
        &settings,
        clock.clone(),
        coordinator::StartOptions {
            background_worker: true,
            ..Default::default()
        },
    )
    .await
    .expect("bot starts");
    fake.wait_ready().await;
    // The worker has stepped once with nothing due, so it now sleeps for its longest interval.
    let metrics = &running.app.metrics;
    eventually(
        "the worker's first step",
        Duration::from_secs(10),
        || async move { metrics.worker_steps() > 0 },
    )
    .await;

    let (id, interaction) = slash(
        &member(ALICE),
        &["task", "create"],
        vec![
            Opt::Str("title", "Ship the release notes".into()),
            Opt::Str("due", "2026-12-07 10:00".into()),
        ],
    );
    fake.inject(interaction).await;
    let created = fake.response(id).await;
    assert!(content(&created).contains("Created"), "{created}");
    assert!(
        clock.now() < reminder_due,
        "the task was created after its reminder fell due; the test proves nothing"
    );

    // Waits until 2 s past the reminder's due instant, and no longer.
    let steps_before = metrics.worker_steps();
    let limit = (reminder_due + chrono::Duration::seconds(2) - clock.now())
        .to_std()
        .unwrap_or_default();
    let fake = &fake;
    eventually(
        "the reminder within 2 s of its due instant (a worker not woken by the new task \
         would sleep on for an hour)",
        limit,
        || async move {
            let posted = fake.messages().into_iter().any(|m| {
                m.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Ship the release notes")
            });
            if posted {
                Ok(())
            } else {
                Err(format!(
                    "worker steps: {steps_before} before the create, {} now",
                    metrics.worker_steps()
                ))
            }
        },
    )
    .await;
    running.shutdown().await;
}
