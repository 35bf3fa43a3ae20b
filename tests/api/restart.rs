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
