//! The `installation` and `guild_welcomes` tables: the getting-started message, once per guild
//! joined after the installation's first start.

use chrono::{DateTime, Utc};

use super::sql::sql;
use super::{id_in, time_in, time_out, Db, StoreResult};
use crate::domain::ids::{ChannelId, GuildId};

impl Db {
    /// When the bot first ran on this database (recorded now if this is that run).
    pub async fn first_start(&self, now: DateTime<Utc>) -> StoreResult<DateTime<Utc>> {
        sql("INSERT INTO installation (key, at) VALUES ('first_start', $1) ON CONFLICT (key) DO NOTHING")
            .bind(time_in(now))
            .execute(self.on())
            .await?;
        let at: i64 = sql("SELECT at FROM installation WHERE key = 'first_start'")
            .scalar(self.on())
            .await?;
        time_out(at)
    }

    /// Records the guild the first time it is seen. `greeting` (its system channel, if any,
    /// and the message) greets a guild joined after the first start: the message goes through
    /// the outbox in the same transaction. False if the guild was seen before.
    pub async fn claim_welcome(
        &self,
        guild_id: GuildId,
        greeting: Option<(Option<ChannelId>, &str)>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write(guild_id).await?;
        let first = sql(
            "INSERT INTO guild_welcomes (guild_id, at, greeted) VALUES ($1, $2, $3) \
             ON CONFLICT (guild_id) DO NOTHING",
        )
        .bind(id_in(guild_id))
        .bind(time_in(now))
        .bind(i64::from(greeting.is_some()))
        .execute(tx.on())
        .await?
            > 0;
        if let (true, Some((Some(channel), body))) = (first, greeting) {
            sql(
                "INSERT INTO outbox (guild_id, channel_id, kind, body, due_at, created_at, next_attempt_at) \
                 VALUES ($1, $2, 'post', $3, $4, $4, $4)",
            )
            .bind(id_in(guild_id))
            .bind(id_in(channel))
            .bind(body)
            .bind(time_in(now))
            .execute(tx.on())
            .await?;
        }
        tx.commit().await?;
        if first {
            self.due_times_changed();
        }
        Ok(first)
    }
}
