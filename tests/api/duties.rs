//! What the bot does on its own (README "What the bot does on its own"), with a settable clock:
//! reminders, overdue alerts, escalation, catch-up, buttons, failures and routing, through the
//! real bot and the fake Discord.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::bot::*;
use crate::support::interactions::{button, s, Opt};

fn content(body: &Value) -> String {
    body["content"].as_str().unwrap_or_default().to_string()
}

fn button_ids(body: &Value) -> Vec<String> {
    body["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["custom_id"].as_str().map(String::from))
        .collect()
}

/// A task due in 48 hours, assigned to Alice, created by the manager.
async fn dated_task(bot: &TestBot) -> i64 {
    bot.create_task(
        &manager(),
        "Ship the release",
        vec![Opt::User("assignee", ALICE), s("due", "in 2 days")],
    )
    .await
}

#[tokio::test]
async fn reminders_at_each_offset_then_overdue_then_one_escalation() {
    let bot = TestBot::with_manager_role().await;
    dated_task(&bot).await;
    assert_eq!(bot.step_at(hours(23)).await.claimed, 0);
    assert!(bot.fake.messages().is_empty());

    let outcome = bot.step_at(hours(24)).await;
    assert_eq!((outcome.claimed, outcome.sent), (1, 1));
    let first = &bot.fake.messages()[0];
    assert_eq!(
        first.channel_id, CHANNEL,
        "no project or alerts channel: the creation channel"
    );
    let text = content(&first.body);
    assert!(
        text.contains("⏰")
            && text.contains("#1 Ship the release")
            && text.contains(&format!("<@{ALICE}>")),
        "{text}"
    );
    assert_eq!(
        first.body["allowed_mentions"]["users"],
        json!([ALICE.to_string()])
    );
    assert_eq!(first.body["allowed_mentions"]["roles"], json!([]));
    assert_eq!(
        button_ids(&first.body),
        vec![
            "duty:done:1",
            "duty:snooze:1",
            "duty:snooze3h:1",
            "duty:snoozetomorrow:1"
        ]
    );
    assert_eq!(outcome.next_due, Some(hours(47)));

    bot.step_at(hours(47)).await;
    let reminders = bot.posted_with("⏰");
    assert_eq!(reminders.len(), 2, "the 1h reminder");
    // An hour before the deadline every snooze would end after it: none is offered.
    assert_eq!(button_ids(&reminders[1]), vec!["duty:done:1"]);
    bot.step_at(hours(48)).await;
    let overdue = bot.posted_with("is overdue");
    assert_eq!(overdue.len(), 1);
    assert_eq!(
        overdue[0]["allowed_mentions"]["users"],
        json!([ALICE.to_string()])
    );
    assert_eq!(button_ids(&overdue[0]), vec!["duty:done:1"]);

    bot.step_at(hours(71)).await;
    assert!(bot.posted_with("still not done").is_empty());
    bot.step_at(hours(72)).await;
    let escalation = bot.posted_with("still not done");
    assert_eq!(escalation.len(), 1);
    assert!(content(&escalation[0]).contains(&format!("<@&{MANAGER_ROLE}>")));
    assert_eq!(
        escalation[0]["allowed_mentions"]["roles"],
        json!([MANAGER_ROLE.to_string()])
    );

    let outcome = bot.step_at(hours(200)).await;
    assert_eq!(outcome.claimed, 0);
    assert_eq!(outcome.next_due, None, "nothing more is owed");
    assert_eq!(bot.fake.messages().len(), 4);
}

#[tokio::test]
async fn escalation_without_a_manager_role_pings_nobody_and_says_so() {
    let bot = TestBot::start().await;
    bot.create_task(&member(ALICE), "Lonely", vec![s("due", "in 1h")])
        .await;
    bot.step_at(hours(25)).await;
    let escalation = bot.posted_with("still not done");
    assert_eq!(escalation.len(), 1, "{:?}", bot.fake.messages());
    let text = content(&escalation[0]);
    assert!(
        text.contains("no manager role is set, so nobody was pinged")
            && text.contains("/config manager-role")
            && !text.contains("escalated to no"),
        "{text}"
    );
    assert_eq!(escalation[0]["allowed_mentions"]["roles"], json!([]));
    assert_eq!(escalation[0]["allowed_mentions"]["parse"], json!([]));
}

#[tokio::test]
async fn custom_offsets_and_offsets_already_past_are_skipped() {
    let bot = TestBot::with_manager_role().await;
    bot.run(
        &manager(),
        &["config", "reminders"],
        vec![s("offsets", "3d, 2h")],
    )
    .await;
    dated_task(&bot).await; // due in 48h: the 3d reminder is already past and skipped
    let outcome = bot.step_at(hours(1)).await;
    assert_eq!(outcome.claimed, 0);
    assert_eq!(outcome.next_due, Some(hours(46)));
    bot.step_at(hours(46)).await;
    assert_eq!(bot.posted_with("⏰").len(), 1);
}

#[tokio::test]
async fn done_deleted_reassigned_or_redated_tasks_change_their_pending_duties() {
    let bot = TestBot::with_manager_role().await;
    let done = bot
        .create_task(
            &manager(),
            "Finish early",
            vec![Opt::User("assignee", ALICE), s("due", "in 2 days")],
        )
        .await;
    let deleted = bot
        .create_task(&manager(), "Drop it", vec![s("due", "in 2 days")])
        .await;
    let moved = bot
        .create_task(
            &manager(),
            "Hand over",
            vec![Opt::User("assignee", ALICE), s("due", "in 2 days")],
        )
        .await;
    let redated = bot
        .create_task(&manager(), "Push back", vec![s("due", "in 2 days")])
        .await;
    bot.run(
        &member(ALICE),
        &["task", "done"],
        vec![Opt::Int("task", done)],
    )
    .await;
    bot.run(
        &manager(),
        &["task", "delete"],
        vec![Opt::Int("task", deleted)],
    )
    .await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![Opt::Int("task", moved), Opt::User("assignee", BOB)],
    )
    .await;
    bot.run(
        &manager(),
        &["task", "edit"],
        vec![Opt::Int("task", redated), s("due", "in 5 days")],
    )
    .await;

    bot.step_at(hours(24)).await;
    let posted: Vec<String> = bot
        .fake
        .messages()
        .iter()
        .map(|m| content(&m.body))
        .collect();
    let all = posted.join("\n");
    assert!(
        !all.contains("Finish early") && !all.contains("Drop it") && !all.contains("Push back"),
        "{all}"
    );
    assert!(
        all.contains("Hand over")
            && all.contains(&format!("<@{BOB}>"))
            && !all.contains(&format!("<@{ALICE}>")),
        "{all}"
    );
    // The re-dated task keeps a full new schedule: 24h before its new due time.
    bot.step_at(hours(5 * 24 - 24)).await;
    assert_eq!(bot.posted_with("Push back").len(), 1);
}

#[tokio::test]
async fn duties_missed_while_down_post_once_on_start_marked_late() {
    let mut bot = TestBot::with_manager_role().await;
    // The restarted bot runs its worker on its own: the catch-up must happen by itself.
    bot.background_worker = true;
    dated_task(&bot).await;
    bot.create_task(&manager(), "Later", vec![s("due", "in 3 days")])
        .await;
    bot.stop().await;
    // Down through both reminders and past the deadline of #1, and the first reminder of #2.
    bot.clock.set(hours(50));
    bot.restart().await;
    // Both fell due for the same channel: one message carries both.
    let posted = bot.fake.wait_messages(1).await;
    let text = content(&posted[0].body);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        text.contains("🚨 **#1 Ship the release** is overdue"),
        "the overdue alert replaces the missed reminders: {text}"
    );
    assert!(!text.contains("⏰ **#1"), "{text}");
    assert!(text.contains("⏰ **#2 Later**"), "{text}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("should have arrived"))
            .count(),
        2,
        "{text}"
    );
    let outcome = bot.step_at(hours(50)).await;
    assert_eq!(outcome.claimed, 0, "nothing twice");
    assert_eq!(bot.fake.messages().len(), posted.len());
}

#[tokio::test]
async fn duties_go_to_the_project_channel_else_the_alerts_channel_else_the_creation_channel() {
    let bot = TestBot::with_manager_role().await;
    bot.run(
        &manager(),
        &["project", "create"],
        vec![s("name", "Apollo"), Opt::Channel("channel", 7001)],
    )
    .await;
    bot.create_task(
        &manager(),
        "in project",
        vec![s("project", "Apollo"), s("due", "in 2h")],
    )
    .await;
    bot.create_task(&manager(), "created here", vec![s("due", "in 2h")])
        .await;
    bot.step_at(hours(1)).await;
    assert_eq!(bot.fake.messages_in(7001).len(), 1);
    assert_eq!(bot.fake.messages_in(CHANNEL).len(), 1);
    bot.run(
        &manager(),
        &["config", "alerts-channel"],
        vec![Opt::Channel("channel", 7002)],
    )
    .await;
    bot.step_at(hours(2)).await;
    assert_eq!(
        bot.fake.messages_in(7001).len(),
        2,
        "the project channel still wins"
    );
    assert_eq!(
        bot.fake.messages_in(7002).len(),
        1,
        "then the alerts channel"
    );
}

#[tokio::test]
async fn duties_due_together_share_messages_within_five_rows_of_buttons() {
    let bot = TestBot::start().await;
    for i in 0..7 {
        bot.create_task(
            &member(ALICE),
            &format!("batch {i}"),
            vec![s("due", "in 3h")],
        )
        .await;
    }
    let outcome = bot.step_at(hours(2)).await;
    assert_eq!((outcome.claimed, outcome.sent), (7, 2));
    let messages = bot.fake.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0].body["components"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(
        messages[1].body["components"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn mark_done_works_for_assignee_creator_and_managers_only() {
    let bot = TestBot::with_manager_role().await;
    for title in ["by assignee", "by creator", "by manager"] {
        bot.create_task(&member(CAROL), title, vec![s("due", "in 2h")])
            .await;
    }
    for n in 1..=3 {
        bot.run(
            &manager(),
            &["task", "assign"],
            vec![Opt::Int("task", n), Opt::User("assignee", ALICE)],
        )
        .await;
    }
    bot.step_at(hours(1)).await;
    let message_id = bot.fake.messages()[0].id;
    let before = bot.snapshot().await;
    let refused = press(&bot, member(BOB), 1, message_id).await;
    assert_private_error(&refused, "assignee or creator");
    assert_eq!(
        before,
        bot.snapshot().await,
        "a refused button changes nothing"
    );
    for (who, n) in [(member(ALICE), 1), (member(CAROL), 2), (manager(), 3)] {
        let reply = press(&bot, who, n, message_id).await;
        assert!(super_content(&reply).contains("is done"), "{reply}");
        assert_eq!(
            bot.task_column(GUILD, n, "status").await.as_deref(),
            Some("done")
        );
    }
    // Every task in the message is closed: its buttons are disabled.
    bot.step_at(hours(1)).await;
    let edits = bot.fake.edits();
    let last = &edits.last().expect("an edit").2;
    let disabled: Vec<bool> = last["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|b| b["disabled"].as_bool().unwrap_or(false))
        .collect();
    assert!(
        !disabled.is_empty() && disabled.iter().all(|d| *d),
        "{last}"
    );
    assert!(edits.iter().all(|(_, m, _)| *m == message_id));
}

async fn press(
    bot: &TestBot,
    who: crate::support::interactions::Caller,
    n: i64,
    message_id: u64,
) -> Value {
    let (id, interaction) = button(&who, &format!("duty:done:{n}"), message_id);
    bot.fake.inject(interaction).await;
    bot.fake.response(id).await
}

fn super_content(reply: &Value) -> String {
    reply["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn snooze_delays_the_next_reminder_and_says_so() {
    let bot = TestBot::with_manager_role().await;
    dated_task(&bot).await;
    bot.step_at(hours(24)).await;
    let message_id = bot.fake.messages()[0].id;
    let (id, interaction) = button(&member(ALICE), "duty:snooze:1", message_id);
    bot.clock.set(hours(46) + Duration::minutes(30));
    bot.fake.inject(interaction).await;
    let reply = bot.fake.response(id).await;
    assert!(is_ephemeral(&reply));
    let text = super_content(&reply);
    assert!(
        text.contains("Snoozed")
            && text.contains(&format!(
                "<t:{}:f>",
                (hours(47) + Duration::minutes(30)).timestamp()
            )),
        "{text}"
    );
    let outcome = bot.step_at(hours(47)).await;
    assert_eq!(outcome.claimed, 0, "the 1h reminder waits for the snooze");
    assert_eq!(outcome.next_due, Some(hours(47) + Duration::minutes(30)));
    bot.step_at(hours(47) + Duration::minutes(30)).await;
    assert_eq!(bot.posted_with("⏰").len(), 2);
    assert_eq!(
        bot.task_column(GUILD, 1, "due_at").await,
        Some(hours(48).timestamp().to_string()),
        "the deadline did not move"
    );
}

#[tokio::test]
async fn each_snooze_choice_moves_only_the_next_reminder() {
    use chrono::TimeZone;
    // Alice reads her dates in New York; the guild is in UTC.
    for (choice, until) in [
        ("duty:snooze3h:1", hours(24) + Duration::hours(3)),
        // Pressed on Thursday 26 November at 07:00 in New York: tomorrow 09:00 there (EST) is
        // Friday the 27th, 14:00 UTC.
        (
            "duty:snoozetomorrow:1",
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 27, 14, 0, 0)
                .single()
                .expect("valid"),
        ),
    ] {
        let bot = TestBot::with_manager_role().await;
        bot.run(
            &member(ALICE),
            &["timezone"],
            vec![s("zone", "America/New_York")],
        )
        .await;
        bot.create_task(
            &manager(),
            "Ship the release",
            vec![Opt::User("assignee", ALICE), s("due", "in 4 days")],
        )
        .await;
        bot.run(
            &manager(),
            &["config", "reminders"],
            vec![s("offsets", "72h, 71h, 1h")],
        )
        .await;
        bot.step_at(hours(24)).await;
        let message_id = bot.fake.messages()[0].id;
        let (id, press) = button(&member(ALICE), choice, message_id);
        bot.fake.inject(press).await;
        let reply = bot.fake.response(id).await;
        assert!(
            super_content(&reply).contains(&format!("<t:{}:f>", until.timestamp())),
            "{choice}: {reply}"
        );
        // The 71h reminder (at hours(25)) waits for the snooze; the deadline stays.
        let outcome = bot.step_at(hours(25)).await;
        assert_eq!(outcome.claimed, 0, "{choice}");
        assert_eq!(outcome.next_due, Some(until), "{choice}");
        bot.step_at(until).await;
        assert_eq!(bot.posted_with("⏰").len(), 2, "{choice}: then it comes");
        assert_eq!(
            bot.task_column(GUILD, 1, "due_at").await,
            Some(hours(96).timestamp().to_string())
        );
    }
}

#[tokio::test]
async fn deleting_a_task_disables_its_posted_buttons() {
    let bot = TestBot::start().await;
    bot.create_task(&member(ALICE), "doomed", vec![s("due", "in 2h")])
        .await;
    bot.step_at(hours(1)).await;
    let message_id = bot.fake.messages()[0].id;
    bot.run(
        &member(ALICE),
        &["task", "delete"],
        vec![Opt::Int("task", 1)],
    )
    .await;
    bot.step_at(hours(1)).await;
    let edits = bot.fake.edits();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].1, message_id);
    assert_eq!(
        edits[0].2["components"][0]["components"][0]["disabled"],
        true
    );
    assert_eq!(
        bot.step_at(hours(3)).await.claimed,
        0,
        "no alert for a deleted task"
    );
}

#[tokio::test]
async fn a_refusing_channel_fails_the_duty_once_and_shows_in_config() {
    let bot = TestBot::start().await;
    bot.create_task(&member(ALICE), "nowhere", vec![s("due", "in 2h")])
        .await;
    bot.fake.fail_channel(CHANNEL, 403);
    let outcome = bot.step_at(hours(1)).await;
    assert_eq!((outcome.claimed, outcome.sent, outcome.failed), (1, 0, 1));
    let outcome = bot.step_at(hours(1) + Duration::minutes(5)).await;
    assert_eq!(outcome.failed + outcome.sent, 0, "not retried");
    let posts = bot
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .count();
    assert_eq!(posts, 1);
    let show = embed_text(&bot.run(&member(ALICE), &["config", "show"], vec![]).await);
    assert!(show.contains(&format!("<#{CHANNEL}>: 403")), "{show}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_server_errors_retried() {
    // Measures the wait for `retry_after`: alone, so other tests cannot stretch it.
    let _alone = crate::support::turns::exclusive().await;
    let bot = TestBot::start().await;
    bot.create_task(&member(ALICE), "limited", vec![s("due", "in 2h")])
        .await;
    let path = format!("/channels/{CHANNEL}/messages");
    bot.fake.fail_next(
        "POST",
        &path,
        429,
        json!({"message": "You are being rate limited.", "retry_after": 0.3, "global": false}),
    );
    bot.fake
        .fail_next("POST", &path, 500, json!({"message": "oops"}));
    bot.fake
        .fail_next("POST", &path, 502, json!({"message": "oops"}));
    let started = std::time::Instant::now();
    let outcome = bot.step_at(hours(1)).await;
    assert_eq!(outcome.sent, 1, "{outcome:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "waited retry_after"
    );
    assert_eq!(bot.fake.messages().len(), 1);
    assert_eq!(bot.fake.rejected().len(), 3);
}

#[tokio::test]
async fn persistent_server_errors_stop_after_bounded_retries_and_try_again_later() {
    let bot = TestBot::start().await;
    bot.create_task(&member(ALICE), "flaky", vec![s("due", "in 2h")])
        .await;
    bot.fake.fail_channel(CHANNEL, 503);
    let outcome = bot.step_at(hours(1)).await;
    assert_eq!((outcome.sent, outcome.retrying), (0, 1));
    let attempts = bot.fake.rejected().len();
    assert!((2..=5).contains(&attempts), "bounded: {attempts}");
    bot.fake.clear_channel_failure(CHANNEL);
    let outcome = bot.step_at(hours(1) + Duration::minutes(1)).await;
    assert_eq!(outcome.sent, 1);
    assert_eq!(bot.fake.messages().len(), 1);
}

#[tokio::test]
async fn an_unreachable_api_is_retried_a_bounded_number_of_times() {
    use coordinator::discord::sender::{Delivery, Sender};
    use coordinator::store::{OutboxKind, OutboxRow};
    // Port 9 on loopback: nothing listens, every attempt fails at once.
    let sender = Sender::new(&coordinator::config::Token::new("t"), "http://127.0.0.1:9");
    let row = OutboxRow {
        dm_user_id: None,
        id: 1,
        guild_id: GUILD.into(),
        channel_id: CHANNEL.into(),
        kind: OutboxKind::Post,
        body: r#"{"content":"hello"}"#.into(),
        due_at: start_time(),
        attempts: 0,
    };
    match sender.deliver(&row).await {
        Delivery::Failed { error } => assert!(error.contains("request failed"), "{error}"),
        other => panic!("expected a bounded failure, got {other:?}"),
    }
}

#[tokio::test]
async fn mark_done_edits_the_reminder_in_place_even_when_two_tasks_of_one_message_close_at_once() {
    let bot = TestBot::with_manager_role().await;
    for title in ["First chore", "Second chore"] {
        bot.create_task(
            &manager(),
            title,
            vec![Opt::User("assignee", ALICE), s("due", "in 2h")],
        )
        .await;
    }
    bot.step_at(hours(1)).await;
    let posted = bot.fake.messages();
    assert_eq!(posted.len(), 1, "both reminders share one message");
    let message_id = posted[0].id;
    // Both buttons pressed at the same moment, by two people allowed to.
    let (a, first) = button(&member(ALICE), "duty:done:1", message_id);
    let (b, second) = button(&manager(), "duty:done:2", message_id);
    let (sent_a, sent_b) = tokio::join!(bot.fake.inject(first), bot.fake.inject(second));
    let _ = (sent_a, sent_b);
    for id in [a, b] {
        let reply = bot.fake.response(id).await;
        assert!(
            is_ephemeral(&reply),
            "the clicker is answered privately: {reply}"
        );
        assert!(super_content(&reply).contains("is done"), "{reply}");
    }
    bot.step_at(hours(1)).await;
    assert_eq!(bot.fake.messages().len(), 1, "no new public message");
    let edits = bot.fake.edits();
    let last = &edits.last().expect("the reminder was edited").2;
    assert!(edits.iter().all(|e| e.1 == message_id));
    let text = last["content"].as_str().unwrap_or_default();
    assert!(
        text.contains("✅ ~~⏰ **#1 First chore**")
            && text.contains(&format!("done by <@{ALICE}>"))
            && text.contains("✅ ~~⏰ **#2 Second chore**")
            && text.contains(&format!("done by <@{BOSS}>")),
        "both lines end up done: {text}"
    );
    for row in last["components"].as_array().into_iter().flatten() {
        for button in row["components"].as_array().into_iter().flatten() {
            assert_eq!(button["disabled"], true, "{button}");
        }
    }
    assert_eq!(
        last["allowed_mentions"]["parse"],
        json!([]),
        "an edit pings nobody"
    );
}
