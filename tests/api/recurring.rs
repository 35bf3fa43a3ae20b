//! Recurring tasks (README "Recurring tasks"): `repeat` on create and edit, the next occurrence
//! made once when a task is done (by command or by a reminder's button), at the same local time.

use chrono::{TimeZone, Utc};

use crate::support::bot::*;
use crate::support::interactions::{button, s, Opt};

/// The due time in a `/task show` embed (`<t:UNIX:f>`), as a Unix timestamp.
async fn due_of(bot: &TestBot, number: i64) -> i64 {
    let shown = bot
        .run(
            &manager(),
            &["task", "show"],
            vec![Opt::Int("task", number)],
        )
        .await;
    let text = embed_text(&shown);
    let start = text
        .find("<t:")
        .unwrap_or_else(|| panic!("no due in {text}"))
        + 3;
    text[start..]
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no due in {text}"))
}

async fn done(bot: &TestBot, number: i64) -> String {
    let reply = bot
        .run(
            &manager(),
            &["task", "done"],
            vec![Opt::Int("task", number)],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    content(&reply)
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("valid")
        .timestamp()
}

#[tokio::test]
async fn a_weekly_task_done_comes_back_once_with_a_new_number_and_the_same_fields() {
    let bot = TestBot::with_manager_role().await;
    bot.run(&manager(), &["project", "create"], vec![s("name", "Ops")])
        .await;
    let first = bot
        .create_task(
            &manager(),
            "Weekly report",
            vec![
                s("due", "2026-11-27 09:00"),
                s("repeat", "weekly"),
                Opt::User("assignee", ALICE),
                s("priority", "high"),
                s("project", "Ops"),
            ],
        )
        .await;
    let text = done(&bot, first).await;
    assert!(
        text.contains("It repeats — next: **#2 Weekly report**"),
        "{text}"
    );
    assert_eq!(due_of(&bot, 2).await, utc(2026, 12, 4, 9));
    let shown = embed_text(
        &bot.run(&manager(), &["task", "show"], vec![Opt::Int("task", 2)])
            .await,
    );
    for needle in ["weekly (UTC)", "high", "Ops", &format!("<@{ALICE}>")] {
        assert!(shown.contains(needle), "{needle} in {shown}");
    }
    let list = embed_text(&bot.run(&manager(), &["task", "list"], vec![]).await);
    assert!(list.contains("🔁 weekly"), "{list}");

    // Reopened and done again: still one next occurrence.
    bot.run(
        &manager(),
        &["task", "reopen"],
        vec![Opt::Int("task", first)],
    )
    .await;
    let again = done(&bot, first).await;
    assert!(again.contains("next: **#2"), "{again}");
    assert_eq!(bot.task_column(GUILD, 3, "title").await, None, "no #3");
}

#[tokio::test]
async fn monthly_from_january_31_falls_on_february_28_then_march_31() {
    let bot = TestBot::with_manager_role().await;
    bot.clock.set(
        Utc.with_ymd_and_hms(2027, 1, 30, 12, 0, 0)
            .single()
            .expect("valid"),
    );
    bot.create_task(
        &manager(),
        "Invoice",
        vec![s("due", "2027-01-31 09:00"), s("repeat", "monthly")],
    )
    .await;
    bot.clock.set(
        Utc.with_ymd_and_hms(2027, 1, 31, 10, 0, 0)
            .single()
            .expect("valid"),
    );
    done(&bot, 1).await;
    assert_eq!(due_of(&bot, 2).await, utc(2027, 2, 28, 9));
    bot.clock.set(
        Utc.with_ymd_and_hms(2027, 2, 28, 10, 0, 0)
            .single()
            .expect("valid"),
    );
    done(&bot, 2).await;
    assert_eq!(due_of(&bot, 3).await, utc(2027, 3, 31, 9));
}

#[tokio::test]
async fn weekly_at_nine_stays_at_nine_across_spring_forward_in_berlin() {
    let bot = TestBot::with_manager_role().await;
    bot.run(&manager(), &["timezone"], vec![s("zone", "Europe/Berlin")])
        .await;
    bot.clock.set(
        Utc.with_ymd_and_hms(2027, 3, 20, 12, 0, 0)
            .single()
            .expect("valid"),
    );
    bot.create_task(
        &manager(),
        "Stand-up notes",
        vec![s("due", "2027-03-22 09:00"), s("repeat", "weekly")],
    )
    .await;
    // 09:00 CET is 08:00 UTC; a week later 09:00 CEST is 07:00 UTC.
    assert_eq!(due_of(&bot, 1).await, utc(2027, 3, 22, 8));
    done(&bot, 1).await;
    assert_eq!(due_of(&bot, 2).await, utc(2027, 3, 29, 7));
    let shown = embed_text(
        &bot.run(&manager(), &["task", "show"], vec![Opt::Int("task", 2)])
            .await,
    );
    assert!(shown.contains("weekly (Europe/Berlin)"), "{shown}");
}

#[tokio::test]
async fn done_late_skips_to_the_first_occurrence_still_ahead() {
    let bot = TestBot::with_manager_role().await;
    bot.create_task(
        &manager(),
        "Water the plants",
        vec![s("due", "2026-11-26 09:00"), s("repeat", "every 2 days")],
    )
    .await;
    // Done on 1 December at 12:00: the 28th and the 30th are past; the 2nd is next.
    bot.clock.set(
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("valid"),
    );
    done(&bot, 1).await;
    assert_eq!(due_of(&bot, 2).await, utc(2026, 12, 2, 9));
}

#[tokio::test]
async fn mark_done_on_a_reminder_creates_the_next_occurrence_and_its_reminders_follow() {
    let bot = TestBot::with_manager_role().await;
    bot.create_task(
        &member(ALICE),
        "Daily check",
        vec![s("due", "in 2h"), s("repeat", "daily")],
    )
    .await;
    bot.step_at(hours(1)).await;
    let reminder = bot.fake.messages().pop().expect("the 1h reminder");
    let (id, press) = button(&member(ALICE), "duty:done:1", reminder.id);
    bot.fake.inject(press).await;
    let reply = bot.fake.response(id).await;
    assert!(
        content(&reply).contains("next: **#2 Daily check**"),
        "{reply}"
    );
    // The next one is due a day later, and its 1h reminder comes as usual.
    assert_eq!(due_of(&bot, 2).await, hours(26).timestamp());
    bot.step_at(hours(25)).await;
    assert_eq!(bot.posted_with("#2 Daily check").len(), 1);
}

#[tokio::test]
async fn archiving_the_project_or_repeat_never_ends_the_series() {
    let bot = TestBot::with_manager_role().await;
    bot.run(&manager(), &["project", "create"], vec![s("name", "Old")])
        .await;
    bot.create_task(
        &manager(),
        "Legacy sync",
        vec![
            s("due", "in 1 day"),
            s("repeat", "weekly"),
            s("project", "Old"),
        ],
    )
    .await;
    bot.run(
        &manager(),
        &["project", "archive"],
        vec![s("project", "Old")],
    )
    .await;
    let text = done(&bot, 1).await;
    assert!(text.contains("series ends"), "{text}");
    assert_eq!(bot.task_column(GUILD, 2, "title").await, None);

    bot.create_task(
        &manager(),
        "Try it",
        vec![s("due", "in 1 day"), s("repeat", "daily")],
    )
    .await;
    let edited = bot
        .run(
            &manager(),
            &["task", "edit"],
            vec![Opt::Int("task", 2), s("repeat", "never")],
        )
        .await;
    assert!(content(&edited).contains("no longer repeats"), "{edited}");
    let text = done(&bot, 2).await;
    assert!(!text.contains("repeats"), "{text}");
    assert_eq!(bot.task_column(GUILD, 3, "title").await, None);
}

#[tokio::test]
async fn bad_repeat_rules_get_a_private_error_and_change_nothing() {
    let bot = TestBot::with_manager_role().await;
    bot.create_task(&manager(), "Undated", vec![]).await;
    let before = bot.snapshot().await;
    let cases = [
        (
            vec![
                s("title", "x"),
                s("due", "in 1 day"),
                s("repeat", "fortnightly"),
            ],
            "couldn't read",
        ),
        (
            vec![
                s("title", "x"),
                s("due", "in 1 day"),
                s("repeat", "every 0 days"),
            ],
            "out of range",
        ),
        (
            vec![
                s("title", "x"),
                s("due", "in 1 day"),
                s("repeat", "every 400 weeks"),
            ],
            "out of range",
        ),
        (
            vec![s("title", "x"), s("repeat", "weekly")],
            "needs a due time",
        ),
        (
            vec![s("title", "x"), s("due", "in 1 day"), s("repeat", "never")],
            "/task edit",
        ),
    ];
    for (options, needle) in cases {
        let reply = bot.run(&manager(), &["task", "create"], options).await;
        assert_private_error(&reply, needle);
    }
    let reply = bot
        .run(
            &manager(),
            &["task", "edit"],
            vec![Opt::Int("task", 1), s("repeat", "daily")],
        )
        .await;
    assert_private_error(&reply, "no due time");
    assert_eq!(bot.snapshot().await, before, "nothing created or changed");
    // A member may not set the rule of a task assigned to someone else.
    bot.create_task(
        &manager(),
        "Assigned",
        vec![s("due", "in 1 day"), Opt::User("assignee", BOB)],
    )
    .await;
    let before_member = bot.snapshot().await;
    let reply = bot
        .run(
            &member(ALICE),
            &["task", "edit"],
            vec![Opt::Int("task", 2), s("repeat", "daily")],
        )
        .await;
    assert_private_error(&reply, "repeat");
    assert_eq!(bot.snapshot().await, before_member);
}

#[tokio::test]
async fn mark_done_pressed_on_a_dm_reminder_also_makes_the_next_occurrence() {
    let bot = TestBot::with_manager_role().await;
    bot.run(&member(ALICE), &["notify"], vec![s("reminders", "dm")])
        .await;
    bot.create_task(
        &member(ALICE),
        "Inbox zero",
        vec![
            s("due", "in 2h"),
            s("repeat", "weekdays"),
            Opt::User("assignee", ALICE),
        ],
    )
    .await;
    bot.step_at(hours(1)).await;
    let dm = bot.fake.dm_messages(ALICE).pop().expect("a DM reminder");
    let channel = bot.fake.dm_channel_of(ALICE).expect("DM channel");
    let (id, press) = button(
        &crate::support::interactions::Caller::dm(channel, ALICE),
        "duty:done:1",
        dm.id,
    );
    bot.fake.inject(press).await;
    let reply = bot.fake.response(id).await;
    assert!(
        content(&reply).contains("next: **#2 Inbox zero**"),
        "{reply}"
    );
    // Wednesday 14:00 UTC done: Thursday 14:00 is the next weekday.
    assert_eq!(due_of(&bot, 2).await, hours(26).timestamp());
}
