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
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads `dir/default.toml`, `dir/local.toml` (if present) and the environment.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let figment = Figment::new()
            .merge(Toml::file(dir.join("default.toml")))
            .merge(Toml::file(dir.join("local.toml")))
            .merge(Env::prefixed("COORDINATOR_").split("__"))
            .merge(Env::raw().filter_map(|key| {
                let mapped = match key.as_str().to_ascii_uppercase().as_str() {
                    "DISCORD_API_BASE" => "discord.api_base",
                    "DISCORD_GUILD_ID" => "discord.guild_id",
                    "DATABASE_URL" => "database.url",
                    "LOG_FORMAT" => "log.format",
                    _ => return None,
                };
                Some(mapped.into())
            }));
        // figment names the file or variable a bad value came from.
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.discord.token = std::env::var("DISCORD_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(Token::new);
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let base = &self.discord.api_base;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "DISCORD_API_BASE must start with http:// or https://, got {base:?}"
            )));
        }
        Ok(())
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
}
