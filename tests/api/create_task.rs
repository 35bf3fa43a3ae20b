//! The **Create task** message command (README "Create task from a message"): a form
//! prefilled from the message, a task linking back to it, and Try again when input is refused.

use serde_json::Value;

use crate::support::bot::*;
use crate::support::interactions::{button, message_command, modal_submit};

const SOURCE: u64 = 777_000_000_000_000_001;

async fn open_form(bot: &TestBot, content: &str) -> Value {
    let (id, interaction) = message_command(&member(ALICE), "Create task", SOURCE, content);
    bot.fake.inject(interaction).await;
    let form = bot.fake.response(id).await;
    assert_eq!(form["type"], 9, "a form: {form}");
    form
}

fn field(form: &Value, index: usize) -> Value {
    form["data"]["components"][index]["components"][0].clone()
}

async fn submit(bot: &TestBot, form: &Value, fields: &[(&str, &str)]) -> Value {
    let custom_id = form["data"]["custom_id"].as_str().expect("form id");
    let (id, interaction) = modal_submit(&member(ALICE), custom_id, fields, None);
    bot.fake.inject(interaction).await;
    bot.fake.response(id).await
}

#[tokio::test]
async fn a_long_message_becomes_an_unassigned_task_that_links_back_to_it() {
    let bot = TestBot::with_manager_role().await;
    let registered = bot
        .fake
        .wait_until("commands registered", |f| {
            f.registered_commands().into_iter().next()
        })
        .await
        .1;
    assert!(
        registered
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["name"] == "Create task" && c["type"] == 3),
        "registered as a message command"
    );
    let text = "Please fix the login page. ".repeat(15);
    assert!(text.chars().count() > 400);
    let form = open_form(&bot, &text).await;
    let title = field(&form, 0);
    assert_eq!(
        title["value"].as_str().map(|t| t.chars().count()),
        Some(200),
        "the first 200 characters"
    );
    let reply = submit(
        &bot,
        &form,
        &[
            ("title", title["value"].as_str().unwrap_or_default()),
            ("due", "friday"),
            ("description", ""),
        ],
    )
    .await;
    assert!(!is_ephemeral(&reply), "{reply}");
    assert!(
        content(&reply).contains("📝 Created **#1 Please fix the login page."),
        "{reply}"
    );
    assert!(content(&reply).contains("unassigned"), "{reply}");
    let link = format!("https://discord.com/channels/{GUILD}/{CHANNEL}/{SOURCE}");
    assert!(content(&reply).contains(&link), "{reply}");
    assert_eq!(bot.task_column(GUILD, 1, "assignee_id").await, None);
    assert!(bot
        .task_column(GUILD, 1, "description")
        .await
        .unwrap_or_default()
        .contains(&link));
}

#[tokio::test]
async fn mentions_in_the_message_ping_nobody_and_an_empty_message_gives_an_empty_title() {
    let bot = TestBot::with_manager_role().await;
    let form = open_form(&bot, &format!("@everyone <@{BOB}> look at this")).await;
    let title = field(&form, 0)["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let reply = submit(
        &bot,
        &form,
        &[("title", &title), ("due", ""), ("description", "")],
    )
    .await;
    assert_pings_nobody(&reply);
    let empty = open_form(&bot, "").await;
    assert!(
        field(&empty, 0)["value"].is_null(),
        "no text: an empty title"
    );
}

#[tokio::test]
async fn a_refused_form_offers_try_again_with_what_was_typed() {
    let bot = TestBot::with_manager_role().await;
    let form = open_form(&bot, "Write the report").await;
    let before = bot.snapshot().await;
    let refused = submit(
        &bot,
        &form,
        &[
            ("title", "Write the report"),
            ("due", "someday soon"),
            ("description", "Two pages"),
        ],
    )
    .await;
    assert!(is_ephemeral(&refused), "{refused}");
    assert!(content(&refused).contains("couldn't read"), "{refused}");
    assert_eq!(bot.snapshot().await, before, "nothing created");
    let retry = refused["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .expect("a Try again button")
        .to_string();
    // Bob cannot reopen Alice's draft.
    let (id, press) = button(&member(BOB), &retry, 1);
    bot.fake.inject(press).await;
    assert!(content(&bot.fake.response(id).await).contains("no longer active"));
    let (id, press) = button(&member(ALICE), &retry, 1);
    bot.fake.inject(press).await;
    let again = bot.fake.response(id).await;
    assert_eq!(again["type"], 9, "{again}");
    assert_eq!(field(&again, 0)["value"], "Write the report");
    assert_eq!(field(&again, 1)["value"], "someday soon");
    assert_eq!(field(&again, 2)["value"], "Two pages");
    let reply = submit(
        &bot,
        &again,
        &[
            ("title", "Write the report"),
            ("due", "friday"),
            ("description", "Two pages"),
        ],
    )
    .await;
    assert!(
        content(&reply).contains("Created **#1 Write the report**"),
        "{reply}"
    );
}
