//! Who is sending: each process that leases outbox rows marks them with a key of its own.
//!
//! On PostgreSQL several processes send from one outbox. A process killed mid-delivery leaves
//! rows leased for minutes; waiting that out would delay reminders for no reason. So each
//! sender holds a session advisory lock on its key, on a connection of its own (never a pooled
//! one, which would go back to the pool still holding it). The lock lasts exactly as long as
//! the process's session: the server drops it the moment the process dies. A lease whose key no
//! session holds is released at once (see `Db::release_leases`).
//!
//! SQLite has one sender per database file; its key is still written, so the outbox's
//! statements are the same on both engines.

use sqlx::{Connection, PgConnection, PgPool};

use super::{StoreError, StoreResult};

/// The first half of the two-key advisory lock a sender holds, so that its locks never meet
/// the guild locks of write transactions (single-key locks, which `pg_locks` lists apart).
pub(super) const LEASE_LOCK_CLASS: i32 = 0x436f_6f72; // "Coor"

/// This process's lease key and, on PostgreSQL, the session that proves it is alive.
#[derive(Debug)]
pub(super) struct LeaseHolder {
    pub key: i64,
    /// Held open for the life of the process; dropping it releases the lock.
    _session: Option<PgConnection>,
}

impl LeaseHolder {
    pub fn for_sqlite() -> StoreResult<Self> {
        Ok(Self {
            key: random_key()?,
            _session: None,
        })
    }

    /// Opens a connection of its own and takes the session advisory lock on a fresh key.
    pub async fn for_postgres(pool: &PgPool) -> StoreResult<Self> {
        let mut session = PgConnection::connect_with(&pool.connect_options()).await?;
        let key = random_key()?;
        // `pg_locks` shows the second half as an unsigned oid: the key as stored.
        sqlx::query("SELECT pg_advisory_lock($1, $2)")
            .bind(LEASE_LOCK_CLASS)
            .bind(key as u32 as i32)
            .execute(&mut session)
            .await?;
        Ok(Self {
            key,
            _session: Some(session),
        })
    }
}

/// A random 32-bit key from the operating system (two live processes share one with odds of
/// one in four billion, and even then only a dead one's leases would wait to run out).
fn random_key() -> StoreResult<i64> {
    let mut bytes = [0_u8; 4];
    getrandom::fill(&mut bytes).map_err(StoreError::Randomness)?;
    Ok(i64::from(u32::from_le_bytes(bytes)))
}
