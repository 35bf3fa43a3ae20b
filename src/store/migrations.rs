//! Each engine's migrations, embedded in the binary (the build script lists the files of
//! `migrations/sqlite` and `migrations/postgres`), read the way sqlx reads a migrations folder:
//! `<version>_<description>.sql`, the description with `_` as spaces, the checksum over the
//! file's exact text. So databases migrated by earlier builds (which used sqlx's `migrate!`)
//! keep opening: sqlx refuses to start when a shipped migration's checksum changes.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::sql::Engine;
use super::StoreError;

mod files {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// The migrator for `engine`, over every embedded migration in version order.
pub fn migrator(engine: Engine) -> Result<Migrator, StoreError> {
    let files = match engine {
        Engine::Sqlite => files::SQLITE,
        Engine::Postgres => files::POSTGRES,
    };
    let migrations = files
        .iter()
        .map(|(name, text)| migration(name, text))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    })
}

fn migration(name: &str, text: &'static str) -> Result<Migration, StoreError> {
    let bad = || {
        StoreError::Corrupt(format!(
            "migration file {name:?} is not <version>_<description>.sql"
        ))
    };
    let (version, rest) = name.split_once('_').ok_or_else(bad)?;
    let version: i64 = version.parse().map_err(|_| bad())?;
    let description = rest.strip_suffix(".sql").ok_or_else(bad)?.replace('_', " ");
    Ok(Migration::new(
        version,
        Cow::Owned(description),
        MigrationType::Simple,
        Cow::Borrowed(text),
        text.starts_with("-- no-transaction"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_reads_in_version_order_with_sqlx_descriptions() {
        for engine in [Engine::Sqlite, Engine::Postgres] {
            let migrator = migrator(engine).expect("migrations read");
            let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
            let mut sorted = versions.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(versions, sorted, "{engine:?}");
            assert_eq!(versions.first(), Some(&1), "{engine:?}");
            assert_eq!(
                migrator.iter().next().map(|m| m.description.as_ref()),
                Some("init")
            );
        }
        let sqlite = migrator(Engine::Sqlite).expect("sqlite");
        assert!(sqlite.iter().any(|m| m.description == "project feeds"));
    }

    #[test]
    fn a_name_that_is_not_a_migration_is_refused() {
        assert!(migration("init.sql", "").is_err());
        assert!(migration("x_init.sql", "").is_err());
        assert!(migration("0001_init.txt", "").is_err());
    }
}
