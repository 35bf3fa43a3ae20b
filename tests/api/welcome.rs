//! The getting-started message (README "What the bot does on its own"): once, for a server
//! joined after the installation's first start, in its system channel.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::support::bot::*;

const NEW_GUILD: u64 = 333_000_000_000_000_777;
const SYSTEM_CHANNEL: u64 = 333_000_000_000_000_778;

/// A GUILD_CREATE as Discord sends it (the fields serenity needs), joined at `joined_at`.
fn guild_create(guild: u64, joined_at: DateTime<Utc>, system_channel: Option<u64>) -> Value {
    json!({
        "id": guild.to_string(),
        "name": "New team",
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": BOSS.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": system_channel.map(|c| c.to_string()),
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        "joined_at": joined_at.to_rfc3339(),
        "large": false,
        "member_count": 3,
        "voice_states": [],
        "members": [],
        "channels": [],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "safety_alerts_channel_id": null,
    })
}

fn welcomes(bot: &TestBot) -> usize {
    bot.fake
        .messages_in(SYSTEM_CHANNEL)
        .iter()
        .filter(|m| {
            m.body["content"]
                .as_str()
                .unwrap_or_default()
                .contains("Thanks for adding")
        })
        .count()
}

/// Sends the event, waits until the bot has recorded the guild (it records every guild it
/// sees, greeted or not), and steps the worker to send what it queued.
async fn deliver(bot: &TestBot, event: Value) {
    let guild: i64 = event["id"]
        .as_str()
        .and_then(|id| id.parse::<u64>().ok())
        .expect("guild id") as i64;
    bot.fake.dispatch("GUILD_CREATE", event).await;
    let db = bot.db();
    crate::support::wait::eventually(
        "the guild to be recorded",
        std::time::Duration::from_secs(10),
        || async move {
            coordinator::store::sql("SELECT COUNT(*) FROM guild_welcomes WHERE guild_id = $1")
                .bind(guild)
                .scalar::<i64>(db.on())
                .await
                .is_ok_and(|n| n == 1)
        },
    )
    .await;
    bot.step_at(coordinator::clock::Clock::now(&bot.clock))
        .await;
}

#[tokio::test]
async fn a_server_joined_after_the_first_start_is_greeted_once_and_older_ones_never() {
    let mut bot = TestBot::with_manager_role().await;
    // Already a member before this installation first started: never greeted.
    deliver(
        &bot,
        guild_create(NEW_GUILD - 1, hours(-24), Some(SYSTEM_CHANNEL)),
    )
    .await;
    assert_eq!(welcomes(&bot), 0);
    // Joined an hour after the first start.
    bot.clock.set(hours(1));
    let joined = guild_create(NEW_GUILD, hours(1), Some(SYSTEM_CHANNEL));
    deliver(&bot, joined.clone()).await;
    assert_eq!(welcomes(&bot), 1);
    let body = &bot.fake.messages_in(SYSTEM_CHANNEL)[0].body;
    let text = body["content"].as_str().unwrap_or_default();
    for step in [
        "/config manager-role",
        "/config timezone",
        "/standup schedule",
    ] {
        assert!(text.contains(step), "{step} in {text}");
    }
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    // The same event again (a reconnect), and after a restart: still once.
    deliver(&bot, joined.clone()).await;
    bot.restart().await;
    deliver(&bot, joined).await;
    assert_eq!(welcomes(&bot), 1);
}
