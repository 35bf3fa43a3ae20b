//! Checks the fake Discord server and the interaction builders against real serenity code, so
//! that tests built on them fail only for reasons that would also fail in production.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use serenity::all::{
    ChannelId, ClientBuilder, Command, CommandDataOptionValue, CommandOptionType,
    ComponentInteractionDataKind, Context, CreateAutocompleteResponse, CreateCommand,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    CreateMessage, EditInteractionResponse, EventHandler, GatewayIntents, GuildId, HttpBuilder,
    Interaction, Nonce, ResolvedValue, ShardManager,
};
use serenity::http::Http;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::support::fake_discord::{FakeDiscord, Faults, APPLICATION_ID, BOT_USER_ID};
use crate::support::interactions::{
    autocomplete, button, button_on_message, command_id, slash, Caller, Opt, ADMINISTRATOR,
};

const TOKEN: &str = "Bot-token-for-tests";

fn parse(json: &Value) -> Interaction {
    serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("serenity rejected the payload: {e}\n{json:#}"))
}

#[test]
fn slash_with_subcommand_and_every_option_type_deserializes() {
    let caller = Caller::member(10, 20, 30)
        .with_roles(&[40, 41])
        .with_permissions(ADMINISTRATOR);
    let (id, json) = slash(
        &caller,
        &["task", "create"],
        vec![
            Opt::Str("title", "Write report".into()),
            Opt::Int("hours", 3),
            Opt::Bool("urgent", true),
            Opt::User("assignee", 50),
            Opt::Channel("where", 60),
            Opt::Role("team", 70),
        ],
    );
    let Interaction::Command(cmd) = parse(&json) else {
        panic!("expected Interaction::Command")
    };
    assert_eq!(cmd.id.get(), id);
    assert_eq!(cmd.application_id.get(), APPLICATION_ID);
    assert_eq!(cmd.guild_id.map(|g| g.get()), Some(10));
    assert_eq!(cmd.channel_id.get(), 20);
    assert_eq!(
        cmd.user.id.get(),
        30,
        "serenity copies member.user into user"
    );
    let member = cmd.member.as_ref().expect("member");
    assert_eq!(
        member.roles.iter().map(|r| r.get()).collect::<Vec<_>>(),
        vec![40, 41]
    );
    assert!(member.permissions.expect("permissions").administrator());
    assert_eq!(cmd.data.name, "task");
    assert_eq!(cmd.data.id.get(), command_id("task"));

    let sub = &cmd.data.options[0];
    assert_eq!(sub.name, "create");
    let CommandDataOptionValue::SubCommand(opts) = &sub.value else {
        panic!("expected a subcommand")
    };
    let values: Vec<_> = opts
        .iter()
        .map(|o| (o.name.as_str(), o.value.clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            (
                "title",
                CommandDataOptionValue::String("Write report".into())
            ),
            ("hours", CommandDataOptionValue::Integer(3)),
            ("urgent", CommandDataOptionValue::Boolean(true)),
            ("assignee", CommandDataOptionValue::User(50.into())),
            ("where", CommandDataOptionValue::Channel(60.into())),
            ("team", CommandDataOptionValue::Role(70.into())),
        ]
    );

    // Resolved data, as the bot reads it through `options()`.
    let resolved = cmd.data.options();
    let ResolvedValue::SubCommand(resolved) = &resolved[0].value else {
        panic!("expected a subcommand")
    };
    match &resolved[3].value {
        ResolvedValue::User(user, member) => {
            assert_eq!(user.id.get(), 50);
            assert!(
                member.is_some(),
                "guild user options carry a partial member"
            );
        }
        other => panic!("assignee not resolved: {other:?}"),
    }
    assert!(matches!(&resolved[4].value, ResolvedValue::Channel(c) if c.id.get() == 60));
    assert!(
        matches!(&resolved[5].value, ResolvedValue::Role(r) if r.id.get() == 70 && r.guild_id.get() == 10)
    );
}

#[test]
fn slash_without_subcommand_and_in_dm_deserializes() {
    let (_, json) = slash(
        &Caller::dm(21, 31),
        &["timezone"],
        vec![Opt::Str("zone", "Europe/Paris".into())],
    );
    let Interaction::Command(cmd) = parse(&json) else {
        panic!("expected Interaction::Command")
    };
    assert_eq!(cmd.guild_id, None);
    assert!(cmd.member.is_none());
    assert_eq!(cmd.user.id.get(), 31);
    assert_eq!(cmd.data.name, "timezone");
    assert_eq!(
        cmd.data.options[0].value,
        CommandDataOptionValue::String("Europe/Paris".into())
    );
    assert_ne!(
        json["token"],
        slash(&Caller::dm(21, 31), &["timezone"], vec![]).1["token"],
        "tokens are unique"
    );
}

#[test]
fn autocomplete_marks_the_focused_option() {
    let caller = Caller::member(10, 20, 30);
    let (_, json) = autocomplete(
        &caller,
        &["task", "done"],
        vec![Opt::Int("task", 12), Opt::Str("note", "x".into())],
        "task",
    );
    let Interaction::Autocomplete(ac) = parse(&json) else {
        panic!("expected Interaction::Autocomplete")
    };
    let focused = ac.data.autocomplete().expect("a focused option");
    assert_eq!(
        (focused.name, focused.kind, focused.value),
        ("task", CommandOptionType::Integer, "12")
    );

    // Focusing an option that has no input yet still yields a focused (empty) option.
    let (_, json) = autocomplete(&caller, &["task", "done"], vec![], "task");
    let Interaction::Autocomplete(ac) = parse(&json) else {
        panic!("expected Interaction::Autocomplete")
    };
    assert_eq!(ac.data.autocomplete().expect("a focused option").value, "");
}

#[test]
fn button_press_deserializes() {
    let caller = Caller::member(10, 20, 30);
    let (id, json) = button(&caller, "task:done:7", 99);
    let Interaction::Component(c) = parse(&json) else {
        panic!("expected Interaction::Component")
    };
    assert_eq!(c.id.get(), id);
    assert_eq!(c.data.custom_id, "task:done:7");
    assert!(matches!(c.data.kind, ComponentInteractionDataKind::Button));
    assert_eq!(c.message.id.get(), 99);
    assert_eq!(c.message.author.id.get(), BOT_USER_ID);
    assert_eq!(c.user.id.get(), 30);
}

struct Handler;

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let result = async {
            match interaction {
                Interaction::Command(cmd) if cmd.data.name == "slow" => {
                    cmd.defer(&ctx.http).await?;
                    cmd.edit_response(&ctx.http, EditInteractionResponse::new().content("done"))
                        .await?;
                    cmd.create_followup(
                        &ctx.http,
                        CreateInteractionResponseFollowup::new().content("and more"),
                    )
                    .await?;
                }
                Interaction::Command(cmd) => {
                    let reply = CreateInteractionResponseMessage::new()
                        .content(format!("pong {}", cmd.user.id));
                    cmd.create_response(&ctx.http, CreateInteractionResponse::Message(reply))
                        .await?;
                }
                Interaction::Autocomplete(ac) => {
                    let choices =
                        CreateAutocompleteResponse::new().add_string_choice("Alpha", "alpha");
                    ac.create_response(&ctx.http, CreateInteractionResponse::Autocomplete(choices))
                        .await?;
                }
                Interaction::Component(c) => {
                    let update = CreateInteractionResponseMessage::new()
                        .content(format!("pressed {}", c.data.custom_id));
                    c.create_response(&ctx.http, CreateInteractionResponse::UpdateMessage(update))
                        .await?;
                }
                _ => {}
            }
            Ok::<(), serenity::Error>(())
        };
        if let Err(e) = result.await {
            eprintln!("test handler failed: {e:?}");
        }
    }
}

/// A serenity client running in a task.
struct RunningClient {
    shards: Arc<ShardManager>,
    run: JoinHandle<serenity::Result<()>>,
}

impl RunningClient {
    async fn stop(self) {
        self.shards.shutdown_all().await;
        let stopped = tokio::time::timeout(Duration::from_secs(5), self.run).await;
        assert!(stopped.is_ok(), "serenity client did not stop");
    }
}

async fn start_client(fake: &FakeDiscord) -> (Arc<Http>, RunningClient) {
    let http = HttpBuilder::new(TOKEN)
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
        .event_handler(Handler)
        .await
        .expect("build serenity client");
    let http = client.http.clone();
    let shards = client.shard_manager.clone();
    let run = tokio::spawn(async move { client.start().await });
    (http, RunningClient { shards, run })
}

/// Minimal HTTP/1.1 client, so status and headers are seen exactly as sent.
async fn raw_request(fake: &FakeDiscord, method: &str, path: &str) -> (u16, String, String) {
    let addr = fake.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect to fake");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bot {TOKEN}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .await
        .expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serenity_client_round_trip() {
    let fake = FakeDiscord::start().await;
    let (http, client) = start_client(&fake).await;
    fake.wait_ready().await;
    assert_eq!(fake.identify_count(), 1);
    assert_eq!(fake.identify_tokens(), vec![TOKEN.to_owned()]);
    assert_eq!(
        fake.identifies()[0]["token"],
        format!("Bot {TOKEN}"),
        "verbatim payload"
    );

    // Slash command answered with a message.
    let caller = Caller::member(1, 2, 3);
    let (id, ping) = slash(&caller, &["ping"], vec![]);
    fake.inject(ping).await;
    let response = fake.response(id).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["content"], "pong 3");
    assert_eq!(fake.original(id).expect("original")["content"], "pong 3");

    // Autocomplete.
    let (id, ac) = autocomplete(
        &caller,
        &["task", "done"],
        vec![Opt::Str("task", "al".into())],
        "task",
    );
    fake.inject(ac).await;
    assert_eq!(
        fake.response(id).await["data"]["choices"][0]["value"],
        "alpha"
    );

    // Deferred reply, then edit and follow-up through the interaction webhook.
    let (id, slow) = slash(&caller, &["slow"], vec![]);
    fake.inject(slow).await;
    assert_eq!(fake.response(id).await["type"], 5);
    assert_eq!(fake.wait_original_edit(id).await["content"], "done");
    assert_eq!(fake.wait_followup(id).await["content"], "and more");
    assert_eq!(fake.original(id).expect("original")["content"], "done");

    // Channel messages with nonce de-duplication.
    let send = || {
        ChannelId::new(5).send_message(
            &http,
            CreateMessage::new()
                .content("x")
                .nonce(Nonce::String("n1".into()))
                .enforce_nonce(true),
        )
    };
    let first = send().await.expect("first send");
    let second = send().await.expect("second send");
    assert_eq!(first.id, second.id, "Discord returns the existing message");
    assert_eq!(fake.messages().len(), 1);
    assert_eq!(fake.messages_in(5)[0].body["content"], "x");
    assert_eq!(fake.deduplicated(), 1);
    assert_eq!(fake.wait_messages(1).await[0].id, first.id.get());

    // A button on that message updates it.
    let (id, press) = button_on_message(
        &caller.clone().in_channel(5),
        "ack",
        fake.message(first.id.get()).expect("stored"),
    );
    fake.inject(press).await;
    assert_eq!(fake.response(id).await["type"], 7);
    assert_eq!(
        fake.message(first.id.get()).expect("stored")["content"],
        "pressed ack"
    );

    // Edits.
    ChannelId::new(5)
        .edit_message(
            &http,
            first.id,
            serenity::all::EditMessage::new().content("edited"),
        )
        .await
        .expect("edit");
    assert_eq!(
        fake.edits(),
        vec![(5, first.id.get(), json!({ "content": "edited" }))]
    );

    // Command registration echoes serenity-parseable commands.
    let global =
        Command::set_global_commands(&http, vec![CreateCommand::new("ping").description("Ping")])
            .await
            .expect("global commands");
    assert_eq!(global[0].id.get(), command_id("ping"));
    let guild = GuildId::new(1)
        .set_commands(&http, vec![CreateCommand::new("task").description("Tasks")])
        .await
        .expect("guild commands");
    assert_eq!(guild[0].guild_id, Some(GuildId::new(1)));
    let registered = fake.registered_commands();
    assert_eq!(registered.len(), 2);
    assert_eq!(
        (registered[0].0, registered[0].1[0]["name"].clone()),
        (None, json!("ping"))
    );
    assert_eq!(registered[1].0, Some(1));

    // One-shot 429, seen raw (with headers) and then gone.
    fake.fail_next(
        "GET",
        "/users/@me",
        429,
        json!({ "message": "You are being rate limited.", "retry_after": 0.25, "global": false }),
    );
    let (status, head, body) = raw_request(&fake, "GET", "/api/v10/users/@me").await;
    assert_eq!(status, 429);
    assert!(
        head.contains("retry-after: 1") && head.contains("x-ratelimit-remaining: 0"),
        "{head}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["retry_after"],
        0.25
    );
    assert_eq!(raw_request(&fake, "GET", "/api/v10/users/@me").await.0, 200);

    // Failures are seen by serenity as HTTP errors carrying Discord's code.
    fake.fail_next(
        "POST",
        "/api/v10/channels/6/messages",
        403,
        json!({ "message": "Missing Access", "code": 50001 }),
    );
    let err = ChannelId::new(6).say(&http, "hi").await.expect_err("403");
    assert!(format!("{err:?}").contains("50001"), "{err:?}");
    fake.fail_channel(7, 404);
    for _ in 0..2 {
        let err = ChannelId::new(7).say(&http, "hi").await.expect_err("404");
        assert!(format!("{err:?}").contains("10003"), "{err:?}");
    }
    fake.clear_channel_failure(7);
    ChannelId::new(7).say(&http, "hi").await.expect("cleared");

    // Reconnect by RESUME (fast path).
    fake.accept_resumes(true);
    fake.close_gateway(4000).await;
    let (id, ping) = slash(&caller, &["ping"], vec![]);
    fake.inject(ping).await;
    assert_eq!(fake.response(id).await["data"]["content"], "pong 3");
    assert_eq!((fake.identify_count(), fake.resume_count()), (1, 1));

    assert!(
        fake.rejected()
            .iter()
            .all(|r| [403, 404, 429].contains(&r.status)),
        "{:#?}",
        fake.rejected()
    );
    client.stop().await;
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_session_makes_serenity_reidentify() {
    let fake = FakeDiscord::start().await;
    let (_http, client) = start_client(&fake).await;
    fake.wait_ready().await;
    // Serenity tries to RESUME; the fake refuses, so it must IDENTIFY again (its shard queuer
    // waits up to 5 s between identifies).
    fake.close_gateway(4000).await;
    fake.wait_identified(2).await;
    let (id, ping) = slash(&Caller::member(1, 2, 3), &["ping"], vec![]);
    fake.inject(ping).await;
    assert_eq!(fake.response(id).await["data"]["content"], "pong 3");
    assert_eq!(fake.resume_count(), 0);
    assert!(
        fake.gateway_received().iter().any(|p| p["op"] == 6),
        "serenity attempted a RESUME first"
    );
    client.stop().await;
}

#[tokio::test]
async fn discord_rules_are_enforced() {
    let fake = FakeDiscord::start().await;
    let http = HttpBuilder::new(TOKEN)
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .application_id(APPLICATION_ID.into())
        .build();
    let code = |r: serenity::Result<serenity::all::Message>| match r {
        Err(serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(e))) => {
            e.error.code
        }
        other => panic!("expected a Discord error, got {other:?}"),
    };
    // Raw maps bypass serenity's client-side length checks, as a hand-built body would.
    assert_eq!(
        code(
            http.send_message(
                ChannelId::new(5),
                vec![],
                &json!({ "content": "x".repeat(2001) })
            )
            .await
        ),
        50035
    );
    assert_eq!(
        code(
            http.send_message(ChannelId::new(5), vec![], &json!({ "content": " " }))
                .await
        ),
        50006
    );
    let long_nonce = json!({ "content": "x", "nonce": "n".repeat(26), "enforce_nonce": true });
    assert_eq!(
        code(
            http.send_message(ChannelId::new(5), vec![], &long_nonce)
                .await
        ),
        50035
    );
    let long_custom_id = json!({ "content": "x", "components": [{ "type": 1, "components": [
        { "type": 2, "style": 1, "label": "Go", "custom_id": "c".repeat(101) }
    ] }] });
    assert_eq!(
        code(
            http.send_message(ChannelId::new(5), vec![], &long_custom_id)
                .await
        ),
        50035
    );
    assert!(fake.messages().is_empty());

    // Invalid command names are refused like Discord does.
    let err =
        Command::set_global_commands(&http, vec![CreateCommand::new("Task").description("Tasks")])
            .await
            .expect_err("uppercase name");
    assert!(format!("{err:?}").contains("50035"), "{err:?}");
    assert!(fake.registered_commands().is_empty());

    // One acknowledgement per interaction; webhook calls only after it.
    let (id, cmd) = slash(&Caller::member(1, 2, 3), &["ping"], vec![]);
    let Interaction::Command(cmd) = parse(&cmd) else {
        unreachable!()
    };
    let followup = CreateInteractionResponseFollowup::new().content("too early");
    assert!(
        cmd.create_followup(&http, followup).await.is_err(),
        "follow-up before the callback"
    );
    let reply = || {
        CreateInteractionResponse::Message(CreateInteractionResponseMessage::new().content("hi"))
    };
    cmd.create_response(&http, reply())
        .await
        .expect("first callback");
    let err = cmd
        .create_response(&http, reply())
        .await
        .expect_err("second callback");
    assert!(format!("{err:?}").contains("40060"), "{err:?}");
    assert_eq!(
        fake.try_response(id).expect("recorded")["data"]["content"],
        "hi"
    );
    assert_eq!(
        cmd.get_response(&http).await.expect("@original").content,
        "hi"
    );

    // Unknown routes are recorded and 404.
    assert_eq!(raw_request(&fake, "GET", "/api/v10/nope").await.0, 404);
    assert_eq!(
        fake.requests().last().expect("recorded").path,
        "/api/v10/nope"
    );
    tokio::time::timeout(Duration::from_secs(5), fake.shutdown())
        .await
        .expect("shutdown");
}

/// Posts `body` to `POST /channels/{channel}/messages` with a raw client, so status, headers and
/// body are seen exactly as sent.
async fn post_message(
    client: &reqwest::Client,
    fake: &FakeDiscord,
    channel: u64,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = client
        .post(format!(
            "{}/api/v10/channels/{channel}/messages",
            fake.base_url()
        ))
        .header("authorization", "Bot x")
        .header("content-type", "application/json")
        .body(serde_json::to_string(body).expect("serialize body"))
        .send()
        .await
        .expect("POST message");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("response body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}: {headers:?}"))
        .to_str()
        .expect("ASCII header")
}

const RATE_LIMIT_HEADERS: [&str; 4] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset-after",
    "x-ratelimit-bucket",
];

#[tokio::test]
async fn channel_message_rate_limits_are_enforced() {
    // Its 5-second windows must not run out between requests: alone.
    let _alone = crate::support::turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let client = reqwest::Client::new();
    // Off by default.
    for i in 0..7 {
        let (status, headers, _) = post_message(
            &client,
            &fake,
            41,
            &json!({ "content": format!("free {i}") }),
        )
        .await;
        assert_eq!(status, 200);
        assert!(headers.get("x-ratelimit-remaining").is_none());
    }
    assert_eq!(fake.rate_limited(), 0);

    fake.enforce_rate_limits(50, 5, Duration::from_secs(5));
    let mut remaining = Vec::new();
    for i in 0..7 {
        let (status, headers, body) =
            post_message(&client, &fake, 42, &json!({ "content": format!("m{i}") })).await;
        for name in RATE_LIMIT_HEADERS {
            header(&headers, name);
        }
        assert_eq!(header(&headers, "x-ratelimit-limit"), "5");
        let reset_after: f64 = header(&headers, "x-ratelimit-reset-after").parse().unwrap();
        assert!(reset_after > 0.0 && reset_after <= 5.0, "{reset_after}");
        if i < 5 {
            assert_eq!(status, 200, "{body}");
            remaining.push(header(&headers, "x-ratelimit-remaining").to_owned());
        } else {
            assert_eq!(status, 429, "{body}");
            assert_eq!(body["message"], "You are being rate limited.");
            assert_eq!(body["global"], false);
            let retry_after = body["retry_after"].as_f64().expect("retry_after");
            assert!(retry_after > 0.0 && retry_after <= 5.0, "{retry_after}");
            let header_secs: u64 = header(&headers, "retry-after").parse().unwrap();
            assert_eq!(header_secs, retry_after.ceil() as u64);
            assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
        }
    }
    assert_eq!(remaining, ["4", "3", "2", "1", "0"]);
    assert_eq!(fake.rate_limited(), 2);
    let posted = fake.messages_in(42);
    assert_eq!(posted.len(), 5, "a 429 records no message");
    assert!(posted
        .windows(2)
        .all(|w| w[0].received_at <= w[1].received_at));
    let times = fake.message_times();
    assert_eq!(times.len(), 12);
    assert_eq!(
        times.last().map(|t| (t.0, t.1)),
        Some((42, posted[4].received_at))
    );

    // Other channels have their own bucket.
    let (status, headers, _) = post_message(&client, &fake, 43, &json!({ "content": "x" })).await;
    assert_eq!(
        (status, header(&headers, "x-ratelimit-remaining")),
        (200, "4")
    );

    // Injected failures come first, are not counted and take no slot, but carry the headers.
    fake.fail_channel(43, 403);
    let (status, headers, _) = post_message(&client, &fake, 43, &json!({ "content": "x" })).await;
    assert_eq!(
        (status, header(&headers, "x-ratelimit-remaining")),
        (403, "4")
    );
    fake.clear_channel_failure(43);
    fake.fail_channel(43, 429);
    assert_eq!(
        post_message(&client, &fake, 43, &json!({ "content": "x" }))
            .await
            .0,
        429
    );
    fake.clear_channel_failure(43);
    assert_eq!(fake.rate_limited(), 2);
    let (status, headers, _) = post_message(&client, &fake, 43, &json!({ "content": "x" })).await;
    assert_eq!(
        (status, header(&headers, "x-ratelimit-remaining")),
        (200, "3")
    );
}

#[tokio::test]
async fn rate_limit_windows_slide_and_nonce_resends_count() {
    // Times sliding windows of 400 ms and 1 s: alone.
    let _alone = crate::support::turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let client = reqwest::Client::new();
    let window = Duration::from_millis(400);
    fake.enforce_rate_limits(50, 2, window);

    // A de-duplicated resend returns the same message but takes a slot.
    let with_nonce = json!({ "content": "x", "nonce": "n1", "enforce_nonce": true });
    let (s1, _, first) = post_message(&client, &fake, 7, &with_nonce).await;
    let (s2, headers, second) = post_message(&client, &fake, 7, &with_nonce).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    assert_eq!(fake.deduplicated(), 1);
    let (status, _, body) = post_message(&client, &fake, 7, &json!({ "content": "y" })).await;
    assert_eq!(status, 429);
    let retry_after = body["retry_after"].as_f64().unwrap();
    assert!(retry_after > 0.0 && retry_after <= 0.4, "{retry_after}");

    // Waiting what the fake said frees a slot.
    tokio::time::sleep(Duration::from_secs_f64(retry_after)).await;
    let (status, headers, body) = post_message(&client, &fake, 7, &json!({ "content": "y" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "1");
    assert_eq!(fake.messages_in(7).len(), 2);
    assert_eq!(fake.rate_limited(), 1);

    // The global limit spans channels and says so.
    fake.enforce_rate_limits(3, 5, Duration::from_secs(5));
    for channel in 1..=3 {
        let (status, _, _) =
            post_message(&client, &fake, channel, &json!({ "content": "g" })).await;
        assert_eq!(status, 200);
    }
    let (status, headers, body) = post_message(&client, &fake, 4, &json!({ "content": "g" })).await;
    assert_eq!(status, 429);
    assert_eq!(body["global"], true);
    assert_eq!(header(&headers, "x-ratelimit-global"), "true");
    assert_eq!(header(&headers, "retry-after"), "1");
    let retry_after = body["retry_after"].as_f64().unwrap();
    assert!(retry_after > 0.0 && retry_after <= 1.0, "{retry_after}");
    tokio::time::sleep(Duration::from_secs_f64(retry_after)).await;
    assert_eq!(
        post_message(&client, &fake, 4, &json!({ "content": "g" }))
            .await
            .0,
        200
    );
    assert_eq!(fake.rate_limited(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_enforcement_handles_thousands_of_messages() {
    // A throughput figure: alone.
    let _alone = crate::support::turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    fake.enforce_rate_limits(100_000, 1_000, Duration::from_secs(5));
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..8u64)
        .map(|worker| {
            let (fake, client) = (fake.clone(), client.clone());
            tokio::spawn(async move {
                for i in 0..250u64 {
                    let channel = 1 + (worker * 250 + i) % 500;
                    let body = json!({ "content": format!("m{i}"), "nonce": format!("{worker}-{i}"), "enforce_nonce": true });
                    assert_eq!(post_message(&client, &fake, channel, &body).await.0, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("worker");
    }
    assert_eq!(fake.wait_messages(2000).await.len(), 2000);
    assert_eq!(fake.rate_limited(), 0);
    eprintln!("2000 rate-limited messages in {:?}", started.elapsed());
}

// ----- Seeded fault injection -----

/// What a raw client saw for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Status(u16),
    /// The connection closed without an answer.
    NoAnswer,
    /// Status and headers arrived, then the connection closed mid-body.
    Truncated(u16),
}

async fn post_outcome(client: &reqwest::Client, fake: &FakeDiscord, nonce: &str) -> Outcome {
    let body = json!({ "content": "hi", "nonce": nonce, "enforce_nonce": true });
    let sent = client
        .post(format!("{}/api/v10/channels/77/messages", fake.base_url()))
        .header("authorization", "Bot x")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            if status == 429 {
                assert!(response.headers().contains_key("retry-after"));
                let text = response.text().await.expect("429 body");
                let body: Value = serde_json::from_str(&text).expect("429 JSON");
                assert_eq!(body["retry_after"], json!(0.05), "{body}");
                return Outcome::Status(status);
            }
            match response.text().await {
                Ok(text) => {
                    assert!(
                        serde_json::from_str::<Value>(&text).is_ok(),
                        "a whole JSON body: {text}"
                    );
                    Outcome::Status(status)
                }
                Err(_) => Outcome::Truncated(status),
            }
        }
        Err(e) => {
            assert!(
                !e.is_timeout(),
                "a drop is an answerless close, not a hang: {e}"
            );
            Outcome::NoAnswer
        }
    }
}

fn every_fault(seed: u64) -> Faults {
    Faults {
        seed,
        rate_limit: 0.15,
        retry_after: Duration::from_millis(50),
        server_error: 0.15,
        drop: 0.1,
        drop_after: 0.1,
        error_after: 0.1,
        truncate_after: 0.1,
        slow: 0.1,
        slow_delay: Duration::from_millis(20),
        ..Faults::default()
    }
}

#[tokio::test]
async fn seeded_rest_faults_are_counted_and_replay_identically() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let fake = FakeDiscord::start().await;
        fake.inject_faults(every_fault(42));
        let client = reqwest::Client::new();
        let mut outcomes = Vec::new();
        for i in 0..80 {
            outcomes.push(post_outcome(&client, &fake, &format!("n{i}")).await);
        }
        let counts = fake.fault_counts();
        let seen = |o: &Outcome| outcomes.iter().filter(|x| *x == o).count();
        let server = [500, 502, 503]
            .map(|s| seen(&Outcome::Status(s)))
            .iter()
            .sum::<usize>();
        assert_eq!(
            counts.rate_limited,
            seen(&Outcome::Status(429)),
            "{counts:?}"
        );
        assert_eq!(
            counts.server_errors + counts.errors_after,
            server,
            "{counts:?}"
        );
        assert_eq!(
            counts.dropped + counts.dropped_after,
            seen(&Outcome::NoAnswer)
        );
        assert_eq!(
            counts.truncated,
            seen(&Outcome::Truncated(200)),
            "{counts:?}"
        );
        let routes: Vec<&String> = counts.by_route.keys().collect();
        assert_eq!(routes, vec!["channel message"], "{counts:?}");
        for kind in [
            counts.rate_limited,
            counts.server_errors,
            counts.dropped,
            counts.dropped_after,
            counts.errors_after,
            counts.truncated,
            counts.slow,
        ] {
            assert!(kind > 0, "80 requests hit every fault kind: {counts:?}");
        }
        // Faults "after" applied the request: those messages exist although nobody saw an answer.
        assert_eq!(
            fake.messages().len(),
            seen(&Outcome::Status(200))
                + counts.dropped_after
                + counts.errors_after
                + counts.truncated
        );
        // Without faults the stack answers normally again.
        fake.clear_faults();
        assert_eq!(
            post_outcome(&client, &fake, "clean").await,
            Outcome::Status(200)
        );
        runs.push(outcomes);
        fake.shutdown().await;
    }
    assert_eq!(runs[0], runs[1], "the same seed injects the same faults");
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_is_deduplicated_or_already_acknowledged() {
    let fake = FakeDiscord::start().await;
    let client = reqwest::Client::new();
    // Stored, then the connection is cut: the retry with the same nonce gets the first message.
    fake.inject_faults(Faults {
        drop_after: 1.0,
        ..Faults::default()
    });
    assert_eq!(
        post_outcome(&client, &fake, "once").await,
        Outcome::NoAnswer
    );
    fake.clear_faults();
    assert_eq!(
        fake.messages().len(),
        1,
        "the message was stored before the cut"
    );
    assert_eq!(
        post_outcome(&client, &fake, "once").await,
        Outcome::Status(200)
    );
    assert_eq!(fake.messages().len(), 1);
    assert_eq!(fake.deduplicated(), 1);

    // An interaction callback acknowledged, then answered 502/503: the retry gets 40060.
    fake.inject_faults(Faults {
        error_after: 1.0,
        ..Faults::default()
    });
    let callback = format!("{}/api/v10/interactions/123/tok/callback", fake.base_url());
    let first = json!({ "type": 4, "data": { "content": "first" } });
    let answer = client
        .post(&callback)
        .header("content-type", "application/json")
        .body(first.to_string())
        .send()
        .await
        .expect("callback");
    assert!([502, 503].contains(&answer.status().as_u16()), "{answer:?}");
    fake.clear_faults();
    let second = json!({ "type": 4, "data": { "content": "second" } });
    let answer = client
        .post(&callback)
        .header("content-type", "application/json")
        .body(second.to_string())
        .send()
        .await
        .expect("retry");
    assert_eq!(answer.status().as_u16(), 400);
    let body: Value =
        serde_json::from_str(&answer.text().await.expect("error body")).expect("error JSON");
    assert_eq!(body["code"], 40060, "{body}");
    assert_eq!(
        fake.try_response(123),
        Some(first),
        "the first answer stands"
    );
    assert_eq!(fake.fault_counts().errors_after, 1);
    assert_eq!(fake.fault_counts().dropped_after, 1);
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_closes_and_withheld_acks_make_serenity_reconnect() {
    let fake = FakeDiscord::start().await;
    fake.set_heartbeat_interval(Duration::from_millis(400));
    fake.accept_resumes(true);
    let (_http, client) = start_client(&fake).await;
    fake.wait_ready().await;

    // 1000 and 4000 keep the session: serenity resumes at once.
    fake.close_gateway(1000).await;
    fake.wait_ready().await;
    fake.close_gateway(4000).await;
    fake.wait_ready().await;
    assert_eq!((fake.resume_count(), fake.identify_count()), (2, 1));

    // A zombie connection: no ACK, no dispatch; serenity notices and identifies anew.
    assert!(fake.stop_acking());
    let (lost, ping) = slash(&Caller::member(1, 2, 3), &["ping"], vec![]);
    assert!(
        !fake.try_inject(ping).await,
        "no live session: nothing is sent"
    );
    // (4009, a timed-out session whose RESUME is refused, is exercised by the soak test in
    // tests/process/soak.rs.)
    fake.wait_identified(2).await;

    let (id, ping) = slash(&Caller::member(1, 2, 3), &["ping"], vec![]);
    assert!(fake.try_inject(ping).await);
    assert_eq!(fake.response(id).await["data"]["content"], "pong 3");
    assert_eq!(fake.delivered_interactions(), vec![id]);
    assert_eq!(fake.try_response(lost), None);
    let counts = fake.fault_counts();
    assert_eq!(
        counts
            .gateway_closes
            .clone()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![(1000, 1), (4000, 1)]
    );
    assert_eq!(counts.zombies, 1);
    assert!(counts.acks_withheld >= 1, "{counts:?}");
    client.stop().await;
}
