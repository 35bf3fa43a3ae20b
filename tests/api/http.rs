//! The optional HTTP listener, through a real HTTP client: `/healthz` names the failing check,
//! `/metrics` is OpenMetrics text whose counters follow commands, duties and reconnects, and
//! nothing listens unless `http.listen` is set.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::bot::*;
use crate::support::fake_discord::FakeDiscord;
use crate::support::interactions::Opt;
use crate::support::logs::{self, Captured, Format};
use crate::support::wait::eventually;

/// A channel the fake refuses with 403.
const DEAD_CHANNEL: u64 = 333_000_000_000_000_099;
/// Generous: polls end as soon as the value is there.
const WAIT_LIMIT: StdDuration = StdDuration::from_secs(20);

async fn http_bot() -> (TestBot, String) {
    let bot = TestBot::start_with_settings(false, |settings| {
        settings.http.listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let addr = bot
        .running
        .as_ref()
        .expect("bot running")
        .http_addr()
        .expect("listener on");
    assert_ne!(addr.port(), 0, "port 0 resolves to a real port");
    let base = format!("http://{addr}");
    // The fake has sent READY; the bot marks the shard connected once it has read it.
    wait_for(
        &format!("{base}/healthz"),
        "a healthy start",
        |status, _| status == 200,
    )
    .await;
    (bot, base)
}

async fn get(url: &str) -> (u16, Option<String>, String) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    (
        status,
        content_type,
        response.text().await.expect("body text"),
    )
}

/// Polls `url` until `check` accepts the (status, body), within [`WAIT_LIMIT`].
async fn wait_for(url: &str, what: &str, check: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let check = &check;
    eventually(what, WAIT_LIMIT, || async move {
        let (status, _, body) = get(url).await;
        if check(status, &body) {
            Ok((status, body))
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await
}

/// Every sample of the exposition, by series (`name{labels}`); checks the format as it goes.
fn samples(text: &str) -> HashMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample without a value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        assert!(
            out.insert(series.to_string(), value).is_none(),
            "series twice: {series}"
        );
    }
    out
}

fn sample(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

async fn metrics(base: &str) -> HashMap<String, f64> {
    let (status, content_type, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    samples(&body)
}

/// The `fields` of every event this test's bot logged (as JSON lines, at INFO and above)
/// whose message is `message`.
fn events(logs: &Captured, message: &str) -> Vec<Value> {
    let text = logs.text();
    assert!(!text.contains(TOKEN), "the token was logged");
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON log line"))
        .map(|event| event["fields"].clone())
        .filter(|fields| fields["message"] == message)
        .collect()
}

fn due(value: &str) -> Opt {
    Opt::Str("due", value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_commands_duties_and_reconnects() {
    let logs = logs::capture(Format::Json, "info", false);
    let (bot, base) = http_bot().await;
    let (_, _, text) = get(&format!("{base}/metrics")).await;
    for family in [
        "# TYPE coordinator_commands counter",
        "# TYPE coordinator_command_latency_seconds histogram",
        "# TYPE coordinator_duties counter",
        "# TYPE coordinator_duties_late counter",
        "# TYPE coordinator_duty_lateness_seconds histogram",
        "# TYPE coordinator_gateway_reconnects counter",
        "# TYPE coordinator_gateway_connected gauge",
        "# TYPE coordinator_worker_step_failures counter",
    ] {
        assert!(text.contains(family), "{family} missing from:\n{text}");
    }
    let before = samples(&text);
    assert_eq!(sample(&before, "coordinator_gateway_connected"), 1.0);
    assert_eq!(sample(&before, "coordinator_gateway_reconnects_total"), 0.0);

    // Three tasks made (one in a channel the bot may not post in), one command refused.
    let on_time = bot
        .create_task(&member(ALICE), "reminded late", vec![due("in 2h")])
        .await;
    bot.create_task(
        &member(ALICE).in_channel(DEAD_CHANNEL),
        "nowhere",
        vec![due("in 2h")],
    )
    .await;
    let later = bot
        .create_task(&member(ALICE), "reminded on time", vec![due("in 3h")])
        .await;
    let refused = bot
        .run(&member(BOB), &["task", "show"], vec![Opt::Int("task", 999)])
        .await;
    assert_private_error(&refused, "999");

    let m = metrics(&base).await;
    let create_ok = r#"coordinator_commands_total{command="task",sub="create",outcome="ok"}"#;
    let show_refused = r#"coordinator_commands_total{command="task",sub="show",outcome="refused"}"#;
    assert_eq!(sample(&m, create_ok), 3.0);
    assert_eq!(sample(&m, show_refused), 1.0);
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("coordinator_commands_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 4.0, "{m:?}");
    // Latency is recorded once the answer has gone out, just after the fake saw it.
    let create_count =
        r#"coordinator_command_latency_seconds_count{command="task",sub="create"}"#.to_string();
    wait_for(
        &format!("{base}/metrics"),
        "3 create latencies",
        |_, body| sample(&samples(body), &create_count) == 3.0,
    )
    .await;

    // 1h05: the first reminder goes out five minutes late; the dead channel's one fails (403).
    bot.fake.fail_channel(DEAD_CHANNEL, 403);
    let outcome = bot.step_at(hours(1) + Duration::minutes(5)).await;
    assert_eq!((outcome.claimed, outcome.sent, outcome.failed), (2, 1, 1));
    // 2h00: the first task's overdue alert and the third's reminder share one on-time message;
    // the dead channel's overdue alert fails too.
    let outcome = bot.step_at(hours(2)).await;
    assert_eq!((outcome.sent, outcome.failed), (1, 1), "{outcome:?}");
    let shared = bot.posted_with(&format!("#{later}"));
    assert_eq!(shared.len(), 1);
    assert!(
        shared[0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("#{on_time}")),
        "{shared:?}"
    );

    let m = metrics(&base).await;
    let duty = |kind: &str, outcome: &str| {
        sample(
            &m,
            &format!(r#"coordinator_duties_total{{kind="{kind}",outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(duty("reminder", "sent"), 2.0);
    assert_eq!(duty("overdue", "sent"), 1.0);
    assert_eq!(duty("reminder", "failed"), 1.0);
    assert_eq!(duty("overdue", "failed"), 1.0);
    assert_eq!(duty("reminder", "retrying"), 0.0);
    assert_eq!(
        sample(&m, r#"coordinator_duties_late_total{kind="reminder"}"#),
        1.0
    );
    assert_eq!(
        sample(&m, r#"coordinator_duties_late_total{kind="overdue"}"#),
        0.0
    );
    let lateness = |kind: &str, what: &str| {
        sample(
            &m,
            &format!(r#"coordinator_duty_lateness_seconds_{what}{{kind="{kind}"}}"#),
        )
    };
    assert_eq!(lateness("reminder", "count"), 2.0);
    assert_eq!(lateness("reminder", "sum"), 300.0);
    assert_eq!(lateness("overdue", "count"), 1.0);
    assert_eq!(lateness("overdue", "sum"), 0.0);
    // 300 s lies above the 60 s bucket and within the 300 s one.
    assert_eq!(
        sample(
            &m,
            r#"coordinator_duty_lateness_seconds_bucket{le="60.0",kind="reminder"}"#
        ),
        1.0,
        "{m:?}"
    );

    // Each command and each message of duties logged once, with guild, task and outcome.
    let commands = events(&logs, "command");
    let show: Vec<_> = commands
        .iter()
        .filter(|c| c["command"] == "task show")
        .collect();
    assert_eq!(show.len(), 1, "{commands:?}");
    assert_eq!(
        (
            &show[0]["guild"],
            &show[0]["user"],
            &show[0]["task"],
            &show[0]["outcome"],
            &show[0]["error_class"]
        ),
        (
            &json!(GUILD),
            &json!(BOB),
            &json!(999),
            &json!("refused"),
            &json!("not_found")
        )
    );
    let mut created: Vec<i64> = commands
        .iter()
        .filter(|c| c["command"] == "task create" && c["outcome"] == "ok" && c["guild"] == GUILD)
        .filter_map(|c| c["task"].as_i64())
        .collect();
    created.sort_unstable();
    assert_eq!(
        created,
        [1, 2, 3],
        "each create names its new task: {commands:?}"
    );
    let duties = events(&logs, "duty");
    let line = |outcome: &str, tasks: &str| {
        duties
            .iter()
            .filter(|d| d["outcome"] == outcome && d["tasks"] == tasks && d["guild"] == GUILD)
            .cloned()
            .collect::<Vec<_>>()
    };
    let late = line("sent", &format!("#{on_time}"));
    assert_eq!(late.len(), 1, "{duties:?}");
    assert_eq!(
        (&late[0]["kind"], &late[0]["late_ms"]),
        (&json!("reminder"), &json!(300_000))
    );
    assert_eq!(late[0]["channel"], CHANNEL);
    let failed: Vec<_> = duties
        .iter()
        .filter(|d| d["outcome"] == "failed" && d["channel"] == DEAD_CHANNEL)
        .collect();
    assert_eq!(failed.len(), 2, "{duties:?}");
    assert!(failed.iter().all(|d| d["status"] == 403), "{failed:?}");
    let shared_line = line("sent", &format!("#{on_time},#{later}"));
    let shared_line = if shared_line.is_empty() {
        line("sent", &format!("#{later},#{on_time}"))
    } else {
        shared_line
    };
    assert_eq!(shared_line.len(), 1, "{duties:?}");
    assert_eq!(shared_line[0]["late_ms"], 0);
    let kinds = shared_line[0]["kind"].as_str().unwrap_or_default();
    assert!(
        kinds == "overdue,reminder" || kinds == "reminder,overdue",
        "{kinds}"
    );

    // One reconnect (a resumed session).
    bot.fake.accept_resumes(true);
    bot.fake.close_gateway(4000).await;
    let reconnected = |_: u16, body: &str| {
        let m = samples(body);
        sample(&m, "coordinator_gateway_reconnects_total") == 1.0
            && sample(&m, "coordinator_gateway_connected") == 1.0
    };
    wait_for(&format!("{base}/metrics"), "one reconnect", reconnected).await;
    assert_eq!(bot.fake.resume_count(), 1);
    let (status, body) = wait_for(&format!("{base}/healthz"), "healthy", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_names_the_database_then_the_gateway() {
    let (mut bot, base) = http_bot().await;
    let healthz = format!("{base}/healthz");
    let (status, _, body) = get(&healthz).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    bot.app().db.close().await;
    let (status, _, body) = get(&healthz).await;
    assert_eq!(
        (status, body.as_str()),
        (503, "database unreachable\n"),
        "the gateway is still up"
    );

    // Discord goes away altogether: the bot cannot reconnect.
    let fake = std::mem::replace(&mut bot.fake, FakeDiscord::start().await);
    fake.shutdown().await;
    let (status, body) = wait_for(&healthz, "the gateway to be reported down", |_, body| {
        body.contains("gateway")
    })
    .await;
    assert_eq!(
        (status, body.as_str()),
        (503, "gateway disconnected\ndatabase unreachable\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_alone_down_is_named_alone() {
    let (mut bot, base) = http_bot().await;
    let healthz = format!("{base}/healthz");
    let fake = std::mem::replace(&mut bot.fake, FakeDiscord::start().await);
    fake.shutdown().await;
    let (status, body) =
        wait_for(&healthz, "the gateway to be reported down", |s, _| s == 503).await;
    assert_eq!((status, body.as_str()), (503, "gateway disconnected\n"));
}

#[tokio::test]
async fn nothing_listens_by_default() {
    let bot = TestBot::start().await;
    let running = bot.running.as_ref().expect("bot running");
    assert_eq!(running.http_addr(), None);
    assert_eq!(bot.app().public_url, None);
    assert!(bot.settings.http.listen.is_none());
}
