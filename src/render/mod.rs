//! Every outgoing message, built with serenity's builders: how things look in Discord: timestamps, mention-safe text, embeds within Discord's limits,
//! and the replies every command sends. Every reply sets `allowed_mentions` explicitly.

use chrono::{DateTime, Utc};
use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed,
    CreateEmbedFooter, CreateInteractionResponse, CreateInteractionResponseMessage,
};

pub mod duties;
pub mod forms;
pub mod ids;
pub mod standup;
pub mod summary;

use crate::domain::clip;
use crate::domain::ids::{ChannelId, RoleId, UserId};
use crate::domain::task::{HistoryEntry, Task, TaskLine};

pub const CONTENT_MAX: usize = 2_000;
pub const EMBED_DESCRIPTION_MAX: usize = 4_096;
pub const FIELD_VALUE_MAX: usize = 1_024;
pub const EMBED_TITLE_MAX: usize = 256;
pub const AUTOCOMPLETE_MAX: usize = 25;
pub const CHOICE_NAME_MAX: usize = 100;

const COLOR: u32 = 0x5865F2;

/// `<t:UNIX:f>`: every reader sees their own local time.
pub fn when(at: DateTime<Utc>) -> String {
    format!("<t:{}:f>", at.timestamp())
}

/// `<t:UNIX:R>`: "in 2 hours", "3 days ago".
pub fn relative(at: DateTime<Utc>) -> String {
    format!("<t:{}:R>", at.timestamp())
}

/// Both forms: `<t:…:f> (<t:…:R>)`.
pub fn due(at: DateTime<Utc>) -> String {
    format!("{} ({})", when(at), relative(at))
}

/// A user mention; it pings only if the message's `allowed_mentions` lists the user.
pub fn user(id: UserId) -> String {
    format!("<@{id}>")
}

pub fn channel(id: ChannelId) -> String {
    format!("<#{id}>")
}

/// A role mention; it pings only if the message's `allowed_mentions` lists the role.
pub fn role(id: RoleId) -> String {
    format!("<@&{id}>")
}

/// Text that a user typed, made safe to show: `@everyone` and `@here` cannot render as
/// mass mentions (allowed_mentions already stops every ping; this keeps them from looking live).
pub fn typed(text: &str) -> String {
    text.replace("@everyone", "@\u{200B}everyone")
        .replace("@here", "@\u{200B}here")
}

/// A task as one line: `#12 Title`.
pub fn task_label(task: &Task) -> String {
    format!("{} {}", task.number, typed(&task.title))
}

/// No pings at all.
pub fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .empty_users()
        .empty_roles()
        .everyone(false)
        .replied_user(false)
}

/// Pings exactly these users, nobody else.
pub fn pinging(users: &[UserId]) -> CreateAllowedMentions {
    no_pings().users(users.iter().map(|id| serenity::all::UserId::new(id.get())))
}

/// Cuts `text` to `max` characters, ending with an ellipsis when cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        clip(text, max.saturating_sub(1))
    }
}

/// Joins lines under `max` characters; lines that do not fit become "… and N more".
pub fn lines_within(lines: &[String], max: usize) -> String {
    lines_within_lazy(lines.len(), lines.iter().cloned(), max)
}

/// As [`lines_within`], making each of the `total` lines only if it may still fit, so a list of
/// ten thousand costs what the shown part costs.
pub fn lines_within_lazy(total: usize, lines: impl Iterator<Item = String>, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for (i, line) in lines.enumerate() {
        let rest = total.saturating_sub(i);
        let more = format!("… and {rest} more");
        let line_len = line.chars().count();
        let reserve = if rest > 1 {
            more.chars().count() + 1
        } else {
            0
        };
        if used + line_len + 1 + reserve > max {
            out.push_str(&more);
            return out;
        }
        out.push_str(&line);
        out.push('\n');
        used += line_len + 1;
    }
    out.trim_end().to_string()
}

/// A reply only the caller sees.
pub fn private(text: impl Into<String>) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(fit(&text.into(), CONTENT_MAX))
            .ephemeral(true)
            .allowed_mentions(no_pings()),
    )
}

/// A reply the whole channel sees, pinging exactly `pings`.
pub fn public(text: impl Into<String>, pings: &[UserId]) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(fit(&text.into(), CONTENT_MAX))
            .allowed_mentions(pinging(pings)),
    )
}

pub fn private_embed(embed: CreateEmbed, rows: Vec<CreateActionRow>) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .embed(embed)
            .components(rows)
            .ephemeral(true)
            .allowed_mentions(no_pings()),
    )
}

pub fn embed(title: &str) -> CreateEmbed {
    CreateEmbed::new()
        .title(fit(title, EMBED_TITLE_MAX))
        .color(COLOR)
}

pub fn footer(text: impl Into<String>) -> CreateEmbedFooter {
    CreateEmbedFooter::new(text)
}

/// A short description of a task for lists: `#12 Title · in progress · due … · @user`.
pub fn task_line(task: &TaskLine, now: DateTime<Utc>) -> String {
    let mut parts = vec![
        format!("**{}** {}", task.number, fit(&typed(&task.title), 80)),
        task.status.label().to_lowercase(),
    ];
    if task.priority != crate::domain::task::Priority::Normal {
        parts.push(format!("**{}**", task.priority.as_str()));
    }
    if let Some(project) = &task.project_name {
        parts.push(format!("📁 {}", fit(&typed(project), 40)));
    }
    if let Some(due) = task.due_at {
        let late = if task.is_overdue(now) {
            " ⚠ overdue"
        } else {
            ""
        };
        parts.push(format!("due {}{late}", relative(due)));
    }
    match task.assignee_id {
        Some(id) => parts.push(user(id)),
        None => parts.push("unassigned".into()),
    }
    if let Some(repeat) = task.repeat {
        parts.push(format!("🔁 {}", repeat.repeat));
    }
    parts.join(" · ")
}

/// The `/task show` embed: every field, and the last history entries.
pub fn task_embed(task: &Task, history: &[HistoryEntry], now: DateTime<Utc>) -> CreateEmbed {
    let mut embed = embed(&task_label(task));
    if let Some(description) = task.description.as_deref().filter(|d| !d.is_empty()) {
        embed = embed.description(fit(&typed(description), EMBED_DESCRIPTION_MAX));
    }
    let status = match (&task.blocked_reason, task.status) {
        (Some(reason), crate::domain::task::Status::Blocked) => {
            format!("Blocked: {}", fit(&typed(reason), 900))
        }
        _ => task.status.label().to_string(),
    };
    let due = match task.due_at {
        Some(at) if task.is_overdue(now) => format!("{} ⚠ overdue", due(at)),
        Some(at) => due(at),
        None => "no due date".into(),
    };
    let history_lines: Vec<String> = history
        .iter()
        .map(|entry| {
            let detail = if entry.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", fit(&typed(&describe_detail(&entry.detail)), 120))
            };
            format!(
                "{} {} {}{detail}",
                relative(entry.at),
                user(entry.actor_id),
                entry.action
            )
        })
        .collect();
    embed
        .field("Status", status, true)
        .field("Priority", task.priority.as_str(), true)
        .field("Due", due, true)
        .field(
            "Assignee",
            task.assignee_id
                .map(user)
                .unwrap_or_else(|| "unassigned".into()),
            true,
        )
        .field("Creator", user(task.creator_id), true)
        .field(
            "Project",
            task.project
                .as_ref()
                .map(|p| typed(&p.name))
                .unwrap_or_else(|| "none".into()),
            true,
        )
        .field(
            "Repeats",
            task.repeat
                .map(|r| r.describe())
                .unwrap_or_else(|| "no".into()),
            true,
        )
        .field("Created", when(task.created_at), true)
        .field("Updated", relative(task.updated_at), true)
        .field(
            "History",
            non_empty(lines_within(&history_lines, FIELD_VALUE_MAX)),
            false,
        )
}

/// Discord refuses an embed field with an empty value.
fn non_empty(value: String) -> String {
    if value.trim().is_empty() {
        "none".into()
    } else {
        fit(&value, FIELD_VALUE_MAX)
    }
}

/// History details store users as `user:ID`; show them as mentions (which never ping here).
fn describe_detail(detail: &str) -> String {
    match detail.strip_prefix("user:") {
        Some(id) => format!("<@{id}>"),
        None => detail.to_string(),
    }
}

/// Previous / next buttons for a paginated list.
pub fn pager(
    custom_id_for: impl Fn(i64) -> ids::CustomId,
    page: i64,
    pages: i64,
) -> CreateActionRow {
    CreateActionRow::Buttons(vec![
        CreateButton::new(custom_id_for(page - 1).to_string())
            .label("◀ Previous")
            .style(ButtonStyle::Secondary)
            .disabled(page <= 0),
        CreateButton::new(custom_id_for(page + 1).to_string())
            .label("Next ▶")
            .style(ButtonStyle::Secondary)
            .disabled(page + 1 >= pages),
    ])
}

/// The getting-started message for a server that just added the bot: the first three
/// commands an administrator runs. It pings nobody.
pub fn welcome_body() -> String {
    let message = serenity::all::CreateMessage::new()
        .content(
            "👋 Thanks for adding **Coordinator**! I keep your team's work on track: reminders \
             before deadlines, alerts when something is late, and a daily standup summary. An \
             administrator starts with:\n\
             1. `/config manager-role role:@Leads` — who may assign work\n\
             2. `/config timezone zone:Europe/Berlin` — how dates are read\n\
             3. `/standup schedule time:09:30 channel:#standup` — the daily summary\n\
             Then anyone can `/task create title:…`; `/help` lists what each person can do.",
        )
        .allowed_mentions(no_pings());
    serde_json::to_string(&message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_cannot_look_like_a_mass_mention() {
        let safe = typed("hi @everyone and @here");
        assert!(!safe.contains("@everyone"));
        assert!(!safe.contains("@here"));
    }

    #[test]
    fn long_lists_end_with_and_n_more() {
        let lines: Vec<String> = (0..100).map(|i| format!("line number {i}")).collect();
        let text = lines_within(&lines, 200);
        assert!(text.chars().count() <= 200);
        assert!(text.ends_with("more"), "{text}");
        assert_eq!(
            lines_within(&lines[..2], 200),
            "line number 0\nline number 1"
        );
    }

    #[test]
    fn fit_cuts_on_characters() {
        assert_eq!(fit("ééé", 3), "ééé");
        assert_eq!(fit("éééé", 3).chars().count(), 3);
    }

    #[test]
    fn timestamps_use_discord_markup() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert_eq!(when(at), "<t:1800000000:f>");
        assert_eq!(relative(at), "<t:1800000000:R>");
    }
}
