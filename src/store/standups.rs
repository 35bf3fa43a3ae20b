//! The `standups`, `standup_runs` and `checkins` tables.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::sql::sql;
use super::tasks::{select_tasks, tasks_out, TaskRow};
use super::{
    id_in, id_out, retry_conflicts, time_in, time_out, time_out_opt, Db, StoreError, StoreResult,
};
use crate::domain::ids::{ChannelId, GuildId};
use crate::domain::roster::{next_ask_at, PromptLead};
use crate::domain::summary::Checkin;
use crate::domain::task::Task;

/// A guild's standup schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandupRow {
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    /// 5-field crontab in the guild's zone.
    pub schedule: String,
    /// None when summaries are off.
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_summary_at: Option<DateTime<Utc>>,
    /// How long before the summary the roster is asked.
    pub prompt_lead: PromptLead,
    /// The next prompt or nudge owed for the upcoming summary.
    pub next_prompt_at: Option<DateTime<Utc>>,
}

record! {
    struct StandupRecord {
        guild_id: i64,
        channel_id: i64,
        schedule: String,
        next_run_at: Option<i64>,
        last_summary_at: Option<i64>,
        prompt_secs: i64,
        next_prompt_at: Option<i64>,
    }
}

impl TryFrom<StandupRecord> for StandupRow {
    type Error = super::StoreError;

    fn try_from(row: StandupRecord) -> StoreResult<StandupRow> {
        Ok(StandupRow {
            guild_id: id_out(row.guild_id),
            channel_id: id_out(row.channel_id),
            schedule: row.schedule,
            next_run_at: time_out_opt(row.next_run_at)?,
            last_summary_at: time_out_opt(row.last_summary_at)?,
            prompt_lead: PromptLead::from_secs(row.prompt_secs),
            next_prompt_at: time_out_opt(row.next_prompt_at)?,
        })
    }
}

record! {
    struct CheckinRecord {
        id: i64,
        user_id: i64,
        yesterday: String,
        today: String,
        blockers: Option<String>,
        at: i64,
    }
}

const SELECT_STANDUP: &str = "SELECT guild_id, channel_id, schedule, next_run_at, \
     last_summary_at, prompt_secs, next_prompt_at FROM standups";

/// Prompts, nudges and channel messages not yet sent for a guild's upcoming summary are
/// dropped (the summary came, or the schedule changed or stopped): the asks are no longer
/// owed, and their stages' channel messages neither.
async fn drop_pending_asks(tx: &mut super::Tx, guild_id: GuildId) -> StoreResult<()> {
    sql("UPDATE outbox SET state = 'dropped' \
         WHERE guild_id = $1 AND state = 'pending' AND standup_run_at IS NOT NULL")
    .bind(id_in(guild_id))
    .execute(tx.on())
    .await?;
    sql("UPDATE standup_asks SET outcome = 'dropped' WHERE guild_id = $1 AND outcome IS NULL")
        .bind(id_in(guild_id))
        .execute(tx.on())
        .await?;
    sql("UPDATE standup_stages SET fallback_at = NULL WHERE guild_id = $1 AND fallback_at IS NOT NULL")
        .bind(id_in(guild_id))
        .execute(tx.on())
        .await?;
    Ok(())
}

impl Db {
    /// Standups matching `condition` (which binds `now` as $1 and a limit as $2).
    pub(super) async fn standups_where(
        &self,
        condition: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<StandupRow>> {
        // The condition ends in ORDER BY ... LIMIT, so the partition filter goes first.
        let mine = self.partitions.filter("guild_id");
        let rows: Vec<StandupRecord> =
            sql(format!("{SELECT_STANDUP} WHERE TRUE{mine} AND {condition}"))
                .bind(time_in(now))
                .bind(limit)
                .fetch_all(self.on())
                .await?;
        rows.into_iter().map(StandupRow::try_from).collect()
    }

    pub async fn standup(&self, guild_id: GuildId) -> StoreResult<Option<StandupRow>> {
        let row: Option<StandupRecord> = sql(format!("{SELECT_STANDUP} WHERE guild_id = $1"))
            .bind(id_in(guild_id))
            .fetch_optional(self.on())
            .await?;
        row.map(StandupRow::try_from).transpose()
    }

    /// Sets (or replaces) the guild's schedule; "since the last summary" is kept. The next run
    /// is computed by `next_run` in the guild's zone as stored in the same transaction, so a
    /// time-zone change made at the same moment cannot leave it in the old zone. `lead` (None:
    /// keep the current one) sets when the roster is asked; asks not yet sent for the old
    /// schedule are dropped. Returns the zone, the next run and the prompt lead.
    pub async fn set_standup(
        &self,
        guild_id: GuildId,
        channel_id: ChannelId,
        schedule: &str,
        lead: Option<PromptLead>,
        now: DateTime<Utc>,
        next_run: impl Fn(Tz) -> Option<DateTime<Utc>>,
    ) -> StoreResult<(Tz, Option<DateTime<Utc>>, PromptLead)> {
        retry_conflicts(|| {
            self.set_standup_once(guild_id, channel_id, schedule, lead, now, &next_run)
        })
        .await
    }

    async fn set_standup_once(
        &self,
        guild_id: GuildId,
        channel_id: ChannelId,
        schedule: &str,
        lead: Option<PromptLead>,
        now: DateTime<Utc>,
        next_run: &impl Fn(Tz) -> Option<DateTime<Utc>>,
    ) -> StoreResult<(Tz, Option<DateTime<Utc>>, PromptLead)> {
        let mut tx = self.begin_write(guild_id).await?;
        let lead = match lead {
            Some(lead) => lead,
            None => sql("SELECT prompt_secs FROM standups WHERE guild_id = $1")
                .bind(id_in(guild_id))
                .scalar_optional::<i64>(tx.on())
                .await?
                .map_or(PromptLead::DEFAULT, PromptLead::from_secs),
        };
        let zone: Option<String> = sql("SELECT timezone FROM guild_settings WHERE guild_id = $1")
            .bind(id_in(guild_id))
            .scalar_optional(tx.on())
            .await?;
        let zone = match zone {
            Some(zone) => zone
                .parse::<Tz>()
                .map_err(|_| StoreError::Corrupt(format!("unknown time zone {zone:?}")))?,
            None => Tz::UTC,
        };
        let next_run_at = next_run(zone);
        let next_prompt_at = next_run_at.and_then(|run| next_ask_at(run, lead, false, now));
        drop_pending_asks(&mut tx, guild_id).await?;
        sql(
            "INSERT INTO standups (guild_id, channel_id, schedule, next_run_at, prompt_secs, \
             next_prompt_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id, \
             schedule = excluded.schedule, next_run_at = excluded.next_run_at, \
             prompt_secs = excluded.prompt_secs, next_prompt_at = excluded.next_prompt_at",
        )
        .bind(id_in(guild_id))
        .bind(id_in(channel_id))
        .bind(schedule)
        .bind(next_run_at.map(time_in))
        .bind(lead.secs())
        .bind(next_prompt_at.map(time_in))
        .execute(tx.on())
        .await?;
        tx.commit().await?;
        self.due_times_changed();
        Ok((zone, next_run_at, lead))
    }

    /// Stops scheduled summaries. False if none were scheduled.
    pub async fn standup_off(&self, guild_id: GuildId) -> StoreResult<bool> {
        let mut tx = self.begin_write(guild_id).await?;
        let changed = sql(
            "UPDATE standups SET next_run_at = NULL, next_prompt_at = NULL \
             WHERE guild_id = $1 AND next_run_at IS NOT NULL",
        )
        .bind(id_in(guild_id))
        .execute(tx.on())
        .await?;
        drop_pending_asks(&mut tx, guild_id).await?;
        tx.commit().await?;
        // Nothing becomes due sooner; the worker simply finds no summary at its next wake.
        Ok(changed > 0)
    }

    /// Standups whose run is due at `now`.
    pub async fn due_standups(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<StandupRow>> {
        self.standups_where(
            "next_run_at <= $1 ORDER BY next_run_at LIMIT $2",
            now,
            limit,
        )
        .await
    }

    /// Claims the run at `scheduled_at` once (unique per guild and instant): stores its
    /// messages in the outbox, marks the check-ins it showed, moves "since" to `now` and sets
    /// the next run. False if that run was already claimed.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_standup(
        &self,
        standup: &StandupRow,
        scheduled_at: DateTime<Utc>,
        now: DateTime<Utc>,
        next_run_at: Option<DateTime<Utc>>,
        bodies: &[String],
        checkin_ids: &[i64],
    ) -> StoreResult<bool> {
        retry_conflicts(|| {
            self.claim_standup_once(standup, scheduled_at, now, next_run_at, bodies, checkin_ids)
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn claim_standup_once(
        &self,
        standup: &StandupRow,
        scheduled_at: DateTime<Utc>,
        now: DateTime<Utc>,
        next_run_at: Option<DateTime<Utc>>,
        bodies: &[String],
        checkin_ids: &[i64],
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write(standup.guild_id).await?;
        let claimed = sql(
            "INSERT INTO standup_runs (guild_id, scheduled_at) VALUES ($1, $2) \
             ON CONFLICT (guild_id, scheduled_at) DO NOTHING",
        )
        .bind(id_in(standup.guild_id))
        .bind(time_in(scheduled_at))
        .execute(tx.on())
        .await?
            > 0;
        if claimed {
            for body in bodies {
                sql(
                    "INSERT INTO outbox (guild_id, channel_id, kind, body, due_at, created_at, next_attempt_at) \
                     VALUES ($1, $2, 'post', $3, $4, $5, $5)",
                )
                .bind(id_in(standup.guild_id))
                .bind(id_in(standup.channel_id))
                .bind(body)
                .bind(time_in(scheduled_at))
                .bind(time_in(now))
                .execute(tx.on())
                .await?;
            }
            for id in checkin_ids {
                sql("UPDATE checkins SET summarized_at = $1 WHERE id = $2")
                    .bind(time_in(now))
                    .bind(*id)
                    .execute(tx.on())
                    .await?;
            }
            sql("UPDATE standups SET last_summary_at = $1 WHERE guild_id = $2")
                .bind(time_in(now))
                .bind(id_in(standup.guild_id))
                .execute(tx.on())
                .await?;
            // A prompt or nudge still waiting is no use once its summary is out.
            drop_pending_asks(&mut tx, standup.guild_id).await?;
        }
        let next_prompt_at =
            next_run_at.and_then(|run| next_ask_at(run, standup.prompt_lead, false, now));
        sql("UPDATE standups SET next_run_at = $1, next_prompt_at = $2 WHERE guild_id = $3")
            .bind(next_run_at.map(time_in))
            .bind(next_prompt_at.map(time_in))
            .bind(id_in(standup.guild_id))
            .execute(tx.on())
            .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// What a summary shows: open tasks, and tasks done after `done_since`.
    pub async fn summary_tasks(
        &self,
        guild_id: GuildId,
        done_since: DateTime<Utc>,
    ) -> StoreResult<Vec<Task>> {
        let rows: Vec<TaskRow> = sql(select_tasks(
            "WHERE t.guild_id = $1 AND t.deleted_at IS NULL \
             AND (t.status <> 'done' OR t.done_at > $2) ORDER BY t.number",
        ))
        .bind(id_in(guild_id))
        .bind(time_in(done_since))
        .fetch_all(self.on())
        .await?;
        tasks_out(rows)
    }

    /// Records a member's check-in; a second one before the next summary replaces the first.
    /// True if it replaced one.
    pub async fn record_checkin(&self, guild_id: GuildId, checkin: &Checkin) -> StoreResult<bool> {
        retry_conflicts(|| self.record_checkin_once(guild_id, checkin)).await
    }

    async fn record_checkin_once(&self, guild_id: GuildId, checkin: &Checkin) -> StoreResult<bool> {
        let mut tx = self.begin_write(guild_id).await?;
        let replaced = sql(
            "DELETE FROM checkins WHERE guild_id = $1 AND user_id = $2 AND summarized_at IS NULL",
        )
        .bind(id_in(guild_id))
        .bind(id_in(checkin.user_id))
        .execute(tx.on())
        .await?
            > 0;
        sql(
            "INSERT INTO checkins (guild_id, user_id, yesterday, today, blockers, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_in(guild_id))
        .bind(id_in(checkin.user_id))
        .bind(&checkin.yesterday)
        .bind(&checkin.today)
        .bind(&checkin.blockers)
        .bind(time_in(checkin.at))
        .execute(tx.on())
        .await?;
        // A member marked gone who checks in is back.
        sql("UPDATE standup_roster SET gone_at = NULL WHERE guild_id = $1 AND user_id = $2 AND gone_at IS NOT NULL")
            .bind(id_in(guild_id))
            .bind(id_in(checkin.user_id))
            .execute(tx.on())
            .await?;
        tx.commit().await?;
        Ok(replaced)
    }

    /// Check-ins not yet shown in a summary, with their ids.
    pub async fn pending_checkins(&self, guild_id: GuildId) -> StoreResult<Vec<(i64, Checkin)>> {
        let rows: Vec<CheckinRecord> = sql(
            "SELECT id, user_id, yesterday, today, blockers, at FROM checkins \
             WHERE guild_id = $1 AND summarized_at IS NULL ORDER BY at, id",
        )
        .bind(id_in(guild_id))
        .fetch_all(self.on())
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok((
                    row.id,
                    Checkin {
                        user_id: id_out(row.user_id),
                        yesterday: row.yesterday,
                        today: row.today,
                        blockers: row.blockers,
                        at: time_out(row.at)?,
                    },
                ))
            })
            .collect()
    }
}
