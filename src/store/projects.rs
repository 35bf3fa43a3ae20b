//! The `projects` table.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::{id_in, id_out, like_pattern, time_in, time_out, Db, StoreResult};
use crate::domain::guild::Project;
use crate::domain::validate::project_key;
use crate::domain::UserError;

const SELECT_PROJECT: &str = "SELECT id, guild_id, name, channel_id, description, created_by, \
     created_at, archived_at FROM projects";

pub(super) fn project_from_row(row: &SqliteRow) -> StoreResult<Project> {
    Ok(Project {
        id: row.try_get("id")?,
        guild_id: id_out(row.try_get("guild_id")?),
        name: row.try_get("name")?,
        channel_id: row.try_get::<Option<i64>, _>("channel_id")?.map(id_out),
        description: row.try_get("description")?,
        created_by: id_out(row.try_get("created_by")?),
        created_at: time_out(row.try_get("created_at")?)?,
        archived_at: row
            .try_get::<Option<i64>, _>("archived_at")?
            .map(time_out)
            .transpose()?,
    })
}

impl Db {
    /// Creates a project; a name already used in the guild (ignoring case) is refused.
    pub async fn create_project(
        &self,
        guild_id: u64,
        name: &str,
        channel_id: Option<u64>,
        description: Option<&str>,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> StoreResult<Result<Project, UserError>> {
        let mut tx = self.begin_write().await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT name FROM projects WHERE guild_id = $1 AND name_key = $2")
                .bind(id_in(guild_id))
                .bind(project_key(name))
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(existing) = taken {
            return Ok(Err(UserError::Invalid(format!(
                "There is already a project called \"{existing}\" in this server."
            ))));
        }
        let sql = format!(
            "INSERT INTO projects (guild_id, name, name_key, channel_id, description, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {}",
            SELECT_PROJECT
                .trim_start_matches("SELECT ")
                .trim_end_matches(" FROM projects")
        );
        let row = sqlx::query(&sql)
            .bind(id_in(guild_id))
            .bind(name)
            .bind(project_key(name))
            .bind(channel_id.map(id_in))
            .bind(description)
            .bind(id_in(created_by))
            .bind(time_in(now))
            .fetch_one(&mut *tx)
            .await?;
        let project = project_from_row(&row)?;
        tx.commit().await?;
        Ok(Ok(project))
    }

    /// A project of this guild by name, ignoring case; archived ones included.
    pub async fn project_by_name(&self, guild_id: u64, name: &str) -> StoreResult<Option<Project>> {
        let row = sqlx::query(&format!(
            "{SELECT_PROJECT} WHERE guild_id = $1 AND name_key = $2"
        ))
        .bind(id_in(guild_id))
        .bind(project_key(name))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// Every project of the guild, active first, then by name.
    pub async fn projects(&self, guild_id: u64) -> StoreResult<Vec<Project>> {
        let rows = sqlx::query(&format!(
            "{SELECT_PROJECT} WHERE guild_id = $1 \
             ORDER BY CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END, name_key"
        ))
        .bind(id_in(guild_id))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(project_from_row).collect()
    }

    /// Active project names matching `typed`, for autocomplete.
    pub async fn search_projects(
        &self,
        guild_id: u64,
        typed: &str,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM projects WHERE guild_id = $1 AND archived_at IS NULL \
             AND name_key LIKE $2 ESCAPE '\\' ORDER BY name_key LIMIT $3",
        )
        .bind(id_in(guild_id))
        .bind(like_pattern(&project_key(typed)))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Archives a project; it then accepts no new tasks.
    pub async fn archive_project(&self, project_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE projects SET archived_at = $1 WHERE id = $2 AND archived_at IS NULL")
            .bind(time_in(now))
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
