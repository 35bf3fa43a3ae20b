//! Direct messages: `POST /users/@me/channels` opens (or returns the open) DM channel with a
//! user, users who refuse DMs answer with Discord's codes, and every open attempt is recorded so
//! a test can check the bot's pace. Messages in a DM channel go through the ordinary channel
//! route (`POST /channels/{id}/messages`), with its nonces, validation and rate limits.

use std::time::Instant;

use serde_json::{json, Value};

use super::super::interactions::user_json;
use super::rest::Reply;
use super::rules::form_error;
use super::{snowflake, FakeDiscord, FakeState, PostedMessage, BOT_USER_ID};

/// DM channel ids are `DM_CHANNEL_BASE + user_id % 10^12`, so they are stable for a user and far
/// from the channel ids tests use (small numbers, 77_000, hand-written snowflakes around 4e17)
/// and from the fake's own fixed ids (`900_000_000_000_000_00x`). Two users whose ids agree
/// modulo 10^12 get the next free id instead.
pub const DM_CHANNEL_BASE: u64 = 910_000_000_000_000_000;

const DM_CHANNEL_SPAN: u64 = 1_000_000_000_000;

/// The refusals `refuse_dms` knows: JSON code, HTTP status, message, whether opening the DM
/// already fails (otherwise only posting in it does).
const REFUSALS: [(u32, u16, &str, bool); 3] = [
    (50007, 403, "Cannot send messages to this user", false),
    (
        50278,
        403,
        "Cannot send messages to this user due to having no mutual guilds",
        false,
    ),
    (10013, 404, "Unknown User", true),
];

fn refusal(code: u32) -> Option<(u16, &'static str, bool)> {
    REFUSALS
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|&(_, status, message, on_open)| (status, message, on_open))
}

/// Whether a request is a DM open.
fn is_dm_open(method: &str, path: &str) -> bool {
    method == "POST" && path.trim_end_matches('/') == "/api/v10/users/@me/channels"
}

impl FakeState {
    /// Records a DM open attempt with its answer (any request, whoever answered it: the route,
    /// `fail_next`, a seeded fault); other requests are ignored. `user` is 0 if the body named
    /// none.
    pub(super) fn note_dm_open(
        &mut self,
        method: &str,
        path: &str,
        body: &Value,
        status: u16,
        at: Instant,
    ) {
        if is_dm_open(method, path) {
            let user = snowflake(&body["recipient_id"]).unwrap_or(0);
            self.dm_opens.push((user, at, status));
        }
    }

    /// The recipient's refusal of a message posted in DM channel `channel`, if it is one and they
    /// refuse.
    pub(super) fn dm_post_refusal(&self, channel: u64) -> Option<Reply> {
        let user = self.dm_recipients.get(&channel)?;
        let code = self.dm_refusals.get(user)?;
        let (status, message, _) = refusal(*code)?;
        Some(Reply::error(status, u64::from(*code), message))
    }

    /// The recipient of DM channel `channel`, if the fake opened it.
    pub(super) fn dm_recipient(&self, channel: u64) -> Option<u64> {
        self.dm_recipients.get(&channel).copied()
    }
}

/// `POST /users/@me/channels` at `now`: the pace first (a 429 takes no slot), then the body,
/// then the recipient's refusal; the same channel for every open with the same user.
pub(super) fn open_dm(st: &mut FakeState, body: &Value, now: Instant) -> Reply {
    if let Some(limit) = st.dm_open_limit.as_mut() {
        if let Err(refused) = limit.admit(now) {
            return refused;
        }
    }
    let user = match &body["recipient_id"] {
        Value::Null => {
            return Reply::json(
                400,
                form_error(
                    "recipient_id",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ),
            )
        }
        raw => match snowflake(raw).filter(|u| *u != 0) {
            Some(user) => user,
            None => {
                let shown = raw.as_str().map_or_else(|| raw.to_string(), str::to_owned);
                return Reply::json(
                    400,
                    form_error(
                        "recipient_id",
                        "NUMBER_TYPE_COERCE",
                        &format!("Value \"{shown}\" is not snowflake."),
                    ),
                );
            }
        },
    };
    if user == BOT_USER_ID {
        // A bot cannot DM itself (nor another bot): Discord refuses the open itself, with a 400.
        return Reply::error(400, 50007, "Cannot send messages to this user");
    }
    if let Some(&code) = st.dm_refusals.get(&user) {
        if let Some((status, message, true)) = refusal(code) {
            return Reply::error(status, u64::from(code), message);
        }
    }
    let channel = match st.dm_channels.get(&user) {
        Some(&channel) => channel,
        None => {
            let mut channel = DM_CHANNEL_BASE + user % DM_CHANNEL_SPAN;
            while st.dm_recipients.contains_key(&channel) {
                channel += 1;
            }
            st.dm_channels.insert(user, channel);
            st.dm_recipients.insert(channel, user);
            st.channel_guilds.insert(channel, None);
            channel
        }
    };
    Reply::json(200, dm_channel_json(st, channel, user))
}

/// A DM channel as Discord returns it from `POST /users/@me/channels` and `GET /channels/{id}`;
/// deserializes into serenity's `PrivateChannel` (which wants exactly one recipient).
pub(super) fn dm_channel_json(st: &FakeState, channel: u64, user: u64) -> Value {
    let last_message_id = st
        .messages
        .iter()
        .rev()
        .find(|m| m.channel_id == channel)
        .map(|m| m.id.to_string());
    json!({
        "id": channel.to_string(),
        "type": 1,
        "last_message_id": last_message_id,
        "flags": 0,
        "recipients": [user_json(user)],
    })
}

impl FakeDiscord {
    /// From now on `user` refuses DMs the way Discord reports it with JSON `code`:
    /// - 50007 ("Cannot send messages to this user": DMs off, or the bot blocked): opening the
    ///   DM works, posting in it answers 403;
    /// - 50278 ("... due to having no mutual guilds"): the same, 403 on posting;
    /// - 10013 ("Unknown User"): opening the DM answers 404, and so does posting in a DM channel
    ///   opened before.
    ///
    /// A refused post takes a rate-limit slot, as any answered request. Panics on another code.
    pub fn refuse_dms(&self, user_id: u64, code: u32) {
        assert!(
            refusal(code).is_some(),
            "refuse_dms: unknown code {code}; use 50007, 50278 or 10013"
        );
        self.state().dm_refusals.insert(user_id, code);
    }

    /// Undoes [`Self::refuse_dms`]: `user_id` accepts DMs again.
    pub fn allow_dms(&self, user_id: u64) {
        self.state().dm_refusals.remove(&user_id);
    }

    /// The DM channel the fake opened with `user_id`, if the bot opened one.
    pub fn dm_channel_of(&self, user_id: u64) -> Option<u64> {
        self.state().dm_channels.get(&user_id).copied()
    }

    /// The messages accepted in `user_id`'s DM channel, in order (none if it was never opened).
    pub fn dm_messages(&self, user_id: u64) -> Vec<PostedMessage> {
        match self.dm_channel_of(user_id) {
            Some(channel) => self.messages_in(channel),
            None => Vec::new(),
        }
    }

    /// Every DM open attempt (`POST /users/@me/channels`) as `(user, when, status)`, in order,
    /// whatever answered it (429s of [`Self::limit_dm_opens`], refusals and injected failures
    /// included; `user` is 0 if the body named none). For assertions on the bot's pace.
    pub fn dm_opens(&self) -> Vec<(u64, Instant, u16)> {
        self.state().dm_opens.clone()
    }

    /// Waits for `n` messages in `user_id`'s DM channel and returns them all.
    pub async fn wait_dm_messages(&self, user_id: u64, n: usize) -> Vec<PostedMessage> {
        self.wait_until(&format!("{n} DM message(s) to user {user_id}"), |f| {
            let messages = f.dm_messages(user_id);
            (messages.len() >= n).then_some(messages)
        })
        .await
    }
}
