//! The `interactions_seen` table: replay protection for the Interactions Endpoint, shared by
//! every process in front of one database.

use chrono::{DateTime, Duration, Utc};

use super::sql::sql;
use super::{id_in, time_in, Db, StoreResult};

/// Past this, a signed timestamp is refused anyway; older rows are only kept this long.
const KEEP: Duration = Duration::minutes(10);

impl Db {
    /// Records interaction `id` as handled; false if it was already (a replay).
    pub async fn first_sight_of_interaction(
        &self,
        id: u64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let first = sql(
            "INSERT INTO interactions_seen (id, at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id_in(id))
        .bind(time_in(now))
        .execute(self.on())
        .await?
            > 0;
        // Now and then, forget what the timestamp check refuses anyway.
        if first && id.is_multiple_of(64) {
            sql("DELETE FROM interactions_seen WHERE at < $1")
                .bind(time_in(now - KEEP))
                .execute(self.on())
                .await?;
        }
        Ok(first)
    }
}
