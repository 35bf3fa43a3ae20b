//! `/standup …` and `/checkin`.

use serenity::all::{CreateInteractionResponse, CreateInteractionResponseMessage};

use super::context::Context;
use super::invocation::Invocation;
use super::CommandResult;
use chrono::{DateTime, Utc};

use crate::app::{prepare_summary, roster_attendance, App};
use crate::domain::ids::{GuildId, UserId};
use crate::domain::permissions::Action;
use crate::domain::roster::PromptLead;
use crate::domain::schedule::StandupSchedule;
use crate::domain::summary::Checkin;
use crate::domain::{validate, UserError};
use crate::render::ids::CheckinForm;
use crate::render::standup::checkin_form;
use crate::render::summary::summary_embeds;
use crate::render::{self, no_pings, private};

pub async fn schedule(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage("schedule the standup summary"))?;
    let schedule = StandupSchedule::parse(inv.required_str("time")?, inv.str("days"))?;
    let channel = inv.required_channel("channel")?;
    let lead = inv.str("prompt").map(PromptLead::parse).transpose()?;
    let never =
        || UserError::Invalid("That schedule never fires; pick a time and days that exist.".into());
    schedule
        .next_after(ctx.now, ctx.settings.timezone)
        .ok_or_else(never)?;
    // The next run is computed in the zone stored when the schedule is written.
    let now = ctx.now;
    let (zone, next, lead) = ctx
        .app
        .db
        .set_standup(ctx.guild_id, channel, schedule.expr(), lead, now, |zone| {
            schedule.next_after(now, zone)
        })
        .await?;
    let next = next.ok_or_else(never)?;
    let asking = match lead.lead() {
        Some(_) => format!(
            " The roster is asked by direct message {} before it, and nudged once halfway \
             (/standup roster shows who is on it).",
            lead.describe()
        ),
        None => " Nobody is asked by direct message (prompt: off).".into(),
    };
    Ok(private(format!(
        "The standup summary goes to {} at {} ({}). The next one: {}.{asking}",
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
    ctx.require(Action::Manage("turn the standup summary off"))?;
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
    let (yesterday, today, blockers) =
        (inv.str("yesterday"), inv.str("today"), inv.str("blockers"));
    let (yesterday, today) = match (yesterday, today, blockers) {
        (None, None, None) => return open_checkin_form(ctx, ctx.guild_id, None).await,
        (Some(yesterday), Some(today), _) => (yesterday, today),
        _ => {
            return Err(UserError::Invalid(
                "A check-in needs both yesterday and today (blockers is optional); or give no \
                 option at all to open the form."
                    .into(),
            )
            .into())
        }
    };
    save_checkin(
        ctx.app,
        ctx.guild_id,
        ctx.actor.user_id,
        yesterday,
        today,
        blockers,
        ctx.now,
    )
    .await
}

/// Validates and records a check-in, from `/checkin` or the form, and says what happened.
pub async fn save_checkin(
    app: &App,
    guild_id: GuildId,
    user_id: UserId,
    yesterday: &str,
    today: &str,
    blockers: Option<&str>,
    now: DateTime<Utc>,
) -> CommandResult<CreateInteractionResponse> {
    let checkin = Checkin {
        user_id,
        yesterday: validate::note("answer for yesterday", yesterday)?,
        today: validate::note("answer for today", today)?,
        blockers: blockers
            .filter(|b| !b.trim().is_empty())
            .map(|b| validate::note("answer for blockers", b))
            .transpose()?,
        at: now,
    };
    let replaced = app.db.record_checkin(guild_id, &checkin).await?;
    Ok(private(if replaced {
        "Check-in updated: it replaces your earlier one in the next summary."
    } else {
        "Check-in saved: it will be in the next summary."
    }))
}

/// The check-in form, prefilled with the member's check-in not yet in a summary.
pub async fn open_checkin_form(
    ctx: &Context<'_>,
    guild_id: GuildId,
    prompt_message: Option<u64>,
) -> CommandResult<CreateInteractionResponse> {
    let current = ctx
        .app
        .db
        .pending_checkin_of(guild_id, ctx.actor.user_id)
        .await?;
    Ok(checkin_form(
        CheckinForm { prompt_message },
        current.as_ref(),
    ))
}

/// **Check in** pressed in the standup channel: the presser's own form.
pub async fn checkin_button(ctx: &Context<'_>) -> CommandResult<CreateInteractionResponse> {
    open_checkin_form(ctx, ctx.guild_id, None).await
}

/// **Stop these DMs** pressed where a guild is known (it only appears in DMs, but a copy of a
/// prompt could be anywhere): leaves that guild's roster.
pub async fn stop_dms_button(ctx: &Context<'_>) -> CommandResult<CreateInteractionResponse> {
    stop_dms(ctx.app, ctx.guild_id, ctx.actor.user_id).await
}

/// Takes the member off the guild's roster, confirmed privately.
pub async fn stop_dms(
    app: &App,
    guild_id: GuildId,
    user_id: UserId,
) -> CommandResult<CreateInteractionResponse> {
    app.db.leave_roster(guild_id, user_id).await?;
    Ok(private(
        "You are off the standup roster: no more standup DMs from this server. You can still \
         /checkin, and /standup join puts you back.",
    ))
}

pub async fn join(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let joined = ctx
        .app
        .db
        .join_roster(ctx.guild_id, ctx.actor.user_id, ctx.now)
        .await?;
    Ok(private(if joined {
        "You are on the standup roster: before each summary I ask you for your update by \
         direct message (with a Check in button), and nudge you once if it is still missing. \
         /standup leave takes you off."
    } else {
        "You are already on the standup roster."
    }))
}

pub async fn leave(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let left = ctx
        .app
        .db
        .leave_roster(ctx.guild_id, ctx.actor.user_id)
        .await?;
    Ok(private(if left {
        "You are off the standup roster. You can still /checkin; /standup join puts you back."
    } else {
        "You are not on the standup roster."
    }))
}

pub async fn add(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let user = inv.required_user("user")?;
    if user != ctx.actor.user_id {
        ctx.require(Action::RosterOthers)?;
    }
    let added = ctx.app.db.join_roster(ctx.guild_id, user, ctx.now).await?;
    Ok(private(if added {
        format!("{} is on the standup roster now.", render::user(user))
    } else {
        format!("{} is already on the standup roster.", render::user(user))
    }))
}

pub async fn remove(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let user = inv.required_user("user")?;
    if user != ctx.actor.user_id {
        ctx.require(Action::RosterOthers)?;
    }
    let removed = ctx.app.db.leave_roster(ctx.guild_id, user).await?;
    Ok(private(if removed {
        format!("{} is off the standup roster.", render::user(user))
    } else {
        format!("{} was not on the standup roster.", render::user(user))
    }))
}

pub async fn roster(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let db = &ctx.app.db;
    let members = db.roster(ctx.guild_id).await?;
    if members.is_empty() {
        return Ok(private(
            "Nobody is on the standup roster yet. /standup join adds you; managers can \
             /standup add someone.",
        ));
    }
    let checkins: Vec<Checkin> = db
        .pending_checkins(ctx.guild_id)
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    let seen = roster_attendance(db, ctx.guild_id, &checkins, ctx.now).await?;
    let names = |users: &[UserId]| {
        if users.is_empty() {
            "nobody".to_string()
        } else {
            users
                .iter()
                .map(|u| render::user(*u))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let gone: Vec<UserId> = members
        .iter()
        .filter(|m| m.gone)
        .map(|m| m.user_id)
        .collect();
    let mut lines = vec![
        format!(
            "**Standup roster** ({} members). Checked in since the last summary: {} of {}.",
            members.len(),
            seen.checked_in.len(),
            seen.expected()
        ),
        format!("Checked in: {}", names(&seen.checked_in)),
        format!("Missing: {}", names(&seen.missing)),
    ];
    if !seen.away.is_empty() {
        let away: Vec<String> = seen
            .away
            .iter()
            .map(|(u, until)| format!("{} until {}", render::user(*u), render::when(*until)))
            .collect();
        lines.push(format!("Away: {}", away.join(", ")));
    }
    if !gone.is_empty() {
        lines.push(format!(
            "Left the server (not asked or counted until they act again): {}",
            names(&gone)
        ));
    }
    Ok(private(lines.join("\n")))
}
