//! The `form_drafts` table: what a refused Create task form held, for its Try again button.

use chrono::{DateTime, Utc};

use super::sql::sql;
use super::{id_in, time_in, Db, StoreResult};
use crate::domain::ids::{GuildId, UserId};

/// What someone typed into the Create task form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFormDraft {
    /// The message the form was opened from: `channel:message`.
    pub source: String,
    pub title: String,
    pub due: String,
    pub description: String,
}

impl Db {
    pub async fn save_task_draft(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        draft: &TaskFormDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        sql(
            "INSERT INTO form_drafts (guild_id, user_id, source, title, due, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .bind(&draft.source)
        .bind(&draft.title)
        .bind(&draft.due)
        .bind(&draft.description)
        .bind(time_in(now))
        .scalar(self.on())
        .await
    }

    /// The draft `id`, if it is `user_id`'s in this guild (nobody reopens another's form).
    pub async fn task_draft(
        &self,
        id: i64,
        guild_id: GuildId,
        user_id: UserId,
    ) -> StoreResult<Option<TaskFormDraft>> {
        let row: Option<(String, String, String, String)> =
            sql("SELECT source, title, due, description FROM form_drafts \
             WHERE id = $1 AND guild_id = $2 AND user_id = $3")
            .bind(id)
            .bind(id_in(guild_id))
            .bind(id_in(user_id))
            .fetch_optional(self.on())
            .await?;
        Ok(row.map(|(source, title, due, description)| TaskFormDraft {
            source,
            title,
            due,
            description,
        }))
    }
}
