//! The standup summary's content, for the scheduled summary (worker) and `/standup now` (edge).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use crate::domain::ids::GuildId;
use crate::domain::roster::{attendance, Attendance};
use crate::domain::summary::{build, Summary, SummaryInput};
use crate::store::{Db, StoreResult};

/// The summary of a guild at `now`, and the ids of the check-ins it shows (a scheduled summary
/// marks them shown; a preview leaves them).
pub async fn prepare_summary(
    db: &Db,
    guild_id: GuildId,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<(Summary, Vec<i64>)> {
    let done_since = since.unwrap_or(now - Duration::hours(24));
    let tasks = db.summary_tasks(guild_id, done_since).await?;
    let pending = db.pending_checkins(guild_id).await?;
    let ids = pending.iter().map(|(id, _)| *id).collect();
    let checkins: Vec<_> = pending.into_iter().map(|(_, c)| c).collect();
    let attendance = roster_attendance(db, guild_id, &checkins, now).await?;
    let summary = build(&SummaryInput {
        now,
        since,
        tasks: &tasks,
        checkins: &checkins,
        attendance,
    });
    Ok((summary, ids))
}

/// Who on the roster checked in (of `checkins`, those not yet shown), who is missing, who is away.
pub async fn roster_attendance(
    db: &Db,
    guild_id: GuildId,
    checkins: &[crate::domain::summary::Checkin],
    now: DateTime<Utc>,
) -> StoreResult<Attendance> {
    let roster = db.roster(guild_id).await?;
    if roster.is_empty() {
        return Ok(Attendance::default());
    }
    let away = db.away_periods(guild_id, now).await?;
    let checked_in: HashSet<_> = checkins.iter().map(|c| c.user_id).collect();
    Ok(attendance(&roster, &away, &checked_in, now))
}
