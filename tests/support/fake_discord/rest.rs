//! The REST API under `/api/v10`: routing, interaction callbacks and webhooks, channel
//! messages and their edits, command registration, and the JSON shapes Discord answers with.
//! (Opening DM channels is in `dms`.)

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::State as AxumState;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::super::interactions::{command_id, next_id};
use super::dms::{dm_channel_json, open_dm};
use super::faults::{route_class, Fault, Peer};
use super::rules::{
    form_error, validate_choices, validate_commands, validate_message, validate_modal,
};
use super::{
    FakeDiscord, FakeState, PostedMessage, Recorded, APPLICATION_ID, BOT_USER_ID, DEFAULT_GUILD_ID,
    OWNER_USER_ID,
};

/// Discord's "past few minutes" for `enforce_nonce`.
const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);

// Message flags Discord uses for interaction responses.
const FLAG_LOADING: u64 = 1 << 7;

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Option<Value>,
    pub(super) headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(super) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }
    fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }
    pub(super) fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply::json(status, json!({ "message": message, "code": code }))
    }
    fn not_found() -> Reply {
        Reply::error(404, 0, "404: Not Found")
    }
    /// A failure chosen by the test; 429s get the headers Discord sends with them.
    pub(super) fn failure(status: u16, body: Value) -> Reply {
        let mut reply = Reply::json(status, body);
        if status == 429 {
            let retry_after = reply
                .body
                .as_ref()
                .and_then(|b| b["retry_after"].as_f64())
                .unwrap_or(1.0);
            let global = reply
                .body
                .as_ref()
                .and_then(|b| b["global"].as_bool())
                .unwrap_or(false);
            let reset = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64()
                + retry_after;
            reply.headers = vec![
                ("retry-after", format!("{}", retry_after.ceil() as u64)),
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", format!("{reset:.3}")),
                ("x-ratelimit-reset-after", format!("{retry_after:.3}")),
                ("x-ratelimit-bucket", "fake-bucket".to_owned()),
                (
                    "x-ratelimit-scope",
                    if global { "global" } else { "user" }.to_owned(),
                ),
            ];
            if global {
                reply
                    .headers
                    .push(("x-ratelimit-global", "true".to_owned()));
            }
        }
        reply
    }
}

impl FakeDiscord {
    /// Waits up to `limit` for the callback of an interaction; `None` if none came.
    pub async fn response_within(&self, interaction_id: u64, limit: Duration) -> Option<Value> {
        let mut rx = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(response) = self.try_response(interaction_id) {
                return Some(response);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// Waits up to `limit` for the first `@original` edit of an interaction.
    pub async fn original_edit_within(
        &self,
        interaction_id: u64,
        limit: Duration,
    ) -> Option<Value> {
        let mut rx = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(edit) = self.original_edits_for(interaction_id).into_iter().next() {
                return Some(edit);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    // ----- Interactions -----

    /// Waits for the interaction callback (`POST /interactions/{id}/{token}/callback`) and
    /// returns its body.
    pub async fn response(&self, interaction_id: u64) -> Value {
        self.wait_until(
            &format!("the callback of interaction {interaction_id}"),
            |f| f.try_response(interaction_id),
        )
        .await
    }

    pub fn try_response(&self, interaction_id: u64) -> Option<Value> {
        self.state().responses.get(&interaction_id).cloned()
    }

    /// The form (modal) the interaction was answered with: the `data` of a type-9 callback, i.e.
    /// `{"custom_id", "title", "components"}`. `None` if it has no callback yet or another one.
    pub fn form_for(&self, interaction_id: u64) -> Option<Value> {
        let st = self.state();
        let response = st.responses.get(&interaction_id)?;
        (response["type"].as_u64() == Some(9)).then(|| response["data"].clone())
    }

    /// Time from `inject` to the accepted callback.
    pub fn response_latency(&self, interaction_id: u64) -> Option<Duration> {
        self.state().response_latency.get(&interaction_id).copied()
    }

    /// Like Discord, refuse callbacks arriving later than `deadline` after `inject`
    /// (404 "Unknown interaction", code 10062). Off by default to keep slow CI machines green.
    pub fn set_ack_deadline(&self, deadline: Option<Duration>) {
        self.state().ack_deadline = deadline;
    }

    /// Bodies of follow-up messages (`POST /webhooks/{app}/{token}`), in order.
    pub fn followups(&self) -> Vec<Value> {
        self.state()
            .followups
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn followups_for(&self, interaction_id: u64) -> Vec<Value> {
        self.state()
            .followups
            .iter()
            .filter(|(i, _)| *i == interaction_id)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Bodies of `PATCH /webhooks/{app}/{token}/messages/@original`, in order.
    pub fn original_edits(&self) -> Vec<Value> {
        self.state()
            .original_edits
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// An interaction answered in the HTTP response of an Interactions Endpoint (which the
    /// fake does not see) with `response`: recorded as if it came to the callback route, so
    /// its webhook then takes edits, as Discord's does. Returns the status Discord would give.
    pub fn acknowledged_over_http(
        &self,
        interaction_id: u64,
        token: &str,
        response: &Value,
    ) -> u16 {
        let mut st = self.state();
        interaction_callback(&mut st, interaction_id, token, response).status
    }

    pub fn original_edits_for(&self, interaction_id: u64) -> Vec<Value> {
        self.state()
            .original_edits
            .iter()
            .filter(|(i, _)| *i == interaction_id)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits for the first `@original` edit of an interaction (the usual end of a deferred reply).
    pub async fn wait_original_edit(&self, interaction_id: u64) -> Value {
        self.wait_until(
            &format!("an @original edit of interaction {interaction_id}"),
            |f| f.original_edits_for(interaction_id).into_iter().next(),
        )
        .await
    }

    pub async fn wait_followup(&self, interaction_id: u64) -> Value {
        self.wait_until(
            &format!("a follow-up of interaction {interaction_id}"),
            |f| f.followups_for(interaction_id).into_iter().next(),
        )
        .await
    }

    /// The current `@original` message of an interaction, as the fake would return it.
    pub fn original(&self, interaction_id: u64) -> Option<Value> {
        let st = self.state();
        let token = &st.interactions.get(&interaction_id)?.token;
        st.originals
            .get(token)
            .and_then(|id| st.stored.get(id))
            .cloned()
    }

    // ----- Channel messages -----

    pub fn messages(&self) -> Vec<PostedMessage> {
        self.state().messages.clone()
    }

    pub fn messages_in(&self, channel_id: u64) -> Vec<PostedMessage> {
        self.state()
            .messages
            .iter()
            .filter(|m| m.channel_id == channel_id)
            .cloned()
            .collect()
    }

    pub async fn wait_messages(&self, n: usize) -> Vec<PostedMessage> {
        self.wait_until(&format!("{n} channel message(s)"), |f| {
            // Count first: cloning every message on every change is quadratic in long runs.
            let st = f.state();
            (st.messages.len() >= n).then(|| st.messages.clone())
        })
        .await
    }

    /// `(channel, received_at)` of every accepted channel message, in order.
    pub fn message_times(&self) -> Vec<(u64, Instant)> {
        self.state()
            .messages
            .iter()
            .map(|m| (m.channel_id, m.received_at))
            .collect()
    }

    /// The current state of any message the fake created or was shown (full message object).
    pub fn message(&self, message_id: u64) -> Option<Value> {
        self.state().stored.get(&message_id).cloned()
    }

    /// The next channel message Discord accepts is answered only `delay` later: the message
    /// exists, and its sender cannot know yet.
    pub fn hold_next_answer(&self, delay: Duration) {
        self.state().hold_answers.push_back(delay);
    }

    /// How many `enforce_nonce` creates returned an existing message instead of a new one.
    pub fn deduplicated(&self) -> usize {
        self.state().deduplicated
    }

    /// `PATCH /channels/{c}/messages/{m}` as `(channel, message, body)`.
    pub fn edits(&self) -> Vec<(u64, u64, Value)> {
        self.state().edits.clone()
    }

    // ----- Commands and raw traffic -----

    /// Bulk overwrites: `(None, body)` for global, `(Some(guild), body)` for guild commands.
    pub fn registered_commands(&self) -> Vec<(Option<u64>, Value)> {
        self.state().commands.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Requests the fake answered with a non-2xx status (injected failures included).
    pub fn rejected(&self) -> Vec<Recorded> {
        self.state()
            .requests
            .iter()
            .filter(|r| !(200..300).contains(&r.status))
            .cloned()
            .collect()
    }

    // ----- REST -----

    fn handle_rest(&self, method: &Method, uri: &Uri, headers: &HeaderMap, raw: &Bytes) -> Reply {
        let path = uri.path().to_owned();
        let authorization = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let (body, files) = parse_body(content_type, raw);
        let mut st = self.state();
        let now = Instant::now();
        let reply = self.route(
            &mut st,
            method.as_str(),
            &path,
            &body,
            authorization.as_deref(),
            now,
        );
        st.note_dm_open(method.as_str(), &path, &body, reply.status, now);
        st.requests.push(Recorded {
            method: method.as_str().to_owned(),
            path,
            body,
            authorization,
            query: uri.query().map(str::to_owned),
            files,
            status: reply.status,
            response: reply.body.clone().unwrap_or(Value::Null),
        });
        reply
    }

    /// Answers one request received at `now`.
    fn route(
        &self,
        st: &mut FakeState,
        method: &str,
        path: &str,
        body: &Value,
        auth: Option<&str>,
        now: Instant,
    ) -> Reply {
        if let Some(pos) = st.failures.iter().position(|f| {
            f.method == method
                && (path.starts_with(&f.path_prefix)
                    || path.starts_with(&format!("/api/v10{}", f.path_prefix)))
        }) {
            let failure = st.failures.remove(pos).expect("position is in range");
            return Reply::failure(failure.status, failure.body);
        }
        let Some(rest) = path.strip_prefix("/api/v10/") else {
            return Reply::not_found();
        };
        let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        // Interaction callbacks and webhook routes are authenticated by their token instead.
        let token_route = matches!(segs.first(), Some(&"interactions") | Some(&"webhooks"));
        if !token_route && !auth.is_some_and(|a| a.starts_with("Bot ") && a.len() > 4) {
            return Reply::error(401, 0, "401: Unauthorized");
        }
        let id = |s: &str| s.parse::<u64>().ok().filter(|v| *v != 0);
        match (method, segs.as_slice()) {
            ("GET", ["gateway"]) => Reply::ok(json!({ "url": self.gateway_url() })),
            ("GET", ["gateway", "bot"]) => Reply::ok(json!({
                "url": self.gateway_url(),
                "shards": 1,
                "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1 },
            })),
            ("GET", ["users", "@me"]) => Reply::ok(bot_user_json()),
            ("POST", ["users", "@me", "channels"]) => open_dm(st, body, now),
            ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]) => {
                Reply::ok(application_json())
            }
            (_, ["applications", app, ..]) if id(app) != Some(APPLICATION_ID) => {
                Reply::error(404, 10002, "Unknown Application")
            }
            ("PUT", ["applications", _, "commands"]) => put_commands(st, None, body),
            ("PUT", ["applications", _, "guilds", guild, "commands"]) => match id(guild) {
                Some(guild) => put_commands(st, Some(guild), body),
                None => Reply::not_found(),
            },
            ("GET", ["applications", _, "commands"]) => Reply::ok(current_commands(st, None)),
            ("GET", ["applications", _, "guilds", guild, "commands"]) => match id(guild) {
                Some(guild) => Reply::ok(current_commands(st, Some(guild))),
                None => Reply::not_found(),
            },
            ("POST", ["interactions", interaction, token, "callback"]) => match id(interaction) {
                Some(interaction) => interaction_callback(st, interaction, token, body),
                None => Reply::error(404, 10062, "Unknown interaction"),
            },
            (_, ["webhooks", app, token, rest @ ..]) => {
                if id(app) != Some(APPLICATION_ID) {
                    return Reply::error(404, 10015, "Unknown Webhook");
                }
                let Some(&interaction) = st.acked_tokens.get(*token) else {
                    // Discord only accepts webhook calls for an interaction after its callback.
                    return Reply::error(404, 10015, "Unknown Webhook");
                };
                webhook(st, method, interaction, token, rest, body)
            }
            (_, ["channels", channel, rest @ ..]) => match id(channel) {
                Some(channel) => self.channel_route(st, method, channel, rest, body),
                None => Reply::not_found(),
            },
            _ => Reply::not_found(),
        }
    }

    fn channel_route(
        &self,
        st: &mut FakeState,
        method: &str,
        channel: u64,
        rest: &[&str],
        body: &Value,
    ) -> Reply {
        match (method, rest) {
            ("GET", []) => {
                if let Some(user) = st.dm_recipient(channel) {
                    return Reply::ok(dm_channel_json(st, channel, user));
                }
                let guild = st
                    .channel_guilds
                    .get(&channel)
                    .copied()
                    .unwrap_or(Some(DEFAULT_GUILD_ID));
                Reply::ok(channel_json(channel, guild))
            }
            ("POST", ["messages"]) => {
                let now = Instant::now();
                if let Some(&status) = st.failing_channels.get(&channel) {
                    let mut reply = Reply::failure(status, error_body(status));
                    if reply.headers.is_empty() {
                        if let Some(limits) = st.rate_limits.as_mut() {
                            reply.headers = limits.peek(channel, now);
                        }
                    }
                    return reply;
                }
                let headers = match st.rate_limits.as_mut().map(|l| l.admit(channel, now)) {
                    None => Vec::new(),
                    Some(Ok(headers)) => headers,
                    Some(Err(refused)) => {
                        st.rate_limited += 1;
                        if refused
                            .headers
                            .iter()
                            .any(|(name, _)| *name == "x-ratelimit-global")
                        {
                            st.globally_rate_limited += 1;
                        }
                        return refused;
                    }
                };
                // A recipient who refuses DMs: answered after the rate limit, like any 403.
                let mut reply = st
                    .dm_post_refusal(channel)
                    .unwrap_or_else(|| create_channel_message(st, channel, body, now));
                reply.headers.extend(headers);
                reply
            }
            ("GET", ["messages", message]) => {
                match message.parse::<u64>().ok().and_then(|m| st.stored.get(&m)) {
                    Some(stored) => Reply::ok(stored.clone()),
                    None => Reply::error(404, 10008, "Unknown Message"),
                }
            }
            ("PATCH", ["messages", message]) => {
                let Ok(message) = message.parse::<u64>() else {
                    return Reply::not_found();
                };
                let base = st
                    .stored
                    .get(&message)
                    .cloned()
                    .unwrap_or_else(|| message_json(message, channel, &json!({})));
                let merged = merge_edit(&base, body);
                if let Err(reply) = validate_message(&merged, true) {
                    return reply;
                }
                st.stored.insert(message, merged.clone());
                st.edits.push((channel, message, body.clone()));
                Reply::ok(merged)
            }
            ("DELETE", ["messages", message]) => {
                if let Ok(message) = message.parse::<u64>() {
                    st.stored.remove(&message);
                }
                Reply::no_content()
            }
            _ => Reply::not_found(),
        }
    }
}

// ----- REST handlers -----

pub(super) async fn rest(
    AxumState(fake): AxumState<FakeDiscord>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (fault, slow) = fake.draw_fault(method.as_str(), uri.path());
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    let reply = match fault {
        Some(Fault::Status(status)) => {
            let answer = if status == 429 {
                let retry_after = fake.retry_after().as_secs_f64();
                json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": false })
            } else {
                error_body(status)
            };
            let reply = Reply::failure(status, answer);
            fake.record_unhandled(&method, &uri, &headers, &body, &reply);
            reply
        }
        Some(Fault::Drop) => {
            fake.cut(peer);
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        _ => fake.handle_rest(&method, &uri, &headers, &body),
    };
    // A message Discord has taken whose answer is slow to come back (`hold_next_answer`):
    // a sender killed now never learns it was posted.
    let held = (method == Method::POST
        && uri.path().ends_with("/messages")
        && (200..300).contains(&reply.status))
    .then(|| fake.state().hold_answers.pop_front())
    .flatten();
    if let Some(delay) = held {
        fake.notify();
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::DropAfter) => {
            fake.notify();
            fake.cut(peer);
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(Fault::StatusAfter(status)) => {
            fake.notify();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return (status, axum::Json(error_body(status.as_u16()))).into_response();
        }
        Some(Fault::TruncateAfter)
            if (200..300).contains(&reply.status)
                && reply.status != 204
                && reply.body.is_some() =>
        {
            {
                let mut st = fake.state();
                st.fault_counts.truncated += 1;
                *st.fault_counts
                    .by_route
                    .entry(route_class(method.as_str(), uri.path()))
                    .or_default() += 1;
            }
            fake.truncate(peer);
        }
        _ => {}
    }
    fake.notify();
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) if reply.status != 204 => (status, axum::Json(body)).into_response(),
        _ => status.into_response(),
    };
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn put_commands(st: &mut FakeState, guild: Option<u64>, body: &Value) -> Reply {
    let Some(commands) = body.as_array() else {
        return Reply::json(400, form_error("", "BASE_TYPE_ARRAY", "Must be an array."));
    };
    if let Err(reply) = validate_commands(commands) {
        return reply;
    }
    st.commands.push((guild, body.clone()));
    Reply::ok(current_commands(st, guild))
}

/// The last bulk overwrite for that scope, shaped as Discord returns commands.
fn current_commands(st: &FakeState, guild: Option<u64>) -> Value {
    let Some((_, body)) = st.commands.iter().rev().find(|(g, _)| *g == guild) else {
        return json!([]);
    };
    let commands = body.as_array().cloned().unwrap_or_default();
    Value::Array(
        commands
            .into_iter()
            .map(|mut command| {
                let name = command["name"].as_str().unwrap_or_default().to_owned();
                let obj = command.as_object_mut().expect("validated as object");
                obj.insert("id".into(), json!(command_id(&name).to_string()));
                obj.insert("application_id".into(), json!(APPLICATION_ID.to_string()));
                obj.insert(
                    "version".into(),
                    json!(command_id(&format!("version:{name}")).to_string()),
                );
                obj.entry("type").or_insert(json!(1));
                obj.entry("description").or_insert(json!(""));
                obj.entry("options").or_insert(json!([]));
                obj.entry("default_member_permissions")
                    .or_insert(Value::Null);
                if let Some(guild) = guild {
                    obj.insert("guild_id".into(), json!(guild.to_string()));
                }
                command
            })
            .collect(),
    )
}

/// A second callback for an interaction gets Discord's 400 (code 40060, "Interaction has
/// already been acknowledged.") and changes nothing, also when the first one's answer was lost
/// to an injected `drop_after` / `error_after`: the fake keeps the first answer, exactly as
/// Discord does, so a bot that retries a callback must read 40060 as "already answered".
/// Hence a form (type 9) can only be the first answer: after a deferral or a message it gets
/// 40060 too. Response types an interaction type cannot take (a form for an autocomplete or a
/// submitted form, say) get a 400 before anything is recorded.
fn interaction_callback(st: &mut FakeState, interaction: u64, token: &str, body: &Value) -> Reply {
    if st.responses.contains_key(&interaction) {
        return Reply::error(400, 40060, "Interaction has already been acknowledged.");
    }
    let (kind, channel_id, message_id, at) = match st.interactions.get(&interaction) {
        Some(inj) if inj.token != token => {
            return Reply::error(401, 50027, "Invalid Webhook Token")
        }
        Some(inj) => (Some(inj.kind), inj.channel_id, inj.message_id, Some(inj.at)),
        // Not injected (e.g. a test driving the handler directly): skip kind-specific checks.
        None => (None, 1, None, None),
    };
    if let (Some(deadline), Some(at)) = (st.ack_deadline, at) {
        if at.elapsed() > deadline {
            return Reply::error(404, 10062, "Unknown interaction");
        }
    }
    let response_type = body["type"].as_u64().unwrap_or(0);
    let allowed: &[u64] = match kind {
        Some(1) => &[1],
        Some(2) => &[4, 5, 9, 10, 12],
        Some(3) => &[4, 5, 6, 7, 9, 10, 12],
        Some(4) => &[8],
        Some(5) => &[4, 5, 6, 7, 10, 12],
        _ => &[1, 4, 5, 6, 7, 8, 9, 10, 12],
    };
    if !allowed.contains(&response_type) {
        return Reply::json(
            400,
            form_error(
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                "Invalid interaction response type for this interaction.",
            ),
        );
    }
    if response_type == 7 && kind == Some(5) && message_id.is_none() {
        // UPDATE_MESSAGE edits the message of the component that opened the form; a form opened
        // from a command has none, and Discord answers so.
        return Reply::error(404, 10008, "Unknown Message");
    }
    let data = &body["data"];
    let checked = match response_type {
        4 => validate_message(data, false),
        7 => validate_message(data, true),
        8 => validate_choices(data),
        9 => validate_modal(data),
        _ => Ok(()),
    };
    if let Err(reply) = checked {
        return reply;
    }

    st.responses.insert(interaction, body.clone());
    if let Some(at) = at {
        st.response_latency.insert(interaction, at.elapsed());
    }
    st.acked_tokens.insert(token.to_owned(), interaction);
    let webhook_fields = |mut msg: Value, kind: u64| {
        msg["webhook_id"] = json!(APPLICATION_ID.to_string());
        msg["application_id"] = json!(APPLICATION_ID.to_string());
        msg["type"] = json!(kind);
        msg
    };
    match response_type {
        4 => {
            let id = next_id();
            st.stored
                .insert(id, webhook_fields(message_json(id, channel_id, data), 20));
            st.originals.insert(token.to_owned(), id);
        }
        5 => {
            let id = next_id();
            let mut msg = webhook_fields(message_json(id, channel_id, &json!({})), 20);
            msg["flags"] = json!(data["flags"].as_u64().unwrap_or(0) | FLAG_LOADING);
            st.stored.insert(id, msg);
            st.originals.insert(token.to_owned(), id);
        }
        6 | 7 => {
            // For component interactions @original is the message the component is on.
            if let Some(mid) = message_id {
                if response_type == 7 {
                    let base = st
                        .stored
                        .get(&mid)
                        .cloned()
                        .unwrap_or_else(|| message_json(mid, channel_id, &json!({})));
                    st.stored.insert(mid, merge_edit(&base, data));
                }
                st.originals.insert(token.to_owned(), mid);
            }
        }
        _ => {}
    }
    Reply::no_content()
}

fn webhook(
    st: &mut FakeState,
    method: &str,
    interaction: u64,
    token: &str,
    rest: &[&str],
    body: &Value,
) -> Reply {
    let channel_id = st
        .interactions
        .get(&interaction)
        .map_or(1, |i| i.channel_id);
    match (method, rest) {
        ("POST", []) => {
            if let Err(reply) = validate_message(body, false) {
                return reply;
            }
            let id = next_id();
            let mut msg = message_json(id, channel_id, body);
            msg["webhook_id"] = json!(APPLICATION_ID.to_string());
            msg["application_id"] = json!(APPLICATION_ID.to_string());
            st.stored.insert(id, msg.clone());
            st.followups.push((interaction, body.clone()));
            Reply::ok(msg)
        }
        (_, ["messages", target]) => {
            let message = if *target == "@original" {
                st.originals.get(token).copied()
            } else {
                target
                    .parse::<u64>()
                    .ok()
                    .filter(|id| st.stored.contains_key(id))
            };
            let Some(message) = message else {
                return Reply::error(404, 10008, "Unknown Message");
            };
            let Some(current) = st.stored.get(&message).cloned() else {
                return Reply::error(404, 10008, "Unknown Message");
            };
            match method {
                "GET" => Reply::ok(current),
                "PATCH" => {
                    let mut merged = merge_edit(&current, body);
                    // An edit of a deferred reply replaces the "thinking..." state.
                    if let Some(flags) = merged["flags"].as_u64() {
                        merged["flags"] = json!(flags & !FLAG_LOADING);
                    }
                    if let Err(reply) = validate_message(&merged, false) {
                        return reply;
                    }
                    st.stored.insert(message, merged.clone());
                    if *target == "@original" {
                        st.original_edits.push((interaction, body.clone()));
                    }
                    Reply::ok(merged)
                }
                "DELETE" => {
                    st.stored.remove(&message);
                    Reply::no_content()
                }
                _ => Reply::not_found(),
            }
        }
        _ => Reply::not_found(),
    }
}

fn create_channel_message(st: &mut FakeState, channel: u64, body: &Value, now: Instant) -> Reply {
    if let Err(reply) = validate_message(body, false) {
        return reply;
    }
    let nonce = match &body["nonce"] {
        Value::String(s) if s.chars().count() > 25 => {
            return Reply::json(
                400,
                form_error(
                    "nonce",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ),
            );
        }
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(nonce) = &nonce {
        while let Some((at, _)) = st.nonce_order.front() {
            if now.saturating_duration_since(*at) < NONCE_WINDOW {
                break;
            }
            let (at, key) = st.nonce_order.pop_front().expect("front exists");
            // Only forget the entry if it was not replaced by a later message with that nonce.
            if st.nonces.get(&key).is_some_and(|(_, stored)| *stored == at) {
                st.nonces.remove(&key);
            }
        }
        if body["enforce_nonce"].as_bool() == Some(true) {
            if let Some((existing, _)) = st.nonces.get(&(channel, nonce.clone())) {
                if let Some(msg) = st.stored.get(existing).cloned() {
                    st.deduplicated += 1;
                    return Reply::ok(msg);
                }
            }
        }
    }
    let id = next_id();
    let msg = message_json(id, channel, body);
    st.stored.insert(id, msg.clone());
    if let Some(nonce) = nonce {
        st.nonce_order.push_back((now, (channel, nonce.clone())));
        st.nonces.insert((channel, nonce), (id, now));
    }
    st.messages.push(PostedMessage {
        id,
        channel_id: channel,
        body: body.clone(),
        received_at: now,
    });
    Reply::ok(msg)
}

// ----- JSON shapes -----

/// The bot user as `/users/@me` and READY return it.
pub fn bot_user_json() -> Value {
    json!({
        "id": BOT_USER_ID.to_string(),
        "username": "Coordinator",
        "discriminator": "0",
        "global_name": null,
        "avatar": null,
        "bot": true,
        "system": false,
        "mfa_enabled": false,
        "verified": true,
        "flags": 0,
        "public_flags": 0,
    })
}

fn application_json() -> Value {
    json!({
        "id": APPLICATION_ID.to_string(),
        "name": "Coordinator",
        "icon": null,
        "description": "",
        "rpc_origins": [],
        "bot_public": false,
        "bot_require_code_grant": false,
        "owner": {
            "id": OWNER_USER_ID.to_string(),
            "username": "owner",
            "discriminator": "0",
            "global_name": "Owner",
            "avatar": null,
            "public_flags": 0,
        },
        "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
        "team": null,
        "flags": 0,
        "bot": bot_user_json(),
    })
}

fn channel_json(channel: u64, guild: Option<u64>) -> Value {
    match guild {
        Some(guild) => json!({
            "id": channel.to_string(),
            "type": 0,
            "guild_id": guild.to_string(),
            "name": format!("channel-{channel}"),
            "position": 0,
            "permission_overwrites": [],
            "nsfw": false,
            "parent_id": null,
            "topic": null,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "flags": 0,
        }),
        None => json!({
            "id": channel.to_string(),
            "type": 1,
            "last_message_id": null,
            "flags": 0,
            "recipients": [],
        }),
    }
}

/// A message by the bot in `channel_id`, echoing content/embeds/components/flags/tts/nonce from
/// a create body. Deserializes into serenity's `Message`. (Like Discord's REST API, it carries
/// no `guild_id`.)
pub fn message_json(id: u64, channel_id: u64, body: &Value) -> Value {
    let mut msg = json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": bot_user_json(),
        "content": body["content"].as_str().unwrap_or_default(),
        "timestamp": timestamp_now(),
        "edited_timestamp": null,
        "tts": body["tts"].as_bool().unwrap_or(false),
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
    });
    if !body["nonce"].is_null() {
        msg["nonce"] = body["nonce"].clone();
    }
    msg
}

/// Applies an edit body to a stored message object.
fn merge_edit(base: &Value, edit: &Value) -> Value {
    let mut merged = base.clone();
    for key in ["content", "embeds", "components", "flags"] {
        match &edit[key] {
            Value::Null => {}
            value => merged[key] = value.clone(),
        }
    }
    merged["edited_timestamp"] = json!(timestamp_now());
    merged
}

pub fn timestamp_now() -> String {
    serenity::model::Timestamp::now().to_string()
}

/// Discord's usual body for an error status.
pub fn error_body(status: u16) -> Value {
    match status {
        400 => json!({ "message": "400: Bad Request", "code": 0 }),
        401 => json!({ "message": "401: Unauthorized", "code": 0 }),
        403 => json!({ "message": "Missing Access", "code": 50001 }),
        404 => json!({ "message": "Unknown Channel", "code": 10003 }),
        429 => {
            json!({ "message": "You are being rate limited.", "retry_after": 0.25, "global": false })
        }
        500 => json!({ "message": "500: Internal Server Error", "code": 0 }),
        502 => json!({ "message": "502: Bad Gateway", "code": 0 }),
        503 => json!({ "message": "503: Service Unavailable", "code": 0 }),
        _ => json!({ "message": format!("{status}: Error"), "code": 0 }),
    }
}

/// JSON body, or the `payload_json` part of a multipart body plus the uploaded file names.
pub(super) fn parse_body(content_type: &str, raw: &[u8]) -> (Value, Vec<String>) {
    if raw.is_empty() {
        return (Value::Null, Vec::new());
    }
    let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| {
            rest.split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
        })
    else {
        return (
            serde_json::from_slice(raw).unwrap_or(Value::Null),
            Vec::new(),
        );
    };
    let boundary = boundary.trim_matches('"');
    let text = String::from_utf8_lossy(raw);
    let mut body = Value::Null;
    let mut files = Vec::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        if head.contains("name=\"payload_json\"") {
            body = serde_json::from_str(content).unwrap_or(Value::Null);
        } else if let Some(name) = head
            .split("filename=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        {
            files.push(name.to_owned());
        }
    }
    (body, files)
}
