//! Interactions as Discord's client sends them (the JSON of INTERACTION_CREATE), deserialized
//! into serenity's types so the playground goes through the same router as the gateway.

use serde_json::{json, Map, Value};
use serenity::all::Interaction;

use super::guild::{self, Member, APPLICATION, APP_PERMISSIONS, BASIC_PERMISSIONS, BOT};

/// Fixed, so that replies read the same every run.
const JOINED_AT: &str = "2024-01-01T00:00:00.000000+00:00";

/// Who acts, and where: a guild channel, or their DMs with the bot (`channel` is then the DM
/// channel and `in_guild` false).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub member: Member,
    pub channel: u64,
    pub in_guild: bool,
}

/// An option value, typed as Discord sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Str(String),
    Int(i64),
    Bool(bool),
    User(u64),
    Channel(u64),
    Role(u64),
}

pub fn user_json(user_id: u64) -> Value {
    let name = guild::member_by_id(user_id)
        .map(|m| m.name.to_string())
        .unwrap_or_else(|| format!("user{user_id}"));
    json!({
        "id": user_id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": null,
        "bot": false,
        "public_flags": 0,
    })
}

fn partial_member_json(roles: &[u64], permissions: u64) -> Value {
    json!({
        "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "permissions": permissions.to_string(),
        "joined_at": JOINED_AT,
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "nick": null,
        "avatar": null,
        "banner": null,
        "communication_disabled_until": null,
        "unusual_dm_activity_until": null,
    })
}

fn channel_json(channel_id: u64, in_guild: bool, permissions: u64) -> Value {
    if in_guild {
        json!({
            "id": channel_id.to_string(),
            "type": 0,
            "guild_id": guild::GUILD.to_string(),
            "name": guild::channel_name(channel_id).unwrap_or("channel"),
            "position": 0,
            "parent_id": null,
            "topic": null,
            "nsfw": false,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "flags": 0,
            "permissions": permissions.to_string(),
        })
    } else {
        json!({
            "id": channel_id.to_string(),
            "type": 1,
            "last_message_id": null,
            "flags": 0,
        })
    }
}

fn role_json(role_id: u64) -> Value {
    json!({
        "id": role_id.to_string(),
        "name": guild::role_name(role_id).unwrap_or("role"),
        "color": 0,
        "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": 1,
        "permissions": "0",
        "managed": false,
        "mentionable": true,
        "flags": 0,
    })
}

/// The bot as a message's author.
fn bot_user_json() -> Value {
    json!({
        "id": BOT.to_string(),
        "username": "Coordinator",
        "discriminator": "0",
        "global_name": null,
        "avatar": null,
        "bot": true,
        "public_flags": 0,
    })
}

/// A message the bot posted, as Discord embeds it in a button press.
pub fn message_json(id: u64, channel_id: u64, body: &Value, timestamp: &str) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": bot_user_json(),
        "content": body["content"].as_str().unwrap_or_default(),
        "timestamp": timestamp,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "mention_channels": [],
        "attachments": [],
        "embeds": if body["embeds"].is_array() { body["embeds"].clone() } else { json!([]) },
        "reactions": [],
        "pinned": false,
        "type": 0,
        "flags": body["flags"].as_u64().unwrap_or(0),
        "components": if body["components"].is_array() { body["components"].clone() } else { json!([]) },
        "sticker_items": [],
    })
}

/// Fields every interaction carries.
fn base(caller: &Caller, kind: u8, id: u64) -> Map<String, Value> {
    let member = caller.member;
    let mut i = Map::new();
    i.insert("id".into(), json!(id.to_string()));
    i.insert("application_id".into(), json!(APPLICATION.to_string()));
    i.insert("type".into(), json!(kind));
    i.insert("token".into(), json!(format!("playground-{id}")));
    i.insert("version".into(), json!(1));
    i.insert("channel_id".into(), json!(caller.channel.to_string()));
    i.insert(
        "channel".into(),
        channel_json(caller.channel, caller.in_guild, member.permissions),
    );
    i.insert("app_permissions".into(), json!(APP_PERMISSIONS.to_string()));
    i.insert("locale".into(), json!("en-US"));
    i.insert("entitlements".into(), json!([]));
    i.insert("attachment_size_limit".into(), json!(10_485_760));
    if caller.in_guild {
        i.insert("guild_id".into(), json!(guild::GUILD.to_string()));
        i.insert("guild_locale".into(), json!("en-US"));
        let mut json = partial_member_json(member.roles, member.permissions);
        json["user"] = user_json(member.id);
        i.insert("member".into(), json);
        i.insert(
            "authorizing_integration_owners".into(),
            json!({ "0": guild::GUILD.to_string() }),
        );
        i.insert("context".into(), json!(0));
    } else {
        i["channel"]["recipients"] = json!([user_json(member.id)]);
        i.insert("user".into(), user_json(member.id));
        i.insert("authorizing_integration_owners".into(), json!({ "0": "0" }));
        i.insert("context".into(), json!(1));
    }
    i
}

fn parse(value: Value) -> Result<Interaction, String> {
    serde_json::from_value(value).map_err(|e| format!("could not build the interaction: {e}"))
}

/// A slash command (`focused: None`) or an autocomplete request on the option `focused`, whose
/// partial text Discord sends as a string whatever the option's type.
pub fn command(
    caller: &Caller,
    id: u64,
    name: &str,
    sub: Option<&str>,
    options: &[(String, OptionValue)],
    focused: Option<(&str, &str)>,
) -> Result<Interaction, String> {
    let mut users = Map::new();
    let mut members = Map::new();
    let mut channels = Map::new();
    let mut roles = Map::new();
    let mut leaf: Vec<Value> = Vec::new();
    for (option, value) in options {
        if focused.is_some_and(|(f, _)| f == option) {
            continue;
        }
        let (kind, json) = match value {
            OptionValue::Str(v) => (3, json!(v)),
            OptionValue::Int(v) => (4, json!(v)),
            OptionValue::Bool(v) => (5, json!(v)),
            OptionValue::User(v) => {
                users.insert(v.to_string(), user_json(*v));
                let (roles, permissions) = guild::member_by_id(*v)
                    .map(|m| (m.roles, m.permissions))
                    .unwrap_or((&[], BASIC_PERMISSIONS));
                members.insert(v.to_string(), partial_member_json(roles, permissions));
                (6, json!(v.to_string()))
            }
            OptionValue::Channel(v) => {
                channels.insert(v.to_string(), channel_json(*v, true, BASIC_PERMISSIONS));
                (7, json!(v.to_string()))
            }
            OptionValue::Role(v) => {
                roles.insert(v.to_string(), role_json(*v));
                (8, json!(v.to_string()))
            }
        };
        leaf.push(json!({ "name": option, "type": kind, "value": json }));
    }
    if let Some((option, typed)) = focused {
        leaf.push(json!({ "name": option, "type": 3, "value": typed, "focused": true }));
    }
    let options = match sub {
        Some(sub) => vec![json!({ "name": sub, "type": 1, "options": leaf })],
        None => leaf,
    };
    let mut data = json!({
        "id": command_id(name).to_string(),
        "name": name,
        "type": 1,
        "options": options,
    });
    let mut resolved = Map::new();
    for (key, map) in [
        ("users", users),
        ("members", members),
        ("channels", channels),
        ("roles", roles),
    ] {
        if !map.is_empty() {
            resolved.insert(key.into(), Value::Object(map));
        }
    }
    if !resolved.is_empty() {
        data["resolved"] = Value::Object(resolved);
    }
    let kind = if focused.is_some() { 4 } else { 2 };
    let mut interaction = base(caller, kind, id);
    interaction.insert("data".into(), data);
    parse(Value::Object(interaction))
}

/// A button press on `message` (as [`message_json`] gives it).
pub fn button(
    caller: &Caller,
    id: u64,
    custom_id: &str,
    message: Value,
) -> Result<Interaction, String> {
    let mut interaction = base(caller, 3, id);
    interaction.insert(
        "data".into(),
        json!({ "custom_id": custom_id, "component_type": 2 }),
    );
    interaction.insert("message".into(), message);
    parse(Value::Object(interaction))
}

/// A submitted form: its custom id, each field's `(custom_id, value)`, and the message whose
/// button opened it, if one did.
pub fn form(
    caller: &Caller,
    id: u64,
    custom_id: &str,
    fields: &[(String, String)],
    message: Option<Value>,
) -> Result<Interaction, String> {
    let mut interaction = base(caller, 5, id);
    let rows: Vec<Value> = fields
        .iter()
        .zip(1u64..)
        .map(|((field, value), n)| {
            json!({
                "type": 1,
                "id": 2 * n - 1,
                "components": [{ "type": 4, "id": 2 * n, "custom_id": field, "value": value }],
            })
        })
        .collect();
    interaction.insert(
        "data".into(),
        json!({ "custom_id": custom_id, "components": rows }),
    );
    if let Some(message) = message {
        interaction.insert("message".into(), message);
    }
    parse(Value::Object(interaction))
}

/// A registered command's id: any stable number does, nothing checks it against Discord here.
fn command_id(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    1_000_000_000_000_000_000 + hash % 100_000_000_000_000_000
}
