//! The duties worker's transport in the playground: every message it would send to Discord is
//! kept for the transcript instead, and answered as Discord would (a message id, a DM channel).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::{Clock, ManualClock};
use crate::discord::sender::{BoxFuture, Delivery, DmOpening, Transport};
use crate::domain::ids::{ChannelId, UserId};
use crate::store::{OutboxKind, OutboxRow};

/// One message the worker sent (or one edit of a message it had sent).
#[derive(Debug, Clone)]
pub struct Captured {
    pub message_id: u64,
    pub channel_id: u64,
    /// The recipient, for a direct message.
    pub dm_user: Option<u64>,
    /// Set for an edit: the message it changes.
    pub edits: Option<u64>,
    pub body: String,
}

#[derive(Debug, Default)]
struct State {
    sent: Vec<Captured>,
    dm_channels: HashMap<u64, u64>,
    /// Which user each opened DM channel belongs to.
    dm_users: HashMap<u64, u64>,
}

/// Hands out snowflake ids on the simulated clock, increasing even within one millisecond.
#[derive(Debug)]
pub struct Ids {
    clock: ManualClock,
    last: Mutex<u64>,
}

/// Discord's epoch (2015-01-01), in Unix milliseconds.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

impl Ids {
    pub fn new(clock: ManualClock) -> Self {
        Self {
            clock,
            last: Mutex::new(0),
        }
    }

    pub fn next(&self) -> u64 {
        let ms = (self.clock.now().timestamp_millis() - DISCORD_EPOCH_MS).max(0) as u64;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        *last = (ms << 22).max(*last + 1);
        *last
    }
}

/// The capture: the worker's messages land here, the playground drains them after each step.
#[derive(Debug)]
pub struct Capture {
    ids: Arc<Ids>,
    state: Mutex<State>,
}

/// DM channel ids start here (any number not used by the pretend guild's channels).
const DM_CHANNELS: u64 = 200_000_000_000_000_000;

impl Capture {
    pub fn new(ids: Arc<Ids>) -> Self {
        Self {
            ids,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the captured list half-written: pushes are atomic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What was sent since the last call, in the order it was sent.
    pub fn drain(&self) -> Vec<Captured> {
        std::mem::take(&mut self.state().sent)
    }

    /// The DM channel of `user`, opening it if needed (a click in a DM needs it).
    pub fn dm_channel(&self, user: u64) -> u64 {
        let mut state = self.state();
        let next = DM_CHANNELS + state.dm_channels.len() as u64 + 1;
        let channel = *state.dm_channels.entry(user).or_insert(next);
        state.dm_users.insert(channel, user);
        channel
    }

    /// Whose DMs a channel is, if it is a DM channel.
    pub fn dm_user(&self, channel: u64) -> Option<u64> {
        self.state().dm_users.get(&channel).copied()
    }
}

impl Transport for Capture {
    fn deliver_unless<'a>(
        &'a self,
        row: &'a OutboxRow,
        _stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Option<Delivery>> {
        Box::pin(async move {
            let channel_id = row.channel_id.get();
            let (message_id, edits) = match row.kind {
                OutboxKind::Post => (self.ids.next(), None),
                OutboxKind::Edit { message_id } => (message_id, Some(message_id)),
            };
            let dm_user = row
                .dm_user_id
                .map(UserId::get)
                .or_else(|| self.dm_user(channel_id));
            self.state().sent.push(Captured {
                message_id,
                channel_id,
                dm_user,
                edits,
                body: row.body.clone(),
            });
            Some(Delivery::Sent { message_id })
        })
    }

    fn open_dm(&self, user_id: UserId) -> BoxFuture<'_, DmOpening> {
        let channel = self.dm_channel(user_id.get());
        Box::pin(async move { DmOpening::Opened(ChannelId::new(channel)) })
    }
}
