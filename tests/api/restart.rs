//! Data survives a restart: stop the bot, start it again on the same database file.

use crate::support::bot::*;
use crate::support::interactions::{s, Opt};

#[tokio::test]
async fn tasks_projects_settings_and_history_survive_a_restart() {
    let mut bot = TestBot::with_manager_role().await;
    let boss = manager();
    bot.run(
        &boss,
        &["config", "timezone"],
        vec![s("zone", "Europe/Berlin")],
    )
    .await;
    bot.run(&boss, &["project", "create"], vec![s("name", "Apollo")])
        .await;
    bot.run(&member(ALICE), &["timezone"], vec![s("zone", "Asia/Tokyo")])
        .await;
    let n = bot
        .create_task(
            &boss,
            "Survive",
            vec![
                Opt::User("assignee", ALICE),
                s("project", "Apollo"),
                s("due", "friday"),
            ],
        )
        .await;
    bot.run(
        &boss,
        &["task", "comment"],
        vec![Opt::Int("task", n), s("text", "before restart")],
    )
    .await;
    let deleted = bot.create_task(&boss, "Gone", vec![]).await;
    bot.run(&boss, &["task", "delete"], vec![Opt::Int("task", deleted)])
        .await;
    let before = bot.snapshot().await;

    bot.restart().await;

    assert_eq!(
        before,
        bot.snapshot().await,
        "the database reads back the same"
    );
    let show = embed_text(
        &bot.run(&member(ALICE), &["task", "show"], vec![Opt::Int("task", n)])
            .await,
    );
    assert!(
        show.contains("Survive") && show.contains("Apollo") && show.contains("before restart"),
        "{show}"
    );
    let settings = embed_text(&bot.run(&member(ALICE), &["config", "show"], vec![]).await);
    assert!(settings.contains("Europe/Berlin"), "{settings}");
    // The manager role still works, and numbers continue past the deleted task.
    assert_eq!(
        bot.create_task(&boss, "After", vec![Opt::User("assignee", BOB)])
            .await,
        deleted + 1
    );
    // Alice's own zone still reads her dates: 2026-12-01 17:00 Tokyo is 08:00 UTC.
    let m = bot
        .create_task(&member(ALICE), "Tokyo", vec![s("due", "2026-12-01")])
        .await;
    assert_eq!(
        bot.task_column(GUILD, m, "due_at").await.as_deref(),
        Some("1796112000")
    );
    bot.stop().await;
}

/// SQLite's log is folded into the database file while the bot runs, by a background
/// checkpoint rather than inside a command's commit (README, "Memory and speed").
#[tokio::test]
async fn the_database_log_is_folded_into_the_file_in_the_background() {
    if crate::ON_POSTGRES {
        return; // PostgreSQL manages its own log.
    }
    let bot = TestBot::start().await;
    // No commit checkpoints by itself.
    let automatic: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(bot.pool())
        .await
        .expect("pragma");
    assert_eq!(automatic, 0, "commits do not checkpoint");
    let file = bot.dir.path().join("coordinator.db");
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let before = size();
    for i in 0..200 {
        bot.create_task(
            &member(ALICE),
            &format!("Folded in {i:03} {}", "x".repeat(180)),
            vec![],
        )
        .await;
    }
    // 200 tasks with their history and search entries need more pages than the empty file had;
    // only a checkpoint writes them into it.
    crate::support::wait::eventually(
        "the log's pages to reach the database file",
        std::time::Duration::from_secs(10),
        || async {
            let now = size();
            if now > before {
                Ok(())
            } else {
                Err(format!("database file still {now} bytes"))
            }
        },
    )
    .await;
}
