//! What users must not be able to do to each other: ping anyone by typing a mention into any
//! text the bot shows, or see or change anything of another guild. (Who may run what is in
//! `permissions`; the token, which must never show, is checked on the binary in
//! `tests/process/binary.rs`.)

use serde_json::{json, Value};

use crate::support::bot::*;
use crate::support::fake_discord::FakeDiscord;
use crate::support::interactions::{s, Caller, Opt, ADMINISTRATOR};

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
    let project_id: i64 = coordinator::store::sql("SELECT id FROM projects")
        .scalar(bot.db().on())
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
            crate::support::interactions::button_on_message(&them, &custom_id, message);
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
