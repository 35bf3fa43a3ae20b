//! Reminders by direct message (README "Reminders by direct message"): `/notify`, the buttons
//! of a DM reminder (acting from the stored record, with no manager rights), and the channel
//! fallback when a DM is refused.

use serde_json::Value;

use crate::support::bot::*;
use crate::support::interactions::{button, s, Caller, Opt};

async fn choose(bot: &TestBot, user: u64, choice: &str) -> String {
    let reply = bot
        .run(&member(user), &["notify"], vec![s("reminders", choice)])
        .await;
    assert!(is_ephemeral(&reply), "{reply}");
    content(&reply)
}

/// Another manager, who creates Alice's task: the usual manager (`BOSS`) is then neither
/// its assignee nor its creator.
const OTHER_MANAGER: u64 = 500_000_000_000_000_009;

/// Alice's task #1, due two hours after the start; its 1h reminder falls due at `hours(1)`.
async fn alices_task(bot: &TestBot) {
    bot.create_task(
        &Caller::member(GUILD, CHANNEL, OTHER_MANAGER).with_roles(&[MANAGER_ROLE]),
        "Ship the DM feature",
        vec![s("due", "in 2h"), Opt::User("assignee", ALICE)],
    )
    .await;
}

fn channel_reminders(bot: &TestBot) -> Vec<Value> {
    bot.fake
        .messages_in(CHANNEL)
        .into_iter()
        .map(|m| m.body)
        .filter(|b| b["content"].as_str().unwrap_or_default().contains("⏰"))
        .collect()
}

/// Presses `custom_id` as `user` on the last DM Alice got.
async fn press_on_alices_dm(bot: &TestBot, user: u64, custom_id: &str) -> Value {
    let dm = bot.fake.dm_messages(ALICE).pop().expect("a DM reminder");
    let channel = bot.fake.dm_channel_of(ALICE).expect("DM channel");
    let (id, press) = button(&Caller::dm(channel, user), custom_id, dm.id);
    bot.fake.inject(press).await;
    bot.fake.response(id).await
}

#[tokio::test]
async fn a_dm_reminder_carries_buttons_that_work_for_the_assignee_only() {
    let bot = TestBot::with_manager_role().await;
    let shown = content(&bot.run(&member(ALICE), &["notify"], vec![]).await);
    assert!(shown.contains("go to the task's channel"), "{shown}");
    let saved = choose(&bot, ALICE, "dm").await;
    assert!(
        saved.starts_with("Saved.") && saved.contains("by direct message"),
        "{saved}"
    );
    alices_task(&bot).await;
    bot.create_task(&manager(), "Another task", vec![]).await;

    bot.step_at(hours(1)).await;
    let dms = bot.fake.dm_messages(ALICE);
    assert_eq!(dms.len(), 1);
    let text = dms[0].body["content"].as_str().unwrap_or_default();
    assert!(text.contains("#1 Ship the DM feature"), "{text}");
    assert!(
        channel_reminders(&bot).is_empty(),
        "dm only: nothing in the channel"
    );

    let before = bot.snapshot().await;
    // Bob, a stranger, and the manager (a DM carries no roles) are refused; nothing changes.
    for user in [BOB, BOSS] {
        let reply = press_on_alices_dm(&bot, user, "duty:done:1").await;
        assert!(is_ephemeral(&reply), "{reply}");
        assert!(content(&reply).contains("Only managers"), "{user}: {reply}");
    }
    // A click whose custom id names another task than the message's record does nothing.
    let forged = press_on_alices_dm(&bot, ALICE, "duty:done:2").await;
    assert!(content(&forged).contains("no longer active"), "{forged}");
    assert_eq!(
        bot.snapshot().await,
        before,
        "refused clicks changed nothing"
    );

    let snoozed = press_on_alices_dm(&bot, ALICE, "duty:snooze:1").await;
    assert!(content(&snoozed).contains("Snoozed"), "{snoozed}");
    let done = press_on_alices_dm(&bot, ALICE, "duty:done:1").await;
    assert!(content(&done).contains("is done"), "{done}");
    assert_eq!(
        bot.task_column(GUILD, 1, "status").await.as_deref(),
        Some("done")
    );
    assert_eq!(
        bot.task_column(GUILD, 2, "status").await.as_deref(),
        Some("todo")
    );
}

#[tokio::test]
async fn overdue_alerts_reach_the_channel_and_also_the_dm_and_both_means_both() {
    let bot = TestBot::with_manager_role().await;
    choose(&bot, ALICE, "both").await;
    alices_task(&bot).await;
    bot.step_at(hours(1)).await;
    assert_eq!(channel_reminders(&bot).len(), 1);
    assert_eq!(bot.fake.dm_messages(ALICE).len(), 1);
    choose(&bot, ALICE, "dm").await;
    bot.step_at(hours(2)).await;
    assert_eq!(bot.posted_with("is overdue").len(), 2, "channel and DM");
    let dms = bot.fake.dm_messages(ALICE);
    assert_eq!(dms.len(), 2);
    assert!(dms[1].body["content"]
        .as_str()
        .unwrap_or_default()
        .contains("is overdue"));
}

#[tokio::test]
async fn a_refused_dm_falls_back_to_the_channel_once_and_notify_says_dms_are_failing() {
    let bot = TestBot::with_manager_role().await;
    choose(&bot, ALICE, "dm").await;
    bot.fake.refuse_dms(ALICE, 50_007);
    alices_task(&bot).await;
    bot.step_at(hours(1)).await;
    bot.step_at(hours(1)).await;
    let fallback = channel_reminders(&bot);
    assert_eq!(fallback.len(), 1, "once, in the channel");
    assert_eq!(
        fallback[0]["allowed_mentions"]["users"],
        serde_json::json!([ALICE.to_string()])
    );
    assert!(bot.fake.dm_messages(ALICE).is_empty());
    let shown = content(&bot.run(&member(ALICE), &["notify"], vec![]).await);
    assert!(
        shown.contains("direct messages to you are failing"),
        "{shown}"
    );
    // The overdue alert is not tried by DM again within the week: the channel has it.
    bot.step_at(hours(2)).await;
    assert_eq!(bot.posted_with("is overdue").len(), 1);
    let opens = bot
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/messages") && r.status == 403)
        .count();
    assert_eq!(opens, 1, "one refused DM, not one per duty");
}

#[tokio::test]
async fn an_away_assignee_gets_no_dm_and_the_reminder_posts_in_the_channel() {
    let bot = TestBot::with_manager_role().await;
    choose(&bot, ALICE, "dm").await;
    bot.run(
        &member(ALICE),
        &["away", "set"],
        vec![s("until", "in 3 days")],
    )
    .await;
    alices_task(&bot).await;
    bot.step_at(hours(1)).await;
    assert!(bot.fake.dm_messages(ALICE).is_empty());
    assert_eq!(channel_reminders(&bot).len(), 1);
}

#[tokio::test]
async fn notify_refuses_an_unknown_choice() {
    let bot = TestBot::with_manager_role().await;
    let reply = bot
        .run(&member(ALICE), &["notify"], vec![s("reminders", "email")])
        .await;
    assert_private_error(&reply, "channel, dm or both");
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid")
}

#[tokio::test]
async fn the_morning_digest_comes_at_its_local_time_in_two_zones_across_a_dst_change() {
    let bot = TestBot::with_manager_role().await;
    // Friday 12 March 2027; New York springs forward on Sunday the 14th, Berlin on the 28th.
    bot.clock.set(utc(2027, 3, 12, 12, 0));
    for (user, zone) in [(ALICE, "Europe/Berlin"), (BOB, "America/New_York")] {
        bot.run(&member(user), &["timezone"], vec![s("zone", zone)])
            .await;
        let reply = bot
            .run(&member(user), &["notify"], vec![s("digest", "08:30")])
            .await;
        assert!(
            content(&reply).contains(&format!("weekdays at 08:30 ({zone})")),
            "{reply}"
        );
    }
    bot.run(&member(CAROL), &["notify"], vec![s("digest", "08:30")])
        .await;
    let task = |title: &str, user: u64, due: &str| {
        let mut options = vec![Opt::User("assignee", user)];
        if !due.is_empty() {
            options.push(s("due", due));
        }
        (title.to_string(), options)
    };
    for (title, options) in [
        task("Alice due Monday", ALICE, "2027-03-15 17:00"),
        task("Alice next week", ALICE, "2027-03-22 17:00"),
        task("Alice blocked", ALICE, ""),
        task("Bob due Monday", BOB, "2027-03-15 12:00"),
    ] {
        bot.create_task(&manager(), &title, options).await;
    }
    bot.run(
        &member(ALICE),
        &["task", "block"],
        vec![Opt::Int("task", 3), s("reason", "waiting on legal")],
    )
    .await;

    // Monday 08:30 in Berlin (CET) is 07:30 UTC; in New York, now on EDT, 12:30 UTC.
    bot.step_at(utc(2027, 3, 15, 7, 29)).await;
    assert!(
        bot.fake.dm_messages(ALICE).is_empty(),
        "not before its time"
    );
    bot.step_at(utc(2027, 3, 15, 7, 30)).await;
    let alice = bot.fake.dm_messages(ALICE);
    assert_eq!(alice.len(), 1);
    let text = alice[0].body["content"].as_str().unwrap_or_default();
    assert!(
        text.contains("Alice due Monday") && text.contains("Alice blocked"),
        "{text}"
    );
    assert!(!text.contains("next week"), "{text}");
    assert!(
        text.find("Alice due Monday") < text.find("Alice blocked"),
        "soonest first, undated last: {text}"
    );
    bot.step_at(utc(2027, 3, 15, 12, 29)).await;
    assert!(
        bot.fake.dm_messages(BOB).is_empty(),
        "not at the pre-DST 13:30 either"
    );
    bot.step_at(utc(2027, 3, 15, 12, 30)).await;
    assert_eq!(bot.fake.dm_messages(BOB).len(), 1);
    // Carol has nothing to list: no DM, and none opened.
    assert!(bot.fake.dm_channel_of(CAROL).is_none());

    // Stop these DMs from Alice's digest: nothing the next morning.
    let channel = bot.fake.dm_channel_of(ALICE).expect("dm channel");
    let (id, press) = button(&Caller::dm(channel, ALICE), "digest:stop", alice[0].id);
    bot.fake.inject(press).await;
    let reply = bot.fake.response(id).await;
    assert!(content(&reply).contains("digest is off"), "{reply}");
    bot.step_at(utc(2027, 3, 16, 7, 30)).await;
    assert_eq!(bot.fake.dm_messages(ALICE).len(), 1);
    // Bob is away on Tuesday: no digest.
    bot.run(&member(BOB), &["away", "set"], vec![s("until", "tuesday")])
        .await;
    bot.step_at(utc(2027, 3, 16, 12, 30)).await;
    assert_eq!(bot.fake.dm_messages(BOB).len(), 1);
}

#[tokio::test]
async fn an_unreadable_digest_time_is_refused_and_changes_nothing() {
    let bot = TestBot::with_manager_role().await;
    for bad in ["8.30", "25:00", "morning"] {
        let reply = bot
            .run(&member(ALICE), &["notify"], vec![s("digest", bad)])
            .await;
        assert_private_error(&reply, "digest time");
    }
    let shown = content(&bot.run(&member(ALICE), &["notify"], vec![]).await);
    assert!(shown.contains("Morning digest: off"), "{shown}");
}
