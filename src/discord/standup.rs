//! `/standup …` and `/checkin`.

use serenity::all::{CreateInteractionResponse, CreateInteractionResponseMessage};

use super::context::Context;
use super::invocation::Invocation;
use super::CommandResult;
use crate::app::prepare_summary;
use crate::domain::permissions::Action;
use crate::domain::schedule::StandupSchedule;
use crate::domain::summary::Checkin;
use crate::domain::{validate, UserError};
use crate::render::summary::summary_embeds;
use crate::render::{self, no_pings, private};

pub async fn schedule(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage)?;
    let schedule = StandupSchedule::parse(inv.required_str("time")?, inv.str("days"))?;
    let channel = inv.required_channel("channel")?;
    let never =
        || UserError::Invalid("That schedule never fires; pick a time and days that exist.".into());
    schedule
        .next_after(ctx.now, ctx.settings.timezone)
        .ok_or_else(never)?;
    // The next run is computed in the zone stored when the schedule is written.
    let now = ctx.now;
    let (zone, next) = ctx
        .app
        .db
        .set_standup(ctx.guild_id, channel, schedule.expr(), |zone| {
            schedule.next_after(now, zone)
        })
        .await?;
    let next = next.ok_or_else(never)?;
    Ok(private(format!(
        "The standup summary goes to {} at {} ({}). The next one: {}.",
        render::channel(channel),
        schedule.describe(),
        zone.name(),
        render::due(next)
    )))
}

pub async fn now(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let since = ctx
        .app
        .db
        .standup(ctx.guild_id)
        .await?
        .and_then(|s| s.last_summary_at);
    // A preview only reads: it marks no check-in as shown and does not move "since".
    let (summary, _) = prepare_summary(&ctx.app.db, ctx.guild_id, since, ctx.now).await?;
    let mut messages = summary_embeds(&summary, "Standup preview").into_iter();
    let first = messages.next().unwrap_or_default();
    let more = messages.count();
    let mut message = CreateInteractionResponseMessage::new()
        .embeds(first)
        .allowed_mentions(no_pings());
    if more > 0 {
        message = message.content(format!(
            "Preview of the first part; the scheduled summary will have {more} more message(s)."
        ));
    }
    Ok(CreateInteractionResponse::Message(message))
}

pub async fn off(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage)?;
    let was_on = ctx.app.db.standup_off(ctx.guild_id).await?;
    Ok(private(if was_on {
        "Scheduled standup summaries are off. /standup schedule turns them on again."
    } else {
        "No standup summary was scheduled."
    }))
}

pub async fn checkin(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let checkin = Checkin {
        user_id: ctx.actor.user_id,
        yesterday: validate::note("answer for yesterday", inv.required_str("yesterday")?)?,
        today: validate::note("answer for today", inv.required_str("today")?)?,
        blockers: inv
            .str("blockers")
            .map(|b| validate::note("answer for blockers", b))
            .transpose()?,
        at: ctx.now,
    };
    let replaced = ctx.app.db.record_checkin(ctx.guild_id, &checkin).await?;
    Ok(private(if replaced {
        "Check-in updated: it replaces your earlier one in the next summary."
    } else {
        "Check-in saved: it will be in the next summary."
    }))
}
