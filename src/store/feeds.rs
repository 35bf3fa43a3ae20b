//! The `project_feeds` table: each project's calendar-feed token, and what the feed shows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::projects::{ProjectRow, PROJECT_COLUMNS};
use super::sql::sql;
use super::tasks::{TaskRow, TASK_COLUMNS, TASK_FROM};
use super::{time_in, Db, StoreError, StoreResult};
use crate::domain::guild::Project;
use crate::domain::task::Task;

/// Random bytes in a token: 192 bits, far past guessing.
const TOKEN_BYTES: usize = 24;
/// A lookup finds the row by this many leading characters, then compares the whole token.
const SELECTOR_CHARS: usize = 8;

/// An open task in a feed, with how often it has changed (the event's SEQUENCE).
#[derive(Debug, Clone)]
pub struct FeedTask {
    pub task: Task,
    pub revision: u32,
}

/// A fresh token: `TOKEN_BYTES` from the system's generator, in URL-safe base64 without padding.
fn new_token() -> StoreResult<String> {
    let mut bytes = [0_u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(StoreError::Randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn selector(token: &str) -> &str {
    token.get(..SELECTOR_CHARS).unwrap_or(token)
}

/// Compares in constant time, so timing says nothing about how close a guess came.
fn same_secret(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Db {
    /// The project's feed token, created on first use. Two first uses at once agree on one
    /// token: the insert that loses does nothing, and both read the one that won.
    pub async fn feed_token(&self, project_id: i64, now: DateTime<Utc>) -> StoreResult<String> {
        let existing: Option<String> = sql("SELECT token FROM project_feeds WHERE project_id = $1")
            .bind(project_id)
            .scalar_optional(self.on())
            .await?;
        if let Some(token) = existing {
            return Ok(token);
        }
        let token = new_token()?;
        sql(
            "INSERT INTO project_feeds (project_id, selector, token, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (project_id) DO NOTHING",
        )
        .bind(project_id)
        .bind(selector(&token))
        .bind(&token)
        .bind(time_in(now))
        .execute(self.on())
        .await?;
        sql("SELECT token FROM project_feeds WHERE project_id = $1")
            .bind(project_id)
            .scalar(self.on())
            .await
    }

    /// Replaces the project's feed token; the old one stops working with this commit.
    pub async fn rotate_feed_token(
        &self,
        project_id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<String> {
        let token = new_token()?;
        sql(
            "INSERT INTO project_feeds (project_id, selector, token, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (project_id) DO UPDATE SET \
             selector = excluded.selector, token = excluded.token, created_at = excluded.created_at",
        )
        .bind(project_id)
        .bind(selector(&token))
        .bind(&token)
        .bind(time_in(now))
        .execute(self.on())
        .await?;
        Ok(token)
    }

    /// The project whose feed `token` opens, if any.
    pub async fn project_by_feed_token(&self, token: &str) -> StoreResult<Option<Project>> {
        if token.len() < SELECTOR_CHARS {
            return Ok(None);
        }
        let row: Option<FeedProjectRow> = sql(format!(
            "SELECT f.token AS feed_token, {PROJECT_COLUMNS} \
             FROM project_feeds f JOIN projects p ON p.id = f.project_id WHERE f.selector = $1"
        ))
        .bind(selector(token))
        .fetch_optional(self.on())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if !same_secret(&row.feed_token, token) {
            return Ok(None);
        }
        Project::try_from(row.project).map(Some)
    }

    /// The project's open tasks that have a due time, soonest first.
    pub async fn feed_tasks(&self, project: &Project) -> StoreResult<Vec<FeedTask>> {
        let statement = format!(
            "SELECT {TASK_COLUMNS}, \
             (SELECT COUNT(*) FROM task_history h WHERE h.task_id = t.id) AS revision {TASK_FROM} \
             WHERE t.project_id = $1 AND t.guild_id = $2 AND t.status <> 'done' \
             AND t.due_at IS NOT NULL AND t.deleted_at IS NULL ORDER BY t.due_at, t.number"
        );
        let rows: Vec<FeedTaskRow> = sql(statement)
            .bind(project.id)
            .bind(super::id_in(project.guild_id))
            .fetch_all(self.on())
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(FeedTask {
                    task: Task::try_from(row.task)?,
                    revision: u32::try_from(row.revision).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }
}

record! {
    struct FeedProjectRow {
        feed_token: String,
        #[flatten]
        project: ProjectRow,
    }
}

record! {
    struct FeedTaskRow {
        #[flatten]
        task: TaskRow,
        revision: i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_long_and_distinct() {
        let a = new_token().expect("randomness");
        let b = new_token().expect("randomness");
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcdef", "abcdef"));
        assert!(!same_secret("abcdef", "abcdeg"));
        assert!(!same_secret("abcdef", "abcde"));
    }
}
