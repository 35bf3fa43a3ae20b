//! Security (issue 5, point 5): the token never shows, typed text never pings, another guild sees
//! and changes nothing, rights come from each interaction's own member data, DMs are refused,
//! and a deleted manager role grants nothing.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use coordinator::domain::task::Priority;
use coordinator::store::{Db, NewTask};
use serde_json::{json, Value};
use support::bot::*;
use support::fake_discord::FakeDiscord;
use support::interactions::{autocomplete, button, slash, Caller, Opt, ADMINISTRATOR};

fn s(name: &'static str, value: &str) -> Opt {
    Opt::Str(name, value.to_string())
}

/// A role nobody means to ping, and a user nobody means to ping (Bob), as users type them.
const ROGUE_ROLE: u64 = 777_000_000_000_000_007;
const PROJECT_CHANNEL: u64 = 333_000_000_000_000_099;
const STANDUP_CHANNEL: u64 = 333_000_000_000_000_098;

fn injected() -> String {
    format!("@everyone @here <@&{ROGUE_ROLE}> <@{BOB}> <@!{BOB}> hi")
}

/// Within the 50 characters of a project name.
fn injected_project() -> String {
    format!("@everyone @here <@&{ROGUE_ROLE}>")
}

/// Text a message shows: content, and every embed's title, description, fields and footer.
fn shown_text(message: &Value) -> String {
    let mut out = message["content"].as_str().unwrap_or_default().to_string();
    for embed in message["embeds"].as_array().cloned().unwrap_or_default() {
        for key in ["title", "description"] {
            out.push_str(embed[key].as_str().unwrap_or_default());
            out.push('\n');
        }
        for field in embed["fields"].as_array().cloned().unwrap_or_default() {
            out.push_str(field["name"].as_str().unwrap_or_default());
            out.push_str(field["value"].as_str().unwrap_or_default());
            out.push('\n');
        }
        out.push_str(embed["footer"]["text"].as_str().unwrap_or_default());
    }
    out
}

/// Every message body the bot sent that can show text: interaction answers, follow-ups and
/// edits of them, channel messages and their edits, with what kind it is.
fn outgoing_messages(fake: &FakeDiscord) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for request in fake.requests() {
        if !(200..300).contains(&request.status) {
            continue;
        }
        let message = if request.path.ends_with("/callback") {
            request.body["data"].clone()
        } else if request.path.contains("/webhooks/") || request.path.contains("/messages") {
            request.body.clone()
        } else {
            continue;
        };
        if message["content"].is_null() && message["embeds"].is_null() {
            // Autocomplete choices, a bare defer, or an edit of buttons only: nothing shown.
            continue;
        }
        out.push((format!("{} {}", request.method, request.path), message));
    }
    out
}

/// How many messages of each kind the injection test checked.
#[derive(Default, Debug)]
struct Checked {
    replies: usize,
    reminders: usize,
    overdue: usize,
    escalations: usize,
    summaries: usize,
}

/// Every message pings at most `users` (and the manager role, only in escalations), and no
/// typed `@everyone` / `@here` is shown live.
fn assert_nothing_pings_beyond(fake: &FakeDiscord, users: &[u64]) -> Checked {
    let mut checked = Checked::default();
    for (route, message) in outgoing_messages(fake) {
        let mentions = &message["allowed_mentions"];
        assert!(
            mentions.is_object(),
            "{route}: allowed_mentions must be explicit: {message}"
        );
        assert_eq!(
            mentions["parse"],
            json!([]),
            "{route}: nothing parsed from the text"
        );
        let text = shown_text(&message);
        for id in mentions["users"].as_array().cloned().unwrap_or_default() {
            let id: u64 = id.as_str().and_then(|i| i.parse().ok()).unwrap_or(0);
            assert!(
                users.contains(&id),
                "{route}: pings user {id}, not an intended one: {message}"
            );
        }
        let roles = mentions["roles"].as_array().cloned().unwrap_or_default();
        let escalation = text.contains("🚨🚨");
        for role in &roles {
            assert!(
                escalation && *role == json!(MANAGER_ROLE.to_string()),
                "{route}: pings role {role}: {message}"
            );
        }
        assert!(
            !text.contains("@everyone") && !text.contains("@here"),
            "{route}: a live mass mention is shown: {text}"
        );
        if route.contains("/callback") || route.contains("/webhooks/") {
            checked.replies += 1;
        } else if escalation {
            checked.escalations += 1;
        } else if text.contains("🚨") {
            checked.overdue += 1;
        } else if text.contains("⏰") {
            checked.reminders += 1;
        } else if route.starts_with("POST") {
            checked.summaries += 1;
        }
    }
    checked
}

#[tokio::test]
async fn typed_mentions_never_ping_in_any_message_the_bot_posts() {
    let bot = TestBot::with_manager_role().await;
    let boss = manager();
    let text = injected();
    let project = injected_project();
    let reply = bot
        .run(
            &boss,
            &["project", "create"],
            vec![
                s("name", &project),
                Opt::Channel("channel", PROJECT_CHANNEL),
                s("description", &text),
            ],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    let number = bot
        .create_task(
            &boss,
            &text,
            vec![
                Opt::User("assignee", ALICE),
                s("due", "in 2 days"),
                s("description", &text),
                s("project", &project),
            ],
        )
        .await;
    let n = || Opt::Int("task", number);
    let alice = member(ALICE);
    let steps: Vec<(&Caller, &[&str], Vec<Opt>)> = vec![
        (&boss, &["task", "comment"], vec![n(), s("text", &text)]),
        (&alice, &["task", "block"], vec![n(), s("reason", &text)]),
        (&boss, &["task", "edit"], vec![n(), s("description", &text)]),
        (
            &boss,
            &["task", "assign"],
            vec![n(), Opt::User("assignee", ALICE)],
        ),
        (&boss, &["task", "show"], vec![n()]),
        (&boss, &["task", "list"], vec![]),
        (&alice, &["task", "mine"], vec![]),
        (&boss, &["project", "list"], vec![]),
        (&boss, &["config", "show"], vec![]),
        // Errors that echo what was typed.
        (
            &boss,
            &["task", "create"],
            vec![s("title", "x"), s("project", &text)],
        ),
        (
            &boss,
            &["task", "create"],
            vec![s("title", "x"), s("due", &text)],
        ),
        (&boss, &["task", "edit"], vec![n(), s("priority", &text)]),
        (&boss, &["task", "list"], vec![s("status", &text)]),
        (&alice, &["timezone"], vec![s("zone", &text)]),
        (&boss, &["config", "timezone"], vec![s("zone", &text)]),
        (&boss, &["config", "reminders"], vec![s("offsets", &text)]),
        (
            &boss,
            &["standup", "schedule"],
            vec![s("time", &text), Opt::Channel("channel", STANDUP_CHANNEL)],
        ),
        (
            &boss,
            &["standup", "schedule"],
            vec![
                s("time", "09:30"),
                s("days", &text),
                Opt::Channel("channel", STANDUP_CHANNEL),
            ],
        ),
        (&boss, &["project", "archive"], vec![s("project", &text)]),
        (&boss, &["task", "edit"], vec![n(), s("title", &text)]),
        (
            &alice,
            &["checkin"],
            vec![
                s("yesterday", &text),
                s("today", &text),
                s("blockers", &text),
            ],
        ),
        (
            &boss,
            &["standup", "schedule"],
            vec![s("time", "09:30"), Opt::Channel("channel", STANDUP_CHANNEL)],
        ),
        (&boss, &["standup", "now"], vec![]),
    ];
    for (caller, path, options) in steps {
        bot.run(caller, path, options).await;
    }
    // Thursday 09:30 summary, then the reminders, the overdue alert and the escalation of a
    // task due Friday 12:00 (the standup summary repeats on Friday).
    for hours in [21.5, 24.0, 45.5, 47.0, 48.0, 72.0] {
        let at = start_time() + chrono::Duration::minutes((hours * 60.0) as i64);
        bot.step_at(at).await;
    }
    let checked = assert_nothing_pings_beyond(&bot.fake, &[ALICE]);
    eprintln!("mention injection: checked {checked:?}");
    assert!(checked.replies >= 26, "{checked:?}");
    assert!(checked.reminders >= 2, "{checked:?}");
    assert_eq!(checked.overdue, 1, "{checked:?}");
    assert_eq!(checked.escalations, 1, "{checked:?}");
    assert!(checked.summaries >= 2, "{checked:?}");
    // The typed text did reach those messages: the test would see a ping if one were allowed.
    let shown: Vec<String> = bot
        .fake
        .messages()
        .iter()
        .map(|m| shown_text(&m.body))
        .collect();
    assert!(shown
        .iter()
        .all(|t| t.contains(&format!("<@&{ROGUE_ROLE}>"))));
}

/// A caller with every right, in another guild.
fn outsider() -> Caller {
    Caller::member(OTHER_GUILD, CHANNEL + 1, CAROL)
        .with_roles(&[MANAGER_ROLE])
        .with_permissions(ADMINISTRATOR)
}

const HIDDEN: &str = "hidden-title-xq";
const HIDDEN_PROJECT: &str = "Proj-xq";

#[tokio::test]
async fn another_guild_sees_and_changes_nothing() {
    let bot = TestBot::with_manager_role().await;
    let boss = manager();
    bot.run(
        &boss,
        &["project", "create"],
        vec![s("name", HIDDEN_PROJECT)],
    )
    .await;
    let number = bot
        .create_task(
            &boss,
            HIDDEN,
            vec![
                Opt::User("assignee", ALICE),
                s("due", "in 2 days"),
                s("project", HIDDEN_PROJECT),
                s("description", "hidden-description-xq"),
            ],
        )
        .await;
    bot.step_at(start_time() + chrono::Duration::hours(24))
        .await;
    let reminder = bot.fake.messages()[0].id;
    let project_id: i64 = sqlx::query_scalar("SELECT id FROM projects")
        .fetch_one(bot.pool())
        .await
        .expect("project id");
    let before = bot.snapshot().await;
    let messages_before = (bot.fake.messages().len(), bot.fake.edits().len());

    let them = outsider();
    let n = || Opt::Int("task", number);
    let commands: Vec<(&[&str], Vec<Opt>)> = vec![
        (&["task", "assign"], vec![n(), Opt::User("assignee", BOB)]),
        (&["task", "unassign"], vec![n()]),
        (&["task", "start"], vec![n()]),
        (&["task", "done"], vec![n()]),
        (&["task", "reopen"], vec![n()]),
        (&["task", "block"], vec![n(), s("reason", "r")]),
        (&["task", "edit"], vec![n(), s("title", "stolen")]),
        (&["task", "comment"], vec![n(), s("text", "c")]),
        (&["task", "show"], vec![n()]),
        (&["task", "delete"], vec![n()]),
        (&["task", "list"], vec![s("project", HIDDEN_PROJECT)]),
        (
            &["task", "create"],
            vec![s("title", "t"), s("project", HIDDEN_PROJECT)],
        ),
        (&["project", "archive"], vec![s("project", HIDDEN_PROJECT)]),
        (&["project", "feed"], vec![s("project", HIDDEN_PROJECT)]),
        (
            &["project", "feed"],
            vec![s("project", HIDDEN_PROJECT), Opt::Bool("rotate", true)],
        ),
    ];
    let mut replies = Vec::new();
    for (path, options) in commands {
        let reply = bot.run(&them, path, options).await;
        assert!(is_ephemeral(&reply), "{path:?}: {reply}");
        replies.push(reply);
    }
    for custom_id in [
        format!("duty:done:{number}"),
        format!("duty:snooze:{number}"),
        format!("list:0:-:{project_id}:-:0"),
    ] {
        let message = bot.fake.message(reminder).expect("the reminder");
        let (id, interaction) =
            support::interactions::button_on_message(&them, &custom_id, message);
        bot.fake.inject(interaction).await;
        replies.push(bot.fake.response(id).await);
    }
    for reply in &replies {
        let text = format!("{}{}", content(reply), embed_text(reply)).to_lowercase();
        assert!(
            !text.contains("hidden-title") && !text.contains("hidden-description"),
            "another guild was shown the task: {reply}"
        );
    }
    let mut completions = 0;
    for (path, focused) in [
        (&["task", "show"][..], "task"),
        (&["task", "done"][..], "task"),
        (&["task", "create"][..], "project"),
        (&["task", "list"][..], "project"),
        (&["project", "feed"][..], "project"),
    ] {
        for typed in ["", "hidden", "proj", &number.to_string()] {
            let choices = bot
                .complete(&them, path, vec![s(focused, typed)], focused)
                .await;
            assert!(choices.is_empty(), "{path:?} {typed:?}: {choices:?}");
            completions += 1;
        }
    }
    assert_eq!(bot.snapshot().await, before, "another guild changed data");
    assert_eq!(
        (bot.fake.messages().len(), bot.fake.edits().len()),
        messages_before
    );
    eprintln!(
        "guild isolation: {} commands and buttons, {completions} autocompletes from another \
         guild: nothing shown, nothing changed",
        replies.len()
    );
}

#[tokio::test]
async fn buttons_autocomplete_and_every_interaction_check_rights_afresh() {
    let bot = TestBot::with_manager_role().await;
    let number = bot
        .create_task(
            &manager(),
            "Ship it",
            vec![Opt::User("assignee", ALICE), s("due", "in 2 days")],
        )
        .await;
    bot.step_at(start_time() + chrono::Duration::hours(24))
        .await;
    let reminder = bot.fake.messages()[0].id;
    let before = bot.snapshot().await;

    // Neither assignee, creator nor manager: the reminder's buttons refuse.
    for custom_id in [
        format!("duty:done:{number}"),
        format!("duty:snooze:{number}"),
    ] {
        let message = bot.fake.message(reminder).expect("the reminder");
        let (id, interaction) =
            support::interactions::button_on_message(&member(CAROL), &custom_id, message);
        bot.fake.inject(interaction).await;
        let reply = bot.fake.response(id).await;
        assert_private_error(&reply, "manager");
    }
    assert_eq!(
        bot.snapshot().await,
        before,
        "a refused button changed data"
    );

    // The roles of each interaction count, not those of an earlier one.
    let carol = member(CAROL);
    let carol_manager = carol.clone().with_roles(&[MANAGER_ROLE]);
    let assign = |to: u64| vec![Opt::Int("task", number), Opt::User("assignee", to)];
    let granted = bot
        .run(&carol_manager, &["task", "assign"], assign(BOB))
        .await;
    assert!(!is_ephemeral(&granted), "{granted}");
    let revoked = bot.run(&carol, &["task", "assign"], assign(CAROL)).await;
    assert_private_error(&revoked, "manager");
    assert_eq!(
        bot.task_column(GUILD, number, "assignee_id").await,
        Some(BOB.to_string())
    );
    // A button straight after losing the role: refused too (Carol is not the assignee).
    let message = bot.fake.message(reminder).expect("the reminder");
    let (id, interaction) =
        support::interactions::button_on_message(&carol, &format!("duty:done:{number}"), message);
    bot.fake.inject(interaction).await;
    assert_private_error(&bot.fake.response(id).await, "manager");
    let regranted = bot
        .run(
            &carol_manager,
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await;
    assert!(!is_ephemeral(&regranted), "{regranted}");

    // Autocomplete offers the guild's own tasks to anyone, and grants nothing by itself: the
    // command it fills in is checked when it runs.
    let offered = bot
        .complete(&carol, &["task", "assign"], vec![s("task", "")], "task")
        .await;
    assert_eq!(offered.len(), 1, "{offered:?}");
    let refused = bot.run(&carol, &["task", "assign"], assign(CAROL)).await;
    assert_private_error(&refused, "manager");

    // A DM carries no guild and no member: commands, buttons and autocomplete are refused.
    let before = bot.snapshot().await;
    let dm = Caller::dm(CHANNEL, BOSS)
        .with_roles(&[MANAGER_ROLE])
        .with_permissions(ADMINISTRATOR);
    for (path, options) in [
        (&["task", "create"][..], vec![s("title", "from a DM")]),
        (&["task", "show"][..], vec![Opt::Int("task", number)]),
        (&["task", "done"][..], vec![Opt::Int("task", number)]),
        (&["config", "show"][..], vec![]),
        (
            &["config", "manager-role"][..],
            vec![Opt::Role("role", ROGUE_ROLE)],
        ),
    ] {
        let reply = bot.run(&dm, path, options).await;
        assert_private_error(&reply, "server");
        assert!(!content(&reply).contains("Ship it"), "{reply}");
    }
    let (id, interaction) = button(&dm, &format!("duty:done:{number}"), reminder);
    bot.fake.inject(interaction).await;
    assert_private_error(&bot.fake.response(id).await, "server");
    let choices = bot
        .complete(&dm, &["task", "show"], vec![s("task", "")], "task")
        .await;
    assert!(choices.is_empty(), "{choices:?}");
    assert_eq!(bot.snapshot().await, before, "a DM changed data");
}

#[tokio::test]
async fn a_deleted_manager_role_or_a_removed_member_loses_the_rights_at_the_next_command() {
    let bot = TestBot::with_manager_role().await;
    let number = bot.create_task(&manager(), "Plan", vec![]).await;
    let assign = || vec![Opt::Int("task", number), Opt::User("assignee", ALICE)];
    let ok = bot.run(&manager(), &["task", "assign"], assign()).await;
    assert!(!is_ephemeral(&ok), "{ok}");

    // The member loses the role: refused at once.
    let former = member(BOSS);
    assert_private_error(
        &bot.run(
            &former,
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await,
        "manager",
    );

    // Another role is deleted: nothing changes.
    bot.fake
        .dispatch(
            "GUILD_ROLE_DELETE",
            json!({ "guild_id": GUILD.to_string(), "role_id": ROGUE_ROLE.to_string() }),
        )
        .await;
    // The manager role is deleted from the guild: the setting is cleared.
    bot.fake
        .dispatch(
            "GUILD_ROLE_DELETE",
            json!({ "guild_id": GUILD.to_string(), "role_id": MANAGER_ROLE.to_string() }),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let role: Option<i64> =
            sqlx::query_scalar("SELECT manager_role_id FROM guild_settings WHERE guild_id = $1")
                .bind(GUILD as i64)
                .fetch_one(bot.pool())
                .await
                .expect("settings");
        if role.is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deleted manager role is still configured"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Even an interaction that still lists the deleted role grants nothing, and the refusal
    // no longer names it.
    let stale = bot
        .run(
            &manager(),
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await;
    assert_private_error(&stale, "not set yet");
    assert!(
        !content(&stale).contains(&MANAGER_ROLE.to_string()),
        "{stale}"
    );
    assert_eq!(
        bot.task_column(GUILD, number, "assignee_id").await,
        Some(ALICE.to_string())
    );
    // Administrators still bootstrap, as spec §1 says.
    let admin = member(CAROL).with_permissions(ADMINISTRATOR);
    let reply = bot
        .run(
            &admin,
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
}

// ----- The token -----

const BIN: &str = env!("CARGO_BIN_EXE_coordinator");
const SECRET_TOKEN: &str = "MTIzNDU2.sec-token.recognisable-Zq7Wx";
const SEC_GUILD: u64 = 515_151_515_151_515_151;

/// Kills the bot if the test fails half-way, so no process outlives it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Forms the token could be written in: as is, hex (a websocket frame dump), base64.
fn token_forms() -> Vec<String> {
    let hex: String = SECRET_TOKEN.bytes().map(|b| format!("{b:02x}")).collect();
    let tail = SECRET_TOKEN.rsplit('.').next().unwrap_or(SECRET_TOKEN);
    vec![SECRET_TOKEN.to_string(), tail.to_string(), hex]
}

#[tokio::test]
async fn the_token_is_in_no_log_line_at_trace_and_no_reply() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}/token.db", dir.path().display());
    // An overdue task whose channel refuses the bot (403), and one whose channel fails (500).
    {
        let db = Db::connect(&db_url).await.expect("database");
        let now = Utc::now();
        for (i, channel) in [(1, 61_u64), (2, 62)] {
            let new = NewTask {
                guild_id: SEC_GUILD.into(),
                title: format!("token task {i}"),
                description: None,
                priority: Priority::Normal,
                project: None,
                assignee_id: Some(7.into()),
                creator_id: 7.into(),
                channel_id: channel.into(),
                due_at: Some(now - chrono::Duration::minutes(5)),
            };
            db.create_task(&new, now - chrono::Duration::hours(1))
                .await
                .expect("task");
        }
        db.close().await;
    }
    fake.fail_channel(61, 403);
    fake.fail_channel(62, 500);
    let child = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISCORD_TOKEN", SECRET_TOKEN)
        .env("DISCORD_API_BASE", fake.base_url())
        .env("DATABASE_URL", &db_url)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let pid = child.id().to_string();
    let _guard = KillOnDrop(child.id());
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    fake.wait_ready().await;
    fake.wait_until("commands registered", |f| {
        f.registered_commands().into_iter().next()
    })
    .await;
    let caller = Caller::member(SEC_GUILD, 63, ALICE);
    // A good command, a bad one, an unknown one, and answers refused 401 / 403 / 500.
    let mut ids = Vec::new();
    for (path, options) in [
        (&["task", "create"][..], vec![s("title", "token check")]),
        (&["task", "show"][..], vec![Opt::Int("task", 999)]),
        (&["nonexistent"][..], vec![]),
    ] {
        let (id, interaction) = slash(&caller, path, options);
        fake.inject(interaction).await;
        ids.push(id);
        fake.response(id).await;
    }
    for status in [401_u16, 403, 500] {
        fake.fail_next(
            "POST",
            "/interactions",
            status,
            json!({ "message": format!("{status}: refused by the test"), "code": 0 }),
        );
        let (id, interaction) = slash(&caller, &["task", "mine"], vec![]);
        fake.inject(interaction).await;
        fake.wait_until("the refused answer", |f| {
            f.rejected()
                .iter()
                .any(|r| r.path.contains(&id.to_string()))
                .then_some(())
        })
        .await;
    }
    let (id, interaction) = autocomplete(&caller, &["task", "show"], vec![], "task");
    fake.inject(interaction).await;
    fake.response(id).await;
    // Both duties were tried (and failed) before the bot stops.
    fake.wait_until("both failing duties tried", |f| {
        let tried = |c: u64| {
            f.rejected()
                .iter()
                .any(|r| r.path == format!("/api/v10/channels/{c}/messages"))
        };
        (tried(61) && tried(62)).then_some(())
    })
    .await;
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("stops within 20 s")
        .expect("wait task")
        .expect("output");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = logs.lines().count();
    assert!(logs.contains("TRACE"), "trace logging was on");
    assert!(logs.contains("shutting down"), "{logs}");
    for form in token_forms() {
        let hits: Vec<&str> = logs.lines().filter(|l| l.contains(&form)).take(3).collect();
        assert!(
            hits.is_empty(),
            "the token ({form}) is in the logs: {hits:#?}"
        );
    }
    // Nothing the bot sent carries it either (the Authorization header and IDENTIFY aside).
    let requests = fake.requests();
    for request in &requests {
        let sent = format!("{} {:?} {}", request.body, request.query, request.path);
        for form in token_forms() {
            assert!(
                !sent.contains(&form),
                "{} {} carries the token",
                request.method,
                request.path
            );
        }
    }
    for followup in fake.followups() {
        assert!(!followup.to_string().contains(SECRET_TOKEN));
    }
    eprintln!(
        "token: {lines} log lines at RUST_LOG=trace and {} REST requests (401, 403, 500 and \
         403/500 channel failures among them) carry no form of the token",
        requests.len()
    );
}
