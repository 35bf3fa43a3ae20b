//! Process roles (README "Several processes"): `web` answers the Interactions Endpoint with no
//! gateway connection, `worker` sends duties with no gateway connection, and `web` without its
//! settings refuses to start.

use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;

use coordinator::clock::ManualClock;
use coordinator::{Role, StartOptions};

use crate::support::bot::*;
use crate::support::fake_discord::FakeDiscord;
use crate::support::interactions::{s, slash};

async fn start(
    fake: &FakeDiscord,
    dir: &std::path::Path,
    role: Role,
    key: Option<&SigningKey>,
) -> coordinator::Running {
    let url = crate::support::database::url_for_test(dir).await;
    let mut settings = bot_settings(fake, url);
    settings.http.listen = Some(([127, 0, 0, 1], 0).into());
    settings.discord.public_key = key.map(|k| hex::encode(k.verifying_key().to_bytes()));
    coordinator::start_with(
        &settings,
        Arc::new(ManualClock::new(start_time())),
        StartOptions {
            background_worker: true,
            role,
            ..Default::default()
        },
    )
    .await
    .expect("starts")
}

#[tokio::test]
async fn a_web_process_answers_signed_interactions_without_a_gateway_connection() {
    let _turn = crate::support::turns::shared().await;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let key = SigningKey::from_bytes(&[9; 32]);
    let web = start(&fake, dir.path(), Role::Web, Some(&key)).await;
    let addr = web.http_addr().expect("listener");
    let (_, create) = slash(
        &member(ALICE),
        &["task", "create"],
        vec![s("title", "via web")],
    );
    let body = create.to_string();
    let timestamp = start_time().timestamp().to_string();
    let signature = hex::encode(key.sign(format!("{timestamp}{body}").as_bytes()).to_bytes());
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/interactions"))
        .header("x-signature-ed25519", signature)
        .header("x-signature-timestamp", timestamp)
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value =
        serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or_default();
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("#1 via web"),
        "{answer}"
    );
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(
        health.status().as_u16(),
        200,
        "no gateway to be healthy about"
    );
    assert_eq!(
        fake.identify_count(),
        0,
        "a web process never connects to the gateway"
    );
    web.shutdown().await;
}

#[tokio::test]
async fn a_worker_process_sends_duties_without_a_gateway_connection() {
    let _turn = crate::support::turns::shared().await;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let worker = start(&fake, dir.path(), Role::Worker, None).await;
    let db = &worker.app.db;
    db.create_task(
        &coordinator::store::NewTask {
            guild_id: GUILD.into(),
            title: "Worker-only duty".into(),
            description: None,
            priority: Default::default(),
            project: None,
            assignee_id: Some(ALICE.into()),
            creator_id: ALICE.into(),
            channel_id: CHANNEL.into(),
            due_at: Some(start_time() - chrono::Duration::minutes(1)),
            repeat: None,
        },
        start_time() - chrono::Duration::hours(1),
    )
    .await
    .expect("task");
    fake.wait_until("the overdue alert", |f| {
        f.messages()
            .iter()
            .any(|m| {
                m.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Worker-only duty")
            })
            .then_some(())
    })
    .await;
    assert_eq!(
        fake.identify_count(),
        0,
        "a worker process never connects to the gateway"
    );
    worker.shutdown().await;
}

#[tokio::test]
async fn a_web_process_without_a_public_key_refuses_to_start() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let url = crate::support::database::url_for_test(dir.path()).await;
    let settings = bot_settings(&fake, url);
    let started = coordinator::start_with(
        &settings,
        Arc::new(ManualClock::new(start_time())),
        StartOptions {
            background_worker: false,
            role: Role::Web,
            ..Default::default()
        },
    )
    .await;
    let Err(error) = started else {
        panic!("a web process needs http.listen and discord.public_key");
    };
    assert!(error.to_string().contains("discord.public_key"), "{error}");
}
