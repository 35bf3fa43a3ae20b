//! Checks the fake Discord server and the interaction builders against real serenity code, so
//! that tests built on them fail only for reasons that would also fail in production.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use serenity::all::{
    ActionRowComponent, Channel, ChannelId, ChannelType, ClientBuilder, Command,
    CommandDataOptionValue, CommandOptionType, ComponentInteractionDataKind, Context,
    CreateActionRow, CreateAutocompleteResponse, CreateCommand, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    CreateMessage, CreateModal, EditInteractionResponse, EventHandler, GatewayIntents, GuildId,
    HttpBuilder, InputTextStyle, Interaction, Nonce, ResolvedValue, ShardManager, UserId,
};
use serenity::http::Http;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::support::fake_discord::{
    FakeDiscord, Faults, APPLICATION_ID, BOT_USER_ID, DM_CHANNEL_BASE,
};
use crate::support::interactions::{
    autocomplete, button, button_on_message, command_id, modal_submit, slash, token_for, Caller,
    Opt, ADMINISTRATOR,
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

// ----- Direct messages -----

/// `POST /users/@me/channels` with `body`, seen raw.
async fn open_dm_raw(
    client: &reqwest::Client,
    fake: &FakeDiscord,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = client
        .post(format!("{}/api/v10/users/@me/channels", fake.base_url()))
        .header("authorization", "Bot x")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST /users/@me/channels");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("response body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Opens the DM with `user` and returns its channel id, asserting a 200.
async fn open_dm(client: &reqwest::Client, fake: &FakeDiscord, user: u64) -> u64 {
    let (status, _, body) =
        open_dm_raw(client, fake, &json!({ "recipient_id": user.to_string() })).await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("channel id").parse().unwrap()
}

/// The Discord error code of a serenity HTTP error, with its status.
fn discord_error<T: std::fmt::Debug>(result: serenity::Result<T>) -> (u16, isize) {
    match result {
        Err(serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(e))) => {
            (e.status_code.as_u16(), e.error.code)
        }
        other => panic!("expected a Discord error, got {other:?}"),
    }
}

#[tokio::test]
async fn dm_channels_open_once_per_user_and_take_messages() {
    let fake = FakeDiscord::start().await;
    let http = HttpBuilder::new(TOKEN)
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let alice = 31;
    let bob = 400_000_000_000_000_031; // Agrees with Alice modulo 10^12.

    // Through serenity: the answer is a PrivateChannel, the same one every time.
    let first = UserId::new(alice)
        .create_dm_channel(&http)
        .await
        .expect("open DM");
    let again = UserId::new(alice)
        .create_dm_channel(&http)
        .await
        .expect("reopen DM");
    assert_eq!(first.id, again.id);
    assert_eq!(first.kind, ChannelType::Private);
    assert_eq!(first.recipient.id.get(), alice);
    assert_eq!(first.id.get(), DM_CHANNEL_BASE + alice);
    assert_eq!(fake.dm_channel_of(alice), Some(first.id.get()));
    let bobs = UserId::new(bob)
        .create_dm_channel(&http)
        .await
        .expect("Bob");
    assert_ne!(bobs.id, first.id, "ids never collide");
    assert_eq!(fake.dm_channel_of(bob), Some(bobs.id.get()));
    assert_eq!(fake.dm_channel_of(99), None);

    // Raw: the shape Discord answers with; a numeric recipient_id is read too.
    let client = reqwest::Client::new();
    let (status, _, body) = open_dm_raw(&client, &fake, &json!({ "recipient_id": alice })).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], first.id.get().to_string());
    assert_eq!(body["type"], 1);
    assert_eq!(body["last_message_id"], Value::Null);
    assert_eq!(body["recipients"][0]["id"], alice.to_string());
    assert!(body.get("guild_id").is_none(), "{body}");

    // Messages in it: nonces de-duplicate, the body is validated, like any channel.
    let dm = first.id;
    let send = || {
        dm.send_message(
            &http,
            CreateMessage::new()
                .content("reminder")
                .nonce(Nonce::String("dm-1".into()))
                .enforce_nonce(true),
        )
    };
    let sent = send().await.expect("DM");
    assert_eq!(send().await.expect("resend").id, sent.id);
    assert_eq!(fake.deduplicated(), 1);
    assert_eq!(
        discord_error(
            http.send_message(dm, vec![], &json!({ "content": "x".repeat(2001) }))
                .await
        ),
        (400, 50035)
    );
    let messages = fake.dm_messages(alice);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body["content"], "reminder");
    assert_eq!(fake.wait_dm_messages(alice, 1).await[0].id, sent.id.get());
    assert!(fake.dm_messages(bob).is_empty());
    assert!(fake.dm_messages(99).is_empty());
    assert_eq!(fake.messages_in(dm.get()).len(), 1);

    // GET shows a DM channel: type 1, no guild, its recipient, its last message.
    let Channel::Private(got) = dm.to_channel(&http).await.expect("GET channel") else {
        panic!("expected a private channel")
    };
    assert_eq!(got.recipient.id.get(), alice);
    assert_eq!(got.last_message_id, Some(sent.id));
    let (status, _, body) = raw_request(&fake, "GET", &format!("/api/v10/channels/{dm}")).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, body["type"].clone()), (200, json!(1)));
    assert!(body.get("guild_id").is_none(), "{body}");

    // Bad bodies, and the bot itself, as Discord answers them.
    let (status, _, body) = open_dm_raw(&client, &fake, &json!({})).await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));
    assert!(body["errors"]["recipient_id"].is_object(), "{body}");
    let (status, _, body) = open_dm_raw(&client, &fake, &json!({ "recipient_id": "me" })).await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));
    assert_eq!(
        discord_error(UserId::new(BOT_USER_ID).create_dm_channel(&http).await),
        (400, 50007)
    );
    let opens: Vec<(u64, u16)> = fake.dm_opens().iter().map(|o| (o.0, o.2)).collect();
    assert_eq!(
        opens,
        vec![
            (alice, 200),
            (alice, 200),
            (bob, 200),
            (alice, 200),
            (0, 400),
            (0, 400),
            (BOT_USER_ID, 400)
        ]
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn users_refuse_dms_with_discords_codes() {
    let fake = FakeDiscord::start().await;
    let http = HttpBuilder::new(TOKEN)
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let client = reqwest::Client::new();
    let (closed, strangers, gone) = (41, 42, 43);

    // DMs off / bot blocked, and no mutual guild: the DM opens, a message in it is refused.
    for (user, code, message) in [
        (closed, 50007, "Cannot send messages to this user"),
        (
            strangers,
            50278,
            "Cannot send messages to this user due to having no mutual guilds",
        ),
    ] {
        fake.refuse_dms(user, code);
        let channel = open_dm(&client, &fake, user).await;
        let (status, _, body) =
            post_message(&client, &fake, channel, &json!({ "content": "hi" })).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body, json!({ "code": code, "message": message }));
        assert!(fake.dm_messages(user).is_empty());
    }
    let dm = UserId::new(closed)
        .create_dm_channel(&http)
        .await
        .expect("opens");
    assert_eq!(discord_error(dm.say(&http, "hi").await), (403, 50007));

    // An unknown user: the open itself is refused.
    fake.refuse_dms(gone, 10013);
    let (status, _, body) =
        open_dm_raw(&client, &fake, &json!({ "recipient_id": gone.to_string() })).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({ "code": 10013, "message": "Unknown User" }));
    assert_eq!(fake.dm_channel_of(gone), None);
    assert_eq!(
        discord_error(UserId::new(gone).create_dm_channel(&http).await),
        (404, 10013)
    );
    // A DM opened before the user went away refuses messages the same way.
    fake.refuse_dms(closed, 10013);
    let (status, _, body) =
        post_message(&client, &fake, dm.id.get(), &json!({ "content": "hi" })).await;
    assert_eq!((status, body["code"].clone()), (404, json!(10013)));

    // allow_dms undoes a refusal.
    fake.allow_dms(closed);
    dm.say(&http, "hi again").await.expect("allowed again");
    assert_eq!(fake.dm_messages(closed).len(), 1);
    fake.allow_dms(gone);
    assert!(open_dm(&client, &fake, gone).await > DM_CHANNEL_BASE);
    let statuses: Vec<u16> = fake.dm_opens().iter().map(|o| o.2).collect();
    assert_eq!(statuses, [200, 200, 200, 404, 404, 200]);
    fake.shutdown().await;
}

#[tokio::test]
async fn dm_opens_are_paced_like_discord() {
    // Times a sliding 500 ms window: alone.
    let _alone = crate::support::turns::exclusive().await;
    let fake = FakeDiscord::start().await;
    let client = reqwest::Client::new();
    // Off by default.
    for user in 1..=5 {
        open_dm(&client, &fake, user).await;
    }

    fake.limit_dm_opens_within(2, Duration::from_millis(500));
    open_dm(&client, &fake, 11).await;
    open_dm(&client, &fake, 11).await; // Re-opening an open DM takes a slot too.
    let (status, headers, body) =
        open_dm_raw(&client, &fake, &json!({ "recipient_id": "12" })).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], 40003);
    assert_eq!(body["message"], "You are opening direct messages too fast.");
    assert_eq!(body["global"], false);
    let retry_after = body["retry_after"].as_f64().expect("retry_after");
    assert!(retry_after > 0.0 && retry_after <= 0.5, "{retry_after}");
    assert_eq!(header(&headers, "retry-after"), "1");
    assert_eq!(fake.dm_channel_of(12), None, "a 429 opens nothing");

    // Waiting what the fake said frees a slot.
    tokio::time::sleep(Duration::from_secs_f64(retry_after)).await;
    open_dm(&client, &fake, 12).await;
    let opens = fake.dm_opens();
    let statuses: Vec<(u64, u16)> = opens.iter().map(|o| (o.0, o.2)).collect();
    assert_eq!(statuses[5..], [(11, 200), (11, 200), (12, 429), (12, 200)]);
    assert!(opens.windows(2).all(|w| w[0].1 <= w[1].1));

    // Per second, and off again.
    fake.limit_dm_opens(1);
    open_dm(&client, &fake, 13).await;
    let (status, headers, _) = open_dm_raw(&client, &fake, &json!({ "recipient_id": "14" })).await;
    assert_eq!((status, header(&headers, "retry-after")), (429, "1"));
    fake.clear_dm_open_limit();
    open_dm(&client, &fake, 14).await;
    fake.shutdown().await;
}

#[test]
fn dm_button_deserializes_without_guild_or_member() {
    let caller = Caller::dm(DM_CHANNEL_BASE + 30, 30);
    let (id, json) = button(&caller, "reminder:snooze", 99);
    assert!(json.get("guild_id").is_none() && json.get("member").is_none());
    assert_eq!(json["channel"]["type"], 1);
    assert_eq!(json["channel"]["recipients"][0]["id"], "30");
    let Interaction::Component(c) = parse(&json) else {
        panic!("expected Interaction::Component")
    };
    assert_eq!(c.id.get(), id);
    assert_eq!(c.guild_id, None);
    assert!(c.member.is_none());
    assert_eq!(c.user.id.get(), 30);
    assert_eq!(c.channel_id.get(), DM_CHANNEL_BASE + 30);
    assert_eq!(c.message.channel_id.get(), DM_CHANNEL_BASE + 30);
    assert_eq!(c.message.guild_id, None);
    assert!(matches!(c.data.kind, ComponentInteractionDataKind::Button));
}

// ----- Forms -----

#[test]
fn modal_submits_deserialize_in_guilds_and_dms() {
    let fields = [("title", "Ship it"), ("notes", "line 1\nline 2")];
    let message = crate::support::fake_discord::message_json(77, 20, &json!({ "content": "x" }));
    for (caller, message) in [
        (Caller::member(10, 20, 30), Some(message)),
        (Caller::member(10, 20, 30), None),
        (Caller::dm(DM_CHANNEL_BASE + 30, 30), None),
    ] {
        let from_message = message.is_some();
        let (id, json) = modal_submit(&caller, "task:edit:7", &fields, message);
        assert_eq!(json["type"], 5);
        let Interaction::Modal(m) = parse(&json) else {
            panic!("expected Interaction::Modal")
        };
        assert_eq!(m.id.get(), id);
        assert_eq!(m.token, token_for(id));
        assert_eq!(m.user.id.get(), 30);
        assert_eq!(m.guild_id.map(|g| g.get()), caller.guild_id);
        assert_eq!(m.member.is_some(), caller.guild_id.is_some());
        assert_eq!(
            m.message.as_ref().map(|msg| msg.id.get()),
            from_message.then_some(77)
        );
        assert_eq!(m.data.custom_id, "task:edit:7");
        let values: Vec<(String, Option<String>)> = m
            .data
            .components
            .iter()
            .map(|row| match &row.components[..] {
                [ActionRowComponent::InputText(input)] => {
                    (input.custom_id.clone(), input.value.clone())
                }
                other => panic!("one text input per row, got {other:?}"),
            })
            .collect();
        assert_eq!(
            values,
            vec![
                ("title".to_owned(), Some("Ship it".to_owned())),
                ("notes".to_owned(), Some("line 1\nline 2".to_owned())),
            ]
        );
    }
}

/// Answers interaction `id` with `body` through the raw callback route.
async fn callback(
    client: &reqwest::Client,
    fake: &FakeDiscord,
    id: u64,
    body: &Value,
) -> (u16, Value) {
    let response = client
        .post(format!(
            "{}/api/v10/interactions/{id}/{}/callback",
            fake.base_url(),
            token_for(id)
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("callback");
    let status = response.status().as_u16();
    let text = response.text().await.expect("callback body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A form with one short text input per `(custom_id, label)`.
fn form(rows: &[(&str, &str)]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(id, label)| {
            json!({ "type": 1, "components": [
                { "type": 4, "custom_id": id, "label": label, "style": 1 }
            ] })
        })
        .collect();
    json!({ "type": 9, "data": { "custom_id": "f", "title": "Edit", "components": rows } })
}

#[tokio::test]
async fn forms_follow_discords_rules() {
    let fake = FakeDiscord::start().await;
    let http = HttpBuilder::new(TOKEN)
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .application_id(APPLICATION_ID.into())
        .build();
    let client = reqwest::Client::new();
    let caller = Caller::member(1, 2, 3);
    // With no gateway session `try_inject` sends nothing but registers the interaction, so the
    // fake knows its type and token.
    let register = |json: Value| {
        let fake = fake.clone();
        async move { assert!(!fake.try_inject(json).await) }
    };

    // A form built by serenity is a valid first answer, and is recorded.
    let (id, json) = slash(&caller, &["task", "edit"], vec![]);
    register(json.clone()).await;
    let Interaction::Command(cmd) = parse(&json) else {
        unreachable!()
    };
    let modal = CreateModal::new("task:edit:7", "Edit task").components(vec![
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Short, "Title", "title")
                .value("Ship it")
                .max_length(100),
        ),
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Paragraph, "Notes", "notes")
                .required(false)
                .placeholder("Anything else?"),
        ),
    ]);
    cmd.create_response(&http, CreateInteractionResponse::Modal(modal))
        .await
        .expect("form accepted");
    let shown = fake.form_for(id).expect("form recorded");
    assert_eq!(shown["custom_id"], "task:edit:7");
    assert_eq!(
        shown["components"][1]["components"][0]["custom_id"],
        "notes"
    );
    assert_eq!(fake.try_response(id).expect("callback")["type"], 9);
    let (status, body) = callback(&client, &fake, id, &form(&[("a", "A")])).await;
    assert_eq!((status, body["code"].clone()), (400, json!(40060)));

    // Only as the first answer: not after a deferral or a message.
    for first in [
        json!({ "type": 5 }),
        json!({ "type": 4, "data": { "content": "hi" } }),
    ] {
        let (id, json) = slash(&caller, &["task", "edit"], vec![]);
        register(json).await;
        assert_eq!(callback(&client, &fake, id, &first).await.0, 204);
        let (status, body) = callback(&client, &fake, id, &form(&[("a", "A")])).await;
        assert_eq!(
            (status, body["code"].clone()),
            (400, json!(40060)),
            "{body}"
        );
        assert_eq!(fake.form_for(id), None);
    }

    // Never for an autocomplete or a submitted form.
    let (ac, json) = autocomplete(&caller, &["task", "done"], vec![], "task");
    register(json).await;
    let (submitted, json) = modal_submit(&caller, "f", &[("a", "x")], None);
    register(json).await;
    for id in [ac, submitted] {
        let (status, body) = callback(&client, &fake, id, &form(&[("a", "A")])).await;
        assert_eq!(
            (status, body["code"].clone()),
            (400, json!(50035)),
            "{body}"
        );
        assert!(body["errors"]["type"].is_object(), "{body}");
    }
    // A submitted form from a command has no message to update; one from a button has.
    let update = json!({ "type": 7, "data": { "content": "saved" } });
    let (status, body) = callback(&client, &fake, submitted, &update).await;
    assert_eq!((status, body["code"].clone()), (404, json!(10008)));
    let on_message = crate::support::fake_discord::message_json(55, 2, &json!({ "content": "x" }));
    let (from_button, json) = modal_submit(&caller, "f", &[("a", "x")], Some(on_message));
    register(json).await;
    assert_eq!(callback(&client, &fake, from_button, &update).await.0, 204);
    assert_eq!(fake.message(55).expect("updated")["content"], "saved");

    // Discord's limits, each refused with a 400 naming the field, recording nothing.
    let (id, json) = slash(&caller, &["task", "edit"], vec![]);
    register(json).await;
    let six: Vec<(String, &str)> = (0..6).map(|i| (format!("f{i}"), "Field")).collect();
    let six: Vec<(&str, &str)> = six.iter().map(|(id, l)| (id.as_str(), *l)).collect();
    let input = |change: &dyn Fn(&mut Value)| {
        let mut body = form(&[("a", "A")]);
        change(&mut body["data"]["components"][0]["components"][0]);
        body
    };
    let long = |n: usize| json!("x".repeat(n));
    let two_in_a_row = {
        let mut body = form(&[("a", "A"), ("b", "B")]);
        let second = body["data"]["components"][1]["components"][0].clone();
        body["data"]["components"][0]["components"]
            .as_array_mut()
            .unwrap()
            .push(second);
        body
    };
    let refused = [
        ("data.components", form(&six)),
        ("data.components", form(&[])),
        ("data.components.0.components", two_in_a_row),
        ("data.title", {
            let mut body = form(&[("a", "A")]);
            body["data"]["title"] = long(46);
            body
        }),
        ("data.custom_id", {
            let mut body = form(&[("a", "A")]);
            body["data"]["custom_id"] = long(101);
            body
        }),
        (
            "data.components.1.components.0.custom_id",
            form(&[("a", "A"), ("a", "B")]),
        ),
        (
            "data.components.0.components.0.type",
            input(&|i| i["type"] = json!(2)),
        ),
        (
            "data.components.0.components.0.custom_id",
            input(&|i| i["custom_id"] = long(101)),
        ),
        (
            "data.components.0.components.0.label",
            input(&|i| i["label"] = long(46)),
        ),
        (
            "data.components.0.components.0.style",
            input(&|i| i["style"] = json!(3)),
        ),
        (
            "data.components.0.components.0.min_length",
            input(&|i| i["min_length"] = json!(4001)),
        ),
        (
            "data.components.0.components.0.max_length",
            input(&|i| i["max_length"] = json!(0)),
        ),
        (
            "data.components.0.components.0.max_length",
            input(&|i| i["max_length"] = json!(4001)),
        ),
        (
            "data.components.0.components.0.value",
            input(&|i| {
                i["max_length"] = json!(5);
                i["value"] = long(6);
            }),
        ),
        (
            "data.components.0.components.0.placeholder",
            input(&|i| i["placeholder"] = long(101)),
        ),
    ];
    for (path, body) in refused {
        let (status, answer) = callback(&client, &fake, id, &body).await;
        assert_eq!(
            (status, answer["code"].clone()),
            (400, json!(50035)),
            "{path}: {answer}"
        );
        let mut errors = &answer["errors"];
        for seg in path.split('.') {
            errors = &errors[seg];
        }
        assert!(errors["_errors"].is_array(), "{path}: {answer}");
    }
    assert_eq!(fake.try_response(id), None, "refused forms record nothing");
    // Limits reached exactly are fine.
    let full = input(&|i| {
        i["label"] = long(45);
        i["custom_id"] = long(100);
        i["min_length"] = json!(0);
        i["max_length"] = json!(4000);
        i["value"] = long(4000);
        i["placeholder"] = long(100);
        i["style"] = json!(2);
    });
    assert_eq!(callback(&client, &fake, id, &full).await.0, 204);
    assert_eq!(fake.form_for(id), Some(full["data"].clone()));
    fake.shutdown().await;
}
