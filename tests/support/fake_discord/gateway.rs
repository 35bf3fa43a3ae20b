//! The gateway websocket: HELLO, IDENTIFY and RESUME, dispatches (interactions among them),
//! closes with a chosen code, and zombie connections whose heartbeats go unacknowledged.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::rest::bot_user_json;
use super::{snowflake, FakeDiscord, Injected, APPLICATION_ID};

const READY_LIMIT: Duration = Duration::from_secs(30);
const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

pub(super) struct Session {
    conn_id: u64,
    session_id: String,
    seq: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
}

pub(super) enum Outgoing {
    Text(String),
    /// An INTERACTION_CREATE dispatch: counted as delivered once written to the socket.
    Interaction(u64, String),
    Close(u16),
}

impl FakeDiscord {
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

    /// Sends a dispatch about `guild_id` to the session of the shard that guild belongs to
    /// (the only session when the bot runs one shard), waiting for that shard's session.
    pub async fn dispatch_to_guild(&self, event: &str, d: Value, guild_id: u64) {
        self.dispatch_routed(event, d, None, Some(guild_id), true)
            .await;
    }

    /// Events dispatched to each shard's session, as (shard id, event name), in order.
    pub fn shard_dispatches(&self) -> Vec<(u64, String)> {
        self.state().shard_dispatches.clone()
    }

    /// The shards with an open session now.
    pub fn open_shards(&self) -> Vec<u64> {
        let mut shards: Vec<u64> = self.state().shard_sessions.keys().copied().collect();
        shards.sort_unstable();
        shards
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
        // An interaction goes to its guild's shard, as Discord sends it.
        let guild = snowflake(&d["guild_id"]);
        self.dispatch_routed(event, d, interaction, guild, wait)
            .await
    }

    async fn dispatch_routed(
        &self,
        event: &str,
        d: Value,
        interaction: Option<u64>,
        guild: Option<u64>,
        wait: bool,
    ) -> bool {
        loop {
            if wait {
                self.wait_until("an open gateway session to dispatch on", |f| {
                    let st = f.state();
                    match (guild, st.shard_sessions.is_empty()) {
                        (Some(guild), false) => shard_of(&st.shard_sessions, guild).map(|_| ()),
                        _ => st.session.as_ref().map(|_| ()),
                    }
                })
                .await;
            }
            let mut st = self.state();
            let shard = match guild {
                Some(guild) if !st.shard_sessions.is_empty() => shard_of(&st.shard_sessions, guild),
                _ => None,
            };
            if let Some(shard) = shard {
                st.shard_dispatches.push((shard, event.to_owned()));
            }
            let session = match shard {
                Some(shard) => st.shard_sessions.get_mut(&shard).map(|(_, s)| s),
                None if guild.is_some() && !st.shard_sessions.is_empty() => None,
                None => st.session.as_mut(),
            };
            let Some(session) = session else {
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
            match shard {
                Some(shard) => {
                    st.shard_sessions.remove(&shard);
                }
                None => st.session = None,
            }
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

    pub(super) fn register_interaction(&self, interaction: &Value) -> u64 {
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
            st.shard_sessions.retain(|_, (_, s)| s.conn_id != conn_id);
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
                if let (Some(id), Some(total)) = (shard[0].as_u64(), shard[1].as_u64()) {
                    if total > 1 {
                        let session = Session {
                            conn_id,
                            session_id: session_id.clone(),
                            seq: 1,
                            tx: tx.clone(),
                        };
                        st.shard_sessions.insert(id, (total, session));
                    }
                }
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
}

/// The shard whose session gets `guild`'s events, if that shard has a session now.
fn shard_of(sessions: &std::collections::HashMap<u64, (u64, Session)>, guild: u64) -> Option<u64> {
    sessions
        .iter()
        .find(|(id, (total, _))| (guild >> 22) % total == **id)
        .map(|(id, _)| *id)
}

pub(super) async fn gateway_upgrade(
    AxumState(fake): AxumState<FakeDiscord>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| fake.run_gateway(socket))
}
