//! Injected REST faults: one-shot failures (`fail_next`, `fail_channel`), and seeded random
//! ones (429, 5xx, slow answers, connections cut before or after the request took effect,
//! answers cut off mid-body), with a TCP listener whose connections can be cut at will.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, Uri};
use axum::serve::IncomingStream;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::super::rng::SplitMix;
use super::rest::{parse_body, Reply};
use super::{lock, FakeDiscord, Recorded};

pub(super) struct Failure {
    pub(super) method: String,
    pub(super) path_prefix: String,
    pub(super) status: u16,
    pub(super) body: Value,
}

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
pub(super) enum Fault {
    Status(u16),
    Drop,
    DropAfter,
    StatusAfter(u16),
    TruncateAfter,
}

pub(super) struct FaultPlan {
    faults: Faults,
    rng: SplitMix,
}

/// Route class of a path, for counting injections.
pub(super) fn route_class(method: &str, path: &str) -> String {
    let rest = path.strip_prefix("/api/v10/").unwrap_or(path);
    let segs: Vec<&str> = rest.split('/').collect();
    let class = match segs.as_slice() {
        ["interactions", ..] => "interaction callback",
        ["webhooks", ..] => "interaction webhook",
        ["channels", _, "messages"] if method == "POST" => "channel message",
        ["channels", _, "messages", _] if method == "PATCH" => "channel message edit",
        ["users", "@me", "channels"] if method == "POST" => "dm open",
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

pub(super) type Kills = Arc<Mutex<HashMap<SocketAddr, Arc<AtomicU8>>>>;

/// States of a [`CuttableStream`].
const OPEN: u8 = 0;
const CUT: u8 = 1;
/// The next answer is written up to half its body, then the connection is cut.
const TRUNCATE: u8 = 2;
/// As `TRUNCATE`, the head already written.
const TRUNCATE_BODY: u8 = 3;

/// A TCP listener whose connections the fake can cut at will (a fault "drop").
pub(super) struct CuttableListener {
    pub(super) inner: tokio::net::TcpListener,
    pub(super) kills: Kills,
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
pub(super) struct CuttableStream {
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
pub(super) struct Peer(pub(super) SocketAddr);

impl Connected<IncomingStream<'_, CuttableListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl FakeDiscord {
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

    pub(super) fn retry_after(&self) -> Duration {
        self.state()
            .faults
            .as_ref()
            .map_or(Duration::from_secs(1), |p| p.faults.retry_after)
    }

    /// Draws and counts the fault of one request.
    pub(super) fn draw_fault(&self, method: &str, path: &str) -> (Option<Fault>, Option<Duration>) {
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
    pub(super) fn cut(&self, peer: SocketAddr) {
        if let Some(cut) = lock(&self.inner.kills).get(&peer) {
            cut.store(CUT, Ordering::SeqCst);
        }
    }

    /// Cuts the next answer on the connection of `peer` half-way through its body.
    pub(super) fn truncate(&self, peer: SocketAddr) {
        if let Some(cut) = lock(&self.inner.kills).get(&peer) {
            cut.store(TRUNCATE, Ordering::SeqCst);
        }
    }

    /// Records a request answered by an injected fault without being handled.
    pub(super) fn record_unhandled(
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
        let mut st = self.state();
        st.note_dm_open(
            method.as_str(),
            uri.path(),
            &body,
            reply.status,
            Instant::now(),
        );
        st.requests.push(Recorded {
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
}
