//! `/project …`.

use serenity::all::CreateInteractionResponse;

use super::context::Context;
use super::invocation::Invocation;
use super::CommandResult;
use crate::domain::guild::Project;
use crate::domain::permissions::Action;
use crate::domain::{validate, UserError};
use crate::render::{self, private, private_embed, public};

pub async fn create(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage("create projects"))?;
    let name = validate::project_name(inv.required_str("name")?)?;
    let description = inv
        .str("description")
        .map(validate::description)
        .transpose()?
        .filter(|d| !d.is_empty());
    let channel = inv.channel("channel");
    let project = ctx
        .app
        .db
        .create_project(
            ctx.guild_id,
            &name,
            channel,
            description.as_deref(),
            ctx.actor.user_id,
            ctx.now,
        )
        .await?;
    let route = match project.channel_id {
        Some(channel) => format!(
            "its reminders and alerts go to {}",
            render::channel(channel)
        ),
        None => "its reminders follow the alerts channel".into(),
    };
    Ok(public(
        format!(
            "📁 Project **{}** created; {route}.",
            render::typed(&project.name)
        ),
        &[],
    ))
}

pub async fn list(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    let projects = ctx.app.db.projects(ctx.guild_id).await?;
    if projects.is_empty() {
        return Ok(private(
            "No projects yet. A manager can create one with /project create.",
        ));
    }
    let lines: Vec<String> = projects
        .iter()
        .map(|p| {
            let mut line = format!("**{}**", render::typed(&p.name));
            if let Some(channel) = p.channel_id {
                line.push_str(&format!(" · {}", render::channel(channel)));
            }
            if p.is_archived() {
                line.push_str(" · archived");
            }
            if let Some(d) = &p.description {
                line.push_str(&format!(" — {}", render::fit(&render::typed(d), 100)));
            }
            line
        })
        .collect();
    let embed = render::embed("Projects")
        .description(render::lines_within(&lines, render::EMBED_DESCRIPTION_MAX));
    Ok(private_embed(embed, Vec::new()))
}

/// A project of this guild by name (archived ones included), or a clear error.
pub(super) async fn named(ctx: &Context<'_>, name: &str) -> CommandResult<Project> {
    Ok(ctx
        .app
        .db
        .project_by_name(ctx.guild_id, name.trim())
        .await?
        .ok_or_else(|| {
            UserError::NotFound(format!(
                "There is no project called \"{}\". /project list shows them.",
                crate::domain::clip(&render::typed(name), 50)
            ))
        })?)
}

pub async fn archive(
    ctx: &Context<'_>,
    inv: &Invocation,
) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Manage("archive projects"))?;
    let project = named(ctx, inv.required_str("project")?).await?;
    if project.is_archived() {
        return Err(UserError::Invalid(format!(
            "The project \"{}\" is already archived.",
            render::typed(&project.name)
        ))
        .into());
    }
    ctx.app.db.archive_project(project.id, ctx.now).await?;
    Ok(public(
        format!(
            "🗄️ Project **{}** is archived; it takes no new tasks.",
            render::typed(&project.name)
        ),
        &[],
    ))
}

/// `/project feed`: the project's calendar-feed link, shown only to the manager who asked.
pub async fn feed(ctx: &Context<'_>, inv: &Invocation) -> CommandResult<CreateInteractionResponse> {
    ctx.require(Action::Feed)?;
    let project = named(ctx, inv.required_str("project")?).await?;
    if project.is_archived() {
        return Err(UserError::Invalid(format!(
            "The project \"{}\" is archived; its calendar feed can't be changed or shared.",
            render::typed(&project.name)
        ))
        .into());
    }
    let Some(base) = ctx.app.public_url.as_deref() else {
        return Ok(private(
            "Calendar feeds need the bot's HTTP listener, which is off. Whoever runs the bot can \
             turn it on with the setting `http.listen` (for example \
             `COORDINATOR_HTTP__LISTEN=0.0.0.0:8080`) and, behind a proxy, `http.public_url`; see \
             the README's \"Calendar feeds\".",
        ));
    };
    let rotate = inv.bool("rotate").unwrap_or(false);
    let token = if rotate {
        ctx.app.db.rotate_feed_token(project.id, ctx.now).await?
    } else {
        ctx.app.db.feed_token(project.id, ctx.now).await?
    };
    let url = format!("{base}/feeds/{token}.ics");
    let what = if rotate {
        "New calendar feed for"
    } else {
        "Calendar feed for"
    };
    let mut text = format!(
        "📅 {what} **{}**: <{url}>\nSubscribe to it in Google Calendar, Outlook or Apple Calendar \
         (\"add calendar from URL\"). It lists the project's open tasks with due times. Anyone \
         with the link can read it: keep it private",
        render::typed(&project.name)
    );
    text.push_str(if rotate {
        "; the previous link has stopped working."
    } else {
        ", or make a new one with `rotate:True` (the old link then stops working)."
    });
    Ok(private(text))
}
