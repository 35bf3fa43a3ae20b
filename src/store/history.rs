//! The `task_history` table: who did what to a task, and when.

use super::sql::sql;
use super::tasks::{TaskRow, TASK_COLUMNS, TASK_FROM};
use super::{id_in, id_out, time_out, Db, StoreResult};
use crate::domain::ids::GuildId;
use crate::domain::task::{HistoryEntry, Task, TaskNumber};

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

record! {
    /// A task's columns and one of its history entries (none for a task without history).
    struct TaskHistoryRow {
        #[flatten] task: TaskRow,
        history_actor_id: Option<i64>,
        history_at: Option<i64>,
        history_action: Option<String>,
        history_detail: Option<String>,
    }
}

impl Db {
    /// A task of this guild that has not been deleted, with the last `limit` entries of its
    /// history, oldest first: one statement, since each is a round trip to the database and
    /// `/task show` wants both.
    pub async fn task_with_history(
        &self,
        guild_id: GuildId,
        number: TaskNumber,
        limit: i64,
    ) -> StoreResult<Option<(Task, Vec<HistoryEntry>)>> {
        // The join takes the task's entries from the `limit`-th newest on, through the
        // (task_id, id) index; the bound is found once per task row.
        let rows: Vec<TaskHistoryRow> = sql(format!(
            "SELECT {TASK_COLUMNS}, h.actor_id AS history_actor_id, h.at AS history_at, \
             h.action AS history_action, h.detail AS history_detail \
             {TASK_FROM} LEFT JOIN task_history h ON h.task_id = t.id AND h.id >= COALESCE(( \
                 SELECT id FROM task_history WHERE task_id = t.id \
                 ORDER BY id DESC LIMIT 1 OFFSET $3), 0) \
             WHERE t.guild_id = $1 AND t.number = $2 AND t.deleted_at IS NULL \
             ORDER BY h.id"
        ))
        .bind(id_in(guild_id))
        .bind(number.0)
        .bind((limit - 1).max(0))
        .fetch_all(self.on())
        .await?;
        let mut history = Vec::with_capacity(rows.len());
        let mut task = None;
        for row in rows {
            if let (Some(actor_id), Some(at), Some(action), Some(detail)) = (
                row.history_actor_id,
                row.history_at,
                row.history_action,
                row.history_detail,
            ) {
                history.push(HistoryEntry {
                    actor_id: id_out(actor_id),
                    at: time_out(at)?,
                    action,
                    detail,
                });
            }
            task.get_or_insert(row.task);
        }
        task.map(|row| Ok((Task::try_from(row)?, history)))
            .transpose()
    }
}
