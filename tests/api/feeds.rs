//! Calendar feeds end to end: `/project feed` shows a link only to managers, the link serves an
//! iCalendar feed that a real parser (the `icalendar` crate's) reads back exactly, rotation
//! kills the old link at once, and nothing of one guild is reachable from another.

use std::collections::BTreeMap;

use icalendar::{CalendarComponent, Component, DatePerhapsTime};

use crate::support::bot::*;
use crate::support::interactions::{s, Caller, Opt, ADMINISTRATOR};

/// A bot with the listener on a free port and its manager role configured.
async fn bot_with_listener() -> TestBot {
    let bot = TestBot::start_with_settings(false, |settings| {
        settings.http.listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    bot.set_manager_role().await;
    bot
}

/// Runs `/project feed` and returns the link it shows (the reply must be ephemeral).
async fn feed_link(bot: &TestBot, caller: &Caller, project: &str, rotate: bool) -> String {
    let mut options = vec![s("project", project)];
    if rotate {
        options.push(Opt::Bool("rotate", true));
    }
    let reply = bot.run(caller, &["project", "feed"], options).await;
    assert!(is_ephemeral(&reply), "feed links are private: {reply}");
    let text = content(&reply);
    let start = text
        .find("<http")
        .unwrap_or_else(|| panic!("no link in {text:?}"))
        + 1;
    let end = start + text[start..].find('>').expect("link ends");
    text[start..end].to_string()
}

struct Fetched {
    status: u16,
    content_type: String,
    body: String,
}

async fn fetch(url: &str) -> Fetched {
    let response = reqwest::get(url).await.expect("HTTP request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.expect("body");
    Fetched {
        status,
        content_type,
        body,
    }
}

/// The feed's events by UID, read back with the `icalendar` crate's parser.
fn parse_events(text: &str) -> (icalendar::Calendar, BTreeMap<String, icalendar::Event>) {
    for line in text.split_terminator("\r\n") {
        assert!(
            line.len() <= 75,
            "a content line of {} octets: {line:?}",
            line.len()
        );
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
    }
    assert!(text.ends_with("\r\n"), "lines end in CRLF");
    let calendar: icalendar::Calendar = text.parse().expect("a valid iCalendar feed");
    let mut events = BTreeMap::new();
    for component in &calendar.components {
        if let CalendarComponent::Event(event) = component {
            let uid = event.get_uid().expect("every event has a UID").to_string();
            assert!(
                events.insert(uid.clone(), event.clone()).is_none(),
                "UID {uid} twice"
            );
        }
    }
    (calendar, events)
}

fn uid(guild: u64, number: i64) -> String {
    format!("task-{guild}-{number}@coordinator")
}

#[tokio::test]
async fn the_feed_lists_open_tasks_with_due_times_exactly_as_titled() {
    let bot = bot_with_listener().await;
    let boss = manager();
    let project = "Launch, v2; beta";
    let reply = bot
        .run(&boss, &["project", "create"], vec![s("name", project)])
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    bot.run(&boss, &["project", "create"], vec![s("name", "Other")])
        .await;

    let long: String = "Ünïcödé🚀 ".repeat(30).chars().take(200).collect();
    assert_eq!(long.chars().count(), 200);
    let titles = [
        "Plain title".to_string(),
        "Commas, semicolons; colons: and a back\\slash".to_string(),
        "Line one\nLine two\r\nLine three".to_string(),
        "🚀 Ship it 🎉 — día, naïve".to_string(),
        long,
    ];
    let mut expected = BTreeMap::new();
    for (i, title) in titles.iter().enumerate() {
        let due = format!("2026-12-0{} 17:30", i + 1);
        let number = bot
            .create_task(
                &boss,
                title,
                vec![
                    s("due", &due),
                    s("project", project),
                    Opt::User("assignee", ALICE),
                ],
            )
            .await;
        expected.insert(uid(GUILD, number), (number, title.clone(), i + 1));
    }
    let done = bot
        .create_task(
            &boss,
            "Finished already",
            vec![s("due", "2026-12-02 09:00"), s("project", project)],
        )
        .await;
    let reply = bot
        .run(&boss, &["task", "done"], vec![Opt::Int("task", done)])
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    let undated = bot
        .create_task(&boss, "No due time", vec![s("project", project)])
        .await;
    let elsewhere = bot
        .create_task(
            &boss,
            "Other project's task",
            vec![s("due", "2026-12-03 10:00"), s("project", "Other")],
        )
        .await;
    let unprojected = bot
        .create_task(&boss, "In no project", vec![s("due", "2026-12-03 10:00")])
        .await;

    let link = feed_link(&bot, &boss, project, false).await;
    let addr = bot
        .running
        .as_ref()
        .and_then(|r| r.http_addr())
        .expect("listener on");
    assert!(
        link.starts_with(&format!("http://{addr}/feeds/")) && link.ends_with(".ics"),
        "{link}"
    );
    let token = link
        .trim_end_matches(".ics")
        .rsplit('/')
        .next()
        .expect("token");
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    assert!(token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_eq!(
        feed_link(&bot, &boss, "launch, V2; BETA", false).await,
        link,
        "asking again shows the same link"
    );

    let feed = fetch(&link).await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert_eq!(feed.content_type, "text/calendar; charset=utf-8");
    let (calendar, events) = parse_events(&feed.body);
    assert_eq!(calendar.property_value("VERSION"), Some("2.0"));
    assert!(calendar.property_value("PRODID").is_some());
    assert_eq!(
        calendar.property_value("X-WR-CALNAME"),
        Some("Launch, v2; beta (Coordinator)")
    );
    assert_eq!(
        events.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "exactly the open tasks with due times; not #{done} (done), #{undated} (no due), \
         #{elsewhere} (other project), #{unprojected} (no project)"
    );
    for (uid, (number, title, day)) in &expected {
        let event = &events[uid];
        // The bot stores titles trimmed, with the line breaks the user typed (CRLF read as LF).
        let shown = title.replace("\r\n", "\n");
        assert_eq!(
            event.get_summary(),
            Some(format!("#{number} {shown}").as_str())
        );
        let due = chrono::NaiveDate::from_ymd_opt(2026, 12, *day as u32)
            .and_then(|d| d.and_hms_opt(17, 30, 0))
            .expect("date")
            .and_utc();
        assert_eq!(event.get_start(), Some(DatePerhapsTime::from(due)), "{uid}");
        assert_eq!(event.get_end(), Some(DatePerhapsTime::from(due)), "{uid}");
        assert!(event.get_timestamp().is_some(), "DTSTAMP");
        assert!(event.get_last_modified().is_some(), "LAST-MODIFIED");
        assert!(event.get_sequence().is_some(), "SEQUENCE");
        let description = event.get_description().unwrap_or_default();
        assert!(description.contains("Status: To do"), "{description}");
        assert!(description.contains(&ALICE.to_string()), "{description}");
    }

    // A change shows on the next read, with a higher SEQUENCE.
    let (number, _, _) = expected[&uid(GUILD, 1)].clone();
    let before = events[&uid(GUILD, number)].get_sequence().unwrap_or(0);
    bot.run(&boss, &["task", "start"], vec![Opt::Int("task", number)])
        .await;
    let (_, events) = parse_events(&fetch(&link).await.body);
    let event = &events[&uid(GUILD, number)];
    assert!(event.get_sequence().unwrap_or(0) > before);
    assert!(event
        .get_description()
        .unwrap_or_default()
        .contains("Status: In progress"));
}

#[tokio::test]
async fn only_managers_see_links_rotation_kills_the_old_one_and_guilds_stay_apart() {
    let bot = bot_with_listener().await;
    let boss = manager();
    bot.run(&boss, &["project", "create"], vec![s("name", "Ops")])
        .await;
    bot.create_task(
        &boss,
        "Ours",
        vec![s("due", "2026-12-01 09:00"), s("project", "Ops")],
    )
    .await;

    // Members are refused, with the role named, and no token is made or shown.
    let reply = bot
        .run(
            &member(BOB),
            &["project", "feed"],
            vec![s("project", "Ops")],
        )
        .await;
    assert_private_error(&reply, "calendar feed");
    assert_private_error(&reply, &format!("<@&{MANAGER_ROLE}>"));
    assert!(!content(&reply).contains("/feeds/"), "{reply}");
    // Project autocomplete is offered for the option.
    let choices = bot
        .complete(
            &boss,
            &["project", "feed"],
            vec![s("project", "o")],
            "project",
        )
        .await;
    assert_eq!(choices.len(), 1, "{choices:?}");

    let old = feed_link(&bot, &boss, "Ops", false).await;
    assert_eq!(fetch(&old).await.status, 200);
    let new = feed_link(&bot, &boss, "Ops", true).await;
    assert_ne!(old, new);
    let gone = fetch(&old).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body, "not found\n", "a 404 gives no hint");
    let (_, events) = parse_events(&fetch(&new).await.body);
    assert_eq!(events.len(), 1);
    assert_eq!(
        feed_link(&bot, &boss, "Ops", false).await,
        new,
        "the rotated link is the one shown from now on"
    );

    // Guesses: a wrong token with the right first characters, garbage, a missing suffix.
    let token = new
        .trim_end_matches(".ics")
        .rsplit('/')
        .next()
        .expect("token");
    let base = new.trim_end_matches(&format!("{token}.ics"));
    let mut near: Vec<char> = token.chars().collect();
    let last = near.len() - 1;
    near[last] = if near[last] == 'A' { 'B' } else { 'A' };
    let near: String = near.into_iter().collect();
    for guess in [
        format!("{base}{near}.ics"),
        format!("{base}{token}"),
        format!("{base}nope.ics"),
        format!("{base}.ics"),
        format!("{base}{token}.ics.ics"),
    ] {
        let response = fetch(&guess).await;
        assert_eq!(response.status, 404, "{guess}");
        assert_eq!(response.body, "not found\n", "{guess}");
    }

    // Another guild's project of the same name is its own feed, with only its tasks.
    let other_admin =
        Caller::member(OTHER_GUILD, CHANNEL + 10, CAROL).with_permissions(ADMINISTRATOR);
    bot.run(&other_admin, &["project", "create"], vec![s("name", "Ops")])
        .await;
    let reply = bot
        .run(
            &other_admin,
            &["task", "create"],
            vec![
                s("title", "Theirs"),
                s("due", "2026-12-01 09:00"),
                s("project", "Ops"),
            ],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    let theirs = feed_link(&bot, &other_admin, "Ops", false).await;
    assert_ne!(theirs, new);
    let (_, their_events) = parse_events(&fetch(&theirs).await.body);
    let their_uids: Vec<_> = their_events.keys().cloned().collect();
    assert_eq!(their_uids, vec![uid(OTHER_GUILD, 1)]);
    assert_eq!(
        their_events[&uid(OTHER_GUILD, 1)].get_summary(),
        Some("#1 Theirs")
    );
    let (_, our_events) = parse_events(&fetch(&new).await.body);
    assert_eq!(
        our_events.keys().cloned().collect::<Vec<_>>(),
        vec![uid(GUILD, 1)]
    );
    // A manager here cannot reach a project that exists only in the other guild.
    bot.run(
        &other_admin,
        &["project", "create"],
        vec![s("name", "Theirs only")],
    )
    .await;
    let reply = bot
        .run(
            &boss,
            &["project", "feed"],
            vec![s("project", "Theirs only")],
        )
        .await;
    assert_private_error(&reply, "There is no project");

    // Archived projects are refused like other project commands.
    bot.run(&boss, &["project", "archive"], vec![s("project", "Ops")])
        .await;
    let reply = bot
        .run(&boss, &["project", "feed"], vec![s("project", "Ops")])
        .await;
    assert_private_error(&reply, "archived");
}

#[tokio::test]
async fn without_the_listener_the_command_says_how_to_turn_it_on() {
    let bot = TestBot::with_manager_role().await;
    let boss = manager();
    bot.run(&boss, &["project", "create"], vec![s("name", "Ops")])
        .await;
    let reply = bot
        .run(&boss, &["project", "feed"], vec![s("project", "Ops")])
        .await;
    assert_private_error(&reply, "listener, which is off");
    assert_private_error(&reply, "http.listen");
    let tokens: i64 = coordinator::store::sql("SELECT COUNT(*) FROM project_feeds")
        .scalar(bot.db().on())
        .await
        .expect("count");
    assert_eq!(tokens, 0, "no token is made while nobody can use it");
}
