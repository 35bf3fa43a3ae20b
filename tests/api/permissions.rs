//! Who may run what (README "Commands": the "who" columns and the `/task edit` rules), row by
//! row through the real command path: a refusal is ephemeral, names the role needed, pings
//! nobody and changes nothing. Rights come from each interaction's own member data, so a role
//! taken away or deleted stops working at the next command, button or autocomplete.

use std::time::Duration;

use serde_json::json;

use crate::support::bot::*;
use crate::support::interactions::{button, s, typed, Caller, Opt, ADMINISTRATOR, MANAGE_GUILD};
use crate::support::wait::eventually;

/// A role that is not the manager role.
const ROGUE_ROLE: u64 = 777_000_000_000_000_007;

/// One row of a permission table: who runs which command, and what must come of it.
struct Row {
    caller: Caller,
    path: &'static [&'static str],
    options: Vec<Opt>,
    /// `None`: allowed; `Some(needle)`: refused, the refusal containing `needle`.
    refusal: Option<&'static str>,
}

fn allowed(caller: Caller, path: &'static [&'static str], options: Vec<Opt>) -> Row {
    Row {
        caller,
        path,
        options,
        refusal: None,
    }
}

fn refused(
    caller: Caller,
    path: &'static [&'static str],
    options: Vec<Opt>,
    needle: &'static str,
) -> Row {
    Row {
        caller,
        path,
        options,
        refusal: Some(needle),
    }
}

/// Runs the rows in order (each may depend on the ones before); a failure names its row.
async fn check(bot: &TestBot, rows: Vec<Row>) {
    for (i, row) in rows.into_iter().enumerate() {
        let case = format!(
            "row {}: {} runs {}",
            i + 1,
            who(&row.caller),
            typed(row.path, &row.options)
        );
        match row.refusal {
            None => {
                let reply = bot.run(&row.caller, row.path, row.options).await;
                let text = format!("{}{}", content(&reply), embed_text(&reply));
                assert!(
                    !text.contains("Only managers"),
                    "{case}: was refused: {reply}"
                );
            }
            Some(needle) => {
                let before = bot.snapshot().await;
                let reply = bot.run(&row.caller, row.path, row.options).await;
                assert_private_error_for(&case, &reply, needle);
                assert_private_error_for(&case, &reply, "manager role");
                assert_pings_nobody_for(&case, &reply);
                assert_eq!(
                    before,
                    bot.snapshot().await,
                    "{case}: a refused command changed data"
                );
            }
        }
    }
}

fn task(n: i64) -> Opt {
    Opt::Int("task", n)
}

#[tokio::test]
async fn row_create_unassigned_or_for_oneself_is_for_anyone() {
    let bot = TestBot::with_manager_role().await;
    check(
        &bot,
        vec![
            allowed(
                member(ALICE),
                &["task", "create"],
                vec![s("title", "mine"), Opt::User("assignee", ALICE)],
            ),
            allowed(
                member(ALICE),
                &["task", "create"],
                vec![s("title", "nobody's")],
            ),
        ],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, 1, "assignee_id").await,
        Some((ALICE as i64).to_string())
    );
    // Outside a guild nobody may.
    let reply = bot
        .run(
            &Caller::dm(CHANNEL, ALICE),
            &["task", "create"],
            vec![s("title", "dm")],
        )
        .await;
    assert_private_error(&reply, "only inside a server");
    assert_eq!(bot.task_column(GUILD, 3, "title").await, None);
}

#[tokio::test]
async fn row_create_for_others_and_assignment_is_for_managers() {
    let bot = TestBot::with_manager_role().await;
    let for_bob = || vec![s("title", "for bob"), Opt::User("assignee", BOB)];
    check(
        &bot,
        vec![
            refused(
                member(ALICE),
                &["task", "create"],
                for_bob(),
                "create a task for someone else",
            ),
            allowed(manager(), &["task", "create"], for_bob()),
        ],
    )
    .await;
    let n = bot.create_task(&member(ALICE), "alice's own", vec![]).await;
    let assign = |to: u64| vec![task(n), Opt::User("assignee", to)];
    check(
        &bot,
        vec![
            refused(member(ALICE), &["task", "assign"], assign(BOB), "assign"),
            refused(member(ALICE), &["task", "assign"], assign(ALICE), "assign"),
            allowed(manager(), &["task", "assign"], assign(BOB)),
            refused(member(BOB), &["task", "unassign"], vec![task(n)], "assign"),
            allowed(manager(), &["task", "unassign"], vec![task(n)]),
        ],
    )
    .await;
    assert_eq!(bot.task_column(GUILD, n, "assignee_id").await, None);
}

#[tokio::test]
async fn row_due_and_priority_are_for_managers_and_the_owning_creator() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "mine", vec![]).await;
    check(
        &bot,
        vec![allowed(
            member(ALICE),
            &["task", "edit"],
            vec![task(n), s("due", "tomorrow"), s("priority", "high")],
        )],
    )
    .await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![task(n), Opt::User("assignee", BOB)],
    )
    .await;
    check(
        &bot,
        vec![
            refused(
                member(ALICE),
                &["task", "edit"],
                vec![task(n), s("due", "friday")],
                "change the due",
            ),
            refused(
                member(BOB),
                &["task", "edit"],
                vec![task(n), s("priority", "low")],
                "change the priority",
            ),
            allowed(
                manager(),
                &["task", "edit"],
                vec![task(n), s("priority", "low")],
            ),
        ],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, n, "priority").await.as_deref(),
        Some("low")
    );
}

#[tokio::test]
async fn row_title_description_project_are_for_managers_and_the_creator() {
    let bot = TestBot::with_manager_role().await;
    bot.run(&manager(), &["project", "create"], vec![s("name", "Web")])
        .await;
    let n = bot
        .create_task(&manager(), "boss made it", vec![Opt::User("assignee", BOB)])
        .await;
    check(
        &bot,
        vec![
            refused(
                member(BOB),
                &["task", "edit"],
                vec![task(n), s("title", "renamed")],
                "change the title",
            ),
            refused(
                member(BOB),
                &["task", "edit"],
                vec![task(n), s("project", "Web")],
                "change the project",
            ),
        ],
    )
    .await;
    let m = bot
        .create_task(&member(ALICE), "alice made it", vec![])
        .await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![task(m), Opt::User("assignee", BOB)],
    )
    .await;
    check(
        &bot,
        vec![allowed(
            member(ALICE),
            &["task", "edit"],
            vec![task(m), s("title", "renamed"), s("description", "d")],
        )],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, m, "title").await.as_deref(),
        Some("renamed")
    );
}

#[tokio::test]
async fn an_edit_touching_one_forbidden_field_is_refused_whole() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "original", vec![]).await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![task(n), Opt::User("assignee", BOB)],
    )
    .await;
    // Alice may change the title, but not the due date while Bob holds the task.
    check(
        &bot,
        vec![refused(
            member(ALICE),
            &["task", "edit"],
            vec![task(n), s("title", "new"), s("due", "friday")],
            "due",
        )],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, n, "title").await.as_deref(),
        Some("original")
    );
}

#[tokio::test]
async fn row_status_and_comments_are_for_managers_assignee_and_creator() {
    let bot = TestBot::with_manager_role().await;
    let n = bot
        .create_task(&manager(), "work", vec![Opt::User("assignee", BOB)])
        .await;
    let carol = || member(CAROL);
    check(
        &bot,
        vec![
            refused(
                carol(),
                &["task", "start"],
                vec![task(n)],
                "update this task",
            ),
            refused(
                carol(),
                &["task", "done"],
                vec![task(n)],
                "assignee or creator",
            ),
            refused(
                carol(),
                &["task", "block"],
                vec![task(n), s("reason", "x")],
                "update",
            ),
            refused(
                carol(),
                &["task", "comment"],
                vec![task(n), s("text", "x")],
                "update",
            ),
            allowed(member(BOB), &["task", "start"], vec![task(n)]),
            allowed(
                manager(),
                &["task", "comment"],
                vec![task(n), s("text", "nice")],
            ),
            allowed(member(BOB), &["task", "done"], vec![task(n)]),
            refused(carol(), &["task", "reopen"], vec![task(n)], "update"),
        ],
    )
    .await;
    let m = bot.create_task(&member(ALICE), "alice's", vec![]).await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![task(m), Opt::User("assignee", BOB)],
    )
    .await;
    check(
        &bot,
        vec![allowed(
            member(ALICE),
            &["task", "block"],
            vec![task(m), s("reason", "waiting")],
        )],
    )
    .await;
    assert_eq!(
        bot.task_column(GUILD, m, "status").await.as_deref(),
        Some("blocked")
    );
}

#[tokio::test]
async fn row_delete_is_for_managers_and_the_owning_creator() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "alice's", vec![]).await;
    bot.run(
        &manager(),
        &["task", "assign"],
        vec![task(n), Opt::User("assignee", BOB)],
    )
    .await;
    check(
        &bot,
        vec![
            refused(
                member(ALICE),
                &["task", "delete"],
                vec![task(n)],
                "delete this task",
            ),
            refused(
                member(BOB),
                &["task", "delete"],
                vec![task(n)],
                "delete this task",
            ),
            allowed(manager(), &["task", "delete"], vec![task(n)]),
        ],
    )
    .await;
    let m = bot.create_task(&member(ALICE), "unassigned", vec![]).await;
    check(
        &bot,
        vec![allowed(member(ALICE), &["task", "delete"], vec![task(m)])],
    )
    .await;
    assert!(bot.task_column(GUILD, m, "deleted_at").await.is_some());
}

#[tokio::test]
async fn row_projects_and_config_are_for_managers() {
    let bot = TestBot::with_manager_role().await;
    let alice = || member(ALICE);
    // Manage Server counts as manager too, with no role.
    let manage_server = member(CAROL).with_permissions(MANAGE_GUILD);
    check(
        &bot,
        vec![
            refused(
                alice(),
                &["project", "create"],
                vec![s("name", "Nope")],
                "manager role",
            ),
            allowed(manager(), &["project", "create"], vec![s("name", "Yes")]),
            refused(
                alice(),
                &["project", "archive"],
                vec![s("project", "Yes")],
                "manager role",
            ),
            refused(
                alice(),
                &["config", "manager-role"],
                vec![Opt::Role("role", 1)],
                "manager role",
            ),
            refused(
                alice(),
                &["config", "timezone"],
                vec![s("zone", "Europe/Paris")],
                "manager role",
            ),
            refused(
                alice(),
                &["config", "alerts-channel"],
                vec![Opt::Channel("channel", 5)],
                "manager role",
            ),
            refused(
                alice(),
                &["config", "reminders"],
                vec![s("offsets", "1h")],
                "manager role",
            ),
            allowed(
                manager(),
                &["config", "reminders"],
                vec![s("offsets", "2h")],
            ),
            allowed(
                manager(),
                &["project", "archive"],
                vec![s("project", "Yes")],
            ),
            allowed(
                manage_server,
                &["config", "timezone"],
                vec![s("zone", "Europe/Paris")],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn row_viewing_is_for_anyone() {
    let bot = TestBot::with_manager_role().await;
    let n = bot
        .create_task(&manager(), "visible", vec![Opt::User("assignee", BOB)])
        .await;
    let alice = || member(ALICE);
    check(
        &bot,
        vec![
            allowed(alice(), &["task", "show"], vec![task(n)]),
            allowed(alice(), &["task", "list"], vec![]),
            allowed(alice(), &["task", "mine"], vec![]),
            allowed(alice(), &["project", "list"], vec![]),
            allowed(alice(), &["config", "show"], vec![]),
            allowed(alice(), &["timezone"], vec![s("zone", "Europe/Rome")]),
        ],
    )
    .await;
    let reply = bot
        .run(&Caller::dm(CHANNEL, ALICE), &["task", "list"], vec![])
        .await;
    assert_private_error(&reply, "only inside a server");
}

#[tokio::test]
async fn rights_follow_the_member_data_of_each_command() {
    let bot = TestBot::with_manager_role().await;
    let n = bot.create_task(&member(ALICE), "x", vec![]).await;
    check(
        &bot,
        vec![
            allowed(
                manager(),
                &["task", "assign"],
                vec![task(n), Opt::User("assignee", BOB)],
            ),
            // The same user without the role in this interaction is a member again.
            refused(member(BOSS), &["task", "unassign"], vec![task(n)], "assign"),
        ],
    )
    .await;
    // Administrator bootstraps a server that has no manager role yet.
    let fresh = TestBot::start().await;
    let admin = member(CAROL).with_permissions(ADMINISTRATOR);
    check(
        &fresh,
        vec![allowed(
            admin,
            &["project", "create"],
            vec![s("name", "Boot")],
        )],
    )
    .await;
    let reply = fresh
        .run(
            &member(ALICE),
            &["project", "create"],
            vec![s("name", "Nope")],
        )
        .await;
    assert_private_error(&reply, "not set yet");
}

#[tokio::test]
async fn buttons_autocomplete_and_every_interaction_check_rights_afresh() {
    let bot = TestBot::with_manager_role().await;
    let number = bot
        .create_task(
            &manager(),
            "Ship it",
            vec![Opt::User("assignee", ALICE), s("due", "in 2 days")],
        )
        .await;
    bot.step_at(start_time() + chrono::Duration::hours(24))
        .await;
    let reminder = bot.fake.messages()[0].id;
    let before = bot.snapshot().await;

    // Neither assignee, creator nor manager: the reminder's buttons refuse.
    for custom_id in [
        format!("duty:done:{number}"),
        format!("duty:snooze:{number}"),
    ] {
        let message = bot.fake.message(reminder).expect("the reminder");
        let (id, interaction) =
            crate::support::interactions::button_on_message(&member(CAROL), &custom_id, message);
        bot.fake.inject(interaction).await;
        let reply = bot.fake.response(id).await;
        assert_private_error(&reply, "manager");
    }
    assert_eq!(
        bot.snapshot().await,
        before,
        "a refused button changed data"
    );

    // The roles of each interaction count, not those of an earlier one.
    let carol = member(CAROL);
    let carol_manager = carol.clone().with_roles(&[MANAGER_ROLE]);
    let assign = |to: u64| vec![Opt::Int("task", number), Opt::User("assignee", to)];
    let granted = bot
        .run(&carol_manager, &["task", "assign"], assign(BOB))
        .await;
    assert!(!is_ephemeral(&granted), "{granted}");
    let revoked = bot.run(&carol, &["task", "assign"], assign(CAROL)).await;
    assert_private_error(&revoked, "manager");
    assert_eq!(
        bot.task_column(GUILD, number, "assignee_id").await,
        Some(BOB.to_string())
    );
    // A button straight after losing the role: refused too (Carol is not the assignee).
    let message = bot.fake.message(reminder).expect("the reminder");
    let (id, interaction) = crate::support::interactions::button_on_message(
        &carol,
        &format!("duty:done:{number}"),
        message,
    );
    bot.fake.inject(interaction).await;
    assert_private_error(&bot.fake.response(id).await, "manager");
    let regranted = bot
        .run(
            &carol_manager,
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await;
    assert!(!is_ephemeral(&regranted), "{regranted}");

    // Autocomplete offers the guild's own tasks to anyone, and grants nothing by itself: the
    // command it fills in is checked when it runs.
    let offered = bot
        .complete(&carol, &["task", "assign"], vec![s("task", "")], "task")
        .await;
    assert_eq!(offered.len(), 1, "{offered:?}");
    let refused = bot.run(&carol, &["task", "assign"], assign(CAROL)).await;
    assert_private_error(&refused, "manager");

    // A DM carries no guild and no member: commands, buttons and autocomplete are refused.
    let before = bot.snapshot().await;
    let dm = Caller::dm(CHANNEL, BOSS)
        .with_roles(&[MANAGER_ROLE])
        .with_permissions(ADMINISTRATOR);
    for (path, options) in [
        (&["task", "create"][..], vec![s("title", "from a DM")]),
        (&["task", "show"][..], vec![Opt::Int("task", number)]),
        (&["task", "done"][..], vec![Opt::Int("task", number)]),
        (&["config", "show"][..], vec![]),
        (
            &["config", "manager-role"][..],
            vec![Opt::Role("role", ROGUE_ROLE)],
        ),
    ] {
        let reply = bot.run(&dm, path, options).await;
        assert_private_error(&reply, "server");
        assert!(!content(&reply).contains("Ship it"), "{reply}");
    }
    let (id, interaction) = button(&dm, &format!("duty:done:{number}"), reminder);
    bot.fake.inject(interaction).await;
    assert_private_error(&bot.fake.response(id).await, "server");
    let choices = bot
        .complete(&dm, &["task", "show"], vec![s("task", "")], "task")
        .await;
    assert!(choices.is_empty(), "{choices:?}");
    assert_eq!(bot.snapshot().await, before, "a DM changed data");
}

#[tokio::test]
async fn a_deleted_manager_role_or_a_removed_member_loses_the_rights_at_the_next_command() {
    let bot = TestBot::with_manager_role().await;
    let number = bot.create_task(&manager(), "Plan", vec![]).await;
    let assign = || vec![Opt::Int("task", number), Opt::User("assignee", ALICE)];
    let ok = bot.run(&manager(), &["task", "assign"], assign()).await;
    assert!(!is_ephemeral(&ok), "{ok}");

    // The member loses the role: refused at once.
    let former = member(BOSS);
    assert_private_error(
        &bot.run(
            &former,
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await,
        "manager",
    );

    // Another role is deleted: nothing changes.
    bot.fake
        .dispatch(
            "GUILD_ROLE_DELETE",
            json!({ "guild_id": GUILD.to_string(), "role_id": ROGUE_ROLE.to_string() }),
        )
        .await;
    // The manager role is deleted from the guild: the setting is cleared.
    bot.fake
        .dispatch(
            "GUILD_ROLE_DELETE",
            json!({ "guild_id": GUILD.to_string(), "role_id": MANAGER_ROLE.to_string() }),
        )
        .await;
    let db = bot.db();
    eventually(
        "the deleted manager role to be cleared from the settings",
        Duration::from_secs(15),
        || async move {
            let role: Option<i64> = coordinator::store::sql(
                "SELECT manager_role_id FROM guild_settings WHERE guild_id = $1",
            )
            .bind(GUILD as i64)
            .scalar(db.on())
            .await
            .expect("settings");
            role.is_none()
        },
    )
    .await;
    // Even an interaction that still lists the deleted role grants nothing, and the refusal
    // no longer names it.
    let stale = bot
        .run(
            &manager(),
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await;
    assert_private_error(&stale, "not set yet");
    assert!(
        !content(&stale).contains(&MANAGER_ROLE.to_string()),
        "{stale}"
    );
    assert_eq!(
        bot.task_column(GUILD, number, "assignee_id").await,
        Some(ALICE.to_string())
    );
    // Administrators still bootstrap (README "Commands": Administrator counts as manager).
    let admin = member(CAROL).with_permissions(ADMINISTRATOR);
    let reply = bot
        .run(
            &admin,
            &["task", "unassign"],
            vec![Opt::Int("task", number)],
        )
        .await;
    assert!(!is_ephemeral(&reply), "{reply}");
}
