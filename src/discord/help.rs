//! `/help`: the commands the caller may use here, grouped, one example each
//! (docs/behaviour.md §12). Read from the registry, so it cannot drift from what exists.

use serenity::all::CreateInteractionResponse;

use super::context::Context;
use super::invocation::Invocation;
use super::registry::{group_description, spec_path, COMMANDS};
use super::CommandResult;
use crate::render::{self, private_embed, FIELD_VALUE_MAX};

pub async fn help(ctx: &Context<'_>, _: &Invocation) -> CommandResult<CreateInteractionResponse> {
    Ok(help_for(ctx.actor.is_manager))
}

/// Outside the handler's future: the registry holds that future's type, so the future must not
/// depend on the registry (the compiler cannot check a type that refers to itself).
fn help_for(manager: bool) -> CreateInteractionResponse {
    let mut embed = render::embed("What you can do here").description(if manager {
        "You are a manager here: every command is yours. Options in `code` are an example."
    } else {
        "The commands you can use here, each with an example. Managers also plan projects, \
         assign work and change the settings; /config show says who they are."
    });
    let mut groups: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    groups.dedup();
    for group in groups {
        let lines: Vec<String> = COMMANDS
            .iter()
            .filter(|c| c.name == group && (manager || !c.managers_only))
            .map(|c| {
                let example = if c.example.is_empty() {
                    String::new()
                } else {
                    format!(" `{}`", c.example)
                };
                format!("**/{}**{example}", spec_path(c))
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let title = match group {
            "task" | "project" | "config" | "standup" | "away" => group_description(group),
            other => match COMMANDS.iter().find(|c| c.name == other) {
                Some(spec) => spec.description,
                None => other,
            },
        };
        embed = embed.field(
            render::fit(title, 256),
            render::lines_within(&lines, FIELD_VALUE_MAX),
            false,
        );
    }
    private_embed(embed, Vec::new())
}
