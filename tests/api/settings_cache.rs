//! Guild settings are kept in memory (README, "Memory and speed"): read once, forgotten by the
//! store's own writes, and on PostgreSQL by any process's writes (NOTIFY), so a change made
//! anywhere is what the next command sees.

use std::time::Duration;

use coordinator::domain::ids::{GuildId, RoleId};
use coordinator::store::{sql, Db};

use crate::support::bot::GUILD;
use crate::support::wait::eventually;

async fn database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = crate::support::database::url_for_test(dir.path()).await;
    (dir, url)
}

async fn manager_role(db: &Db) -> Option<RoleId> {
    db.guild_settings(GuildId::new(GUILD))
        .await
        .expect("settings")
        .manager_role_id
}

/// Waits until `db` reads `expected` as the manager role (a NOTIFY takes its time to arrive).
async fn reads_eventually(db: &Db, expected: Option<u64>, what: &str) {
    let expected = expected.map(RoleId::new);
    eventually(what, Duration::from_secs(10), || async {
        match manager_role(db).await {
            seen if seen == expected => Ok(()),
            seen => Err(format!("manager role {seen:?}")),
        }
    })
    .await;
}

#[tokio::test]
async fn a_settings_write_is_seen_by_the_next_read_and_a_kept_copy_saves_the_read() {
    let (_dir, url) = database().await;
    let db = Db::connect(&url).await.expect("database");
    let listening = db.listen_for_settings_changes().await.expect("listening");
    // Read once and kept.
    assert_eq!(manager_role(&db).await, None);
    // Changed behind the store's back (no process would): the kept copy is still served,
    // which shows the read is saved.
    sql("INSERT INTO guild_settings (guild_id, manager_role_id) VALUES ($1, 88)")
        .bind(GUILD as i64)
        .execute(db.on())
        .await
        .expect("insert");
    assert_eq!(manager_role(&db).await, None);
    // A write through the store is what the next read sees.
    db.set_manager_role(GuildId::new(GUILD), RoleId::new(77))
        .await
        .expect("set");
    assert_eq!(manager_role(&db).await, Some(RoleId::new(77)));
    // The role deleted from the guild: forgotten through the store, seen at once.
    assert!(db
        .forget_manager_role(GuildId::new(GUILD), RoleId::new(77))
        .await
        .expect("forget"));
    assert_eq!(manager_role(&db).await, None);
    stop(listening).await;
    db.close().await;
}

/// The listener holds a connection of its own: stopped first, or the pool cannot close.
async fn stop(listening: Option<tokio::task::JoinHandle<()>>) {
    if let Some(task) = listening {
        task.abort();
        let _ = task.await;
    }
}

/// Two processes on one PostgreSQL database, `here` listening for settings changes.
struct Processes {
    _dir: tempfile::TempDir,
    url: String,
    here: Db,
    there: Db,
    listening: Option<tokio::task::JoinHandle<()>>,
}

/// None on SQLite, where one process serves a file.
async fn two_processes() -> Option<Processes> {
    if !crate::ON_POSTGRES {
        return None;
    }
    let (_dir, url) = database().await;
    let here = Db::connect(&url).await.expect("database");
    let there = Db::connect(&url).await.expect("database");
    let listening = here.listen_for_settings_changes().await.expect("listening");
    Some(Processes {
        _dir,
        url,
        here,
        there,
        listening,
    })
}

/// Two processes on one PostgreSQL database: a write in one reaches the other's kept copy.
#[tokio::test]
async fn a_settings_write_in_another_process_reaches_this_ones_copy() {
    let Some(p) = two_processes().await else {
        return;
    };
    assert!(
        p.listening.is_some(),
        "PostgreSQL listens for other processes"
    );
    // A third process that does not listen keeps nothing, and reads every time.
    let deaf = Db::connect(&p.url).await.expect("database");
    assert_eq!(manager_role(&p.here).await, None);
    assert_eq!(manager_role(&deaf).await, None);
    p.there
        .set_manager_role(GuildId::new(GUILD), RoleId::new(77))
        .await
        .expect("set");
    assert_eq!(manager_role(&deaf).await, Some(RoleId::new(77)));
    reads_eventually(
        &p.here,
        Some(77),
        "the other process's write to reach this one",
    )
    .await;
    p.there
        .forget_manager_role(GuildId::new(GUILD), RoleId::new(77))
        .await
        .expect("forget");
    reads_eventually(
        &p.here,
        None,
        "the other process's removal to reach this one",
    )
    .await;
    stop(p.listening).await;
    for db in [p.here, p.there, deaf] {
        db.close().await;
    }
}

/// The LISTEN connection is cut (a server restart, a proxy timeout): this process listens again
/// on a new connection, and a write made meanwhile in another process is still what it reads.
#[tokio::test]
async fn after_losing_the_settings_channel_a_process_listens_again_and_reads_fresh_settings() {
    let Some(p) = two_processes().await else {
        return;
    };
    assert_eq!(manager_role(&p.here).await, None, "read once and kept");
    let listener_pid = || async {
        sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND query LIKE '%LISTEN%coordinator_settings%'",
        )
        .scalars::<i32>(p.there.on())
        .await
        .expect("pg_stat_activity")
    };
    let before = listener_pid().await;
    assert_eq!(before.len(), 1, "one listening connection: {before:?}");
    sql("SELECT pg_terminate_backend(CAST($1 AS integer))")
        .bind(i64::from(before[0]))
        .execute(p.there.on())
        .await
        .expect("terminate");
    p.there
        .set_manager_role(GuildId::new(GUILD), RoleId::new(77))
        .await
        .expect("set");
    reads_eventually(
        &p.here,
        Some(77),
        "this process to read the write made while it was not listening",
    )
    .await;
    eventually(
        "a new listening connection",
        Duration::from_secs(10),
        || async {
            let now = listener_pid().await;
            match now.as_slice() {
                [pid] if *pid != before[0] => Ok(()),
                _ => Err(format!("listening connections {now:?}")),
            }
        },
    )
    .await;
    // Listening again, it keeps copies again and hears the next write.
    p.there
        .set_manager_role(GuildId::new(GUILD), RoleId::new(78))
        .await
        .expect("set");
    reads_eventually(&p.here, Some(78), "the next write to reach this process").await;
    stop(p.listening).await;
    for db in [p.here, p.there] {
        db.close().await;
    }
}
