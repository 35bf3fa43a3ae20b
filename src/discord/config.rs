//! `/config …` and the personal `/timezone`. Each setting has its own store write, so two
//! managers changing two settings at the same moment both keep their change.

use serenity::all::CreateInteractionResponse;

use super::context::Context;
use super::invocation::Invocation;
use super::router::manager_role_label;
use super::CommandResult;
use crate::domain::permissions::Action;
use crate::domain::schedule::StandupSchedule;
use crate::domain::validate;
use crate::render::{self, private, private_embed};

pub async fn show(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let s = &ctx.settings;
    let offsets: Vec<String> = s
        .reminder_offsets
        .iter()
        .map(|o| validate::format_offset(*o))
        .collect();
    let failed = ctx.app.db.channel_failures(ctx.guild_id).await?;
    let failures = if failed.is_empty() {
        "none".to_string()
    } else {
        let lines: Vec<String> = failed
            .iter()
            .map(|(channel, _, error)| {
                format!("{}: {}", render::channel(*channel), render::fit(error, 80))
            })
            .collect();
        render::lines_within(&lines, render::FIELD_VALUE_MAX)
    };
    let embed = render::embed("Coordinator settings")
        .field("Manager role", manager_role_label(s), false)
        .field("Time zone", s.timezone.name(), true)
        .field(
            "Alerts channel",
            s.alerts_channel_id.map(render::channel).unwrap_or_else(|| {
                "not set: reminders go to the channel a task was created in".into()
            }),
            true,
        )
        .field("Reminders before the due time", offsets.join(", "), true)
        .field(
            "Standup summary",
            match ctx.app.db.standup(ctx.guild_id).await? {
                Some(standup) => match standup.next_run_at {
                    Some(next) => format!(
                        "{} at `{}`; next {}",
                        render::channel(standup.channel_id),
                        standup.schedule,
                        render::due(next)
                    ),
                    None => "off".into(),
                },
                None => "not scheduled".into(),
            },
            false,
        )
        .field("Channels I could not post to", failures, false);
    Ok(private_embed(embed, Vec::new()))
}

pub async fn manager_role(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage("choose the manager role"))?;
    let role = inv.required_role("role")?;
    ctx.app.db.set_manager_role(ctx.guild_id, role).await?;
    Ok(private(format!(
        "Managers are now the members of {} (plus anyone with Administrator or Manage Server).",
        render::role(role)
    )))
}

pub async fn timezone(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage("change the server's time zone"))?;
    let zone = validate::time_zone(inv.required_str("zone")?)?;
    let now = ctx.now;
    // A scheduled standup follows the new zone, in the same write.
    ctx.app
        .db
        .set_timezone(ctx.guild_id, zone, |schedule| {
            StandupSchedule::from_expr(schedule)
                .ok()
                .and_then(|schedule| schedule.next_after(now, zone))
        })
        .await?;
    Ok(private(format!(
        "This server's time zone is now {}. Dates people type are read in it unless they set their own with /timezone.",
        zone.name()
    )))
}

pub async fn alerts_channel(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage("choose the alerts channel"))?;
    let channel = inv.required_channel("channel")?;
    ctx.app.db.set_alerts_channel(ctx.guild_id, channel).await?;
    Ok(private(format!(
        "Reminders and alerts for tasks without a project channel now go to {}.",
        render::channel(channel)
    )))
}

pub async fn reminders(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage("change the reminder times"))?;
    let offsets = validate::reminder_offsets(inv.required_str("offsets")?)?;
    ctx.app
        .db
        .set_reminder_offsets(ctx.guild_id, &offsets)
        .await?;
    let shown: Vec<String> = offsets
        .iter()
        .map(|o| validate::format_offset(*o))
        .collect();
    Ok(private(format!(
        "Deadline reminders now fire {} before each due time.",
        shown.join(", ")
    )))
}

pub async fn personal_timezone(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    let zone = validate::time_zone(inv.required_str("zone")?)?;
    ctx.app
        .db
        .set_user_timezone(ctx.actor.user_id, zone)
        .await?;
    Ok(private(format!(
        "Your time zone is now {}: the dates you type are read in it.",
        zone.name()
    )))
}
