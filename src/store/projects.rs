//! The `projects` table.

use chrono::{DateTime, Utc};

use super::sql::sql;
use super::{
    id_in, id_out, like_pattern, retry_conflicts, time_in, time_out, time_out_opt, Db, StoreError,
    StoreResult,
};
use crate::domain::guild::Project;
use crate::domain::ids::{ChannelId, GuildId, UserId};
use crate::domain::validate::project_key;

/// Every column a [`ProjectRow`] reads, from `projects p`.
pub(super) const PROJECT_COLUMNS: &str = "p.id, p.guild_id, p.name, p.channel_id, \
     p.description, p.created_by, p.created_at, p.archived_at";

record! {
    pub(super) struct ProjectRow {
        id: i64,
        guild_id: i64,
        name: String,
        channel_id: Option<i64>,
        description: Option<String>,
        created_by: i64,
        created_at: i64,
        archived_at: Option<i64>,
    }
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;

    fn try_from(row: ProjectRow) -> StoreResult<Project> {
        Ok(Project {
            id: row.id,
            guild_id: id_out(row.guild_id),
            name: row.name,
            channel_id: row.channel_id.map(id_out),
            description: row.description,
            created_by: id_out(row.created_by),
            created_at: time_out(row.created_at)?,
            archived_at: time_out_opt(row.archived_at)?,
        })
    }
}

impl Db {
    /// Creates a project; a name already used in the guild (ignoring case) fails with
    /// [`StoreError::ProjectExists`].
    pub async fn create_project(
        &self,
        guild_id: GuildId,
        name: &str,
        channel_id: Option<ChannelId>,
        description: Option<&str>,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Project> {
        retry_conflicts(|| {
            self.create_project_once(guild_id, name, channel_id, description, created_by, now)
        })
        .await
    }

    async fn create_project_once(
        &self,
        guild_id: GuildId,
        name: &str,
        channel_id: Option<ChannelId>,
        description: Option<&str>,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Project> {
        let mut tx = self.begin_write(guild_id).await?;
        let taken: Option<String> =
            sql("SELECT name FROM projects WHERE guild_id = $1 AND name_key = $2")
                .bind(id_in(guild_id))
                .bind(project_key(name))
                .scalar_optional(tx.on())
                .await?;
        if let Some(existing) = taken {
            return Err(StoreError::ProjectExists(existing));
        }
        let row: ProjectRow = sql(
            "INSERT INTO projects (guild_id, name, name_key, channel_id, description, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, guild_id, name, channel_id, \
             description, created_by, created_at, archived_at",
        )
            .bind(id_in(guild_id))
            .bind(name)
            .bind(project_key(name))
            .bind(channel_id.map(id_in))
            .bind(description)
            .bind(id_in(created_by))
            .bind(time_in(now))
            .fetch_one(tx.on())
            .await?;
        let project = Project::try_from(row)?;
        tx.commit().await?;
        Ok(project)
    }

    /// A project of this guild by name, ignoring case; archived ones included.
    pub async fn project_by_name(
        &self,
        guild_id: GuildId,
        name: &str,
    ) -> StoreResult<Option<Project>> {
        let row: Option<ProjectRow> = sql(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.guild_id = $1 AND p.name_key = $2"
        ))
        .bind(id_in(guild_id))
        .bind(project_key(name))
        .fetch_optional(self.on())
        .await?;
        row.map(Project::try_from).transpose()
    }

    /// Every project of the guild, active first, then by name.
    pub async fn projects(&self, guild_id: GuildId) -> StoreResult<Vec<Project>> {
        let rows: Vec<ProjectRow> = sql(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.guild_id = $1 \
             ORDER BY CASE WHEN p.archived_at IS NULL THEN 0 ELSE 1 END, p.name_key"
        ))
        .bind(id_in(guild_id))
        .fetch_all(self.on())
        .await?;
        rows.into_iter().map(Project::try_from).collect()
    }

    /// Active project names matching `typed`, for autocomplete.
    pub async fn search_projects(
        &self,
        guild_id: GuildId,
        typed: &str,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        sql(
            "SELECT name FROM projects WHERE guild_id = $1 AND archived_at IS NULL \
             AND name_key LIKE $2 ESCAPE '\\' ORDER BY name_key LIMIT $3",
        )
        .bind(id_in(guild_id))
        .bind(like_pattern(&project_key(typed)))
        .bind(limit)
        .scalars(self.on())
        .await
    }

    /// Archives a project; it then accepts no new tasks.
    pub async fn archive_project(&self, project_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        sql("UPDATE projects SET archived_at = $1 WHERE id = $2 AND archived_at IS NULL")
            .bind(time_in(now))
            .bind(project_id)
            .execute(self.on())
            .await?;
        Ok(())
    }
}
