//! All SQL lives here. [`Db`] owns the pool; each file holds one table's queries, maps rows
//! into typed records (`record!`, which implements `sqlx::FromRow`) and returns domain structs. Ids cross as i64 (sqlx cannot encode u64 for
//! SQLite) and are converted here.
//!
//! The store also owns the duties worker's wake-up: every write that can make something due
//! sooner (a task's due time or state, reminder offsets, a standup schedule, a new outbox row)
//! signals [`Db::due_times_changed`] after its commit, so no caller can forget to.

#[macro_use]
mod record;

mod checkpoint;
pub mod copy;
mod drafts;
mod duties;
pub mod export;
mod feeds;
mod history;
mod interactions;
mod lease_holder;
mod migrations;
mod notify;
pub mod partitions;
mod projects;
mod roster;
mod settings;
mod settings_cache;
mod shards;
pub mod sql;
mod standups;
mod tasks;
mod welcome;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tokio::sync::{Notify, OnceCell};

use lease_holder::LeaseHolder;

use crate::domain::ids::GuildId;
use crate::domain::task::TaskNumber;
use crate::domain::UserError;

pub use drafts::TaskFormDraft;
pub use duties::{ClaimedDuty, DmDraft, DmDuty, OutboxDraft, OutboxKind, OutboxRow, PostedDuties};
pub use feeds::FeedTask;
pub use notify::DueDigest;
pub use roster::{
    is_dm_refusal, ClaimedAsk, DueFallback, PostedPrompt, DM_RETRY_AFTER, FALLBACK_AFTER,
};
pub use shards::ShardLocks;
pub use sql::{sql, Engine, On, Pool, Tx};
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
    /// PostgreSQL aborted the transaction for a serialization failure or a deadlock with
    /// another writer: nothing was written. The store tries such writes again
    /// ([`retry_conflicts`]); this reaches callers only when every attempt conflicted.
    #[error("the write conflicted with another writer: {0}")]
    Conflict(sqlx::Error),
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
    /// `copy` found data in the database it was to copy into; nothing was written.
    #[error(
        "the target database is not empty (table {0} has rows); copy only into a new database"
    )]
    TargetNotEmpty(&'static str),
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

/// The faults a user can be told about, whichever engine reported them.
enum Fault {
    ReadOnly,
    Busy,
    Conflict,
    Full,
}

/// PostgreSQL's SQLSTATE classes and codes for the same faults: a read-only transaction or a
/// standby; a serialization failure or deadlock (which the store tries again); a lock timeout,
/// a cancelled statement or too many connections; a full disk or out of memory.
fn postgres_fault(code: &str) -> Option<Fault> {
    match code {
        "25006" | "25P02" => Some(Fault::ReadOnly),
        "40001" | "40P01" => Some(Fault::Conflict),
        "55P03" | "57014" | "53300" => Some(Fault::Busy),
        "53100" | "53200" => Some(Fault::Full),
        _ => None,
    }
}

fn sqlite_fault(code: &str) -> Option<Fault> {
    match code.parse::<i64>().ok()? & 0xff {
        SQLITE_READONLY => Some(Fault::ReadOnly),
        SQLITE_BUSY | SQLITE_LOCKED => Some(Fault::Busy),
        SQLITE_FULL => Some(Fault::Full),
        _ => None,
    }
}

/// Sorts faults the user can be told about (read-only, locked or busy, full) from other errors,
/// reading each engine's own codes.
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let fault = match &error {
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
                {
                    postgres_fault(&code)
                } else {
                    sqlite_fault(&code)
                }
            }
            // Every pooled connection stuck waiting (on a lock, or an overloaded server) looks
            // like this to the next caller.
            sqlx::Error::PoolTimedOut => Some(Fault::Busy),
            _ => None,
        };
        match fault {
            Some(Fault::ReadOnly) => StoreError::ReadOnly(error),
            Some(Fault::Busy) => StoreError::Busy(error),
            Some(Fault::Conflict) => StoreError::Conflict(error),
            Some(Fault::Full) => StoreError::Full(error),
            None => StoreError::Sqlx(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How many times a write is attempted while PostgreSQL keeps aborting it as a conflict.
const CONFLICT_ATTEMPTS: u32 = 5;

/// Runs a whole write transaction again when PostgreSQL aborted it for a serialization failure
/// or a deadlock (it rolled back, so running it again is safe), after a short pause that grows
/// with each attempt. Every other outcome is returned as it came. SQLite never reports these:
/// it has one writer at a time.
async fn retry_conflicts<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(StoreError::Conflict(error)) if tries < CONFLICT_ATTEMPTS => {
                tracing::debug!(%error, tries, "write conflicted with another writer; trying again");
                tokio::time::sleep(Duration::from_millis(5 << tries)).await;
                tries += 1;
            }
            outcome => return outcome,
        }
    }
}

/// The PostgreSQL NOTIFY channel on which a write tells every worker that something may be
/// due sooner.
const DUE_CHANNEL: &str = "coordinator_due";

#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    /// Fired after a commit that can make a duty, summary or outbox row due sooner.
    due_changed: Arc<Notify>,
    /// Marks the outbox rows this process leases; made on the first lease, so a `Db` that
    /// never sends (the command-line tools) opens no extra connection.
    lease_holder: Arc<OnceCell<LeaseHolder>>,
    /// The partitions whose duties this process's worker runs (see `partitions.rs`).
    partitions: partitions::Held,
    /// Guild settings read once and kept until a write changes them (see `settings_cache.rs`).
    settings_cache: Arc<settings_cache::SettingsCache>,
    /// SQLite's log checkpoints, run off the command path (see `checkpoint.rs`).
    _checkpointer: Option<Arc<checkpoint::Checkpointer>>,
}

impl Db {
    /// Opens the database at `url` and runs its engine's migrations: `postgres://` and
    /// `postgresql://` select PostgreSQL, anything else SQLite (created if missing).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = match engine_of(url) {
            Engine::Sqlite => {
                Pool::Sqlite(connect_sqlite(SqliteConnectOptions::from_str(url)?).await?)
            }
            Engine::Postgres => Pool::Postgres(connect_postgres(url).await?),
        };
        Self::with_pool(pool).await
    }

    /// Opens (creating it) the SQLite file at `path`, as the playground's temporary database.
    pub async fn connect_private_sqlite(path: &std::path::Path) -> StoreResult<Self> {
        // Named as a path, not a URL: a temporary directory's name may hold `?` or `#`.
        let options = SqliteConnectOptions::new().filename(path);
        Self::with_pool(Pool::Sqlite(connect_sqlite(options).await?)).await
    }

    async fn with_pool(pool: Pool) -> StoreResult<Self> {
        let db = Self {
            due_changed: Arc::new(Notify::new()),
            lease_holder: Arc::new(OnceCell::new()),
            partitions: partitions::Held::all(),
            // PostgreSQL's is trusted only while listening for other processes' writes.
            settings_cache: settings_cache::SettingsCache::new(pool.engine() == Engine::Sqlite),
            _checkpointer: match &pool {
                Pool::Sqlite(pool) => Some(checkpoint::start(pool.clone())),
                Pool::Postgres(_) => None,
            },
            pool,
        };
        db.fill_title_keys().await?;
        Ok(db)
    }

    pub fn engine(&self) -> Engine {
        self.pool.engine()
    }

    /// This process's outbox lease key (see `lease_holder.rs`).
    async fn lease_key(&self) -> StoreResult<i64> {
        let holder = self
            .lease_holder
            .get_or_try_init(|| async {
                match &self.pool {
                    Pool::Sqlite(_) => LeaseHolder::for_sqlite(),
                    Pool::Postgres(pool) => LeaseHolder::for_postgres(pool).await,
                }
            })
            .await?;
        Ok(holder.key)
    }

    /// Runs statements on the pool.
    pub fn on(&self) -> On<'_> {
        On::Pool(&self.pool)
    }

    /// The SQLite pool, when the database is SQLite (tests and benchmarks inspect it directly).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }

    /// Resolves after the next write that may have made something due sooner (or at once if
    /// one happened since the last call). The duties worker waits on it beside its timer.
    pub async fn due_times_changed_notified(&self) {
        self.due_changed.notified().await;
    }

    /// Wakes the duties worker: it re-reads what is due next. A permit is kept if it is busy,
    /// so a change made during its step is not missed.
    fn due_times_changed(&self) {
        self.wake_worker();
        // Workers in other processes hear it through LISTEN (PostgreSQL only). Sent after the
        // commit that made the change, so a woken worker reads it.
        if let Pool::Postgres(pool) = &self.pool {
            let pool = pool.clone();
            tokio::spawn(async move {
                if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(DUE_CHANNEL)
                    .execute(&pool)
                    .await
                {
                    tracing::debug!(error = %e, "could not tell other processes that something is due");
                }
            });
        }
    }

    /// On PostgreSQL, wakes this process's worker whenever a write in any process may have made
    /// something due sooner (LISTEN on a connection of its own). None on SQLite, where one
    /// process does everything. Abort the task before closing the database.
    pub async fn listen_for_other_processes(
        &self,
    ) -> StoreResult<Option<tokio::task::JoinHandle<()>>> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(DUE_CHANNEL).await?;
        let due_changed = Arc::clone(&self.due_changed);
        Ok(Some(tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => due_changed.notify_one(),
                    Err(e) => {
                        // The listener reconnects by itself; a pause keeps a dead server from
                        // spinning this loop.
                        tracing::warn!(error = %e, "lost the wake-up channel; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })))
    }

    /// Wakes the duties worker without a write: for a clock that jumps rather than runs (tests,
    /// a simulated clock), after which what is due must be re-read. Writes never need it.
    pub fn wake_worker(&self) {
        self.due_changed.notify_one();
    }

    /// A write transaction in which a check and the write it allows cannot be separated by
    /// another writer. SQLite takes its single write lock up front (`BEGIN IMMEDIATE`), so a
    /// read-then-write cannot fail half-way on a lock upgrade. PostgreSQL, where several
    /// processes write at once, takes a transaction-scoped advisory lock on the guild: writes
    /// to one guild queue, writes to different guilds run side by side.
    async fn begin_write(&self, guild_id: GuildId) -> StoreResult<Tx> {
        match &self.pool {
            Pool::Sqlite(pool) => Ok(Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)),
            Pool::Postgres(pool) => {
                let mut tx = Tx::Postgres(pool.begin().await?);
                sql("SELECT pg_advisory_xact_lock($1)")
                    .bind(id_in(guild_id))
                    .execute(tx.on())
                    .await?;
                Ok(tx)
            }
        }
    }

    /// A write transaction not tied to one guild (the worker's claims, which lock the rows they
    /// take instead).
    async fn begin(&self) -> StoreResult<Tx> {
        match &self.pool {
            Pool::Sqlite(pool) => Ok(Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)),
            Pool::Postgres(pool) => Ok(Tx::Postgres(pool.begin().await?)),
        }
    }

    /// Folds the write-ahead log into the database file, then closes every connection: a clean
    /// stop leaves a self-contained file and an empty `-wal`. (Closing sqlx's pool alone was
    /// measured to leave the whole log behind.)
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await
                {
                    tracing::warn!(error = %e, "could not checkpoint the database log before closing");
                }
                pool.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Whether the database answers a trivial query (for `/healthz`).
    pub async fn ping(&self) -> StoreResult<()> {
        sql("SELECT 1").execute(self.on()).await?;
        Ok(())
    }
}

/// `postgres://` and `postgresql://` select PostgreSQL; anything else is SQLite.
pub fn engine_of(url: &str) -> Engine {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Engine::Postgres
    } else {
        Engine::Sqlite
    }
}

/// SQLite connections in the pool. With [`SQLITE_CACHE_KIB`] and
/// [`SQLITE_STATEMENT_CACHE`] they bound the memory the database takes (README, "Memory and speed").
const SQLITE_CONNECTIONS: u32 = 4;
/// Page cache per connection, in KiB (SQLite's own default is 2,000 KiB). The operating
/// system caches the file as well, so a larger cache buys little and costs RSS per connection.
const SQLITE_CACHE_KIB: i64 = 1_024;
/// Prepared statements kept per connection (sqlx's default is 100): autocomplete's and the
/// list's statements vary with what is asked, and each kept one holds its compiled program.
const SQLITE_STATEMENT_CACHE: usize = 48;

/// SQLite: WAL journal, foreign keys on, a busy timeout; the file and its folder are created.
/// Connections are not pinged before each use: a SQLite connection is a handle on a local file
/// served by a thread of its own, with no far end that could hang up, and the ping is a round
/// trip to that thread that doubled the cost of every statement (BENCHMARKS.md).
async fn connect_sqlite(options: SqliteConnectOptions) -> StoreResult<SqlitePool> {
    sqlite_without_memory_statistics();
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
        // Checkpoints run in the background instead of inside a command's commit.
        .pragma("wal_autocheckpoint", "0")
        .statement_cache_capacity(SQLITE_STATEMENT_CACHE);
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_CONNECTIONS)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    migrations::migrator(Engine::Sqlite)?.run(&pool).await?;
    Ok(pool)
}

/// Turns SQLite's memory statistics off, once per process, before its first connection.
///
/// With them on (the library's default) every allocation SQLite makes or frees takes one
/// process-wide mutex to keep the count, and sqlx copies every value of every row it reads
/// (`sqlite3_value_dup`) and frees it on whichever thread drops the row: the connection
/// threads and the tokio workers then queue on that mutex for every column of every row.
/// Nothing here reads the statistics (`sqlite3_memory_used`), and the page cache is bounded
/// by `cache_size` per connection, which does not need them.
fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` only sets a process-wide option. SQLite accepts it only
        // before it is initialized, which its first connection does; if something opened a
        // connection earlier it answers SQLITE_MISUSE and changes nothing, which is harmless.
        let code = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            )
        };
        if code != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(
                code,
                "SQLite was already initialized; memory statistics stay on"
            );
        }
    });
}

/// PostgreSQL 15+: its own migrations (the same schema, with PostgreSQL's types and a
/// trigram index for autocomplete).
async fn connect_postgres(url: &str) -> StoreResult<sqlx::PgPool> {
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    migrations::migrator(Engine::Postgres)?.run(&pool).await?;
    Ok(pool)
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
    use super::{retry_conflicts, StoreError, CONFLICT_ATTEMPTS};

    #[tokio::test]
    async fn conflicts_are_tried_again_until_one_attempt_goes_through() {
        let mut attempts = 0;
        let outcome = retry_conflicts(|| {
            attempts += 1;
            let now = attempts;
            async move {
                if now < 3 {
                    Err(StoreError::Conflict(sqlx::Error::PoolClosed))
                } else {
                    Ok(now)
                }
            }
        })
        .await;
        assert_eq!(outcome.ok(), Some(3));
    }

    #[tokio::test]
    async fn conflicts_give_up_after_the_last_attempt_and_other_errors_at_once() {
        let mut attempts = 0;
        let outcome: Result<(), _> = retry_conflicts(|| {
            attempts += 1;
            async { Err(StoreError::Conflict(sqlx::Error::PoolClosed)) }
        })
        .await;
        assert!(matches!(outcome, Err(StoreError::Conflict(_))));
        assert_eq!(attempts, CONFLICT_ATTEMPTS);

        let mut attempts = 0;
        let outcome: Result<(), _> = retry_conflicts(|| {
            attempts += 1;
            async { Err(StoreError::Busy(sqlx::Error::PoolClosed)) }
        })
        .await;
        assert!(matches!(outcome, Err(StoreError::Busy(_))));
        assert_eq!(attempts, 1);
    }

    #[test]
    fn postgres_conflict_codes_are_told_apart_from_busy() {
        assert!(matches!(
            super::postgres_fault("40001"),
            Some(super::Fault::Conflict)
        ));
        assert!(matches!(
            super::postgres_fault("40P01"),
            Some(super::Fault::Conflict)
        ));
        assert!(matches!(
            super::postgres_fault("55P03"),
            Some(super::Fault::Busy)
        ));
        assert!(super::postgres_fault("23505").is_none());
    }
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
