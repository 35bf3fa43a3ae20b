//! Buttons on posted reminders stop working once their task is closed: the edit that disables
//! them goes through the outbox like any message.

use chrono::{DateTime, Utc};

use super::App;
use crate::render::duties::REFRESH;
use crate::store::{OutboxKind, PostedDuties, StoreResult};

/// After a task is done or deleted: queue the edits that disable its buttons on every reminder
/// or alert already posted.
pub async fn disable_buttons_of_task(app: &App, task_id: i64) -> StoreResult<()> {
    let now = app.clock.now();
    for posted in app.db.posted_duties_of_task(task_id).await? {
        disable_closed_buttons(app, &posted, now).await?;
    }
    Ok(())
}

/// Queues the edit that shows the message's closed tasks as done and disables their buttons
/// (a task may close while its reminder is still on the way). The edit is rendered when it is
/// sent, from the stored message and the tasks as they are then (see `render::duties::REFRESH`).
pub async fn disable_closed_buttons(
    app: &App,
    posted: &PostedDuties,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if posted.tasks.iter().all(|(_, open)| *open) {
        return Ok(());
    }
    let target = OutboxKind::Edit {
        message_id: posted.message_id,
    };
    app.db
        .enqueue(posted.guild_id, posted.channel_id, &target, REFRESH, now)
        .await?;
    Ok(())
}
