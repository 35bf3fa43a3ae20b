//! The daily standup summary, `/standup` and `/checkin` (README "Standups and check-ins"), with
//! a settable clock.

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;

use crate::support::bot::*;
use crate::support::interactions::{s, Opt};

const STANDUP_CHANNEL: u64 = 888_000_000_000_000_008;

/// All the text of a posted summary message: embed titles, descriptions and fields.
fn text(body: &Value) -> String {
    let mut out = String::new();
    for embed in body["embeds"].as_array().into_iter().flatten() {
        out.push_str(embed["title"].as_str().unwrap_or_default());
        out.push('\n');
        out.push_str(embed["description"].as_str().unwrap_or_default());
        out.push('\n');
        for field in embed["fields"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{}: {}\n",
                field["name"].as_str().unwrap_or_default(),
                field["value"].as_str().unwrap_or_default()
            ));
        }
    }
    out
}

fn summaries(bot: &TestBot) -> Vec<Value> {
    bot.fake
        .messages_in(STANDUP_CHANNEL)
        .into_iter()
        .map(|m| m.body)
        .collect()
}

async fn schedule(bot: &TestBot, time: &str, days: Option<&str>) -> Value {
    let mut options = vec![s("time", time), Opt::Channel("channel", STANDUP_CHANNEL)];
    if let Some(days) = days {
        options.push(s("days", days));
    }
    bot.run(&manager(), &["standup", "schedule"], options).await
}

#[tokio::test]
async fn the_summary_posts_at_its_schedule_with_every_section_and_pings_nobody() {
    let bot = TestBot::with_manager_role().await;
    let boss = manager();
    bot.run(&boss, &["project", "create"], vec![s("name", "Apollo")])
        .await;
    let reply = schedule(&bot, "13:00", Some("daily")).await;
    assert!(
        is_ephemeral(&reply) && content(&reply).contains(&format!("<#{STANDUP_CHANNEL}>")),
        "{reply}"
    );
    let p = || s("project", "Apollo");
    let done = bot
        .create_task(
            &boss,
            "Shipped thing",
            vec![p(), Opt::User("assignee", ALICE)],
        )
        .await;
    let started = bot
        .create_task(
            &boss,
            "Working thing",
            vec![p(), Opt::User("assignee", ALICE)],
        )
        .await;
    let blocked = bot
        .create_task(&boss, "Stuck thing", vec![p(), Opt::User("assignee", BOB)])
        .await;
    bot.create_task(
        &boss,
        "Soon thing",
        vec![p(), Opt::User("assignee", BOB), s("due", "in 20h")],
    )
    .await;
    bot.create_task(
        &boss,
        "Late thing",
        vec![p(), Opt::User("assignee", BOB), s("due", "in 30m")],
    )
    .await;
    bot.create_task(&boss, "Orphan thing", vec![]).await;
    bot.run(
        &member(ALICE),
        &["task", "done"],
        vec![Opt::Int("task", done)],
    )
    .await;
    bot.run(
        &member(ALICE),
        &["task", "start"],
        vec![Opt::Int("task", started)],
    )
    .await;
    bot.run(
        &member(BOB),
        &["task", "block"],
        vec![
            Opt::Int("task", blocked),
            s("reason", "waiting on @everyone"),
        ],
    )
    .await;
    bot.run(
        &member(ALICE),
        &["checkin"],
        vec![
            s("yesterday", "shipped"),
            s("today", "polish"),
            s("blockers", "none"),
        ],
    )
    .await;

    let before = bot.step_at(start_time() + Duration::minutes(59)).await;
    assert_eq!(before.summaries, 0);
    let outcome = bot.step_at(start_time() + Duration::hours(1)).await;
    assert_eq!(outcome.summaries, 1);
    let posted = summaries(&bot);
    assert_eq!(posted.len(), 1);
    let all = text(&posted[0]);
    for needle in [
        "Apollo",
        "Done (1)",
        "Shipped thing",
        "In progress (1)",
        "Working thing",
        "Blocked (1)",
        "waiting on",
        "Due in the next 24 hours",
        "Soon thing",
        "Overdue (1)",
        "Late thing",
        "late by 30m",
        "Unassigned",
        "Orphan thing",
        "No project",
        "Check-ins (1)",
        "shipped",
        "polish",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in\n{all}");
    }
    assert!(!all.contains("@everyone"), "typed text is defused");
    assert_eq!(
        posted[0]["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    assert_eq!(
        posted[0]["allowed_mentions"]["users"],
        serde_json::json!([])
    );
    assert_eq!(
        posted[0]["allowed_mentions"]["roles"],
        serde_json::json!([])
    );
    // The next one is tomorrow at 13:00, and the check-in is not shown again.
    assert_eq!(
        outcome
            .next_due
            .map(|n| n <= start_time() + Duration::hours(25)),
        Some(true)
    );
    bot.step_at(start_time() + Duration::hours(25)).await;
    let posted = summaries(&bot);
    assert_eq!(posted.len(), 2);
    let second = text(&posted[1]);
    assert!(
        !second.contains("polish") && !second.contains("Shipped thing"),
        "{second}"
    );
}

#[tokio::test]
async fn a_quiet_day_still_gets_a_short_summary() {
    let bot = TestBot::with_manager_role().await;
    schedule(&bot, "12:30", Some("daily")).await;
    bot.step_at(start_time() + Duration::minutes(30)).await;
    let posted = summaries(&bot);
    assert_eq!(posted.len(), 1);
    assert!(
        text(&posted[0]).contains("All quiet"),
        "{}",
        text(&posted[0])
    );
}

#[tokio::test]
async fn standup_now_previews_without_using_check_ins_and_a_second_checkin_replaces_the_first() {
    let bot = TestBot::with_manager_role().await;
    schedule(&bot, "13:00", Some("daily")).await;
    bot.run(
        &member(ALICE),
        &["checkin"],
        vec![s("yesterday", "first draft"), s("today", "x")],
    )
    .await;
    let reply = bot
        .run(
            &member(ALICE),
            &["checkin"],
            vec![s("yesterday", "second draft"), s("today", "y")],
        )
        .await;
    assert!(
        is_ephemeral(&reply) && content(&reply).contains("replaces"),
        "{reply}"
    );

    let preview = bot.run(&member(BOB), &["standup", "now"], vec![]).await;
    assert!(!is_ephemeral(&preview), "posted in the calling channel");
    let shown = text(&preview["data"]);
    assert!(
        shown.contains("second draft") && !shown.contains("first draft"),
        "{shown}"
    );
    assert_eq!(
        preview["data"]["allowed_mentions"]["parse"],
        serde_json::json!([])
    );

    bot.step_at(start_time() + Duration::hours(1)).await;
    let real = text(&summaries(&bot)[0]);
    assert!(
        real.contains("second draft"),
        "the preview used up nothing: {real}"
    );
    assert!(!real.contains("first draft"));
}

#[tokio::test]
async fn standup_off_stops_summaries_and_managers_alone_schedule() {
    let bot = TestBot::with_manager_role().await;
    let refused = bot
        .run(
            &member(ALICE),
            &["standup", "schedule"],
            vec![s("time", "09:30"), Opt::Channel("channel", STANDUP_CHANNEL)],
        )
        .await;
    assert_private_error(&refused, "manager role");
    schedule(&bot, "13:00", None).await;
    let refused = bot.run(&member(ALICE), &["standup", "off"], vec![]).await;
    assert_private_error(&refused, "manager role");
    let reply = bot.run(&manager(), &["standup", "off"], vec![]).await;
    assert!(content(&reply).contains("off"), "{reply}");
    let outcome = bot.step_at(start_time() + Duration::days(3)).await;
    assert_eq!(outcome.summaries, 0);
    assert!(summaries(&bot).is_empty());
}

#[tokio::test]
async fn bad_schedules_are_refused() {
    let bot = TestBot::with_manager_role().await;
    for (time, days, needle) in [
        ("*/15 9 * * *", None, "once a day"),
        ("30 9 * * 1-5", Some("mon"), "days"),
        ("25:00", None, "time"),
        ("09:30", Some("someday"), "day"),
        ("not a schedule at all", None, "crontab"),
    ] {
        let reply = schedule(&bot, time, days).await;
        assert!(is_ephemeral(&reply), "{time}: {reply}");
        assert!(
            content(&reply).to_lowercase().contains(needle),
            "{time}: {}",
            content(&reply)
        );
    }
    let show = embed_text(&bot.run(&manager(), &["config", "show"], vec![]).await);
    assert!(show.contains("not scheduled"), "{show}");
}

/// One summary per scheduled day across DST changes, never none and never two.
async fn one_summary_per_day(zone: &str, first_day: (i32, u32, u32), days: i64) {
    let case = format!("{zone} from {first_day:?}");
    let bot = TestBot::with_manager_role().await;
    bot.run(&manager(), &["config", "timezone"], vec![s("zone", zone)])
        .await;
    let start = Utc
        .with_ymd_and_hms(first_day.0, first_day.1, first_day.2, 0, 0, 0)
        .single()
        .expect("valid day");
    bot.clock.set(start);
    schedule(&bot, "09:30", Some("daily")).await;
    let tz: chrono_tz::Tz = zone.parse().expect("zone");
    // Walk the clock in 20-minute steps across the whole period.
    let mut at = start;
    while at < start + Duration::days(days) {
        at += Duration::minutes(20);
        bot.step_at(at).await;
    }
    let posted = bot.fake.messages_in(STANDUP_CHANNEL);
    let mut local_days = Vec::new();
    let runs: Vec<(i64,)> =
        coordinator::store::sql("SELECT scheduled_at FROM standup_runs ORDER BY scheduled_at")
            .fetch_all(bot.db().on())
            .await
            .expect("runs");
    for (scheduled,) in &runs {
        let local = Utc
            .timestamp_opt(*scheduled, 0)
            .single()
            .expect("instant")
            .with_timezone(&tz);
        assert_eq!(
            local.format("%H:%M").to_string(),
            "09:30",
            "{case}: {local}"
        );
        local_days.push(local.format("%Y-%m-%d").to_string());
    }
    let mut unique = local_days.clone();
    unique.dedup();
    assert_eq!(
        unique, local_days,
        "{case}: two summaries on one day: {local_days:?}"
    );
    assert_eq!(
        local_days.len() as i64,
        days,
        "{case}: one per day: {local_days:?}"
    );
    assert_eq!(posted.len() as i64, days, "{case}");
}

/// One test per row: a zone and the first of six days around one of its DST changes.
macro_rules! dst_weeks {
    ($($name:ident: $zone:expr, $first_day:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            one_summary_per_day($zone, $first_day, 6).await;
        }
    )*};
}

dst_weeks! {
    berlin_spring_forward_gives_one_summary_per_day: "Europe/Berlin", (2026, 3, 26);
    berlin_fall_back_gives_one_summary_per_day: "Europe/Berlin", (2026, 10, 22);
    new_york_spring_forward_gives_one_summary_per_day: "America/New_York", (2026, 3, 5);
    new_york_fall_back_gives_one_summary_per_day: "America/New_York", (2026, 10, 29);
}
