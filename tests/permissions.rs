//! Spec §1, row by row: one allowed and one refused case each. A refusal is ephemeral, names
//! the role needed, and changes nothing.

mod support;

use support::bot::*;
use support::interactions::{Caller, Opt, ADMINISTRATOR, MANAGE_GUILD};

fn s(name: &'static str, value: &str) -> Opt {
    Opt::Str(name, value.to_string())
}

/// Runs a command that must be refused, and checks nothing changed.
async fn refused(bot: &TestBot, caller: &Caller, path: &[&str], options: Vec<Opt>, needle: &str) {
    let before = bot.snapshot().await;
    let reply = bot.run(caller, path, options).await;
    assert_private_error(&reply, needle);
    assert_private_error(&reply, "manager role");
    assert_pings_nobody(&reply);
    assert_eq!(
        before,
        bot.snapshot().await,
        "a refused {path:?} changed data"
    );
}

async fn allowed(
    bot: &TestBot,
    caller: &Caller,
    path: &[&str],
    options: Vec<Opt>,
) -> serde_json::Value {
    let reply = bot.run(caller, path, options).await;
    let text = format!("{}{}", content(&reply), embed_text(&reply));
    assert!(!text.contains("You can't"), "{path:?} was refused: {reply}");
    reply
}

#[tokio::test]
async fn row_create_unassigned_or_for_oneself_is_for_anyone() {
    let bot = TestBot::with_manager_role().await;
    allowed(
        &bot,
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "mine"), Opt::User("assignee", ALICE)],
    )
    .await;
    allowed(
        &bot,
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "nobody's")],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, 1, "assignee_id").await,
        Some((ALICE as i64).to_string())
    );
    // Outside a guild nobody may.
    let reply = bot
        .run(
            &Caller::dm(CHANNEL, ALICE),
            &["task", "create"],
            vec![s("title", "dm")],
        )
        .await;
    assert_private_error(&reply, "only inside a server");
    assert_eq!(bot.task_column(GUILD, 3, "title").await, None);
}

#[tokio::test]
async fn row_create_for_others_and_assignment_is_for_managers() {
    let bot = TestBot::with_manager_role().await;
    refused(
        &bot,
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "for bob"), Opt::User("assignee", BOB)],
        "create a task for someone else",
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["task", "create"],
        vec![s("title", "for bob"), Opt::User("assignee", BOB)],
    )
    .await;
    let n = bot.create_task(&member(ALICE), "alice's own", vec![]).await;
    refused(
        &bot,
        &member(ALICE),
        &["task", "assign"],
        vec![Opt::Int("task", n), Opt::User("assignee", BOB)],
        "assign",
    )
    .await;
    refused(
        &bot,
        &member(ALICE),
        &["task", "assign"],
        vec![Opt::Int("task", n), Opt::User("assignee", ALICE)],
        "assign",
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", n), Opt::User("assignee", BOB)],
    )
    .await;
    refused(
        &bot,
        &member(BOB),
        &["task", "unassign"],
        vec![Opt::Int("task", n)],
        "assign",
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["task", "unassign"],
        vec![Opt::Int("task", n)],
    )
    .await;
    assert_eq!(bot.task_column(GUILD, n, "assignee_id").await, None);
}

#[tokio::test]
async fn row_due_and_priority_are_for_managers_and_the_owning_creator() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "mine", vec![]).await;
    allowed(
        &bot,
        &member(ALICE),
        &["task", "edit"],
        vec![
            Opt::Int("task", n),
            s("due", "tomorrow"),
            s("priority", "high"),
        ],
    )
    .await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", n), Opt::User("assignee", BOB)],
    )
    .await;
    refused(
        &bot,
        &member(ALICE),
        &["task", "edit"],
        vec![Opt::Int("task", n), s("due", "friday")],
        "change the due",
    )
    .await;
    refused(
        &bot,
        &member(BOB),
        &["task", "edit"],
        vec![Opt::Int("task", n), s("priority", "low")],
        "change the priority",
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["task", "edit"],
        vec![Opt::Int("task", n), s("priority", "low")],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, n, "priority").await.as_deref(),
        Some("low")
    );
}

#[tokio::test]
async fn row_title_description_project_are_for_managers_and_the_creator() {
    let bot = TestBot::with_manager_role().await;
    bot.run(&manager(), &["project", "create"], vec![s("name", "Web")])
        .await;
    let n = bot
        .create_task(&manager(), "boss made it", vec![Opt::User("assignee", BOB)])
        .await;
    refused(
        &bot,
        &member(BOB),
        &["task", "edit"],
        vec![Opt::Int("task", n), s("title", "renamed")],
        "change the title",
    )
    .await;
    refused(
        &bot,
        &member(BOB),
        &["task", "edit"],
        vec![Opt::Int("task", n), s("project", "Web")],
        "change the project",
    )
    .await;
    let m = bot
        .create_task(&member(ALICE), "alice made it", vec![])
        .await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", m), Opt::User("assignee", BOB)],
    )
    .await;
    allowed(
        &bot,
        &member(ALICE),
        &["task", "edit"],
        vec![
            Opt::Int("task", m),
            s("title", "renamed"),
            s("description", "d"),
        ],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, m, "title").await.as_deref(),
        Some("renamed")
    );
}

#[tokio::test]
async fn an_edit_touching_one_forbidden_field_is_refused_whole() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "original", vec![]).await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", n), Opt::User("assignee", BOB)],
    )
    .await;
    // Alice may change the title, but not the due date while Bob holds the task.
    refused(
        &bot,
        &member(ALICE),
        &["task", "edit"],
        vec![Opt::Int("task", n), s("title", "new"), s("due", "friday")],
        "due",
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, n, "title").await.as_deref(),
        Some("original")
    );
}

#[tokio::test]
async fn row_status_and_comments_are_for_managers_assignee_and_creator() {
    let bot = TestBot::with_manager_role().await;
    let n = bot
        .create_task(&manager(), "work", vec![Opt::User("assignee", BOB)])
        .await;
    let task = || vec![Opt::Int("task", n)];
    refused(
        &bot,
        &member(CAROL),
        &["task", "start"],
        task(),
        "update this task",
    )
    .await;
    refused(
        &bot,
        &member(CAROL),
        &["task", "done"],
        task(),
        "assignee or creator",
    )
    .await;
    refused(
        &bot,
        &member(CAROL),
        &["task", "block"],
        vec![Opt::Int("task", n), s("reason", "x")],
        "update",
    )
    .await;
    refused(
        &bot,
        &member(CAROL),
        &["task", "comment"],
        vec![Opt::Int("task", n), s("text", "x")],
        "update",
    )
    .await;
    allowed(&bot, &member(BOB), &["task", "start"], task()).await;
    allowed(
        &bot,
        &manager(),
        &["task", "comment"],
        vec![Opt::Int("task", n), s("text", "nice")],
    )
    .await;
    allowed(&bot, &member(BOB), &["task", "done"], task()).await;
    refused(&bot, &member(CAROL), &["task", "reopen"], task(), "update").await;
    let m = bot.create_task(&member(ALICE), "alice's", vec![]).await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", m), Opt::User("assignee", BOB)],
    )
    .await;
    allowed(
        &bot,
        &member(ALICE),
        &["task", "block"],
        vec![Opt::Int("task", m), s("reason", "waiting")],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, m, "status").await.as_deref(),
        Some("blocked")
    );
}

#[tokio::test]
async fn row_delete_is_for_managers_and_the_owning_creator() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "alice's", vec![]).await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", n), Opt::User("assignee", BOB)],
    )
    .await;
    refused(
        &bot,
        &member(ALICE),
        &["task", "delete"],
        vec![Opt::Int("task", n)],
        "delete this task",
    )
    .await;
    refused(
        &bot,
        &member(BOB),
        &["task", "delete"],
        vec![Opt::Int("task", n)],
        "delete this task",
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["task", "delete"],
        vec![Opt::Int("task", n)],
    )
    .await;
    let m = bot.create_task(&member(ALICE), "unassigned", vec![]).await;
    allowed(
        &bot,
        &member(ALICE),
        &["task", "delete"],
        vec![Opt::Int("task", m)],
    )
    .await;
    assert!(bot.task_column(GUILD, m, "deleted_at").await.is_some());
}

#[tokio::test]
async fn row_projects_and_config_are_for_managers() {
    let bot = TestBot::with_manager_role().await;
    let alice = member(ALICE);
    refused(
        &bot,
        &alice,
        &["project", "create"],
        vec![s("name", "Nope")],
        "manager role",
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["project", "create"],
        vec![s("name", "Yes")],
    )
    .await;
    refused(
        &bot,
        &alice,
        &["project", "archive"],
        vec![s("project", "Yes")],
        "manager role",
    )
    .await;
    refused(
        &bot,
        &alice,
        &["config", "manager-role"],
        vec![Opt::Role("role", 1)],
        "manager role",
    )
    .await;
    refused(
        &bot,
        &alice,
        &["config", "timezone"],
        vec![s("zone", "Europe/Paris")],
        "manager role",
    )
    .await;
    refused(
        &bot,
        &alice,
        &["config", "alerts-channel"],
        vec![Opt::Channel("channel", 5)],
        "manager role",
    )
    .await;
    refused(
        &bot,
        &alice,
        &["config", "reminders"],
        vec![s("offsets", "1h")],
        "manager role",
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["config", "reminders"],
        vec![s("offsets", "2h")],
    )
    .await;
    allowed(
        &bot,
        &manager(),
        &["project", "archive"],
        vec![s("project", "Yes")],
    )
    .await;
    // Manage Server counts as manager too, with no role.
    let manage_server = member(CAROL).with_permissions(MANAGE_GUILD);
    allowed(
        &bot,
        &manage_server,
        &["config", "timezone"],
        vec![s("zone", "Europe/Paris")],
    )
    .await;
}

#[tokio::test]
async fn row_viewing_is_for_anyone() {
    let bot = TestBot::with_manager_role().await;
    let n = bot
        .create_task(&manager(), "visible", vec![Opt::User("assignee", BOB)])
        .await;
    let alice = member(ALICE);
    allowed(&bot, &alice, &["task", "show"], vec![Opt::Int("task", n)]).await;
    allowed(&bot, &alice, &["task", "list"], vec![]).await;
    allowed(&bot, &alice, &["task", "mine"], vec![]).await;
    allowed(&bot, &alice, &["project", "list"], vec![]).await;
    allowed(&bot, &alice, &["config", "show"], vec![]).await;
    allowed(&bot, &alice, &["timezone"], vec![s("zone", "Europe/Rome")]).await;
    let reply = bot
        .run(&Caller::dm(CHANNEL, ALICE), &["task", "list"], vec![])
        .await;
    assert_private_error(&reply, "only inside a server");
}

#[tokio::test]
async fn rights_follow_the_member_data_of_each_command() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "x", vec![]).await;
    allowed(
        &bot,
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", n), Opt::User("assignee", BOB)],
    )
    .await;
    // The same user without the role in this interaction is a member again.
    let demoted = member(BOSS);
    refused(
        &bot,
        &demoted,
        &["task", "unassign"],
        vec![Opt::Int("task", n)],
        "assign",
    )
    .await;
    // Administrator bootstraps a server that has no manager role yet.
    let fresh = TestBot::start().await;
    let admin = member(CAROL).with_permissions(ADMINISTRATOR);
    allowed(
        &fresh,
        &admin,
        &["project", "create"],
        vec![s("name", "Boot")],
    )
    .await;
    let reply = fresh
        .run(
            &member(ALICE),
            &["project", "create"],
            vec![s("name", "Nope")],
        )
        .await;
    assert_private_error(&reply, "not set yet");
}
