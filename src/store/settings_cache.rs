//! Guild settings kept in memory. Every command needs its guild's settings (the manager role
//! decides what the caller may do), and reading them was one of the few statements a command
//! makes: a round trip to the database on every slash command, button and form.
//!
//! Only the store writes settings, so it forgets a guild's entry after each write it commits.
//! On SQLite that is the whole story (one process serves the file). On PostgreSQL other
//! processes write too: each write also sends a NOTIFY in its transaction, and the cache is used
//! only while [`Db::listen_for_settings_changes`] is listening for those; when that connection
//! is lost, the cache is emptied and unused until it listens again, since notifications sent
//! meanwhile are lost with it.
//!
//! A read that misses takes a [`Ticket`] before reading the database and may store what it read
//! only if nothing was forgotten since: a read that raced a write never caches the old value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::postgres::PgListener;

use super::sql::Pool;
use super::{Db, StoreResult};
use crate::domain::guild::GuildSettings;
use crate::domain::ids::GuildId;

/// The PostgreSQL NOTIFY channel on which a settings write names its guild to every process.
pub(super) const SETTINGS_CHANNEL: &str = "coordinator_settings";

/// Past this many guilds the cache starts over, bounding its memory (a few hundred bytes each).
const MAX_GUILDS: usize = 10_000;

/// Proof that a miss was read after everything forgotten so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket(u64);

#[derive(Debug, Default)]
struct Entries {
    settings: HashMap<GuildId, GuildSettings>,
    /// Bumped by every forget: a ticket from before it cannot store.
    generation: u64,
    /// Whether entries may be used and stored (see the module's notes on PostgreSQL).
    trusted: bool,
}

#[derive(Debug, Default)]
pub(super) struct SettingsCache {
    entries: Mutex<Entries>,
}

impl SettingsCache {
    /// `trusted`: usable from the start (SQLite), or only once listening (PostgreSQL).
    pub(super) fn new(trusted: bool) -> Arc<Self> {
        Arc::new(Self {
            entries: Mutex::new(Entries {
                trusted,
                ..Entries::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Nothing here can panic while holding the lock; a poisoned lock still holds valid maps.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached settings, or the ticket to store them with once read.
    pub(super) fn get(&self, guild_id: GuildId) -> Result<GuildSettings, Ticket> {
        let entries = self.lock();
        match entries.settings.get(&guild_id) {
            Some(settings) if entries.trusted => Ok(settings.clone()),
            _ => Err(Ticket(entries.generation)),
        }
    }

    /// Keeps `settings`, read with `ticket`, unless something was forgotten since.
    pub(super) fn put(&self, ticket: Ticket, settings: &GuildSettings) {
        let mut entries = self.lock();
        if !entries.trusted || entries.generation != ticket.0 {
            return;
        }
        if entries.settings.len() >= MAX_GUILDS {
            entries.settings.clear();
        }
        entries.settings.insert(settings.guild_id, settings.clone());
    }

    /// After a write to the guild's settings.
    pub(super) fn forget(&self, guild_id: GuildId) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.settings.remove(&guild_id);
    }

    /// Empties the cache and sets whether it may be used from now on.
    fn reset(&self, trusted: bool) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.settings.clear();
        entries.trusted = trusted;
    }
}

impl Db {
    /// On PostgreSQL, listens (on a connection of its own) for settings writes made by any
    /// process, which lets this process keep guild settings in memory. None on SQLite, where
    /// the cache needs no listener. Abort the task before closing the database.
    pub async fn listen_for_settings_changes(
        &self,
    ) -> StoreResult<Option<tokio::task::JoinHandle<()>>> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(SETTINGS_CHANNEL).await?;
        let cache = Arc::clone(&self.settings_cache);
        cache.reset(true);
        Ok(Some(tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(note)) => match note.payload().parse::<u64>() {
                        Ok(guild) => cache.forget(GuildId::new(guild)),
                        Err(_) => cache.reset(true),
                    },
                    // The connection was lost (None) or failed: what was sent meanwhile is
                    // lost, so nothing cached is trusted until listening again.
                    Ok(None) | Err(_) => {
                        cache.reset(false);
                        tracing::warn!("lost the settings-change channel; reading settings from the database until it is back");
                        // Any statement on the listener reconnects it and listens again.
                        while let Err(e) = sqlx::query("SELECT 1").execute(&mut listener).await {
                            tracing::debug!(error = %e, "settings-change channel still down");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                        cache.reset(true);
                    }
                }
            }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(guild: u64) -> GuildSettings {
        GuildSettings::new(GuildId::new(guild))
    }

    /// Reads guild 1 through the cache: the ticket of a miss, or None for a hit.
    fn miss(cache: &SettingsCache) -> Option<Ticket> {
        cache.get(GuildId::new(1)).err()
    }

    #[test]
    fn a_stored_entry_is_returned_until_forgotten() {
        let cache = SettingsCache::new(true);
        let ticket = miss(&cache).expect("an empty cache has nothing");
        cache.put(ticket, &settings(1));
        assert_eq!(cache.get(GuildId::new(1)).ok(), Some(settings(1)));
        cache.forget(GuildId::new(1));
        assert!(miss(&cache).is_some());
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_stored() {
        let cache = SettingsCache::new(true);
        let ticket = miss(&cache).expect("an empty cache has nothing");
        // A write commits and forgets the guild while the read was under way.
        cache.forget(GuildId::new(1));
        cache.put(ticket, &settings(1));
        assert!(miss(&cache).is_some());
    }

    #[test]
    fn an_untrusted_cache_stores_and_returns_nothing() {
        let cache = SettingsCache::new(false);
        let ticket = miss(&cache).expect("an empty cache has nothing");
        cache.put(ticket, &settings(1));
        assert!(miss(&cache).is_some());
        // Trusted again (listening once more), it starts empty and keeps what it reads.
        cache.reset(true);
        let ticket = miss(&cache).expect("the reset emptied it");
        cache.put(ticket, &settings(1));
        assert!(miss(&cache).is_none());
    }
}
