//! The Interactions Endpoint (README "Interactions over HTTP"): interactions POSTed to
//! `/interactions`, signed with the application's key, answered in the HTTP response through
//! the same router as the gateway's; forged, stale and replayed requests get 401.

use ed25519_dalek::SigningKey;
use serde_json::json;

use crate::support::bot::*;
use crate::support::fake_discord::{post_signed as post, signing_key, FakeDiscord};
use crate::support::interactions::{s, slash};

async fn web_bot() -> (TestBot, String) {
    let public = FakeDiscord::public_key_hex();
    let bot = TestBot::start_with_settings(false, |settings| {
        settings.http.listen = Some(([127, 0, 0, 1], 0).into());
        settings.discord.public_key = Some(public);
    })
    .await;
    let addr = bot
        .running
        .as_ref()
        .expect("bot running")
        .http_addr()
        .expect("listener on");
    (bot, format!("http://{addr}/interactions"))
}

#[tokio::test]
async fn signed_interactions_are_answered_in_the_response_and_forged_stale_or_replayed_ones_get_401(
) {
    let (bot, url) = web_bot().await;
    let key = signing_key();
    // Timestamps are checked against the bot's clock (settable in tests).
    let now = start_time().timestamp();
    let (status, pong) = post(&url, &key, now, &json!({ "type": 1, "id": "1" })).await;
    assert_eq!((status, pong), (200, json!({ "type": 1 })));

    let (_, create) = slash(
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "Sent over HTTP")],
    );
    let (status, answer) = post(&url, &key, now, &create).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], 4);
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Created **#1 Sent over HTTP**"),
        "{answer}"
    );

    let before = bot.snapshot().await;
    // The same interaction again: a replay.
    assert_eq!(post(&url, &key, now, &create).await.0, 401);
    // Signed by someone else.
    let (_, forged) = slash(
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "forged")],
    );
    assert_eq!(
        post(&url, &SigningKey::from_bytes(&[1; 32]), now, &forged)
            .await
            .0,
        401
    );
    // Signed, but ten minutes old.
    let (_, stale) = slash(
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "stale")],
    );
    assert_eq!(post(&url, &key, now - 600, &stale).await.0, 401);
    // No signature at all.
    let unsigned = reqwest::Client::new()
        .post(&url)
        .body(stale.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(unsigned.status().as_u16(), 401);
    assert_eq!(
        bot.snapshot().await,
        before,
        "refused requests changed nothing"
    );
}

#[tokio::test]
async fn without_a_public_key_there_is_no_interactions_endpoint() {
    let bot = TestBot::start_with_settings(false, |settings| {
        settings.http.listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let addr = bot
        .running
        .as_ref()
        .expect("bot running")
        .http_addr()
        .expect("listener on");
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/interactions"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 404, "no such route");
}

/// PostgreSQL pass only: there the held lock is the guild's, and the replay check (a write of
/// its own) goes through; a SQLite file locked for writing refuses that check with 500 first.
#[tokio::test]
async fn a_slow_command_is_deferred_in_the_response_and_finished_through_the_webhook() {
    if !crate::ON_POSTGRES {
        eprintln!("runs in the PostgreSQL pass (tests/api_postgres)");
        return;
    }
    let (bot, url) = web_bot().await;
    let key = signing_key();
    let now = start_time().timestamp();
    // The store is busy: the create waits past the 2.5 s answer window.
    let lock = bot.hold_write_lock().await;
    let (id, create) = slash(
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "Slow over HTTP")],
    );
    let token = create["token"].as_str().expect("token").to_string();
    let (status, answer) = post(&url, &key, now, &create).await;
    assert_eq!(
        (status, answer["type"].clone()),
        (200, json!(5)),
        "{answer}"
    );
    assert_eq!(
        answer["data"]["flags"], 0,
        "a public command is deferred publicly"
    );
    assert_eq!(bot.fake.acknowledged_over_http(id, &token, &answer), 204);
    lock.release().await;
    let edit = bot
        .fake
        .wait_until("the deferred answer", |f| {
            f.original_edits_for(id).into_iter().next()
        })
        .await;
    assert!(
        edit["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Created **#1 Slow over HTTP**"),
        "{edit}"
    );
}
