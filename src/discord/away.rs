//! `/away set`, `/away clear` and `/away list` (docs/behaviour.md §9).

use serenity::all::CreateInteractionResponse;

use super::context::Context;
use super::invocation::Invocation;
use super::CommandResult;
use crate::domain::ids::UserId;
use crate::domain::permissions::Action;
use crate::domain::roster::{read_away, AwayPeriod};
use crate::domain::validate;
use crate::render::{self, private};

/// The member an away command is about: the caller, or (managers only) `user`.
fn whose(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<UserId> {
    match inv.user("user") {
        Some(user) if user != ctx.actor.user_id => {
            ctx.require(Action::AwayOthers)?;
            Ok(user)
        }
        _ => Ok(ctx.actor.user_id),
    }
}

pub async fn set(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let user = whose(ctx, inv)?;
    let zone = ctx.typing_zone().await?;
    let (from, until) = read_away(inv.required_str("until")?, inv.str("from"), ctx.now, zone)?;
    let note = inv
        .str("note")
        .map(|note| validate::note("note", note))
        .transpose()?;
    let period = AwayPeriod {
        user_id: user,
        from,
        until,
        note,
    };
    ctx.app
        .db
        .set_away(ctx.guild_id, &period, ctx.actor.user_id)
        .await?;
    let who = if user == ctx.actor.user_id {
        "You are".to_string()
    } else {
        format!("{} is", render::user(user))
    };
    let starts = if from <= ctx.now {
        "from now".to_string()
    } else {
        format!("from {}", render::when(from))
    };
    Ok(private(format!(
        "{who} away {starts} until {}: no standup asks or DMs, not counted missing, and \
         reminders for their tasks name them without a ping. /away clear ends it early.",
        render::when(until)
    )))
}

pub async fn clear(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let user = whose(ctx, inv)?;
    let cleared = ctx.app.db.clear_away(ctx.guild_id, user, ctx.now).await?;
    let who = if user == ctx.actor.user_id {
        "You".to_string()
    } else {
        render::user(user)
    };
    Ok(private(if cleared {
        format!("{who}: the away period is over; standup asks resume with the next summary.")
    } else {
        format!("{who}: no away period was set.")
    }))
}

pub async fn list(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let periods = ctx.app.db.away_periods(ctx.guild_id, ctx.now).await?;
    if periods.is_empty() {
        return Ok(private("Nobody is away."));
    }
    let lines: Vec<String> = periods
        .iter()
        .map(|p| {
            let from = if p.from <= ctx.now {
                String::new()
            } else {
                format!("from {} ", render::when(p.from))
            };
            let note = p
                .note
                .as_deref()
                .map(|n| format!(" — {}", render::typed(n)))
                .unwrap_or_default();
            format!(
                "{} {from}until {}{note}",
                render::user(p.user_id),
                render::when(p.until)
            )
        })
        .collect();
    Ok(private(render::lines_within(&lines, render::CONTENT_MAX)))
}
