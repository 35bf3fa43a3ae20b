//! The `guild_settings` and `user_settings` tables. Every setting has its own write, which
//! changes that column and nothing else: two managers changing two settings at once both win.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::duties::refresh_guild_duties;
use super::settings_cache::SETTINGS_CHANNEL;
use super::sql::{sql, Arg, Engine, Tx};
use super::{id_in, id_out, retry_conflicts, Db, StoreError, StoreResult};
use crate::domain::guild::GuildSettings;
use crate::domain::ids::{ChannelId, GuildId, RoleId, UserId};

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

record! {
    struct SettingsRow {
        manager_role_id: Option<i64>,
        timezone: String,
        alerts_channel_id: Option<i64>,
        reminder_offsets: String,
    }
}

/// A guild setting: the one column a write changes.
#[derive(Debug, Clone, Copy)]
enum Setting {
    ManagerRole,
    Timezone,
    AlertsChannel,
    ReminderOffsets,
}

impl Setting {
    fn column(self) -> &'static str {
        match self {
            Setting::ManagerRole => "manager_role_id",
            Setting::Timezone => "timezone",
            Setting::AlertsChannel => "alerts_channel_id",
            Setting::ReminderOffsets => "reminder_offsets",
        }
    }
}

/// Opens the guild's write transaction and sets one column of its settings row (created
/// first if the guild has none), leaving every other setting as it is.
async fn set_one(db: &Db, guild_id: GuildId, setting: Setting, value: Arg) -> StoreResult<Tx> {
    let mut tx = db.begin_write(guild_id).await?;
    sql("INSERT INTO guild_settings (guild_id) VALUES ($1) ON CONFLICT (guild_id) DO NOTHING")
        .bind(id_in(guild_id))
        .execute(tx.on())
        .await?;
    sql(format!(
        "UPDATE guild_settings SET {} = $1 WHERE guild_id = $2",
        setting.column()
    ))
    .bind(value)
    .bind(id_in(guild_id))
    .execute(tx.on())
    .await?;
    announce_settings_change(&mut tx, guild_id).await?;
    Ok(tx)
}

/// Tells every other process, at commit, that the guild's settings changed (PostgreSQL; one
/// process serves a SQLite file). The writer forgets its own cached copy after committing.
async fn announce_settings_change(tx: &mut Tx, guild_id: GuildId) -> StoreResult<()> {
    if tx.engine() == Engine::Postgres {
        sql("SELECT pg_notify($1, $2)")
            .bind(SETTINGS_CHANNEL)
            .bind(guild_id.get().to_string())
            .execute(tx.on())
            .await?;
    }
    Ok(())
}

impl Db {
    /// The guild's settings, or the defaults for a guild never configured.
    pub async fn guild_settings(&self, guild_id: GuildId) -> StoreResult<GuildSettings> {
        match self.settings_cache.get(guild_id) {
            Ok(settings) => Ok(settings),
            Err(ticket) => {
                let settings = self.read_guild_settings(guild_id).await?;
                self.settings_cache.put(ticket, &settings);
                Ok(settings)
            }
        }
    }

    async fn read_guild_settings(&self, guild_id: GuildId) -> StoreResult<GuildSettings> {
        let row: Option<SettingsRow> = sql(
            "SELECT manager_role_id, timezone, alerts_channel_id, reminder_offsets \
             FROM guild_settings WHERE guild_id = $1",
        )
        .bind(id_in(guild_id))
        .fetch_optional(self.on())
        .await?;
        let Some(row) = row else {
            return Ok(GuildSettings::new(guild_id));
        };
        Ok(GuildSettings {
            guild_id,
            manager_role_id: row.manager_role_id.map(id_out),
            timezone: row.timezone.parse::<Tz>().map_err(|_| {
                StoreError::Corrupt(format!("unknown time zone {:?}", row.timezone))
            })?,
            alerts_channel_id: row.alerts_channel_id.map(id_out),
            reminder_offsets: offsets_out(&row.reminder_offsets)?,
        })
    }

    pub async fn set_manager_role(&self, guild_id: GuildId, role: RoleId) -> StoreResult<()> {
        let set = retry_conflicts(|| async move {
            set_one(self, guild_id, Setting::ManagerRole, id_in(role).into())
                .await?
                .commit()
                .await
        })
        .await;
        self.settings_cache.forget(guild_id);
        set
    }

    /// Sets the guild's zone and, in the same transaction, moves a scheduled standup to the
    /// next run `reschedule` computes from its stored crontab in the new zone.
    pub async fn set_timezone(
        &self,
        guild_id: GuildId,
        zone: Tz,
        reschedule: impl Fn(&str) -> Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let reschedule = &reschedule;
        let moved = retry_conflicts(|| async move {
            let mut tx = set_one(self, guild_id, Setting::Timezone, zone.name().into()).await?;
            let scheduled: Option<(String, i64)> =
                sql("SELECT schedule, prompt_secs FROM standups \
                 WHERE guild_id = $1 AND next_run_at IS NOT NULL")
                .bind(id_in(guild_id))
                .fetch_optional(tx.on())
                .await?;
            let moved = scheduled.is_some();
            if let Some((schedule, prompt_secs)) = scheduled {
                let next_run = reschedule(&schedule);
                // The prompt moves with its summary (one already past is sent at once).
                let lead = crate::domain::roster::PromptLead::from_secs(prompt_secs);
                let next_prompt = next_run
                    .and_then(|run| crate::domain::roster::ask_times(run, lead))
                    .map(|(prompt, _)| prompt);
                sql(
                    "UPDATE standups SET next_run_at = $1, next_prompt_at = $2 WHERE guild_id = $3",
                )
                .bind(next_run.map(super::time_in))
                .bind(next_prompt.map(super::time_in))
                .bind(id_in(guild_id))
                .execute(tx.on())
                .await?;
            }
            tx.commit().await?;
            Ok(moved)
        })
        .await;
        self.settings_cache.forget(guild_id);
        if moved? {
            self.due_times_changed();
        }
        Ok(())
    }

    pub async fn set_alerts_channel(
        &self,
        guild_id: GuildId,
        channel: ChannelId,
    ) -> StoreResult<()> {
        let set = retry_conflicts(|| async move {
            set_one(
                self,
                guild_id,
                Setting::AlertsChannel,
                id_in(channel).into(),
            )
            .await?
            .commit()
            .await
        })
        .await;
        self.settings_cache.forget(guild_id);
        set
    }

    /// Sets the reminder offsets and recomputes every open task's next reminder with them, in
    /// one transaction: no reminder is claimed against a mix of old and new offsets.
    pub async fn set_reminder_offsets(
        &self,
        guild_id: GuildId,
        offsets: &[Duration],
    ) -> StoreResult<()> {
        let set = retry_conflicts(|| async move {
            let mut tx = set_one(
                self,
                guild_id,
                Setting::ReminderOffsets,
                offsets_in(offsets).into(),
            )
            .await?;
            refresh_guild_duties(&mut tx, guild_id).await?;
            tx.commit().await
        })
        .await;
        self.settings_cache.forget(guild_id);
        set?;
        self.due_times_changed();
        Ok(())
    }

    /// Clears the guild's manager role if it is `role_id` (the role was deleted from the
    /// guild). Returns whether it was the manager role.
    pub async fn forget_manager_role(
        &self,
        guild_id: GuildId,
        role_id: RoleId,
    ) -> StoreResult<bool> {
        let forgot = retry_conflicts(|| async move {
            let mut tx = self.begin_write(guild_id).await?;
            let done = sql("UPDATE guild_settings SET manager_role_id = NULL \
                 WHERE guild_id = $1 AND manager_role_id = $2")
            .bind(id_in(guild_id))
            .bind(id_in(role_id))
            .execute(tx.on())
            .await?;
            if done > 0 {
                announce_settings_change(&mut tx, guild_id).await?;
            }
            tx.commit().await?;
            Ok(done > 0)
        })
        .await;
        self.settings_cache.forget(guild_id);
        forgot
    }

    pub async fn user_timezone(&self, user_id: UserId) -> StoreResult<Option<Tz>> {
        let zone: Option<String> = sql("SELECT timezone FROM user_settings WHERE user_id = $1")
            .bind(id_in(user_id))
            .scalar_optional(self.on())
            .await?;
        // A zone that no longer parses (tz database change) falls back to the guild's.
        Ok(zone.and_then(|zone| zone.parse().ok()))
    }

    pub async fn set_user_timezone(&self, user_id: UserId, zone: Tz) -> StoreResult<()> {
        sql(
            "INSERT INTO user_settings (user_id, timezone) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET timezone = excluded.timezone",
        )
        .bind(id_in(user_id))
        .bind(zone.name())
        .execute(self.on())
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
