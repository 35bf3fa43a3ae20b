//! All SQL lives here. [`Db`] owns the pool; each file holds one table's queries, maps rows
//! with `sqlx::FromRow` and returns domain structs. Ids cross as i64 (sqlx cannot encode u64 for
//! SQLite) and are converted here.
//!
//! The store also owns the duties worker's wake-up: every write that can make something due
//! sooner (a task's due time or state, reminder offsets, a standup schedule, a new outbox row)
//! signals [`Db::due_times_changed`] after its commit, so no caller can forget to.

mod duties;
pub mod export;
mod feeds;
mod history;
mod projects;
mod settings;
mod standups;
mod tasks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tokio::sync::Notify;

use crate::domain::task::TaskNumber;
use crate::domain::UserError;

pub use duties::{ClaimedDuty, OutboxDraft, OutboxKind, OutboxRow, PostedDuties};
pub use feeds::FeedTask;
pub use standups::StandupRow;
pub use tasks::{NewTask, TaskFilter, TaskPage};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
    /// The database was opened read-only (or its file cannot be written): nothing was written.
    #[error("the database is read-only: {0}")]
    ReadOnly(sqlx::Error),
    /// Another connection held the write lock past the busy timeout: nothing was written.
    #[error("the database is locked by another connection: {0}")]
    Busy(sqlx::Error),
    /// The disk (or the configured page limit) is full: the transaction was rolled back.
    #[error("the database is full: {0}")]
    Full(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The system's random generator failed (a new calendar-feed token needs it).
    #[error("no system randomness: {0}")]
    Randomness(getrandom::Error),
    /// The guild has no such task (or it was deleted): nothing was written.
    #[error("no task {0} in this guild")]
    TaskNotFound(TaskNumber),
    /// The check run inside the write's transaction refused it: nothing was written.
    #[error("refused: {0}")]
    Refused(UserError),
    /// A project of this name (ignoring case) already exists in the guild; it is named as stored.
    #[error("a project called {0:?} already exists")]
    ProjectExists(String),
}

impl StoreError {
    /// Whether the error is the caller's (a refusal, an unknown task, a taken name) rather than
    /// the database's.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::TaskNotFound(_) | StoreError::Refused(_) | StoreError::ProjectExists(_)
        )
    }
}

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_READONLY: i64 = 8;
const SQLITE_FULL: i64 = 13;

/// Sorts faults the user can be told about (read-only, locked, full) from other errors.
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let primary = match &error {
            sqlx::Error::Database(db) => db
                .code()
                .and_then(|code| code.parse::<i64>().ok())
                .map(|code| code & 0xff),
            // Every pooled connection stuck waiting on the lock looks like this to the next caller.
            sqlx::Error::PoolTimedOut => Some(SQLITE_BUSY),
            _ => None,
        };
        match primary {
            Some(SQLITE_READONLY) => StoreError::ReadOnly(error),
            Some(SQLITE_BUSY | SQLITE_LOCKED) => StoreError::Busy(error),
            Some(SQLITE_FULL) => StoreError::Full(error),
            _ => StoreError::Sqlx(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
    /// Fired after a commit that can make a duty, summary or outbox row due sooner.
    due_changed: Arc<Notify>,
}

impl Db {
    /// Opens (creating if missing) the database at `url` and runs the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(parent) = options.get_filename().parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            due_changed: Arc::new(Notify::new()),
        })
    }

    /// Resolves after the next write that may have made something due sooner (or at once if
    /// one happened since the last call). The duties worker waits on it beside its timer.
    pub async fn due_times_changed_notified(&self) {
        self.due_changed.notified().await;
    }

    /// Wakes the duties worker: it re-reads what is due next. A permit is kept if it is busy,
    /// so a change made during its step is not missed.
    fn due_times_changed(&self) {
        self.due_changed.notify_one();
    }

    /// Wakes the duties worker without a write: for a clock that jumps rather than runs (tests,
    /// a simulated clock), after which what is due must be re-read. Writes never need it.
    pub fn wake_worker(&self) {
        self.due_changed.notify_one();
    }

    /// A write transaction that takes the write lock up front, so a read-then-write inside it
    /// cannot fail half-way on a lock upgrade.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Folds the write-ahead log into the database file, then closes every connection: a clean
    /// stop leaves a self-contained file and an empty `-wal`. (Closing sqlx's pool alone was
    /// measured to leave the whole log behind.)
    pub async fn close(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "could not checkpoint the database log before closing");
        }
        self.pool.close().await;
    }

    /// Whether the database answers a trivial query (for `/healthz`).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool, for tests that inspect the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// A Discord id as SQLite stores it: the same 64 bits, read as signed.
fn id_in(id: impl Into<u64>) -> i64 {
    id.into() as i64
}

fn id_out<T: From<u64>>(id: i64) -> T {
    T::from(id as u64)
}

fn time_in(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn time_out(secs: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {secs} out of range")))
}

fn time_out_opt(secs: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    secs.map(time_out).transpose()
}

/// Escapes `%`, `_` and `\` so typed text matches literally inside `LIKE ... ESCAPE '\'`.
fn like_pattern(typed: &str) -> String {
    let mut out = String::with_capacity(typed.len() + 2);
    out.push('%');
    for c in typed.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }

    #[test]
    fn ids_round_trip_through_i64() {
        for id in [0_u64, 1, 1 << 62, u64::MAX] {
            assert_eq!(super::id_out::<u64>(super::id_in(id)), id);
        }
    }
}
