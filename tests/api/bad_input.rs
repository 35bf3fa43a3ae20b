//! Bad input through the real command path, one test per case (the table below): every case
//! gets a clear ephemeral error and leaves the data exactly as it was.

use crate::support::bot::*;
use crate::support::interactions::{button, s, typed, Caller, Opt};

/// A guild with a manager role, an active and an archived project, task #1 (Alice's, open) and
/// #2 (done); and a second guild whose tasks #1–#5 include a secret title.
async fn setup() -> TestBot {
    let bot = TestBot::with_manager_role().await;
    let boss = manager();
    bot.run(&boss, &["project", "create"], vec![s("name", "Apollo")])
        .await;
    bot.run(&boss, &["project", "create"], vec![s("name", "Old")])
        .await;
    bot.run(&boss, &["project", "archive"], vec![s("project", "Old")])
        .await;
    bot.create_task(&member(ALICE), "Visible", vec![]).await;
    let done = bot.create_task(&member(ALICE), "Finished", vec![]).await;
    bot.run(
        &member(ALICE),
        &["task", "done"],
        vec![Opt::Int("task", done)],
    )
    .await;
    let outsider = Caller::member(OTHER_GUILD, 42, CAROL);
    for i in 1..=5 {
        bot.create_task(&outsider, &format!("Secret merger plan {i}"), vec![])
            .await;
    }
    bot
}

/// The snapshot plus the standup and duty tables, which standup and check-in commands write.
async fn everything(bot: &TestBot) -> String {
    let mut out = bot.snapshot().await;
    for table in [
        "standups",
        "checkins",
        "standup_runs",
        "outbox",
        "duty_claims",
    ] {
        let rows: Vec<String> = bot
            .db()
            .rows_as_text(table)
            .await
            .unwrap_or_else(|_| vec![format!("{table}: unreadable")]);
        out.push_str(&format!("{table}: {rows:?}\n"));
    }
    out
}

async fn rejects(name: &str, caller: Caller, path: &[&str], options: Vec<Opt>, needle: &str) {
    let bot = setup().await;
    let before = everything(&bot).await;
    let case = typed(path, &options);
    let reply = bot.run(&caller, path, options).await;
    let row = format!("{name} ({case})");
    assert_private_error_for(&row, &reply, needle);
    assert_pings_nobody_for(&row, &reply);
    assert!(
        !content(&reply).contains("Secret"),
        "{row}: another guild's title leaked: {reply}"
    );
    assert_eq!(before, everything(&bot).await, "{row}: data changed");
    // A record line for RELIABILITY.md: `cargo test --test api bad_input -- --nocapture`.
    eprintln!(
        "bad input | {name} | {case} | {} | unchanged",
        content(&reply)
    );
}

macro_rules! bad_input {
    ($($name:ident: $caller:expr, $path:expr, $options:expr, $needle:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            rejects(stringify!($name), $caller, $path, $options, $needle).await;
        }
    )*};
}

fn alice() -> Caller {
    member(ALICE)
}

bad_input! {
    empty_title: alice(), &["task", "create"], vec![s("title", "   ")], "can't be empty";
    title_of_201_characters: alice(), &["task", "create"], vec![s("title", &"x".repeat(201))], "limit is 200";
    description_over_2000: alice(), &["task", "create"], vec![s("title", "t"), s("description", &"d".repeat(2001))], "limit is 2000";
    block_reason_over_1000: alice(), &["task", "block"], vec![Opt::Int("task", 1), s("reason", &"r".repeat(1001))], "limit is 1000";
    empty_block_reason: alice(), &["task", "block"], vec![Opt::Int("task", 1), s("reason", " ")], "can't be empty";
    comment_over_1000: alice(), &["task", "comment"], vec![Opt::Int("task", 1), s("text", &"c".repeat(1001))], "limit is 1000";
    project_name_over_50: manager(), &["project", "create"], vec![s("name", &"p".repeat(51))], "limit is 50";
    empty_project_name: manager(), &["project", "create"], vec![s("name", "")], "can't be empty";
    duplicate_project_name_ignoring_case: manager(), &["project", "create"], vec![s("name", "APOLLO")], "already a project";
    unknown_task_number: alice(), &["task", "show"], vec![Opt::Int("task", 99)], "no task #99";
    task_number_of_another_guild_only: alice(), &["task", "show"], vec![Opt::Int("task", 5)], "no task #5";
    another_guilds_task_cannot_be_changed: alice(), &["task", "done"], vec![Opt::Int("task", 4)], "no task #4";
    negative_task_number: alice(), &["task", "start"], vec![Opt::Int("task", -1)], "no task #-1";
    huge_task_number: alice(), &["task", "start"], vec![Opt::Int("task", i64::MAX)], "no task";
    task_option_of_the_wrong_type: alice(), &["task", "start"], vec![s("task", "one")], "wrong type";
    archived_project_on_create: alice(), &["task", "create"], vec![s("title", "t"), s("project", "old")], "archived";
    archived_project_on_edit: alice(), &["task", "edit"], vec![Opt::Int("task", 1), s("project", "Old")], "archived";
    unknown_project_on_create: alice(), &["task", "create"], vec![s("title", "t"), s("project", "Nope")], "no project called";
    archiving_an_archived_project: manager(), &["project", "archive"], vec![s("project", "Old")], "already archived";
    due_date_in_the_past: alice(), &["task", "create"], vec![s("title", "t"), s("due", "2026-11-01")], "in the past";
    unreadable_due_date: alice(), &["task", "create"], vec![s("title", "t"), s("due", "someday soon")], "tomorrow 9am";
    impossible_calendar_date: alice(), &["task", "edit"], vec![Opt::Int("task", 1), s("due", "2026-02-30")], "couldn't read";
    unknown_personal_time_zone: alice(), &["timezone"], vec![s("zone", "Mars/Olympus")], "not a time zone";
    unknown_guild_time_zone: manager(), &["config", "timezone"], vec![s("zone", "Europe/Atlantis")], "not a time zone";
    zero_reminder_offset: manager(), &["config", "reminders"], vec![s("offsets", "1h, 0m")], "from 1 minute to 30 days";
    negative_reminder_offset: manager(), &["config", "reminders"], vec![s("offsets", "-1h")], "reminder offset";
    reminder_offset_over_30_days: manager(), &["config", "reminders"], vec![s("offsets", "31d")], "from 1 minute to 30 days";
    unreadable_reminder_offsets: manager(), &["config", "reminders"], vec![s("offsets", "whenever")], "couldn't read";
    unknown_priority: alice(), &["task", "create"], vec![s("title", "t"), s("priority", "critical")], "low, normal, high or urgent";
    unknown_status_filter: alice(), &["task", "list"], vec![s("status", "finished")], "todo, in_progress";
    unknown_project_filter: alice(), &["task", "list"], vec![s("project", "Nope")], "no project called";
    edit_without_any_change: alice(), &["task", "edit"], vec![Opt::Int("task", 1)], "what to change";
    reopening_an_open_task: alice(), &["task", "reopen"], vec![Opt::Int("task", 1)], "not done";
    finishing_a_done_task: alice(), &["task", "done"], vec![Opt::Int("task", 2)], "already done";
    starting_a_done_task: alice(), &["task", "start"], vec![Opt::Int("task", 2)], "reopen it first";
    unknown_subcommand: alice(), &["task", "explode"], vec![], "don't know that command";
    missing_required_option: alice(), &["task", "assign"], vec![Opt::Int("task", 1)], "needs the option \"assignee\"";
    unknown_option_name: alice(), &["task", "show"], vec![Opt::Int("task", 1), s("colour", "red")], "no option named";
    command_from_a_dm: Caller::dm(CHANNEL, ALICE), &["task", "mine"], vec![], "only inside a server";
    edited_title_over_200: alice(), &["task", "edit"], vec![Opt::Int("task", 1), s("title", &"x".repeat(201))], "limit is 200";
    checkin_yesterday_over_1000: alice(), &["checkin"], vec![s("yesterday", &"y".repeat(1001)), s("today", "tests")], "limit is 1000";
    checkin_blockers_over_1000: alice(), &["checkin"], vec![s("yesterday", "code"), s("today", "tests"), s("blockers", &"b".repeat(1001))], "limit is 1000";
    empty_checkin_today: alice(), &["checkin"], vec![s("yesterday", "code"), s("today", "  ")], "can't be empty";
    unreadable_standup_time: manager(), &["standup", "schedule"], vec![s("time", "25:99"), Opt::Channel("channel", CHANNEL)], "couldn't read";
    crontab_minute_and_hour_out_of_range: manager(), &["standup", "schedule"], vec![s("time", "61 25 * * *"), Opt::Channel("channel", CHANNEL)], "minute must be 0–59";
    unreadable_crontab_weekday: manager(), &["standup", "schedule"], vec![s("time", "0 9 * * funday"), Opt::Channel("channel", CHANNEL)], "couldn't read the crontab";
    crontab_that_never_fires: manager(), &["standup", "schedule"], vec![s("time", "0 9 30 2 *"), Opt::Channel("channel", CHANNEL)], "never matches";
    unknown_standup_day: manager(), &["standup", "schedule"], vec![s("time", "09:30"), Opt::Channel("channel", CHANNEL), s("days", "funday")], "don't know the day";
}

#[tokio::test]
async fn a_stale_button_gets_an_ephemeral_error() {
    let bot = setup().await;
    let before = bot.snapshot().await;
    let (id, press) = button(&member(ALICE), "list:not-a-page", 1);
    bot.fake.inject(press).await;
    let reply = bot.fake.response(id).await;
    assert_private_error(&reply, "no longer active");
    assert_eq!(before, bot.snapshot().await);
    eprintln!(
        "bad input | a_stale_button_gets_an_ephemeral_error | button list:not-a-page | {} | unchanged",
        content(&reply)
    );
}

#[tokio::test]
async fn mentions_typed_into_a_title_ping_nobody() {
    let bot = setup().await;
    let title = format!("@everyone @here <@&{MANAGER_ROLE}> <@{BOB}> look");
    let reply = bot
        .run(
            &member(ALICE),
            &["task", "create"],
            vec![s("title", &title), Opt::User("assignee", ALICE)],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    let mentions = &reply["data"]["allowed_mentions"];
    assert_eq!(
        mentions["parse"],
        serde_json::json!([]),
        "no @everyone, roles or users by parsing"
    );
    assert_eq!(mentions["roles"], serde_json::json!([]));
    assert_eq!(
        mentions["users"],
        serde_json::json!([ALICE.to_string()]),
        "only the assignee"
    );
    let text = content(&reply);
    assert!(
        !text.contains("@everyone") && !text.contains("@here"),
        "{text}"
    );
    let show = bot
        .run(&member(ALICE), &["task", "show"], vec![Opt::Int("task", 3)])
        .await;
    assert_pings_nobody(&show);
    assert!(!embed_text(&show).contains("@everyone"));
}
