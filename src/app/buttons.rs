//! Buttons on posted reminders stop working once their task is closed: the edit that disables
//! them goes through the outbox like any message.

use chrono::{DateTime, Utc};

use super::App;
use crate::render::duties::disable_buttons;
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

/// Queues the edit that disables the buttons of the message's closed tasks, if any remain
/// enabled (a task may close while its reminder is still on the way).
pub async fn disable_closed_buttons(
    app: &App,
    posted: &PostedDuties,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let closed: Vec<_> = posted
        .tasks
        .iter()
        .filter(|(_, open)| !open)
        .map(|(number, _)| *number)
        .collect();
    if let Some(edit) = disable_buttons(&posted.body, &closed) {
        let target = OutboxKind::Edit {
            message_id: posted.message_id,
        };
        app.db
            .enqueue(posted.guild_id, posted.channel_id, &target, &edit, now)
            .await?;
    }
    Ok(())
}
