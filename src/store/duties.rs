//! Duties: what is due (from the indexed `tasks.next_duty_at`), claims, and the outbox of
//! messages to send. A duty is claimed under a unique key and put into an outbox row in one
//! transaction, before anything is sent.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::settings::offsets_out;
use super::sql::{sql, Engine, Tx};
use super::tasks::{select_tasks, TaskRow};
use super::{id_in, id_out, retry_conflicts, time_in, time_out, time_out_opt, Db, StoreResult};
use crate::domain::duties::{due_now, next_at, Duty, DutyClock, DutyKind};
use crate::domain::ids::{ChannelId, GuildId, RoleId, UserId};
use crate::domain::notify::ReminderDelivery;
use crate::domain::task::{Status, Task, TaskNumber};

/// A duty just claimed, with everything needed to render its message.
#[derive(Debug, Clone)]
pub struct ClaimedDuty {
    pub task: Task,
    pub duty: Duty,
    /// Project channel, else the guild's alerts channel, else where the task was created.
    pub channel_id: ChannelId,
    pub manager_role_id: Option<RoleId>,
    /// The assignee is away until then (docs/behaviour.md §9): named without a ping, and an
    /// overdue alert goes to the manager role at once instead of escalating a day later.
    pub assignee_away_until: Option<DateTime<Utc>>,
    /// Where the assignee wants reminders in this guild (docs/behaviour.md §10).
    pub assignee_delivery: ReminderDelivery,
    /// The assignee's zone, else the guild's: for the Tomorrow 09:00 snooze.
    pub zone: Tz,
}

/// One message to send, as the worker rendered it.
#[derive(Debug, Clone)]
pub struct OutboxDraft {
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    /// The message payload (JSON), without its nonce.
    pub body: String,
    /// The earliest duty instant in it.
    pub due_at: DateTime<Utc>,
    /// Indexes into the claimed duties this message carries.
    pub duties: Vec<usize>,
    /// A direct message to this member about one task (`channel_id` is then ignored: the
    /// sender finds or opens their DM channel).
    pub dm: Option<DmDraft>,
}

/// What makes an outbox draft a direct message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmDraft {
    pub user_id: UserId,
    pub task_id: i64,
    /// Where the message goes instead if the DM is refused (None: the channel has it anyway).
    pub fallback_channel_id: Option<ChannelId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxKind {
    Post,
    /// Replace the components of a message already posted.
    Edit {
        message_id: u64,
    },
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    pub kind: OutboxKind,
    pub body: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    /// A direct message's recipient; its `channel_id` is 0 until the DM channel is known.
    pub dm_user_id: Option<UserId>,
}

/// A reminder or alert sent by DM, as stored: read back when its buttons are pressed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmDuty {
    pub guild_id: GuildId,
    pub task_id: i64,
    pub number: TaskNumber,
    pub recipient: UserId,
}

impl OutboxRow {
    /// Discord de-duplicates a resend carrying the same nonce: derived from the row id, so the
    /// same row always carries the same one.
    pub fn nonce(&self) -> String {
        format!("c{}", self.id)
    }
}

/// A message posted for duties, and whether each of its tasks is still open.
#[derive(Debug, Clone)]
pub struct PostedDuties {
    pub outbox_id: i64,
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    pub message_id: u64,
    pub body: String,
    /// (task number, still open)
    pub tasks: Vec<(TaskNumber, bool)>,
    /// The tasks of the message marked done: who did, and a repeating task's next occurrence.
    pub done: Vec<DoneTask>,
}

/// A task shown as done on a message it was reminded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneTask {
    pub number: TaskNumber,
    pub by: Option<UserId>,
    pub next: Option<TaskNumber>,
}

async fn guild_offsets(tx: &mut Tx, guild_id: GuildId) -> StoreResult<Vec<Duration>> {
    let text: Option<String> =
        sql("SELECT reminder_offsets FROM guild_settings WHERE guild_id = $1")
            .bind(id_in(guild_id))
            .scalar_optional(tx.on())
            .await?;
    match text {
        Some(text) => offsets_out(&text),
        None => Ok(crate::domain::guild::GuildSettings::default_reminder_offsets()),
    }
}

/// Recomputes a task's `next_duty_at` from its state: NULL once it is done, deleted or undated.
pub(super) async fn refresh_task_duties(tx: &mut Tx, task_id: i64) -> StoreResult<()> {
    let row: TaskRow = sql(select_tasks("WHERE t.id = $1"))
        .bind(task_id)
        .fetch_one(tx.on())
        .await?;
    let clock = row.duty_clock()?;
    let deleted = row.deleted_at.is_some();
    let task = Task::try_from(row)?;
    let next = match clock {
        Some(clock) if task.status.is_open() && !deleted => {
            let offsets = guild_offsets(tx, task.guild_id).await?;
            next_at(&clock, &offsets)
        }
        _ => None,
    };
    sql("UPDATE tasks SET next_duty_at = $1 WHERE id = $2")
        .bind(next.map(time_in))
        .bind(task_id)
        .execute(tx.on())
        .await?;
    Ok(())
}

struct GuildRouting {
    alerts_channel_id: Option<ChannelId>,
    manager_role_id: Option<RoleId>,
    offsets: Vec<Duration>,
    /// Members away at the claim's instant, with the end of their period.
    away: HashMap<UserId, DateTime<Utc>>,
    /// Members who chose DM or both for their reminders.
    delivery: HashMap<UserId, ReminderDelivery>,
    zone: Tz,
}

record! {
    struct RoutingRow {
        alerts_channel_id: Option<i64>,
        manager_role_id: Option<i64>,
        reminder_offsets: String,
        timezone: String,
    }
}

async fn routing(tx: &mut Tx, guild_id: GuildId, now: DateTime<Utc>) -> StoreResult<GuildRouting> {
    let row: Option<RoutingRow> = sql(
        "SELECT alerts_channel_id, manager_role_id, reminder_offsets, timezone \
         FROM guild_settings WHERE guild_id = $1",
    )
    .bind(id_in(guild_id))
    .fetch_optional(tx.on())
    .await?;
    let away: Vec<(i64, i64)> = sql("SELECT user_id, until_at FROM away_periods \
         WHERE guild_id = $1 AND from_at <= $2 AND until_at > $2")
    .bind(id_in(guild_id))
    .bind(time_in(now))
    .fetch_all(tx.on())
    .await?;
    let away = away
        .into_iter()
        .map(|(user, until)| Ok((id_out(user), time_out(until)?)))
        .collect::<StoreResult<HashMap<UserId, DateTime<Utc>>>>()?;
    // Someone Discord would not let us DM lately gets their reminders in the channel, until
    // the DM is tried again a week later.
    let delivery: Vec<(i64, String)> = sql("SELECT n.user_id, n.reminders FROM notify_prefs n \
         WHERE n.guild_id = $1 AND n.reminders <> 'channel' \
         AND NOT EXISTS (SELECT 1 FROM dm_channels d WHERE d.user_id = n.user_id \
           AND d.refused_at > $2)")
    .bind(id_in(guild_id))
    .bind(time_in(now - super::roster::DM_RETRY_AFTER))
    .fetch_all(tx.on())
    .await?;
    let delivery = delivery
        .into_iter()
        .filter_map(|(user, choice)| Some((id_out(user), choice.parse().ok()?)))
        .collect();
    Ok(match row {
        Some(row) => GuildRouting {
            alerts_channel_id: row.alerts_channel_id.map(id_out),
            manager_role_id: row.manager_role_id.map(id_out),
            offsets: offsets_out(&row.reminder_offsets)?,
            away,
            delivery,
            zone: row.timezone.parse().unwrap_or(Tz::UTC),
        },
        None => GuildRouting {
            alerts_channel_id: None,
            manager_role_id: None,
            offsets: crate::domain::guild::GuildSettings::default_reminder_offsets(),
            away,
            delivery,
            zone: Tz::UTC,
        },
    })
}

record! {
    /// An outbox row as stored.
    struct OutboxRecord {
        id: i64,
        guild_id: i64,
        channel_id: i64,
        kind: String,
        target_message_id: Option<i64>,
        body: String,
        due_at: i64,
        attempts: i64,
        dm_user_id: Option<i64>,
    }
}

impl TryFrom<OutboxRecord> for OutboxRow {
    type Error = super::StoreError;

    fn try_from(row: OutboxRecord) -> StoreResult<OutboxRow> {
        Ok(OutboxRow {
            id: row.id,
            guild_id: id_out(row.guild_id),
            channel_id: id_out(row.channel_id),
            kind: match (row.kind.as_str(), row.target_message_id) {
                ("edit", Some(message)) => OutboxKind::Edit {
                    message_id: id_out(message),
                },
                _ => OutboxKind::Post,
            },
            body: row.body,
            due_at: time_out(row.due_at)?,
            attempts: row.attempts,
            dm_user_id: row.dm_user_id.map(id_out),
        })
    }
}

impl Db {
    /// Claims every duty due at `now` (up to `limit` tasks): records each under its unique key,
    /// moves each task's cursor, and stores the messages `render` makes of them, all in one
    /// transaction. Returns how many duties were claimed.
    pub async fn claim_due_duties(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        render: impl Fn(&[ClaimedDuty]) -> Vec<OutboxDraft>,
    ) -> StoreResult<usize> {
        retry_conflicts(|| self.claim_due_duties_once(now, limit, &render)).await
    }

    async fn claim_due_duties_once(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        render: &impl Fn(&[ClaimedDuty]) -> Vec<OutboxDraft>,
    ) -> StoreResult<usize> {
        // Until the commit, this worker's partitions stay its own.
        let _using = self.partitions.using().await;
        // A read first: a step with nothing due takes no write lock.
        let mine = self.partitions.filter("guild_id");
        let any_due: Option<i64> = sql(format!(
            "SELECT next_duty_at FROM tasks WHERE next_duty_at <= $1{mine} \
             ORDER BY next_duty_at LIMIT 1"
        ))
        .bind(time_in(now))
        .scalar_optional(self.on())
        .await?;
        if any_due.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        // Several workers on PostgreSQL each take rows no other transaction holds; SQLite's
        // write lock already lets only one claim run.
        let lock = match tx.engine() {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE OF t SKIP LOCKED",
        };
        let rows: Vec<TaskRow> = sql(select_tasks(&format!(
            "WHERE t.next_duty_at <= $1{mine} ORDER BY t.next_duty_at LIMIT $2{lock}",
            mine = self.partitions.filter("t.guild_id")
        )))
        .bind(time_in(now))
        .bind(limit)
        .fetch_all(tx.on())
        .await?;
        let mut guilds: HashMap<GuildId, GuildRouting> = HashMap::new();
        let mut user_zones: HashMap<UserId, Option<Tz>> = HashMap::new();
        let mut claims = Vec::new();
        let mut claim_ids = Vec::new();
        for row in rows {
            let clock = row.duty_clock()?;
            let task = Task::try_from(row)?;
            let Some(clock) = clock else {
                refresh_task_duties(&mut tx, task.id).await?;
                continue;
            };
            let due_at = clock.due_at;
            let guild = match guilds.entry(task.guild_id) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(routing(&mut tx, task.guild_id, now).await?)
                }
            };
            let duty = due_now(&clock, &guild.offsets, now);
            let away_until = task
                .assignee_id
                .and_then(|assignee| guild.away.get(&assignee).copied());
            if let Some(duty) = duty {
                let mut zone = guild.zone;
                if let Some(assignee) = task.assignee_id {
                    let own = match user_zones.get(&assignee) {
                        Some(known) => *known,
                        None => {
                            let own: Option<String> =
                                sql("SELECT timezone FROM user_settings WHERE user_id = $1")
                                    .bind(id_in(assignee))
                                    .scalar_optional(tx.on())
                                    .await?;
                            let own = own.and_then(|z| z.parse().ok());
                            user_zones.insert(assignee, own);
                            own
                        }
                    };
                    zone = own.unwrap_or(zone);
                }
                let claimed: Option<i64> = sql(
                    "INSERT INTO duty_claims (task_id, kind, due_at, offset_secs, scheduled_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (task_id, kind, due_at, offset_secs) DO NOTHING RETURNING id",
                )
                .bind(task.id)
                .bind(duty.kind.as_str())
                .bind(time_in(due_at))
                .bind(duty.kind.offset_secs())
                .bind(time_in(duty.at))
                .scalar_optional(tx.on())
                .await?;
                if let Some(claim_id) = claimed {
                    let channel_id = task
                        .project
                        .as_ref()
                        .and_then(|p| p.channel_id)
                        .or(guild.alerts_channel_id)
                        .unwrap_or(task.channel_id);
                    claims.push(ClaimedDuty {
                        task: task.clone(),
                        duty,
                        channel_id,
                        manager_role_id: guild.manager_role_id,
                        assignee_away_until: away_until,
                        assignee_delivery: task
                            .assignee_id
                            .and_then(|assignee| guild.delivery.get(&assignee).copied())
                            .unwrap_or_default(),
                        zone,
                    });
                    claim_ids.push(claim_id);
                }
            }
            // The cursor moves past the duty just claimed; the next one follows from it. An
            // overdue alert for an away assignee already went to the managers: it replaces
            // the escalation.
            let cursor = match duty {
                Some(d) if d.kind == DutyKind::Overdue && away_until.is_some() => {
                    d.at + crate::domain::duties::ESCALATION_AFTER
                }
                Some(d) => d.at,
                None => clock.cursor,
            };
            let next = next_at(&DutyClock { cursor, ..clock }, &guild.offsets);
            sql("UPDATE tasks SET duty_cursor = $1, next_duty_at = $2 WHERE id = $3")
                .bind(time_in(cursor))
                .bind(next.map(time_in))
                .bind(task.id)
                .execute(tx.on())
                .await?;
        }
        let drafts = if claims.is_empty() {
            Vec::new()
        } else {
            render(&claims)
        };
        for draft in drafts {
            let dm = draft.dm.as_ref();
            let outbox_id: i64 = sql(
                "INSERT INTO outbox (guild_id, channel_id, kind, body, due_at, created_at, \
                 next_attempt_at, dm_user_id, dm_task_id, fallback_channel_id) \
                 VALUES ($1, $2, 'post', $3, $4, $5, $5, $6, $7, $8) RETURNING id",
            )
            .bind(id_in(draft.guild_id))
            .bind(if dm.is_some() {
                0
            } else {
                id_in(draft.channel_id)
            })
            .bind(&draft.body)
            .bind(time_in(draft.due_at))
            .bind(time_in(now))
            .bind(dm.map(|dm| id_in(dm.user_id)))
            .bind(dm.map(|dm| dm.task_id))
            .bind(dm.and_then(|dm| dm.fallback_channel_id).map(id_in))
            .scalar(tx.on())
            .await?;
            let ids: Vec<String> = draft
                .duties
                .iter()
                .filter_map(|index| claim_ids.get(*index))
                .map(|id| id.to_string())
                .collect();
            if !ids.is_empty() {
                // Claim ids are integers we just read back, so listing them inline is safe. A
                // duty in a channel message and a DM counts as the channel message's.
                let only_unset = if dm.is_some() {
                    " AND outbox_id IS NULL"
                } else {
                    ""
                };
                sql(format!(
                    "UPDATE duty_claims SET outbox_id = $1 WHERE id IN ({}){only_unset}",
                    ids.join(", ")
                ))
                .bind(outbox_id)
                .execute(tx.on())
                .await?;
            }
        }
        tx.commit().await?;
        Ok(claims.len())
    }

    /// Adds a message to the outbox outside a duty claim (standup summaries, button edits).
    pub async fn enqueue(
        &self,
        guild_id: GuildId,
        channel_id: ChannelId,
        kind: &OutboxKind,
        body: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let (kind_name, target) = match kind {
            OutboxKind::Post => ("post", None),
            OutboxKind::Edit { message_id } => ("edit", Some(id_in(*message_id))),
        };
        let id = sql(
            "INSERT INTO outbox (guild_id, channel_id, kind, target_message_id, body, due_at, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING id",
        )
        .bind(id_in(guild_id))
        .bind(id_in(channel_id))
        .bind(kind_name)
        .bind(target)
        .bind(body)
        .bind(time_in(now))
        .scalar(self.on())
        .await?;
        self.due_times_changed();
        Ok(id)
    }

    /// Takes the outbox rows waiting to be sent at `now`, oldest first, leasing them until
    /// `lease_until` so that a concurrent step does not send them too.
    pub async fn lease_pending(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxRow>> {
        // Until the lease is written, this worker's partitions stay its own.
        let _using = self.partitions.using().await;
        // A read first: with nothing to send, no write lock is taken.
        let mine = self.partitions.filter("guild_id");
        let any: Option<i64> = sql(format!(
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1{mine} LIMIT 1"
        ))
        .bind(time_in(now))
        .scalar_optional(self.on())
        .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        // On PostgreSQL a row another worker is leasing right now is skipped, not waited for;
        // once leased, its next attempt lies in the future, so no other worker takes it.
        let (lock, in_order) = match self.engine() {
            Engine::Sqlite => ("", ""),
            // A channel's row waits while an earlier one of the same channel is still being
            // sent by another process (its partition just moved here): order before speed.
            Engine::Postgres => (
                " FOR UPDATE SKIP LOCKED",
                " AND NOT EXISTS (SELECT 1 FROM outbox earlier WHERE earlier.state = 'pending' \
                   AND earlier.channel_id = outbox.channel_id AND earlier.channel_id <> 0 \
                   AND earlier.id < outbox.id AND earlier.next_attempt_at > $1 \
                   AND earlier.leased_by <> $4)",
            ),
        };
        let mine = self.partitions.filter("guild_id");
        let holder = self.lease_key().await?;
        // A standup ask whose summary time has come is no use any more: never sent, and
        // dropped when that summary is claimed.
        let rows: Vec<OutboxRecord> = sql(format!(
            "UPDATE outbox SET next_attempt_at = $2, leased_by = $4 WHERE id IN ( \
               SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
               AND (standup_run_at IS NULL OR standup_run_at > $1){mine}{in_order} \
               ORDER BY id LIMIT $3{lock}) \
             RETURNING id, guild_id, channel_id, kind, target_message_id, body, due_at, attempts, \
               dm_user_id"
        ))
        .bind(time_in(now))
        .bind(time_in(lease_until))
        .bind(limit)
        .bind(holder)
        .fetch_all(self.on())
        .await?;
        let mut rows = rows
            .into_iter()
            .map(OutboxRow::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        rows.sort_by_key(|row| row.id);
        Ok(rows)
    }

    /// On start, rows a crashed run had leased are due again at once, unchanged. On SQLite this
    /// process is the only sender, so every lease is a dead run's; on PostgreSQL only leases
    /// whose holder has died are (see [`Db::release_dead_leases`]).
    pub async fn release_leases(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        if self.engine() == Engine::Postgres {
            return self.release_dead_leases(now).await;
        }
        sql("UPDATE outbox SET next_attempt_at = $1, leased_by = NULL \
             WHERE state = 'pending' AND next_attempt_at > $1")
        .bind(time_in(now))
        .execute(self.on())
        .await
    }

    /// Rows leased by a process that has since died are due again at once: on PostgreSQL a
    /// holder is alive exactly while its session holds the advisory lock on its key (see
    /// `lease_holder.rs`). SQLite has one sender, so no lease there has another holder.
    pub async fn release_dead_leases(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        if self.engine() == Engine::Sqlite {
            return Ok(0);
        }
        // Due again from when it was made, not from this worker's `now`: another worker whose
        // step began earlier must see it due too, or it would send the channel's next message
        // first.
        sql("UPDATE outbox SET next_attempt_at = CASE WHEN created_at < $1 THEN created_at ELSE $1 END, \
             leased_by = NULL \
             WHERE state = 'pending' AND leased_by IS NOT NULL AND next_attempt_at > $1 \
             AND NOT EXISTS (SELECT 1 FROM pg_locks l \
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid::bigint = $2 AND l.objid::bigint = outbox.leased_by)")
        .bind(time_in(now))
        .bind(i64::from(super::lease_holder::LEASE_LOCK_CLASS))
        .execute(self.on())
        .await
    }

    pub async fn mark_sent(
        &self,
        outbox_id: i64,
        message_id: u64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sql(
            "UPDATE outbox SET state = 'sent', message_id = $1, sent_at = $2, attempts = attempts + 1, \
             error = NULL WHERE id = $3 AND state = 'pending'",
        )
        .bind(id_in(message_id))
        .bind(time_in(at))
        .bind(outbox_id)
        .execute(self.on())
        .await?;
        Ok(())
    }

    /// The channel refused us (403/404): the row is not retried, and the channel is listed in
    /// `/config show`.
    pub async fn mark_failed(
        &self,
        row: &OutboxRow,
        status: u16,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write(row.guild_id).await?;
        sql(
            "UPDATE outbox SET state = 'failed', error = $1, attempts = attempts + 1 \
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(error)
        .bind(row.id)
        .execute(tx.on())
        .await?;
        sql(
            "INSERT INTO channel_failures (guild_id, channel_id, status, error, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (guild_id, channel_id) DO UPDATE SET status = excluded.status, \
             error = excluded.error, at = excluded.at",
        )
        .bind(id_in(row.guild_id))
        .bind(id_in(row.channel_id))
        .bind(i64::from(status))
        .bind(error)
        .bind(time_in(at))
        .execute(tx.on())
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A leased row this process will not send after all (its partition moved to another
    /// worker): due again at once, for whoever holds the partition now.
    pub async fn give_back(&self, outbox_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let holder = self.lease_key().await?;
        // As in `release_dead_leases`: due for every worker, whenever its step began.
        sql("UPDATE outbox SET next_attempt_at = CASE WHEN created_at < $1 THEN created_at ELSE $1 END, \
             leased_by = NULL \
             WHERE id = $2 AND state = 'pending' AND leased_by = $3")
        .bind(time_in(now))
        .bind(outbox_id)
        .bind(holder)
        .execute(self.on())
        .await?;
        Ok(())
    }

    /// A transient failure that outlasted the sender's retries: try the same row again later.
    pub async fn retry_later(
        &self,
        outbox_id: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        sql(
            "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1, error = $2, \
             leased_by = NULL WHERE id = $3 AND state = 'pending'",
        )
        .bind(time_in(at))
        .bind(error)
        .bind(outbox_id)
        .execute(self.on())
        .await?;
        Ok(())
    }

    /// A message went through after all: the channel is no longer failing.
    pub async fn clear_channel_failure(
        &self,
        guild_id: GuildId,
        channel_id: ChannelId,
    ) -> StoreResult<()> {
        sql("DELETE FROM channel_failures WHERE guild_id = $1 AND channel_id = $2")
            .bind(id_in(guild_id))
            .bind(id_in(channel_id))
            .execute(self.on())
            .await?;
        Ok(())
    }

    /// Channels of the guild the bot could not post to: (channel, status, error).
    pub async fn channel_failures(
        &self,
        guild_id: GuildId,
    ) -> StoreResult<Vec<(ChannelId, u16, String)>> {
        let rows: Vec<(i64, i64, String)> = sql(
            "SELECT channel_id, status, error FROM channel_failures WHERE guild_id = $1 ORDER BY at",
        )
        .bind(id_in(guild_id))
        .fetch_all(self.on())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(channel, status, error)| {
                (id_out(channel), u16::try_from(status).unwrap_or(0), error)
            })
            .collect())
    }

    /// When the worker must next wake: the earliest task duty, standup or outbox retry.
    pub async fn next_wake(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // Only this worker's partitions: another worker's due rows would wake it for nothing.
        let mine = self.partitions.filter("guild_id");
        let next: Option<i64> = sql(format!(
            "SELECT MIN(at) FROM ( \
               SELECT MIN(next_duty_at) AS at FROM tasks WHERE next_duty_at IS NOT NULL{mine} \
               UNION ALL SELECT MIN(next_run_at) FROM standups WHERE next_run_at IS NOT NULL{mine} \
               UNION ALL SELECT MIN(next_prompt_at) FROM standups \
                 WHERE next_prompt_at IS NOT NULL{mine} \
               UNION ALL SELECT MIN(fallback_at) FROM standup_stages \
                 WHERE fallback_at IS NOT NULL{mine} \
               UNION ALL SELECT MIN(next_digest_at) FROM notify_prefs \
                 WHERE next_digest_at IS NOT NULL{mine} \
               UNION ALL SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'{mine} \
             ) AS candidates"
        ))
        .scalar(self.on())
        .await?;
        time_out_opt(next)
    }

    /// Sent duty messages that carry `task_id`, with the open state of every task in each.
    pub async fn posted_duties_of_task(&self, task_id: i64) -> StoreResult<Vec<PostedDuties>> {
        let ids: Vec<i64> = sql(
            "SELECT o.id FROM outbox o WHERE o.state = 'sent' AND o.kind = 'post' \
             AND (o.dm_task_id = $1 \
               OR o.id IN (SELECT c.outbox_id FROM duty_claims c WHERE c.task_id = $1)) \
             ORDER BY o.id",
        )
        .bind(task_id)
        .scalars(self.on())
        .await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(posted) = self.posted_duties(id).await? {
                out.push(posted);
            }
        }
        Ok(out)
    }

    /// The task of a reminder or alert the bot sent by DM, from the stored record of the
    /// message (a click in a DM carries no guild; nothing the client sends is trusted).
    pub async fn dm_duty_of_message(&self, message_id: u64) -> StoreResult<Option<DmDuty>> {
        let row: Option<(i64, i64, i64, i64)> = sql(
            "SELECT o.guild_id, t.id, t.number, o.dm_user_id FROM outbox o \
             JOIN tasks t ON t.id = o.dm_task_id \
             WHERE o.message_id = $1 AND o.state = 'sent' AND o.dm_user_id IS NOT NULL",
        )
        .bind(id_in(message_id))
        .fetch_optional(self.on())
        .await?;
        Ok(row.map(|(guild, task_id, number, user)| DmDuty {
            guild_id: id_out(guild),
            task_id,
            number: TaskNumber(number),
            recipient: id_out(user),
        }))
    }

    /// The duty message the bot posted as `message_id`, with its tasks' state now.
    pub async fn posted_duties_of_message(
        &self,
        message_id: u64,
    ) -> StoreResult<Option<PostedDuties>> {
        let id: Option<i64> =
            sql("SELECT id FROM outbox WHERE message_id = $1 AND kind = 'post' AND state = 'sent'")
                .bind(id_in(message_id))
                .scalar_optional(self.on())
                .await?;
        match id {
            Some(id) => self.posted_duties(id).await,
            None => Ok(None),
        }
    }

    /// The duties a message carries, as (kind, task number), in claim order.
    pub async fn duties_of_outbox(&self, outbox_id: i64) -> StoreResult<Vec<(String, TaskNumber)>> {
        let rows: Vec<(String, i64)> = sql(
            "SELECT c.kind, t.number FROM duty_claims c JOIN tasks t ON t.id = c.task_id \
             WHERE c.outbox_id = $1 ORDER BY c.id",
        )
        .bind(outbox_id)
        .fetch_all(self.on())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, number)| (kind, TaskNumber(number)))
            .collect())
    }

    /// A sent duty message and the open state of its tasks.
    pub async fn posted_duties(&self, outbox_id: i64) -> StoreResult<Option<PostedDuties>> {
        let Some((guild_id, channel_id, message_id, body)) =
            sql("SELECT guild_id, channel_id, message_id, body FROM outbox \
                 WHERE id = $1 AND state = 'sent' AND message_id IS NOT NULL")
            .bind(outbox_id)
            .fetch_optional(self.on())
            .await?
        else {
            return Ok(None);
        };
        let tasks: Vec<(i64, String, Option<i64>)> = sql(
            "SELECT DISTINCT t.number, t.status, t.deleted_at FROM tasks t \
             WHERE t.id IN (SELECT c.task_id FROM duty_claims c WHERE c.outbox_id = $1) \
             OR t.id = (SELECT o.dm_task_id FROM outbox o WHERE o.id = $1)",
        )
        .bind(outbox_id)
        .fetch_all(self.on())
        .await?;
        let done: Vec<(i64, Option<i64>, Option<i64>)> = sql("SELECT t.number, \
               (SELECT h.actor_id FROM task_history h WHERE h.task_id = t.id \
                AND h.action = 'done' ORDER BY h.id DESC LIMIT 1), \
               (SELECT n.number FROM tasks n WHERE n.id = t.next_occurrence_id) \
             FROM tasks t WHERE t.status = 'done' AND t.deleted_at IS NULL AND \
             (t.id IN (SELECT c.task_id FROM duty_claims c WHERE c.outbox_id = $1) \
              OR t.id = (SELECT o.dm_task_id FROM outbox o WHERE o.id = $1))")
        .bind(outbox_id)
        .fetch_all(self.on())
        .await?;
        let done = done
            .into_iter()
            .map(|(number, by, next)| DoneTask {
                number: TaskNumber(number),
                by: by.map(id_out),
                next: next.map(TaskNumber),
            })
            .collect();
        let tasks = tasks
            .into_iter()
            .map(|(number, status, deleted_at)| {
                let open = status != Status::Done.as_str() && deleted_at.is_none();
                (TaskNumber(number), open)
            })
            .collect();
        Ok(Some(PostedDuties {
            outbox_id,
            guild_id: id_out(guild_id),
            channel_id: id_out(channel_id),
            message_id: id_out(message_id),
            body,
            tasks,
            done,
        }))
    }
}

/// Recomputes the next duty of every open dated task of a guild (after its reminder offsets
/// changed), inside the caller's transaction.
pub(super) async fn refresh_guild_duties(tx: &mut Tx, guild_id: GuildId) -> StoreResult<()> {
    let ids: Vec<i64> = sql(
        "SELECT id FROM tasks WHERE guild_id = $1 AND due_at IS NOT NULL \
         AND status <> 'done' AND deleted_at IS NULL",
    )
    .bind(id_in(guild_id))
    .scalars(tx.on())
    .await?;
    for id in ids {
        refresh_task_duties(tx, id).await?;
    }
    Ok(())
}
