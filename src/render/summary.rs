//! Rendering the standup summary within Discord's limits (docs/behaviour.md §4.3).
//!
//! Every embed's text length is counted while it is built, in Unicode characters as Discord
//! counts them, so packing embeds into messages never has to guess.

use chrono::Duration;
use serenity::all::CreateEmbed;

use crate::domain::roster::Attendance;
use crate::domain::summary::{Checkin, ProjectSummary, Summary, TaskItem};
use crate::render::{
    self, fit, lines_within_lazy, relative, typed, user, when, EMBED_DESCRIPTION_MAX,
    EMBED_TITLE_MAX, FIELD_VALUE_MAX,
};

/// Discord's per-message limits on embeds: how many, and their text all together.
const MESSAGE_EMBEDS_MAX: usize = 10;
const MESSAGE_TEXT_MAX: usize = 6_000;

/// Per-item caps, so that one long title or check-in cannot crowd out everyone else's.
const TITLE_CHARS: usize = 100;
const REASON_CHARS: usize = 150;
const CHECKIN_PART_CHARS: usize = 300;

/// Check-in pages are kept under half a message so two share one message.
const CHECKIN_PAGE_MAX: usize = MESSAGE_TEXT_MAX / 2 - EMBED_TITLE_MAX;

/// The summary as messages, each a list of embeds within Discord's limits (≤10 embeds, ≤6,000
/// chars together, each description ≤4,096, ≤25 fields, field value ≤1,024). `heading` is e.g.
/// "Daily standup" or "Standup preview". A quiet summary is one short embed ("All quiet: …").
///
/// Embeds never ping, but the caller should still send with `render::no_pings()`.
pub fn summary_embeds(summary: &Summary, heading: &str) -> Vec<Vec<CreateEmbed>> {
    let start = summary.window_start();
    if summary.is_quiet() {
        let quiet = Measured::new(heading).description(format!(
            "All quiet: nothing done, in progress, blocked, due or unassigned, \
             and no check-ins since {}.",
            when(start)
        ));
        return vec![vec![quiet.embed]];
    }

    let mut pieces = vec![overview(summary, heading)];
    pieces.extend(attendance_embed(&summary.attendance));
    pieces.extend(
        summary
            .projects
            .iter()
            .filter(|project| !project.is_empty())
            .map(project_embed),
    );
    pieces.extend(checkin_embeds(&summary.checkins));
    pack(pieces)
}

/// The summary as channel messages (JSON payloads), pinging nobody.
pub fn summary_bodies(summary: &Summary, heading: &str) -> Vec<String> {
    summary_embeds(summary, heading)
        .into_iter()
        .filter_map(|embeds| {
            let message = serenity::all::CreateMessage::new()
                .embeds(embeds)
                .allowed_mentions(render::no_pings());
            serde_json::to_string(&message).ok()
        })
        .collect()
}

/// An embed and its text length (title, description, field names and values) in characters.
struct Measured {
    embed: CreateEmbed,
    len: usize,
}

impl Measured {
    fn new(title: &str) -> Self {
        let title = fit(title, EMBED_TITLE_MAX);
        Measured {
            len: chars(&title),
            embed: render::embed(&title),
        }
    }

    fn description(self, text: String) -> Self {
        let text = fit(&text, EMBED_DESCRIPTION_MAX);
        Measured {
            len: self.len + chars(&text),
            embed: self.embed.description(text),
        }
    }

    fn field(self, name: &str, value: String) -> Self {
        let value = fit(&value, FIELD_VALUE_MAX);
        Measured {
            len: self.len + chars(name) + chars(&value),
            embed: self.embed.field(name, value, false),
        }
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Fills messages in order, starting a new one before either per-message limit is crossed.
fn pack(pieces: Vec<Measured>) -> Vec<Vec<CreateEmbed>> {
    let mut messages = Vec::new();
    let mut current: Vec<CreateEmbed> = Vec::new();
    let mut used = 0;
    for piece in pieces {
        if !current.is_empty()
            && (current.len() == MESSAGE_EMBEDS_MAX || used + piece.len > MESSAGE_TEXT_MAX)
        {
            messages.push(std::mem::take(&mut current));
            used = 0;
        }
        used += piece.len;
        current.push(piece.embed);
    }
    if !current.is_empty() {
        messages.push(current);
    }
    messages
}

/// The first embed: the heading, the period covered and the counts.
fn overview(summary: &Summary, heading: &str) -> Measured {
    let start = summary.window_start();
    let period = match summary.since {
        Some(_) => format!("Since the last summary, {}.", when(start)),
        None => format!("The last 24 hours, since {}.", when(start)),
    };
    let count = |section: Section| -> usize {
        summary
            .projects
            .iter()
            .map(|project| section.items(project).len())
            .sum()
    };
    let mut counts: Vec<String> = Section::ALL
        .into_iter()
        .map(|section| format!("**{}** {}", count(section), section.counted()))
        .collect();
    counts.push(format!("**{}** check-ins", summary.checkins.len()));
    Measured::new(heading).description(format!("{period}\n{}", counts.join(" · ")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Done,
    InProgress,
    Blocked,
    DueSoon,
    Overdue,
    Unassigned,
}

impl Section {
    const ALL: [Section; 6] = [
        Section::Done,
        Section::InProgress,
        Section::Blocked,
        Section::DueSoon,
        Section::Overdue,
        Section::Unassigned,
    ];

    fn items(self, project: &ProjectSummary) -> &[TaskItem] {
        match self {
            Section::Done => &project.done,
            Section::InProgress => &project.in_progress,
            Section::Blocked => &project.blocked,
            Section::DueSoon => &project.due_soon,
            Section::Overdue => &project.overdue,
            Section::Unassigned => &project.unassigned,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Section::Done => "Done",
            Section::InProgress => "In progress",
            Section::Blocked => "Blocked",
            Section::DueSoon => "Due in the next 24 hours",
            Section::Overdue => "Overdue",
            Section::Unassigned => "Unassigned",
        }
    }

    /// As the overview counts it: "**3** done".
    fn counted(self) -> &'static str {
        match self {
            Section::Done => "done",
            Section::InProgress => "in progress",
            Section::Blocked => "blocked",
            Section::DueSoon => "due soon",
            Section::Overdue => "overdue",
            Section::Unassigned => "unassigned",
        }
    }

    /// One task as this section shows it: `**#12** Title · <@7> · due <t:…:R>`.
    fn line(self, item: &TaskItem) -> String {
        let mut line = format!(
            "**{}** {}",
            item.number,
            fit(&typed(&item.title), TITLE_CHARS)
        );
        if let Some(id) = item.assignee_id {
            line.push_str(" · ");
            line.push_str(&user(id));
        }
        match self {
            Section::Done => {}
            Section::InProgress | Section::DueSoon | Section::Unassigned => {
                if let Some(due) = item.due_at {
                    line.push_str(&format!(" · due {}", relative(due)));
                }
            }
            Section::Blocked => {
                if let Some(reason) = item.blocked_reason.as_deref().map(str::trim) {
                    if !reason.is_empty() {
                        line.push_str(&format!(" — {}", fit(&typed(reason), REASON_CHARS)));
                    }
                }
            }
            Section::Overdue => match (item.late_by, item.due_at) {
                (Some(late), _) => line.push_str(&format!(" · {}", late_by(late))),
                (None, Some(due)) => line.push_str(&format!(" · late {}", relative(due))),
                (None, None) => {}
            },
        }
        line
    }
}

/// "late by 3h 20m": the two largest units are precise enough for a standup.
fn late_by(late: Duration) -> String {
    let minutes = late.num_minutes();
    if minutes < 1 {
        return "due just now".into();
    }
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let amount = if days > 0 {
        if hours > 0 {
            format!("{days}d {hours}h")
        } else {
            format!("{days}d")
        }
    } else if hours > 0 {
        if minutes > 0 {
            format!("{hours}h {minutes}m")
        } else {
            format!("{hours}h")
        }
    } else {
        format!("{minutes}m")
    };
    format!("late by {amount}")
}

/// One embed per project, each non-empty section a field. The sections share what is left of
/// the 6,000 characters after the title and field names, so the embed always fits a message.
fn project_embed(project: &ProjectSummary) -> Measured {
    let title = match project.project.as_deref() {
        Some(name) => typed(name),
        None => "No project".into(),
    };
    let mut embed = Measured::new(&title);
    let sections: Vec<(String, Section)> = Section::ALL
        .into_iter()
        .filter(|section| !section.items(project).is_empty())
        .map(|section| {
            let count = section.items(project).len();
            (format!("{} ({count})", section.name()), section)
        })
        .collect();
    let names: usize = sections.iter().map(|(name, _)| chars(name)).sum();
    let mut remaining = MESSAGE_TEXT_MAX.saturating_sub(embed.len + names);
    let mut left = sections.len();
    for (name, section) in sections {
        // An even share of what is left: sections that need less leave more for the rest.
        let allowance = FIELD_VALUE_MAX.min(remaining / left);
        let items = section.items(project);
        let lines = items.iter().map(|item| section.line(item));
        let value = fit(&lines_within_lazy(items.len(), lines, allowance), allowance);
        remaining = remaining.saturating_sub(chars(&value));
        left -= 1;
        embed = embed.field(&name, value);
    }
    embed
}

/// Mentions for a list of members, cut with "… and N more" to fit `max` characters.
fn mentions_within(users: impl ExactSizeIterator<Item = String>, max: usize) -> String {
    let total = users.len();
    let mut text = String::new();
    for (shown, mention) in users.enumerate() {
        let more = format!(" … and {} more", total - shown);
        if chars(&text) + chars(&mention) + 2 + chars(&more) > max {
            text.push_str(&more);
            break;
        }
        if shown > 0 {
            text.push_str(", ");
        }
        text.push_str(&mention);
    }
    text
}

/// The roster: `Checked in: N of M`, who is missing, who is away until when (mentions in an
/// embed ping nobody). None for a guild without a roster.
fn attendance_embed(attendance: &Attendance) -> Option<Measured> {
    if attendance.is_empty() {
        return None;
    }
    // Three parts share the description, so each gets a third of it.
    let part = (EMBED_DESCRIPTION_MAX - 100) / 3;
    let mut lines = vec![format!(
        "Checked in: **{}** of **{}**",
        attendance.checked_in.len(),
        attendance.expected()
    )];
    if !attendance.missing.is_empty() {
        let missing = attendance.missing.iter().map(|u| render::user(*u));
        lines.push(format!("Missing: {}", mentions_within(missing, part)));
    }
    if !attendance.away.is_empty() {
        let away = attendance
            .away
            .iter()
            .map(|(u, until)| format!("{} until {}", render::user(*u), when(*until)));
        lines.push(format!("Away: {}", mentions_within(away, part)));
    }
    Some(Measured::new("Roster").description(lines.join("\n")))
}

/// The check-ins, paginated (never truncated: they are members' own words), one block each.
fn checkin_embeds(checkins: &[Checkin]) -> Vec<Measured> {
    let mut pages: Vec<String> = Vec::new();
    let mut page = String::new();
    let mut page_len = 0;
    for checkin in checkins {
        let block = checkin_block(checkin);
        let block_len = chars(&block);
        if page_len > 0 && page_len + 2 + block_len > CHECKIN_PAGE_MAX {
            pages.push(std::mem::take(&mut page));
            page_len = 0;
        }
        if page_len > 0 {
            page.push_str("\n\n");
            page_len += 2;
        }
        page.push_str(&block);
        page_len += block_len;
    }
    if !page.is_empty() {
        pages.push(page);
    }
    let total = checkins.len();
    pages
        .into_iter()
        .enumerate()
        .map(|(i, page)| {
            let title = if i == 0 {
                format!("Check-ins ({total})")
            } else {
                "Check-ins (continued)".into()
            };
            Measured::new(&title).description(page)
        })
        .collect()
}

/// `<@7> · <t:…:R>` then yesterday, today and any blockers, each capped.
fn checkin_block(checkin: &Checkin) -> String {
    let part = |text: &str| {
        let text = text.trim();
        if text.is_empty() {
            "—".to_string()
        } else {
            fit(&typed(text), CHECKIN_PART_CHARS)
        }
    };
    let mut block = format!(
        "{} · {}\n**Yesterday:** {}\n**Today:** {}",
        user(checkin.user_id),
        relative(checkin.at),
        part(&checkin.yesterday),
        part(&checkin.today)
    );
    if let Some(blockers) = checkin.blockers.as_deref() {
        if !blockers.trim().is_empty() {
            block.push_str(&format!("\n**Blockers:** {}", part(blockers)));
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChannelId, GuildId, UserId};
    use crate::domain::summary::{build, SummaryInput};
    use crate::domain::task::{Priority, ProjectRef, Status, Task, TaskNumber};
    use chrono::{DateTime, Utc};
    use serde_json::Value;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + hours * 3600, 0).unwrap_or_default()
    }

    fn item(number: i64, title: &str) -> TaskItem {
        TaskItem {
            number: TaskNumber(number),
            title: title.into(),
            assignee_id: Some(UserId::new(7)),
            due_at: None,
            blocked_reason: None,
            late_by: None,
        }
    }

    fn summary(projects: Vec<ProjectSummary>, checkins: Vec<Checkin>) -> Summary {
        Summary {
            now: at(0),
            since: Some(at(-24)),
            projects,
            checkins,
            attendance: Default::default(),
        }
    }

    fn json(messages: &[Vec<CreateEmbed>]) -> Vec<Vec<Value>> {
        messages
            .iter()
            .map(|message| {
                message
                    .iter()
                    .map(|embed| serde_json::to_value(embed).unwrap())
                    .collect()
            })
            .collect()
    }

    fn text<'a>(value: &'a Value, key: &str) -> &'a str {
        value.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// Walks the JSON as Discord would and checks every limit; returns all strings seen.
    fn check_limits(messages: &[Vec<Value>]) -> Vec<String> {
        let mut seen = Vec::new();
        assert!(!messages.is_empty());
        for message in messages {
            assert!(
                !message.is_empty() && message.len() <= 10,
                "{}",
                message.len()
            );
            let mut total = 0;
            for embed in message {
                let title = text(embed, "title");
                let description = text(embed, "description");
                assert!(chars(title) <= 256, "title {}", chars(title));
                assert!(
                    chars(description) <= 4_096,
                    "description {}",
                    chars(description)
                );
                total += chars(title) + chars(description);
                seen.push(title.to_string());
                seen.push(description.to_string());
                let fields = embed
                    .get("fields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                assert!(fields.len() <= 25);
                for field in &fields {
                    let (name, value) = (text(field, "name"), text(field, "value"));
                    assert!(!name.is_empty() && chars(name) <= 256, "{name}");
                    assert!(
                        !value.is_empty() && chars(value) <= 1_024,
                        "{}",
                        chars(value)
                    );
                    total += chars(name) + chars(value);
                    seen.push(name.to_string());
                    seen.push(value.to_string());
                }
                if let Some(footer) = embed.get("footer") {
                    total += chars(text(footer, "text"));
                }
                if let Some(author) = embed.get("author") {
                    total += chars(text(author, "name"));
                }
            }
            assert!(total <= 6_000, "message of {total} characters");
        }
        seen
    }

    fn task(n: i64, title: String, project: i64) -> Task {
        let status = Status::ALL[n as usize % 4];
        Task {
            repeat: None,
            id: n,
            guild_id: GuildId::new(1),
            number: TaskNumber(n),
            title,
            description: None,
            status,
            blocked_reason: (status == Status::Blocked).then(|| {
                format!(
                    "waiting on @here and ünïcode 🚀 {}",
                    "x".repeat(n as usize % 200)
                )
            }),
            priority: Priority::Normal,
            project: Some(ProjectRef {
                id: project,
                name: format!("Projekt ✨ {project} @everyone"),
                channel_id: None,
            }),
            assignee_id: (n % 3 != 0).then_some(UserId::new(n as u64 % 50)),
            creator_id: UserId::new(1),
            channel_id: ChannelId::new(1),
            due_at: (n % 5 != 0).then(|| at(n % 96 - 48)),
            created_at: at(-200),
            updated_at: at(-1),
            done_at: (status == Status::Done).then(|| at(-(n % 30))),
        }
    }

    #[test]
    fn a_quiet_summary_is_one_short_embed() {
        let messages = json(&summary_embeds(&summary(vec![], vec![]), "Daily standup"));
        check_limits(&messages);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].len(), 1);
        let embed = &messages[0][0];
        assert_eq!(text(embed, "title"), "Daily standup");
        assert!(text(embed, "description").starts_with("All quiet: "));
        assert!(chars(text(embed, "description")) < 200);
        assert!(embed.get("fields").is_none());
    }

    #[test]
    fn a_large_guild_renders_within_every_limit() {
        let tasks: Vec<Task> = (0..10_000)
            .map(|n| {
                let title = format!(
                    "Fix @everyone ünïcode 🚀 bug {n} {}",
                    "é".repeat(n as usize % 150)
                );
                task(n, title, n % 30)
            })
            .collect();
        let checkins: Vec<Checkin> = (0..500)
            .map(|n| Checkin {
                user_id: UserId::new(n),
                yesterday: format!("Shipped @everyone {}", "ü".repeat(n as usize % 400)),
                today: "Reviews @here".into(),
                blockers: (n % 2 == 0).then(|| "CI is red".to_string()),
                at: at(-(n as i64 % 20)),
            })
            .collect();
        let built = build(&SummaryInput {
            now: at(0),
            since: None,
            tasks: &tasks,
            checkins: &checkins,
            attendance: Default::default(),
        });
        let messages = json(&summary_embeds(&built, "Daily standup"));
        let seen = check_limits(&messages);

        assert_eq!(text(&messages[0][0], "title"), "Daily standup");
        let all = seen.join("\n");
        assert!(!all.contains("@everyone") && !all.contains("@here"));
        assert!(seen
            .iter()
            .any(|s| s.contains("… and ") && s.ends_with(" more")));
        // Every project has its embed, and no check-in is lost to pagination.
        for project in 0..30 {
            let title = format!("Projekt ✨ {project} @\u{200B}everyone");
            assert!(seen.contains(&title), "{title}");
        }
        assert_eq!(all.matches("**Yesterday:**").count(), 500);
        assert!(seen.contains(&"Check-ins (500)".to_string()));
    }

    #[test]
    fn user_text_cannot_mention_everyone() {
        let mut blocked = item(2, "@here help");
        blocked.blocked_reason = Some("@everyone is on holiday".into());
        let project = ProjectSummary {
            project: Some("@everyone's project".into()),
            in_progress: vec![item(1, "ping @everyone")],
            blocked: vec![blocked],
            ..ProjectSummary::default()
        };
        let checkin = Checkin {
            user_id: UserId::new(3),
            yesterday: "@everyone".into(),
            today: "@here".into(),
            blockers: Some("@everyone@here".into()),
            at: at(-1),
        };
        let messages = json(&summary_embeds(
            &summary(vec![project], vec![checkin]),
            "Daily standup",
        ));
        let all = check_limits(&messages).join("\n");
        assert!(all.contains("everyone") && all.contains("here"));
        assert!(
            !all.contains("@everyone") && !all.contains("@here"),
            "{all}"
        );
    }

    #[test]
    fn sections_show_assignee_due_reason_and_lateness() {
        let mut in_progress = item(12, "Write docs");
        in_progress.due_at = Some(at(5));
        let mut blocked = item(13, "Deploy");
        blocked.blocked_reason = Some("waiting on ops".into());
        let mut overdue = item(14, "Invoice");
        overdue.due_at = Some(at(-3));
        overdue.late_by = Some(Duration::minutes(200));
        let mut unassigned = item(15, "Triage");
        unassigned.assignee_id = None;
        let project = ProjectSummary {
            project: None,
            done: vec![item(11, "Release")],
            in_progress: vec![in_progress],
            blocked: vec![blocked],
            overdue: vec![overdue],
            unassigned: vec![unassigned],
            ..ProjectSummary::default()
        };
        let messages = json(&summary_embeds(&summary(vec![project], vec![]), "Preview"));
        check_limits(&messages);
        assert_eq!(messages.len(), 1);
        let embed = &messages[0][1];
        assert_eq!(text(embed, "title"), "No project");
        let fields: Vec<(String, String)> = embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (text(f, "name").to_string(), text(f, "value").to_string()))
            .collect();
        let due = at(5).timestamp();
        assert_eq!(
            fields,
            vec![
                ("Done (1)".into(), "**#11** Release · <@7>".into()),
                (
                    "In progress (1)".into(),
                    format!("**#12** Write docs · <@7> · due <t:{due}:R>")
                ),
                (
                    "Blocked (1)".into(),
                    "**#13** Deploy · <@7> — waiting on ops".into()
                ),
                (
                    "Overdue (1)".into(),
                    "**#14** Invoice · <@7> · late by 3h 20m".into()
                ),
                ("Unassigned (1)".into(), "**#15** Triage".into()),
            ]
        );
        let overview = text(&messages[0][0], "description");
        assert!(
            overview.contains("**1** done · **1** in progress"),
            "{overview}"
        );
        assert!(overview.contains("**0** check-ins"), "{overview}");
    }

    #[test]
    fn embeds_follow_project_order_with_checkins_last() {
        let projects = ["Alpha", "Beta"]
            .map(|name| ProjectSummary {
                project: Some(name.into()),
                done: vec![item(1, "x")],
                ..ProjectSummary::default()
            })
            .to_vec();
        let checkin = Checkin {
            user_id: UserId::new(9),
            yesterday: "a".into(),
            today: "b".into(),
            blockers: None,
            at: at(-2),
        };
        let messages = json(&summary_embeds(
            &summary(projects, vec![checkin]),
            "Daily standup",
        ));
        let titles: Vec<&str> = messages[0].iter().map(|e| text(e, "title")).collect();
        assert_eq!(
            titles,
            vec!["Daily standup", "Alpha", "Beta", "Check-ins (1)"]
        );
        let block = text(&messages[0][3], "description");
        assert_eq!(
            block,
            format!(
                "<@9> · <t:{}:R>\n**Yesterday:** a\n**Today:** b",
                at(-2).timestamp()
            )
        );
    }

    #[test]
    fn lateness_reads_in_the_two_largest_units() {
        assert_eq!(late_by(Duration::seconds(20)), "due just now");
        assert_eq!(late_by(Duration::minutes(5)), "late by 5m");
        assert_eq!(late_by(Duration::minutes(120)), "late by 2h");
        assert_eq!(late_by(Duration::minutes(200)), "late by 3h 20m");
        assert_eq!(
            late_by(Duration::hours(52) + Duration::minutes(7)),
            "late by 2d 4h"
        );
        assert_eq!(late_by(Duration::hours(72)), "late by 3d");
    }

    #[test]
    fn packing_respects_embed_count_and_size() {
        let small = || Measured::new("x");
        let messages = pack((0..25).map(|_| small()).collect());
        let sizes: Vec<usize> = messages.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 5]);

        let big = || Measured::new("t").description("d".repeat(3_500));
        let messages = pack(vec![big(), big(), small()]);
        let sizes: Vec<usize> = messages.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 2]);
    }
}
