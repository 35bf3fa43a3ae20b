//! An in-process fake of the parts of Discord the bot talks to: the REST API under `/api/v10`
//! and the gateway websocket at `/gateway`.
//!
//! Everything the bot sends is recorded for assertions. The fake also applies the Discord rules
//! that most often bite in production (message/embed/component limits, command registration
//! rules, one acknowledgement per interaction, nonce de-duplication), answering with the same
//! error bodies Discord would, so a test fails where production would.

use super::rng::SplitMix;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::IncomingStream;
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::interactions::{command_id, next_id};

pub const APPLICATION_ID: u64 = 900_000_000_000_000_001;
pub const BOT_USER_ID: u64 = 900_000_000_000_000_002;
/// Owner of the application (as returned by `/oauth2/applications/@me`).
pub const OWNER_USER_ID: u64 = 900_000_000_000_000_003;
/// Guild reported by `GET /channels/{id}` for channels the fake has not seen in an interaction.
pub const DEFAULT_GUILD_ID: u64 = 900_000_000_000_000_004;

/// How long waiting helpers wait before failing the test.
pub const WAIT_LIMIT: Duration = Duration::from_secs(15);
const READY_LIMIT: Duration = Duration::from_secs(30);
/// Discord's "past few minutes" for `enforce_nonce`.
const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);
const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

// Message flags Discord uses for interaction responses.
const FLAG_LOADING: u64 = 1 << 7;

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
}

struct Failure {
    method: String,
    path_prefix: String,
    status: u16,
    body: Value,
}

struct Injected {
    kind: u64,
    token: String,
    channel_id: u64,
    /// For component interactions: the message the component is on.
    message_id: Option<u64>,
    at: Instant,
}

struct Session {
    conn_id: u64,
    session_id: String,
    seq: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
}

enum Outgoing {
    Text(String),
    /// An INTERACTION_CREATE dispatch: counted as delivered once written to the socket.
    Interaction(u64, String),
    Close(u16),
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
    channel_guilds: HashMap<u64, Option<u64>>,
    ack_deadline: Option<Duration>,
    // Gateway.
    identifies: Vec<Value>,
    resumes: usize,
    accept_resumes: bool,
    session: Option<Session>,
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

/// Discord-like limits on `POST /channels/{id}/messages`, as sliding windows of the times of
/// accepted requests.
struct RateLimits {
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

impl RateLimits {
    /// Takes a slot for a message in `channel` (answering `Ok` with the headers for the answer)
    /// or refuses with a 429 as Discord does.
    fn admit(&mut self, channel: u64, now: Instant) -> Result<Vec<(&'static str, String)>, Reply> {
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
            let mut reply = Reply::json(
                429,
                json!({
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": global,
                }),
            );
            let remaining = (self.per_channel as usize).saturating_sub(times.len());
            let reset_after = if channel_full {
                secs_up(until_free(times, now, window))
            } else {
                retry_after
            };
            reply.headers = self.headers(remaining, reset_after);
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
            return Err(reply);
        }
        times.push_back(now);
        self.global.push_back(now);
        let remaining = (self.per_channel as usize).saturating_sub(times.len());
        let reset_after = secs_up(until_free(times, now, window));
        Ok(self.headers(remaining, reset_after))
    }

    /// The bucket state of `channel` without taking a slot (for answers that do not count).
    fn peek(&mut self, channel: u64, now: Instant) -> Vec<(&'static str, String)> {
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

// ----- Fault injection (seeded) -----

/// Random REST faults, drawn from a seeded generator so a failing run can be replayed. Each
/// request to a path starting with one of `paths` draws once: with probability `rate_limit` a
/// 429 (`retry_after` in the body and headers), `server_error` a 500/502/503 before the request
/// has any effect, `drop` the TCP connection closed without an answer (request not applied),
/// `drop_after` / `error_after` the request applied (message stored, interaction acknowledged)
/// and then the connection closed without an answer / a 502 or 503 answered — the real case in
/// which a retry must not duplicate; `truncate_after` the request applied and its answer cut
/// off half-way through the body (status and headers arrive, the JSON does not; only 2xx
/// answers with a body are cut, others are sent whole). Independently, with probability `slow` the answer waits `slow_delay`
/// first. Every injection is counted ([`FakeDiscord::fault_counts`]).
#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    pub rate_limit: f64,
    pub retry_after: Duration,
    pub server_error: f64,
    pub drop: f64,
    pub drop_after: f64,
    pub error_after: f64,
    pub truncate_after: f64,
    pub slow: f64,
    pub slow_delay: Duration,
    /// Path prefixes (with `/api/v10`) that may fail. Startup routes (gateway URL, users/@me,
    /// command registration) are left out by default so the bot can start.
    pub paths: Vec<String>,
}

impl Default for Faults {
    /// No faults at all; set the probabilities you want.
    fn default() -> Self {
        Faults {
            seed: 1,
            rate_limit: 0.0,
            retry_after: Duration::from_millis(300),
            server_error: 0.0,
            drop: 0.0,
            drop_after: 0.0,
            error_after: 0.0,
            truncate_after: 0.0,
            slow: 0.0,
            slow_delay: Duration::from_millis(800),
            paths: vec![
                "/api/v10/channels/".to_owned(),
                "/api/v10/interactions/".to_owned(),
                "/api/v10/webhooks/".to_owned(),
            ],
        }
    }
}

/// How many faults were injected, by kind (REST) and by close code (gateway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub rate_limited: usize,
    /// 500/502/503 before the request had any effect.
    pub server_errors: usize,
    /// Connection closed without an answer, request not applied.
    pub dropped: usize,
    /// Request applied, then the connection closed without an answer.
    pub dropped_after: usize,
    /// Request applied, then 502/503 answered.
    pub errors_after: usize,
    /// Request applied, then its answer's body cut off half-way.
    pub truncated: usize,
    pub slow: usize,
    /// REST injections by route class (`"channel message"`, `"interaction callback"`, ...).
    pub by_route: BTreeMap<String, usize>,
    /// Gateway closes sent with `close_gateway`, by code.
    pub gateway_closes: BTreeMap<u16, usize>,
    /// Connections turned zombie with `stop_acking`.
    pub zombies: usize,
    /// Heartbeats left unacknowledged on zombie connections.
    pub acks_withheld: usize,
}

impl FaultCounts {
    pub fn rest_total(&self) -> usize {
        self.rate_limited
            + self.server_errors
            + self.dropped
            + self.dropped_after
            + self.errors_after
            + self.truncated
            + self.slow
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Status(u16),
    Drop,
    DropAfter,
    StatusAfter(u16),
    TruncateAfter,
}

struct FaultPlan {
    faults: Faults,
    rng: SplitMix,
}

/// Route class of a path, for counting injections.
fn route_class(method: &str, path: &str) -> String {
    let rest = path.strip_prefix("/api/v10/").unwrap_or(path);
    let segs: Vec<&str> = rest.split('/').collect();
    let class = match segs.as_slice() {
        ["interactions", ..] => "interaction callback",
        ["webhooks", ..] => "interaction webhook",
        ["channels", _, "messages"] if method == "POST" => "channel message",
        ["channels", _, "messages", _] if method == "PATCH" => "channel message edit",
        _ => "other",
    };
    class.to_owned()
}

impl FaultPlan {
    /// Draws this request's fault (and slowness); `None` if the path is not eligible.
    fn draw(&mut self, path: &str) -> Option<(Option<Fault>, Option<Duration>)> {
        if !self.faults.paths.iter().any(|p| path.starts_with(p)) {
            return None;
        }
        let f = &self.faults;
        let r = self.rng.unit();
        let pick = |rng: &mut SplitMix, choices: &[u16]| {
            choices[(rng.next() % choices.len() as u64) as usize]
        };
        let mut edge = f.rate_limit;
        let fault = if r < edge {
            Some(Fault::Status(429))
        } else if r < {
            edge += f.server_error;
            edge
        } {
            Some(Fault::Status(pick(&mut self.rng, &[500, 502, 503])))
        } else if r < {
            edge += f.drop;
            edge
        } {
            Some(Fault::Drop)
        } else if r < {
            edge += f.drop_after;
            edge
        } {
            Some(Fault::DropAfter)
        } else if r < {
            edge += f.error_after;
            edge
        } {
            Some(Fault::StatusAfter(pick(&mut self.rng, &[502, 503])))
        } else if r < {
            edge += f.truncate_after;
            edge
        } {
            Some(Fault::TruncateAfter)
        } else {
            None
        };
        let slow = (self.rng.unit() < self.faults.slow).then_some(self.faults.slow_delay);
        Some((fault, slow))
    }
}

type Kills = Arc<Mutex<HashMap<SocketAddr, Arc<AtomicU8>>>>;

/// States of a [`CuttableStream`].
const OPEN: u8 = 0;
const CUT: u8 = 1;
/// The next answer is written up to half its body, then the connection is cut.
const TRUNCATE: u8 = 2;
/// As `TRUNCATE`, the head already written.
const TRUNCATE_BODY: u8 = 3;

/// A TCP listener whose connections the fake can cut at will (a fault "drop").
struct CuttableListener {
    inner: tokio::net::TcpListener,
    kills: Kills,
}

impl axum::serve::Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CuttableStream, SocketAddr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Like Discord's edge, answer without Nagle's delay: small websocket frames would
        // otherwise wait out the peer's delayed ACK (~40 ms on loopback).
        let _ = tcp.set_nodelay(true);
        let cut = Arc::new(AtomicU8::new(OPEN));
        lock(&self.kills).insert(addr, cut.clone());
        let stream = CuttableStream {
            tcp,
            addr,
            cut,
            kills: self.kills.clone(),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Once `CUT`, every read and write fails, so hyper drops the connection without writing the
/// answer it was about to send: the client sees the connection close with no response.
struct CuttableStream {
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    cut: Arc<AtomicU8>,
    kills: Kills,
}

impl CuttableStream {
    fn check(&self) -> io::Result<()> {
        if self.cut.load(Ordering::SeqCst) == CUT {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "cut by FakeDiscord",
            ))
        } else {
            Ok(())
        }
    }
}

impl Drop for CuttableStream {
    fn drop(&mut self) {
        let mut kills = lock(&self.kills);
        if kills
            .get(&self.addr)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cut))
        {
            kills.remove(&self.addr);
        }
    }
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        // hyper writes an answer's head and body in one buffer (this stream is not vectored):
        // keep the head and half the body, then cut.
        let keep = match this.cut.load(Ordering::SeqCst) {
            TRUNCATE => match buf.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(at) if at + 4 < buf.len() => Some(at + 4 + (buf.len() - at - 4) / 2),
                Some(_) => {
                    this.cut.store(TRUNCATE_BODY, Ordering::SeqCst);
                    None
                }
                None => None,
            },
            TRUNCATE_BODY => Some(buf.len() / 2),
            _ => None,
        };
        match keep {
            None => Pin::new(&mut this.tcp).poll_write(cx, buf),
            Some(keep) => {
                let written = ready!(Pin::new(&mut this.tcp).poll_write(cx, &buf[..keep.max(1)]));
                this.cut.store(CUT, Ordering::SeqCst);
                Poll::Ready(written)
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// The peer of a REST request, to find its connection when a fault cuts it.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

impl Connected<IncomingStream<'_, CuttableListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
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
    fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply::json(status, json!({ "message": message, "code": code }))
    }
    fn not_found() -> Reply {
        Reply::error(404, 0, "404: Not Found")
    }
    /// A failure chosen by the test; 429s get the headers Discord sends with them.
    fn failure(status: u16, body: Value) -> Reply {
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
    pub async fn start() -> FakeDiscord {
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
            }),
        };
        let app = Router::new()
            .route("/gateway", get(gateway_upgrade))
            .fallback(rest)
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

    // ----- Gateway -----

    /// Waits until a gateway session has IDENTIFIED (or RESUMED) and been sent READY.
    pub async fn wait_ready(&self) {
        self.wait_until_for(
            "a gateway session to IDENTIFY and receive READY",
            READY_LIMIT,
            |f| f.state().session.as_ref().map(|_| ()),
        )
        .await;
    }

    /// Waits until at least `n` IDENTIFYs have been received and a session is open.
    pub async fn wait_identified(&self, n: usize) {
        self.wait_until_for(
            &format!("{n} gateway IDENTIFY(s) and an open session"),
            READY_LIMIT,
            |f| {
                let st = f.state();
                (st.identifies.len() >= n && st.session.is_some()).then_some(())
            },
        )
        .await;
    }

    pub fn identify_count(&self) -> usize {
        self.state().identifies.len()
    }

    /// The token of every IDENTIFY, in order, without the `Bot ` prefix serenity adds, so it
    /// compares equal to the configured token. `identifies()` has the payloads verbatim.
    pub fn identify_tokens(&self) -> Vec<String> {
        self.state()
            .identifies
            .iter()
            .map(|d| {
                let token = d["token"].as_str().unwrap_or_default();
                token.strip_prefix("Bot ").unwrap_or(token).to_owned()
            })
            .collect()
    }

    /// The `d` of every IDENTIFY (intents, shard, presence, ...).
    pub fn identifies(&self) -> Vec<Value> {
        self.state().identifies.clone()
    }

    pub fn resume_count(&self) -> usize {
        self.state().resumes
    }

    /// Every payload the bot sent over the gateway (heartbeats included), in order.
    pub fn gateway_received(&self) -> Vec<Value> {
        self.state().gateway_received.clone()
    }

    /// By default a RESUME is answered with INVALID_SESSION (d=false), so serenity re-identifies,
    /// which its shard queuer delays by up to 5 s. With `true`, a RESUME of a session this fake
    /// issued is accepted (RESUMED dispatch), making reconnect tests fast.
    pub fn accept_resumes(&self, accept: bool) {
        self.state().accept_resumes = accept;
    }

    /// Sends a dispatch (op 0) with the next sequence number on the current session, waiting for
    /// a session if there is none.
    pub async fn dispatch(&self, event: &str, d: Value) {
        self.dispatch_on_session(event, d, None, true).await;
    }

    /// Sends a dispatch on the current session; without one, waits for the next if `wait`, else
    /// gives up and returns `false`.
    async fn dispatch_on_session(
        &self,
        event: &str,
        d: Value,
        interaction: Option<u64>,
        wait: bool,
    ) -> bool {
        loop {
            if wait {
                self.wait_until("an open gateway session to dispatch on", |f| {
                    f.state().session.as_ref().map(|_| ())
                })
                .await;
            }
            let mut st = self.state();
            let Some(session) = st.session.as_mut() else {
                if wait {
                    continue;
                }
                return false;
            };
            session.seq += 1;
            let payload = json!({ "op": 0, "s": session.seq, "t": event, "d": d }).to_string();
            let outgoing = match interaction {
                Some(id) => Outgoing::Interaction(id, payload),
                None => Outgoing::Text(payload),
            };
            if session.tx.send(outgoing).is_ok() {
                return true;
            }
            // The connection task is gone; forget the session and wait for the next one.
            st.session = None;
        }
    }

    /// Sends INTERACTION_CREATE for `interaction` (as built by `support::interactions`).
    pub async fn inject(&self, interaction: Value) {
        let id = self.register_interaction(&interaction);
        self.dispatch_on_session("INTERACTION_CREATE", interaction, Some(id), true)
            .await;
    }

    /// Like [`Self::inject`], but only if a live gateway session is open now (as Discord, which
    /// fails the user's command when the bot is offline rather than queueing it). Returns
    /// whether it was sent; [`Self::delivered_interactions`] says once it is on the socket.
    pub async fn try_inject(&self, interaction: Value) -> bool {
        let id = self.register_interaction(&interaction);
        self.dispatch_on_session("INTERACTION_CREATE", interaction, Some(id), false)
            .await
    }

    /// Interactions whose INTERACTION_CREATE was written to an open gateway socket, in order.
    pub fn delivered_interactions(&self) -> Vec<u64> {
        self.state().delivered.clone()
    }

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

    /// HELLO's heartbeat interval for connections opened from now on (Discord: ~41 s). Short
    /// intervals let a test see missed ACKs acted on quickly.
    pub fn set_heartbeat_interval(&self, interval: Duration) {
        self.state().heartbeat_interval_ms = Some(interval.as_millis().max(1) as u64);
    }

    /// Plays dead on the current gateway connection: heartbeats stay unacknowledged and nothing
    /// more is dispatched on it, as with a zombied connection, until the bot gives up on it and
    /// reconnects. Returns `false` if no session was open.
    pub fn stop_acking(&self) -> bool {
        let mut st = self.state();
        let Some(session) = st.session.take() else {
            return false;
        };
        st.zombies.insert(session.conn_id);
        st.fault_counts.zombies += 1;
        drop(st);
        self.notify();
        true
    }

    /// Whether a session is open (identified or resumed, not zombied).
    pub fn session_open(&self) -> bool {
        self.state().session.is_some()
    }

    fn register_interaction(&self, interaction: &Value) -> u64 {
        let id = snowflake(&interaction["id"]).expect("inject: interaction has no id");
        let channel_id = snowflake(&interaction["channel_id"]).unwrap_or(1);
        let guild_id = snowflake(&interaction["guild_id"]);
        {
            let mut st = self.state();
            st.channel_guilds.insert(channel_id, guild_id);
            let message_id = snowflake(&interaction["message"]["id"]);
            if let Some(mid) = message_id {
                // Keep the component's message so UPDATE_MESSAGE / @original have a base.
                st.stored
                    .entry(mid)
                    .or_insert_with(|| interaction["message"].clone());
            }
            st.interactions.insert(
                id,
                Injected {
                    kind: interaction["type"].as_u64().unwrap_or(0),
                    token: interaction["token"].as_str().unwrap_or_default().to_owned(),
                    channel_id,
                    message_id,
                    at: Instant::now(),
                },
            );
        }
        id
    }

    /// Closes the current gateway websocket with `code` and waits until that connection is gone.
    pub async fn close_gateway(&self, code: u16) {
        let conn_id = {
            let mut st = self.state();
            let Some(session) = st.session.take() else {
                panic!("close_gateway: no open gateway session")
            };
            let _ = session.tx.send(Outgoing::Close(code));
            *st.fault_counts.gateway_closes.entry(code).or_default() += 1;
            if code == 4009 {
                // "Session timed out": Discord forgets it, so a RESUME of it is refused.
                st.session_ids.retain(|s| *s != session.session_id);
            }
            session.conn_id
        };
        self.notify();
        self.wait_until(&format!("gateway connection {conn_id} to close"), |f| {
            (!f.state().conns.contains_key(&conn_id)).then_some(())
        })
        .await;
    }

    /// Stops the server and closes every gateway connection (code 1001).
    pub async fn shutdown(self) {
        let conns: Vec<_> = {
            let mut st = self.state();
            st.session = None;
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

    async fn run_gateway(self, mut socket: WebSocket) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let conn_id = {
            let mut st = self.state();
            st.next_conn += 1;
            let id = st.next_conn;
            st.conns.insert(id, tx.clone());
            id
        };
        self.notify();
        let interval = self
            .state()
            .heartbeat_interval_ms
            .unwrap_or(HEARTBEAT_INTERVAL_MS);
        let hello =
            json!({ "op": 10, "s": null, "t": null, "d": { "heartbeat_interval": interval } });
        let mut open = socket
            .send(WsMessage::Text(hello.to_string().into()))
            .await
            .is_ok();
        while open {
            tokio::select! {
                incoming = socket.recv() => match incoming {
                    Some(Ok(WsMessage::Text(text))) => self.on_gateway_payload(conn_id, &tx, text.as_str()),
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        if let Ok(text) = std::str::from_utf8(&bytes) {
                            self.on_gateway_payload(conn_id, &tx, text);
                        }
                    },
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => open = false,
                    Some(Ok(_)) => {},
                },
                outgoing = rx.recv() => match outgoing {
                    Some(Outgoing::Text(text)) => open = socket.send(WsMessage::Text(text.into())).await.is_ok(),
                    Some(Outgoing::Interaction(id, text)) => {
                        // Recorded before the write: the bot may answer before this task runs
                        // again, and an answered interaction must already count as delivered.
                        self.state().delivered.push(id);
                        open = socket.send(WsMessage::Text(text.into())).await.is_ok();
                        if !open {
                            self.state().delivered.retain(|d| *d != id);
                        }
                        self.notify();
                    },
                    Some(Outgoing::Close(code)) => {
                        let frame = CloseFrame { code, reason: "closed by FakeDiscord".into() };
                        if socket.send(WsMessage::Close(Some(frame))).await.is_ok() {
                            // Let the client answer the close handshake so it sees a clean close
                            // frame rather than a reset connection.
                            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                                while let Some(Ok(msg)) = socket.recv().await {
                                    if matches!(msg, WsMessage::Close(_)) {
                                        break;
                                    }
                                }
                            })
                            .await;
                        }
                        open = false;
                    },
                    None => open = false,
                },
            }
        }
        {
            let mut st = self.state();
            st.conns.remove(&conn_id);
            if st.session.as_ref().is_some_and(|s| s.conn_id == conn_id) {
                st.session = None;
            }
        }
        self.notify();
    }

    fn on_gateway_payload(&self, conn_id: u64, tx: &mpsc::UnboundedSender<Outgoing>, text: &str) {
        let Ok(payload) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let mut st = self.state();
        st.gateway_received.push(payload.clone());
        let d = &payload["d"];
        match payload["op"].as_u64() {
            Some(1) if st.zombies.contains(&conn_id) => st.fault_counts.acks_withheld += 1,
            Some(1) => {
                let _ = tx.send(Outgoing::Text(
                    json!({ "op": 11, "s": null, "t": null, "d": null }).to_string(),
                ));
            }
            Some(2) => {
                st.identifies.push(d.clone());
                let session_id = format!("fake-session-{conn_id}-{}", st.identifies.len());
                st.session_ids.push(session_id.clone());
                let shard = if d["shard"].is_array() {
                    d["shard"].clone()
                } else {
                    json!([0, 1])
                };
                let ready = json!({
                    "op": 0, "s": 1, "t": "READY",
                    "d": {
                        "v": 10,
                        "user": bot_user_json(),
                        "guilds": [],
                        "session_id": session_id,
                        "resume_gateway_url": self.gateway_url(),
                        "shard": shard,
                        "application": { "id": APPLICATION_ID.to_string(), "flags": 0 },
                        "private_channels": [],
                        "relationships": [],
                    }
                });
                // Queued on the same channel as later dispatches, so READY always goes first.
                let _ = tx.send(Outgoing::Text(ready.to_string()));
                st.session = Some(Session {
                    conn_id,
                    session_id,
                    seq: 1,
                    tx: tx.clone(),
                });
            }
            Some(6) => {
                let known = d["session_id"]
                    .as_str()
                    .is_some_and(|s| st.session_ids.iter().any(|k| k == s));
                if st.accept_resumes && known {
                    st.resumes += 1;
                    let seq = d["seq"].as_u64().unwrap_or(0) + 1;
                    let resumed = json!({ "op": 0, "s": seq, "t": "RESUMED", "d": {} });
                    let _ = tx.send(Outgoing::Text(resumed.to_string()));
                    let session_id = d["session_id"].as_str().unwrap_or_default().to_owned();
                    st.session = Some(Session {
                        conn_id,
                        session_id,
                        seq,
                        tx: tx.clone(),
                    });
                } else {
                    let _ = tx.send(Outgoing::Text(
                        json!({ "op": 9, "s": null, "t": null, "d": false }).to_string(),
                    ));
                }
            }
            _ => {}
        }
        drop(st);
        self.notify();
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

    // ----- Failure injection -----

    /// Queues a one-shot failure for the next request with `method` whose path starts with
    /// `path_prefix` (with or without the `/api/v10` prefix). Queued failures are consumed in
    /// order; a 429 also gets `Retry-After` and `X-RateLimit-*` headers. A failed request has no
    /// other effect.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, body: Value) {
        self.state().failures.push_back(Failure {
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_owned(),
            status,
            body,
        });
    }

    /// Every `POST /channels/{channel_id}/messages` answers `status` (with Discord's usual body
    /// for it, see [`error_body`]) until [`Self::clear_channel_failure`].
    pub fn fail_channel(&self, channel_id: u64, status: u16) {
        self.state().failing_channels.insert(channel_id, status);
    }

    pub fn clear_channel_failure(&self, channel_id: u64) {
        self.state().failing_channels.remove(&channel_id);
    }

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

    // ----- Seeded faults -----

    /// Turns random REST faults on (replacing any earlier plan and its generator state).
    pub fn inject_faults(&self, faults: Faults) {
        let rng = SplitMix(faults.seed);
        self.state().faults = Some(FaultPlan { faults, rng });
    }

    /// Turns random REST faults off; the counts stay.
    pub fn clear_faults(&self) {
        self.state().faults = None;
    }

    /// Every fault injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.state().fault_counts.clone()
    }

    fn retry_after(&self) -> Duration {
        self.state()
            .faults
            .as_ref()
            .map_or(Duration::from_secs(1), |p| p.faults.retry_after)
    }

    /// Draws and counts the fault of one request.
    fn draw_fault(&self, method: &str, path: &str) -> (Option<Fault>, Option<Duration>) {
        let mut st = self.state();
        let Some((fault, slow)) = st.faults.as_mut().and_then(|p| p.draw(path)) else {
            return (None, None);
        };
        let counts = &mut st.fault_counts;
        match fault {
            Some(Fault::Status(429)) => counts.rate_limited += 1,
            Some(Fault::Status(_)) => counts.server_errors += 1,
            Some(Fault::Drop) => counts.dropped += 1,
            Some(Fault::DropAfter) => counts.dropped_after += 1,
            Some(Fault::StatusAfter(_)) => counts.errors_after += 1,
            // Counted when applied: an answer without a body is sent whole.
            Some(Fault::TruncateAfter) | None => {}
        }
        if slow.is_some() {
            counts.slow += 1;
        }
        if fault.is_some_and(|f| f != Fault::TruncateAfter) || slow.is_some() {
            *counts
                .by_route
                .entry(route_class(method, path))
                .or_default() += 1;
        }
        (fault, slow)
    }

    /// Closes the connection of `peer` without answering the request in flight on it.
    fn cut(&self, peer: SocketAddr) {
        if let Some(cut) = lock(&self.inner.kills).get(&peer) {
            cut.store(CUT, Ordering::SeqCst);
        }
    }

    /// Cuts the next answer on the connection of `peer` half-way through its body.
    fn truncate(&self, peer: SocketAddr) {
        if let Some(cut) = lock(&self.inner.kills).get(&peer) {
            cut.store(TRUNCATE, Ordering::SeqCst);
        }
    }

    /// Records a request answered by an injected fault without being handled.
    fn record_unhandled(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        raw: &Bytes,
        reply: &Reply,
    ) {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let (body, files) = parse_body(content_type, raw);
        self.state().requests.push(Recorded {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            body,
            authorization: headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            query: uri.query().map(str::to_owned),
            files,
            status: reply.status,
            response: reply.body.clone().unwrap_or(Value::Null),
        });
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
        let reply = self.route(
            &mut st,
            method.as_str(),
            &path,
            &body,
            authorization.as_deref(),
        );
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

    fn route(
        &self,
        st: &mut FakeState,
        method: &str,
        path: &str,
        body: &Value,
        auth: Option<&str>,
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
                        return refused;
                    }
                };
                let mut reply = create_channel_message(st, channel, body, now);
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

async fn rest(
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

async fn gateway_upgrade(
    AxumState(fake): AxumState<FakeDiscord>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| fake.run_gateway(socket))
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

/// JSON body, or the `payload_json` part of a multipart body plus the uploaded file names.
fn parse_body(content_type: &str, raw: &[u8]) -> (Value, Vec<String>) {
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

// ----- Discord's validation rules -----

/// A 400 "Invalid Form Body" (50035) whose `errors` nest along the dotted `path`.
fn form_error(path: &str, code: &str, message: &str) -> Value {
    let mut node = json!({ "_errors": [{ "code": code, "message": message }] });
    for seg in path.rsplit('.').filter(|s| !s.is_empty()) {
        let mut map = Map::new();
        map.insert(seg.to_owned(), node);
        node = Value::Object(map);
    }
    json!({ "code": 50035, "message": "Invalid Form Body", "errors": node })
}

fn invalid(path: &str, code: &str, message: &str) -> Reply {
    Reply::json(400, form_error(path, code, message))
}

fn too_long(path: &str, value: &Value, max: usize) -> Result<(), Reply> {
    match value.as_str() {
        Some(s) if s.chars().count() > max => Err(invalid(
            path,
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {max} or fewer in length."),
        )),
        _ => Ok(()),
    }
}

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Message limits; `allow_empty` for edits/updates where an empty body keeps the old message.
fn validate_message(msg: &Value, allow_empty: bool) -> Result<(), Reply> {
    too_long("content", &msg["content"], 2000)?;
    let embeds = msg["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        return Err(invalid(
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        ));
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let p = |field: &str| format!("embeds.{i}.{field}");
        too_long(&p("title"), &e["title"], 256)?;
        too_long(&p("description"), &e["description"], 4096)?;
        too_long(&p("footer.text"), &e["footer"]["text"], 2048)?;
        too_long(&p("author.name"), &e["author"]["name"], 256)?;
        total += len(&e["title"])
            + len(&e["description"])
            + len(&e["footer"]["text"])
            + len(&e["author"]["name"]);
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            return Err(invalid(
                &p("fields"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            let fp = |field: &str| format!("embeds.{i}.fields.{j}.{field}");
            if len(&f["name"]) == 0 || len(&f["value"]) == 0 {
                return Err(invalid(
                    &fp(if len(&f["name"]) == 0 {
                        "name"
                    } else {
                        "value"
                    }),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            }
            too_long(&fp("name"), &f["name"], 256)?;
            too_long(&fp("value"), &f["value"], 1024)?;
            total += len(&f["name"]) + len(&f["value"]);
        }
    }
    if total > 6000 {
        return Err(invalid(
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000",
        ));
    }
    validate_components(&msg["components"])?;
    let non_empty = |key: &str| msg[key].as_array().is_some_and(|a| !a.is_empty());
    let has_content = msg["content"]
        .as_str()
        .is_some_and(|c| !c.trim().is_empty());
    if !allow_empty
        && !has_content
        && !non_empty("embeds")
        && !non_empty("components")
        && !non_empty("sticker_ids")
        && !non_empty("attachments")
        && msg["poll"].is_null()
    {
        return Err(Reply::error(400, 50006, "Cannot send an empty message"));
    }
    Ok(())
}

fn validate_components(components: &Value) -> Result<(), Reply> {
    let Some(rows) = components.as_array() else {
        return Ok(());
    };
    if rows.len() > 5 {
        return Err(invalid(
            "components",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        ));
    }
    let mut custom_ids: Vec<String> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let children = row["components"].as_array().cloned().unwrap_or_default();
        if row["type"].as_u64() != Some(1) {
            continue; // Only classic action rows are checked.
        }
        if children.is_empty() || children.len() > 5 {
            return Err(invalid(
                &format!("components.{i}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            ));
        }
        let has_select = children
            .iter()
            .any(|c| matches!(c["type"].as_u64(), Some(3 | 5 | 6 | 7 | 8)));
        if has_select && children.len() > 1 {
            return Err(invalid(
                &format!("components.{i}.components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            ));
        }
        for (j, c) in children.iter().enumerate() {
            let p = |field: &str| format!("components.{i}.components.{j}.{field}");
            let is_link =
                c["type"].as_u64() == Some(2) && matches!(c["style"].as_u64(), Some(5 | 6));
            if !is_link {
                let Some(custom_id) = c["custom_id"].as_str() else {
                    return Err(invalid(
                        &p("custom_id"),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    ));
                };
                if custom_id.is_empty() || custom_id.chars().count() > 100 {
                    return Err(invalid(
                        &p("custom_id"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    ));
                }
                if custom_ids.iter().any(|c| c == custom_id) {
                    return Err(invalid(
                        &p("custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    ));
                }
                custom_ids.push(custom_id.to_owned());
            }
            too_long(&p("label"), &c["label"], 80)?;
            too_long(&p("placeholder"), &c["placeholder"], 150)?;
            if c["options"].as_array().is_some_and(|o| o.len() > 25) {
                return Err(invalid(
                    &p("options"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ));
            }
        }
    }
    Ok(())
}

fn validate_choices(data: &Value) -> Result<(), Reply> {
    let choices = data["choices"].as_array().cloned().unwrap_or_default();
    if choices.len() > 25 {
        return Err(invalid(
            "data.choices",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    for (i, c) in choices.iter().enumerate() {
        if len(&c["name"]) == 0 || len(&c["name"]) > 100 {
            return Err(invalid(
                &format!("data.choices.{i}.name"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        too_long(&format!("data.choices.{i}.value"), &c["value"], 100)?;
    }
    Ok(())
}

fn validate_modal(data: &Value) -> Result<(), Reply> {
    if len(&data["title"]) == 0 || len(&data["title"]) > 45 {
        return Err(invalid(
            "data.title",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 45 in length.",
        ));
    }
    if len(&data["custom_id"]) == 0 || len(&data["custom_id"]) > 100 {
        return Err(invalid(
            "data.custom_id",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ));
    }
    let rows = data["components"].as_array().map_or(0, Vec::len);
    if rows == 0 || rows > 5 {
        return Err(invalid(
            "data.components",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.",
        ));
    }
    Ok(())
}

/// Chat-input command names: 1-32 lowercase letters, digits, `-` or `_`.
fn valid_command_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name
            .chars()
            .all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase()))
}

fn validate_commands(commands: &[Value]) -> Result<(), Reply> {
    if commands.len() > 100 {
        return Err(invalid(
            "",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.",
        ));
    }
    let mut names: Vec<(u64, &str)> = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let kind = command["type"].as_u64().unwrap_or(1);
        let name = command["name"].as_str().unwrap_or_default();
        if names.contains(&(kind, name)) {
            return Err(invalid(
                &format!("{i}.name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                &format!("Application command names must be unique ({name})"),
            ));
        }
        names.push((kind, name));
        if kind != 1 {
            continue; // User/message context menus have looser rules and no options.
        }
        if !valid_command_name(name) {
            return Err(invalid(
                &format!("{i}.name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                &format!("Command name is invalid ({name:?})"),
            ));
        }
        let desc = len(&command["description"]);
        if desc == 0 || desc > 100 {
            return Err(invalid(
                &format!("{i}.description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        validate_options(&format!("{i}.options"), &command["options"], 0)?;
    }
    Ok(())
}

fn validate_options(path: &str, options: &Value, depth: usize) -> Result<(), Reply> {
    let Some(options) = options.as_array() else {
        return Ok(());
    };
    if options.len() > 25 {
        return Err(invalid(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    let mut seen_optional = false;
    let mut names = Vec::new();
    for (i, option) in options.iter().enumerate() {
        let p = |field: &str| format!("{path}.{i}.{field}");
        let kind = option["type"].as_u64().unwrap_or(0);
        let name = option["name"].as_str().unwrap_or_default();
        if !valid_command_name(name) {
            return Err(invalid(
                &p("name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                &format!("Option name is invalid ({name:?})"),
            ));
        }
        if names.contains(&name) {
            return Err(invalid(
                &p("name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                &format!("Option names must be unique ({name})"),
            ));
        }
        names.push(name);
        let desc = len(&option["description"]);
        if desc == 0 || desc > 100 {
            return Err(invalid(
                &p("description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        match kind {
            1 | 2 => {
                // Subcommand groups hold subcommands; subcommands hold plain options.
                if depth >= 2 || (kind == 2 && depth >= 1) {
                    return Err(invalid(
                        &p("type"),
                        "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                        "Subcommands nested too deeply",
                    ));
                }
                validate_options(&p("options"), &option["options"], depth + 1)?;
            }
            3..=11 => {
                let required = option["required"].as_bool().unwrap_or(false);
                if required && seen_optional {
                    return Err(invalid(
                        &p("required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    ));
                }
                seen_optional |= !required;
                let choices = option["choices"].as_array().map_or(0, Vec::len);
                if choices > 25 {
                    return Err(invalid(
                        &p("choices"),
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 25 or fewer in length.",
                    ));
                }
                if choices > 0 && option["autocomplete"].as_bool() == Some(true) {
                    return Err(invalid(
                        &p("autocomplete"),
                        "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                        "Autocomplete cannot be enabled with choices",
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    &p("type"),
                    "BASE_TYPE_CHOICES",
                    &format!("Value must be one of 1..=11 (got {kind})"),
                ))
            }
        }
    }
    Ok(())
}
