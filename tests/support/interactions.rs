//! Builders for interaction payloads exactly as Discord sends them in INTERACTION_CREATE, with
//! every field serenity 0.12.5 requires to deserialize them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::fake_discord::{message_json, APPLICATION_ID};

pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const ADMINISTRATOR: u64 = 1 << 3;
pub const MANAGE_GUILD: u64 = 1 << 5;
/// What an ordinary member has in an ordinary channel.
pub const BASIC_PERMISSIONS: u64 = VIEW_CHANNEL | SEND_MESSAGES;
/// `app_permissions`: what the bot may do in the channel (view, send, embed links, read history).
pub const APP_PERMISSIONS: u64 = VIEW_CHANNEL | SEND_MESSAGES | (1 << 14) | (1 << 16);
/// Fixed so snapshots of member JSON are stable.
const JOINED_AT: &str = "2024-01-01T00:00:00.000000+00:00";
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Who invokes an interaction, and where.
#[derive(Clone, Debug)]
pub struct Caller {
    /// `None` means a DM with the bot.
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    pub user_id: u64,
    pub roles: Vec<u64>,
    /// Bitfield as Discord sends it: 8 = ADMINISTRATOR, 32 = MANAGE_GUILD.
    pub permissions: u64,
}

impl Caller {
    /// A guild member with no roles and [`BASIC_PERMISSIONS`].
    pub fn member(guild_id: u64, channel_id: u64, user_id: u64) -> Self {
        Caller {
            guild_id: Some(guild_id),
            channel_id,
            user_id,
            roles: Vec::new(),
            permissions: BASIC_PERMISSIONS,
        }
    }

    /// A user in a DM with the bot (no guild, no member object).
    pub fn dm(channel_id: u64, user_id: u64) -> Self {
        Caller {
            guild_id: None,
            channel_id,
            user_id,
            roles: Vec::new(),
            permissions: BASIC_PERMISSIONS,
        }
    }

    pub fn with_roles(mut self, roles: &[u64]) -> Self {
        self.roles = roles.to_vec();
        self
    }

    pub fn with_permissions(mut self, permissions: u64) -> Self {
        self.permissions = permissions;
        self
    }

    pub fn in_channel(mut self, channel_id: u64) -> Self {
        self.channel_id = channel_id;
        self
    }

    pub fn in_guild(mut self, guild_id: u64) -> Self {
        self.guild_id = Some(guild_id);
        self
    }
}

/// An option value as typed by the user.
#[derive(Clone, Debug)]
pub enum Opt {
    Str(&'static str, String),
    Int(&'static str, i64),
    Bool(&'static str, bool),
    User(&'static str, u64),
    Channel(&'static str, u64),
    Role(&'static str, u64),
}

/// A string option, as most options are typed: `s("title", "Ship it")`.
pub fn s(name: &'static str, value: &str) -> Opt {
    Opt::Str(name, value.to_string())
}

/// How a command reads when typed, long repeated values shortened: `/task show task:1`.
pub fn typed(path: &[&str], options: &[Opt]) -> String {
    let mut out = format!("/{}", path.join(" "));
    for option in options {
        let (name, value) = match option {
            Opt::Str(n, v) => {
                let first = v.chars().next().unwrap_or(' ');
                let value = if v.chars().count() > 30 && v.chars().all(|c| c == first) {
                    format!("\"{first}\"×{}", v.chars().count())
                } else {
                    format!("{v:?}")
                };
                (n, value)
            }
            Opt::Int(n, v) => (n, v.to_string()),
            Opt::Bool(n, v) => (n, v.to_string()),
            Opt::User(n, v) | Opt::Channel(n, v) | Opt::Role(n, v) => (n, v.to_string()),
        };
        out.push_str(&format!(" {name}:{value}"));
    }
    out
}

impl Opt {
    fn name(&self) -> &'static str {
        match self {
            Opt::Str(n, _)
            | Opt::Int(n, _)
            | Opt::Bool(n, _)
            | Opt::User(n, _)
            | Opt::Channel(n, _)
            | Opt::Role(n, _) => n,
        }
    }
}

static LAST_ID: AtomicU64 = AtomicU64::new(0);

/// Unique, increasing, snowflake-shaped ids (timestamp in the high bits, so `created_at()` on
/// them gives roughly "now").
pub fn next_id() -> u64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let from_clock = now_ms.saturating_sub(DISCORD_EPOCH_MS) << 22;
    let mut prev = LAST_ID.load(Ordering::Relaxed);
    loop {
        let next = from_clock.max(prev + 1);
        match LAST_ID.compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => prev = actual,
        }
    }
}

/// The id the fake gives the registered command `name` (also used as `data.id` of interactions).
pub fn command_id(name: &str) -> u64 {
    // FNV-1a: stable across runs, so registered commands and invocations agree.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    1_000_000_000_000_000_000 + hash % 100_000_000_000_000_000
}

/// The token the builders give interaction `id`.
pub fn token_for(id: u64) -> String {
    format!("fake-interaction-token-{id}")
}

/// A user object as Discord embeds it in interactions.
pub fn user_json(user_id: u64) -> Value {
    json!({
        "id": user_id.to_string(),
        "username": format!("user{user_id}"),
        "discriminator": "0",
        "global_name": format!("User {user_id}"),
        "avatar": null,
        "bot": false,
        "public_flags": 0,
    })
}

/// A guild member object (with `user`) as Discord sends it for the invoking member.
pub fn member_json(user_id: u64, roles: &[u64], permissions: u64) -> Value {
    let mut member = partial_member_json(roles, permissions);
    member["user"] = user_json(user_id);
    member
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

fn channel_json(channel_id: u64, guild_id: Option<u64>, permissions: u64) -> Value {
    match guild_id {
        Some(guild_id) => json!({
            "id": channel_id.to_string(),
            "type": 0,
            "guild_id": guild_id.to_string(),
            "name": format!("channel-{channel_id}"),
            "position": 0,
            "parent_id": null,
            "topic": null,
            "nsfw": false,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "flags": 0,
            "permissions": permissions.to_string(),
        }),
        None => json!({
            "id": channel_id.to_string(),
            "type": 1,
            "last_message_id": null,
            "flags": 0,
        }),
    }
}

fn role_json(role_id: u64) -> Value {
    json!({
        "id": role_id.to_string(),
        "name": format!("role-{role_id}"),
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

/// Fields shared by every interaction type.
fn base(caller: &Caller, kind: u8, id: u64) -> Map<String, Value> {
    let mut i = Map::new();
    i.insert("id".into(), json!(id.to_string()));
    i.insert("application_id".into(), json!(APPLICATION_ID.to_string()));
    i.insert("type".into(), json!(kind));
    i.insert("token".into(), json!(token_for(id)));
    i.insert("version".into(), json!(1));
    i.insert("channel_id".into(), json!(caller.channel_id.to_string()));
    i.insert(
        "channel".into(),
        channel_json(caller.channel_id, caller.guild_id, caller.permissions),
    );
    i.insert("app_permissions".into(), json!(APP_PERMISSIONS.to_string()));
    i.insert("locale".into(), json!("en-US"));
    i.insert("entitlements".into(), json!([]));
    i.insert("attachment_size_limit".into(), json!(10_485_760));
    match caller.guild_id {
        Some(guild_id) => {
            i.insert("guild_id".into(), json!(guild_id.to_string()));
            i.insert("guild_locale".into(), json!("en-US"));
            i.insert(
                "member".into(),
                member_json(caller.user_id, &caller.roles, caller.permissions),
            );
            i.insert(
                "authorizing_integration_owners".into(),
                json!({ "0": guild_id.to_string() }),
            );
            i.insert("context".into(), json!(0));
        }
        None => {
            // In a DM Discord names the other party of the channel, as in `GET /channels/{id}`.
            i["channel"]["recipients"] = json!([user_json(caller.user_id)]);
            i.insert("user".into(), user_json(caller.user_id));
            // Guild-installed app used in a DM: Discord reports guild owner "0".
            i.insert("authorizing_integration_owners".into(), json!({ "0": "0" }));
            i.insert("context".into(), json!(1));
        }
    }
    i
}

#[derive(Default)]
struct Resolved {
    users: Map<String, Value>,
    members: Map<String, Value>,
    channels: Map<String, Value>,
    roles: Map<String, Value>,
}

impl Resolved {
    fn into_json(self) -> Option<Value> {
        let mut out = Map::new();
        for (key, map) in [
            ("users", self.users),
            ("members", self.members),
            ("channels", self.channels),
            ("roles", self.roles),
        ] {
            if !map.is_empty() {
                out.insert(key.into(), Value::Object(map));
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
}

fn option_json(
    opt: &Opt,
    caller: &Caller,
    focused: Option<&str>,
    resolved: &mut Resolved,
) -> Value {
    let (kind, value) = match opt {
        Opt::Str(_, v) => (3, json!(v)),
        Opt::Int(_, v) => (4, json!(v)),
        Opt::Bool(_, v) => (5, json!(v)),
        Opt::User(_, v) => (6, json!(v.to_string())),
        Opt::Channel(_, v) => (7, json!(v.to_string())),
        Opt::Role(_, v) => (8, json!(v.to_string())),
    };
    if focused == Some(opt.name()) {
        // Discord sends the partial input as a string, whatever the option's type.
        let text = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return json!({ "name": opt.name(), "type": kind, "value": text, "focused": true });
    }
    match *opt {
        Opt::User(_, user) => {
            resolved.users.insert(user.to_string(), user_json(user));
            if caller.guild_id.is_some() {
                resolved.members.insert(
                    user.to_string(),
                    partial_member_json(&[], BASIC_PERMISSIONS),
                );
            }
        }
        Opt::Channel(_, channel) => {
            resolved.channels.insert(
                channel.to_string(),
                channel_json(channel, caller.guild_id, BASIC_PERMISSIONS),
            );
        }
        Opt::Role(_, role) => {
            resolved.roles.insert(role.to_string(), role_json(role));
        }
        _ => {}
    }
    json!({ "name": opt.name(), "type": kind, "value": value })
}

fn command_interaction(
    caller: &Caller,
    kind: u8,
    path: &[&str],
    options: Vec<Opt>,
    focused: Option<&str>,
) -> (u64, Value) {
    assert!(
        (1..=3).contains(&path.len()),
        "path must be [command], [command, sub] or [command, group, sub]"
    );
    let id = next_id();
    let mut resolved = Resolved::default();
    let mut leaf: Vec<Value> = options
        .iter()
        .map(|o| option_json(o, caller, focused, &mut resolved))
        .collect();
    if let Some(name) = focused {
        if !options.iter().any(|o| o.name() == name) {
            // The user focused an option they have not typed into yet.
            leaf.push(json!({ "name": name, "type": 3, "value": "", "focused": true }));
        }
    }
    // Wrap the leaf options in subcommand (type 1) and group (type 2) layers, innermost first.
    let mut opts = leaf;
    for (depth, name) in path.iter().enumerate().skip(1).rev() {
        let kind = if depth == path.len() - 1 { 1 } else { 2 };
        opts = vec![json!({ "name": name, "type": kind, "options": opts })];
    }
    let mut data = json!({
        "id": command_id(path[0]).to_string(),
        "name": path[0],
        "type": 1,
        "options": opts,
    });
    if let Some(resolved) = resolved.into_json() {
        data["resolved"] = resolved;
    }
    let mut interaction = base(caller, kind, id);
    interaction.insert("data".into(), data);
    (id, Value::Object(interaction))
}

/// A slash command (type 2). `path` is `["task","create"]` (command + subcommand) or
/// `["timezone"]` (no subcommand); a 3-element path adds a subcommand group.
pub fn slash(caller: &Caller, path: &[&str], options: Vec<Opt>) -> (u64, Value) {
    command_interaction(caller, 2, path, options, None)
}

/// Autocomplete (type 4): like [`slash`], with the option named `focused` marked
/// `"focused": true` and its value sent as a string. If no option has that name, an empty
/// focused string option is added (the user focused it without typing).
pub fn autocomplete(
    caller: &Caller,
    path: &[&str],
    options: Vec<Opt>,
    focused: &str,
) -> (u64, Value) {
    command_interaction(caller, 4, path, options, Some(focused))
}

/// A button press (type 3, component_type 2) on message `message_id` (a bot message in the
/// caller's channel), with `custom_id`.
pub fn button(caller: &Caller, custom_id: &str, message_id: u64) -> (u64, Value) {
    let message = message_json(message_id, caller.channel_id, &json!({}));
    button_on_message(caller, custom_id, message)
}

/// A button press on a given message object, e.g. `fake.message(id).unwrap()` so the
/// interaction carries the message's real content and components.
pub fn button_on_message(caller: &Caller, custom_id: &str, message: Value) -> (u64, Value) {
    let id = next_id();
    let mut interaction = base(caller, 3, id);
    interaction.insert(
        "data".into(),
        json!({ "custom_id": custom_id, "component_type": 2 }),
    );
    interaction.insert("message".into(), message);
    (id, Value::Object(interaction))
}

/// A submitted form (MODAL_SUBMIT, type 5) as Discord sends it: the form's `custom_id` and one
/// action row per field, each holding the text input `(custom_id, value)` as typed (Discord sends
/// no label or style back, and a numeric `id` on every component). `message` is the message of
/// the component that opened the form, which Discord includes then (`fake.message(id)`), `None`
/// for a form opened from a command. A DM caller gives a top-level `user` and no `member` nor
/// `guild_id`, as for [`slash`].
pub fn modal_submit(
    caller: &Caller,
    custom_id: &str,
    fields: &[(&str, &str)],
    message: Option<Value>,
) -> (u64, Value) {
    assert!(
        (1..=5).contains(&fields.len()),
        "a form has 1 to 5 fields, got {}",
        fields.len()
    );
    let id = next_id();
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
    (id, Value::Object(interaction))
}

/// A message command (type 3) run on a message with `content`, in the caller's channel, as
/// Discord sends it: the target message resolved in `data`.
pub fn message_command(
    caller: &Caller,
    name: &str,
    message_id: u64,
    content: &str,
) -> (u64, Value) {
    let id = next_id();
    let message = message_json(
        message_id,
        caller.channel_id,
        &json!({ "content": content }),
    );
    let data = json!({
        "id": command_id(name).to_string(),
        "name": name,
        "type": 3,
        "target_id": message_id.to_string(),
        "resolved": { "messages": { message_id.to_string(): message } },
    });
    let mut interaction = base(caller, 2, id);
    interaction.insert("data".into(), data);
    (id, Value::Object(interaction))
}
