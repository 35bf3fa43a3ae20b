//! Gateway shards across processes: a shard runs in at most one process at a time, and
//! processes take turns to IDENTIFY.
//!
//! A `gateway` process started with `--shards` holds a session advisory lock per shard on a
//! connection of its own, waiting while another process still holds one of them (the process
//! it replaces, say): the server drops the locks the moment that process dies. Serenity's own
//! queue spaces IDENTIFYs within one process by Discord's `max_concurrency`, but knows nothing
//! of other processes; so a process starts its shards only while it holds the IDENTIFY turn,
//! one more lock, kept until its shards are connected and the 5-second window has passed.
//! SQLite has one process, which needs none of this.

use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::Mutex;
use tracing::info;

use super::{Db, Pool, StoreResult};

pub(super) const SHARD_LOCK_CLASS: i32 = 0x436f_6f53; // "CooS"
const IDENTIFY_LOCK_CLASS: i32 = 0x436f_6f49; // "CooI"

/// How often a process waiting for a shard held elsewhere tries again.
const SHARD_RETRY: Duration = Duration::from_secs(1);
/// How often a process waiting for the IDENTIFY turn tries again.
const IDENTIFY_RETRY: Duration = Duration::from_millis(250);

/// The shard locks of this process (PostgreSQL), released when dropped.
#[derive(Debug)]
pub struct ShardLocks {
    session: Option<Mutex<PgConnection>>,
}

impl ShardLocks {
    /// Waits for the IDENTIFY turn across processes; [`Self::end_identify_turn`] gives it back.
    /// Tried again and again rather than waited for in the server, so the session stays free
    /// for other statements meanwhile.
    pub async fn identify_turn(&self) -> StoreResult<()> {
        while !self.on_identify_lock("pg_try_advisory_lock").await? {
            tokio::time::sleep(IDENTIFY_RETRY).await;
        }
        Ok(())
    }

    pub async fn end_identify_turn(&self) -> StoreResult<()> {
        self.on_identify_lock("pg_advisory_unlock").await.map(drop)
    }

    /// Tries to take, or gives back, the IDENTIFY lock on this process's session; true when
    /// it was done (always, on SQLite, which has no other process).
    async fn on_identify_lock(&self, function: &str) -> StoreResult<bool> {
        match &self.session {
            Some(session) => Ok(sqlx::query_scalar(&format!("SELECT {function}($1, 0)"))
                .bind(IDENTIFY_LOCK_CLASS)
                .fetch_one(&mut *session.lock().await)
                .await?),
            None => Ok(true),
        }
    }

    /// Whether the locks are still held: false once the session is lost, after which another
    /// process may start these shards, so this one must stop its own.
    pub async fn still_held(&self) -> bool {
        match &self.session {
            Some(session) => sqlx::query("SELECT 1")
                .execute(&mut *session.lock().await)
                .await
                .is_ok(),
            None => true,
        }
    }
}

impl Db {
    /// Takes the locks of shards `first..=last`, waiting while another process holds any.
    pub async fn hold_shards(&self, first: u32, last: u32) -> StoreResult<ShardLocks> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(ShardLocks { session: None });
        };
        let mut session = PgConnection::connect_with(&pool.connect_options()).await?;
        let mut waiting_logged = false;
        for shard in first..=last {
            loop {
                let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(SHARD_LOCK_CLASS)
                    .bind(shard as i32)
                    .fetch_one(&mut session)
                    .await?;
                if taken {
                    break;
                }
                if !std::mem::replace(&mut waiting_logged, true) {
                    info!(shard, "shard held by another process; waiting for it");
                }
                tokio::time::sleep(SHARD_RETRY).await;
            }
        }
        Ok(ShardLocks {
            session: Some(Mutex::new(session)),
        })
    }
}
