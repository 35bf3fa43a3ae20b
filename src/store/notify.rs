//! The `notify_prefs` table: where each member's reminders go in each guild.

use chrono::{DateTime, Utc};

use super::sql::sql;
use super::{id_in, time_out_opt, Db, StoreResult};
use crate::domain::ids::{GuildId, UserId};
use crate::domain::notify::ReminderDelivery;

impl Db {
    /// The member's choice in this guild (channel unless they chose otherwise).
    pub async fn reminder_delivery(
        &self,
        guild_id: GuildId,
        user_id: UserId,
    ) -> StoreResult<ReminderDelivery> {
        let choice: Option<String> =
            sql("SELECT reminders FROM notify_prefs WHERE guild_id = $1 AND user_id = $2")
                .bind(id_in(guild_id))
                .bind(id_in(user_id))
                .scalar_optional(self.on())
                .await?;
        Ok(choice.and_then(|c| c.parse().ok()).unwrap_or_default())
    }

    pub async fn set_reminder_delivery(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        choice: ReminderDelivery,
    ) -> StoreResult<()> {
        sql(
            "INSERT INTO notify_prefs (guild_id, user_id, reminders) VALUES ($1, $2, $3) \
             ON CONFLICT (guild_id, user_id) DO UPDATE SET reminders = excluded.reminders",
        )
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .bind(choice.as_str())
        .execute(self.on())
        .await?;
        // Choosing DMs again is the member saying they opened them: try at once.
        if choice != ReminderDelivery::Channel {
            sql(
                "UPDATE dm_channels SET refused_at = NULL, refused_code = NULL \
                 WHERE user_id = $1 AND refused_at IS NOT NULL",
            )
            .bind(id_in(user_id))
            .execute(self.on())
            .await?;
        }
        Ok(())
    }

    /// When Discord last refused a DM to the member (and its code), while that is remembered.
    pub async fn dm_refusal(&self, user_id: UserId) -> StoreResult<Option<(DateTime<Utc>, u64)>> {
        let row: Option<(Option<i64>, Option<i64>)> =
            sql("SELECT refused_at, refused_code FROM dm_channels WHERE user_id = $1")
                .bind(id_in(user_id))
                .fetch_optional(self.on())
                .await?;
        let Some((Some(at), code)) = row else {
            return Ok(None);
        };
        Ok(time_out_opt(Some(at))?.map(|at| (at, code.unwrap_or_default() as u64)))
    }
}
