//! The standup roster, away periods, direct-message channels, and the prompts and nudges
//! before each summary (`standup_roster`, `away_periods`, `dm_channels`, `standup_stages`,
//! `standup_asks`).

use chrono::{DateTime, Duration, Utc};

use super::sql::sql;
use super::standups::StandupRow;
use super::{id_in, id_out, retry_conflicts, time_in, time_out, Db, StoreResult};
use crate::domain::ids::{ChannelId, GuildId, UserId};
use crate::domain::roster::{AwayPeriod, RosterMember, Stage};
use crate::domain::summary::Checkin;

/// A member whom Discord would not let us DM is asked in the channel instead, and tried by
/// DM again after this long.
pub const DM_RETRY_AFTER: Duration = Duration::days(7);

/// The channel message for those a stage could not reach by DM waits at most this long for
/// the stage's DMs to finish.
pub const FALLBACK_AFTER: Duration = Duration::seconds(60);

/// Discord's answers that mean a member cannot be sent a DM: DMs closed (50007), no server in
/// common any more (50278), the account is gone (10013). The last two mean they left.
pub const DM_CLOSED: u64 = 50_007;
pub const NO_MUTUAL_GUILD: u64 = 50_278;
pub const UNKNOWN_USER: u64 = 10_013;

pub fn is_dm_refusal(code: u64) -> bool {
    matches!(code, DM_CLOSED | NO_MUTUAL_GUILD | UNKNOWN_USER)
}

/// What a claimed prompt or nudge does: DMs to make, and whether its channel fallback is due
/// at once (nobody left to DM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedAsk {
    pub stage: Stage,
    /// Members sent a DM.
    pub dms: usize,
    /// Members already known not to take DMs: they go straight to the channel message.
    pub refused: usize,
}

/// A channel message owed to those a stage could not DM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFallback {
    pub guild_id: GuildId,
    pub run_at: DateTime<Utc>,
    pub stage: Stage,
}

/// Where a posted prompt came from, read back when its buttons are pressed in a DM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostedPrompt {
    pub guild_id: GuildId,
    /// The member it was sent to (None for a channel message).
    pub recipient: Option<UserId>,
}

record! {
    struct AwayRecord {
        user_id: i64,
        from_at: i64,
        until_at: i64,
        note: Option<String>,
    }
}

impl TryFrom<AwayRecord> for AwayPeriod {
    type Error = super::StoreError;

    fn try_from(row: AwayRecord) -> StoreResult<AwayPeriod> {
        Ok(AwayPeriod {
            user_id: id_out(row.user_id),
            from: time_out(row.from_at)?,
            until: time_out(row.until_at)?,
            note: row.note,
        })
    }
}

impl Db {
    /// Puts `user_id` on the guild's roster (and counts them again if they were marked gone).
    /// False if they were already on it.
    pub async fn join_roster(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let was_gone = sql("UPDATE standup_roster SET gone_at = NULL \
             WHERE guild_id = $1 AND user_id = $2 AND gone_at IS NOT NULL")
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .execute(self.on())
        .await?;
        let added = sql(
            "INSERT INTO standup_roster (guild_id, user_id, joined_at) VALUES ($1, $2, $3) \
             ON CONFLICT (guild_id, user_id) DO NOTHING",
        )
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .bind(time_in(now))
        .execute(self.on())
        .await?;
        Ok(added > 0 || was_gone > 0)
    }

    /// Takes `user_id` off the roster. False if they were not on it.
    pub async fn leave_roster(&self, guild_id: GuildId, user_id: UserId) -> StoreResult<bool> {
        let removed = sql("DELETE FROM standup_roster WHERE guild_id = $1 AND user_id = $2")
            .bind(id_in(guild_id))
            .bind(id_in(user_id))
            .execute(self.on())
            .await?;
        Ok(removed > 0)
    }

    /// The roster, in the order people joined.
    pub async fn roster(&self, guild_id: GuildId) -> StoreResult<Vec<RosterMember>> {
        let rows: Vec<(i64, Option<i64>)> = sql(
            "SELECT user_id, gone_at FROM standup_roster WHERE guild_id = $1 \
             ORDER BY joined_at, user_id",
        )
        .bind(id_in(guild_id))
        .fetch_all(self.on())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(user, gone)| RosterMember {
                user_id: id_out(user),
                gone: gone.is_some(),
            })
            .collect())
    }

    /// Sets a member's away period, replacing any earlier one.
    pub async fn set_away(
        &self,
        guild_id: GuildId,
        period: &AwayPeriod,
        set_by: UserId,
    ) -> StoreResult<()> {
        sql(
            "INSERT INTO away_periods (guild_id, user_id, from_at, until_at, note, set_by) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guild_id, user_id) DO UPDATE SET \
             from_at = excluded.from_at, until_at = excluded.until_at, note = excluded.note, \
             set_by = excluded.set_by",
        )
        .bind(id_in(guild_id))
        .bind(id_in(period.user_id))
        .bind(time_in(period.from))
        .bind(time_in(period.until))
        .bind(&period.note)
        .bind(id_in(set_by))
        .execute(self.on())
        .await?;
        Ok(())
    }

    /// Ends a member's away period (current or upcoming). False if there was none.
    pub async fn clear_away(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let cleared =
            sql("DELETE FROM away_periods WHERE guild_id = $1 AND user_id = $2 AND until_at > $3")
                .bind(id_in(guild_id))
                .bind(id_in(user_id))
                .bind(time_in(now))
                .execute(self.on())
                .await?;
        Ok(cleared > 0)
    }

    /// Away periods that have not ended by `now` (current and upcoming), soonest end first.
    pub async fn away_periods(
        &self,
        guild_id: GuildId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<AwayPeriod>> {
        let rows: Vec<AwayRecord> =
            sql("SELECT user_id, from_at, until_at, note FROM away_periods \
             WHERE guild_id = $1 AND until_at > $2 ORDER BY until_at, user_id")
            .bind(id_in(guild_id))
            .bind(time_in(now))
            .fetch_all(self.on())
            .await?;
        rows.into_iter().map(AwayPeriod::try_from).collect()
    }

    /// The member's check-in not yet shown in a summary, to prefill the check-in form.
    pub async fn pending_checkin_of(
        &self,
        guild_id: GuildId,
        user_id: UserId,
    ) -> StoreResult<Option<Checkin>> {
        let row: Option<(String, String, Option<String>, i64)> =
            sql("SELECT yesterday, today, blockers, at FROM checkins \
             WHERE guild_id = $1 AND user_id = $2 AND summarized_at IS NULL")
            .bind(id_in(guild_id))
            .bind(id_in(user_id))
            .fetch_optional(self.on())
            .await?;
        row.map(|(yesterday, today, blockers, at)| {
            Ok(Checkin {
                user_id,
                yesterday,
                today,
                blockers,
                at: time_out(at)?,
            })
        })
        .transpose()
    }

    /// Standups whose next prompt or nudge is due at `now`.
    pub async fn due_asks(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<StandupRow>> {
        self.standups_where(
            "next_prompt_at <= $1 AND next_run_at IS NOT NULL ORDER BY next_prompt_at LIMIT $2",
            now,
            limit,
        )
        .await
    }

    /// Claims the next ask (prompt, else nudge) of the summary at `standup.next_run_at`, once:
    /// records the stage, one ask per member to reach (roster, not gone, not away, not checked
    /// in), and a DM in the outbox for each member who takes DMs, all in one transaction.
    /// `body` renders the DM of a stage. None if there was nothing left to claim.
    pub async fn claim_ask(
        &self,
        standup: &StandupRow,
        now: DateTime<Utc>,
        body: impl Fn(Stage) -> String,
    ) -> StoreResult<Option<ClaimedAsk>> {
        retry_conflicts(|| self.claim_ask_once(standup, now, &body)).await
    }

    async fn claim_ask_once(
        &self,
        standup: &StandupRow,
        now: DateTime<Utc>,
        body: &impl Fn(Stage) -> String,
    ) -> StoreResult<Option<ClaimedAsk>> {
        let Some(run_at) = standup.next_run_at else {
            return Ok(None);
        };
        let guild = id_in(standup.guild_id);
        let run = time_in(run_at);
        let mut tx = self.begin_write(standup.guild_id).await?;
        // Read again under the guild's write lock: another worker may have claimed it.
        let current: Option<(Option<i64>, Option<i64>)> =
            sql("SELECT next_run_at, next_prompt_at FROM standups WHERE guild_id = $1")
                .bind(guild)
                .fetch_optional(tx.on())
                .await?;
        let Some((Some(current_run), Some(next_prompt))) = current else {
            return Ok(None);
        };
        if current_run != run || next_prompt > time_in(now) {
            return Ok(None);
        }
        let claimed: Vec<String> =
            sql("SELECT stage FROM standup_stages WHERE guild_id = $1 AND run_at = $2")
                .bind(guild)
                .bind(run)
                .scalars(tx.on())
                .await?;
        let prompted = claimed.iter().any(|s| s == Stage::Prompt.as_str());
        let stage = if prompted {
            Stage::Nudge
        } else {
            Stage::Prompt
        };
        let next = if prompted {
            None
        } else {
            crate::domain::roster::next_ask_at(run_at, standup.prompt_lead, true, now)
        };
        sql("UPDATE standups SET next_prompt_at = $1 WHERE guild_id = $2")
            .bind(next.map(time_in))
            .bind(guild)
            .execute(tx.on())
            .await?;
        if claimed.iter().any(|s| s == stage.as_str()) {
            tx.commit().await?;
            return Ok(None);
        }
        // Whom to ask: on the roster, not gone, not away now, no check-in since the summary.
        let users: Vec<(i64, Option<i64>, Option<i64>)> = sql(
            "SELECT r.user_id, d.channel_id, d.refused_at FROM standup_roster r \
             LEFT JOIN dm_channels d ON d.user_id = r.user_id \
             WHERE r.guild_id = $1 AND r.gone_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM away_periods a WHERE a.guild_id = r.guild_id \
               AND a.user_id = r.user_id AND a.from_at <= $2 AND a.until_at > $2) \
             AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.guild_id = r.guild_id \
               AND c.user_id = r.user_id AND c.summarized_at IS NULL) \
             ORDER BY r.joined_at, r.user_id",
        )
        .bind(guild)
        .bind(time_in(now))
        .fetch_all(tx.on())
        .await?;
        let dm_body = body(stage);
        let mut outcome = ClaimedAsk {
            stage,
            dms: 0,
            refused: 0,
        };
        let retry_before = time_in(now - DM_RETRY_AFTER);
        for (user, channel, refused_at) in users {
            let (outbox_id, result) = if refused_at.is_some_and(|at| at > retry_before) {
                outcome.refused += 1;
                (None, Some("refused"))
            } else {
                outcome.dms += 1;
                let id: i64 = sql(
                    "INSERT INTO outbox (guild_id, channel_id, kind, body, due_at, created_at, \
                     next_attempt_at, dm_user_id, standup_run_at) \
                     VALUES ($1, $2, 'post', $3, $4, $4, $4, $5, $6) RETURNING id",
                )
                .bind(guild)
                .bind(channel.unwrap_or(0))
                .bind(&dm_body)
                .bind(time_in(now))
                .bind(user)
                .bind(run)
                .scalar(tx.on())
                .await?;
                (Some(id), None)
            };
            sql(
                "INSERT INTO standup_asks (guild_id, run_at, stage, user_id, outbox_id, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(guild)
            .bind(run)
            .bind(stage.as_str())
            .bind(user)
            .bind(outbox_id)
            .bind(result)
            .execute(tx.on())
            .await?;
        }
        // With no DM on the way, the channel message is due at once.
        let fallback_at = if outcome.dms == 0 {
            now
        } else {
            now + FALLBACK_AFTER
        };
        sql(
            "INSERT INTO standup_stages (guild_id, run_at, stage, claimed_at, fallback_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(guild)
        .bind(run)
        .bind(stage.as_str())
        .bind(time_in(now))
        .bind(time_in(fallback_at))
        .execute(tx.on())
        .await?;
        tx.commit().await?;
        self.due_times_changed();
        Ok(Some(outcome))
    }

    /// Records what became of a prompt's or nudge's DM (`sent` or `refused`); once every DM of
    /// its stage has an outcome, the stage's channel message is due at once.
    pub async fn record_ask_outcome(
        &self,
        outbox_id: i64,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let stage: Option<(i64, i64, String)> = sql(
            "UPDATE standup_asks SET outcome = $1 WHERE outbox_id = $2 AND outcome IS NULL \
             RETURNING guild_id, run_at, stage",
        )
        .bind(outcome)
        .bind(outbox_id)
        .fetch_optional(self.on())
        .await?;
        let Some((guild, run, stage)) = stage else {
            return Ok(());
        };
        let finished = sql("UPDATE standup_stages SET fallback_at = $1 \
             WHERE guild_id = $2 AND run_at = $3 AND stage = $4 AND fallback_at > $1 \
             AND NOT EXISTS (SELECT 1 FROM standup_asks a WHERE a.guild_id = $2 \
               AND a.run_at = $3 AND a.stage = $4 AND a.outcome IS NULL)")
        .bind(time_in(now))
        .bind(guild)
        .bind(run)
        .bind(&stage)
        .execute(self.on())
        .await?;
        if finished > 0 {
            self.due_times_changed();
        }
        Ok(())
    }

    /// Stages whose channel message for unreachable members is due at `now`.
    pub async fn due_fallbacks(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueFallback>> {
        let rows: Vec<(i64, i64, String)> = sql(format!(
            "SELECT guild_id, run_at, stage FROM standup_stages \
             WHERE fallback_at <= $1{mine} ORDER BY fallback_at LIMIT $2",
            mine = self.partitions.filter("guild_id")
        ))
        .bind(time_in(now))
        .bind(limit)
        .fetch_all(self.on())
        .await?;
        rows.into_iter()
            .map(|(guild, run, stage)| {
                Ok(DueFallback {
                    guild_id: id_out(guild),
                    run_at: time_out(run)?,
                    stage: Stage::parse(&stage).unwrap_or(Stage::Prompt),
                })
            })
            .collect()
    }

    /// Claims a stage's channel message once: the members it could not DM, and the message
    /// `body` makes for them (None: nobody to mention), into the outbox for the standup
    /// channel. Returns how many members it mentions.
    pub async fn claim_fallback(
        &self,
        due: &DueFallback,
        now: DateTime<Utc>,
        body: impl Fn(&[UserId]) -> Option<String>,
    ) -> StoreResult<usize> {
        retry_conflicts(|| self.claim_fallback_once(due, now, &body)).await
    }

    async fn claim_fallback_once(
        &self,
        due: &DueFallback,
        now: DateTime<Utc>,
        body: &impl Fn(&[UserId]) -> Option<String>,
    ) -> StoreResult<usize> {
        let guild = id_in(due.guild_id);
        let run = time_in(due.run_at);
        let mut tx = self.begin_write(due.guild_id).await?;
        let taken = sql("UPDATE standup_stages SET fallback_at = NULL \
             WHERE guild_id = $1 AND run_at = $2 AND stage = $3 AND fallback_at IS NOT NULL")
        .bind(guild)
        .bind(run)
        .bind(due.stage.as_str())
        .execute(tx.on())
        .await?;
        if taken == 0 {
            return Ok(0);
        }
        // The summary may have come first, or the schedule changed: then nothing is owed.
        let channel: Option<i64> =
            sql("SELECT channel_id FROM standups WHERE guild_id = $1 AND next_run_at = $2")
                .bind(guild)
                .bind(run)
                .scalar_optional(tx.on())
                .await?;
        let users: Vec<i64> = sql(
            "SELECT a.user_id FROM standup_asks a WHERE a.guild_id = $1 AND a.run_at = $2 \
             AND a.stage = $3 AND a.outcome = 'refused' \
             AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.guild_id = a.guild_id \
               AND c.user_id = a.user_id AND c.summarized_at IS NULL) \
             ORDER BY a.user_id",
        )
        .bind(guild)
        .bind(run)
        .bind(due.stage.as_str())
        .scalars(tx.on())
        .await?;
        let users: Vec<UserId> = users.into_iter().map(id_out).collect();
        let message = channel.zip(body(&users));
        let mentioned = match message {
            Some((channel, message)) if !users.is_empty() => {
                sql(
                    "INSERT INTO outbox (guild_id, channel_id, kind, body, due_at, created_at, \
                     next_attempt_at, standup_run_at) VALUES ($1, $2, 'post', $3, $4, $4, $4, $5)",
                )
                .bind(guild)
                .bind(channel)
                .bind(message)
                .bind(time_in(now))
                .bind(run)
                .execute(tx.on())
                .await?;
                users.len()
            }
            _ => 0,
        };
        tx.commit().await?;
        if mentioned > 0 {
            self.due_times_changed();
        }
        Ok(mentioned)
    }

    /// The DM channel kept for `user_id`, if one was opened before.
    pub async fn dm_channel(&self, user_id: UserId) -> StoreResult<Option<ChannelId>> {
        let channel: Option<Option<i64>> =
            sql("SELECT channel_id FROM dm_channels WHERE user_id = $1")
                .bind(id_in(user_id))
                .scalar_optional(self.on())
                .await?;
        Ok(channel.flatten().map(id_out))
    }

    /// Keeps the DM channel Discord opened for `user_id`, and points their pending DMs at it.
    pub async fn set_dm_channel(&self, user_id: UserId, channel_id: ChannelId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sql(
            "INSERT INTO dm_channels (user_id, channel_id) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET channel_id = excluded.channel_id",
        )
        .bind(id_in(user_id))
        .bind(id_in(channel_id))
        .execute(tx.on())
        .await?;
        sql("UPDATE outbox SET channel_id = $2 \
             WHERE dm_user_id = $1 AND channel_id = 0 AND state = 'pending'")
        .bind(id_in(user_id))
        .bind(id_in(channel_id))
        .execute(tx.on())
        .await?;
        tx.commit().await
    }

    /// Discord refused a DM to the recipient of `outbox_id` with `code`: the row fails (the
    /// channel is not marked failing: it is the member's choice), the member is remembered as
    /// not taking DMs, and one who left (50278, 10013) is marked gone from the roster.
    pub async fn dm_refused(
        &self,
        outbox_id: i64,
        guild_id: GuildId,
        user_id: UserId,
        code: u64,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write(guild_id).await?;
        sql(
            "UPDATE outbox SET state = 'failed', error = $1, attempts = attempts + 1 \
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(error)
        .bind(outbox_id)
        .execute(tx.on())
        .await?;
        sql(
            "INSERT INTO dm_channels (user_id, refused_at, refused_code) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET refused_at = excluded.refused_at, \
             refused_code = excluded.refused_code",
        )
        .bind(id_in(user_id))
        .bind(time_in(now))
        .bind(code as i64)
        .execute(tx.on())
        .await?;
        // A reminder that was meant for the DM only goes to the channel instead, once.
        let fallback: Option<(Option<i64>, String, i64)> =
            sql("SELECT fallback_channel_id, body, due_at FROM outbox WHERE id = $1")
                .bind(outbox_id)
                .fetch_optional(tx.on())
                .await?;
        if let Some((Some(channel), body, due_at)) = fallback {
            let fallback_id: i64 = sql(
                "INSERT INTO outbox (guild_id, channel_id, kind, body, due_at, created_at, \
                 next_attempt_at) VALUES ($1, $2, 'post', $3, $4, $5, $5) RETURNING id",
            )
            .bind(id_in(guild_id))
            .bind(channel)
            .bind(body)
            .bind(due_at)
            .bind(time_in(now))
            .scalar(tx.on())
            .await?;
            // Its duties are the channel message's now: done, its buttons are disabled there.
            sql("UPDATE duty_claims SET outbox_id = $1 WHERE outbox_id = $2")
                .bind(fallback_id)
                .bind(outbox_id)
                .execute(tx.on())
                .await?;
            sql("UPDATE outbox SET fallback_channel_id = NULL WHERE id = $1")
                .bind(outbox_id)
                .execute(tx.on())
                .await?;
        }
        if matches!(code, NO_MUTUAL_GUILD | UNKNOWN_USER) {
            sql("UPDATE standup_roster SET gone_at = $1 \
                 WHERE guild_id = $2 AND user_id = $3 AND gone_at IS NULL")
            .bind(time_in(now))
            .bind(id_in(guild_id))
            .bind(id_in(user_id))
            .execute(tx.on())
            .await?;
        }
        tx.commit().await?;
        self.due_times_changed();
        self.record_ask_outcome(outbox_id, "refused", now).await
    }

    /// A DM went through: the member takes DMs (again).
    pub async fn dm_delivered(
        &self,
        outbox_id: i64,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sql("UPDATE dm_channels SET refused_at = NULL, refused_code = NULL WHERE user_id = $1 AND refused_at IS NOT NULL")
            .bind(id_in(user_id))
            .execute(self.on())
            .await?;
        self.record_ask_outcome(outbox_id, "sent", now).await
    }

    /// The guild and recipient of a message the bot posted, for buttons pressed on it in a DM
    /// (where Discord sends no guild): from the stored record, never from the client.
    pub async fn posted_prompt(&self, message_id: u64) -> StoreResult<Option<PostedPrompt>> {
        let row: Option<(i64, Option<i64>)> = sql(
            "SELECT guild_id, dm_user_id FROM outbox WHERE message_id = $1 AND state = 'sent' \
             AND standup_run_at IS NOT NULL",
        )
        .bind(id_in(message_id))
        .fetch_optional(self.on())
        .await?;
        Ok(row.map(|(guild, user)| PostedPrompt {
            guild_id: id_out(guild),
            recipient: user.map(id_out),
        }))
    }
}
