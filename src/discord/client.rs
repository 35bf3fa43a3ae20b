//! The gateway client and the HTTP client. Every REST call goes to `DISCORD_API_BASE`
//! (serenity's proxy setting, which only routes with its rate limiter off); the HTTP client's
//! default `allowed_mentions` pings nobody.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serenity::all::{
    Command, Context as SerenityContext, CreateInteractionResponse,
    CreateInteractionResponseMessage, EventHandler, GatewayIntents, Guild, GuildId, Interaction,
    Ready, ResumedEvent, Role, RoleId, ShardStageUpdateEvent,
};
use serenity::http::{Http, HttpBuilder, HttpError};
use serenity::Client;
use tokio::sync::RwLock;
use tracing::{debug, error, info, warn};

use super::registry::{self, registrations, Visibility};
use super::router;
use crate::app::App;
use crate::config::Token;
use crate::render::ids::CustomId;
use crate::render::{self, no_pings};

pub fn http_client(token: &Token, api_base: &str) -> Http {
    HttpBuilder::new(token.expose())
        .proxy(api_base.trim_end_matches('/'))
        .ratelimiter_disabled(true)
        .default_allowed_mentions(no_pings())
        .build()
}

struct Handler {
    app: Arc<App>,
    guild_id: Option<u64>,
    /// Held for reading by every command in flight; shutdown takes it for writing to wait them out.
    in_flight: Arc<RwLock<()>>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: SerenityContext, ready: Ready) {
        self.app.metrics.gateway_session();
        let shard = ready.shard.map(|s| s.id.0);
        info!(user = %ready.user.name, guilds = ready.guilds.len(), ?shard, "connected to the gateway");
        // One registration per installation start: the first shard's (every shard has the same).
        if shard.is_some_and(|id| id != 0) {
            return;
        }
        let commands = registrations();
        let result = match self.guild_id {
            Some(guild) => GuildId::new(guild)
                .set_commands(&ctx.http, commands)
                .await
                .map(|c| c.len()),
            None => Command::set_global_commands(&ctx.http, commands)
                .await
                .map(|c| c.len()),
        };
        match result {
            Ok(count) => info!(count, guild = ?self.guild_id, "slash commands registered"),
            Err(e) => error!(error = %e, "could not register slash commands"),
        }
    }

    async fn resume(&self, _ctx: SerenityContext, _event: ResumedEvent) {
        self.app.metrics.gateway_session();
        info!("gateway session resumed");
    }

    async fn shard_stage_update(&self, _ctx: SerenityContext, event: ShardStageUpdateEvent) {
        info!(shard = event.shard_id.0, old = %event.old, new = %event.new, "gateway stage");
    }

    /// A server the bot joined after this installation first started gets one getting-started
    /// message in its system channel; servers it was already in never do (docs/behaviour.md §12).
    async fn guild_create(&self, _ctx: SerenityContext, guild: Guild, _is_new: Option<bool>) {
        let app = &self.app;
        let now = app.clock.now();
        let joined = DateTime::<Utc>::from_timestamp(guild.joined_at.unix_timestamp(), 0);
        let guild_id = crate::domain::ids::GuildId::new(guild.id.get());
        let first_start = match app.db.first_start(now).await {
            Ok(at) => at,
            Err(e) => {
                warn!(error = %e, guild = guild_id.get(), "could not read the first start");
                return;
            }
        };
        let channel = guild
            .system_channel_id
            .map(|c| crate::domain::ids::ChannelId::new(c.get()));
        let body = crate::render::welcome_body();
        let joined_since = joined.is_some_and(|joined| joined > first_start);
        let greeting = joined_since.then_some((channel, body.as_str()));
        match app.db.claim_welcome(guild_id, greeting, now).await {
            Ok(true) if !joined_since => {}
            Ok(true) if channel.is_none() => {
                info!(
                    guild = guild_id.get(),
                    "joined a server without a system channel: no welcome"
                )
            }
            Ok(true) => info!(guild = guild_id.get(), "welcome message queued"),
            Ok(false) => {}
            Err(e) => warn!(error = %e, guild = guild_id.get(), "could not queue the welcome"),
        }
    }

    /// A deleted manager role grants nothing anyway (members no longer carry it); clearing the
    /// setting keeps refusals from naming a role that no longer exists.
    async fn guild_role_delete(
        &self,
        _ctx: SerenityContext,
        guild_id: GuildId,
        removed_role_id: RoleId,
        _removed_role: Option<Role>,
    ) {
        match self
            .app
            .db
            .forget_manager_role(
                crate::domain::ids::GuildId::new(guild_id.get()),
                crate::domain::ids::RoleId::new(removed_role_id.get()),
            )
            .await
        {
            Ok(true) => warn!(
                guild = guild_id.get(),
                role = removed_role_id.get(),
                "the manager role was deleted from the guild; the setting is cleared"
            ),
            Ok(false) => {}
            Err(e) => {
                error!(error = %e, guild = guild_id.get(), "could not clear a deleted manager role")
            }
        }
    }

    async fn interaction_create(&self, ctx: SerenityContext, interaction: Interaction) {
        let received = std::time::Instant::now();
        // Before the in-flight guard: a shutdown test reads this to know what reached the bot.
        tracing::debug!(interaction = %interaction.id(), "interaction received");
        let _in_flight = self.in_flight.read().await;
        // Slash commands and buttons are timed; autocomplete is not a command.
        let timed = match &interaction {
            Interaction::Command(c) => Some(registry::command_labels(c)),
            Interaction::Component(c) => Some(registry::button_labels(
                c.data.custom_id.parse::<CustomId>().ok().as_ref(),
            )),
            _ => None,
        };
        let record_latency = || {
            if let Some(labels) = timed {
                self.app.metrics.command_latency(labels, received.elapsed());
            }
        };
        let (id, token) = match &interaction {
            Interaction::Command(c) | Interaction::Autocomplete(c) => (c.id, c.token.as_str()),
            Interaction::Component(c) => (c.id, c.token.as_str()),
            Interaction::Modal(m) => (m.id, m.token.as_str()),
            Interaction::Ping(p) => (p.id, p.token.as_str()),
            _ => return,
        };
        let handling = router::handle(&self.app, &interaction);
        tokio::pin!(handling);
        // A form must be the first response and an autocomplete cannot be deferred either: too
        // slow, the form is given up with a private "try again", the autocomplete answered empty.
        let form = router::may_answer_with_form(&interaction);
        let autocomplete = matches!(interaction, Interaction::Autocomplete(_));
        let response = tokio::select! {
            response = &mut handling => response,
            () = tokio::time::sleep(FORM_WINDOW), if form || autocomplete => {
                let sorry = if autocomplete {
                    CreateInteractionResponse::Autocomplete(Default::default())
                } else {
                    render::private(router::FORM_TOO_SLOW)
                };
                if let Err(e) = respond(&ctx.http, id, token, &sorry, received).await {
                    warn!(error = %e, interaction = %id, "could not answer an interaction");
                }
                record_latency();
                return;
            }
            () = tokio::time::sleep(DEFER_AFTER), if !form && matches!(interaction, Interaction::Command(_)) => {
                // Too slow for Discord's 3-second window: acknowledge now, edit the answer in later.
                answer_late(&ctx, &interaction, id, token, handling, received).await;
                record_latency();
                return;
            }
        };
        let Some(answer) = response else {
            return;
        };
        if let Err(e) = respond(&ctx.http, id, token, &answer.response, received).await {
            warn!(error = %e, interaction = %id, "could not answer an interaction");
        }
        record_latency();
    }
}

/// Commands still working after this are deferred, well inside Discord's 3-second window.
const DEFER_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// A form not ready by then is given up with a private "try again".
const FORM_WINDOW: std::time::Duration = std::time::Duration::from_millis(2_500);

async fn answer_late(
    ctx: &SerenityContext,
    interaction: &Interaction,
    id: serenity::all::InteractionId,
    token: &str,
    handling: impl std::future::Future<Output = Option<router::Answer>>,
    received: std::time::Instant,
) {
    let ephemeral = router::expected_visibility(interaction) == Visibility::Private;
    let defer = CreateInteractionResponse::Defer(
        CreateInteractionResponseMessage::new().ephemeral(ephemeral),
    );
    if let Err(e) = respond(&ctx.http, id, token, &defer, received).await {
        warn!(error = %e, interaction = %id, "could not defer a slow interaction");
    }
    let Some(answer) = handling.await else {
        return;
    };
    // The deferred answer is the message the response would have carried.
    let data = serde_json::to_value(&answer.response)
        .ok()
        .and_then(|value| value.get("data").cloned())
        .unwrap_or_default();
    if answer.visibility == Visibility::Private && !ephemeral {
        answer_privately_after_public_defer(ctx, id, token, &data).await;
        return;
    }
    let mut attempt = 1;
    loop {
        match ctx
            .http
            .edit_original_interaction_response(token, &data, Vec::new())
            .await
        {
            Ok(_) => return,
            // An edit is idempotent, and the token lives 15 minutes: retrying is always safe.
            Err(e) if transient(&e) && attempt < EDIT_ATTEMPTS => {
                debug!(error = %e, interaction = %id, attempt, "retrying a deferred answer");
                tokio::time::sleep(RETRY_PAUSE * attempt).await;
                attempt += 1;
            }
            Err(e) => {
                warn!(error = %e, interaction = %id, "could not deliver a deferred answer");
                return;
            }
        }
    }
}

/// A command expected to answer the channel was deferred publicly, but its answer is for the
/// caller alone (a refusal, an error): that must not land in the channel, so the public
/// "thinking…" placeholder is removed and the answer comes as a private follow-up.
async fn answer_privately_after_public_defer(
    ctx: &SerenityContext,
    id: serenity::all::InteractionId,
    token: &str,
    data: &serde_json::Value,
) {
    if let Err(e) = ctx.http.delete_original_interaction_response(token).await {
        warn!(error = %e, interaction = %id, "could not remove a deferred placeholder");
    }
    if let Err(e) = ctx
        .http
        .create_followup_message(token, data, Vec::new())
        .await
    {
        warn!(error = %e, interaction = %id, "could not deliver a private deferred answer");
    }
}

/// Discord refuses an interaction callback after 3 s: retries stop short of that.
const ANSWER_WINDOW: std::time::Duration = std::time::Duration::from_millis(2_700);
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
const EDIT_ATTEMPTS: u32 = 5;

/// Sends an interaction callback, retrying 429s, 5xx answers and lost connections while the
/// window is open. A 5xx or a lost connection may hide a callback Discord did take: then the
/// retry gets 40060 "already acknowledged", which means the interaction is answered.
async fn respond(
    http: &Http,
    id: serenity::all::InteractionId,
    token: &str,
    response: &CreateInteractionResponse,
    received: std::time::Instant,
) -> serenity::Result<()> {
    let mut attempt = 1;
    loop {
        let error = match http
            .create_interaction_response(id, token, response, Vec::new())
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if attempt > 1 && error_code(&error) == Some(ALREADY_ACKNOWLEDGED) {
            debug!(interaction = %id, attempt, "an earlier answer had reached Discord");
            return Ok(());
        }
        let pause = RETRY_PAUSE * attempt;
        if !transient(&error) || received.elapsed() + pause >= ANSWER_WINDOW {
            return Err(error);
        }
        debug!(error = %error, interaction = %id, attempt, "retrying an interaction answer");
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

const ALREADY_ACKNOWLEDGED: isize = 40060;

fn error_code(error: &serenity::Error) -> Option<isize> {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            Some(response.error.code)
        }
        _ => None,
    }
}

/// Worth retrying: rate limited, a server error, or no answer at all.
fn transient(error: &serenity::Error) -> bool {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            response.status_code.as_u16() == 429 || response.status_code.is_server_error()
        }
        serenity::Error::Http(HttpError::Request(_)) => true,
        _ => false,
    }
}

/// Builds the gateway client around `app`.
pub async fn gateway_client(
    app: Arc<App>,
    token: &Token,
    api_base: &str,
    guild_id: Option<u64>,
    in_flight: Arc<RwLock<()>>,
) -> serenity::Result<Client> {
    let http = http_client(token, api_base);
    // Interactions arrive without any privileged intent.
    serenity::client::ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
        .event_handler(Handler {
            app,
            guild_id,
            in_flight,
        })
        .await
}
