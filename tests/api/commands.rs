//! Every command of README "Commands" (but /standup and /checkin, in `standups`) through the
//! real bot and the fake Discord: the reply, and what was stored.

use serde_json::Value;

use crate::support::bot::*;
use crate::support::interactions::{button, s, Opt};

#[tokio::test]
async fn registers_every_command_to_the_development_guild() {
    let bot = TestBot::start().await;
    let registered = bot
        .fake
        .wait_until("commands registered", |f| {
            f.registered_commands().into_iter().next()
        })
        .await;
    assert_eq!(registered.0, Some(GUILD));
    let names: Vec<&str> = registered
        .1
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "task",
            "project",
            "config",
            "standup",
            "checkin",
            "away",
            "timezone",
            "notify",
            "help",
            "Create task"
        ]
    );
    let task = &registered.1[0];
    let subs: Vec<&str> = task["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for sub in [
        "create", "assign", "unassign", "start", "done", "reopen", "block", "edit", "comment",
        "show", "list", "mine", "delete",
    ] {
        assert!(subs.contains(&sub), "missing /task {sub}");
    }
}

#[tokio::test]
async fn task_create_posts_publicly_pings_the_assignee_and_stores_everything() {
    let bot = TestBot::with_manager_role().await;
    bot.run(
        &manager(),
        &["project", "create"],
        vec![s("name", "Apollo")],
    )
    .await;
    let reply = bot
        .run(
            &manager(),
            &["task", "create"],
            vec![
                s("title", "Write the launch plan"),
                s("due", "2026-12-01 17:00"),
                Opt::User("assignee", ALICE),
                s("priority", "high"),
                s("project", "apollo"),
                s("description", "Two pages"),
            ],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    let text = content(&reply);
    assert!(text.contains("#1 Write the launch plan"), "{text}");
    assert!(text.contains(&format!("<@{ALICE}>")), "{text}");
    // 2026-12-01 17:00 UTC
    assert!(text.contains("<t:1796144400:f>"), "{text}");
    assert_eq!(
        reply["data"]["allowed_mentions"]["users"],
        serde_json::json!([ALICE.to_string()])
    );
    assert_eq!(
        bot.task_column(GUILD, 1, "assignee_id").await,
        Some((ALICE as i64).to_string())
    );
    assert_eq!(
        bot.task_column(GUILD, 1, "priority").await.as_deref(),
        Some("high")
    );
    assert_eq!(
        bot.task_column(GUILD, 1, "status").await.as_deref(),
        Some("todo")
    );
    assert_eq!(
        bot.task_column(GUILD, 1, "due_at").await.as_deref(),
        Some("1796144400")
    );
    assert_eq!(
        bot.task_column(GUILD, 1, "description").await.as_deref(),
        Some("Two pages")
    );
    assert_eq!(
        bot.task_column(GUILD, 1, "channel_id").await,
        Some((CHANNEL as i64).to_string())
    );
    assert!(bot.task_column(GUILD, 1, "project_id").await.is_some());
    assert_eq!(bot.history_actions(GUILD, 1).await, vec!["created"]);
}

#[tokio::test]
async fn task_numbers_count_per_guild_and_are_never_reused() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    assert_eq!(bot.create_task(&alice, "one", vec![]).await, 1);
    assert_eq!(bot.create_task(&alice, "two", vec![]).await, 2);
    let other = alice.clone().in_guild(OTHER_GUILD);
    assert_eq!(bot.create_task(&other, "elsewhere", vec![]).await, 1);
    let reply = bot
        .run(&alice, &["task", "delete"], vec![Opt::Int("task", 2)])
        .await;
    assert!(content(&reply).contains("deleted"), "{reply}");
    assert_eq!(bot.create_task(&alice, "three", vec![]).await, 3);
}

#[tokio::test]
async fn assign_and_unassign_mention_the_assignee_once() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "Fix login", vec![]).await;
    let reply = bot
        .run(
            &manager(),
            &["task", "assign"],
            vec![Opt::Int("task", n), Opt::User("assignee", BOB)],
        )
        .await;
    let text = content(&reply);
    assert!(!is_ephemeral(&reply));
    assert_eq!(text.matches(&format!("<@{BOB}>")).count(), 1, "{text}");
    assert_eq!(
        reply["data"]["allowed_mentions"]["users"],
        serde_json::json!([BOB.to_string()])
    );
    assert_eq!(
        bot.task_column(GUILD, n, "assignee_id").await,
        Some((BOB as i64).to_string())
    );
    let reply = bot
        .run(&manager(), &["task", "unassign"], vec![Opt::Int("task", n)])
        .await;
    assert!(content(&reply).contains("unassigned"), "{reply}");
    assert_eq!(bot.task_column(GUILD, n, "assignee_id").await, None);
    assert_eq!(
        bot.history_actions(GUILD, n).await,
        vec!["created", "assigned", "unassigned"]
    );
}

#[tokio::test]
async fn status_commands_move_the_task_through_its_states() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let n = bot.create_task(&alice, "Ship", vec![]).await;
    let task = || vec![Opt::Int("task", n)];
    let reply = bot.run(&alice, &["task", "start"], task()).await;
    assert!(content(&reply).contains("started"), "{reply}");
    assert_eq!(
        bot.task_column(GUILD, n, "status").await.as_deref(),
        Some("in_progress")
    );
    let reply = bot
        .run(
            &alice,
            &["task", "block"],
            vec![Opt::Int("task", n), s("reason", "waiting on legal")],
        )
        .await;
    assert!(content(&reply).contains("waiting on legal"), "{reply}");
    assert_eq!(
        bot.task_column(GUILD, n, "status").await.as_deref(),
        Some("blocked")
    );
    assert_eq!(
        bot.task_column(GUILD, n, "blocked_reason").await.as_deref(),
        Some("waiting on legal")
    );
    let reply = bot.run(&alice, &["task", "done"], task()).await;
    assert!(content(&reply).contains("is done"), "{reply}");
    assert!(!is_ephemeral(&reply));
    assert_eq!(
        bot.task_column(GUILD, n, "status").await.as_deref(),
        Some("done")
    );
    assert_eq!(bot.task_column(GUILD, n, "blocked_reason").await, None);
    let reply = bot.run(&alice, &["task", "reopen"], task()).await;
    assert!(content(&reply).contains("open again"), "{reply}");
    assert_eq!(
        bot.task_column(GUILD, n, "status").await.as_deref(),
        Some("todo")
    );
    assert_eq!(
        bot.history_actions(GUILD, n).await,
        vec!["created", "started", "blocked", "done", "reopened"]
    );
}

#[tokio::test]
async fn edit_changes_only_the_given_fields_and_comment_adds_history() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let n = bot
        .create_task(&alice, "Draft", vec![s("description", "old")])
        .await;
    let reply = bot
        .run(
            &alice,
            &["task", "edit"],
            vec![
                Opt::Int("task", n),
                s("title", "Final draft"),
                s("due", "in 2h"),
                s("priority", "urgent"),
            ],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    assert_eq!(
        bot.task_column(GUILD, n, "title").await.as_deref(),
        Some("Final draft")
    );
    assert_eq!(
        bot.task_column(GUILD, n, "priority").await.as_deref(),
        Some("urgent")
    );
    let expected_due = start_time().timestamp() + 7200;
    assert_eq!(
        bot.task_column(GUILD, n, "due_at").await,
        Some(expected_due.to_string())
    );
    assert_eq!(
        bot.task_column(GUILD, n, "description").await.as_deref(),
        Some("old")
    );
    let reply = bot
        .run(
            &alice,
            &["task", "comment"],
            vec![Opt::Int("task", n), s("text", "halfway there")],
        )
        .await;
    assert!(content(&reply).contains("halfway there"), "{reply}");
    let show = bot
        .run(&alice, &["task", "show"], vec![Opt::Int("task", n)])
        .await;
    let text = embed_text(&show);
    assert!(is_ephemeral(&show));
    assert!(text.contains("#1 Final draft"), "{text}");
    assert!(text.contains("urgent"), "{text}");
    assert!(text.contains("commented: halfway there"), "{text}");
    assert!(text.contains("edited: title, due, priority"), "{text}");
}

#[tokio::test]
async fn show_lists_every_field_and_at_most_ten_history_entries() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let n = bot
        .create_task(&alice, "Chatty", vec![s("due", "tomorrow 9am")])
        .await;
    for i in 0..12 {
        bot.run(
            &alice,
            &["task", "comment"],
            vec![Opt::Int("task", n), s("text", &format!("note {i}"))],
        )
        .await;
    }
    let show = bot
        .run(&alice, &["task", "show"], vec![Opt::Int("task", n)])
        .await;
    let text = embed_text(&show);
    for field in [
        "Status", "Priority", "Due", "Assignee", "Creator", "Project", "Created", "History",
    ] {
        assert!(
            text.contains(&format!("{field}:")),
            "missing {field} in {text}"
        );
    }
    let history = text.split("History:").nth(1).unwrap_or_default();
    assert_eq!(history.matches("commented").count(), 10, "{history}");
    assert!(
        history.contains("note 11") && !history.contains("note 1\n"),
        "{history}"
    );
    assert_pings_nobody(&show);
}

#[tokio::test]
async fn list_paginates_ten_per_page_with_working_buttons() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    for i in 1..=23 {
        bot.create_task(&alice, &format!("task {i}"), vec![]).await;
    }
    let reply = bot.run(&alice, &["task", "list"], vec![]).await;
    assert!(is_ephemeral(&reply));
    let text = embed_text(&reply);
    assert!(text.contains("Page 1 of 3 · 23 tasks"), "{text}");
    assert_eq!(text.matches("**#").count(), 10, "{text}");
    let next = reply["data"]["components"][0]["components"][1]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(next.starts_with("list:1:"), "{next}");
    let (id, press) = button(&alice, &next, 1);
    bot.fake.inject(press).await;
    let page2 = bot.fake.response(id).await;
    assert_eq!(page2["type"], 7, "the list updates in place: {page2}");
    let text = embed_text(&page2);
    assert!(text.contains("Page 2 of 3"), "{text}");
    assert!(text.contains("**#11** task 11"), "{text}");
}

/// The unfiltered list's count is kept as tasks change, not counted: it follows every way a
/// task becomes open or stops being open, and nothing else.
#[tokio::test]
async fn list_count_follows_tasks_done_reopened_and_deleted() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let count = || async {
        let text = embed_text(&bot.run(&alice, &["task", "list"], vec![]).await);
        // The footer: "Page 1 of 1 · 4 tasks".
        let footer = text.split("Page 1 of ").nth(1).unwrap_or_default();
        let count = footer.split(" · ").nth(1).unwrap_or_default();
        count.lines().next().unwrap_or_default().to_string()
    };
    for i in 1..=4 {
        bot.create_task(&alice, &format!("task {i}"), vec![]).await;
    }
    assert_eq!(count().await, "4 tasks");
    let task = |n: i64| vec![Opt::Int("task", n)];
    bot.run(&alice, &["task", "done"], task(1)).await;
    assert_eq!(count().await, "3 tasks");
    bot.run(&alice, &["task", "start"], task(2)).await;
    bot.run(
        &alice,
        &["task", "block"],
        vec![Opt::Int("task", 3), s("reason", "waiting")],
    )
    .await;
    assert_eq!(
        count().await,
        "3 tasks",
        "in progress and blocked stay open"
    );
    bot.run(&alice, &["task", "reopen"], task(1)).await;
    assert_eq!(count().await, "4 tasks");
    bot.run(&alice, &["task", "delete"], task(4)).await;
    bot.run(&alice, &["task", "done"], task(2)).await;
    assert_eq!(count().await, "2 tasks");
    // A done task deleted was not open: the count stays.
    bot.run(&alice, &["task", "delete"], task(2)).await;
    assert_eq!(count().await, "2 tasks");
    let other = member(ALICE).in_guild(OTHER_GUILD);
    bot.create_task(&other, "elsewhere", vec![]).await;
    assert_eq!(
        count().await,
        "2 tasks",
        "another guild's task is not counted here"
    );
}

#[tokio::test]
async fn list_filters_by_assignee_project_status_and_overdue() {
    let bot = TestBot::with_manager_role().await;
    bot.run(&manager(), &["project", "create"], vec![s("name", "Web")])
        .await;
    let boss = manager();
    bot.create_task(
        &boss,
        "alice web",
        vec![Opt::User("assignee", ALICE), s("project", "Web")],
    )
    .await;
    bot.create_task(
        &boss,
        "bob soon",
        vec![Opt::User("assignee", BOB), s("due", "in 1h")],
    )
    .await;
    let n3 = bot.create_task(&boss, "finished", vec![]).await;
    bot.run(&boss, &["task", "done"], vec![Opt::Int("task", n3)])
        .await;

    let by_alice = embed_text(
        &bot.run(&boss, &["task", "list"], vec![Opt::User("assignee", ALICE)])
            .await,
    );
    assert!(
        by_alice.contains("alice web") && !by_alice.contains("bob soon"),
        "{by_alice}"
    );
    let by_project = embed_text(
        &bot.run(&boss, &["task", "list"], vec![s("project", "web")])
            .await,
    );
    assert!(
        by_project.contains("alice web") && !by_project.contains("bob soon"),
        "{by_project}"
    );
    let done = embed_text(
        &bot.run(&boss, &["task", "list"], vec![s("status", "done")])
            .await,
    );
    assert!(
        done.contains("finished") && !done.contains("alice web"),
        "{done}"
    );
    let open = embed_text(&bot.run(&boss, &["task", "list"], vec![]).await);
    assert!(
        !open.contains("finished"),
        "done tasks are hidden by default: {open}"
    );
    let none_overdue = embed_text(
        &bot.run(&boss, &["task", "list"], vec![Opt::Bool("overdue", true)])
            .await,
    );
    assert!(none_overdue.contains("No tasks match"), "{none_overdue}");
    bot.clock.advance(chrono::Duration::hours(2));
    let overdue = embed_text(
        &bot.run(&boss, &["task", "list"], vec![Opt::Bool("overdue", true)])
            .await,
    );
    assert!(
        overdue.contains("bob soon") && !overdue.contains("alice web"),
        "{overdue}"
    );
}

#[tokio::test]
async fn mine_lists_the_callers_open_tasks_soonest_first() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    bot.create_task(
        &alice,
        "later",
        vec![Opt::User("assignee", ALICE), s("due", "in 3 days")],
    )
    .await;
    bot.create_task(&alice, "undated", vec![Opt::User("assignee", ALICE)])
        .await;
    bot.create_task(
        &alice,
        "sooner",
        vec![Opt::User("assignee", ALICE), s("due", "in 2h")],
    )
    .await;
    bot.create_task(&alice, "not mine", vec![]).await;
    let reply = bot.run(&alice, &["task", "mine"], vec![]).await;
    assert!(is_ephemeral(&reply));
    let text = embed_text(&reply);
    let pos = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing in {text}"))
    };
    assert!(
        pos("sooner") < pos("later") && pos("later") < pos("undated"),
        "{text}"
    );
    assert!(!text.contains("not mine"), "{text}");
    let empty = bot.run(&member(BOB), &["task", "mine"], vec![]).await;
    assert!(content(&empty).contains("no open tasks"), "{empty}");
}

#[tokio::test]
async fn deleted_tasks_leave_every_view_but_keep_their_history() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let n = bot
        .create_task(&alice, "Temporary", vec![Opt::User("assignee", ALICE)])
        .await;
    bot.run(&alice, &["task", "delete"], vec![Opt::Int("task", n)])
        .await;
    let show = bot
        .run(&alice, &["task", "show"], vec![Opt::Int("task", n)])
        .await;
    assert_private_error(&show, "no task #1");
    assert!(
        embed_text(&bot.run(&alice, &["task", "list"], vec![]).await).contains("No tasks match")
    );
    assert!(content(&bot.run(&alice, &["task", "mine"], vec![]).await).contains("no open tasks"));
    let choices = bot
        .complete(&alice, &["task", "show"], vec![s("task", "")], "task")
        .await;
    assert!(choices.is_empty(), "{choices:?}");
    assert_eq!(
        bot.history_actions(GUILD, n).await,
        vec!["created", "deleted"]
    );
    assert!(bot.task_column(GUILD, n, "deleted_at").await.is_some());
}

#[tokio::test]
async fn projects_are_created_listed_and_archived() {
    let bot = TestBot::with_manager_role().await;
    let reply = bot
        .run(
            &manager(),
            &["project", "create"],
            vec![
                s("name", "Apollo"),
                Opt::Channel("channel", 777),
                s("description", "Moon"),
            ],
        )
        .await;
    assert!(!is_ephemeral(&reply));
    assert!(content(&reply).contains("<#777>"), "{reply}");
    bot.run(
        &manager(),
        &["project", "create"],
        vec![s("name", "Gemini")],
    )
    .await;
    let reply = bot
        .run(
            &manager(),
            &["project", "archive"],
            vec![s("project", "gemini")],
        )
        .await;
    assert!(content(&reply).contains("archived"), "{reply}");
    let list = embed_text(&bot.run(&member(ALICE), &["project", "list"], vec![]).await);
    assert!(list.contains("**Apollo** · <#777>"), "{list}");
    assert!(list.contains("**Gemini** · archived"), "{list}");
    let choices = bot
        .complete(
            &manager(),
            &["task", "create"],
            vec![s("title", "x"), s("project", "")],
            "project",
        )
        .await;
    let names: Vec<&str> = choices.iter().filter_map(|c| c["value"].as_str()).collect();
    assert_eq!(names, vec!["Apollo"], "archived projects are not offered");
}

#[tokio::test]
async fn config_settings_are_stored_and_shown() {
    let bot = TestBot::with_manager_role().await;
    let boss = manager();
    let reply = bot
        .run(
            &boss,
            &["config", "timezone"],
            vec![s("zone", "Europe/Berlin")],
        )
        .await;
    assert!(content(&reply).contains("Europe/Berlin"), "{reply}");
    bot.run(
        &boss,
        &["config", "alerts-channel"],
        vec![Opt::Channel("channel", 999)],
    )
    .await;
    let reply = bot
        .run(
            &boss,
            &["config", "reminders"],
            vec![s("offsets", "2d, 30m")],
        )
        .await;
    assert!(content(&reply).contains("2d, 30m"), "{reply}");
    let show = bot.run(&member(ALICE), &["config", "show"], vec![]).await;
    assert!(is_ephemeral(&show));
    let text = embed_text(&show);
    let role = format!("<@&{MANAGER_ROLE}>");
    for needle in [
        role.as_str(),
        "Europe/Berlin",
        "<#999>",
        "2d, 30m",
        "could not post to",
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
    assert_pings_nobody(&show);
}

#[tokio::test]
async fn guild_and_personal_time_zones_decide_how_dates_are_read() {
    let bot = TestBot::with_manager_role().await;
    bot.run(
        &manager(),
        &["config", "timezone"],
        vec![s("zone", "America/New_York")],
    )
    .await;
    let alice = member(ALICE);
    // 2026-12-01 17:00 in New York is 22:00 UTC.
    let n = bot
        .create_task(&alice, "guild zone", vec![s("due", "2026-12-01")])
        .await;
    assert_eq!(
        bot.task_column(GUILD, n, "due_at").await.as_deref(),
        Some("1796162400")
    );
    let reply = bot
        .run(&alice, &["timezone"], vec![s("zone", "Asia/Tokyo")])
        .await;
    assert!(
        is_ephemeral(&reply) && content(&reply).contains("Asia/Tokyo"),
        "{reply}"
    );
    // 2026-12-01 17:00 in Tokyo is 08:00 UTC.
    let n = bot
        .create_task(&alice, "my zone", vec![s("due", "2026-12-01")])
        .await;
    assert_eq!(
        bot.task_column(GUILD, n, "due_at").await.as_deref(),
        Some("1796112000")
    );
}

#[tokio::test]
async fn autocomplete_offers_at_most_25_matching_choices() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    for i in 1..=30 {
        bot.create_task(&alice, &format!("deploy step {i}"), vec![])
            .await;
    }
    let n = bot.create_task(&alice, "write docs", vec![]).await;
    bot.run(&alice, &["task", "done"], vec![Opt::Int("task", n)])
        .await;

    let all = bot
        .complete(&alice, &["task", "start"], vec![s("task", "")], "task")
        .await;
    assert_eq!(all.len(), 25);
    let docs = bot
        .complete(&alice, &["task", "start"], vec![s("task", "docs")], "task")
        .await;
    assert!(
        docs.is_empty(),
        "done tasks are not offered to start: {docs:?}"
    );
    let docs = bot
        .complete(&alice, &["task", "reopen"], vec![s("task", "docs")], "task")
        .await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["value"], Value::from(n));
    let by_number = bot
        .complete(&alice, &["task", "show"], vec![s("task", "#12")], "task")
        .await;
    assert_eq!(by_number[0]["value"], Value::from(12), "{by_number:?}");
    for choice in &all {
        assert!(choice["name"]
            .as_str()
            .is_some_and(|n| n.chars().count() <= 100));
    }
    let zones = bot
        .complete(&alice, &["timezone"], vec![s("zone", "europe/")], "zone")
        .await;
    assert_eq!(zones.len(), 25);
    let berlin = bot
        .complete(
            &alice,
            &["config", "timezone"],
            vec![s("zone", "berl")],
            "zone",
        )
        .await;
    assert_eq!(berlin[0]["value"], "Europe/Berlin");
    let elsewhere = bot
        .complete(
            &alice.clone().in_guild(OTHER_GUILD),
            &["task", "show"],
            vec![s("task", "deploy")],
            "task",
        )
        .await;
    assert!(
        elsewhere.is_empty(),
        "another guild sees none of these: {elsewhere:?}"
    );
}

#[tokio::test]
async fn a_command_slower_than_two_seconds_is_deferred_then_answered() {
    let bot = TestBot::start().await;
    // Another connection holds the write lock, so the create waits on it (busy timeout 5 s).
    let lock = bot.hold_write_lock().await;
    let (id, interaction) = crate::support::interactions::slash(
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "Slow one")],
    );
    bot.fake.inject(interaction).await;
    let first = bot.fake.response(id).await;
    assert_eq!(
        first["type"], 5,
        "deferred within Discord's window: {first}"
    );
    assert_eq!(
        first["data"]["flags"].as_u64().unwrap_or(0) & 64,
        0,
        "a public answer is deferred publicly"
    );
    lock.release().await;
    let edit = bot.fake.wait_original_edit(id).await;
    assert!(
        edit["content"]
            .as_str()
            .unwrap_or_default()
            .contains("#1 Slow one"),
        "{edit}"
    );
    assert_eq!(
        bot.task_column(GUILD, 1, "title").await.as_deref(),
        Some("Slow one")
    );
}

#[tokio::test]
async fn a_slow_public_command_that_ends_in_a_refusal_answers_only_the_caller() {
    let bot = TestBot::start().await;
    let task = bot
        .create_task(&member(ALICE), "Alice's work", vec![])
        .await;
    let before = bot.snapshot().await;
    // The write lock is held, so Bob's attempt waits past the deferral before being refused.
    let lock = bot.hold_write_lock().await;
    let (id, interaction) = crate::support::interactions::slash(
        &member(BOB),
        &["task", "done"],
        vec![Opt::Int("task", task)],
    );
    bot.fake.inject(interaction).await;
    let first = bot.fake.response(id).await;
    assert_eq!(first["type"], 5, "deferred: {first}");
    assert_eq!(
        first["data"]["flags"].as_u64().unwrap_or(0) & 64,
        0,
        "deferred publicly, as a /task done that succeeds is answered"
    );
    lock.release().await;
    let private = bot.fake.wait_followup(id).await;
    assert_eq!(
        private["flags"].as_u64().unwrap_or(0) & 64,
        64,
        "the refusal is private: {private}"
    );
    assert!(
        private["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Only managers"),
        "{private}"
    );
    assert!(
        bot.fake.original(id).is_none(),
        "the public placeholder is gone"
    );
    assert!(
        bot.fake.original_edits_for(id).is_empty(),
        "nothing was edited into the public placeholder"
    );
    assert_eq!(bot.snapshot().await, before, "nothing changed");
}

#[tokio::test]
async fn a_nul_character_in_typed_text_is_dropped_before_it_is_stored() {
    // PostgreSQL cannot store U+0000; no keyboard types it, so it is dropped on every engine.
    let bot = TestBot::start().await;
    let number = bot
        .create_task(&member(ALICE), "Plan\0 the launch", vec![])
        .await;
    assert_eq!(
        bot.task_column(GUILD, number, "title").await.as_deref(),
        Some("Plan the launch")
    );
    let reply = bot
        .run(
            &member(ALICE),
            &["task", "comment"],
            vec![Opt::Int("task", number), s("text", "\0")],
        )
        .await;
    assert_private_error(&reply, "can't be empty");
}

/// An option of a registered command, by path: `["task", "create", "title"]`.
fn registered_option(commands: &serde_json::Value, path: &[&str]) -> serde_json::Value {
    let (command, rest) = path.split_first().expect("a command name");
    let mut options = commands
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == *command)
        .unwrap_or_else(|| panic!("no command {command}"))["options"]
        .clone();
    let mut found = serde_json::Value::Null;
    for name in rest {
        found = options
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["name"] == *name)
            .cloned()
            .unwrap_or_else(|| panic!("no option {name} in {path:?}"));
        options = found["options"].clone();
    }
    found
}

#[tokio::test]
async fn the_registered_schema_carries_the_limits_the_client_enforces() {
    let bot = TestBot::start().await;
    let (_, commands) = bot
        .fake
        .wait_until("commands registered", |f| {
            f.registered_commands().into_iter().next()
        })
        .await;
    let title = registered_option(&commands, &["task", "create", "title"]);
    assert_eq!(
        (title["max_length"].clone(), title["min_length"].clone()),
        (200.into(), 1.into())
    );
    let description = registered_option(&commands, &["task", "create", "description"]);
    assert_eq!(description["max_length"], 2_000);
    assert!(
        description["min_length"].is_null(),
        "optional: {description}"
    );
    for (path, max) in [
        (&["task", "block", "reason"][..], 1_000),
        (&["task", "comment", "text"][..], 1_000),
        (&["checkin", "today"][..], 1_000),
        (&["project", "create", "name"][..], 50),
        (&["away", "set", "note"][..], 200),
        (&["task", "create", "due"][..], 100),
        (&["away", "set", "until"][..], 100),
        (&["standup", "schedule", "prompt"][..], 100),
        (&["config", "timezone", "zone"][..], 100),
        (&["notify", "digest"][..], 100),
    ] {
        assert_eq!(
            registered_option(&commands, path)["max_length"],
            max,
            "{path:?}"
        );
    }
    let channel = registered_option(&commands, &["standup", "schedule", "channel"]);
    assert_eq!(
        channel["channel_types"],
        serde_json::json!([0, 5, 11, 12, 10])
    );
    let task = registered_option(&commands, &["task", "show", "task"]);
    assert_eq!(task["min_value"], 1);
}

#[tokio::test]
async fn help_lists_what_the_caller_may_use_with_an_example_each() {
    let bot = TestBot::with_manager_role().await;
    let for_member = bot.run(&member(ALICE), &["help"], vec![]).await;
    assert!(is_ephemeral(&for_member), "{for_member}");
    let member_text = embed_text(&for_member);
    let for_manager = embed_text(&bot.run(&manager(), &["help"], vec![]).await);
    for everyone in [
        "/task create** `title:",
        "/task done** `task:12`",
        "/checkin**",
        "/standup join**",
        "/away set** `until:",
        "/notify** `reminders:dm",
        "/help**",
    ] {
        assert!(
            member_text.contains(everyone),
            "member: {everyone} in {member_text}"
        );
        assert!(for_manager.contains(everyone), "manager: {everyone}");
    }
    for managers_only in [
        "/task assign**",
        "/project create**",
        "/config timezone**",
        "/standup schedule**",
        "/standup off**",
    ] {
        assert!(
            !member_text.contains(managers_only),
            "member sees {managers_only}"
        );
        assert!(
            for_manager.contains(managers_only),
            "manager: {managers_only}"
        );
    }
}

#[tokio::test]
async fn list_sorts_by_due_with_overdue_first_and_undated_last_or_by_priority_or_number() {
    let bot = TestBot::with_manager_role().await;
    bot.run(
        &manager(),
        &["project", "create"],
        vec![s("name", "Apollo")],
    )
    .await;
    for (title, options) in [
        ("Undated", vec![s("priority", "urgent")]),
        ("Later", vec![s("due", "in 3 days"), s("project", "Apollo")]),
        ("Late", vec![s("due", "in 1h"), s("priority", "low")]),
        ("Soon", vec![s("due", "in 1 day"), s("priority", "high")]),
    ] {
        bot.create_task(&manager(), title, options).await;
    }
    // Two hours on, #3 is overdue.
    bot.clock.set(hours(2));
    let order = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split("** ").nth(1))
            .map(|rest| rest.split(" · ").next().unwrap_or_default().to_string())
            .collect()
    };
    let by_due = embed_text(&bot.run(&manager(), &["task", "list"], vec![]).await);
    assert_eq!(
        order(&by_due),
        ["Late", "Soon", "Later", "Undated"],
        "{by_due}"
    );
    assert!(by_due.contains("overdue"), "{by_due}");
    assert!(
        by_due.contains("**urgent**") && by_due.contains("📁 Apollo"),
        "{by_due}"
    );
    assert!(
        !by_due.contains("**normal**"),
        "normal priority is not shown: {by_due}"
    );
    let by_priority = embed_text(
        &bot.run(&manager(), &["task", "list"], vec![s("sort", "priority")])
            .await,
    );
    assert_eq!(order(&by_priority), ["Undated", "Soon", "Later", "Late"]);
    let by_number = embed_text(
        &bot.run(&manager(), &["task", "list"], vec![s("sort", "number")])
            .await,
    );
    assert_eq!(order(&by_number), ["Undated", "Later", "Late", "Soon"]);
}

#[tokio::test]
async fn due_until_and_from_preview_what_the_typed_text_means() {
    let bot = TestBot::with_manager_role().await;
    bot.run(
        &member(ALICE),
        &["timezone"],
        vec![s("zone", "Europe/Berlin")],
    )
    .await;
    let preview = |path: &'static [&'static str], option: &'static str, typed: String| {
        let bot = &bot;
        async move {
            let choices = bot
                .complete(&member(ALICE), path, vec![s(option, &typed)], option)
                .await;
            for choice in &choices {
                let name = choice["name"].as_str().unwrap_or_default();
                let value = choice["value"].as_str().unwrap_or_default();
                assert!(
                    name.chars().count() <= 100 && value.chars().count() <= 100,
                    "{choice}"
                );
            }
            choices
        }
    };
    let due = &["task", "create"][..];
    // Wednesday 25 November 2026, 13:00 in Berlin (CET, UTC+1).
    for (typed, shows) in [
        ("friday", "friday → Fri 27 Nov 2026, 17:00 Europe/Berlin"),
        ("eow", "eow → Fri 27 Nov 2026, 17:00 Europe/Berlin"),
        (
            "in 90 minutes",
            "in 90 minutes → Wed 25 Nov 2026, 14:30 Europe/Berlin",
        ),
    ] {
        let choices = preview(due, "due", typed.to_string()).await;
        assert_eq!(choices.len(), 1, "{typed}");
        assert_eq!(choices[0]["name"], shows);
        assert_eq!(choices[0]["value"], typed, "picking it changes nothing");
    }
    let unreadable = preview(due, "due", "whenever you like".into()).await;
    assert!(unreadable[0]["name"]
        .as_str()
        .unwrap_or_default()
        .contains("can't read it"));
    let long = preview(due, "due", "x".repeat(150)).await;
    assert_eq!(long.len(), 1);
    assert!(preview(due, "due", String::new()).await.is_empty());
    let until = preview(&["away", "set"][..], "until", "friday".into()).await;
    assert_eq!(
        until[0]["name"],
        "friday → through Fri 27 Nov 2026 Europe/Berlin"
    );
    let from = preview(&["away", "set"][..], "from", "today".into()).await;
    assert_eq!(from[0]["name"], "today → now Europe/Berlin");
}

/// `/task create` answers from what the insert returned, not from a second read: the two must
/// agree on every field, the project's name and channel included.
#[tokio::test]
async fn a_created_task_is_returned_as_it_is_stored() {
    use coordinator::domain::ids::{ChannelId, GuildId, UserId};
    use coordinator::domain::recurrence::{Recurrence, Repeat};
    use coordinator::domain::task::{Priority, ProjectRef};
    use coordinator::store::NewTask;

    let bot = TestBot::start().await;
    let db = bot.db();
    let now = start_time();
    let project = db
        .create_project(
            GuildId::new(GUILD),
            "Launch",
            Some(ChannelId::new(CHANNEL + 1)),
            None,
            UserId::new(ALICE),
            now,
        )
        .await
        .expect("project");
    let repeat = Repeat::parse("weekly").expect("rule").expect("repeats");
    let created = db
        .create_task(
            &NewTask {
                guild_id: GuildId::new(GUILD),
                title: "Ship the beta".into(),
                description: Some("with notes".into()),
                priority: Priority::High,
                project: Some(ProjectRef {
                    id: project.id,
                    name: project.name.clone(),
                    channel_id: project.channel_id,
                }),
                assignee_id: Some(UserId::new(BOB)),
                creator_id: UserId::new(ALICE),
                channel_id: ChannelId::new(CHANNEL),
                due_at: Some(now + chrono::Duration::days(2)),
                repeat: Some(Recurrence {
                    repeat,
                    zone: chrono_tz::Europe::Paris,
                    anchor: now + chrono::Duration::days(2),
                }),
            },
            now,
        )
        .await
        .expect("created");
    let stored = db
        .task(GuildId::new(GUILD), created.number)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(created, stored);
    assert_eq!(
        created
            .project
            .as_ref()
            .map(|p| (p.name.as_str(), p.channel_id)),
        Some(("Launch", Some(ChannelId::new(CHANNEL + 1))))
    );
}
