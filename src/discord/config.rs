//! `/config …` and the personal `/timezone`.

use serenity::all::CreateInteractionResponse;

use super::commands::Invocation;
use super::render::{self, private, private_embed};
use super::router::{manager_role_label, Context};
use super::CommandResult;
use crate::domain::permissions::Action;
use crate::domain::validate;

pub async fn show(ctx: &Context<'_>) -> CommandResult<CreateInteractionResponse> {
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
            .map(|(channel, _, error)| format!("<#{channel}>: {}", render::fit(error, 80)))
            .collect();
        render::lines_within(&lines, render::FIELD_VALUE_MAX)
    };
    let embed = render::embed("Coordinator settings")
        .field("Manager role", manager_role_label(s), false)
        .field("Time zone", s.timezone.name(), true)
        .field(
            "Alerts channel",
            s.alerts_channel_id
                .map(|c| format!("<#{c}>"))
                .unwrap_or_else(|| {
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
                        "<#{}> at `{}`; next {}",
                        standup.channel_id,
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
    ctx.require(Action::Manage)?;
    let role = inv.required_id("role")?;
    let mut settings = ctx.settings.clone();
    settings.manager_role_id = Some(role);
    ctx.app.db.save_guild_settings(&settings).await?;
    Ok(private(format!(
        "Managers are now the members of <@&{role}> (plus anyone with Administrator or Manage Server)."
    )))
}

pub async fn timezone(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage)?;
    let zone = validate::time_zone(inv.required_str("zone")?)?;
    let mut settings = ctx.settings.clone();
    settings.timezone = zone;
    ctx.app.db.save_guild_settings(&settings).await?;
    // A scheduled standup follows the new zone.
    if let Some(standup) = ctx.app.db.standup(ctx.guild_id).await? {
        if standup.next_run_at.is_some() {
            if let Ok(schedule) =
                crate::domain::schedule::StandupSchedule::from_expr(&standup.schedule)
            {
                let next = schedule.next_after(ctx.now, zone);
                ctx.app
                    .db
                    .set_standup(ctx.guild_id, standup.channel_id, &standup.schedule, next)
                    .await?;
                ctx.app.duties_changed();
            }
        }
    }
    Ok(private(format!(
        "This server's time zone is now {}. Dates people type are read in it unless they set their own with /timezone.",
        zone.name()
    )))
}

pub async fn alerts_channel(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage)?;
    let channel = inv.required_id("channel")?;
    let mut settings = ctx.settings.clone();
    settings.alerts_channel_id = Some(channel);
    ctx.app.db.save_guild_settings(&settings).await?;
    ctx.app.duties_changed();
    Ok(private(format!(
        "Reminders and alerts for tasks without a project channel now go to <#{channel}>."
    )))
}

pub async fn reminders(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage)?;
    let offsets = validate::reminder_offsets(inv.required_str("offsets")?)?;
    let mut settings = ctx.settings.clone();
    settings.reminder_offsets = offsets.clone();
    ctx.app.db.save_guild_settings(&settings).await?;
    ctx.app.db.refresh_guild_duties(ctx.guild_id).await?;
    ctx.app.duties_changed();
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
