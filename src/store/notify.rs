//! The `notify_prefs` table: where each member's reminders go in each guild.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;

use super::sql::sql;
use super::tasks::{select_tasks, tasks_out, TaskRow};
use super::{id_in, id_out, retry_conflicts, time_in, time_out, time_out_opt, Db, StoreResult};
use crate::domain::ids::{GuildId, UserId};
use crate::domain::notify::ReminderDelivery;
use crate::domain::task::Task;

/// A member's digest that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDigest {
    pub guild_id: GuildId,
    pub user_id: UserId,
    pub at: DateTime<Utc>,
    pub time: NaiveTime,
    pub zone: Tz,
}

const DIGEST_TIME: &str = "%H:%M";

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

    /// The member's digest in this guild: its time and zone, if it is on.
    pub async fn digest_of(
        &self,
        guild_id: GuildId,
        user_id: UserId,
    ) -> StoreResult<Option<(NaiveTime, Tz)>> {
        let row: Option<(Option<String>, Option<String>)> = sql(
            "SELECT digest_time, digest_zone FROM notify_prefs WHERE guild_id = $1 AND user_id = $2",
        )
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .fetch_optional(self.on())
        .await?;
        let Some((Some(time), Some(zone))) = row else {
            return Ok(None);
        };
        Ok(NaiveTime::parse_from_str(&time, DIGEST_TIME)
            .ok()
            .zip(zone.parse().ok()))
    }

    /// Turns the member's digest on at `time` in `zone` (next one at `next`), or off (None).
    pub async fn set_digest(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        digest: Option<(NaiveTime, Tz, DateTime<Utc>)>,
    ) -> StoreResult<()> {
        sql(
            "INSERT INTO notify_prefs (guild_id, user_id, digest_time, digest_zone, next_digest_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guild_id, user_id) DO UPDATE SET \
             digest_time = excluded.digest_time, digest_zone = excluded.digest_zone, \
             next_digest_at = excluded.next_digest_at",
        )
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .bind(digest.map(|(time, _, _)| time.format(DIGEST_TIME).to_string()))
        .bind(digest.map(|(_, zone, _)| zone.name().to_string()))
        .bind(digest.map(|(_, _, next)| time_in(next)))
        .execute(self.on())
        .await?;
        self.due_times_changed();
        Ok(())
    }

    /// Digests due at `now`.
    pub async fn due_digests(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<DueDigest>> {
        let rows: Vec<(i64, i64, i64, String, String)> = sql(format!(
            "SELECT guild_id, user_id, next_digest_at, digest_time, digest_zone FROM notify_prefs \
             WHERE next_digest_at <= $1{mine} ORDER BY next_digest_at LIMIT $2",
            mine = self.partitions.filter("guild_id")
        ))
        .bind(time_in(now))
        .bind(limit)
        .fetch_all(self.on())
        .await?;
        let mut due = Vec::new();
        for (guild, user, at, time, zone) in rows {
            let (Ok(time), Ok(zone)) =
                (NaiveTime::parse_from_str(&time, DIGEST_TIME), zone.parse())
            else {
                continue;
            };
            due.push(DueDigest {
                guild_id: id_out(guild),
                user_id: id_out(user),
                at: time_out(at)?,
                time,
                zone,
            });
        }
        Ok(due)
    }

    /// The member's open tasks that a digest may list: blocked, or due before `before`.
    pub async fn digest_candidates(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        before: DateTime<Utc>,
    ) -> StoreResult<Vec<Task>> {
        let rows: Vec<TaskRow> = sql(select_tasks(
            "WHERE t.guild_id = $1 AND t.assignee_id = $2 AND t.deleted_at IS NULL \
             AND t.status <> 'done' AND (t.status = 'blocked' OR t.due_at < $3) \
             ORDER BY t.due_at, t.number LIMIT 200",
        ))
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .bind(time_in(before))
        .fetch_all(self.on())
        .await?;
        tasks_out(rows)
    }

    /// Claims the digest at `due.at` once, moves the member's next one to `next`, and puts
    /// `body` (None: nothing to send today) into the outbox as a DM. False if already claimed.
    pub async fn claim_digest(
        &self,
        due: &DueDigest,
        now: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        body: Option<&str>,
    ) -> StoreResult<bool> {
        retry_conflicts(|| async move {
            let mut tx = self.begin_write(due.guild_id).await?;
            let claimed = sql(
                "INSERT INTO digest_runs (guild_id, user_id, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (guild_id, user_id, at) DO NOTHING",
            )
            .bind(id_in(due.guild_id))
            .bind(id_in(due.user_id))
            .bind(time_in(due.at))
            .execute(tx.on())
            .await?
                > 0;
            sql("UPDATE notify_prefs SET next_digest_at = $1 \
                 WHERE guild_id = $2 AND user_id = $3 AND next_digest_at = $4")
            .bind(next.map(time_in))
            .bind(id_in(due.guild_id))
            .bind(id_in(due.user_id))
            .bind(time_in(due.at))
            .execute(tx.on())
            .await?;
            if let (true, Some(body)) = (claimed, body) {
                sql(
                    "INSERT INTO outbox (guild_id, channel_id, kind, body, due_at, created_at, \
                     next_attempt_at, dm_user_id) VALUES ($1, 0, 'post', $2, $3, $4, $4, $5)",
                )
                .bind(id_in(due.guild_id))
                .bind(body)
                .bind(time_in(due.at))
                .bind(time_in(now))
                .bind(id_in(due.user_id))
                .execute(tx.on())
                .await?;
            }
            tx.commit().await?;
            Ok(claimed)
        })
        .await
    }

    /// The guild of a direct message the bot sent to `user_id` (from its stored record).
    pub async fn dm_guild(&self, message_id: u64, user_id: UserId) -> StoreResult<Option<GuildId>> {
        let guild: Option<i64> = sql(
            "SELECT guild_id FROM outbox WHERE message_id = $1 AND dm_user_id = $2 AND state = 'sent'",
        )
        .bind(id_in(message_id))
        .bind(id_in(user_id))
        .scalar_optional(self.on())
        .await?;
        Ok(guild.map(id_out))
    }
}
