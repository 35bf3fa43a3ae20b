//! The `task_history` table: who did what to a task, and when.

use sqlx::Row;

use super::{id_out, time_out, Db, StoreResult};
use crate::domain::task::HistoryEntry;

impl Db {
    /// The last `limit` entries of a task's history, oldest first.
    pub async fn recent_history(&self, task_id: i64, limit: i64) -> StoreResult<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT actor_id, at, action, detail FROM task_history WHERE task_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(task_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut entries = rows
            .iter()
            .map(|row| {
                Ok(HistoryEntry {
                    actor_id: id_out(row.try_get("actor_id")?),
                    at: time_out(row.try_get("at")?)?,
                    action: row.try_get("action")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        entries.reverse();
        Ok(entries)
    }
}
