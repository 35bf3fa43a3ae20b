//! `/notify`: where the caller's reminders reach them in this server (docs/behaviour.md §10).

use serenity::all::CreateInteractionResponse;

use super::context::Context;
use super::invocation::Invocation;
use super::CommandResult;
use crate::app::App;
use crate::domain::digest::{next_digest_at, parse_digest_time};
use crate::domain::ids::{GuildId, UserId};
use crate::domain::notify::ReminderDelivery;
use crate::domain::UserError;
use crate::render::{self, private};
use crate::store::DM_RETRY_AFTER;

pub async fn notify(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let db = &ctx.app.db;
    let user = ctx.actor.user_id;
    let changed = match inv.str("reminders") {
        Some(text) => {
            let choice: ReminderDelivery = text
                .parse()
                .map_err(|()| UserError::Invalid("reminders takes channel, dm or both.".into()))?;
            db.set_reminder_delivery(ctx.guild_id, user, choice).await?;
            true
        }
        None => false,
    };
    let digest_changed = match inv.str("digest") {
        Some(text) => {
            let digest = match parse_digest_time(text)? {
                Some(time) => {
                    // Read in the caller's zone, else the guild's; kept with the digest.
                    let zone = ctx.typing_zone().await?;
                    next_digest_at(time, zone, ctx.now).map(|next| (time, zone, next))
                }
                None => None,
            };
            db.set_digest(ctx.guild_id, user, digest).await?;
            true
        }
        None => false,
    };
    let changed = changed || digest_changed;
    let choice = db.reminder_delivery(ctx.guild_id, user).await?;
    let mut text = match choice {
        ReminderDelivery::Channel => "Your deadline reminders here go to the task's channel. \
             `/notify reminders:dm` sends them to you by direct message instead (with working \
             buttons); `both` does both."
            .to_string(),
        ReminderDelivery::Dm => "Your deadline reminders here come to you by direct message, with \
             their buttons. Overdue alerts and escalations go to the channel, the team's shared \
             view, and to you by DM too."
            .to_string(),
        ReminderDelivery::Both => {
            "Your deadline reminders here go to the task's channel and to you \
             by direct message. Overdue alerts and escalations too."
                .to_string()
        }
    };
    match db.digest_of(ctx.guild_id, user).await? {
        Some((time, zone)) => text.push_str(&format!(
            "\nMorning digest: weekdays at {} ({}), listing your tasks that are overdue, due \
             today or blocked (nothing on a day with none, or while you are away). \
             `/notify digest:off` stops it.",
            time.format("%H:%M"),
            zone.name()
        )),
        None => text.push_str(
            "\nMorning digest: off. `/notify digest:08:30` sends you a weekday-morning DM of \
             your overdue, due-today and blocked tasks.",
        ),
    }
    if changed {
        text.insert_str(0, "Saved. ");
    }
    if choice != ReminderDelivery::Channel {
        if let Some((at, _)) = db.dm_refusal(user).await? {
            if at > ctx.now - DM_RETRY_AFTER {
                text.push_str(&format!(
                    "\n⚠ My direct messages to you are failing: Discord refused one {}, so what \
                     was meant for your DMs goes to the channel. To get them, allow direct \
                     messages from this server (server name → Privacy Settings → Direct \
                     Messages), then run `/notify reminders:{choice}` again; otherwise I try again \
                     a week after the refusal.",
                    render::relative(at)
                ));
            }
        }
    }
    Ok(private(text))
}

/// **Stop these DMs** on a digest: turns it off in the guild it came from, privately confirmed.
pub async fn stop_digest(
    app: &App,
    guild_id: GuildId,
    user_id: UserId,
) -> CommandResult<CreateInteractionResponse> {
    app.db.set_digest(guild_id, user_id, None).await?;
    Ok(private(
        "Your morning digest is off. `/notify digest:08:30` turns it on again.",
    ))
}
