//! Who is calling, where, and when: built fresh for every interaction from its own member data
//! (never a cache), then handed to the command's handler.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::CommandResult;
use crate::app::App;
use crate::domain::guild::GuildSettings;
use crate::domain::ids::{ChannelId, GuildId};
use crate::domain::permissions::{may, Action, Actor};

/// Everything a command handler needs to know about the call.
pub struct Context<'a> {
    pub app: &'a App,
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    pub actor: Actor,
    pub settings: GuildSettings,
    pub now: DateTime<Utc>,
    /// The number a `/task create` gave its task, so the command's log line can name it.
    pub created_task: std::sync::OnceLock<i64>,
}

impl Context<'_> {
    /// The zone the caller's typed dates are read in: theirs, else the guild's (UTC by default).
    pub async fn typing_zone(&self) -> CommandResult<Tz> {
        Ok(self
            .app
            .db
            .user_timezone(self.actor.user_id)
            .await?
            .unwrap_or(self.settings.timezone))
    }

    pub fn require(&self, action: Action) -> CommandResult<()> {
        may(&self.actor, action, None).map_err(|r| super::CommandError::User(r.into()))
    }
}
