//! Task autocomplete: titles match ignoring case the same way on every engine (the bot folds
//! them itself), and a search starts from the guild, so a small guild finds its own tasks
//! however many newer ones other guilds have.

use coordinator::domain::ids::{ChannelId, GuildId, UserId};
use coordinator::domain::task::Priority;
use coordinator::store::NewTask;

use crate::support::bot::*;
use crate::support::interactions::Opt;

fn titles(choices: &[serde_json::Value]) -> Vec<String> {
    choices
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

/// `count` tasks straight into the store, titled by `title`, newer than any made before.
async fn seed(bot: &TestBot, guild: u64, count: usize, title: impl Fn(usize) -> String) {
    for i in 0..count {
        bot.db()
            .create_task(
                &NewTask {
                    repeat: None,
                    guild_id: GuildId::new(guild),
                    title: title(i),
                    description: None,
                    priority: Priority::Normal,
                    project: None,
                    assignee_id: None,
                    creator_id: UserId::new(ALICE),
                    channel_id: ChannelId::new(CHANNEL),
                    due_at: None,
                },
                start_time(),
            )
            .await
            .expect("seed");
    }
}

#[tokio::test]
async fn titles_match_without_regard_to_case_beyond_ascii() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let n = bot
        .create_task(&alice, "ÜBERPRÜFUNG der Straße", vec![])
        .await;
    bot.create_task(&alice, "unrelated", vec![]).await;
    for typed in ["überprüfung", "ÜBERPRÜFUNG", "Prüf", "STRASSE", "straße"] {
        let found = bot
            .complete(
                &alice,
                &["task", "show"],
                vec![Opt::Str("task", typed.into())],
                "task",
            )
            .await;
        if typed == "STRASSE" {
            // Lower-casing is not full case folding: ß does not match "ss" (on any engine).
            assert!(found.is_empty(), "{typed}: {found:?}");
            continue;
        }
        assert_eq!(found.len(), 1, "{typed}: {found:?}");
        assert_eq!(found[0]["value"], serde_json::Value::from(n), "{typed}");
    }
}

#[tokio::test]
async fn a_small_guild_finds_its_task_behind_many_newer_ones_elsewhere() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let mine = bot.create_task(&alice, "quarterly report", vec![]).await;
    // 1,200 newer tasks with the same words in another guild.
    seed(&bot, OTHER_GUILD, 1_200, |i| {
        format!("quarterly report {i}")
    })
    .await;
    let found = bot
        .complete(
            &alice,
            &["task", "show"],
            vec![Opt::Str("task", "quarterly".into())],
            "task",
        )
        .await;
    assert_eq!(titles(&found).len(), 1, "{found:?}");
    assert_eq!(found[0]["value"], serde_json::Value::from(mine));
    let elsewhere = bot
        .complete(
            &alice.clone().in_guild(OTHER_GUILD),
            &["task", "show"],
            vec![Opt::Str("task", "QUARTERLY REPORT 11".into())],
            "task",
        )
        .await;
    // 11, then 110–119 and 1100–1199 newest first, 25 at most.
    assert_eq!(elsewhere.len(), 25, "{elsewhere:?}");
    assert!(titles(&elsewhere)
        .iter()
        .all(|t| t.contains("quarterly report 11")));
}

/// A database written before titles carried a search key: the bot fills the keys in at start,
/// and the old tasks are found like new ones.
#[tokio::test]
async fn tasks_stored_before_search_keys_existed_are_found_and_counted_after_an_upgrade() {
    use sqlx::migrate::Migrator;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = crate::support::database::url_for_test(dir.path()).await;
    let (engine, shipped_before) = if crate::ON_POSTGRES {
        ("postgres", 1)
    } else {
        ("sqlite", 4)
    };
    // The migrations as they were before the search key.
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).expect("dir");
    let folder = format!("{}/migrations/{engine}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("migrations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for file in files.iter().take(shipped_before) {
        std::fs::copy(file, old.join(file.file_name().expect("name"))).expect("copy");
    }
    let migrator = Migrator::new(old.as_path()).await.expect("old migrator");
    let insert = "INSERT INTO tasks (guild_id, number, title, status, priority, creator_id, \
                  channel_id, created_at, updated_at) VALUES ($1, $2, $3, 'todo', 'normal', 1, 1, 0, 0)";
    let titles = ["ÉTÉ planning", "Straßenfest", "plain ascii"];
    // The old schema and its rows, on whichever engine this pass runs.
    macro_rules! write_old_database {
        ($pool:expr) => {{
            let pool = $pool;
            migrator.run(&pool).await.expect("old schema");
            for (i, title) in titles.iter().enumerate() {
                sqlx::query(insert)
                    .bind(GUILD as i64)
                    .bind(i as i64 + 1)
                    .bind(*title)
                    .execute(&pool)
                    .await
                    .expect("old row");
            }
            pool.close().await;
        }};
    }
    if crate::ON_POSTGRES {
        write_old_database!(sqlx::PgPool::connect(&url).await.expect("old pg"));
    } else {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .create_if_missing(true);
        write_old_database!(sqlx::SqlitePool::connect_with(options)
            .await
            .expect("old sqlite"));
    }

    let db = coordinator::store::Db::connect(&url)
        .await
        .expect("upgrade");
    let guild = GuildId::new(GUILD);
    for (typed, number) in [
        ("été", 1),
        ("STRASSENFEST", 0),
        ("straßen", 2),
        ("ASCII", 3),
    ] {
        let found = db
            .search_tasks(guild, typed, true, 25)
            .await
            .expect("search");
        let numbers: Vec<i64> = found.iter().map(|(n, _)| n.0).collect();
        let expected: Vec<i64> = if number == 0 { vec![] } else { vec![number] };
        assert_eq!(numbers, expected, "{typed}");
    }
    // The list's count of open tasks starts from the tasks the upgrade found.
    let page = db
        .list_tasks(guild, &coordinator::store::TaskFilter::default(), 0, 10)
        .await
        .expect("list");
    assert_eq!((page.total, page.tasks.len()), (3, 3));
    db.close().await;
}

/// Autocomplete reads a bounded number of rows: the guild's newest tasks directly, then the
/// trigram index only for a rare part of the text. An old task is still found by a word of its
/// own behind hundreds of newer tasks, text every title shares lists the newest first, and an
/// exact number comes before the numbers it starts.
#[tokio::test]
async fn an_old_task_is_found_by_its_own_word_behind_many_newer_ones() {
    let bot = TestBot::start().await;
    let alice = member(ALICE);
    let old = bot
        .create_task(&alice, "zebra crossing repaint", vec![])
        .await;
    // More newer tasks than autocomplete reads directly, all sharing two words.
    seed(&bot, GUILD, 700, |i| format!("routine chore {i}")).await;
    let complete = |typed: &str| {
        bot.complete(
            &alice,
            &["task", "show"],
            vec![Opt::Str("task", typed.into())],
            "task",
        )
    };
    let values = |found: &[serde_json::Value]| -> Vec<i64> {
        found.iter().filter_map(|c| c["value"].as_i64()).collect()
    };
    for typed in ["zebra", "CROSSING rep", "repaint"] {
        let found = complete(typed).await;
        assert_eq!(values(&found), vec![old], "{typed}: {found:?}");
    }
    let shared = values(&complete("chore").await);
    let newest: Vec<i64> = (677..=701).rev().collect();
    assert_eq!(shared, newest, "the newest 25 tasks that share the word");
    let numbers = values(&complete("6").await);
    assert_eq!(numbers.first(), Some(&6), "the exact number first");
    assert_eq!(
        &numbers[1..4],
        &[69, 68, 67],
        "then the numbers it starts, newest first"
    );
    assert!(complete("zzz").await.is_empty());
}
