//! The `guild_settings` and `user_settings` tables.

use chrono::Duration;
use chrono_tz::Tz;
use sqlx::Row;

use super::{id_in, id_out, Db, StoreError, StoreResult};
use crate::domain::guild::GuildSettings;

pub(super) fn offsets_out(text: &str) -> StoreResult<Vec<Duration>> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<i64>()
                .map(Duration::seconds)
                .map_err(|_| StoreError::Corrupt(format!("bad reminder offsets {text:?}")))
        })
        .collect()
}

fn offsets_in(offsets: &[Duration]) -> String {
    offsets
        .iter()
        .map(|offset| offset.num_seconds().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Db {
    /// The guild's settings, or the defaults for a guild never configured.
    pub async fn guild_settings(&self, guild_id: u64) -> StoreResult<GuildSettings> {
        let row = sqlx::query(
            "SELECT manager_role_id, timezone, alerts_channel_id, reminder_offsets \
             FROM guild_settings WHERE guild_id = $1",
        )
        .bind(id_in(guild_id))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(GuildSettings::new(guild_id));
        };
        let zone: String = row.try_get("timezone")?;
        Ok(GuildSettings {
            guild_id,
            manager_role_id: row
                .try_get::<Option<i64>, _>("manager_role_id")?
                .map(id_out),
            timezone: zone
                .parse::<Tz>()
                .map_err(|_| StoreError::Corrupt(format!("unknown time zone {zone:?}")))?,
            alerts_channel_id: row
                .try_get::<Option<i64>, _>("alerts_channel_id")?
                .map(id_out),
            reminder_offsets: offsets_out(&row.try_get::<String, _>("reminder_offsets")?)?,
        })
    }

    /// Writes every guild setting at once (callers change one field of what they read).
    pub async fn save_guild_settings(&self, settings: &GuildSettings) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO guild_settings (guild_id, manager_role_id, timezone, alerts_channel_id, reminder_offsets) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (guild_id) DO UPDATE SET manager_role_id = excluded.manager_role_id, \
             timezone = excluded.timezone, alerts_channel_id = excluded.alerts_channel_id, \
             reminder_offsets = excluded.reminder_offsets",
        )
        .bind(id_in(settings.guild_id))
        .bind(settings.manager_role_id.map(id_in))
        .bind(settings.timezone.name())
        .bind(settings.alerts_channel_id.map(id_in))
        .bind(offsets_in(&settings.reminder_offsets))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Clears the guild's manager role if it is `role_id` (the role was deleted from the
    /// guild). Returns whether it was the manager role.
    pub async fn forget_manager_role(&self, guild_id: u64, role_id: u64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE guild_settings SET manager_role_id = NULL \
             WHERE guild_id = $1 AND manager_role_id = $2",
        )
        .bind(id_in(guild_id))
        .bind(id_in(role_id))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn user_timezone(&self, user_id: u64) -> StoreResult<Option<Tz>> {
        let zone: Option<String> =
            sqlx::query_scalar("SELECT timezone FROM user_settings WHERE user_id = $1")
                .bind(id_in(user_id))
                .fetch_optional(&self.pool)
                .await?;
        // A zone that no longer parses (tz database change) falls back to the guild's.
        Ok(zone.and_then(|zone| zone.parse().ok()))
    }

    pub async fn set_user_timezone(&self, user_id: u64, zone: Tz) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_settings (user_id, timezone) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET timezone = excluded.timezone",
        )
        .bind(id_in(user_id))
        .bind(zone.name())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip() {
        let offsets = vec![Duration::days(1), Duration::minutes(30)];
        assert_eq!(offsets_out(&offsets_in(&offsets)).ok(), Some(offsets));
        assert!(offsets_out("12,x").is_err());
    }
}
