//! Guild-wide settings and projects.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::ids::{ChannelId, GuildId, RoleId, UserId};

#[derive(Debug, Clone, PartialEq)]
pub struct GuildSettings {
    pub guild_id: GuildId,
    pub manager_role_id: Option<RoleId>,
    pub timezone: Tz,
    pub alerts_channel_id: Option<ChannelId>,
    /// Longest first.
    pub reminder_offsets: Vec<Duration>,
}

impl GuildSettings {
    pub fn default_reminder_offsets() -> Vec<Duration> {
        vec![Duration::hours(24), Duration::hours(1)]
    }

    pub fn new(guild_id: GuildId) -> Self {
        Self {
            guild_id,
            manager_role_id: None,
            timezone: Tz::UTC,
            alerts_channel_id: None,
            reminder_offsets: Self::default_reminder_offsets(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub guild_id: GuildId,
    pub name: String,
    pub channel_id: Option<ChannelId>,
    pub description: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl Project {
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}
