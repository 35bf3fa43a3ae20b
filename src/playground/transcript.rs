//! Messages as text, as a member would read them in Discord: mentions as `@name`, timestamps in
//! the guild's time, embeds indented, buttons as `[Mark done]`.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::guild;

/// How to read times: the guild's zone, and "now" for relative ones.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub zone: Tz,
    pub now: DateTime<Utc>,
}

impl View {
    /// `Mon 1 Jun 09:00`, with the year when it is not the current one.
    pub fn time(&self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.zone);
        if local.year() == self.now.with_timezone(&self.zone).year() {
            local.format("%a %-d %b %H:%M").to_string()
        } else {
            local.format("%a %-d %b %Y %H:%M").to_string()
        }
    }
}

/// A message body (content, embeds, components) as indented lines.
pub fn message_lines(body: &Value, view: &View) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(content) = body.get("content").and_then(Value::as_str) {
        out.extend(
            markup(content, view)
                .lines()
                .map(|line| format!("  {line}")),
        );
    }
    for embed in body
        .get("embeds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut lines = Vec::new();
        let text = |key: &str| embed.get(key).and_then(Value::as_str);
        if let Some(title) = text("title") {
            lines.push(markup(title, view));
        }
        if let Some(description) = text("description") {
            lines.extend(markup(description, view).lines().map(str::to_string));
        }
        for field in embed
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = field.get("name").and_then(Value::as_str).unwrap_or("");
            let value = markup(
                field.get("value").and_then(Value::as_str).unwrap_or(""),
                view,
            );
            let mut value_lines = value.lines();
            let first = value_lines.next().unwrap_or("");
            lines.push(format!("{}: {first}", markup(name, view)));
            lines.extend(value_lines.map(|line| format!("  {line}")));
        }
        if let Some(footer) = embed
            .get("footer")
            .and_then(|f| f.get("text"))
            .and_then(Value::as_str)
        {
            lines.push(format!("— {}", markup(footer, view)));
        }
        out.extend(lines.into_iter().map(|line| format!("    │ {line}")));
    }
    let buttons = buttons(body);
    if !buttons.is_empty() {
        let rows: Vec<String> = buttons
            .iter()
            .map(|row| {
                row.iter()
                    .map(|b| {
                        if b.disabled {
                            format!("[{} (disabled)]", b.label)
                        } else {
                            format!("[{}]", b.label)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.extend(rows.into_iter().map(|row| format!("  {row}")));
    }
    out
}

/// A button on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub custom_id: String,
    pub disabled: bool,
}

/// The buttons of a message body, row by row.
pub fn buttons(body: &Value) -> Vec<Vec<Button>> {
    body.get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|row| {
            row.get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c.get("type").and_then(Value::as_u64) == Some(2))
                .map(|b| Button {
                    label: b
                        .get("label")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    custom_id: b
                        .get("custom_id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    disabled: b.get("disabled").and_then(Value::as_bool).unwrap_or(false),
                })
                .collect::<Vec<_>>()
        })
        .filter(|row| !row.is_empty())
        .collect()
}

/// Discord's markup as the client shows it: `<@id>` → `@name`, `<#id>` → `#name`,
/// `<@&id>` → `&name`, `<t:unix:style>` → a time; `**bold**` markers dropped.
pub fn markup(text: &str, view: &View) -> String {
    let text = text.replace("**", "").replace('\u{200B}', "");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match tail
            .find('>')
            .and_then(|end| Some((tag(&tail[1..end], view)?, end)))
        {
            Some((shown, end)) => {
                out.push_str(&shown);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn tag(inner: &str, view: &View) -> Option<String> {
    if let Some(role) = inner.strip_prefix("@&") {
        let id: u64 = role.parse().ok()?;
        return Some(match guild::role_name(id) {
            Some(name) => format!("&{name}"),
            None => format!("&role-{id}"),
        });
    }
    if let Some(user) = inner.strip_prefix('@') {
        let id: u64 = user.trim_start_matches('!').parse().ok()?;
        return Some(match guild::member_by_id(id) {
            Some(member) => format!("@{}", member.name),
            None => format!("@user-{id}"),
        });
    }
    if let Some(channel) = inner.strip_prefix('#') {
        let id: u64 = channel.parse().ok()?;
        return Some(match guild::channel_name(id) {
            Some(name) => format!("#{name}"),
            None => format!("#channel-{id}"),
        });
    }
    if let Some(time) = inner.strip_prefix("t:") {
        let (unix, style) = time.split_once(':').unwrap_or((time, "f"));
        let at = DateTime::from_timestamp(unix.parse().ok()?, 0)?;
        let local = at.with_timezone(&view.zone);
        return Some(match style {
            "R" => relative(at, view.now),
            "t" => local.format("%H:%M").to_string(),
            "T" => local.format("%H:%M:%S").to_string(),
            "d" => local.format("%-d %b %Y").to_string(),
            "D" => local.format("%-d %B %Y").to_string(),
            "F" => local.format("%A %-d %B %Y %H:%M").to_string(),
            _ => view.time(at),
        });
    }
    None
}

/// As Discord words a relative time: "in 2 hours", "3 days ago".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (at - now).num_seconds();
    let s = seconds.abs();
    let amount = |n: i64, one: &str, many: &str| {
        if n <= 1 {
            one.to_string()
        } else {
            format!("{n} {many}")
        }
    };
    let span = match s {
        0..45 => "a few seconds".to_string(),
        45..90 => "a minute".to_string(),
        90..2_700 => amount((s + 30) / 60, "a minute", "minutes"),
        2_700..5_400 => "an hour".to_string(),
        5_400..79_200 => amount((s + 1_800) / 3_600, "an hour", "hours"),
        79_200..129_600 => "a day".to_string(),
        129_600..2_246_400 => amount((s + 43_200) / 86_400, "a day", "days"),
        2_246_400..3_888_000 => "a month".to_string(),
        3_888_000..27_648_000 => amount((s + 1_296_000) / 2_592_000, "a month", "months"),
        _ => amount((s + 15_768_000) / 31_536_000, "a year", "years"),
    };
    if seconds > 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    fn view() -> View {
        View {
            zone: Tz::UTC,
            now: Utc
                .with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn mentions_and_times_read_as_in_the_client() {
        let v = view();
        let due = v.now + Duration::hours(24);
        let text = format!(
            "⏰ **#1 Plan** is due <t:{0}:R> (<t:{0}:f>) — <@{1}> <@&{2}> in <#{3}> <t:x:R> <b>",
            due.timestamp(),
            guild::MEMBERS[3].id,
            guild::MANAGER_ROLE,
            guild::ALERTS,
        );
        assert_eq!(
            markup(&text, &v),
            "⏰ #1 Plan is due in a day (Tue 2 Jun 09:00) — @bob &manager in #alerts <t:x:R> <b>"
        );
    }

    #[test]
    fn relative_times_round_as_discord_does() {
        let now = view().now;
        assert_eq!(relative(now + Duration::hours(2), now), "in 2 hours");
        assert_eq!(relative(now - Duration::days(3), now), "3 days ago");
        assert_eq!(relative(now + Duration::minutes(30), now), "in 30 minutes");
        assert_eq!(relative(now, now), "a few seconds ago");
    }

    #[test]
    fn embeds_are_indented_and_buttons_bracketed() {
        let body = json!({
            "content": "Hello",
            "embeds": [{ "title": "Daily standup", "description": "Two lines\nhere",
                         "fields": [{ "name": "Blockers", "value": "none" }] }],
            "components": [{ "type": 1, "components": [
                { "type": 2, "label": "Mark 1 done", "custom_id": "duty:done:1" },
                { "type": 2, "label": "Snooze 1h", "custom_id": "duty:snooze:1", "disabled": true }
            ]}]
        });
        assert_eq!(
            message_lines(&body, &view()),
            vec![
                "  Hello",
                "    │ Daily standup",
                "    │ Two lines",
                "    │ here",
                "    │ Blockers: none",
                "  [Mark 1 done] [Snooze 1h (disabled)]",
            ]
        );
    }
}
