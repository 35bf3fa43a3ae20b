//! Read-only queries for the operator's commands: a guild's tasks with their whole history (for
//! `coordinator export`), and which migrations a database has had applied (for `migrate`).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use super::tasks::{task_from_row, SELECT_TASK};
use super::{id_in, id_out, time_out, Db, StoreResult};
use crate::domain::task::{HistoryEntry, Task};

/// A task as exported: deleted tasks included (their history is kept for this), with every
/// history row, oldest first.
#[derive(Debug, Clone)]
pub struct ExportedTask {
    pub task: Task,
    pub deleted_at: Option<DateTime<Utc>>,
    pub history: Vec<HistoryEntry>,
}

/// A migration recorded in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

impl Db {
    /// Every task of `guild_id`, deleted ones too, by number, each with its full history.
    pub async fn export_tasks(&self, guild_id: u64) -> StoreResult<Vec<ExportedTask>> {
        let sql = format!(
            "SELECT x.*, d.deleted_at AS export_deleted_at FROM ({SELECT_TASK}) x \
             JOIN tasks d ON d.id = x.id WHERE x.guild_id = $1 ORDER BY x.number"
        );
        let rows = sqlx::query(&sql)
            .bind(id_in(guild_id))
            .fetch_all(&self.pool)
            .await?;
        let history_rows = sqlx::query(
            "SELECT h.task_id, h.actor_id, h.at, h.action, h.detail FROM task_history h \
             JOIN tasks t ON t.id = h.task_id WHERE t.guild_id = $1 ORDER BY h.task_id, h.id",
        )
        .bind(id_in(guild_id))
        .fetch_all(&self.pool)
        .await?;
        let mut history: HashMap<i64, Vec<HistoryEntry>> = HashMap::new();
        for row in &history_rows {
            history
                .entry(row.try_get("task_id")?)
                .or_default()
                .push(HistoryEntry {
                    actor_id: id_out(row.try_get("actor_id")?),
                    at: time_out(row.try_get("at")?)?,
                    action: row.try_get("action")?,
                    detail: row.try_get("detail")?,
                });
        }
        rows.iter()
            .map(|row| {
                let task = task_from_row(row)?;
                Ok(ExportedTask {
                    deleted_at: row
                        .try_get::<Option<i64>, _>("export_deleted_at")?
                        .map(time_out)
                        .transpose()?,
                    history: history.remove(&task.id).unwrap_or_default(),
                    task,
                })
            })
            .collect()
    }

    /// The migrations this database has recorded as applied, oldest first.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<AppliedMigration>> {
        let rows = sqlx::query(
            "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AppliedMigration {
                    version: row.try_get("version")?,
                    description: row.try_get("description")?,
                })
            })
            .collect()
    }
}

/// Whether the SQLite file `url` names exists (an in-memory database never does).
pub fn database_exists(url: &str) -> StoreResult<bool> {
    Ok(SqliteConnectOptions::from_str(url)?
        .get_filename()
        .is_file())
}

/// The versions already applied to the database at `url`, read without creating or changing
/// anything: empty when the file does not exist yet or has never been migrated.
pub async fn applied_versions(url: &str) -> StoreResult<Vec<i64>> {
    let options = SqliteConnectOptions::from_str(url)?.read_only(true);
    if !options.get_filename().is_file() {
        return Ok(Vec::new());
    }
    let mut connection = options.connect().await?;
    let has_table: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut connection)
    .await?;
    let versions = match has_table {
        Some(_) => {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&mut connection)
            .await?
        }
        None => Vec::new(),
    };
    connection.close().await?;
    Ok(versions)
}
