//! Coordinator: a Discord bot that keeps a team's tasks and deadlines on track.
//!
//! `domain` holds the rules (no Discord, no SQL), `store` all SQL, `render` every outgoing
//! message, `app` the use cases the edge and the worker share, `discord` the edge, `worker` the
//! duties. The README's "Map of the code" walks the tree. [`start`] builds the running bot;
//! [`run`] adds signal handling for the binary.

pub mod app;
pub mod clock;
pub mod config;
pub mod discord;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod ops;
pub mod playground;
pub mod render;
pub mod store;
pub mod worker;

pub use app::App;

use std::sync::Arc;

use serenity::gateway::ShardManager;
use tokio::sync::{watch, RwLock};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("discord client: {0}")]
    Discord(#[from] serenity::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// A running bot: the gateway client in its own task, and what is needed to stop it.
pub struct Running {
    pub app: Arc<App>,
    pub worker: worker::Worker,
    /// None for a process without the gateway (`web`, `worker`).
    shard_manager: Option<Arc<ShardManager>>,
    gateway: JoinHandle<Result<(), serenity::Error>>,
    in_flight: Arc<RwLock<()>>,
    stop_worker: watch::Sender<bool>,
    worker_task: JoinHandle<()>,
    /// The HTTP listener, when `http.listen` is set; it stops with the worker.
    http: Option<http::Listener>,
    /// LISTEN for other processes' writes (PostgreSQL); stopped before the database closes.
    listener: Option<JoinHandle<()>>,
    /// Holds this worker's partitions (PostgreSQL); stopping it hands them to other workers.
    partitions: Option<JoinHandle<()>>,
    /// LISTEN for other processes' settings writes (PostgreSQL, processes that answer commands).
    settings_listener: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops cleanly: no new events, in-flight commands answer, the duties worker stops between
    /// duties, the HTTP listener drains, and the database closes (checkpointing its WAL).
    pub async fn shutdown(mut self) {
        // The worker finishes the duty it is sending and takes no other; the listener drains.
        let _ = self.stop_worker.send(true);
        // A shard stuck reconnecting (Discord unreachable) never acknowledges the shutdown, so
        // it gets a bounded wait; interaction handlers run in their own tasks and are waited for.
        if self.shard_manager.is_none() {
            self.gateway.abort();
            self.finish().await;
            return;
        }
        let stopped = tokio::time::timeout(GATEWAY_STOP_GRACE, async {
            if let Some(shards) = &self.shard_manager {
                shards.shutdown_all().await;
            }
            (&mut self.gateway).await
        })
        .await;
        // Once the gateway task has ended, no shard dispatches another interaction.
        match stopped {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(error = %e, "gateway task ended abnormally"),
            Err(_) => {
                warn!(
                    grace_secs = GATEWAY_STOP_GRACE.as_secs(),
                    "the gateway did not stop in time (is Discord reachable?); stopping it"
                );
                self.gateway.abort();
            }
        }
        self.finish().await;
    }

    /// Everything after the gateway has stopped.
    async fn finish(mut self) {
        // A row being sent is finished and marked first; the rest stay pending for next start.
        let _ = self.stop_worker.send(true);
        commands_answered(&self.in_flight).await;
        if let Err(e) = self.worker_task.await {
            warn!(error = %e, "duties worker ended abnormally");
        }
        if let Some(listener) = self.http {
            if let Err(e) = listener.task.await {
                warn!(error = %e, "HTTP listener ended abnormally");
            }
        }
        // Again, for a handler whose task first ran while the worker was stopping.
        commands_answered(&self.in_flight).await;
        // Their connections would keep the pool from closing; the partitions' locks go with
        // theirs, so another worker takes them over at its next rebalance.
        for task in [
            self.listener.take(),
            self.partitions.take(),
            self.settings_listener.take(),
        ]
        .into_iter()
        .flatten()
        {
            task.abort();
            let _ = task.await;
        }
        self.app.db.close().await;
        info!("stopped");
    }

    /// Where the HTTP listener listens, when it is on (port 0 in settings picks a free port).
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().map(|l| l.addr)
    }

    /// Waits until the gateway client stops by itself (a fatal error), or `stop` resolves.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), StartError> {
        tokio::select! {
            ended = &mut self.gateway => {
                self.finish().await;
                match ended {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(StartError::Discord(e)),
                    Err(e) => {
                        warn!(error = %e, "gateway task panicked");
                        Ok(())
                    }
                }
            }
            () = stop => {
                info!("shutting down");
                self.shutdown().await;
                Ok(())
            }
        }
    }
}

/// How often a worker-only process re-reads what is due (nothing in it is written to)...
const WORKER_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// ...and how often when other processes' writes wake it through PostgreSQL's NOTIFY.
const WORKER_SAFETY_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a shutdown waits for the gateway to close before stopping it outright.
const GATEWAY_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until every interaction handler that has started has answered. Serenity spawns a task
/// per event; one spawned just before the gateway stopped is given a turn to start. The lock is
/// not kept: a handler starting later still answers instead of hanging.
async fn commands_answered(in_flight: &RwLock<()>) {
    tokio::task::yield_now().await;
    drop(in_flight.write().await);
}

/// What one process does (`coordinator run --role`). Several processes on one PostgreSQL
/// database split the work; one process on its own runs `All`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Role {
    /// The gateway, the duties worker and the HTTP listener: one process does everything.
    #[default]
    All,
    /// The gateway connection: interactions (without an Interactions Endpoint) and events.
    Gateway,
    /// The Interactions Endpoint only: needs `http.listen` and `discord.public_key`.
    Web,
    /// The duties worker only: reminders, alerts, standups, digests, edits.
    Worker,
}

impl Role {
    pub fn runs_gateway(self) -> bool {
        matches!(self, Role::All | Role::Gateway)
    }

    pub fn runs_worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }

    /// The role's name as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Gateway => "gateway",
            Role::Web => "web",
            Role::Worker => "worker",
        }
    }

    /// Checks that `settings` hold what this role needs (a `web` process answers the
    /// Interactions Endpoint, so it needs the listener and the application's public key, and
    /// any key set must be one). `start` and `check-config --role` both ask.
    pub fn check(self, settings: &Settings) -> Result<(), ConfigError> {
        if let Some(key) = &settings.discord.public_key {
            discord::web::verifying_key(key).map_err(|problem| {
                ConfigError::Invalid(format!("discord.public_key: {problem}"))
            })?;
        }
        if self == Role::Web
            && (settings.http.listen.is_none() || settings.discord.public_key.is_none())
        {
            return Err(ConfigError::Invalid(
                "--role web answers the Interactions Endpoint: set http.listen and discord.public_key"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A range of gateway shards, `FIRST-LAST/TOTAL` on the command line (`0-3/8` is shards 0 to
/// 3, both included, of 8). Every gateway process of an installation gives the same TOTAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl std::str::FromStr for ShardRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("expected FIRST-LAST/TOTAL, like 0-3/8; got {text:?}");
        let (range, total) = text.split_once('/').ok_or_else(expected)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let number = |part: &str| part.trim().parse::<u32>().map_err(|_| expected());
        let (first, last, total) = (number(first)?, number(last)?, number(total)?);
        if first > last || last >= total {
            return Err(format!(
                "shards {first} to {last} are not within 0 to {} (TOTAL is {total})",
                total.saturating_sub(1)
            ));
        }
        Ok(Self { first, last, total })
    }
}

impl std::fmt::Display for ShardRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}/{}", self.first, self.last, self.total)
    }
}

/// How to start: tests drive the duties worker step by step instead of letting it run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartOptions {
    pub background_worker: bool,
    pub role: Role,
    /// The gateway shards this process runs; None runs the one shard of a small bot.
    pub shards: Option<ShardRange>,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self {
            background_worker: true,
            role: Role::All,
            shards: None,
        }
    }
}

/// Opens the store, connects to Discord, and starts the duties worker.
pub async fn start(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    start_with(settings, clock, StartOptions::default()).await
}

pub async fn start_with(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    options: StartOptions,
) -> Result<Running, StartError> {
    let token = settings.token()?.clone();
    let db = Db::connect(&settings.database.url).await?;
    // Recorded on the first run: servers joined later get the getting-started message. A
    // database that cannot take writes right now still starts (and says why it refuses them).
    if let Err(e) = db.first_start(clock.now()).await {
        tracing::warn!(error = %e, "could not record this installation's first start");
    }
    // Bound before the app is built, so a configured port 0 resolves into the public URL.
    let http_listener = match settings.http.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?,
        ),
        None => None,
    };
    let mut app = App::new(db, clock);
    if let Some(listener) = &http_listener {
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: settings.http.listen.unwrap_or(([0, 0, 0, 0], 0).into()),
            source,
        })?;
        app.public_url = Some(match &settings.http.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{addr}"),
        });
    }
    let role = options.role;
    app.runs_gateway = role.runs_gateway();
    app.runs_worker = role.runs_worker();
    for (runs, part) in [
        (role.runs_gateway(), "gateway"),
        (
            settings.discord.public_key.is_some() && settings.http.listen.is_some(),
            "web",
        ),
        (role.runs_worker(), "worker"),
    ] {
        if runs {
            app.metrics.runs(part);
        }
    }
    role.check(settings)?;
    let app = Arc::new(app);
    let in_flight = Arc::new(RwLock::new(()));
    let (shard_manager, gateway) = if role.runs_gateway() {
        let mut client = discord::client::gateway_client(
            Arc::clone(&app),
            &token,
            &settings.discord.api_base,
            settings.discord.guild_id,
            Arc::clone(&in_flight),
        )
        .await?;
        let shard_manager = Arc::clone(&client.shard_manager);
        app.metrics.attach_gateway(Arc::clone(&shard_manager));
        let gateway = match options.shards {
            Some(range) => {
                // Waits while another process still runs any of these shards.
                let locks = Arc::new(app.db.hold_shards(range.first, range.last).await?);
                locks.identify_turn().await?;
                info!(shards = %range, "starting gateway shards");
                tokio::spawn(watch_shards(locks, Arc::clone(&shard_manager)));
                // Serenity's range end is inclusive.
                tokio::spawn(async move {
                    client
                        .start_shard_range(range.first..range.last, range.total)
                        .await
                })
            }
            None => tokio::spawn(async move { client.start().await }),
        };
        (Some(shard_manager), gateway)
    } else {
        // Nothing to connect: the process runs until it is told to stop.
        let idle = tokio::spawn(std::future::pending::<Result<(), serenity::Error>>());
        (None, idle)
    };
    // The token's budget, divided among the live workers (one on SQLite).
    let (requests, dm_opens) = (
        settings.discord.requests_per_second as usize,
        settings.discord.dm_opens_per_second as usize,
    );
    let db = app.db.clone();
    let sender = Arc::new(
        discord::sender::Sender::new(&token, &settings.discord.api_base).with_share(Arc::new(
            move || (db.budget_share(requests), db.budget_share(dm_opens)),
        )),
    );
    let mut worker = worker::Worker::new(Arc::clone(&app), sender);
    // On PostgreSQL, writes made by any process wake this worker (LISTEN/NOTIFY).
    let (listener, partitions) = if role.runs_worker() && options.background_worker {
        (
            app.db.listen_for_other_processes().await?,
            // On PostgreSQL this worker runs only its share of the guilds.
            app.db.hold_partitions().await?,
        )
    } else {
        (None, None)
    };
    if role == Role::Worker {
        // Other processes write what falls due: woken by them, and a poll as a safety net.
        worker = worker.with_longest_sleep(if listener.is_some() {
            WORKER_SAFETY_POLL
        } else {
            WORKER_POLL
        });
    }
    // Every process that answers commands keeps guild settings in memory; on PostgreSQL only
    // while it hears other processes' settings writes.
    let settings_listener = if role == Role::Worker {
        None
    } else {
        app.db.listen_for_settings_changes().await?
    };
    let (stop_worker, stop) = watch::channel(false);
    let worker_task = if options.background_worker && role.runs_worker() {
        tokio::spawn(worker.clone().run(stop))
    } else {
        tokio::spawn(async {})
    };
    // Interactions POSTed to an Interactions Endpoint URL: with the application's public key.
    let endpoint = match &settings.discord.public_key {
        Some(key) => Some(Arc::new(discord::web::Endpoint::new(
            discord::web::verifying_key(key).map_err(|problem| {
                StartError::Config(config::ConfigError::Invalid(format!(
                    "discord.public_key: {problem}"
                )))
            })?,
            &settings.discord.api_base,
        ))),
        None => None,
    };
    let http = match http_listener {
        Some(listener) => Some(
            http::serve(
                listener,
                Arc::clone(&app),
                endpoint,
                stop_worker.subscribe(),
            )
            .map_err(|source| StartError::Listen {
                addr: settings.http.listen.unwrap_or(([0, 0, 0, 0], 0).into()),
                source,
            })?,
        ),
        None => None,
    };
    info!(api = %settings.discord.api_base, "started");
    Ok(Running {
        app,
        worker,
        shard_manager,
        gateway,
        in_flight,
        stop_worker,
        worker_task,
        http,
        listener,
        partitions,
        settings_listener,
    })
}

/// How long a process keeps the IDENTIFY turn after its shards connected: Discord's window
/// between IDENTIFYs of one `max_concurrency` bucket.
const IDENTIFY_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);
/// How long the shards may take to connect before the turn is given back anyway.
const SHARDS_CONNECT_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
/// How often a sharded gateway checks that it still holds its shard locks.
const SHARD_LOCK_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Gives the IDENTIFY turn back once this process's shards are connected and the window has
/// passed; then stops the shards if the locks are ever lost (another process may start them).
async fn watch_shards(locks: Arc<store::ShardLocks>, shards: Arc<ShardManager>) {
    let connected = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let runners = shards.runners.lock().await;
            if !runners.is_empty()
                && runners
                    .values()
                    .all(|runner| runner.stage == serenity::gateway::ConnectionStage::Connected)
            {
                return;
            }
        }
    };
    if tokio::time::timeout(SHARDS_CONNECT_LIMIT, connected)
        .await
        .is_err()
    {
        warn!("the shards did not all connect in time; giving the IDENTIFY turn back anyway");
    }
    tokio::time::sleep(IDENTIFY_WINDOW).await;
    if let Err(e) = locks.end_identify_turn().await {
        warn!(error = %e, "could not give the IDENTIFY turn back");
    }
    loop {
        tokio::time::sleep(SHARD_LOCK_CHECK).await;
        if !locks.still_held().await {
            tracing::error!("lost the shard locks; stopping this process's shards");
            shards.shutdown_all().await;
            return;
        }
    }
}

/// Runs the bot until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let signal = shutdown_signal();
    let running = start(&settings, Arc::new(clock::SystemClock)).await?;
    running.run_until(signal).await
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM received after this call. The handlers are
/// installed here, not when the future is first polled: a signal that arrives while the bot is
/// still starting is kept and stops it cleanly once started, instead of killing the process
/// with the default action.
#[cfg(unix)]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {},
            () = wait(terminate) => {},
        }
    }
}

/// Resolves at the first Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
