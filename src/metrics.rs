//! Prometheus metrics (served on `/metrics`) and the gateway's health (for `/healthz`).
//!
//! Recording is a hash lookup on `&'static str` labels and an atomic add (histograms take a
//! short uncontended lock), so the command and duty hot paths barely notice it. Label values
//! come only from fixed tables (the command schema, the duty kinds), never from user input,
//! so the number of series stays bounded.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serenity::gateway::{ConnectionStage, ShardManager};

use crate::domain::task::TaskNumber;
use crate::store::{OutboxKind, OutboxRow};

/// A duty sent more than this after its due instant counts as late (in `duties_late_total`);
/// the same minute after which its message says when it should have arrived.
pub const LATE_AFTER_SECS: f64 = 60.0;

/// Command latency buckets, in seconds: a local round trip is milliseconds; Discord's
/// deadline is 3 s, and commands still working at 2 s are deferred.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0,
];
/// Duty lateness buckets, in seconds: on time is under a second; a restart or an outage
/// makes minutes or hours.
const LATENESS_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3_600.0, 21_600.0, 86_400.0,
];

/// A command, as `/task create` is `command="task", sub="create"` (`sub=""` for `/timezone`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: &'static str,
    sub: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandOutcomeLabels {
    command: &'static str,
    sub: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DutyLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabels {
    role: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn lateness_histogram() -> Histogram {
    Histogram::new(LATENESS_BUCKETS)
}

/// What a command or button came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOutcome {
    Ok,
    /// The user's mistake or a permission refusal: answered with an explanation.
    Refused,
    /// Our fault (the database): answered with an apology.
    Error,
}

impl CommandOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandOutcome::Ok => "ok",
            CommandOutcome::Refused => "refused",
            CommandOutcome::Error => "error",
        }
    }
}

/// What became of a message carrying duties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutyOutcome {
    Sent,
    /// Refused for good (403/404): not retried.
    Failed,
    /// Not delivered this time; tried again later.
    Retrying,
}

impl DutyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DutyOutcome::Sent => "sent",
            DutyOutcome::Failed => "failed",
            DutyOutcome::Retrying => "retrying",
        }
    }
}

/// Every metric the bot exports, and the gateway's connection state.
pub struct Metrics {
    registry: Registry,
    commands: Family<CommandOutcomeLabels, Counter>,
    command_latency: HistogramFamily<CommandLabels>,
    duties: Family<DutyLabels, Counter>,
    duties_late: Family<KindLabels, Counter>,
    duty_lateness: HistogramFamily<KindLabels>,
    gateway_sessions: Counter,
    gateway_reconnects: Counter,
    gateway_connected: Gauge,
    worker_step_failures: Counter,
    worker_steps: Counter,
    roles: Family<RoleLabels, Gauge>,
    partitions_held: Gauge,
    shards: OnceLock<Arc<ShardManager>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coordinator");
        let commands = Family::<CommandOutcomeLabels, Counter>::default();
        registry.register(
            "commands",
            "Slash commands and buttons handled, by command, subcommand and outcome (ok, refused, error)",
            commands.clone(),
        );
        let command_latency: HistogramFamily<CommandLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "command_latency_seconds",
            "From an interaction's arrival to its answer being sent, by command and subcommand",
            command_latency.clone(),
        );
        let duties = Family::<DutyLabels, Counter>::default();
        registry.register(
            "duties",
            "Duties delivered, by kind (reminder, overdue, escalation, standup, edit, message) and outcome (sent, failed, retrying)",
            duties.clone(),
        );
        let duties_late = Family::<KindLabels, Counter>::default();
        registry.register(
            "duties_late",
            "Duties sent more than 60 seconds after they fell due, by kind",
            duties_late.clone(),
        );
        let duty_lateness: HistogramFamily<KindLabels> =
            Family::new_with_constructor(lateness_histogram);
        registry.register(
            "duty_lateness_seconds",
            "Sent time minus due time of each duty sent, by kind",
            duty_lateness.clone(),
        );
        let gateway_reconnects = Counter::default();
        registry.register(
            "gateway_reconnects",
            "Gateway sessions established (READY or RESUMED) after the first",
            gateway_reconnects.clone(),
        );
        let gateway_connected = Gauge::default();
        registry.register(
            "gateway_connected",
            "1 when every gateway shard is connected, 0 otherwise (read at scrape time)",
            gateway_connected.clone(),
        );
        let worker_steps = Counter::default();
        registry.register(
            "worker_steps",
            "Duties worker steps completed (each reads what is due, claims and sends it)",
            worker_steps.clone(),
        );
        let worker_step_failures = Counter::default();
        registry.register(
            "worker_step_failures",
            "Duties worker steps that failed (database busy, read-only or full) and were retried",
            worker_step_failures.clone(),
        );
        let roles = Family::<RoleLabels, Gauge>::default();
        registry.register(
            "role",
            "1 for each part this process runs: gateway, web (the Interactions Endpoint), worker",
            roles.clone(),
        );
        let partitions_held = Gauge::default();
        registry.register(
            "partitions_held",
            "Guild partitions whose duties this process's worker runs (all 256 on SQLite)",
            partitions_held.clone(),
        );
        Self {
            roles,
            partitions_held,
            registry,
            commands,
            command_latency,
            duties,
            duties_late,
            duty_lateness,
            gateway_sessions: Counter::default(),
            gateway_reconnects,
            gateway_connected,
            worker_step_failures,
            worker_steps,
            shards: OnceLock::new(),
        }
    }

    /// Counts a handled command or button.
    pub fn command(&self, (command, sub): (&'static str, &'static str), outcome: CommandOutcome) {
        self.commands
            .get_or_create(&CommandOutcomeLabels {
                command,
                sub,
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Records the time from an interaction's arrival to its answer.
    pub fn command_latency(
        &self,
        (command, sub): (&'static str, &'static str),
        elapsed: std::time::Duration,
    ) {
        self.command_latency
            .get_or_create(&CommandLabels { command, sub })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one duty's delivery; a sent duty also records its lateness (in seconds).
    pub fn duty(&self, kind: &'static str, outcome: DutyOutcome, lateness_secs: f64) {
        self.duties
            .get_or_create(&DutyLabels {
                kind,
                outcome: outcome.as_str(),
            })
            .inc();
        if outcome == DutyOutcome::Sent {
            let labels = KindLabels { kind };
            // Clock skew can make a duty "early"; it is on time.
            self.duty_lateness
                .get_or_create(&labels)
                .observe(lateness_secs.max(0.0));
            if lateness_secs > LATE_AFTER_SECS {
                self.duties_late.get_or_create(&labels).inc();
            }
        }
    }

    /// A duties worker step completed.
    pub fn worker_step_done(&self) {
        self.worker_steps.inc();
    }

    /// How many duties worker steps have completed so far.
    pub fn worker_steps(&self) -> u64 {
        self.worker_steps.get()
    }

    /// A duties worker step failed; the worker retries shortly.
    pub fn worker_step_failed(&self) {
        self.worker_step_failures.inc();
    }

    /// How many duties worker steps have failed so far.
    pub fn worker_step_failures(&self) -> u64 {
        self.worker_step_failures.get()
    }

    /// A gateway session started (READY or RESUMED); every one after the first is a reconnect.
    pub fn gateway_session(&self) {
        if self.gateway_sessions.inc() > 0 {
            self.gateway_reconnects.inc();
        }
    }

    /// Marks one part this process runs (`gateway`, `web`, `worker`).
    pub fn runs(&self, role: &'static str) {
        self.roles.get_or_create(&RoleLabels { role }).set(1);
    }

    /// How many partitions this process's worker holds, set at scrape time.
    pub fn set_partitions_held(&self, held: usize) {
        self.partitions_held
            .set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// Lets health checks see the shards' connection stages.
    pub fn attach_gateway(&self, shards: Arc<ShardManager>) {
        let _ = self.shards.set(shards);
    }

    /// Whether every shard is connected. A shard being restarted is absent from the manager, so
    /// an empty manager (or none attached) is not connected.
    pub async fn gateway_connected(&self) -> bool {
        let Some(shards) = self.shards.get() else {
            return false;
        };
        let runners = shards.runners.lock().await;
        !runners.is_empty()
            && runners
                .values()
                .all(|runner| runner.stage == ConnectionStage::Connected)
    }

    /// The exposition in OpenMetrics text format (see [`CONTENT_TYPE`]).
    pub async fn encode(&self) -> Result<String, std::fmt::Error> {
        self.gateway_connected
            .set(i64::from(self.gateway_connected().await));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// What `prometheus_client`'s text encoder produces (it ends with `# EOF`).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One duty in an outbox message: its kind and task number (none for summaries and edits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DutyItem {
    pub kind: &'static str,
    pub task: Option<i64>,
}

/// The duties an outbox message carries: the claims stored with it (kind, task number), or,
/// for a message without claims, what it is (a standup summary, or an edit disabling buttons
/// of a message already counted).
pub fn duties_in(row: &OutboxRow, claims: &[(String, TaskNumber)]) -> Vec<DutyItem> {
    if matches!(row.kind, OutboxKind::Edit { .. }) {
        return vec![DutyItem {
            kind: "edit",
            task: None,
        }];
    }
    if claims.is_empty() {
        return vec![DutyItem {
            kind: "standup",
            task: None,
        }];
    }
    claims
        .iter()
        .map(|(kind, task)| DutyItem {
            kind: duty_kind_label(kind),
            task: Some(task.0),
        })
        .collect()
}

/// Label values must come from a fixed set, whatever the database holds.
fn duty_kind_label(kind: &str) -> &'static str {
    match kind {
        "reminder" => "reminder",
        "overdue" => "overdue",
        "escalation" => "escalation",
        _ => "other",
    }
}

/// `#3,#4` for logs.
pub fn task_list(items: &[DutyItem]) -> String {
    let mut out = String::new();
    for task in items.iter().filter_map(|item| item.task) {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "#{task}");
    }
    out
}

/// `reminder,overdue` for logs: each kind once, in order.
pub fn kind_list(items: &[DutyItem]) -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for item in items {
        if !kinds.contains(&item.kind) {
            kinds.push(item.kind);
        }
    }
    kinds.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: OutboxKind, body: serde_json::Value) -> OutboxRow {
        OutboxRow {
            dm_user_id: None,
            id: 1,
            guild_id: crate::domain::ids::GuildId::new(1),
            channel_id: crate::domain::ids::ChannelId::new(2),
            kind,
            body: body.to_string(),
            due_at: chrono::DateTime::UNIX_EPOCH,
            attempts: 0,
        }
    }

    fn claims(list: &[(&str, i64)]) -> Vec<(String, TaskNumber)> {
        list.iter()
            .map(|(k, n)| (k.to_string(), TaskNumber(*n)))
            .collect()
    }

    #[test]
    fn duty_messages_count_each_claim_they_carry() {
        let post = row(OutboxKind::Post, serde_json::json!({ "content": "…" }));
        let items = duties_in(
            &post,
            &claims(&[("reminder", 3), ("overdue", 4), ("escalation", 9)]),
        );
        let kinds: Vec<_> = items.iter().map(|i| (i.kind, i.task)).collect();
        assert_eq!(
            kinds,
            [
                ("reminder", Some(3)),
                ("overdue", Some(4)),
                ("escalation", Some(9))
            ]
        );
        assert_eq!(task_list(&items), "#3,#4,#9");
        assert_eq!(kind_list(&items), "reminder,overdue,escalation");
        assert_eq!(duties_in(&post, &claims(&[("weird", 1)]))[0].kind, "other");
    }

    #[test]
    fn summaries_and_edits_are_one_item_each() {
        let summary = row(
            OutboxKind::Post,
            serde_json::json!({ "embeds": [{ "title": "Daily standup" }] }),
        );
        assert_eq!(duties_in(&summary, &[])[0].kind, "standup");
        let edit = row(OutboxKind::Edit { message_id: 5 }, serde_json::json!({}));
        assert_eq!(
            duties_in(&edit, &claims(&[("reminder", 3)])),
            [DutyItem {
                kind: "edit",
                task: None
            }]
        );
    }

    #[test]
    fn late_means_over_a_minute_and_reconnects_skip_the_first_session() {
        let metrics = Metrics::new();
        metrics.duty("reminder", DutyOutcome::Sent, 60.0);
        metrics.duty("reminder", DutyOutcome::Sent, 61.0);
        metrics.duty("reminder", DutyOutcome::Failed, 500.0);
        metrics.gateway_session();
        metrics.gateway_session();
        let late = metrics
            .duties_late
            .get_or_create(&KindLabels { kind: "reminder" })
            .get();
        assert_eq!(late, 1);
        assert_eq!(metrics.gateway_reconnects.get(), 1);
    }
}
