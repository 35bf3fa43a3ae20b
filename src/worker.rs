//! The duties worker (docs/behaviour.md §4). [`Worker::step`] delivers everything due at `now`
//! and says when the next duty falls due; [`Worker::run`] sleeps until then, or until the store
//! signals a write that changed what is due. It never polls on a fixed interval.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::app::{disable_closed_buttons, prepare_summary, App};
use crate::discord::sender::{Delivery, DmOpening, Transport};
use crate::domain::digest::{digest_tasks, next_digest_at};
use crate::domain::ids::UserId;
use crate::domain::schedule::StandupSchedule;
use crate::metrics::{self, DutyOutcome};
use crate::render::duties::{duty_messages, refreshed, DUTIES_PER_MESSAGE, REFRESH};
use crate::render::standup::{ask_body, digest_body, fallback_body};
use crate::render::summary::summary_bodies;
use crate::store::is_dm_refusal;
use crate::store::{OutboxKind, OutboxRow, StandupRow, StoreResult};

/// How many tasks one claim transaction takes; a step loops until nothing is left. Large, so
/// that duties due together land in one batch and share messages per channel.
const CLAIM_BATCH: i64 = 10_000;
const SEND_BATCH: i64 = 2_000;
/// A row being sent is not taken by another step for this long; a crash leaves it to the next start.
const SEND_LEASE: Duration = Duration::seconds(120);
/// A guard against wall-clock jumps: the worker re-reads what is next at least this often.
const LONGEST_SLEEP: StdDuration = StdDuration::from_secs(3_600);
/// A row still failing after the sender's retries is tried again after this much, times its
/// attempts (bounded).
const RETRY_STEP: Duration = Duration::seconds(30);

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub claimed: usize,
    pub summaries: usize,
    /// Standup prompts and nudges claimed.
    pub asks: usize,
    /// Morning digests claimed (sent or, with nothing to list, skipped).
    pub digests: usize,
    pub sent: usize,
    pub failed: usize,
    pub retrying: usize,
    /// When the next duty, summary or retry falls due.
    pub next_due: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Worker {
    app: Arc<App>,
    /// Discord's REST API when the bot runs; the playground's capture in `coordinator try`.
    sender: Arc<dyn Transport>,
    /// Duties that fall due together for one channel share a message, this many at most.
    duties_per_message: usize,
    /// Set by `run`: once it turns true, no further row is sent (a row being sent is finished
    /// and recorded first), so shutdown never leaves a message posted but not marked sent.
    stopping: Option<watch::Receiver<bool>>,
    /// At least this often the loop re-reads what is due (see [`Worker::with_longest_sleep`]).
    longest_sleep: StdDuration,
}

impl Worker {
    pub fn new(app: Arc<App>, sender: Arc<dyn Transport>) -> Self {
        Self {
            app,
            sender,
            duties_per_message: DUTIES_PER_MESSAGE,
            longest_sleep: LONGEST_SLEEP,
            stopping: None,
        }
    }

    fn is_stopping(&self) -> bool {
        self.stopping.as_ref().is_some_and(|stop| *stop.borrow())
    }

    /// Resolves once `run` is told to stop; never for a worker driven by `step` alone.
    async fn stopped(&self) {
        match self.stopping.clone() {
            Some(mut stop) => {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Re-reads what is due at least this often, for a worker in a process of its own: writes
    /// made by other processes (commands through `web` or `gateway`) cannot wake it directly.
    pub fn with_longest_sleep(mut self, longest: StdDuration) -> Self {
        self.longest_sleep = longest;
        self
    }

    /// How many duties may share a message (1 turns grouping off; benchmarks compare both).
    pub fn with_duties_per_message(mut self, count: usize) -> Self {
        self.duties_per_message = count;
        self
    }

    /// Delivers everything due at `now`: unsent messages first (a restart resends them
    /// unchanged), then newly due standups and duties.
    pub async fn step(&self, now: DateTime<Utc>) -> StoreResult<Outcome> {
        let mut outcome = Outcome::default();
        self.send_pending(now, &mut outcome).await?;
        outcome.summaries = self.claim_standups(now).await?;
        outcome.asks = self.claim_asks(now).await?;
        outcome.digests = self.claim_digests(now).await?;
        loop {
            let claimed = self
                .app
                .db
                .claim_due_duties(now, CLAIM_BATCH, |claims| {
                    duty_messages(claims, now, self.duties_per_message)
                })
                .await?;
            outcome.claimed += claimed;
            if claimed < CLAIM_BATCH as usize {
                break;
            }
        }
        self.send_pending(now, &mut outcome).await?;
        outcome.next_due = self.app.db.next_wake().await?;
        Ok(outcome)
    }

    /// Prompts and nudges due at `now` (docs/behaviour.md §9), then the channel messages for
    /// members their DMs could not reach. Returns how many asks were claimed.
    async fn claim_asks(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let db = &self.app.db;
        let mut claimed = 0;
        for standup in db.due_asks(now, CLAIM_BATCH).await? {
            let Some(run_at) = standup.next_run_at else {
                continue;
            };
            let ask = db
                .claim_ask(&standup, now, |stage| {
                    ask_body(stage, standup.channel_id, run_at)
                })
                .await?;
            if let Some(ask) = ask {
                claimed += 1;
                info!(
                    guild = standup.guild_id.get(),
                    stage = ask.stage.as_str(),
                    dms = ask.dms,
                    known_refusals = ask.refused,
                    "standup ask claimed"
                );
            }
        }
        for due in db.due_fallbacks(now, CLAIM_BATCH).await? {
            let mentioned = db
                .claim_fallback(&due, now, |users| {
                    fallback_body(due.stage, users, due.run_at)
                })
                .await?;
            if mentioned > 0 {
                info!(
                    guild = due.guild_id.get(),
                    stage = due.stage.as_str(),
                    mentioned,
                    "standup channel message for members without DMs claimed"
                );
            }
        }
        Ok(claimed)
    }

    /// Morning digests due at `now` (docs/behaviour.md §10): each claimed once, and sent
    /// unless the member is away or has nothing overdue, due today or blocked.
    async fn claim_digests(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let db = &self.app.db;
        let mut claimed = 0;
        for due in db.due_digests(now, CLAIM_BATCH).await? {
            let away = db
                .away_periods(due.guild_id, now)
                .await?
                .iter()
                .any(|a| a.user_id == due.user_id && a.covers(now));
            // A digest the bot was down for is dropped once its day is over: yesterday's list
            // is no use this morning, and today's comes at its own time.
            let stale = now.with_timezone(&due.zone).date_naive()
                != due.at.with_timezone(&due.zone).date_naive();
            let body = if away || stale {
                None
            } else {
                // A bound past the end of today in any zone; `digest_tasks` cuts it exactly.
                let tasks = db
                    .digest_candidates(due.guild_id, due.user_id, now + Duration::days(2))
                    .await?;
                let listed = digest_tasks(&tasks, due.user_id, now, due.zone);
                (!listed.is_empty()).then(|| digest_body(&listed, now))
            };
            let next = next_digest_at(due.time, due.zone, now.max(due.at));
            if db.claim_digest(&due, now, next, body.as_deref()).await? {
                claimed += 1;
                info!(
                    guild = due.guild_id.get(),
                    user = due.user_id.get(),
                    sent = body.is_some(),
                    away,
                    "morning digest claimed"
                );
            }
        }
        Ok(claimed)
    }

    async fn claim_standups(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut claimed = 0;
        for standup in self.app.db.due_standups(now, CLAIM_BATCH).await? {
            if self.claim_standup(&standup, now).await? {
                claimed += 1;
            }
        }
        Ok(claimed)
    }

    async fn claim_standup(&self, standup: &StandupRow, now: DateTime<Utc>) -> StoreResult<bool> {
        let Some(scheduled_at) = standup.next_run_at else {
            return Ok(false);
        };
        let zone = self.app.db.guild_settings(standup.guild_id).await?.timezone;
        let next = match StandupSchedule::from_expr(&standup.schedule) {
            Ok(schedule) => schedule.next_after(now, zone),
            Err(e) => {
                warn!(guild = standup.guild_id.get(), error = %e, "stored standup schedule no longer reads; turning it off");
                None
            }
        };
        let (summary, checkin_ids) =
            prepare_summary(&self.app.db, standup.guild_id, standup.last_summary_at, now).await?;
        let bodies = summary_bodies(&summary, "Daily standup");
        let claimed = self
            .app
            .db
            .claim_standup(standup, scheduled_at, now, next, &bodies, &checkin_ids)
            .await?;
        if claimed {
            info!(
                guild = standup.guild_id.get(),
                messages = bodies.len(),
                "standup summary claimed"
            );
        }
        Ok(claimed)
    }

    /// Sends every pending outbox row: channels in parallel, each channel's rows in order.
    async fn send_pending(&self, now: DateTime<Utc>, outcome: &mut Outcome) -> StoreResult<()> {
        // Another process that died mid-delivery left its rows leased: they are this one's now.
        let orphaned = self.app.db.release_dead_leases(now).await?;
        if orphaned > 0 {
            info!(orphaned, "resending messages a stopped process had leased");
        }
        loop {
            let rows = self
                .app
                .db
                .lease_pending(now, now + SEND_LEASE, SEND_BATCH)
                .await?;
            let full = rows.len() as i64 == SEND_BATCH;
            self.send_rows(rows, outcome).await?;
            if !full || self.is_stopping() {
                return Ok(());
            }
        }
    }

    async fn send_rows(&self, rows: Vec<OutboxRow>, outcome: &mut Outcome) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut by_channel: BTreeMap<crate::domain::ids::ChannelId, Vec<OutboxRow>> =
            BTreeMap::new();
        let mut unopened = Vec::new();
        for row in rows {
            match row.dm_user_id {
                Some(_) if row.channel_id.get() == 0 => unopened.push(row),
                _ => by_channel.entry(row.channel_id).or_default().push(row),
            }
        }
        let mut jobs = JoinSet::new();
        if !unopened.is_empty() {
            // DMs whose channel is not known yet: opened one by one, at the DM pace.
            let worker = self.clone();
            jobs.spawn(async move {
                let mut results = Vec::new();
                for row in unopened {
                    if worker.is_stopping() {
                        break;
                    }
                    if let Some(given_back) = worker.give_back_if_moved(&row).await {
                        results.extend(given_back);
                        continue;
                    }
                    match worker.open_dm_of(row).await {
                        Ok(Some(row)) => {
                            let Some(delivery) = worker
                                .sender
                                .deliver_unless(&row, Box::pin(worker.stopped()))
                                .await
                            else {
                                break;
                            };
                            results.push(worker.record(&row, delivery).await);
                        }
                        Ok(None) => results.push(Ok(Delivered::Failed)),
                        Err(e) => results.push(Err(e)),
                    }
                }
                results
            });
        }
        for (_, rows) in by_channel {
            let worker = self.clone();
            jobs.spawn(async move {
                let mut results = Vec::new();
                for row in rows {
                    if let Some(given_back) = worker.give_back_if_moved(&row).await {
                        results.extend(given_back);
                        continue;
                    }
                    let row = match worker.render_at_send(row).await {
                        Ok(Some(row)) => row,
                        Ok(None) => continue,
                        Err(e) => {
                            results.push(Err(e));
                            continue;
                        }
                    };
                    // Rows left here stay leased; the next start releases and sends them.
                    let Some(delivery) = worker
                        .sender
                        .deliver_unless(&row, Box::pin(worker.stopped()))
                        .await
                    else {
                        break;
                    };
                    results.push(worker.record(&row, delivery).await);
                }
                results
            });
        }
        while let Some(joined) = jobs.join_next().await {
            let results = match joined {
                Ok(results) => results,
                Err(e) => {
                    error!(error = %e, "a send task ended abnormally");
                    continue;
                }
            };
            for result in results {
                match result? {
                    Delivered::Sent => outcome.sent += 1,
                    Delivered::Failed => outcome.failed += 1,
                    Delivered::Retrying => outcome.retrying += 1,
                }
            }
        }
        Ok(())
    }

    /// A worker that no longer holds a row's partition (a rebalance, or its session was lost)
    /// sends nothing more of it: the row goes back, due at once for the new holder. Some
    /// (holding an error, if giving back failed) when the row was not this worker's to send.
    async fn give_back_if_moved(&self, row: &OutboxRow) -> Option<Option<StoreResult<Delivered>>> {
        if self.app.db.holds_partition_of(row.guild_id) {
            return None;
        }
        let now = self.app.clock.now();
        Some(self.app.db.give_back(row.id, now).await.err().map(Err))
    }

    /// An edit queued as `REFRESH` is rendered now, from the stored message and the tasks as
    /// they are at this moment, so the last edit sent shows every change. None (and the row
    /// done) when there is nothing to show.
    async fn render_at_send(&self, mut row: OutboxRow) -> StoreResult<Option<OutboxRow>> {
        let OutboxKind::Edit { message_id } = row.kind else {
            return Ok(Some(row));
        };
        if row.body != REFRESH {
            return Ok(Some(row));
        }
        let db = &self.app.db;
        match db
            .posted_duties_of_message(message_id)
            .await?
            .as_ref()
            .and_then(refreshed)
        {
            Some(body) => {
                row.body = body;
                Ok(Some(row))
            }
            None => {
                db.mark_sent(row.id, message_id, self.app.clock.now())
                    .await?;
                Ok(None)
            }
        }
    }

    /// Finds or opens the DM channel of a direct message's recipient; None if Discord refused
    /// to open one (recorded as for a refused DM) or kept failing (retried later).
    async fn open_dm_of(&self, mut row: OutboxRow) -> StoreResult<Option<OutboxRow>> {
        let Some(user) = row.dm_user_id else {
            return Ok(Some(row));
        };
        let db = &self.app.db;
        if let Some(channel) = db.dm_channel(user).await? {
            row.channel_id = channel;
            return Ok(Some(row));
        }
        let now = self.app.clock.now();
        match self.sender.open_dm(user).await {
            DmOpening::Opened(channel) => {
                db.set_dm_channel(user, channel).await?;
                row.channel_id = channel;
                Ok(Some(row))
            }
            DmOpening::Refused {
                status,
                code,
                error,
            } => {
                let code = code.filter(|c| is_dm_refusal(*c));
                match code {
                    Some(code) => {
                        db.dm_refused(row.id, row.guild_id, user, code, &error, now)
                            .await?
                    }
                    None => db.mark_failed(&row, status, &error, now).await?,
                }
                warn!(outbox = row.id, user = user.get(), status, %error, "could not open a direct message");
                Ok(None)
            }
            DmOpening::Failed { error } => {
                let attempts = i32::try_from(row.attempts.clamp(0, 20)).unwrap_or(20) + 1;
                db.retry_later(row.id, now + RETRY_STEP * attempts, &error)
                    .await?;
                warn!(outbox = row.id, user = user.get(), %error, "opening a direct message failed; retrying later");
                Ok(None)
            }
        }
    }

    async fn record(&self, row: &OutboxRow, delivery: Delivery) -> StoreResult<Delivered> {
        let now = self.app.clock.now();
        let db = &self.app.db;
        match delivery {
            Delivery::Sent { message_id } => {
                db.mark_sent(row.id, message_id, now).await?;
                match row.dm_user_id {
                    Some(user) => db.dm_delivered(row.id, user, now).await?,
                    None => {
                        db.clear_channel_failure(row.guild_id, row.channel_id)
                            .await?
                    }
                }
                let (items, late_ms) = self.count(row, DutyOutcome::Sent, now).await?;
                info!(
                    outbox = row.id,
                    guild = row.guild_id.get(),
                    channel = row.channel_id.get(),
                    tasks = %metrics::task_list(&items),
                    kind = %metrics::kind_list(&items),
                    outcome = "sent",
                    late_ms,
                    "duty"
                );
                if row.kind == OutboxKind::Post {
                    // A task finished while its reminder was on the way gets its buttons disabled.
                    if let Some(posted) = db.posted_duties(row.id).await? {
                        disable_closed_buttons(&self.app, &posted, now).await?;
                    }
                }
                Ok(Delivered::Sent)
            }
            Delivery::Refused {
                code: Some(code),
                error,
                ..
            } if row.dm_user_id.is_some() && is_dm_refusal(code) => {
                // The member's choice (or they left), not a broken channel.
                let user = row.dm_user_id.unwrap_or_else(|| UserId::new(0));
                db.dm_refused(row.id, row.guild_id, user, code, &error, now)
                    .await?;
                info!(
                    outbox = row.id,
                    guild = row.guild_id.get(),
                    user = user.get(),
                    code,
                    "direct message refused; the standup channel mentions them instead"
                );
                Ok(Delivered::Failed)
            }
            Delivery::Refused { status, error, .. } => {
                db.mark_failed(row, status, &error, now).await?;
                let (items, late_ms) = self.count(row, DutyOutcome::Failed, now).await?;
                warn!(
                    outbox = row.id,
                    guild = row.guild_id.get(),
                    channel = row.channel_id.get(),
                    tasks = %metrics::task_list(&items),
                    kind = %metrics::kind_list(&items),
                    outcome = "failed",
                    late_ms,
                    status,
                    %error,
                    "duty"
                );
                Ok(Delivered::Failed)
            }
            Delivery::Failed { error } => {
                let attempts = i32::try_from(row.attempts.clamp(0, 20)).unwrap_or(20) + 1;
                let at = now + RETRY_STEP * attempts;
                db.retry_later(row.id, at, &error).await?;
                let (items, late_ms) = self.count(row, DutyOutcome::Retrying, now).await?;
                warn!(
                    outbox = row.id,
                    guild = row.guild_id.get(),
                    channel = row.channel_id.get(),
                    tasks = %metrics::task_list(&items),
                    kind = %metrics::kind_list(&items),
                    outcome = "retrying",
                    late_ms,
                    %error,
                    retry_at = %at,
                    "duty"
                );
                Ok(Delivered::Retrying)
            }
        }
    }

    /// Counts each duty the row carries (after its outcome is stored, so a resend after a crash
    /// is not counted twice) and returns them with the row's lateness in milliseconds.
    async fn count(
        &self,
        row: &OutboxRow,
        outcome: DutyOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<(Vec<metrics::DutyItem>, i64)> {
        let late_ms = (now - row.due_at).num_milliseconds();
        let claims = match row.kind {
            OutboxKind::Post => self.app.db.duties_of_outbox(row.id).await?,
            OutboxKind::Edit { .. } => Vec::new(),
        };
        let items = metrics::duties_in(row, &claims);
        for item in &items {
            self.app
                .metrics
                .duty(item.kind, outcome, late_ms as f64 / 1000.0);
        }
        Ok((items, late_ms))
    }

    /// Runs until `stop` turns true, stepping whenever something falls due or a task changes.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        self.stopping = Some(stop.clone());
        match self.app.db.release_leases(self.app.clock.now()).await {
            Ok(0) => {}
            Ok(unsent) => info!(unsent, "resending messages left unsent by the last run"),
            Err(e) => error!(error = %e, "could not read unsent messages"),
        }
        info!("duties worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let now = self.app.clock.now();
            let wait = match self.step(now).await {
                Ok(outcome) => {
                    self.app.metrics.worker_step_done();
                    if outcome
                        != (Outcome {
                            next_due: outcome.next_due,
                            ..Outcome::default()
                        })
                    {
                        info!(?outcome, "duties step");
                    }
                    outcome
                        .next_due
                        .map(|at| (at - self.app.clock.now()).to_std().unwrap_or_default())
                        .unwrap_or(self.longest_sleep)
                        .min(self.longest_sleep)
                }
                Err(e) => {
                    self.app.metrics.worker_step_failed();
                    error!(error = %e, "duties step failed; retrying shortly");
                    StdDuration::from_secs(5)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.app.db.due_times_changed_notified() => {}
                _ = stop.changed() => {}
            }
        }
        info!("duties worker stopped");
    }
}

enum Delivered {
    Sent,
    Failed,
    Retrying,
}
