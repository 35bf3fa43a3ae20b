//! The standup summary's content, for the scheduled summary (worker) and `/standup now` (edge).

use chrono::{DateTime, Duration, Utc};

use crate::domain::ids::GuildId;
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
    let summary = build(&SummaryInput {
        now,
        since,
        tasks: &tasks,
        checkins: &checkins,
    });
    Ok((summary, ids))
}
