//! `/notify`: where the caller's reminders reach them in this server (docs/behaviour.md §10).

use serenity::all::CreateInteractionResponse;

use super::context::Context;
use super::invocation::Invocation;
use super::CommandResult;
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
