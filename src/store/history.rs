//! The `task_history` table: who did what to a task, and when.

use super::sql::sql;
use super::{id_out, time_out, Db, StoreResult};
use crate::domain::task::HistoryEntry;

record! {
    pub(super) struct HistoryRow {
        pub(super) task_id: i64,
        actor_id: i64,
        at: i64,
        action: String,
        detail: String,
    }
}

impl TryFrom<HistoryRow> for HistoryEntry {
    type Error = super::StoreError;

    fn try_from(row: HistoryRow) -> StoreResult<HistoryEntry> {
        Ok(HistoryEntry {
            actor_id: id_out(row.actor_id),
            at: time_out(row.at)?,
            action: row.action,
            detail: row.detail,
        })
    }
}

impl Db {
    /// The last `limit` entries of a task's history, oldest first.
    pub async fn recent_history(&self, task_id: i64, limit: i64) -> StoreResult<Vec<HistoryEntry>> {
        let rows: Vec<HistoryRow> = sql(
            "SELECT task_id, actor_id, at, action, detail FROM task_history WHERE task_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(task_id)
        .bind(limit)
        .fetch_all(self.on())
        .await?;
        let mut entries = rows
            .into_iter()
            .map(HistoryEntry::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        entries.reverse();
        Ok(entries)
    }
}
