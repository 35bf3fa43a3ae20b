//! Router fuzzing: `router::handle` fed thousands of interactions shaped like
//! Discord's but with arbitrary payloads — known and unknown commands and subcommands, options
//! of the wrong type, missing or unknown options, huge and odd strings, invalid snowflakes, odd
//! button ids. Every payload serenity can deserialise must get an answer, never a panic, never
//! the generic "something went wrong" (no input should reach the database as an error), and
//! every answer stays within Discord's limits. Payloads serenity rejects would be dropped by the
//! gateway before reaching us; they are counted separately.

use std::sync::Arc;

use coordinator::clock::ManualClock;
use coordinator::discord::router;
use coordinator::store::Db;
use coordinator::App;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use serenity::all::Interaction;

use crate::support::bot::*;
use crate::support::interactions::{
    autocomplete, button, slash, Caller, Opt, ADMINISTRATOR, BASIC_PERMISSIONS,
};

/// Per kind, chosen so all three run in a few seconds in a debug build.
const COMMAND_CASES: u32 = 3000;
const AUTOCOMPLETE_CASES: u32 = 1000;
const BUTTON_CASES: u32 = 1000;

/// (command, subcommand, [(option, type)]) for every registered command.
type Schema = Vec<(String, Option<String>, Vec<(String, u64)>)>;

fn schema() -> Schema {
    let mut out = Schema::new();
    for command in coordinator::discord::registry::registrations() {
        let command = serde_json::to_value(&command).expect("command schema serialises");
        let name = command["name"].as_str().unwrap_or_default().to_string();
        let options = command["options"].as_array().cloned().unwrap_or_default();
        let leaf = |options: &[Value]| -> Vec<(String, u64)> {
            options
                .iter()
                .map(|o| {
                    (
                        o["name"].as_str().unwrap_or_default().to_string(),
                        o["type"].as_u64().unwrap_or(3),
                    )
                })
                .collect()
        };
        if options.iter().any(|o| o["type"] == 1) {
            for sub in options {
                let sub_options = sub["options"].as_array().cloned().unwrap_or_default();
                out.push((
                    name.clone(),
                    sub["name"].as_str().map(String::from),
                    leaf(&sub_options),
                ));
            }
        } else {
            out.push((name, None, leaf(&options)));
        }
    }
    out
}

/// Text people (or broken clients) might send: plain, unicode, control characters, huge.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z0-9 ]{0,12}",
        2 => "\\PC{0,80}",
        1 => "[\\x00-\\x1f\\x7f]{0,10}",
        1 => Just(String::new()),
        1 => Just("  \t\n ".to_string()),
        1 => (1usize..30_000).prop_map(|n| "é".repeat(n)),
        1 => Just("@everyone <@&1> <@1> %_\\' OR 1=1; --".to_string()),
        1 => prop::sample::select(vec![
            "tomorrow 9am", "in 2h", "2026-02-30", "in 99999999999 days", "eow", "friday",
            "1h, 0m", "31d", "-1h", "Europe/Berlin", "Mars/Olympus", "30 9 * * 1-5",
            "61 25 * * *", "@daily", "mon,fri", "urgent", "todo", "09:30", "24:00",
        ])
        .prop_map(String::from),
    ]
    .boxed()
}

/// Snowflakes: real-looking, zero, negative, past u64, not numbers, as strings or numbers.
fn snowflake() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => any::<u64>().prop_map(|n| json!(n.to_string())),
        2 => prop::sample::select(vec![
            "0", "1", "-1", "18446744073709551615", "18446744073709551616",
            "99999999999999999999999", "abc", "", " 1", "1e3",
        ])
        .prop_map(|s| json!(s)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => Just(json!(ALICE.to_string())),
        1 => Just(json!(MANAGER_ROLE.to_string())),
    ]
    .boxed()
}

/// An option value of any JSON type.
fn value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => text().prop_map(|s| json!(s)),
        3 => any::<i64>().prop_map(|n| json!(n)),
        2 => (-5i64..200).prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        1 => any::<bool>().prop_map(|b| json!(b)),
        1 => Just(Value::Null),
        1 => snowflake(),
        1 => Just(json!([1, "two"])),
        1 => Just(json!({"nested": true})),
    ]
    .boxed()
}

/// The option types Discord knows, plus a few it does not.
fn option_type() -> BoxedStrategy<u64> {
    prop_oneof![
        16 => 3u64..=11,
        1 => prop::sample::select(vec![0u64, 1, 2, 12, 99, u64::MAX]),
    ]
    .boxed()
}

/// A value of the JSON shape Discord uses for option type `kind` (ids as strings, and so on).
fn value_for(kind: u64) -> BoxedStrategy<Value> {
    match kind {
        3 => text().prop_map(|s| json!(s)).boxed(),
        4 => prop_oneof![
            2 => (-5i64..200).prop_map(|n| json!(n)),
            1 => any::<i64>().prop_map(|n| json!(n)),
        ]
        .boxed(),
        5 => any::<bool>().prop_map(|b| json!(b)).boxed(),
        10 => any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f))
            .boxed(),
        6..=9 | 11 => snowflake(),
        _ => value(),
    }
}

/// One leaf option: a name from the schema (or not), a type (often not the schema's, so the
/// router sees wrong types), and a value mostly of that type's JSON shape, sometimes of any.
fn leaf_option(names: Vec<String>) -> BoxedStrategy<Value> {
    let name = prop_oneof![
        6 => prop::sample::select(names),
        1 => "[a-z_-]{0,12}",
        1 => text(),
    ];
    let kind_and_value = option_type()
        .prop_flat_map(|kind| (Just(kind), prop_oneof![8 => value_for(kind), 1 => value()]));
    (name, kind_and_value, 0u8..20)
        .prop_map(|(name, (kind, value), shape)| match shape {
            // Sometimes the value is missing, or sent beside sub-options where it does not belong.
            0 => json!({ "name": name, "type": kind }),
            1 => json!({ "name": name, "type": kind, "value": value, "options": [] }),
            _ => json!({ "name": name, "type": kind, "value": value }),
        })
        .boxed()
}

/// A known command path with schema-shaped options, mutated: the right options with the right
/// types (so handlers run), then some of the wrong type, unknown, missing or duplicated.
fn command_data(schema: Arc<Schema>, focus: bool) -> BoxedStrategy<(Value, Caller)> {
    let mut option_names: Vec<String> = schema
        .iter()
        .flat_map(|(_, _, options)| options.iter().map(|(n, _)| n.clone()))
        .collect();
    option_names.extend(["colour".to_string(), String::new()]);
    option_names.sort();
    option_names.dedup();
    let commands: Vec<String> = schema.iter().map(|(c, _, _)| c.clone()).collect();
    let schema_for_values = Arc::clone(&schema);
    let path = prop_oneof![
        24 => (0..schema.len()).prop_map(move |i| (schema[i].0.clone(), schema[i].1.clone(), i)),
        1 => (prop::sample::select(commands.clone()), "[a-z-]{0,10}")
            .prop_map(|(c, s)| (c, Some(s), usize::MAX)),
        1 => prop::sample::select(commands).prop_map(|c| (c, None, usize::MAX)),
        1 => "[a-z-]{0,10}".prop_map(|c| (c, Some("create".to_string()), usize::MAX)),
    ];
    (
        path,
        prop_oneof![
            2 => Just(Vec::new()),
            1 => prop::collection::vec(leaf_option(option_names), 1..4),
        ],
        prop::collection::vec(value(), 0..6),
        any::<u16>(),
        prop_oneof![12 => Just(1u64), 1 => Just(2u64), 1 => Just(3u64)],
        caller(),
    )
        .prop_map(
            move |((command, sub, index), extra, values, seed, sub_kind, caller)| {
                // Schema options with well-typed values first, so many cases pass parsing.
                let mut leaf: Vec<Value> = Vec::new();
                if let Some((_, _, options)) = schema_for_values.get(index) {
                    for (i, (name, kind)) in options.iter().enumerate() {
                        if (seed >> (2 * (i % 8))) & 3 == 0 {
                            continue;
                        }
                        let v = values.get(i % values.len().max(1)).cloned();
                        let value = match (*kind, v) {
                            (4, Some(v)) if v.is_i64() && seed % 4 == 0 => v,
                            (4, _) => json!(1 + (seed % 3) as i64),
                            (5, _) => json!(seed % 2 == 0),
                            (6..=8, _) => json!(ALICE.to_string()),
                            (_, Some(Value::String(s))) => json!(s),
                            (_, _) => json!("tomorrow 9am"),
                        };
                        leaf.push(json!({ "name": name, "type": kind, "value": value }));
                    }
                }
                leaf.extend(extra);
                if focus && !leaf.is_empty() {
                    let i = seed as usize % leaf.len();
                    leaf[i]["focused"] = json!(true);
                    // Discord sends the partial input as a string, whatever the option's type;
                    // a broken client might not.
                    if seed % 8 != 0 {
                        let typed = match &leaf[i]["value"] {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        leaf[i]["value"] = json!(typed);
                    }
                }
                let options = match sub {
                    Some(sub) => vec![json!({ "name": sub, "type": sub_kind, "options": leaf })],
                    None => leaf,
                };
                let data = json!({
                    "id": crate::support::interactions::command_id(&command).to_string(),
                    "name": command,
                    "type": 1,
                    "options": options,
                });
                (data, caller)
            },
        )
        .boxed()
}

/// Who calls: members, managers, admins, DMs, and callers with odd ids.
fn caller() -> BoxedStrategy<Caller> {
    prop_oneof![
        4 => Just(member(ALICE)),
        2 => Just(manager()),
        1 => Just(member(CAROL).with_permissions(ADMINISTRATOR | BASIC_PERMISSIONS)),
        1 => Just(Caller::dm(CHANNEL, ALICE)),
        1 => Just(Caller::member(OTHER_GUILD, 42, BOB)),
        1 => (1u64..u64::MAX, 1u64..u64::MAX, 1u64..u64::MAX)
            .prop_map(|(g, c, u)| Caller::member(g, c, u)),
    ]
    .boxed()
}

/// Breaks ids in the envelope now and then (zero, non-numeric, past u64).
fn envelope_damage() -> BoxedStrategy<Option<(&'static str, Value)>> {
    prop_oneof![
        12 => Just(None),
        1 => (prop::sample::select(vec!["guild_id", "channel_id", "id"]), snowflake())
            .prop_map(|(k, v)| Some((k, v))),
        1 => snowflake().prop_map(|v| Some(("member.user.id", v))),
        1 => Just(Some(("member.roles", json!(["0", "x", MANAGER_ROLE.to_string()])))),
        1 => Just(Some(("member.permissions", json!("not-a-number")))),
    ]
    .boxed()
}

fn damage(interaction: &mut Value, damage: Option<(&'static str, Value)>) {
    let Some((key, value)) = damage else {
        return;
    };
    match key {
        "member.user.id" => interaction["member"]["user"]["id"] = value,
        "member.roles" => interaction["member"]["roles"] = value,
        "member.permissions" => interaction["member"]["permissions"] = value,
        key => interaction[key] = value,
    }
}

#[derive(Default, Debug)]
struct Tally {
    answered: u64,
    /// Answers posted for the channel: the command went through (a task created, say).
    public: u64,
    rejected_by_serenity: u64,
}

/// Deserialises like the gateway does, answers, and checks the answer.
async fn answer(app: &App, payload: Value, tally: &mut Tally) -> Result<(), TestCaseError> {
    let interaction: Interaction = match serde_json::from_value(payload) {
        Ok(interaction) => interaction,
        Err(e) => {
            if std::env::var_os("FUZZ_DEBUG").is_some() {
                eprintln!("rejected by serenity: {e}");
            }
            tally.rejected_by_serenity += 1;
            return Ok(());
        }
    };
    let response = router::handle(app, &interaction).await;
    let Some(response) = response.map(|answer| answer.response) else {
        return Err(TestCaseError::fail("no answer"));
    };
    tally.answered += 1;
    let body = serde_json::to_value(&response).map_err(|e| TestCaseError::fail(e.to_string()))?;
    if body["type"] == 4 && body["data"]["flags"] != 64 {
        tally.public += 1;
    }
    let content = body["data"]["content"].as_str().unwrap_or_default();
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("reply: {}", content.chars().take(60).collect::<String>());
    }
    prop_assert!(content.chars().count() <= 2000, "content too long: {body}");
    prop_assert!(
        !content.contains("Something went wrong"),
        "an input reached the database as an error: {body}"
    );
    if let Some(choices) = body["data"]["choices"].as_array() {
        prop_assert!(choices.len() <= 25, "{body}");
    }
    let mentions = &body["data"]["allowed_mentions"];
    if mentions.is_object() {
        prop_assert_eq!(&mentions["parse"], &json!([]), "{}", body);
        prop_assert_eq!(&mentions["roles"], &json!([]), "{}", body);
    }
    Ok(())
}

/// An app over a fresh database with a manager role, a project and tasks #1 (open) and #2 (done).
async fn seeded_app(dir: &tempfile::TempDir) -> App {
    let url = crate::support::database::url_for_test(dir.path()).await;
    let db = Db::connect(&url).await.expect("database");
    let app = App::new(db, Arc::new(ManualClock::new(start_time())));
    let admin = member(CAROL).with_permissions(ADMINISTRATOR);
    let steps: Vec<(Caller, Vec<&str>, Vec<Opt>)> = vec![
        (
            admin,
            vec!["config", "manager-role"],
            vec![Opt::Role("role", MANAGER_ROLE)],
        ),
        (
            manager(),
            vec!["project", "create"],
            vec![Opt::Str("name", "Apollo".into())],
        ),
        (
            member(ALICE),
            vec!["task", "create"],
            vec![Opt::Str("title", "Open".into())],
        ),
        (
            member(ALICE),
            vec!["task", "create"],
            vec![Opt::Str("title", "Done".into())],
        ),
        (
            member(ALICE),
            vec!["task", "done"],
            vec![Opt::Int("task", 2)],
        ),
    ];
    for (caller, path, options) in steps {
        let (_, payload) = slash(&caller, &path, options);
        let interaction: Interaction = serde_json::from_value(payload).expect("seed payload");
        let reply = router::handle(&app, &interaction)
            .await
            .expect("seed answered")
            .response;
        let body = serde_json::to_value(&reply).expect("seed reply");
        let text = body["data"]["content"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("Managers are now") || body["data"]["flags"] != 64,
            "seed step refused: {body}"
        );
    }
    app
}

/// After thousands of arbitrary commands, everything stored still obeys the limits on input
/// (see `bad_input`): the validation ran before every write that went through.
async fn assert_stored_data_is_valid(app: &App, what: &str) {
    let checks = [
        ("tasks with a title outside 1–200 characters",
         "SELECT COUNT(*) FROM tasks WHERE length(trim(title)) < 1 OR length(title) > 200"),
        ("descriptions over 2000 characters",
         "SELECT COUNT(*) FROM tasks WHERE length(coalesce(description, '')) > 2000"),
        ("block reasons over 1000 characters",
         "SELECT COUNT(*) FROM tasks WHERE length(coalesce(blocked_reason, '')) > 1000"),
        ("unknown statuses or priorities",
         "SELECT COUNT(*) FROM tasks WHERE status NOT IN ('todo', 'in_progress', 'blocked', 'done') \
          OR priority NOT IN ('low', 'normal', 'high', 'urgent')"),
        ("due times not after creation",
         "SELECT COUNT(*) FROM tasks WHERE due_at IS NOT NULL AND due_at <= created_at"),
        ("tasks without history", "SELECT COUNT(*) FROM tasks t WHERE NOT EXISTS \
          (SELECT 1 FROM task_history h WHERE h.task_id = t.id)"),
        ("projects named outside 1–50 characters",
         "SELECT COUNT(*) FROM projects WHERE length(trim(name)) < 1 OR length(name) > 50"),
        ("duplicate project names in a guild",
         "SELECT COUNT(*) - COUNT(DISTINCT guild_id || ':' || lower(name)) FROM projects"),
        ("check-in fields over 1000 characters",
         "SELECT COUNT(*) FROM checkins WHERE length(yesterday) > 1000 OR length(today) > 1000 \
          OR length(coalesce(blockers, '')) > 1000"),
    ];
    for (problem, sql) in checks {
        let count: i64 = coordinator::store::sql(sql)
            .scalar(app.db.on())
            .await
            .unwrap_or_else(|e| panic!("{what}: {sql}: {e}"));
        assert_eq!(count, 0, "{what}: {problem}");
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn run_fuzz(cases: u32, strategy: BoxedStrategy<Value>, what: &str) -> Tally {
    // Seconds of CPU: a shared turn, so no timing test runs beside it.
    let _turn = crate::support::turns::shared_blocking();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let app = rt.block_on(seeded_app(&dir));
    let tally = std::cell::RefCell::new(Tally::default());
    let started = std::time::Instant::now();
    let result = runner(cases).run(&strategy, |payload| {
        rt.block_on(answer(&app, payload, &mut tally.borrow_mut()))
    });
    if let Err(e) = result {
        panic!("{what}: {e}");
    }
    rt.block_on(assert_stored_data_is_valid(&app, what));
    let tally = tally.into_inner();
    eprintln!(
        "router fuzz, {what}: {} cases, {} answered ({} publicly), {} rejected by serenity, in {:?}",
        tally.answered + tally.rejected_by_serenity,
        tally.answered,
        tally.public,
        tally.rejected_by_serenity,
        started.elapsed()
    );
    assert!(
        tally.answered >= u64::from(cases) / 3,
        "most cases should reach the router: {tally:?}"
    );
    tally
}

#[test]
fn slash_commands_with_arbitrary_options_are_always_answered() {
    let strategy = (command_data(Arc::new(schema()), false), envelope_damage())
        .prop_map(|((data, caller), hurt)| {
            let (_, mut payload) = slash(&caller, &["task"], vec![]);
            payload["data"] = data;
            damage(&mut payload, hurt);
            payload
        })
        .boxed();
    run_fuzz(COMMAND_CASES, strategy, "slash commands");
}

#[test]
fn autocomplete_with_arbitrary_options_is_always_answered() {
    let strategy = (command_data(Arc::new(schema()), true), envelope_damage())
        .prop_map(|((data, caller), hurt)| {
            let (_, mut payload) = autocomplete(&caller, &["task", "show"], vec![], "task");
            payload["data"] = data;
            damage(&mut payload, hurt);
            payload
        })
        .boxed();
    run_fuzz(AUTOCOMPLETE_CASES, strategy, "autocomplete");
}

#[test]
fn buttons_with_odd_custom_ids_are_always_answered() {
    let custom_id = prop_oneof![
        2 => (prop::sample::select(vec!["duty:done:", "duty:snooze:", "list:"]),
              prop_oneof![
                  (0i64..5).prop_map(|n| n.to_string()),
                  any::<i64>().prop_map(|n| n.to_string()),
                  text(),
              ])
            .prop_map(|(prefix, rest)| format!("{prefix}{rest}")),
        1 => text(),
        1 => (1usize..200).prop_map(|n| "list:".repeat(n)),
    ];
    let strategy = (custom_id, caller(), envelope_damage())
        .prop_map(|(custom_id, caller, hurt)| {
            let (_, mut payload) = button(&caller, &custom_id, 900_000_000_000_000_001);
            damage(&mut payload, hurt);
            payload
        })
        .boxed();
    run_fuzz(BUTTON_CASES, strategy, "buttons");
}

/// Reminder offsets as typed into `/config reminders`: any text reads or is refused; what reads
/// is 1 minute to 30 days each, distinct, longest first.
#[test]
fn reminder_offsets_read_or_are_refused() {
    use chrono::Duration;
    use coordinator::domain::validate::reminder_offsets;
    let part = prop_oneof![
        6 => (
            prop_oneof![4 => 0i64..40, 1 => any::<i64>().prop_map(|n| n % 100_000)],
            prop::sample::select(vec!["m", "h", "d", "w", " minutes", "days", ""])
        )
            .prop_map(|(n, unit)| format!("{n}{unit}")),
        1 => text(),
        1 => Just("1h30m".to_string()),
        1 => Just("an hour".to_string()),
    ];
    let strategy = prop::collection::vec(part, 0..5).prop_map(|parts| parts.join(", "));
    let cases = 3000;
    let _turn = crate::support::turns::shared_blocking();
    let accepted = std::cell::Cell::new(0u32);
    let result = runner(cases).run(&strategy, |text| {
        if let Ok(offsets) = reminder_offsets(&text) {
            accepted.set(accepted.get() + 1);
            prop_assert!(!offsets.is_empty());
            for pair in offsets.windows(2) {
                prop_assert!(
                    pair[0] > pair[1],
                    "not longest first and distinct: {text:?}"
                );
            }
            for offset in &offsets {
                prop_assert!(
                    *offset >= Duration::minutes(1) && *offset <= Duration::days(30),
                    "{text:?}"
                );
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("reminder offsets: {e}");
    }
    eprintln!(
        "reminder offsets: {cases} cases, {} accepted",
        accepted.get()
    );
}
