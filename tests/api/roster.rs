//! The standup loop (README "The standup loop"): the roster, prompts and nudges by direct
//! message with the check-in form, the channel message for members who cannot be DMed, who is
//! missing and who is away, with a settable clock and the worker stepped by hand.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::bot::*;
use crate::support::interactions::{button, modal_submit, s, Caller, Opt};

const STANDUP_CHANNEL: u64 = 888_000_000_000_000_009;
const DAN: u64 = 500_000_000_000_000_005;
const EVE: u64 = 500_000_000_000_000_006;

/// The summary is at 13:00; prompts go at 12:00 (the default 1 h lead), nudges at 12:30.
fn summary_at() -> chrono::DateTime<chrono::Utc> {
    start_time() + Duration::hours(1)
}
fn prompt_at() -> chrono::DateTime<chrono::Utc> {
    start_time()
}
fn nudge_at() -> chrono::DateTime<chrono::Utc> {
    start_time() + Duration::minutes(30)
}

/// A bot with a daily 13:00 summary, its clock at 11:00.
async fn standup_bot(prompt: Option<&str>) -> TestBot {
    let bot = TestBot::with_manager_role().await;
    bot.clock.set(start_time() - Duration::hours(1));
    let mut options = vec![
        s("time", "13:00"),
        Opt::Channel("channel", STANDUP_CHANNEL),
        s("days", "daily"),
    ];
    if let Some(prompt) = prompt {
        options.push(s("prompt", prompt));
    }
    let reply = bot.run(&manager(), &["standup", "schedule"], options).await;
    assert!(content(&reply).contains("The next one"), "{reply}");
    bot
}

async fn join(bot: &TestBot, users: &[u64]) {
    for user in users {
        let reply = bot.run(&member(*user), &["standup", "join"], vec![]).await;
        assert!(content(&reply).contains("on the standup roster"), "{reply}");
    }
}

fn channel_asks(bot: &TestBot) -> Vec<Value> {
    bot.fake
        .messages_in(STANDUP_CHANNEL)
        .into_iter()
        .map(|m| m.body)
        .filter(|b| {
            b["content"]
                .as_str()
                .unwrap_or_default()
                .contains("Check in")
        })
        .collect()
}

fn summaries(bot: &TestBot) -> Vec<String> {
    bot.fake
        .messages_in(STANDUP_CHANNEL)
        .into_iter()
        .filter(|m| m.body["embeds"].as_array().is_some_and(|e| !e.is_empty()))
        .map(|m| {
            m.body["embeds"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    format!(
                        "{}\n{}\n",
                        e["title"].as_str().unwrap_or_default(),
                        e["description"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .collect()
}

fn button_ids(body: &Value) -> Vec<String> {
    body["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
        .collect()
}

/// Presses a button on the DM `user` got last; returns the callback.
async fn press_in_dm(bot: &TestBot, user: u64, custom_id: &str) -> Value {
    let dm = bot.fake.dm_messages(user).pop().expect("a DM to press on");
    let channel = bot.fake.dm_channel_of(user).expect("DM channel");
    let (id, interaction) = button(&Caller::dm(channel, user), custom_id, dm.id);
    bot.fake.inject(interaction).await;
    bot.fake.response(id).await
}

/// Submits the form `form` (a type 9 callback) as `caller` with the given answers.
async fn submit(bot: &TestBot, caller: &Caller, form: &Value, fields: &[(&str, &str)]) -> Value {
    assert_eq!(form["type"], 9, "a form: {form}");
    let custom_id = form["data"]["custom_id"].as_str().expect("form id");
    let (id, interaction) = modal_submit(caller, custom_id, fields, None);
    bot.fake.inject(interaction).await;
    bot.fake.response(id).await
}

#[tokio::test]
async fn a_roster_of_five_with_one_away_and_one_without_dms_gets_three_dms_and_one_channel_message()
{
    let bot = standup_bot(None).await;
    join(&bot, &[ALICE, BOB, CAROL, DAN, EVE]).await;
    let away = bot
        .run(
            &member(CAROL),
            &["away", "set"],
            vec![s("until", "in 3 days")],
        )
        .await;
    assert!(content(&away).contains("You are away"), "{away}");
    bot.fake.refuse_dms(EVE, 50_007);

    // Nothing before the prompt's time.
    bot.step_at(prompt_at() - Duration::minutes(1)).await;
    assert!(bot.fake.dm_opens().is_empty());

    let outcome = bot.step_at(prompt_at()).await;
    assert_eq!(outcome.asks, 1);
    for user in [ALICE, BOB, DAN] {
        let dms = bot.fake.dm_messages(user);
        assert_eq!(dms.len(), 1, "one prompt for {user}");
        assert_eq!(
            button_ids(&dms[0].body),
            ["standup:checkin", "standup:stop"]
        );
        assert!(dms[0].body["content"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("<#{STANDUP_CHANNEL}>")));
    }
    assert!(bot.fake.dm_messages(CAROL).is_empty(), "away: no DM");
    assert!(bot.fake.dm_messages(EVE).is_empty(), "refused");
    // Every DM attempt is done: the channel message goes at the next step, at once.
    bot.step_at(prompt_at()).await;
    let asks = channel_asks(&bot);
    assert_eq!(asks.len(), 1, "{asks:?}");
    assert!(asks[0]["content"]
        .as_str()
        .unwrap_or_default()
        .contains(&format!("<@{EVE}>")));
    assert_eq!(
        asks[0]["allowed_mentions"]["users"],
        json!([EVE.to_string()])
    );
    assert_eq!(button_ids(&asks[0]), ["standup:checkin"]);

    // Alice answers through the form from her DM.
    let form = press_in_dm(&bot, ALICE, "standup:checkin").await;
    let alice_dm = bot.fake.dm_channel_of(ALICE).expect("DM channel");
    let saved = submit(
        &bot,
        &Caller::dm(alice_dm, ALICE),
        &form,
        &[("yesterday", "wrote the roster"), ("today", "ship it")],
    )
    .await;
    assert!(content(&saved).contains("Check-in saved"), "{saved}");
    assert!(is_ephemeral(&saved));
    // Eve answers through the channel message's button: her own form.
    let (id, press) = button(
        &member(EVE).in_channel(STANDUP_CHANNEL),
        "standup:checkin",
        1,
    );
    bot.fake.inject(press).await;
    let form = bot.fake.response(id).await;
    assert_eq!(form["data"]["custom_id"], "checkin:form");
    let saved = submit(
        &bot,
        &member(EVE),
        &form,
        &[
            ("yesterday", "reviews"),
            ("today", "tests"),
            ("blockers", ""),
        ],
    )
    .await;
    assert!(content(&saved).contains("Check-in saved"), "{saved}");

    // The nudge: once, only to those still missing.
    bot.step_at(nudge_at() - Duration::seconds(1)).await;
    assert_eq!(
        bot.fake.dm_messages(BOB).len(),
        1,
        "no nudge before its time"
    );
    bot.step_at(nudge_at()).await;
    bot.step_at(nudge_at()).await;
    assert_eq!(bot.fake.dm_messages(ALICE).len(), 1, "Alice checked in");
    for user in [BOB, DAN] {
        let dms = bot.fake.dm_messages(user);
        assert_eq!(dms.len(), 2, "prompt and nudge for {user}");
        assert!(dms[1].body["content"]
            .as_str()
            .unwrap_or_default()
            .contains("still missing"));
    }
    assert!(bot.fake.dm_messages(CAROL).is_empty());
    assert_eq!(
        channel_asks(&bot).len(),
        1,
        "Eve checked in: no second mention"
    );
    bot.step_at(nudge_at() + Duration::minutes(10)).await;
    assert_eq!(
        bot.fake.dm_messages(BOB).len(),
        2,
        "nobody gets a second nudge"
    );

    bot.step_at(summary_at()).await;
    let summary = summaries(&bot).join("\n");
    assert!(summary.contains("Checked in: **2** of **4**"), "{summary}");
    assert!(
        summary.contains(&format!("Missing: <@{BOB}>, <@{DAN}>")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("Away: <@{CAROL}> until <t:")),
        "{summary}"
    );
    assert!(summary.contains("wrote the roster"), "{summary}");
}

#[tokio::test]
async fn members_who_left_are_marked_gone_and_no_longer_asked_or_counted() {
    let bot = standup_bot(None).await;
    join(&bot, &[ALICE, BOB, DAN]).await;
    bot.fake.refuse_dms(BOB, 10_013);
    bot.fake.refuse_dms(DAN, 50_278);
    bot.step_at(prompt_at()).await;
    bot.step_at(prompt_at()).await;
    let roster = bot
        .run(&member(ALICE), &["standup", "roster"], vec![])
        .await;
    let text = content(&roster);
    assert!(text.contains("Left the server"), "{text}");
    assert!(text.contains(&format!("<@{BOB}>")) && text.contains(&format!("<@{DAN}>")));
    assert!(text.contains("0 of 1"), "only Alice is counted: {text}");
    // Gone members get no channel mention either: they left.
    bot.step_at(summary_at()).await;
    let summary = summaries(&bot).join("\n");
    assert!(summary.contains("Checked in: **0** of **1**"), "{summary}");
    // Acting again brings a member back.
    bot.run(&member(BOB), &["standup", "join"], vec![]).await;
    let roster = content(
        &bot.run(&member(ALICE), &["standup", "roster"], vec![])
            .await,
    );
    assert!(roster.contains("of 2"), "{roster}");
}

#[tokio::test]
async fn stop_these_dms_takes_the_member_off_the_roster_privately() {
    let bot = standup_bot(Some("2h")).await;
    join(&bot, &[ALICE, BOB]).await;
    // 2 h lead: the prompt goes at 11:00.
    bot.step_at(start_time() - Duration::hours(1)).await;
    assert_eq!(bot.fake.dm_messages(ALICE).len(), 1);
    let reply = press_in_dm(&bot, ALICE, "standup:stop").await;
    assert!(is_ephemeral(&reply), "{reply}");
    assert!(
        content(&reply).contains("off the standup roster"),
        "{reply}"
    );
    // A prompt for someone else cannot be used by Bob: the guild is read from the stored
    // message, and only its recipient may press it.
    let alice_dm = bot.fake.dm_messages(ALICE).pop().expect("dm");
    let (id, forged) = button(&Caller::dm(1, BOB), "standup:stop", alice_dm.id);
    bot.fake.inject(forged).await;
    let refused = bot.fake.response(id).await;
    assert!(content(&refused).contains("no longer active"), "{refused}");
    let roster = content(&bot.run(&member(BOB), &["standup", "roster"], vec![]).await);
    assert!(roster.contains("(1 members)") && !roster.contains(&format!("<@{ALICE}>")));
    assert!(roster.contains(&format!("<@{BOB}>")), "{roster}");
    // The nudge skips her.
    bot.step_at(start_time()).await;
    assert_eq!(bot.fake.dm_messages(ALICE).len(), 1);
    assert_eq!(bot.fake.dm_messages(BOB).len(), 2);
}

#[tokio::test]
async fn a_restart_between_prompt_and_summary_sends_nothing_twice() {
    let mut bot = standup_bot(None).await;
    join(&bot, &[ALICE, BOB]).await;
    bot.fake.refuse_dms(BOB, 50_007);
    bot.step_at(prompt_at()).await;
    bot.restart().await;
    bot.step_at(prompt_at()).await;
    bot.step_at(prompt_at() + Duration::minutes(1)).await;
    bot.restart().await;
    bot.step_at(nudge_at()).await;
    bot.step_at(nudge_at()).await;
    bot.restart().await;
    bot.step_at(nudge_at() + Duration::minutes(1)).await;
    assert_eq!(
        bot.fake.dm_messages(ALICE).len(),
        2,
        "one prompt, one nudge"
    );
    assert_eq!(channel_asks(&bot).len(), 2, "one channel mention per stage");
    assert_eq!(bot.fake.deduplicated(), 0, "not even a resend");
}

/// Discord cannot open DMs for now (every retry of the sender answers 500): the prompts wait
/// in the outbox for a later try.
fn fail_dm_opens(bot: &TestBot) {
    for _ in 0..5 {
        bot.fake.fail_next(
            "POST",
            "/users/@me/channels",
            500,
            json!({"message": "oops"}),
        );
    }
}

#[tokio::test]
async fn a_prompt_still_unsent_when_its_summary_is_posted_is_dropped() {
    let bot = standup_bot(None).await;
    join(&bot, &[ALICE]).await;
    fail_dm_opens(&bot);
    bot.step_at(prompt_at()).await;
    assert!(bot.fake.dm_messages(ALICE).is_empty());
    bot.step_at(summary_at()).await;
    assert_eq!(summaries(&bot).len(), 1);
    bot.step_at(summary_at() + Duration::minutes(5)).await;
    assert!(
        bot.fake.dm_messages(ALICE).is_empty(),
        "a prompt after its summary is no use"
    );
}

#[tokio::test]
async fn standup_off_drops_prompts_not_yet_sent() {
    let bot = standup_bot(None).await;
    join(&bot, &[ALICE]).await;
    fail_dm_opens(&bot);
    bot.step_at(prompt_at()).await;
    let off = bot.run(&manager(), &["standup", "off"], vec![]).await;
    assert!(content(&off).contains("off"), "{off}");
    bot.step_at(nudge_at()).await;
    bot.step_at(summary_at()).await;
    assert!(bot.fake.dm_messages(ALICE).is_empty());
    assert!(summaries(&bot).is_empty());
}

#[tokio::test]
async fn checkin_with_no_option_opens_the_form_prefilled_with_the_current_check_in() {
    let bot = standup_bot(None).await;
    bot.run(
        &member(ALICE),
        &["checkin"],
        vec![s("yesterday", "first"), s("today", "second")],
    )
    .await;
    let form = bot.run(&member(ALICE), &["checkin"], vec![]).await;
    assert_eq!(form["type"], 9, "{form}");
    let rows = form["data"]["components"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["components"][0]["value"], "first");
    let saved = submit(
        &bot,
        &member(ALICE),
        &form,
        &[("yesterday", "first, edited"), ("today", "second")],
    )
    .await;
    assert!(content(&saved).contains("Check-in updated"), "{saved}");
}

#[tokio::test]
async fn bad_roster_and_away_input_gets_a_private_error_and_changes_nothing() {
    let bot = standup_bot(None).await;
    join(&bot, &[ALICE]).await;
    let before = bot.db().rows_as_text("away_periods").await.expect("rows");
    /// A case, who sends it, the command, its options, and what the refusal must say.
    type Case<'a> = (&'a str, Caller, Vec<&'a str>, Vec<Opt>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "prompt too short",
            manager(),
            vec!["standup", "schedule"],
            vec![
                s("time", "13:00"),
                Opt::Channel("channel", STANDUP_CHANNEL),
                s("prompt", "4m"),
            ],
            "prompt lead",
        ),
        (
            "prompt too long",
            manager(),
            vec!["standup", "schedule"],
            vec![
                s("time", "13:00"),
                Opt::Channel("channel", STANDUP_CHANNEL),
                s("prompt", "13h"),
            ],
            "prompt lead",
        ),
        (
            "away in the past",
            member(ALICE),
            vec!["away", "set"],
            vec![s("until", "2026-01-01")],
            "ends in the past",
        ),
        (
            "away ending before it starts",
            member(ALICE),
            vec!["away", "set"],
            vec![s("until", "in 2 days"), s("from", "in 5 days")],
            "ends before it starts",
        ),
        (
            "someone else's away, as a member",
            member(ALICE),
            vec!["away", "set"],
            vec![s("until", "friday"), Opt::User("user", BOB)],
            "someone else's away period",
        ),
        (
            "someone else on the roster, as a member",
            member(ALICE),
            vec!["standup", "add"],
            vec![Opt::User("user", BOB)],
            "standup roster",
        ),
        (
            "half a check-in",
            member(ALICE),
            vec!["checkin"],
            vec![s("yesterday", "only this")],
            "both yesterday and today",
        ),
    ];
    for (case, caller, path, options, needle) in cases {
        let reply = bot.run(&caller, &path, options).await;
        assert_private_error_for(case, &reply, needle);
    }
    // Over-long and empty form fields, sent raw as a modified client could.
    let long = "x".repeat(1_001);
    for (case, fields) in [
        (
            "over-long",
            vec![("yesterday", long.as_str()), ("today", "ok")],
        ),
        ("empty today", vec![("yesterday", "ok"), ("today", "  ")]),
    ] {
        let (id, interaction) = modal_submit(&member(ALICE), "checkin:form", &fields, None);
        bot.fake.inject(interaction).await;
        let reply = bot.fake.response(id).await;
        assert!(is_ephemeral(&reply), "{case}: {reply}");
        assert!(!content(&reply).contains("saved"), "{case}: {reply}");
    }
    assert_eq!(
        bot.db().rows_as_text("checkins").await.expect("rows").len(),
        0,
        "no check-in stored"
    );
    assert_eq!(
        bot.db().rows_as_text("away_periods").await.expect("rows"),
        before
    );
    let roster = content(
        &bot.run(&member(ALICE), &["standup", "roster"], vec![])
            .await,
    );
    assert!(roster.contains("(1 members)"), "{roster}");
}

#[tokio::test]
async fn away_members_are_listed_until_their_period_ends_and_clear_ends_it() {
    let bot = standup_bot(None).await;
    join(&bot, &[ALICE, BOB]).await;
    let set = bot
        .run(
            &manager(),
            &["away", "set"],
            vec![
                s("until", "tomorrow"),
                Opt::User("user", BOB),
                s("note", "conference"),
            ],
        )
        .await;
    assert!(
        content(&set).contains(&format!("<@{BOB}> is away")),
        "{set}"
    );
    let list = content(&bot.run(&member(ALICE), &["away", "list"], vec![]).await);
    assert!(
        list.contains(&format!("<@{BOB}>")) && list.contains("conference"),
        "{list}"
    );
    bot.step_at(prompt_at()).await;
    assert!(bot.fake.dm_messages(BOB).is_empty(), "away: not asked");
    let cleared = bot.run(&member(BOB), &["away", "clear"], vec![]).await;
    assert!(content(&cleared).contains("over"), "{cleared}");
    bot.step_at(nudge_at()).await;
    assert_eq!(bot.fake.dm_messages(BOB).len(), 1, "back: nudged");
    let list = content(&bot.run(&member(ALICE), &["away", "list"], vec![]).await);
    assert!(list.contains("Nobody is away"), "{list}");
}

#[tokio::test]
async fn an_away_assignee_is_named_without_a_ping_and_their_overdue_task_goes_to_the_managers() {
    let bot = TestBot::with_manager_role().await;
    let task = bot
        .create_task(
            &manager(),
            "Quarterly report",
            vec![Opt::User("assignee", ALICE), s("due", "in 2h")],
        )
        .await;
    let away = bot
        .run(
            &member(ALICE),
            &["away", "set"],
            vec![s("until", "in 5 days")],
        )
        .await;
    assert!(content(&away).contains("You are away"), "{away}");

    // The 1 h reminder: in the channel, naming her with the end of her period, no ping.
    bot.step_at(hours(1)).await;
    let reminder = bot.posted_with("⏰");
    assert_eq!(reminder.len(), 1);
    let text = reminder[0]["content"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("<@{ALICE}> (away until <t:")),
        "{text}"
    );
    assert_pings_nobody(&json!({ "type": 4, "data": reminder[0] }));

    // The overdue alert pings the manager role at once and says why.
    bot.step_at(hours(2)).await;
    let overdue = bot.posted_with("is overdue");
    assert_eq!(overdue.len(), 1);
    let text = overdue[0]["content"].as_str().unwrap_or_default();
    assert!(text.contains("goes to the managers now"), "{text}");
    assert!(text.contains(&format!("<@&{MANAGER_ROLE}>")), "{text}");
    assert_eq!(
        overdue[0]["allowed_mentions"]["roles"],
        json!([MANAGER_ROLE.to_string()])
    );
    assert!(overdue[0]["allowed_mentions"]["users"]
        .as_array()
        .is_none_or(|u| u.is_empty()));
    // ... which replaces the escalation a day later.
    let outcome = bot.step_at(hours(2 + 24)).await;
    assert_eq!(outcome.claimed, 0);
    assert!(bot.posted_with("still not done").is_empty());
    assert_eq!(task, 1);
}
