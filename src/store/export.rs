//! Read-only queries for the operator's commands: a guild's tasks with their whole history (for
//! `coordinator export`), and which migrations a database has had applied (for `migrate`).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::history::HistoryRow;
use super::sql::{sql, Engine};
use super::tasks::{select_tasks, TaskRow};
use super::{id_in, time_out_opt, Db, StoreResult};
use crate::domain::ids::GuildId;
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
    pub async fn export_tasks(&self, guild_id: GuildId) -> StoreResult<Vec<ExportedTask>> {
        let rows: Vec<TaskRow> = sql(select_tasks("WHERE t.guild_id = $1 ORDER BY t.number"))
            .bind(id_in(guild_id))
            .fetch_all(self.on())
            .await?;
        let history_rows: Vec<HistoryRow> = sql(
            "SELECT h.task_id, h.actor_id, h.at, h.action, h.detail FROM task_history h \
             JOIN tasks t ON t.id = h.task_id WHERE t.guild_id = $1 ORDER BY h.task_id, h.id",
        )
        .bind(id_in(guild_id))
        .fetch_all(self.on())
        .await?;
        let mut history: HashMap<i64, Vec<HistoryEntry>> = HashMap::new();
        for row in history_rows {
            let task_id = row.task_id;
            history
                .entry(task_id)
                .or_default()
                .push(HistoryEntry::try_from(row)?);
        }
        rows.into_iter()
            .map(|row| {
                let deleted_at = time_out_opt(row.deleted_at)?;
                let task = Task::try_from(row)?;
                Ok(ExportedTask {
                    deleted_at,
                    history: history.remove(&task.id).unwrap_or_default(),
                    task,
                })
            })
            .collect()
    }

    /// The migrations this database has recorded as applied, oldest first.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<AppliedMigration>> {
        let rows: Vec<(i64, String)> =
            sql("SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(self.on())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(version, description)| AppliedMigration {
                version,
                description,
            })
            .collect())
    }
}

/// Whether the database `url` names exists: the SQLite file (an in-memory database never
/// does); a PostgreSQL database is created by its administrator, so it always counts as there.
pub fn database_exists(url: &str) -> StoreResult<bool> {
    if super::engine_of(url) == Engine::Postgres {
        return Ok(true);
    }
    Ok(SqliteConnectOptions::from_str(url)?
        .get_filename()
        .is_file())
}

/// The versions already applied to the database at `url`, read without creating or changing
/// anything: empty when the database does not exist yet or has never been migrated.
pub async fn applied_versions(url: &str) -> StoreResult<Vec<i64>> {
    const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    if super::engine_of(url) == Engine::Postgres {
        let mut connection = PgConnection::connect(url).await?;
        let has_table: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
        )
        .fetch_one(&mut connection)
        .await?;
        let versions = if has_table > 0 {
            sqlx::query_scalar(APPLIED)
                .fetch_all(&mut connection)
                .await?
        } else {
            Vec::new()
        };
        connection.close().await?;
        return Ok(versions);
    }
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
            sqlx::query_scalar(APPLIED)
                .fetch_all(&mut connection)
                .await?
        }
        None => Vec::new(),
    };
    connection.close().await?;
    Ok(versions)
}
