//! `GET /feeds/{token}.ics`: a project's open tasks with due times, as an iCalendar feed
//! (RFC 5545) that calendar apps subscribe to. The token is the only key; an unknown or rotated
//! one gets a bare 404 that says nothing about why.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, EventLike, Property};
use tracing::warn;

use crate::app::App;
use crate::domain::guild::Project;
use crate::domain::task::Priority;
use crate::store::FeedTask;

pub const CONTENT_TYPE_ICS: &str = "text/calendar; charset=utf-8";
const PRODID: &str = "-//Coordinator//Task deadlines//EN";
/// How often subscribers are asked to re-read the feed (RFC 7986 and the common X- property).
const REFRESH: &str = "PT15M";
/// RFC 5545 §3.1: content lines are folded to at most this many octets.
const LINE_OCTETS: usize = 75;

pub async fn serve(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return not_found();
    };
    let project = match app.db.project_by_feed_token(token).await {
        Ok(Some(project)) => project,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(&e),
    };
    let tasks = match app.db.feed_tasks(&project).await {
        Ok(tasks) => tasks,
        Err(e) => return unavailable(&e),
    };
    let body = render(&project, &tasks, app.clock.now());
    (
        [
            (CONTENT_TYPE, CONTENT_TYPE_ICS),
            // Only the token holder's own client should keep a copy.
            (CACHE_CONTROL, "private, max-age=60"),
        ],
        body,
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn unavailable(error: &crate::store::StoreError) -> Response {
    warn!(error = %error, "calendar feed: database unavailable");
    (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable\n").into_response()
}

/// The feed as iCalendar text. The crate escapes TEXT values; we clean user text of control
/// characters first (a bare CR would break a content line) and fold lines ourselves, because the
/// crate's folding can leave a last line one octet over the limit.
pub fn render(project: &Project, tasks: &[FeedTask], now: DateTime<Utc>) -> String {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", PRODID))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .append_property(text_property(
            "X-WR-CALNAME",
            &format!("{} (Coordinator)", clean(&project.name)),
        ))
        .append_property(
            Property::new("REFRESH-INTERVAL", REFRESH)
                .add_parameter("VALUE", "DURATION")
                .done(),
        )
        .append_property(("X-PUBLISHED-TTL", REFRESH));
    for FeedTask { task, revision } in tasks {
        let Some(due) = task.due_at else {
            continue;
        };
        let mut description = format!("Status: {}", task.status.label());
        if let Some(reason) = &task.blocked_reason {
            description.push_str(&format!(" ({})", clean(reason)));
        }
        description.push_str(&format!(
            "\nPriority: {}\nAssignee: {}",
            task.priority.as_str(),
            match task.assignee_id {
                Some(user) => format!("Discord user {user}"),
                None => "nobody yet".into(),
            }
        ));
        if let Some(details) = &task.description {
            description.push_str(&format!("\n\n{}", clean(details)));
        }
        let event = icalendar::Event::new()
            .uid(&format!(
                "task-{}-{}@coordinator",
                task.guild_id, task.number.0
            ))
            .timestamp(now)
            .starts(due)
            .ends(due)
            .summary(&format!("{} {}", task.number, clean(&task.title)))
            .description(&description)
            .url(&format!(
                "https://discord.com/channels/{}/{}",
                task.guild_id, task.channel_id
            ))
            .sequence(*revision)
            .created(task.created_at)
            .last_modified(task.updated_at)
            .priority(ical_priority(task.priority))
            .done();
        calendar.push(event);
    }
    refold(&calendar.done().to_string())
}

/// RFC 5545 §3.8.1.9: 1 is highest, 9 lowest, 5 medium.
fn ical_priority(priority: Priority) -> u32 {
    match priority {
        Priority::Urgent => 1,
        Priority::High => 3,
        Priority::Normal => 5,
        Priority::Low => 9,
    }
}

/// A property whose value the crate escapes as TEXT even though it does not know the name.
fn text_property(key: &str, value: &str) -> Property {
    Property::new(key, value)
        .add_parameter("VALUE", "TEXT")
        .done()
}

/// User text as iCalendar TEXT may hold it: line breaks as `\n`, no other control characters
/// (tabs are allowed).
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Unfolds the crate's output and folds every content line at `LINE_OCTETS`, never inside a
/// UTF-8 character. Unfolding is safe: escaped values hold no raw CR or LF.
fn refold(text: &str) -> String {
    let unfolded = text.replace("\r\n ", "").replace("\r\n\t", "");
    let mut out = String::with_capacity(unfolded.len() + unfolded.len() / 25);
    for line in unfolded.split("\r\n").filter(|line| !line.is_empty()) {
        let mut rest = line;
        let mut limit = LINE_OCTETS;
        loop {
            if rest.len() <= limit {
                out.push_str(rest);
                out.push_str("\r\n");
                break;
            }
            let mut cut = limit;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&rest[..cut]);
            out.push_str("\r\n ");
            rest = &rest[cut..];
            // A continuation line's leading space counts toward its octets.
            limit = LINE_OCTETS - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_stay_within_75_octets_and_unfold_to_the_original() {
        for len in [74, 75, 76, 149, 150, 151, 300] {
            for filler in ["a", "é", "😀", "a,b;"] {
                let value: String = filler.repeat(len).chars().take(len).collect();
                let line = format!("SUMMARY:{value}");
                let folded = refold(&format!("{line}\r\n"));
                for physical in folded.split("\r\n").filter(|l| !l.is_empty()) {
                    assert!(
                        physical.len() <= LINE_OCTETS,
                        "{} octets: {physical:?}",
                        physical.len()
                    );
                }
                assert_eq!(folded.replace("\r\n ", ""), format!("{line}\r\n"));
            }
        }
    }

    #[test]
    fn the_crate_folds_one_octet_too_long_which_refold_repairs() {
        // 150 octets: the crate's last line is a space and 75 octets (76 in all).
        let title = "x".repeat(150 - "SUMMARY:".len());
        let event = icalendar::Event::new().summary(&title).done();
        let crate_text = Calendar::empty().push(event).done().to_string();
        let longest = |text: &str| text.split("\r\n").map(str::len).max().unwrap_or(0);
        assert_eq!(longest(&crate_text), 76, "{crate_text}");
        assert!(longest(&refold(&crate_text)) <= LINE_OCTETS);
    }

    #[test]
    fn user_text_loses_control_characters_but_keeps_line_breaks() {
        assert_eq!(clean("a\r\nb\rc\u{0}d\u{7}\te"), "a\nb\ncd\te");
    }
}
