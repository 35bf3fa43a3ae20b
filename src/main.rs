use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use coordinator::config::{ConfigError, LogFormat, Settings};
use coordinator::ops::{self, ExportFormat, OpsError};
use coordinator::Role;
use tracing_subscriber::EnvFilter;

/// Coordinator: a Discord bot that keeps a team's tasks and deadlines on track.
///
/// Settings come from DIR/default.toml, DIR/local.toml and the environment (see README).
/// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
#[derive(Debug, Parser)]
#[command(name = "coordinator", version)]
struct Cli {
    /// Directory holding default.toml and the optional local.toml [default: config]
    #[arg(long, global = true, value_name = "DIR")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the bot until SIGINT or SIGTERM (the default when no command is given)
    Run {
        /// What this process does: all (the gateway, the duties worker and the HTTP listener),
        /// gateway, web (the Interactions Endpoint only) or worker (duties only)
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
        /// The gateway shards this process runs, FIRST-LAST/TOTAL (e.g. 0-3/8); each shard runs
        /// in one process at a time (PostgreSQL)
        #[arg(long, value_name = "FIRST-LAST/TOTAL")]
        shards: Option<coordinator::ShardRange>,
    },
    /// Create the database if missing and apply pending migrations, then exit
    Migrate,
    /// Validate the settings and the token's format without connecting to anything
    CheckConfig {
        /// Also check that what this role needs is set (web: http.listen and
        /// discord.public_key)
        #[arg(long, value_enum)]
        role: Option<Role>,
    },
    /// Register the slash commands over REST (to DISCORD_GUILD_ID when set, else globally)
    RegisterCommands,
    /// Copy every row of one database into another, new one (e.g. from SQLite to PostgreSQL)
    Copy {
        /// The database to read (it is not changed)
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to fill: migrated first, and it must hold no data yet
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Write a server's tasks with their history (deleted tasks included) as CSV or JSON
    Export {
        /// The server (guild) id
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u64).range(1..))]
        guild: u64,
        /// Output format
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
        /// Write to FILE instead of standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Try the bot in this terminal, no Discord or token needed: a pretend server, a temporary
    /// database and a clock that `wait` moves (type `help` inside)
    Try {
        /// Read the lines from FILE and print the whole transcript
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
    },
}

/// Bad usage or configuration: what the operator must fix before anything can run.
const EXIT_CONFIG: u8 = 2;
const EXIT_RUNTIME: u8 = 1;

/// glibc's malloc arenas the process may use. Its default (8 per core) gives each of the
/// database's connection threads an arena of its own, each keeping freed memory: measured, 4 MB
/// more after 100,000 `/task create`s than with 2 (README, "Memory and speed").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

fn main() -> ExitCode {
    // Before any thread starts, so every thread shares the bounded arenas.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(cli_main()),
        Err(e) => fail(&format!("cannot start the runtime: {e}"), EXIT_RUNTIME),
    }
}

async fn cli_main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&usage_error(&e), EXIT_CONFIG),
    };
    let dir = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("config"));
    if let Some(Cmd::Try { script }) = &cli.command {
        // No settings are read: the playground needs no token, and its database is temporary.
        return try_playground(script.as_deref()).await;
    }
    if let Some(Cmd::CheckConfig { role }) = cli.command {
        return check_config(&dir, cli.config.is_some(), role);
    }
    let settings = match load(&dir, cli.config.is_some()) {
        Ok(settings) => settings,
        Err(e) => return fail(&e, EXIT_CONFIG),
    };
    match cli.command.unwrap_or(Cmd::Run {
        role: Role::All,
        shards: None,
    }) {
        Cmd::Run { role, shards } => run(settings, &dir, role, shards).await,
        Cmd::CheckConfig { role } => check_config(&dir, cli.config.is_some(), role),
        Cmd::Try { script } => try_playground(script.as_deref()).await,
        Cmd::Migrate => {
            if let Err(e) = init_logging(&settings, false) {
                return fail(&e, EXIT_CONFIG);
            }
            finish(ops::migrate(&settings).await)
        }
        Cmd::RegisterCommands => {
            if let Err(e) = settings
                .token()
                .and_then(|_| init_logging(&settings, false))
            {
                return fail(&e, EXIT_CONFIG);
            }
            finish(ops::register_commands(&settings).await)
        }
        Cmd::Copy { from, to } => {
            if let Err(e) = init_logging(&settings, false) {
                return fail(&e, EXIT_CONFIG);
            }
            finish(ops::copy(&from, &to).await)
        }
        Cmd::Export {
            guild,
            format,
            output,
        } => {
            if let Err(e) = init_logging(&settings, false) {
                return fail(&e, EXIT_CONFIG);
            }
            export(&settings, guild, format, output.as_deref()).await
        }
    }
}

/// `coordinator try`: logs stay off the transcript, but for errors on standard error.
async fn try_playground(script: Option<&Path>) -> ExitCode {
    let filter = EnvFilter::try_new("error").unwrap_or_default();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match coordinator::playground::main(script).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ coordinator::playground::PlaygroundError::Script { .. }) => fail(&e, EXIT_CONFIG),
        Err(e) => fail(&e, EXIT_RUNTIME),
    }
}

fn load(dir: &Path, explicit: bool) -> Result<Settings, ConfigError> {
    if explicit {
        Settings::load_dir(dir)
    } else {
        Settings::load(dir)
    }
}

async fn run(
    settings: Settings,
    dir: &Path,
    role: Role,
    shards: Option<coordinator::ShardRange>,
) -> ExitCode {
    if shards.is_some() && !role.runs_gateway() {
        let problem = ConfigError::Invalid(format!(
            "--shards runs gateway shards; --role {} has no gateway",
            role.to_possible_value()
                .map(|v| v.get_name().to_owned())
                .unwrap_or_default()
        ));
        return fail(&problem, EXIT_CONFIG);
    }
    // Checked before logging starts, so a missing token is one clear line.
    let token = match settings.token() {
        Ok(token) => token.clone(),
        Err(e) => return fail(&e, EXIT_CONFIG),
    };
    if let Err(e) = init_logging(&settings, true) {
        return fail(&e, EXIT_CONFIG);
    }
    if let Err(e) = token.check_format() {
        tracing::warn!("{e}; connecting anyway");
    }
    for unknown in coordinator::config::unknown_keys(&Settings::figment(dir)) {
        tracing::warn!("setting {unknown}");
    }
    let clock = std::sync::Arc::new(coordinator::clock::SystemClock);
    // Listening before starting: a signal during start-up still stops the bot cleanly.
    let signal = coordinator::shutdown_signal();
    let options = coordinator::StartOptions {
        role,
        shards,
        ..Default::default()
    };
    let running = match coordinator::start_with(&settings, clock, options).await {
        Ok(running) => running,
        Err(coordinator::StartError::Config(e)) => return fail(&e, EXIT_CONFIG),
        Err(e) => return fail(&e, EXIT_RUNTIME),
    };
    // Shutdown stops a gateway stuck reconnecting after a few seconds; should anything else
    // hang, the process still leaves SHUTDOWN_GRACE after the signal.
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        signal.await;
        let _ = signalled.send(());
    };
    let overdue = async move {
        match on_signal.await {
            Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = running.run_until(stop) => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e, EXIT_RUNTIME),
        },
        () = overdue => {
            tracing::error!(grace_secs = SHUTDOWN_GRACE.as_secs(), "shutdown did not finish in time; exiting anyway");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// How long a SIGINT/SIGTERM shutdown may take before the process exits regardless.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

fn check_config(dir: &Path, explicit: bool, role: Option<Role>) -> ExitCode {
    if explicit && !dir.is_dir() {
        return fail(
            &ConfigError::MissingDir(dir.display().to_string()),
            EXIT_CONFIG,
        );
    }
    match ops::check_config(dir, role) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, EXIT_CONFIG),
    }
}

async fn export(
    settings: &Settings,
    guild: u64,
    format: ExportFormat,
    output: Option<&Path>,
) -> ExitCode {
    let result = match output {
        Some(path) => {
            let target = path.display().to_string();
            match std::fs::File::create(path) {
                Ok(file) => {
                    let mut out = std::io::BufWriter::new(file);
                    ops::export(settings, guild, format, &mut out, &target)
                        .await
                        .map(|count| {
                            println!("exported {count} tasks of guild {guild} to {target}")
                        })
                }
                Err(source) => Err(OpsError::Write { target, source }),
            }
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            ops::export(settings, guild, format, &mut out, "standard output")
                .await
                .map(|_| ())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, exit_code(&e)),
    }
}

fn finish(result: Result<impl std::fmt::Display, OpsError>) -> ExitCode {
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, exit_code(&e)),
    }
}

fn exit_code(error: &OpsError) -> u8 {
    if error.is_config() {
        EXIT_CONFIG
    } else {
        EXIT_RUNTIME
    }
}

/// Human lines or JSON objects, one per event. The bot logs to standard output; the one-shot
/// commands log to standard error, so their output (an export, say) stays clean.
fn init_logging(settings: &Settings, to_stdout: bool) -> Result<(), ConfigError> {
    let filter = match coordinator::config::env_log_filter()? {
        Some(filter) => filter,
        None => settings.log.filter.clone(),
    };
    let mut filter = EnvFilter::try_new(&filter)
        .map_err(|e| ConfigError::Invalid(format!("log filter {filter:?}: {e}")))?;
    // At trace, tungstenite dumps every websocket frame, IDENTIFY and its token included (as
    // hex): its targets stay at debug whatever the filter says.
    for cap in ["tungstenite=debug", "tokio_tungstenite=debug"] {
        let directive = cap
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("log filter {cap:?}: {e}")))?;
        filter = filter.add_directive(directive);
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let writer = move || -> Box<dyn Write> {
        if to_stdout {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::io::stderr())
        }
    };
    match settings.log.format {
        LogFormat::Human => {
            // Colours only for a person at a terminal: journald and log files get plain text.
            let terminal = if to_stdout {
                std::io::stdout().is_terminal()
            } else {
                std::io::stderr().is_terminal()
            };
            let ansi = terminal && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(ansi).with_writer(writer).init()
        }
        // Event fields at the top level, and the fields of the span the event is in.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .init(),
    }
    Ok(())
}

/// clap's several-line usage error as one line.
fn usage_error(error: &clap::Error) -> String {
    let text = error.to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("{message} (see coordinator --help)")
}

fn fail(error: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("coordinator: {error}");
    ExitCode::from(code)
}
