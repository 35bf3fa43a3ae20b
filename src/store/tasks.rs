//! The `tasks` table.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::duties::refresh_task_duties;
use super::{id_in, id_out, like_pattern, time_in, time_out, Db, StoreError, StoreResult};
use crate::domain::task::{Priority, ProjectRef, Status, Task, TaskCommand, TaskNumber};
use crate::domain::UserError;

pub(super) const SELECT_TASK: &str =
    "SELECT t.id, t.guild_id, t.number, t.title, t.description, t.status, \
     t.blocked_reason, t.priority, t.project_id, p.name AS project_name, \
     p.channel_id AS project_channel_id, t.assignee_id, t.creator_id, t.channel_id, t.due_at, \
     t.created_at, t.updated_at, t.done_at \
     FROM tasks t LEFT JOIN projects p ON p.id = t.project_id";

#[derive(Debug, Clone)]
pub struct NewTask {
    pub guild_id: u64,
    pub title: String,
    pub description: Option<String>,
    pub priority: Priority,
    pub project: Option<ProjectRef>,
    pub assignee_id: Option<u64>,
    pub creator_id: u64,
    pub channel_id: u64,
    pub due_at: Option<DateTime<Utc>>,
}

/// What `/task list` narrows by. With no status, only open tasks are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub assignee_id: Option<u64>,
    pub project_id: Option<i64>,
    pub status: Option<Status>,
    /// Only open tasks whose due time is before this instant.
    pub overdue_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    /// How many match, counted up to `LIST_COUNT_CAP`.
    pub total: i64,
    /// More than `total` match.
    pub capped: bool,
}

/// `/task list` counts matching tasks up to this many ("1000+").
pub const LIST_COUNT_CAP: i64 = 1_000;

pub(super) fn task_from_row(row: &SqliteRow) -> StoreResult<Task> {
    let status: String = row.try_get("status")?;
    let priority: String = row.try_get("priority")?;
    let project_id: Option<i64> = row.try_get("project_id")?;
    let project = match project_id {
        Some(id) => Some(ProjectRef {
            id,
            name: row
                .try_get::<Option<String>, _>("project_name")?
                .unwrap_or_default(),
            channel_id: row
                .try_get::<Option<i64>, _>("project_channel_id")?
                .map(id_out),
        }),
        None => None,
    };
    Ok(Task {
        id: row.try_get("id")?,
        guild_id: id_out(row.try_get("guild_id")?),
        number: TaskNumber(row.try_get("number")?),
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        status: status
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("unknown status {status:?}")))?,
        blocked_reason: row.try_get("blocked_reason")?,
        priority: priority
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("unknown priority {priority:?}")))?,
        project,
        assignee_id: row.try_get::<Option<i64>, _>("assignee_id")?.map(id_out),
        creator_id: id_out(row.try_get("creator_id")?),
        channel_id: id_out(row.try_get("channel_id")?),
        due_at: row
            .try_get::<Option<i64>, _>("due_at")?
            .map(time_out)
            .transpose()?,
        created_at: time_out(row.try_get("created_at")?)?,
        updated_at: time_out(row.try_get("updated_at")?)?,
        done_at: row
            .try_get::<Option<i64>, _>("done_at")?
            .map(time_out)
            .transpose()?,
    })
}

async fn insert_history(
    tx: &mut Transaction<'_, Sqlite>,
    task_id: i64,
    actor_id: u64,
    at: DateTime<Utc>,
    action: &str,
    detail: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO task_history (task_id, actor_id, at, action, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(task_id)
    .bind(id_in(actor_id))
    .bind(time_in(at))
    .bind(action)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn fetch_task(
    tx: &mut Transaction<'_, Sqlite>,
    guild_id: u64,
    number: TaskNumber,
) -> StoreResult<Option<Task>> {
    let sql =
        format!("{SELECT_TASK} WHERE t.guild_id = $1 AND t.number = $2 AND t.deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(id_in(guild_id))
        .bind(number.0)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(task_from_row).transpose()
}

pub fn task_not_found(number: TaskNumber) -> UserError {
    UserError::NotFound(format!(
        "There is no task {number} in this server. Use /task list to see the open ones."
    ))
}

impl Db {
    /// Creates a task with the guild's next number, and its first history row.
    pub async fn create_task(&self, new: &NewTask, now: DateTime<Utc>) -> StoreResult<Task> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO guild_settings (guild_id) VALUES ($1) ON CONFLICT (guild_id) DO NOTHING",
        )
        .bind(id_in(new.guild_id))
        .execute(&mut *tx)
        .await?;
        let number: i64 = sqlx::query_scalar(
            "UPDATE guild_settings SET next_task_number = next_task_number + 1 \
             WHERE guild_id = $1 RETURNING next_task_number - 1",
        )
        .bind(id_in(new.guild_id))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tasks (guild_id, number, title, description, status, priority, project_id, \
             assignee_id, creator_id, channel_id, due_at, created_at, updated_at, due_set_at, duty_cursor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $12) RETURNING id",
        )
        .bind(id_in(new.guild_id))
        .bind(number)
        .bind(&new.title)
        .bind(&new.description)
        .bind(Status::Todo.as_str())
        .bind(new.priority.as_str())
        .bind(new.project.as_ref().map(|p| p.id))
        .bind(new.assignee_id.map(id_in))
        .bind(id_in(new.creator_id))
        .bind(id_in(new.channel_id))
        .bind(new.due_at.map(time_in))
        .bind(time_in(now))
        .fetch_one(&mut *tx)
        .await?;
        insert_history(&mut tx, id, new.creator_id, now, "created", &new.title).await?;
        refresh_task_duties(&mut tx, id).await?;
        let task = fetch_task(&mut tx, new.guild_id, TaskNumber(number))
            .await?
            .ok_or_else(|| StoreError::Corrupt("created task vanished".into()))?;
        tx.commit().await?;
        Ok(task)
    }

    /// A task of this guild that has not been deleted.
    pub async fn task(&self, guild_id: u64, number: TaskNumber) -> StoreResult<Option<Task>> {
        let sql = format!(
            "{SELECT_TASK} WHERE t.guild_id = $1 AND t.number = $2 AND t.deleted_at IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(id_in(guild_id))
            .bind(number.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Loads the task, lets `decide` accept or refuse `command` against its current state, and
    /// applies it with a history row, all in one transaction. Returns the task as it is after.
    pub async fn change_task(
        &self,
        guild_id: u64,
        number: TaskNumber,
        actor_id: u64,
        now: DateTime<Utc>,
        command: &TaskCommand,
        decide: impl FnOnce(&Task) -> Result<(), UserError>,
    ) -> StoreResult<Result<Task, UserError>> {
        let mut tx = self.begin_write().await?;
        let Some(task) = fetch_task(&mut tx, guild_id, number).await? else {
            return Ok(Err(task_not_found(number)));
        };
        if let Err(refused) = decide(&task) {
            return Ok(Err(refused));
        }
        let at = time_in(now);
        let update = match command {
            TaskCommand::Assign(user) => sqlx::query(
                "UPDATE tasks SET assignee_id = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(user.map(id_in)),
            TaskCommand::Start => set_status(Status::InProgress),
            TaskCommand::Done => set_status(Status::Done),
            TaskCommand::Reopen => set_status(Status::Todo),
            TaskCommand::Block(reason) => sqlx::query(
                "UPDATE tasks SET status = 'blocked', blocked_reason = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(reason.clone()),
            TaskCommand::Edit(edit) => sqlx::query(
                "UPDATE tasks SET title = COALESCE($1, title), description = COALESCE($2, description), \
                 project_id = COALESCE($3, project_id), due_at = COALESCE($4, due_at), \
                 priority = COALESCE($5, priority), updated_at = $6 WHERE id = $7",
            )
            .bind(edit.title.clone())
            .bind(edit.description.clone())
            .bind(edit.project.as_ref().map(|p| p.id))
            .bind(edit.due_at.map(time_in))
            .bind(edit.priority.map(|p| p.as_str())),
            TaskCommand::Comment(_) => sqlx::query("UPDATE tasks SET updated_at = $1 WHERE id = $2"),
            TaskCommand::Snooze => sqlx::query(
                "UPDATE tasks SET snoozed_until = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(time_in(now + crate::domain::duties::SNOOZE)),
            TaskCommand::Delete => sqlx::query(
                "UPDATE tasks SET deleted_at = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(at),
        };
        update.bind(at).bind(task.id).execute(&mut *tx).await?;
        if let TaskCommand::Edit(edit) = command {
            if edit.due_at.is_some() {
                // A new due time starts a new schedule: offsets already past are skipped.
                sqlx::query(
                    "UPDATE tasks SET due_set_at = $1, duty_cursor = $1, snoozed_until = NULL WHERE id = $2",
                )
                .bind(at)
                .bind(task.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        refresh_task_duties(&mut tx, task.id).await?;
        let (action, detail) = command.history(&task);
        insert_history(&mut tx, task.id, actor_id, now, action, &detail).await?;
        let after = match command {
            TaskCommand::Delete => task,
            _ => fetch_task(&mut tx, guild_id, number)
                .await?
                .ok_or_else(|| StoreError::Corrupt("changed task vanished".into()))?,
        };
        tx.commit().await?;
        Ok(Ok(after))
    }

    /// One page of the guild's tasks, by number.
    pub async fn list_tasks(
        &self,
        guild_id: u64,
        filter: &TaskFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<TaskPage> {
        let condition = "t.guild_id = $1 AND t.deleted_at IS NULL \
             AND ($2 IS NULL OR t.assignee_id = $2) \
             AND ($3 IS NULL OR t.project_id = $3) \
             AND (($4 IS NULL AND t.status <> 'done') OR t.status = $4) \
             AND ($5 IS NULL OR (t.due_at < $5 AND t.status <> 'done'))";
        let status = filter.status.map(|s| s.as_str());
        let overdue = filter.overdue_at.map(time_in);
        // Counting stops past the cap: a page of ten never pays for a count of 100,000.
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM tasks t WHERE {condition} LIMIT {})",
            LIST_COUNT_CAP + 1
        ))
        .bind(id_in(guild_id))
        .bind(filter.assignee_id.map(id_in))
        .bind(filter.project_id)
        .bind(status)
        .bind(overdue)
        .fetch_one(&self.pool)
        .await?;
        let sql = format!("{SELECT_TASK} WHERE {condition} ORDER BY t.number LIMIT $6 OFFSET $7");
        let rows = sqlx::query(&sql)
            .bind(id_in(guild_id))
            .bind(filter.assignee_id.map(id_in))
            .bind(filter.project_id)
            .bind(status)
            .bind(overdue)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let tasks = rows.iter().map(task_from_row).collect::<StoreResult<_>>()?;
        Ok(TaskPage {
            tasks,
            total: total.min(LIST_COUNT_CAP),
            capped: total > LIST_COUNT_CAP,
        })
    }

    /// A user's open tasks, soonest due first (undated last).
    pub async fn tasks_of(&self, guild_id: u64, user_id: u64, limit: i64) -> StoreResult<TaskPage> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tasks WHERE guild_id = $1 AND assignee_id = $2 \
             AND status <> 'done' AND deleted_at IS NULL",
        )
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .fetch_one(&self.pool)
        .await?;
        let sql = format!(
            "{SELECT_TASK} WHERE t.guild_id = $1 AND t.assignee_id = $2 AND t.status <> 'done' \
             AND t.deleted_at IS NULL \
             ORDER BY CASE WHEN t.due_at IS NULL THEN 1 ELSE 0 END, t.due_at, t.number LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(id_in(guild_id))
            .bind(id_in(user_id))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let tasks = rows.iter().map(task_from_row).collect::<StoreResult<_>>()?;
        Ok(TaskPage {
            tasks,
            total,
            capped: false,
        })
    }

    /// Tasks whose number starts with, or whose title contains, `typed`, for autocomplete:
    /// an exact number first, then newest first. Every branch reads an index: number ranges on
    /// (guild, number), and a trigram index for titles (3+ characters).
    pub async fn search_tasks(
        &self,
        guild_id: u64,
        typed: &str,
        include_done: bool,
        limit: i64,
    ) -> StoreResult<Vec<(TaskNumber, String)>> {
        const FILTER: &str =
            "t.guild_id = $1 AND t.deleted_at IS NULL AND ($2 OR t.status <> 'done')";
        let typed = typed.trim().trim_start_matches('#').trim();
        let mut found: Vec<(TaskNumber, String)> = Vec::new();
        let row_pair = |row: &SqliteRow| -> StoreResult<(TaskNumber, String)> {
            Ok((TaskNumber(row.try_get("number")?), row.try_get("title")?))
        };
        if typed.is_empty() {
            let rows = sqlx::query(&format!(
                "SELECT t.number, t.title FROM tasks t WHERE {FILTER} ORDER BY t.number DESC LIMIT $3"
            ))
            .bind(id_in(guild_id))
            .bind(include_done)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            return rows.iter().map(row_pair).collect();
        }
        if let Some(ranges) = number_prefix_ranges(typed) {
            for (low, high) in ranges {
                let wanted = limit - found.len() as i64;
                if wanted <= 0 {
                    break;
                }
                let rows = sqlx::query(&format!(
                    "SELECT t.number, t.title FROM tasks t WHERE {FILTER} \
                     AND t.number BETWEEN $3 AND $4 ORDER BY t.number DESC LIMIT $5"
                ))
                .bind(id_in(guild_id))
                .bind(include_done)
                .bind(low)
                .bind(high)
                .bind(wanted)
                .fetch_all(&self.pool)
                .await?;
                for row in &rows {
                    found.push(row_pair(row)?);
                }
            }
        }
        let wanted = limit - found.len() as i64;
        if wanted > 0 {
            let rows = if typed.chars().count() >= 3 {
                // The newest matches across the index first; the guild filter applies after.
                let phrase = format!("\"{}\"", typed.replace('"', "\"\""));
                sqlx::query(&format!(
                    "SELECT t.number, t.title FROM ( \
                       SELECT rowid FROM tasks_title_search WHERE tasks_title_search MATCH $3 \
                       ORDER BY rowid DESC LIMIT 1000) AS hit \
                     JOIN tasks t ON t.id = hit.rowid WHERE {FILTER} ORDER BY t.number DESC LIMIT $4"
                ))
                .bind(id_in(guild_id))
                .bind(include_done)
                .bind(phrase)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            } else {
                // One or two characters match often: newest first, stopping early.
                sqlx::query(&format!(
                    "SELECT t.number, t.title FROM tasks t WHERE {FILTER} \
                     AND t.title LIKE $3 ESCAPE '\\' ORDER BY t.number DESC LIMIT $4"
                ))
                .bind(id_in(guild_id))
                .bind(include_done)
                .bind(like_pattern(typed))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            };
            for row in &rows {
                let pair = row_pair(row)?;
                if found.len() as i64 >= limit {
                    break;
                }
                if !found.iter().any(|(n, _)| *n == pair.0) {
                    found.push(pair);
                }
            }
        }
        Ok(found)
    }
}

/// The number ranges whose decimal form starts with `digits`: `12` is 12, 120–129, 1200–1299…
/// The exact number comes first.
fn number_prefix_ranges(digits: &str) -> Option<Vec<(i64, i64)>> {
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: i64 = digits.parse().ok()?;
    let mut ranges = Vec::new();
    let (mut low, mut high) = (prefix, prefix);
    while ranges.len() < 19 - digits.len() {
        ranges.push((low, high));
        low = match low.checked_mul(10) {
            Some(v) if v > 0 => v,
            _ => break,
        };
        high = match high.checked_mul(10).and_then(|v| v.checked_add(9)) {
            Some(v) => v,
            None => break,
        };
    }
    Some(ranges)
}

fn set_status(
    status: Status,
) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments<'static>> {
    // Leaving `blocked` clears its reason.
    sqlx::query(
        "UPDATE tasks SET status = $1, blocked_reason = NULL, \
         done_at = CASE WHEN $1 = 'done' THEN $2 ELSE NULL END, updated_at = $2 WHERE id = $3",
    )
    .bind(status.as_str())
}

#[cfg(test)]
mod tests {
    use super::number_prefix_ranges;

    #[test]
    fn number_prefixes_become_index_ranges_exact_first() {
        let ranges = number_prefix_ranges("12").unwrap_or_default();
        assert_eq!(&ranges[..3], &[(12, 12), (120, 129), (1200, 1299)]);
        assert_eq!(number_prefix_ranges("abc"), None);
        assert_eq!(number_prefix_ranges("0").map(|r| r.len()), Some(1));
        assert!(number_prefix_ranges("999999999999999999").is_some());
    }
}
