//! SQLite's write-ahead log, folded into the database file in the background.
//!
//! Left to itself, SQLite checkpoints inside the commit that takes the log past 1,000 pages:
//! that commit copies the log into the file and syncs both, and the command that made it waits
//! 3–20 ms instead of a fraction of one (BENCHMARKS.md, "The tail of `/task create`"). So the
//! automatic checkpoint is off on every connection and this task does the work instead, with a
//! passive checkpoint that never makes a writer or reader wait. Once the log is fully copied,
//! SQLite starts it over at the next write.
//!
//! Under a steady stream of writes a passive checkpoint may never find the log quiet enough to
//! start over, and the log (and its index, mapped into the process) would grow without end;
//! past [`LOG_LIMIT_FRAMES`] the task runs a checkpoint that briefly holds writers back.

use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::task::JoinHandle;

/// How often the log is looked at. A second's worth of commands is a few hundred pages.
const EVERY: Duration = Duration::from_secs(1);

/// Pages (4 KiB each) the log may hold before writers are held back while it is emptied:
/// 32 MiB, with a 256 KiB index.
const LOG_LIMIT_FRAMES: i64 = 8_192;

/// Stops the checkpoint task when the last handle on the database is dropped (a `Db` that is
/// never closed, as in tests, must not keep its pool open).
#[derive(Debug)]
pub(super) struct Checkpointer(JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the background checkpoints on `pool`; they end when the pool closes or the returned
/// handle is dropped.
pub(super) fn start(pool: SqlitePool) -> Arc<Checkpointer> {
    Arc::new(Checkpointer(tokio::spawn(async move {
        let closed = pool.close_event();
        tokio::pin!(closed);
        loop {
            tokio::select! {
                () = &mut closed => return,
                () = tokio::time::sleep(EVERY) => {}
            }
            if let Err(e) = checkpoint(&pool).await {
                tracing::warn!(error = %e, "could not checkpoint the database log");
            }
        }
    })))
}

/// One passive checkpoint; a restarting one when the log has grown past its limit.
async fn checkpoint(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    // (busy, pages in the log, pages copied into the file)
    let (_, logged, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    if logged > LOG_LIMIT_FRAMES {
        tracing::debug!(
            pages = logged,
            "the database log kept growing; emptying it while writers wait"
        );
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(pool)
            .await?;
    }
    Ok(())
}
