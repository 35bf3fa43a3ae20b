//! Discord-like rate limits on `POST /channels/{id}/messages`: a global per-second window and a
//! per-channel one, with the `X-RateLimit-*` headers a well-behaved client paces itself by; and
//! Discord's pace for opening DMs (`POST /users/@me/channels`, JSON code 40003).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::rest::Reply;
use super::FakeDiscord;

/// Discord-like limits on `POST /channels/{id}/messages`, as sliding windows of the times of
/// accepted requests.
pub(super) struct RateLimits {
    global_per_second: u32,
    per_channel: u32,
    window: Duration,
    global: VecDeque<Instant>,
    channels: HashMap<u64, VecDeque<Instant>>,
}

const GLOBAL_WINDOW: Duration = Duration::from_secs(1);
const MESSAGE_BUCKET: &str = "fake-channel-messages";

/// Drops the times that have left the window.
fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

/// Time until the oldest entry leaves the window (the whole window if there is none).
fn until_free(times: &VecDeque<Instant>, now: Instant, window: Duration) -> Duration {
    times
        .front()
        .map_or(window, |t| (*t + window).saturating_duration_since(now))
}

/// Whole milliseconds, rounded up so a positive wait never prints as zero.
fn secs_up(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).ceil() / 1000.0
}

/// A 429 with `body` and the headers every 429 carries: `Retry-After` (whole seconds, rounded
/// up), `X-RateLimit-Scope`, and `X-RateLimit-Global` when it is the global limit.
fn too_many(body: Value, retry_after: f64, global: bool) -> Reply {
    let mut reply = Reply::json(429, body);
    reply
        .headers
        .push(("retry-after", format!("{}", retry_after.ceil() as u64)));
    reply.headers.push((
        "x-ratelimit-scope",
        if global { "global" } else { "user" }.to_owned(),
    ));
    if global {
        reply
            .headers
            .push(("x-ratelimit-global", "true".to_owned()));
    }
    reply
}

impl RateLimits {
    /// Takes a slot for a message in `channel` (answering `Ok` with the headers for the answer)
    /// or refuses with a 429 as Discord does.
    pub(super) fn admit(
        &mut self,
        channel: u64,
        now: Instant,
    ) -> Result<Vec<(&'static str, String)>, Reply> {
        prune(&mut self.global, now, GLOBAL_WINDOW);
        let window = self.window;
        let times = self.channels.entry(channel).or_default();
        prune(times, now, window);
        let global_full = self.global.len() >= self.global_per_second as usize;
        let channel_full = times.len() >= self.per_channel as usize;
        if global_full || channel_full {
            // When both are full, a slot frees only once both have one.
            let global = global_full;
            let mut retry_after = Duration::ZERO;
            if global_full {
                retry_after = until_free(&self.global, now, GLOBAL_WINDOW);
            }
            if channel_full {
                retry_after = retry_after.max(until_free(times, now, window));
            }
            let retry_after = secs_up(retry_after).max(0.001);
            let remaining = (self.per_channel as usize).saturating_sub(times.len());
            let reset_after = if channel_full {
                secs_up(until_free(times, now, window))
            } else {
                retry_after
            };
            let mut reply = too_many(
                json!({
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": global,
                }),
                retry_after,
                global,
            );
            let mut headers = self.headers(remaining, reset_after);
            headers.append(&mut reply.headers);
            reply.headers = headers;
            return Err(reply);
        }
        times.push_back(now);
        self.global.push_back(now);
        let remaining = (self.per_channel as usize).saturating_sub(times.len());
        let reset_after = secs_up(until_free(times, now, window));
        Ok(self.headers(remaining, reset_after))
    }

    /// The bucket state of `channel` without taking a slot (for answers that do not count).
    pub(super) fn peek(&mut self, channel: u64, now: Instant) -> Vec<(&'static str, String)> {
        let window = self.window;
        let (remaining, reset_after) = match self.channels.get_mut(&channel) {
            Some(times) => {
                prune(times, now, window);
                (
                    (self.per_channel as usize).saturating_sub(times.len()),
                    secs_up(until_free(times, now, window)),
                )
            }
            None => (self.per_channel as usize, secs_up(window)),
        };
        self.headers(remaining, reset_after)
    }

    fn headers(&self, remaining: usize, reset_after: f64) -> Vec<(&'static str, String)> {
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            + reset_after;
        vec![
            ("x-ratelimit-limit", self.per_channel.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", format!("{reset:.3}")),
            ("x-ratelimit-reset-after", format!("{reset_after:.3}")),
            ("x-ratelimit-bucket", MESSAGE_BUCKET.to_owned()),
        ]
    }
}

/// Discord's pace for opening DMs: at most `max` opens of `POST /users/@me/channels` in any
/// sliding `window`, a sliding window of the times of the opens that were let through.
pub(super) struct DmOpenLimit {
    max: usize,
    window: Duration,
    times: VecDeque<Instant>,
}

impl DmOpenLimit {
    /// Takes a slot for one open, or refuses it as Discord does: 429 with JSON code 40003 and
    /// `retry_after` (seconds until the oldest open leaves the window), not global.
    pub(super) fn admit(&mut self, now: Instant) -> Result<(), Reply> {
        prune(&mut self.times, now, self.window);
        if self.times.len() >= self.max {
            let retry_after = secs_up(until_free(&self.times, now, self.window)).max(0.001);
            return Err(too_many(
                json!({
                    "code": 40003,
                    "message": "You are opening direct messages too fast.",
                    "retry_after": retry_after,
                    "global": false,
                }),
                retry_after,
                false,
            ));
        }
        self.times.push_back(now);
        Ok(())
    }
}

impl FakeDiscord {
    /// From now on, answer 429 past `global_per_second` requests in any rolling second (all
    /// routes of channel messages together) or past `per_channel` messages per `window` in one
    /// channel — as Discord does, with a JSON body
    /// `{"message":"You are being rate limited.","retry_after": <seconds until a slot frees>,
    /// "global": <bool>}` and a `Retry-After` header (whole seconds, rounded up), and
    /// `X-RateLimit-Limit` / `-Remaining` / `-Reset` / `-Reset-After` (float seconds until the
    /// channel's next slot frees) / `-Bucket` headers on every answer of
    /// `POST /channels/{id}/messages` (successful ones too), so a well-behaved client can pace
    /// itself.
    ///
    /// Windows slide: a slot frees exactly `window` (or one second, globally) after the request
    /// that took it. Every request that is not refused takes a slot — a de-duplicated nonce
    /// resend and a 400 for an invalid body too, as on Discord. A 429 takes no slot and records
    /// no message. Failures injected with `fail_next` / `fail_channel` come first and take no
    /// slot. Calling this again replaces the limits and starts from empty windows.
    pub fn enforce_rate_limits(&self, global_per_second: u32, per_channel: u32, window: Duration) {
        self.state().rate_limits = Some(RateLimits {
            global_per_second,
            per_channel,
            window,
            global: VecDeque::new(),
            channels: HashMap::new(),
        });
    }

    /// How many requests were answered 429 by [`Self::enforce_rate_limits`] (not counting
    /// `fail_next` / `fail_channel` ones).
    pub fn rate_limited(&self) -> usize {
        self.state().rate_limited
    }

    /// How many of [`Self::rate_limited`] were for the global limit.
    pub fn globally_rate_limited(&self) -> usize {
        self.state().globally_rate_limited
    }

    /// From now on, answer `POST /users/@me/channels` with Discord's 429 past `per_second` DM
    /// opens in any sliding second: `{"code": 40003, "message": "You are opening direct messages
    /// too fast.", "retry_after": <seconds until a slot frees>, "global": false}` with a
    /// `Retry-After` header (whole seconds, rounded up). Off by default.
    ///
    /// Every open that is not refused takes a slot: re-opening an open DM, a 400 for a bad body
    /// and a 404 for a refusing user too. A 429 takes no slot; failures injected with
    /// `fail_next` come first and take none either. Calling this again starts from an empty
    /// window.
    pub fn limit_dm_opens(&self, per_second: usize) {
        self.limit_dm_opens_within(per_second, Duration::from_secs(1));
    }

    /// [`Self::limit_dm_opens`] with another window than a second, so a test of the pace can
    /// wait less.
    pub fn limit_dm_opens_within(&self, max: usize, window: Duration) {
        self.state().dm_open_limit = Some(DmOpenLimit {
            max,
            window,
            times: VecDeque::new(),
        });
    }

    /// Opens DMs at any pace again (the default).
    pub fn clear_dm_open_limit(&self) {
        self.state().dm_open_limit = None;
    }
}
