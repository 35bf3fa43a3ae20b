//! Which guilds' duties this process's worker may run.
//!
//! On PostgreSQL several workers share one database. Each guild belongs to one of
//! [`PARTITIONS`] partitions, and a partition's duties, standups, digests and outbox rows are
//! handled by the one worker that holds its session advisory lock. The locks are taken on a
//! connection of the worker's own (a pooled one would go back to the pool still holding them),
//! so they last exactly as long as the worker's session: when a worker dies, the server drops
//! its locks at once and the others take its partitions over on their next rebalance.
//!
//! Every worker also holds a membership lock, so each can count the live workers from
//! `pg_locks` and hold its fair share, `ceil(PARTITIONS / workers)`: a worker over its share
//! gives partitions back, one under it takes free ones. One worker per guild keeps each
//! channel's messages in order, and no two workers contend for the same rows.
//!
//! SQLite has one process, which holds every partition; so does a PostgreSQL worker started
//! without a holder (tests that drive several workers directly), which then shares rows with
//! the others through row locks alone.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{Db, Pool, StoreError, StoreResult};
use crate::domain::ids::GuildId;

/// How many partitions the guilds are spread over: many more than workers, so shares stay even.
pub const PARTITIONS: u16 = 256;

/// How often a holder counts the workers and takes or gives back partitions. A dead worker's
/// partitions are taken over within about this long (the server frees its locks at once).
pub const REBALANCE_EVERY: Duration = Duration::from_secs(1);

/// How long a worker joining others sends (almost) nothing: by then each of them has counted
/// it and lowered its own pace, so together they never exceed the budget. Also how long the
/// others wait before taking a larger part when a worker leaves.
const JOINING: Duration = Duration::from_millis(2_500);

/// First keys of the two-key advisory locks, apart from the lease holders' class and from the
/// single-key guild locks of write transactions.
pub(super) const MEMBER_LOCK_CLASS: i32 = 0x436f_6f57; // "CooW"
pub(super) const PARTITION_LOCK_CLASS: i32 = 0x436f_6f50; // "CooP"

/// The partition of a guild: the snowflake's timestamp bits, which spread evenly where the
/// low bits (worker, process, increment) do not.
pub fn partition_of(guild: GuildId) -> u16 {
    ((guild.get() >> 22) % u64::from(PARTITIONS)) as u16
}

/// The partitions this process may work on, shared by the store's queries and the holder.
#[derive(Debug, Clone)]
pub(super) struct Held {
    set: Arc<RwLock<Option<BTreeSet<u16>>>>,
    /// Held (shared) by each claim and lease from reading the set until its commit, and taken
    /// (exclusive) by the holder between dropping a partition and unlocking it: so once another
    /// worker can take a partition, no query of this one still works from the old set.
    in_use: Arc<tokio::sync::RwLock<()>>,
    /// Live workers at the last rebalance (1 without a holder): they share Discord's budget.
    workers: Arc<AtomicUsize>,
    /// Until when this worker, having just joined others, leaves them the whole budget (see
    /// [`Db::budget_share`]).
    joining_until: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// The most workers counted lately, and when: a worker that left still has requests in
    /// Discord's last second, so the others take a larger part only once those have aged out.
    peak: Arc<std::sync::Mutex<(usize, std::time::Instant)>>,
}

impl Held {
    /// Every partition: SQLite, and workers without a holder.
    pub fn all() -> Self {
        Self {
            set: Arc::new(RwLock::new(None)),
            in_use: Arc::new(tokio::sync::RwLock::new(())),
            workers: Arc::new(AtomicUsize::new(1)),
            joining_until: Arc::new(std::sync::Mutex::new(None)),
            peak: Arc::new(std::sync::Mutex::new((1, std::time::Instant::now()))),
        }
    }

    /// Records a count of live workers (see `peak`).
    fn count_workers(&self, workers: usize) {
        self.workers.store(workers, Ordering::Relaxed);
        if let Ok(mut peak) = self.peak.lock() {
            let now = std::time::Instant::now();
            if workers >= peak.0 || now.duration_since(peak.1) > JOINING {
                *peak = (workers, now);
            }
        }
    }

    /// How many workers to divide the budget by: the most counted within [`JOINING`].
    fn sharing(&self) -> usize {
        let now = std::time::Instant::now();
        let recent = self
            .peak
            .lock()
            .map(|peak| (now.duration_since(peak.1) <= JOINING).then_some(peak.0))
            .ok()
            .flatten()
            .unwrap_or(1);
        self.workers.load(Ordering::Relaxed).max(recent).max(1)
    }

    fn set(&self, held: BTreeSet<u16>) {
        if let Ok(mut guard) = self.set.write() {
            *guard = Some(held);
        }
    }

    fn read(&self) -> Option<BTreeSet<u16>> {
        self.set.read().map(|held| held.clone()).unwrap_or_default()
    }

    /// Keeps the set from being given away until the returned guard drops (see `in_use`).
    pub async fn using(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.in_use.read().await
    }

    /// Waits until no query works from a set older than the one just published.
    async fn drain(&self) {
        drop(self.in_use.write().await);
    }

    pub fn holds(&self, guild: GuildId) -> bool {
        match self.set.read() {
            Ok(held) => held
                .as_ref()
                .is_none_or(|set| set.contains(&partition_of(guild))),
            Err(_) => false,
        }
    }

    /// A condition to append to a query's WHERE clause: only rows of held partitions. Empty
    /// when every partition is held. The numbers are ours, so listing them inline is safe.
    pub fn filter(&self, guild_column: &str) -> String {
        match self.read() {
            None => String::new(),
            Some(set) if set.is_empty() => " AND FALSE".to_owned(),
            Some(set) => {
                let list: Vec<String> = set.iter().map(u16::to_string).collect();
                format!(
                    " AND (({guild_column} >> 22) % {PARTITIONS}) IN ({})",
                    list.join(", ")
                )
            }
        }
    }
}

/// A worker's session: the connection holding its membership and partition locks.
struct Session {
    conn: PgConnection,
    held: BTreeSet<u16>,
    /// Where this worker starts looking for free partitions (from its random member key).
    start_at: u16,
}

impl Session {
    async fn open(pool: &PgPool, member_key: i32) -> StoreResult<Self> {
        let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
        sqlx::query("SELECT pg_advisory_lock($1, $2)")
            .bind(MEMBER_LOCK_CLASS)
            .bind(member_key)
            .execute(&mut conn)
            .await?;
        Ok(Self {
            conn,
            held: BTreeSet::new(),
            start_at: (member_key as u32 % u32::from(PARTITIONS)) as u16,
        })
    }

    /// Counts the live workers and moves this one's holding toward its fair share. Returns
    /// whether the holding changed.
    async fn rebalance(&mut self, published: &Held) -> StoreResult<bool> {
        let workers: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM pg_locks WHERE {LOCKS_HERE} AND classid::bigint = $1"
        ))
        .bind(i64::from(MEMBER_LOCK_CLASS))
        .fetch_one(&mut self.conn)
        .await?;
        let share = fair_share(workers);
        published.count_workers(usize::try_from(workers.max(1)).unwrap_or(1));
        let before = self.held.len();
        if self.held.len() > share {
            // Stop working on the extra partitions before anyone else may take them.
            let extra: Vec<u16> = self
                .held
                .iter()
                .rev()
                .take(before - share)
                .copied()
                .collect();
            for partition in &extra {
                self.held.remove(partition);
            }
            published.set(self.held.clone());
            published.drain().await;
            for partition in extra {
                sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                    .bind(PARTITION_LOCK_CLASS)
                    .bind(i32::from(partition))
                    .execute(&mut self.conn)
                    .await?;
            }
        } else if self.held.len() < share {
            // Free partitions only (a try never waits, and another worker may take one
            // between the read and the try), starting at a point of this worker's own so that
            // workers starting together do not all try the same ones first.
            let free: Vec<i32> = sqlx::query_scalar(&format!(
                "SELECT p FROM generate_series(0, {last}) AS p \
                 WHERE NOT EXISTS (SELECT 1 FROM pg_locks \
                   WHERE {LOCKS_HERE} AND classid::bigint = $1 AND objid::bigint = p) \
                 ORDER BY (p + $2) % {PARTITIONS}",
                last = PARTITIONS - 1
            ))
            .bind(i64::from(PARTITION_LOCK_CLASS))
            .bind(i32::from(self.start_at))
            .fetch_all(&mut self.conn)
            .await?;
            for partition in free {
                if self.held.len() >= share {
                    break;
                }
                let Ok(partition) = u16::try_from(partition) else {
                    continue;
                };
                let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(PARTITION_LOCK_CLASS)
                    .bind(i32::from(partition))
                    .fetch_one(&mut self.conn)
                    .await?;
                if taken {
                    self.held.insert(partition);
                }
            }
            published.set(self.held.clone());
        }
        Ok(self.held.len() != before)
    }
}

/// Advisory locks granted in this database (`pg_locks` lists every database's; two-key locks
/// have `objsubid` 2).
const LOCKS_HERE: &str = "locktype = 'advisory' AND granted AND objsubid = 2 \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// Each live worker's share: enough that together they hold every partition.
pub fn fair_share(workers: i64) -> usize {
    let workers = usize::try_from(workers.max(1)).unwrap_or(1);
    usize::from(PARTITIONS).div_ceil(workers)
}

impl Db {
    /// Whether this process's worker may work on `guild` now.
    pub fn holds_partition_of(&self, guild: GuildId) -> bool {
        self.partitions.holds(guild)
    }

    /// How many workers share the work (and Discord's rate budget): counted at every
    /// rebalance on PostgreSQL; 1 on SQLite.
    pub fn live_workers(&self) -> usize {
        self.partitions.workers.load(Ordering::Relaxed).max(1)
    }

    /// This worker's part of a per-second `budget` the live workers share: an even part; but 1
    /// while it is joining others, who are still pacing at their larger parts from before it
    /// came; and after a worker leaves, the larger part only once its last requests have aged
    /// out of Discord's window.
    pub fn budget_share(&self, budget: usize) -> usize {
        let joining = self
            .partitions
            .joining_until
            .lock()
            .map(|until| until.is_some_and(|until| std::time::Instant::now() < until))
            .unwrap_or(false);
        if joining {
            1
        } else {
            (budget / self.partitions.sharing()).max(1)
        }
    }

    /// The partitions this process holds, None meaning all of them (for logs and `/metrics`).
    pub fn held_partitions(&self) -> Option<BTreeSet<u16>> {
        self.partitions.read()
    }

    /// On PostgreSQL, starts holding this process's share of the partitions: from now on the
    /// worker only sees its partitions' rows. Rebalances every [`REBALANCE_EVERY`]; if the
    /// session is lost, every partition is dropped at once (another worker takes them over)
    /// and the holder reconnects. None on SQLite, where this process holds everything. Abort
    /// the task before closing the database.
    pub async fn hold_partitions(&self) -> StoreResult<Option<JoinHandle<()>>> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        let member_key = random_member_key()?;
        // Nothing is held until the first rebalance: another worker may own everything now.
        self.partitions.set(BTreeSet::new());
        let mut session = Session::open(pool, member_key).await?;
        session.rebalance(&self.partitions).await?;
        if self.live_workers() > 1 {
            if let Ok(mut until) = self.partitions.joining_until.lock() {
                *until = Some(std::time::Instant::now() + JOINING);
            }
        }
        info!(held = session.held.len(), "holding partitions");
        self.wake_worker();
        let db = self.clone();
        let pool = pool.clone();
        Ok(Some(tokio::spawn(async move {
            let mut session = Some(session);
            loop {
                tokio::time::sleep(REBALANCE_EVERY).await;
                let current = match session.as_mut() {
                    Some(current) => current,
                    None => match Session::open(&pool, member_key).await {
                        Ok(opened) => session.insert(opened),
                        Err(e) => {
                            warn!(error = %e, "cannot reconnect to hold partitions");
                            continue;
                        }
                    },
                };
                match current.rebalance(&db.partitions).await {
                    Ok(true) => {
                        info!(held = current.held.len(), "partitions rebalanced");
                        db.wake_worker();
                    }
                    Ok(false) => {}
                    Err(e) => {
                        // The locks may be gone with the session: stop working on any of them.
                        warn!(error = %e, "lost the partition session; dropping every partition");
                        db.partitions.set(BTreeSet::new());
                        db.partitions.drain().await;
                        session = None;
                    }
                }
            }
        })))
    }
}

fn random_member_key() -> StoreResult<i32> {
    let mut bytes = [0_u8; 4];
    getrandom::fill(&mut bytes).map_err(StoreError::Randomness)?;
    Ok(i32::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guilds_spread_by_the_snowflake_timestamp() {
        // Two guilds made a millisecond apart land in neighbouring partitions.
        let first = GuildId::new(1 << 22);
        let second = GuildId::new(2 << 22);
        assert_eq!(partition_of(first), 1);
        assert_eq!(partition_of(second), 2);
        assert_eq!(partition_of(GuildId::new(256 << 22)), 0);
    }

    #[test]
    fn the_shares_cover_every_partition() {
        for workers in 1..=300 {
            assert!(fair_share(workers) * workers as usize >= usize::from(PARTITIONS));
        }
        assert_eq!(fair_share(0), 256);
        assert_eq!(fair_share(3), 86);
    }

    #[test]
    fn the_filter_lists_held_partitions_only() {
        let held = Held::all();
        assert_eq!(held.filter("guild_id"), "");
        assert!(held.holds(GuildId::new(5 << 22)));
        held.set(BTreeSet::from([3, 7]));
        assert_eq!(
            held.filter("t.guild_id"),
            " AND ((t.guild_id >> 22) % 256) IN (3, 7)"
        );
        assert!(held.holds(GuildId::new(7 << 22)));
        assert!(!held.holds(GuildId::new(5 << 22)));
        held.set(BTreeSet::new());
        assert_eq!(held.filter("guild_id"), " AND FALSE");
    }
}
