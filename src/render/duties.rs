//! Duty messages: reminders, overdue alerts and escalations, as they are posted. Duties that
//! fall due together for one channel share a message, five to a message so that each task
//! keeps its own row of buttons (Discord allows five rows).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use serenity::all::{ButtonStyle, CreateActionRow, CreateButton, CreateMessage, RoleId};

use super::ids::CustomId;
use super::{self as render, pinging};
use crate::domain::duties::{DutyKind, SnoozeChoice};
use crate::domain::ids::{ChannelId, UserId};
use crate::domain::notify::{route, Route};
use crate::domain::task::TaskNumber;
use crate::store::{ClaimedDuty, DmDraft, OutboxDraft, PostedDuties};

/// Discord allows five rows of components per message; one row per task.
pub const DUTIES_PER_MESSAGE: usize = 5;
/// Later than this, a duty says when it should have arrived.
const LATE_AFTER: Duration = Duration::seconds(60);

fn line(claim: &ClaimedDuty, now: DateTime<Utc>) -> String {
    let task = &claim.task;
    let label = format!("**{}**", render::fit(&render::task_label(task), 120));
    let who = task
        .assignee_id
        .map(render::user)
        .unwrap_or_else(|| "unassigned".into());
    let who = match claim.assignee_away_until {
        Some(until) => format!("{who} (away until {})", render::when(until)),
        None => who,
    };
    let due = task.due_at.unwrap_or(claim.duty.at);
    // Whole sentences either way: with no manager role, who would have been told is named.
    let to_managers = || match claim.manager_role_id {
        Some(role) => format!("Escalated to <@&{role}>."),
        None => "It would go to the managers, but no manager role is set, so nobody was pinged. \
                 An administrator can set one with /config manager-role."
            .to_string(),
    };
    let mut text = match claim.duty.kind {
        DutyKind::Reminder { .. } => format!(
            "⏰ {label} is due {} ({}) — {who}",
            render::relative(due),
            render::when(due)
        ),
        DutyKind::Overdue if claim.assignee_away_until.is_some() => format!(
            "🚨 {label} is overdue: it was due {} — {who}. The assignee is away, so it goes to \
             the managers now. {}",
            render::relative(due),
            to_managers()
        ),
        DutyKind::Overdue => format!(
            "🚨 {label} is overdue: it was due {} — {who}",
            render::relative(due)
        ),
        DutyKind::Escalation => format!(
            "🚨🚨 {label} is still not done, 24 hours after its deadline {} — {who}. {}",
            render::when(due),
            to_managers()
        ),
    };
    if now - claim.duty.at > LATE_AFTER {
        text.push_str(&format!(
            "\n↳ should have arrived {}",
            render::relative(claim.duty.at)
        ));
    }
    text
}

/// Mark done, and on a reminder the snooze choices that still end before the deadline.
fn buttons(claim: &ClaimedDuty, now: DateTime<Utc>) -> CreateActionRow {
    let number = claim.task.number;
    let mut row = vec![CreateButton::new(CustomId::DutyDone(number).to_string())
        .label(format!("Mark {number} done"))
        .style(ButtonStyle::Success)];
    if let (DutyKind::Reminder { .. }, Some(due)) = (claim.duty.kind, claim.task.due_at) {
        for choice in SnoozeChoice::offered(now, due, claim.zone) {
            row.push(
                CreateButton::new(CustomId::DutySnooze(number, choice).to_string())
                    .label(choice.label())
                    .style(ButtonStyle::Secondary),
            );
        }
    }
    CreateActionRow::Buttons(row)
}

/// One message per channel per `per_message` duties (at most five), pinging exactly the
/// assignees (and, for an escalation, the manager role); then one direct message per duty whose
/// assignee asked for DMs (docs/behaviour.md §10). Channel messages come first, so a duty sent
/// both ways counts as its channel message's.
pub fn duty_messages(
    claims: &[ClaimedDuty],
    now: DateTime<Utc>,
    per_message: usize,
) -> Vec<OutboxDraft> {
    let per_message = per_message.clamp(1, DUTIES_PER_MESSAGE);
    let routes: Vec<Route> = claims
        .iter()
        .map(|c| {
            route(
                c.duty.kind,
                c.assignee_delivery,
                c.assignee_away_until.is_some(),
            )
        })
        .collect();
    let mut channels: Vec<ChannelId> = Vec::new();
    for (claim, route) in claims.iter().zip(&routes) {
        if route.channel && !channels.contains(&claim.channel_id) {
            channels.push(claim.channel_id);
        }
    }
    let mut drafts = Vec::new();
    for channel in channels {
        let indexes: Vec<usize> = (0..claims.len())
            .filter(|i| routes[*i].channel && claims[*i].channel_id == channel)
            .collect();
        for chunk in indexes.chunks(per_message) {
            let items: Vec<&ClaimedDuty> = chunk.iter().map(|i| &claims[*i]).collect();
            let Some(body) = message_body(&items, now) else {
                continue;
            };
            drafts.push(OutboxDraft {
                guild_id: items[0].task.guild_id,
                channel_id: channel,
                body,
                due_at: items.iter().map(|c| c.duty.at).min().unwrap_or(now),
                duties: chunk.to_vec(),
                dm: None,
            });
        }
    }
    for (index, (claim, route)) in claims.iter().zip(&routes).enumerate() {
        let (Some(assignee), true) = (claim.task.assignee_id, route.dm) else {
            continue;
        };
        let Some(body) = message_body(&[claim], now) else {
            continue;
        };
        drafts.push(OutboxDraft {
            guild_id: claim.task.guild_id,
            channel_id: claim.channel_id,
            body,
            due_at: claim.duty.at,
            duties: vec![index],
            dm: Some(DmDraft {
                user_id: assignee,
                task_id: claim.task.id,
                fallback_channel_id: (!route.channel).then_some(claim.channel_id),
            }),
        });
    }
    drafts
}

/// One message for `items` (all in one channel, or one duty by DM): their lines and a row of
/// buttons each. The same body serves a DM and its channel fallback, so it pings the assignee.
fn message_body(items: &[&ClaimedDuty], now: DateTime<Utc>) -> Option<String> {
    let lines: Vec<String> = items.iter().map(|c| line(c, now)).collect();
    // Away assignees are named without a ping.
    let mut users: Vec<UserId> = items
        .iter()
        .filter(|c| c.assignee_away_until.is_none())
        .filter_map(|c| c.task.assignee_id)
        .collect();
    users.dedup();
    let roles: Vec<RoleId> = items
        .iter()
        .filter(|c| {
            c.duty.kind == DutyKind::Escalation
                || (c.duty.kind == DutyKind::Overdue && c.assignee_away_until.is_some())
        })
        .filter_map(|c| c.manager_role_id)
        .take(1)
        .map(|role| RoleId::new(role.get()))
        .collect();
    let message = CreateMessage::new()
        .content(render::lines_within(&lines, render::CONTENT_MAX))
        .components(items.iter().map(|c| buttons(c, now)).collect())
        .allowed_mentions(pinging(&users).roles(roles));
    serde_json::to_string(&message).ok()
}

/// The body of an outbox edit that is rendered only when it is sent, from the stored message
/// and the tasks' state at that moment: two tasks of one message closed at once both show.
pub const REFRESH: &str = "refresh";

/// The posted duty message as it should read now: each done task's line struck through and
/// signed (who marked it done, a repeating task's next occurrence), the buttons of closed
/// tasks disabled. Built from the stored message, never from a client's copy. None while every
/// task is open.
pub fn refreshed(posted: &PostedDuties) -> Option<String> {
    let closed: Vec<TaskNumber> = posted
        .tasks
        .iter()
        .filter(|(_, open)| !open)
        .map(|(number, _)| *number)
        .collect();
    if closed.is_empty() {
        return None;
    }
    let mut message: Value = serde_json::from_str(&posted.body).ok()?;
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let lines: Vec<String> = content
        .lines()
        .map(|line| {
            let done = posted
                .done
                .iter()
                .find(|d| line.contains(&format!("**{} ", d.number)));
            match done {
                Some(done) if !line.starts_with('✅') => {
                    let by = done
                        .by
                        .map(|u| format!(" by {}", render::user(u)))
                        .unwrap_or_default();
                    let next = done
                        .next
                        .map(|n| format!(" · next: {n}"))
                        .unwrap_or_default();
                    format!("✅ ~~{line}~~ — done{by}{next}")
                }
                _ => line.to_string(),
            }
        })
        .collect();
    let buttons = disable_buttons(&posted.body, &closed)
        .and_then(|edit| serde_json::from_str::<Value>(&edit).ok())
        .and_then(|edit| edit.get("components").cloned())
        .or_else(|| message.get_mut("components").map(Value::take))
        .unwrap_or(Value::Array(Vec::new()));
    let edit = serde_json::json!({
        "content": render::fit(&lines.join("\n"), render::CONTENT_MAX),
        "components": buttons,
        // An edit pings nobody, whatever the line says.
        "allowed_mentions": { "parse": [] },
    });
    Some(edit.to_string())
}

/// The edit that disables the buttons of `closed` task numbers in a posted message, if any of
/// its buttons still need it.
pub fn disable_buttons(body: &str, closed: &[TaskNumber]) -> Option<String> {
    let mut message: Value = serde_json::from_str(body).ok()?;
    let rows = message.get_mut("components")?.as_array_mut()?;
    let mut changed = false;
    for row in rows.iter_mut() {
        let Some(buttons) = row.get_mut("components").and_then(Value::as_array_mut) else {
            continue;
        };
        for button in buttons {
            let number = button
                .get("custom_id")
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<CustomId>().ok())
                .and_then(|id| id.task());
            if number.is_some_and(|n| closed.contains(&n)) {
                button["disabled"] = Value::Bool(true);
                changed = true;
            }
        }
    }
    if !changed {
        return None;
    }
    let edit = serde_json::json!({ "components": rows.clone() });
    Some(edit.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::duties::Duty;
    use crate::domain::task::{Priority, Status, Task, TaskNumber};

    fn claim(number: i64, channel: u64, kind: DutyKind) -> ClaimedDuty {
        use crate::domain::ids::{GuildId, RoleId};
        let channel = ChannelId::new(channel);
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        ClaimedDuty {
            task: Task {
                repeat: None,
                id: number,
                guild_id: GuildId::new(1),
                number: TaskNumber(number),
                title: format!("task @everyone {number}"),
                description: None,
                status: Status::Todo,
                blocked_reason: None,
                priority: Priority::Normal,
                project: None,
                assignee_id: Some(UserId::new(100 + number as u64)),
                creator_id: UserId::new(1),
                channel_id: channel,
                due_at: Some(at),
                created_at: at,
                updated_at: at,
                done_at: None,
            },
            duty: Duty { kind, at },
            channel_id: channel,
            manager_role_id: Some(RoleId::new(9)),
            assignee_away_until: None,
            assignee_delivery: Default::default(),
            zone: chrono_tz::Tz::UTC,
        }
    }

    fn json(draft: &OutboxDraft) -> Value {
        serde_json::from_str(&draft.body).unwrap_or_default()
    }

    #[test]
    fn duties_are_grouped_per_channel_five_to_a_message() {
        let reminder = DutyKind::Reminder {
            offset: Duration::hours(1),
        };
        let mut claims: Vec<ClaimedDuty> = (1..=7).map(|n| claim(n, 10, reminder)).collect();
        claims.push(claim(8, 20, DutyKind::Overdue));
        let now = claims[0].duty.at;
        let drafts = duty_messages(&claims, now, DUTIES_PER_MESSAGE);
        assert_eq!(drafts.len(), 3);
        assert_eq!(drafts[0].duties, vec![0, 1, 2, 3, 4]);
        assert_eq!(drafts[1].duties, vec![5, 6]);
        assert_eq!(drafts[2].channel_id, ChannelId::new(20));
        let first = json(&drafts[0]);
        assert_eq!(first["components"].as_array().map(Vec::len), Some(5));
        assert_eq!(first["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(
            first["allowed_mentions"]["users"].as_array().map(Vec::len),
            Some(5)
        );
        assert!(!first["content"]
            .as_str()
            .unwrap_or_default()
            .contains("@everyone"));
    }

    #[test]
    fn only_escalations_ping_the_manager_role() {
        let at = claim(1, 10, DutyKind::Overdue).duty.at;
        let overdue = json(&duty_messages(&[claim(1, 10, DutyKind::Overdue)], at, 5)[0]);
        assert_eq!(overdue["allowed_mentions"]["roles"], serde_json::json!([]));
        let escalation = json(&duty_messages(&[claim(1, 10, DutyKind::Escalation)], at, 5)[0]);
        assert_eq!(
            escalation["allowed_mentions"]["roles"],
            serde_json::json!(["9"])
        );
        assert!(escalation["content"]
            .as_str()
            .unwrap_or_default()
            .contains("<@&9>"));
    }

    #[test]
    fn late_duties_say_when_they_should_have_arrived() {
        let c = claim(1, 10, DutyKind::Overdue);
        let late = json(
            &duty_messages(
                std::slice::from_ref(&c),
                c.duty.at + Duration::minutes(30),
                5,
            )[0],
        );
        assert!(late["content"]
            .as_str()
            .unwrap_or_default()
            .contains("should have arrived <t:1800000000:R>"));
        let on_time = json(&duty_messages(std::slice::from_ref(&c), c.duty.at, 5)[0]);
        assert!(!on_time["content"]
            .as_str()
            .unwrap_or_default()
            .contains("should have arrived"));
    }

    #[test]
    fn disabling_touches_only_the_closed_tasks_buttons() {
        let reminder = DutyKind::Reminder {
            offset: Duration::hours(1),
        };
        let mut claims = vec![claim(1, 10, reminder), claim(2, 10, reminder)];
        for c in &mut claims {
            // Due in two days: the snooze choices are offered.
            c.task.due_at = Some(c.duty.at + Duration::days(2));
        }
        let body = &duty_messages(&claims, claims[0].duty.at, 5)[0].body;
        let edit: Value =
            serde_json::from_str(&disable_buttons(body, &[TaskNumber(2)]).unwrap_or_default())
                .unwrap_or_default();
        let rows = edit["components"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows[0]["components"][0]["disabled"], false);
        assert_eq!(rows[1]["components"][0]["disabled"], true);
        assert_eq!(rows[1]["components"][1]["disabled"], true);
        assert_eq!(disable_buttons(body, &[TaskNumber(3)]), None);
    }
}
