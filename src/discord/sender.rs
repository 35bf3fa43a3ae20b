//! The one sender of channel messages. It paces itself under Discord's limits (50 requests/s
//! globally, a bucket per channel), reads `retry_after` from 429 answers, retries 5xx and
//! timeouts with bounded back-off, and gives up on 403/404. It talks to `DISCORD_API_BASE`
//! directly, because serenity's error type drops `retry_after` when its own limiter is off; so
//! it behaves the same with or without a proxy.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::config::Token;
use crate::domain::ids::{ChannelId, UserId};
use crate::store::{OutboxKind, OutboxRow};

const GLOBAL_PER_SECOND: usize = 50;
/// Discord's usual message bucket: 5 per 5 s per channel. Response headers refine it.
const CHANNEL_LIMIT: usize = 5;
const CHANNEL_PERIOD: Duration = Duration::from_secs(5);
/// Discord counts a request when it arrives, a little after we send it: the windows are kept
/// this much longer so that our count never runs ahead of Discord's.
const SAFETY: Duration = Duration::from_millis(25);
const MAX_SERVER_ERRORS: u32 = 5;
const MAX_RATE_LIMITS: u32 = 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Discord asks bots not to open many DM channels quickly; 40003 answers those that do.
pub const DM_OPENS_PER_SECOND: usize = 5;

/// What became of opening a DM channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmOpening {
    Opened(ChannelId),
    /// Discord will not open it (10013: no such user): do not retry.
    Refused {
        status: u16,
        code: Option<u64>,
        error: String,
    },
    /// Still failing after the bounded retries.
    Failed {
        error: String,
    },
}

/// What became of one outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent {
        message_id: u64,
    },
    /// The channel refused us (403/404, or a payload Discord will never accept): do not retry.
    /// `code` is Discord's JSON error code (50007: the member does not take DMs).
    Refused {
        status: u16,
        code: Option<u64>,
        error: String,
    },
    /// Still failing after the bounded retries: try the row again later.
    Failed {
        error: String,
    },
}

/// A boxed future, as the [`Transport`] methods return (the worker holds a `dyn Transport`).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Where the duties worker's messages go: Discord's REST API ([`Sender`]) when the bot runs,
/// or the playground's capture (`coordinator try`), which shows them instead of sending them.
pub trait Transport: Send + Sync + 'static {
    /// Sends one outbox row; `None` if `stop` resolves before the row's first turn.
    fn deliver_unless<'a>(
        &'a self,
        row: &'a OutboxRow,
        stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Option<Delivery>>;

    /// Opens (or finds) the DM channel with `user_id`.
    fn open_dm(&self, user_id: UserId) -> BoxFuture<'_, DmOpening>;
}

impl Transport for Sender {
    fn deliver_unless<'a>(
        &'a self,
        row: &'a OutboxRow,
        stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Option<Delivery>> {
        Box::pin(Sender::deliver_unless(self, row, stop))
    }

    fn open_dm(&self, user_id: UserId) -> BoxFuture<'_, DmOpening> {
        Box::pin(Sender::open_dm(self, user_id))
    }
}

/// At most `limit` requests in any `period` (a sliding window, as Discord counts), plus a block
/// set from response headers or a 429.
///
/// Discord counts a request when it arrives, which is some time after it left: a process
/// starved of CPU, or several processes on one token, send requests that arrive closer together
/// than they left. So the global window counts a request from the moment it leaves until
/// `period` after its answer came back ([`Window::start`], [`Window::finish`]): whenever
/// it arrived, it is inside that span, so no rolling `period` at Discord's end ever holds more
/// than `limit`.
#[derive(Debug)]
struct Window {
    limit: usize,
    period: Duration,
    sent: VecDeque<Instant>,
    /// Requests started and not answered yet (global window only).
    in_flight: usize,
    blocked_until: Option<Instant>,
}

/// How often a window whose slots are all taken by requests in flight looks again.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(5);

impl Window {
    fn new(limit: usize, period: Duration) -> Self {
        Self {
            limit,
            period,
            sent: VecDeque::with_capacity(limit),
            in_flight: 0,
            blocked_until: None,
        }
    }

    /// A request leaves: it holds a slot until [`Self::finish`], and `period` beyond.
    fn start(&mut self) {
        self.in_flight += 1;
    }

    /// Its answer came back (or it failed) at `at`.
    fn finish(&mut self, at: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.sent.push_back(at);
    }

    /// How long until one more request fits; `None` if it fits now.
    fn wait(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.blocked_until {
            if until > now {
                return Some(until - now);
            }
            self.blocked_until = None;
        }
        while self
            .sent
            .front()
            .is_some_and(|first| now.saturating_duration_since(*first) >= self.period)
        {
            self.sent.pop_front();
        }
        if self.sent.len() + self.in_flight < self.limit {
            None
        } else {
            Some(
                self.sent
                    .front()
                    .map_or(IN_FLIGHT_POLL, |first| *first + self.period - now),
            )
        }
    }

    fn record(&mut self, at: Instant) {
        self.sent.push_back(at);
    }

    fn block_for(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        self.blocked_until = Some(self.blocked_until.map_or(until, |u| u.max(until)));
    }
}

#[derive(Debug)]
struct Limits {
    global: Window,
    channels: HashMap<ChannelId, Window>,
    /// Opening DM channels, at its own gentler pace.
    dm_opens: Window,
}

pub struct Sender {
    client: reqwest::Client,
    base: String,
    authorization: String,
    limits: Mutex<Limits>,
    /// This process's part of the token's budget now, as (requests, DM opens) per second, when
    /// several processes share it ([`Sender::with_share`]); read whenever a window is checked.
    share: Option<Share>,
}

/// Gives this process's current part of the budget (see [`Sender::with_share`]).
pub type Share = Arc<dyn Fn() -> (usize, usize) + Send + Sync>;

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Seconds from a 429: the JSON body's `retry_after`, else the `Retry-After` header.
fn retry_after(headers: &reqwest::header::HeaderMap, body: &Value) -> Duration {
    let from_body = body.get("retry_after").and_then(Value::as_f64);
    let from_header = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok());
    let secs = from_body.or(from_header).unwrap_or(1.0).clamp(0.0, 600.0);
    Duration::from_secs_f64(secs)
}

fn header_f64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

impl Sender {
    pub fn new(token: &Token, api_base: &str) -> Self {
        let token = token.expose();
        let authorization = if token.starts_with("Bot ") {
            token.to_string()
        } else {
            format!("Bot {token}")
        };
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!(
                "DiscordBot (https://github.com/coordinator-bot, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()
            .unwrap_or_default();
        Self {
            client,
            base: api_base.trim_end_matches('/').to_string(),
            authorization,
            limits: Mutex::new(Limits {
                global: Window::new(GLOBAL_PER_SECOND, Duration::from_secs(1) + SAFETY),
                channels: HashMap::new(),
                dm_opens: Window::new(DM_OPENS_PER_SECOND, Duration::from_secs(1) + SAFETY),
            }),
            share: None,
        }
    }

    /// Paces at `share()` (requests, DM opens per second) instead of the fixed limits: the
    /// part of the token's budget this process may use now, which changes as other processes
    /// come and go. Read every time a request waits for its turn, so a change applies at once.
    pub fn with_share(mut self, share: Share) -> Self {
        self.share = Some(share);
        self
    }

    /// Applies the current share to the windows (see [`Sender::with_share`]).
    fn take_share(&self, limits: &mut Limits) {
        if let Some(share) = &self.share {
            let (requests, dm_opens) = share();
            limits.global.limit = requests.clamp(1, GLOBAL_PER_SECOND);
            limits.dm_opens.limit = dm_opens.max(1);
        }
    }

    /// Sends at most `per_second` requests per second in all (this process's share of the
    /// token's 50, the operator's setting).
    pub fn with_requests_per_second(self, per_second: usize) -> Self {
        if let Ok(mut limits) = self.limits.try_lock() {
            limits.global = Window::new(
                per_second.clamp(1, GLOBAL_PER_SECOND),
                Duration::from_secs(1) + SAFETY,
            );
        }
        self
    }

    /// Opens DM channels at most `per_second` at a time (the operator's setting).
    pub fn with_dm_opens_per_second(self, per_second: usize) -> Self {
        if let Ok(mut limits) = self.limits.try_lock() {
            limits.dm_opens = Window::new(per_second.max(1), Duration::from_secs(1) + SAFETY);
        }
        self
    }

    /// Waits until both the global window and the DM-opening pace allow one more request.
    async fn wait_dm_turn(&self) {
        loop {
            let wait = {
                let mut limits = self.limits.lock().await;
                self.take_share(&mut limits);
                let now = Instant::now();
                match limits.dm_opens.wait(now).max(limits.global.wait(now)) {
                    Some(wait) => Some(wait),
                    None => {
                        limits.dm_opens.record(now);
                        limits.global.start();
                        None
                    }
                }
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Opens (or finds: Discord returns the same one) the DM channel with `user_id`, at the
    /// DM pace, retrying 429s (40003 "opening DMs too fast" among them) and 5xx answers.
    pub async fn open_dm(&self, user_id: UserId) -> DmOpening {
        let mut attempts = Attempts::new();
        loop {
            self.wait_dm_turn().await;
            let request = self
                .client
                .post(format!("{}/api/v10/users/@me/channels", self.base))
                .header("authorization", &self.authorization)
                .header("content-type", "application/json")
                .body(serde_json::json!({ "recipient_id": user_id.get().to_string() }).to_string());
            let sent = request.send().await;
            self.answered().await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    if attempts.after_server_error().await {
                        continue;
                    }
                    return DmOpening::Failed {
                        error: format!("request failed: {}", e.without_url()),
                    };
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.json_body().await.unwrap_or(Value::Null);
            // 40003 "opening direct messages too fast" has been seen as 429 and as 403: both
            // mean wait and try again.
            let too_fast = body.get("code").and_then(Value::as_u64) == Some(40_003);
            let status = if too_fast { 429 } else { status };
            match status {
                200..=299 => {
                    let id = body
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| id.parse::<u64>().ok());
                    if let Some(id) = id {
                        return DmOpening::Opened(ChannelId::new(id));
                    }
                    if !attempts.after_server_error().await {
                        return DmOpening::Failed {
                            error: "Discord opened a DM without its id".into(),
                        };
                    }
                }
                429 => {
                    let wait = retry_after(&headers, &body);
                    debug!(
                        user = user_id.get(),
                        wait_ms = wait.as_millis() as u64,
                        "opening DMs too fast"
                    );
                    if !attempts.after_rate_limit() {
                        return DmOpening::Failed {
                            error: "rate limited too often opening a DM".into(),
                        };
                    }
                    let mut limits = self.limits.lock().await;
                    if body.get("global").and_then(Value::as_bool).unwrap_or(false) {
                        limits.global.block_for(wait);
                    } else {
                        limits.dm_opens.block_for(wait);
                    }
                }
                500..=599 => {
                    if !attempts.after_server_error().await {
                        return DmOpening::Failed {
                            error: format!("Discord answered {status}"),
                        };
                    }
                }
                _ => {
                    let (code, error) = refusal(status, &body);
                    return DmOpening::Refused {
                        status,
                        code,
                        error,
                    };
                }
            }
        }
    }

    /// Waits until both the global and the channel's window allow one more request, and
    /// counts it in both.
    async fn wait_turn(&self, channel_id: ChannelId) {
        loop {
            let wait = {
                let mut limits = self.limits.lock().await;
                self.take_share(&mut limits);
                let now = Instant::now();
                let channel = limits
                    .channels
                    .entry(channel_id)
                    .or_insert_with(|| Window::new(CHANNEL_LIMIT, CHANNEL_PERIOD + SAFETY))
                    .wait(now);
                let global = limits.global.wait(now);
                match channel.max(global) {
                    Some(wait) => Some(wait),
                    None => {
                        limits.global.start();
                        if let Some(window) = limits.channels.get_mut(&channel_id) {
                            window.record(now);
                        }
                        None
                    }
                }
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// A request that took a global slot was answered (or failed): its slot frees a period
    /// from now.
    async fn answered(&self) {
        self.limits.lock().await.global.finish(Instant::now());
    }

    /// Applies what a response said about the channel's bucket.
    async fn learn(&self, channel_id: ChannelId, headers: &reqwest::header::HeaderMap) {
        let remaining = header_f64(headers, "x-ratelimit-remaining");
        let reset_after = header_f64(headers, "x-ratelimit-reset-after");
        if let (Some(remaining), Some(reset_after)) = (remaining, reset_after) {
            if remaining < 1.0 {
                let mut limits = self.limits.lock().await;
                if let Some(window) = limits.channels.get_mut(&channel_id) {
                    window.block_for(Duration::from_secs_f64(reset_after.clamp(0.0, 600.0)));
                }
            }
        }
    }

    async fn on_rate_limited(&self, channel_id: ChannelId, global: bool, wait: Duration) {
        let mut limits = self.limits.lock().await;
        if global {
            limits.global.block_for(wait);
        } else if let Some(window) = limits.channels.get_mut(&channel_id) {
            window.block_for(wait);
        }
    }

    fn request(&self, row: &OutboxRow) -> reqwest::RequestBuilder {
        let channel = row.channel_id;
        let mut body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
        let request = match row.kind {
            OutboxKind::Post => {
                if let Some(object) = body.as_object_mut() {
                    object.insert("nonce".into(), Value::String(row.nonce()));
                    object.insert("enforce_nonce".into(), Value::Bool(true));
                }
                self.client
                    .post(format!("{}/api/v10/channels/{channel}/messages", self.base))
            }
            OutboxKind::Edit { message_id } => self.client.patch(format!(
                "{}/api/v10/channels/{channel}/messages/{message_id}",
                self.base
            )),
        };
        request
            .header("authorization", &self.authorization)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// Sends one outbox row: the same row always makes the same request (same nonce).
    pub async fn deliver(&self, row: &OutboxRow) -> Delivery {
        self.wait_turn(row.channel_id).await;
        self.deliver_on_turn(row).await
    }

    /// Like [`Self::deliver`], but gives up (`None`) if `stop` resolves while the row still
    /// waits for its first turn. Once a request has gone out, the row is seen through, so a
    /// stopping worker never leaves a message posted but not recorded.
    pub async fn deliver_unless(
        &self,
        row: &OutboxRow,
        stop: impl std::future::Future<Output = ()>,
    ) -> Option<Delivery> {
        tokio::select! {
            biased;
            () = stop => return None,
            () = self.wait_turn(row.channel_id) => {}
        }
        Some(self.deliver_on_turn(row).await)
    }

    /// The attempts of one row, the first of which already has its turn.
    async fn deliver_on_turn(&self, row: &OutboxRow) -> Delivery {
        let mut attempts = Attempts::new();
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) {
                self.wait_turn(row.channel_id).await;
            }
            let sent = self.request(row).send().await;
            self.answered().await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    let error = format!("request failed: {}", e.without_url());
                    debug!(outbox = row.id, %error, "retrying");
                    if attempts.after_server_error().await {
                        continue;
                    }
                    return Delivery::Failed { error };
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            self.learn(row.channel_id, &headers).await;
            let body = response.json_body().await;
            let message_id = body
                .as_ref()
                .and_then(|b| b.get("id"))
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<u64>().ok());
            let message_id = match (message_id, &row.kind) {
                (Some(id), _) => Some(id),
                (None, OutboxKind::Edit { message_id }) => Some(*message_id),
                (None, OutboxKind::Post) => None,
            };
            let body = body.unwrap_or(Value::Null);
            match (status, message_id) {
                (200..=299, Some(message_id)) => return Delivery::Sent { message_id },
                (200..=299, None) => {
                    // The answer was cut off: the message may exist, and its id is needed to
                    // disable its buttons later. A resend with the same nonce returns it.
                    debug!(
                        outbox = row.id,
                        status, "answer without a message id; resending"
                    );
                    if !attempts.after_server_error().await {
                        return Delivery::Failed {
                            error: format!("Discord answered {status} without a message"),
                        };
                    }
                }
                (429, _) => {
                    let wait = retry_after(&headers, &body);
                    let global = body.get("global").and_then(Value::as_bool).unwrap_or(false);
                    warn!(
                        outbox = row.id,
                        channel = row.channel_id.get(),
                        wait_ms = wait.as_millis() as u64,
                        global,
                        "rate limited"
                    );
                    if !attempts.after_rate_limit() {
                        return Delivery::Failed {
                            error: "rate limited too often".into(),
                        };
                    }
                    self.on_rate_limited(row.channel_id, global, wait).await;
                }
                (500..=599, _) => {
                    if !attempts.after_server_error().await {
                        return Delivery::Failed {
                            error: format!("Discord answered {status}"),
                        };
                    }
                }
                _ => {
                    let (code, error) = refusal(status, &body);
                    return Delivery::Refused {
                        status,
                        code,
                        error,
                    };
                }
            }
        }
    }
}

/// The bounded retries of one request: server errors and lost answers with a doubling pause,
/// and rate limits (whose wait the caller applies to its windows).
struct Attempts {
    server_errors: u32,
    rate_limits: u32,
    backoff: Duration,
}

impl Attempts {
    fn new() -> Self {
        Self {
            server_errors: 0,
            rate_limits: 0,
            backoff: FIRST_BACKOFF,
        }
    }

    /// Counts a server error; false once they are used up, else waits the back-off first.
    async fn after_server_error(&mut self) -> bool {
        self.server_errors += 1;
        if self.server_errors >= MAX_SERVER_ERRORS {
            return false;
        }
        tokio::time::sleep(self.backoff).await;
        self.backoff *= 2;
        true
    }

    /// Counts a 429; false once they are used up.
    fn after_rate_limit(&mut self) -> bool {
        self.rate_limits += 1;
        self.rate_limits < MAX_RATE_LIMITS
    }
}

/// Discord's JSON error code and a one-line error, for an answer that will not change.
fn refusal(status: u16, body: &Value) -> (Option<u64>, String) {
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("refused");
    (
        body.get("code").and_then(Value::as_u64),
        format!("{status} {message}"),
    )
}

/// Reads a response body as JSON; `None` if it was cut off or is not JSON.
trait JsonBody {
    async fn json_body(self) -> Option<Value>;
}

impl JsonBody for reqwest::Response {
    async fn json_body(self) -> Option<Value> {
        let bytes = self.bytes().await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_waits_for_the_oldest_to_leave() {
        let mut window = Window::new(5, Duration::from_secs(5));
        let start = Instant::now();
        for i in 0..5 {
            let at = start + Duration::from_millis(i * 100);
            assert_eq!(window.wait(at), None);
            window.record(at);
        }
        let at = start + Duration::from_millis(500);
        assert_eq!(window.wait(at), Some(Duration::from_millis(4_500)));
        assert_eq!(window.wait(start + Duration::from_secs(5)), None);
    }

    #[test]
    fn a_request_holds_its_global_slot_from_leaving_until_a_period_after_its_answer() {
        let mut window = Window::new(2, Duration::from_secs(1));
        let start = Instant::now();
        window.start();
        window.start();
        // Both slots are in flight: however long they take, no third request leaves.
        assert_eq!(
            window.wait(start + Duration::from_secs(3)),
            Some(IN_FLIGHT_POLL)
        );
        let answered = start + Duration::from_millis(700);
        window.finish(answered);
        // One slot is free again only a whole period after the first answer.
        assert_eq!(window.wait(answered), Some(Duration::from_secs(1)));
        window.finish(answered);
        assert_eq!(
            window.wait(answered + Duration::from_millis(400)),
            Some(Duration::from_millis(600))
        );
        assert_eq!(window.wait(answered + Duration::from_secs(1)), None);
    }

    #[test]
    fn a_process_paces_itself_at_its_share_of_the_global_limit() {
        let token = Token::new("t");
        let share = Sender::new(&token, "http://127.0.0.1:1").with_requests_per_second(25);
        let limits = share.limits.try_lock().expect("unlocked");
        assert_eq!(limits.global.limit, 25);
        drop(limits);
        let capped = Sender::new(&token, "http://127.0.0.1:1").with_requests_per_second(500);
        assert_eq!(capped.limits.try_lock().expect("unlocked").global.limit, 50);
    }

    #[test]
    fn retry_after_prefers_the_precise_body_value() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("1"),
        );
        let body = serde_json::json!({"retry_after": 0.25});
        assert_eq!(retry_after(&headers, &body), Duration::from_millis(250));
        assert_eq!(retry_after(&headers, &Value::Null), Duration::from_secs(1));
    }
}
