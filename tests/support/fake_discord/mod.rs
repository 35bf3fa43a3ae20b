//! An in-process fake of the parts of Discord the bot talks to: the REST API under `/api/v10`
//! and the gateway websocket at `/gateway`.
//!
//! Everything the bot sends is recorded for assertions. The fake also applies the Discord rules
//! that most often bite in production (message/embed/component limits, command registration
//! rules, one acknowledgement per interaction, nonce de-duplication), answering with the same
//! error bodies Discord would, so a test fails where production would.
//!
//! This file holds the shared state, start and shutdown, and the waiting helpers; the rest is
//! split by concern:
//! - `gateway`: the websocket (HELLO, IDENTIFY/RESUME, dispatches, closes, zombie connections);
//! - `rest`: REST routing, interaction callbacks and webhooks, channel messages, JSON shapes;
//! - `rules`: Discord's validation rules for the bodies the bot sends;
//! - `rate_limits`: Discord-like sliding-window limits on channel messages and on DM opens;
//! - `dms`: direct messages (DM channels, users who refuse them, the pace of opening them);
//! - `faults`: one-shot and seeded REST faults, and connections cut without an answer.

mod dms;
mod endpoint;
mod faults;
mod gateway;
mod rate_limits;
mod rest;
mod rules;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

// The public surface, whether or not a given test binary uses all of it.
#[allow(unused_imports)]
pub use dms::DM_CHANNEL_BASE;
#[allow(unused_imports)]
pub use endpoint::{post_signed, signing_key};
#[allow(unused_imports)]
pub use faults::{FaultCounts, Faults};
#[allow(unused_imports)]
pub use rest::{bot_user_json, error_body, message_json, timestamp_now};

use faults::{CuttableListener, Failure, FaultPlan, Kills, Peer};
use gateway::{Outgoing, Session};
use rate_limits::{DmOpenLimit, RateLimits};

use super::turns::{self, Turn};

pub const APPLICATION_ID: u64 = 900_000_000_000_000_001;
pub const BOT_USER_ID: u64 = 900_000_000_000_000_002;
/// Owner of the application (as returned by `/oauth2/applications/@me`).
pub const OWNER_USER_ID: u64 = 900_000_000_000_000_003;
/// Guild reported by `GET /channels/{id}` for channels the fake has not seen in an interaction.
pub const DEFAULT_GUILD_ID: u64 = 900_000_000_000_000_004;

/// How long waiting helpers wait before failing the test.
pub const WAIT_LIMIT: Duration = Duration::from_secs(15);

/// One REST request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query string, e.g. `/api/v10/channels/5/messages`.
    pub path: String,
    /// JSON body; for multipart requests the `payload_json` part. `Null` if empty or non-JSON.
    pub body: Value,
    pub authorization: Option<String>,
    pub query: Option<String>,
    /// File names of multipart attachments (`files[n]` parts).
    pub files: Vec<String>,
    /// Status the fake answered with.
    pub status: u16,
    /// Body the fake answered with (`Null` for 204).
    pub response: Value,
}

/// A message created with `POST /channels/{id}/messages`.
#[derive(Debug, Clone)]
pub struct PostedMessage {
    pub id: u64,
    pub channel_id: u64,
    /// The request body as the bot sent it.
    pub body: Value,
    /// When the fake accepted the POST.
    pub received_at: Instant,
}

#[derive(Clone)]
pub struct FakeDiscord {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    state: Mutex<FakeState>,
    /// Bumped after every state change; waiters watch it instead of sleeping.
    changed: watch::Sender<u64>,
    /// Set by `shutdown` to stop the server.
    stop: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<()>>>,
    /// Open REST/gateway TCP connections by peer, so a fault can cut one without an answer.
    kills: Kills,
    /// The test's turn, held while the fake runs (see `support::turns`).
    turn: Turn,
}

struct Injected {
    kind: u64,
    token: String,
    channel_id: u64,
    /// For component interactions: the message the component is on.
    message_id: Option<u64>,
    at: Instant,
}

#[derive(Default)]
struct FakeState {
    requests: Vec<Recorded>,
    messages: Vec<PostedMessage>,
    /// Every message object the fake has handed out (channel messages, interaction responses,
    /// follow-ups, messages of injected component interactions), by id, in their current state.
    stored: HashMap<u64, Value>,
    nonces: HashMap<(u64, String), (u64, Instant)>,
    /// Nonce keys in insertion order, so expired ones are dropped without scanning `nonces`.
    nonce_order: VecDeque<(Instant, (u64, String))>,
    deduplicated: usize,
    edits: Vec<(u64, u64, Value)>,
    responses: HashMap<u64, Value>,
    response_latency: HashMap<u64, Duration>,
    interactions: HashMap<u64, Injected>,
    /// Interaction token -> interaction id, for tokens that have been acknowledged.
    acked_tokens: HashMap<String, u64>,
    /// Interaction token -> message id of its `@original`.
    originals: HashMap<String, u64>,
    followups: Vec<(u64, Value)>,
    original_edits: Vec<(u64, Value)>,
    commands: Vec<(Option<u64>, Value)>,
    failures: VecDeque<Failure>,
    failing_channels: HashMap<u64, u16>,
    /// Set by `enforce_rate_limits`.
    rate_limits: Option<RateLimits>,
    /// Requests answered 429 by `rate_limits`.
    rate_limited: usize,
    /// Delays before answering the next accepted channel messages (`hold_next_answer`).
    hold_answers: VecDeque<Duration>,
    /// Of those, the 429s for the global limit (all channels together).
    globally_rate_limited: usize,
    channel_guilds: HashMap<u64, Option<u64>>,
    ack_deadline: Option<Duration>,
    // Direct messages.
    /// User -> their DM channel, once opened with `POST /users/@me/channels`.
    dm_channels: HashMap<u64, u64>,
    /// DM channel -> its recipient (the reverse of `dm_channels`).
    dm_recipients: HashMap<u64, u64>,
    /// Users who refuse DMs, with the JSON error code Discord answers for them (`refuse_dms`).
    dm_refusals: HashMap<u64, u32>,
    /// Every DM open attempt as `(user, when, status)`, in order (`dm_opens`).
    dm_opens: Vec<(u64, Instant, u16)>,
    /// Set by `limit_dm_opens`.
    dm_open_limit: Option<DmOpenLimit>,
    // Gateway.
    identifies: Vec<Value>,
    resumes: usize,
    accept_resumes: bool,
    session: Option<Session>,
    /// With several shards: each shard's session, by shard id, with the total it identified
    /// with. Events of a guild go to the shard `(guild_id >> 22) % total`, as Discord routes.
    shard_sessions: HashMap<u64, (u64, Session)>,
    /// Every event dispatched to a shard's session: (shard id, event name), in order.
    shard_dispatches: Vec<(u64, String)>,
    session_ids: Vec<String>,
    conns: HashMap<u64, mpsc::UnboundedSender<Outgoing>>,
    next_conn: u64,
    gateway_received: Vec<Value>,
    /// HELLO's heartbeat interval for new connections (`set_heartbeat_interval`).
    heartbeat_interval_ms: Option<u64>,
    /// Connections on which the fake plays dead (`stop_acking`): no ACKs, no dispatches.
    zombies: HashSet<u64>,
    /// Interactions whose INTERACTION_CREATE was written to a live gateway socket, in order.
    delivered: Vec<u64>,
    // Fault injection.
    faults: Option<FaultPlan>,
    fault_counts: FaultCounts,
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let turn = turns::shared().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("FakeDiscord: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("FakeDiscord: local_addr");
        let kills = Kills::default();
        let fake = FakeDiscord {
            inner: Arc::new(Inner {
                addr,
                state: Mutex::new(FakeState::default()),
                changed: watch::channel(0).0,
                stop: watch::channel(false).0,
                server: Mutex::new(None),
                kills: kills.clone(),
                turn,
            }),
        };
        let app = Router::new()
            .route("/gateway", get(gateway::gateway_upgrade))
            .fallback(rest::rest)
            .with_state(fake.clone());
        let mut stop = fake.inner.stop.subscribe();
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            let listener = CuttableListener {
                inner: listener,
                kills,
            };
            let app = app.into_make_service_with_connect_info::<Peer>();
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                eprintln!("FakeDiscord: server stopped: {err}");
            }
        });
        *lock(&fake.inner.server) = Some(server);
        fake
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    pub fn gateway_url(&self) -> String {
        format!("ws://{}/gateway", self.inner.addr)
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        lock(&self.inner.state)
    }

    fn notify(&self) {
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Waits (up to [`WAIT_LIMIT`]) until `check` returns `Some`, re-checking after every change
    /// the fake sees. Panics with `what` and the recent REST traffic on timeout.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        check: impl FnMut(&FakeDiscord) -> Option<T>,
    ) -> T {
        self.wait_until_for(what, WAIT_LIMIT, check).await
    }

    async fn wait_until_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&FakeDiscord) -> Option<T>,
    ) -> T {
        // Subscribing before checking means a change between the check and the await is not lost.
        let mut rx = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(value) = check(self) {
                return value;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => unreachable!("FakeDiscord owns the watch sender"),
                Err(_) => panic!(
                    "FakeDiscord: timed out after {limit:?} waiting for {what}.\n{}",
                    self.debug_summary()
                ),
            }
        }
    }

    /// Recent traffic, for timeout panics.
    pub fn debug_summary(&self) -> String {
        let st = self.state();
        let mut out = format!(
            "gateway: {} identify(s), {} resume(s), session {}\nlast REST requests:\n",
            st.identifies.len(),
            st.resumes,
            if st.session.is_some() { "open" } else { "none" }
        );
        let skip = st.requests.len().saturating_sub(15);
        for r in &st.requests[skip..] {
            out.push_str(&format!(
                "  {} {} -> {} {}\n",
                r.method,
                r.path,
                r.status,
                short(&r.response)
            ));
        }
        out
    }

    /// Stops the server and closes every gateway connection (code 1001).
    pub async fn shutdown(self) {
        let conns: Vec<_> = {
            let mut st = self.state();
            st.session = None;
            st.shard_sessions.clear();
            st.conns.values().cloned().collect()
        };
        for tx in conns {
            let _ = tx.send(Outgoing::Close(1001));
        }
        let _ = self.inner.stop.send(true);
        let server = lock(&self.inner.server).take();
        if let Some(mut server) = server {
            // Graceful first (idle keep-alive connections are closed), then forced.
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
    }
}

fn snowflake(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not turn every later assertion into a PoisonError.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
