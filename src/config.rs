//! Settings, loaded once at start into one typed struct: `config/default.toml`, then an optional
//! `config/local.toml`, then the environment (`COORDINATOR_SECTION__KEY`, plus the names the
//! spec gives: `DISCORD_TOKEN`, `DISCORD_API_BASE`, `DATABASE_URL`, `DISCORD_GUILD_ID`).

use std::fmt;
use std::path::Path;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The bot token. Its `Debug` and `Display` never show it, so it cannot reach a log line.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The secret itself, for the one place that sends it to Discord.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub discord: DiscordSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub http: HttpSettings,
}

/// The optional HTTP listener: `/healthz`, `/metrics` and the projects' calendar feeds.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpSettings {
    /// Off unless set, e.g. `127.0.0.1:8080`.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// The address users reach the listener at, for the links `/project feed` shows
    /// (e.g. `https://coordinator.example.com`). Unset: `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscordSettings {
    /// From `DISCORD_TOKEN` only.
    #[serde(default, skip_deserializing)]
    pub token: Option<Token>,
    /// Every REST call goes here; the gateway URL is asked of this API.
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// When set, commands are registered to this guild only (instant, for development).
    #[serde(default)]
    pub guild_id: Option<u64>,
    /// How many DM channels may be opened per second (Discord asks bots to go gently).
    #[serde(default = "default_dm_opens_per_second")]
    pub dm_opens_per_second: u32,
    /// The token's budget of Discord's 50 requests per second: the live workers share it
    /// (each paces at this divided by their number).
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: u32,
    /// The application's public key (hex, from the Developer Portal): with `http.listen`, the
    /// listener answers interactions POSTed to `/interactions`, checking their signatures.
    #[serde(default)]
    pub public_key: Option<String>,
}

fn default_requests_per_second() -> u32 {
    50
}

fn default_dm_opens_per_second() -> u32 {
    5
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    #[serde(default = "default_database_url")]
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// A `tracing` filter; `RUST_LOG` wins when set.
    #[serde(default = "default_log_filter")]
    pub filter: String,
    /// `human` (default) or `json` (one JSON object per line); env `LOG_FORMAT`.
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

fn default_api_base() -> String {
    "https://discord.com".into()
}

fn default_database_url() -> String {
    "sqlite://data/coordinator.db".into()
}

fn default_log_filter() -> String {
    "info,serenity=warn,sqlx=warn".into()
}

impl Default for DiscordSettings {
    fn default() -> Self {
        Self {
            token: None,
            api_base: default_api_base(),
            guild_id: None,
            dm_opens_per_second: default_dm_opens_per_second(),
            requests_per_second: default_requests_per_second(),
            public_key: None,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: default_database_url(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: default_log_filter(),
            format: LogFormat::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DISCORD_TOKEN is not set: put the bot token from the Discord developer portal in the DISCORD_TOKEN environment variable")]
    MissingToken,
    #[error("DISCORD_TOKEN does not look like a bot token (it must be one line, without spaces)")]
    MalformedToken,
    #[error("DISCORD_TOKEN does not look like a Discord bot token: {0}")]
    TokenFormat(&'static str),
    #[error("config directory {0} does not exist")]
    MissingDir(String),
    /// One or more bad values, each named with the file or variable it came from.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Where a setting's value came from, for error messages and `check-config`.
pub const BUILT_IN_DEFAULT: &str = "built-in default";

/// The short environment names the spec gives, and the keys they set.
const SHORT_ENV_NAMES: [(&str, &str); 4] = [
    ("DISCORD_API_BASE", "discord.api_base"),
    ("DISCORD_GUILD_ID", "discord.guild_id"),
    ("DATABASE_URL", "database.url"),
    ("LOG_FORMAT", "log.format"),
];

/// The variable `COORDINATOR_<SECTION>__<KEY>` that sets `key` (given as its path).
fn prefixed_var_name(path: &[&str]) -> String {
    format!("COORDINATOR_{}", path.join("__").to_ascii_uppercase())
}

fn short_var_name(path: &[&str]) -> String {
    let key = path.join(".");
    SHORT_ENV_NAMES
        .iter()
        .find(|(_, k)| *k == key)
        .map(|(name, _)| (*name).to_owned())
        .unwrap_or_else(|| key.to_ascii_uppercase())
}

/// An environment provider whose metadata names the exact variable behind a key, where figment's
/// own `Env` only says "environment variable(s)".
struct EnvVars {
    env: Env,
    var_name: fn(&[&str]) -> String,
}

impl figment::Provider for EnvVars {
    fn metadata(&self) -> figment::Metadata {
        let var_name = self.var_name;
        figment::Metadata::named("environment variable").interpolater(
            move |_: &figment::Profile, path: &[&str]| {
                format!("environment variable {}", var_name(path))
            },
        )
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut data = self.env.data()?;
        for dict in data.values_mut() {
            drop_empty(dict);
        }
        Ok(data)
    }
}

/// An empty variable (`COORDINATOR_HTTP__LISTEN=`) counts as unset, as `DISCORD_TOKEN=` does:
/// the usual way to switch a setting off in an env file or `docker run -e`.
fn drop_empty(dict: &mut figment::value::Dict) {
    dict.retain(|_, value| match value {
        figment::value::Value::String(_, text) => !text.trim().is_empty(),
        figment::value::Value::Dict(_, inner) => {
            drop_empty(inner);
            !inner.is_empty()
        }
        _ => true,
    });
}

impl Settings {
    /// Loads `dir/default.toml`, `dir/local.toml` (if present) and the environment, validates
    /// every value, and reads the token from `DISCORD_TOKEN`.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let mut settings = Self::load_from(&Self::figment(dir))?;
        settings.discord.token = std::env::var("DISCORD_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(Token::new);
        Ok(settings)
    }

    /// Like [`Settings::load`], but a directory given explicitly must exist: a mistyped
    /// `--config` should not silently run on the built-in defaults.
    pub fn load_dir(dir: &Path) -> Result<Self, ConfigError> {
        if !dir.is_dir() {
            return Err(ConfigError::MissingDir(dir.display().to_string()));
        }
        Self::load(dir)
    }

    /// Every source, lowest precedence first: the files in `dir`, then the environment.
    pub fn figment(dir: &Path) -> Figment {
        let mut figment = Figment::new();
        // Exact paths: figment's `Toml::file` would also search parent directories.
        for name in ["default.toml", "local.toml"] {
            let path = dir.join(name);
            if path.is_file() {
                figment = figment.merge(Toml::file_exact(path));
            }
        }
        figment
            .merge(EnvVars {
                env: Env::prefixed("COORDINATOR_").split("__"),
                var_name: prefixed_var_name,
            })
            .merge(EnvVars {
                env: Env::raw().filter_map(|key| {
                    let key = key.as_str().to_ascii_uppercase();
                    SHORT_ENV_NAMES
                        .iter()
                        .find(|(name, _)| *name == key)
                        .map(|(_, path)| (*path).into())
                }),
                var_name: short_var_name,
            })
    }

    /// Extracts and validates the settings from `figment` (the token is not read here). Every
    /// bad value is reported, each with the file or variable it came from.
    pub fn load_from(figment: &Figment) -> Result<Self, ConfigError> {
        let mut problems: Vec<String> = CHECKS
            .iter()
            .filter_map(|(key, check)| {
                let value = figment.find_value(key).ok()?;
                let problem = check(&value).err()?;
                Some(describe(figment, key, Some(&value), &problem))
            })
            .collect();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems.join("; ")));
        }
        match figment.extract::<Settings>() {
            Ok(settings) => Ok(settings),
            Err(errors) => {
                for error in errors {
                    let key = error.path.join(".");
                    let problem = error.kind.to_string();
                    if key.is_empty() {
                        // A file that does not parse: the error names no key, only the file.
                        let origin = error
                            .metadata
                            .as_ref()
                            .and_then(|md| md.source.as_ref())
                            .map(|source| source.to_string())
                            .unwrap_or_else(|| "settings".into());
                        problems.push(format!("{origin}: {}", one_line(&problem)));
                    } else {
                        let value = figment.find_value(&key).ok();
                        problems.push(describe(figment, &key, value.as_ref(), &problem));
                    }
                }
                Err(ConfigError::Invalid(problems.join("; ")))
            }
        }
    }

    /// Checks settings built in code (tests, embedders) with the same rules as loaded ones.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut check = |key: &str, value: &str, rule: Check| {
            if let Err(problem) = rule(&figment::value::Value::from(value)) {
                problems.push(format!("{key} = {value:?}: {problem}"));
            }
        };
        check("discord.api_base", &self.discord.api_base, check_http_url);
        check("database.url", &self.database.url, check_database_url);
        check("log.filter", &self.log.filter, check_log_filter);
        if let Some(url) = &self.http.public_url {
            check("http.public_url", url, check_http_url);
        }
        if let Some(key) = &self.discord.public_key {
            if let Err(problem) = crate::discord::web::verifying_key(key) {
                problems.push(format!("discord.public_key = {key:?}: {problem}"));
            }
        }
        if !(1..=50).contains(&self.discord.requests_per_second) {
            problems.push(format!(
                "discord.requests_per_second = {}: give 1 to 50",
                self.discord.requests_per_second
            ));
        }
        if !(1..=50).contains(&self.discord.dm_opens_per_second) {
            problems.push(format!(
                "discord.dm_opens_per_second = {}: give 1 to 50",
                self.discord.dm_opens_per_second
            ));
        }
        if self.discord.guild_id == Some(0) {
            problems.push("discord.guild_id = 0: not a server id (server ids are positive)".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems.join("; ")))
        }
    }

    /// The token, or the error that tells the operator how to provide it.
    pub fn token(&self) -> Result<&Token, ConfigError> {
        let token = self
            .discord
            .token
            .as_ref()
            .ok_or(ConfigError::MissingToken)?;
        let text = token.expose().trim();
        if text.is_empty() || text.contains(char::is_whitespace) {
            return Err(ConfigError::MalformedToken);
        }
        Ok(token)
    }
}

impl Token {
    /// Whether the token has a Discord bot token's shape: three non-empty base64url parts joined
    /// by dots (the bot's id, a timestamp, an HMAC). It says nothing of whether Discord accepts
    /// it; only `check-config` insists on it, so test tokens still run the bot.
    pub fn check_format(&self) -> Result<(), ConfigError> {
        let text = self.expose();
        let text = text.strip_prefix("Bot ").unwrap_or(text);
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 3 {
            return Err(ConfigError::TokenFormat(
                "it must be three parts separated by dots",
            ));
        }
        if parts.iter().any(|part| part.is_empty()) {
            return Err(ConfigError::TokenFormat("one of its three parts is empty"));
        }
        let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !parts.iter().all(|part| part.chars().all(base64url)) {
            return Err(ConfigError::TokenFormat(
                "it may only contain letters, digits, '-', '_' and the two dots",
            ));
        }
        Ok(())
    }
}

/// Every key a source sets, as a dotted path.
const KNOWN_KEYS: [&str; 10] = [
    "discord.requests_per_second",
    "discord.api_base",
    "discord.guild_id",
    "discord.dm_opens_per_second",
    "discord.public_key",
    "database.url",
    "log.filter",
    "log.format",
    "http.listen",
    "http.public_url",
];

/// Keys the sources set that no setting reads (a typo such as `COORDINATOR_HTTP__LISTN` or
/// `lsiten = ...` would otherwise be ignored without a word), each with where it came from.
pub fn unknown_keys(figment: &Figment) -> Vec<String> {
    fn walk(prefix: &str, dict: &figment::value::Dict, out: &mut Vec<String>) {
        for (key, value) in dict {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                figment::value::Value::Dict(_, inner) if !KNOWN_KEYS.contains(&path.as_str()) => {
                    walk(&path, inner, out)
                }
                _ => out.push(path),
            }
        }
    }
    let mut keys = Vec::new();
    if let Ok(data) = figment::Provider::data(figment) {
        for dict in data.values() {
            walk("", dict, &mut keys);
        }
    }
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| !KNOWN_KEYS.contains(&key.as_str()))
        .map(|key| {
            let note = if key == "discord.token" {
                "ignored: the token is read only from DISCORD_TOKEN"
            } else {
                "ignored: no such setting"
            };
            format!("{key} (from {}): {note}", origin(figment, &key))
        })
        .collect()
}

/// `RUST_LOG` when set: it wins over `log.filter`, so a bad one is an error naming it rather
/// than a silent fallback.
pub fn env_log_filter() -> Result<Option<String>, ConfigError> {
    match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.trim().is_empty() => {
            match check_log_filter(&figment::value::Value::from(filter.as_str())) {
                Ok(()) => Ok(Some(filter)),
                Err(problem) => Err(ConfigError::Invalid(format!(
                    "RUST_LOG = {filter:?} (from environment variable RUST_LOG): {problem}"
                ))),
            }
        }
        _ => Ok(None),
    }
}

/// Names where `key` got its value, e.g. `config/local.toml` or
/// `environment variable COORDINATOR_HTTP__LISTEN`.
pub fn origin(figment: &Figment, key: &str) -> String {
    let Some(metadata) = figment.find_metadata(key) else {
        return BUILT_IN_DEFAULT.into();
    };
    match &metadata.source {
        Some(source) => source.to_string(),
        None => {
            let path: Vec<&str> = key.split('.').collect();
            metadata.interpolate(&figment::Profile::Default, &path)
        }
    }
}

/// `key = value (from origin): problem`, on one line.
fn describe(
    figment: &Figment,
    key: &str,
    value: Option<&figment::value::Value>,
    problem: &str,
) -> String {
    let origin = origin(figment, key);
    let problem = one_line(problem);
    match value.and_then(|v| serde_json::to_string(v).ok()) {
        Some(value) => format!("{key} = {value} (from {origin}): {problem}"),
        None => format!("{key} (from {origin}): {problem}"),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

type Check = fn(&figment::value::Value) -> Result<(), String>;

/// Rules for the values whose type alone does not say they are usable, checked on the raw
/// values so the message can name the source (and before serde's messages for the same keys).
const CHECKS: [(&str, Check); 10] = [
    ("discord.requests_per_second", check_requests_per_second),
    ("discord.api_base", check_http_url),
    ("discord.guild_id", check_guild_id),
    ("discord.dm_opens_per_second", check_dm_opens),
    ("discord.public_key", check_public_key),
    ("database.url", check_database_url),
    ("log.filter", check_log_filter),
    ("log.format", check_log_format),
    ("http.listen", check_listen),
    ("http.public_url", check_http_url),
];

fn text(value: &figment::value::Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "expected a string".into())
}

fn check_http_url(value: &figment::value::Value) -> Result<(), String> {
    let text = text(value)?;
    let url =
        reqwest::Url::parse(text).map_err(|e| format!("not an http:// or https:// URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("not an http:// or https:// URL".into());
    }
    Ok(())
}

fn check_guild_id(value: &figment::value::Value) -> Result<(), String> {
    match value.to_num().and_then(|n| n.to_u128_lossy()) {
        Some(id) if id > 0 && id <= u128::from(u64::MAX) => Ok(()),
        _ => Err(
            "not a server id (a positive number; right-click the server, Copy Server ID)".into(),
        ),
    }
}

fn check_public_key(value: &figment::value::Value) -> Result<(), String> {
    crate::discord::web::verifying_key(text(value)?).map(|_| ())
}

fn check_requests_per_second(value: &figment::value::Value) -> Result<(), String> {
    match value.to_num().and_then(|n| n.to_u128_lossy()) {
        Some(n) if (1..=50).contains(&n) => Ok(()),
        _ => Err("give a whole number from 1 to 50 (Discord allows 50 per token)".into()),
    }
}

fn check_dm_opens(value: &figment::value::Value) -> Result<(), String> {
    match value.to_num().and_then(|n| n.to_u128_lossy()) {
        Some(n) if (1..=50).contains(&n) => Ok(()),
        _ => Err("give a whole number from 1 to 50 (Discord asks bots to open DMs gently)".into()),
    }
}

fn check_database_url(value: &figment::value::Value) -> Result<(), String> {
    check_database_url_text(text(value)?)
}

/// A database URL the store can open: `sqlite:…`, or `postgres://` / `postgresql://`.
pub fn check_database_url_text(text: &str) -> Result<(), String> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(text)
            .map(|_| ())
            .map_err(|e| format!("not a PostgreSQL URL ({e})"));
    }
    if !text.starts_with("sqlite:") {
        return Err(
            "the URL must start with sqlite: (the default) or postgres:// (PostgreSQL)".into(),
        );
    }
    <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(text)
        .map(|_| ())
        .map_err(|e| format!("not a SQLite URL ({e})"))
}

fn check_log_filter(value: &figment::value::Value) -> Result<(), String> {
    let text = text(value)?;
    tracing_subscriber::EnvFilter::try_new(text)
        .map(|_| ())
        .map_err(|e| format!("not a tracing filter ({e})"))
}

fn check_log_format(value: &figment::value::Value) -> Result<(), String> {
    match text(value)? {
        "human" | "json" => Ok(()),
        _ => Err("must be human or json".into()),
    }
}

fn check_listen(value: &figment::value::Value) -> Result<(), String> {
    text(value)?
        .parse::<std::net::SocketAddr>()
        .map(|_| ())
        .map_err(|_| "not an address (expected ip:port, e.g. 127.0.0.1:8080)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_shows_in_debug_output() {
        let settings = Settings {
            discord: DiscordSettings {
                token: Some(Token::new("secret-token-value")),
                ..DiscordSettings::default()
            },
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            http: HttpSettings::default(),
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("secret-token-value"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn a_missing_token_is_named() {
        let settings = Settings {
            discord: DiscordSettings::default(),
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            http: HttpSettings::default(),
        };
        let err = settings
            .token()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("DISCORD_TOKEN"), "{err}");
    }

    #[test]
    fn defaults_match_the_spec() {
        let discord = DiscordSettings::default();
        assert_eq!(discord.api_base, "https://discord.com");
        assert_eq!(
            DatabaseSettings::default().url,
            "sqlite://data/coordinator.db"
        );
    }

    /// A config directory holding `default.toml` (the shipped one) and the given `local.toml`.
    fn dir_with_local(local: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml");
        std::fs::copy(shipped, dir.path().join("default.toml")).expect("copy default.toml");
        std::fs::write(dir.path().join("local.toml"), local).expect("write local.toml");
        dir
    }

    /// The files only: the process environment is shared by every test, so it stays out.
    fn files_only(dir: &Path) -> Figment {
        let mut figment = Figment::new();
        for name in ["default.toml", "local.toml"] {
            figment = figment.merge(Toml::file_exact(dir.join(name)));
        }
        figment
    }

    fn load_error(local: &str) -> String {
        let dir = dir_with_local(local);
        match Settings::load_from(&files_only(dir.path())) {
            Ok(settings) => panic!("{local:?} was accepted: {settings:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_shipped_default_toml_loads_and_equals_the_built_in_defaults() {
        let dir = dir_with_local("");
        let settings = Settings::load_from(&files_only(dir.path())).expect("defaults load");
        assert_eq!(settings.discord.api_base, default_api_base());
        assert_eq!(settings.discord.guild_id, None);
        assert_eq!(settings.database.url, default_database_url());
        assert_eq!(settings.log.filter, default_log_filter());
        assert_eq!(settings.log.format, LogFormat::Human);
        assert_eq!(settings.http.listen, None);
        assert_eq!(settings.http.public_url, None);
        let empty = Settings::load_from(&Figment::new()).expect("nothing set loads");
        assert_eq!(empty.database.url, settings.database.url);
    }

    #[test]
    fn local_values_override_the_defaults() {
        let dir = dir_with_local(
            "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://c.example.com\"\n\
             [log]\nformat = \"json\"\n[discord]\nguild_id = 42\n",
        );
        let settings = Settings::load_from(&files_only(dir.path())).expect("loads");
        assert_eq!(settings.http.listen, Some(([127, 0, 0, 1], 0).into()));
        assert_eq!(
            settings.http.public_url.as_deref(),
            Some("https://c.example.com")
        );
        assert_eq!(settings.log.format, LogFormat::Json);
        assert_eq!(settings.discord.guild_id, Some(42));
    }

    #[test]
    fn a_bad_value_is_named_with_its_value_and_the_file_it_came_from() {
        let err = load_error("[http]\nlisten = \"x\"\n");
        assert!(err.contains("http.listen = \"x\""), "{err}");
        assert!(err.contains("local.toml"), "{err}");
        assert!(err.contains("not an address"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn every_validated_key_refuses_a_bad_value() {
        let cases = [
            (
                "[discord]\napi_base = \"ftp://x\"",
                "discord.api_base",
                "http",
            ),
            (
                "[discord]\napi_base = \"discord.com\"",
                "discord.api_base",
                "URL",
            ),
            ("[discord]\nguild_id = 0", "discord.guild_id", "server id"),
            ("[discord]\nguild_id = -5", "discord.guild_id", "server id"),
            (
                "[database]\nurl = \"mysql://db/x\"",
                "database.url",
                "sqlite:",
            ),
            (
                "[log]\nfilter = \"info,serenity=loud\"",
                "log.filter",
                "tracing filter",
            ),
            ("[log]\nformat = \"xml\"", "log.format", "human or json"),
            (
                "[http]\nlisten = \"localhost\"",
                "http.listen",
                "not an address",
            ),
            (
                "[http]\npublic_url = \"example.com\"",
                "http.public_url",
                "URL",
            ),
        ];
        for (local, key, problem) in cases {
            let err = load_error(local);
            assert!(err.contains(key), "{local}: {err}");
            assert!(err.contains(problem), "{local}: {err}");
            assert!(err.contains("local.toml"), "{local}: {err}");
        }
    }

    #[test]
    fn type_errors_name_the_key_and_file_and_several_problems_share_one_line() {
        let err = load_error("[discord]\nguild_id = \"abc\"\n");
        assert!(err.contains("discord.guild_id = \"abc\""), "{err}");
        assert!(err.contains("local.toml"), "{err}");
        let err = load_error("[database]\nurl = 5\n");
        assert!(err.contains("database.url = 5"), "{err}");
        let err = load_error("[log]\nformat = \"xml\"\n[http]\nlisten = \"x\"\n");
        assert!(
            err.contains("log.format") && err.contains("http.listen"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn a_file_that_does_not_parse_is_named() {
        let err = load_error("[http\nlisten = ");
        assert!(err.contains("local.toml"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn values_from_the_environment_name_the_exact_variable() {
        assert_eq!(
            prefixed_var_name(&["http", "listen"]),
            "COORDINATOR_HTTP__LISTEN"
        );
        assert_eq!(short_var_name(&["database", "url"]), "DATABASE_URL");
        assert_eq!(short_var_name(&["log", "format"]), "LOG_FORMAT");
        let provider = EnvVars {
            env: Env::prefixed("COORDINATOR_").split("__"),
            var_name: prefixed_var_name,
        };
        let named = figment::Provider::metadata(&provider)
            .interpolate(&figment::Profile::Default, &["log", "filter"]);
        assert_eq!(named, "environment variable COORDINATOR_LOG__FILTER");
    }

    #[test]
    fn an_unset_key_comes_from_the_built_in_default() {
        let dir = dir_with_local("[log]\nformat = \"json\"\n");
        let figment = files_only(dir.path());
        assert_eq!(origin(&figment, "http.listen"), BUILT_IN_DEFAULT);
        assert!(origin(&figment, "log.format").ends_with("local.toml"));
        assert!(origin(&figment, "log.filter").ends_with("default.toml"));
    }

    #[test]
    fn token_format_is_three_base64url_parts() {
        let good =
            Token::new("MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbcde.abcdefghijklmnopqrstuvwxyz_-0123456789");
        assert!(good.check_format().is_ok());
        for bad in [
            "abc",
            "a.b",
            "a..c",
            "a.b.c.d",
            "a.b c.d",
            "a.b.c=",
            "a.b.\u{e9}",
        ] {
            assert!(Token::new(bad).check_format().is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_built_in_code_are_validated_too() {
        let mut settings = Settings {
            discord: DiscordSettings::default(),
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            http: HttpSettings::default(),
        };
        assert!(settings.validate().is_ok());
        settings.database.url = "mysql://x".into();
        settings.discord.guild_id = Some(0);
        let err = settings
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("database.url") && err.contains("discord.guild_id"),
            "{err}"
        );
    }

    #[test]
    fn default_toml_documents_every_key() {
        let shipped = include_str!("../config/default.toml");
        for (section, keys) in [
            ("[discord]", &["api_base", "guild_id"][..]),
            ("[database]", &["url"]),
            ("[log]", &["filter", "format"]),
            ("[http]", &["listen", "public_url"]),
        ] {
            let start = shipped.find(section).expect(section);
            let body = &shipped[start..];
            let body = &body[..body[1..].find("\n[").map_or(body.len(), |end| end + 1)];
            for key in keys {
                assert!(
                    body.contains(&format!("\n{key} = "))
                        || body.contains(&format!("\n# {key} = ")),
                    "{section} {key}"
                );
            }
        }
    }

    #[test]
    fn unknown_keys_are_listed_with_their_source() {
        let dir = dir_with_local(
            "[http]\nlsiten = \"127.0.0.1:1\"\n[discord]\ntoken = \"x\"\n[extra]\na = 1\n",
        );
        let unknown = unknown_keys(&files_only(dir.path()));
        assert_eq!(unknown.len(), 3, "{unknown:?}");
        assert!(
            unknown[0].starts_with("discord.token (from ") && unknown[0].contains("DISCORD_TOKEN"),
            "{unknown:?}"
        );
        assert!(unknown[1].starts_with("extra.a (from "), "{unknown:?}");
        assert!(
            unknown[2].starts_with("http.lsiten (from ") && unknown[2].contains("local.toml"),
            "{unknown:?}"
        );
        let clean = dir_with_local("[http]\nlisten = \"127.0.0.1:1\"\n");
        assert_eq!(
            unknown_keys(&files_only(clean.path())),
            Vec::<String>::new()
        );
    }
}
