//! The standup's own messages (docs/behaviour.md §9): the prompt and nudge sent by direct
//! message, the channel message for those who cannot be DMed, and the check-in form.

use chrono::{DateTime, Utc};
use serenity::all::{
    ButtonStyle, CreateActionRow, CreateButton, CreateInputText, CreateInteractionResponse,
    CreateMessage, CreateModal, InputTextStyle,
};

use super::ids::{CheckinForm, CustomId};
use super::{channel, no_pings, pinging, relative, user, when};
use crate::domain::ids::{ChannelId, UserId};
use crate::domain::roster::Stage;
use crate::domain::summary::Checkin;

/// Discord's limit on a form's fields, and ours on each check-in answer.
pub const CHECKIN_FIELD_MAX: u16 = 1_000;

/// The custom ids of the form's fields, read back when it is submitted.
pub const FIELD_YESTERDAY: &str = "yesterday";
pub const FIELD_TODAY: &str = "today";
pub const FIELD_BLOCKERS: &str = "blockers";

fn check_in_button() -> CreateButton {
    CreateButton::new(CustomId::CheckIn.to_string())
        .label("Check in")
        .style(ButtonStyle::Primary)
}

/// The DM a roster member gets before the summary at `run_at`, posted in `standup_channel`:
/// Check in, and Stop these DMs. It pings nobody (a DM notifies by itself).
pub fn ask_body(stage: Stage, standup_channel: ChannelId, run_at: DateTime<Utc>) -> String {
    let opening = match stage {
        Stage::Prompt => "Time for your standup update",
        Stage::Nudge => "A reminder: your standup update is still missing",
    };
    let content = format!(
        "{opening} for {} — the summary is posted {} ({}). What did you do yesterday, what \
         will you do today, and is anything blocking you? Press **Check in** to answer.",
        channel(standup_channel),
        relative(run_at),
        when(run_at),
    );
    let buttons = CreateActionRow::Buttons(vec![
        check_in_button(),
        CreateButton::new(CustomId::StopDms.to_string())
            .label("Stop these DMs")
            .style(ButtonStyle::Secondary),
    ]);
    let message = CreateMessage::new()
        .content(content)
        .components(vec![buttons])
        .allowed_mentions(no_pings());
    serde_json::to_string(&message).unwrap_or_default()
}

/// The one channel message for the members a stage could not DM: it mentions them (and pings
/// only them), with the Check in button, which opens a form for whoever presses it.
pub fn fallback_body(stage: Stage, users: &[UserId], run_at: DateTime<Utc>) -> Option<String> {
    if users.is_empty() {
        return None;
    }
    let mentions: Vec<String> = users.iter().map(|u| user(*u)).collect();
    let ask = match stage {
        Stage::Prompt => "time for your standup update",
        Stage::Nudge => "your standup update is still missing",
    };
    let mut content = format!(
        "{}: {ask} (I couldn't reach you by direct message). The summary is posted {}. \
         Press **Check in** to answer.",
        mentions.join(" "),
        relative(run_at)
    );
    // A very long roster: the mentions are cut to fit Discord's 2,000 characters.
    if content.chars().count() > super::CONTENT_MAX {
        content = super::fit(&content, super::CONTENT_MAX);
    }
    let message = CreateMessage::new()
        .content(content)
        .components(vec![CreateActionRow::Buttons(vec![check_in_button()])])
        .allowed_mentions(pinging(users));
    serde_json::to_string(&message).ok()
}

/// The morning digest DM: the member's open tasks that are overdue, due today or blocked,
/// soonest first, with **Stop these DMs**. It pings nobody (a DM notifies by itself).
pub fn digest_body(tasks: &[&crate::domain::task::Task], now: DateTime<Utc>) -> String {
    let lines: Vec<String> = tasks
        .iter()
        .map(|task| {
            let line_of = crate::domain::task::TaskLine::from(*task);
            let mut line = format!("• {}", super::task_line(&line_of, now));
            if let (crate::domain::task::Status::Blocked, Some(reason)) =
                (task.status, task.blocked_reason.as_deref())
            {
                line.push_str(&format!(
                    " — blocked: {}",
                    super::fit(&super::typed(reason), 100)
                ));
            }
            line
        })
        .collect();
    let heading = format!(
        "☀️ Good morning! Your tasks that are overdue, due today or blocked ({}):",
        tasks.len()
    );
    let body = super::lines_within(&lines, super::CONTENT_MAX - heading.len() - 2);
    let message = CreateMessage::new()
        .content(format!("{heading}\n{body}"))
        .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
            CustomId::StopDigest.to_string(),
        )
        .label("Stop these DMs")
        .style(ButtonStyle::Secondary)])])
        .allowed_mentions(no_pings());
    serde_json::to_string(&message).unwrap_or_default()
}

/// The check-in form: Yesterday and Today required, Blockers optional, each a paragraph of
/// up to 1,000 characters, prefilled with the member's current check-in.
pub fn checkin_form(form: CheckinForm, current: Option<&Checkin>) -> CreateInteractionResponse {
    let field = |id: &str, label: &str, required: bool, value: Option<&str>| {
        let mut input = CreateInputText::new(InputTextStyle::Paragraph, label, id)
            .required(required)
            .max_length(CHECKIN_FIELD_MAX);
        if required {
            input = input.min_length(1);
        }
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            input = input.value(super::fit(value, usize::from(CHECKIN_FIELD_MAX)));
        }
        CreateActionRow::InputText(input)
    };
    CreateInteractionResponse::Modal(
        CreateModal::new(form.to_string(), "Standup check-in").components(vec![
            field(
                FIELD_YESTERDAY,
                "Yesterday",
                true,
                current.map(|c| c.yesterday.as_str()),
            ),
            field(
                FIELD_TODAY,
                "Today",
                true,
                current.map(|c| c.today.as_str()),
            ),
            field(
                FIELD_BLOCKERS,
                "Blockers (optional)",
                false,
                current.and_then(|c| c.blockers.as_deref()),
            ),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::Value;

    fn run_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn a_prompt_pings_nobody_and_carries_both_buttons() {
        let body: Value =
            serde_json::from_str(&ask_body(Stage::Prompt, ChannelId::new(5), run_at()))
                .expect("json");
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        let ids: Vec<&str> = body["components"][0]["components"]
            .as_array()
            .expect("buttons")
            .iter()
            .filter_map(|b| b["custom_id"].as_str())
            .collect();
        assert_eq!(ids, ["standup:checkin", "standup:stop"]);
        assert!(body["content"]
            .as_str()
            .unwrap_or_default()
            .contains("<#5>"));
    }

    #[test]
    fn the_fallback_pings_only_those_it_mentions_and_fits_a_message() {
        assert_eq!(fallback_body(Stage::Prompt, &[], run_at()), None);
        let users: Vec<UserId> = (1..=200)
            .map(|n| UserId::new(100_000_000_000_000_000 + n))
            .collect();
        let body: Value =
            serde_json::from_str(&fallback_body(Stage::Nudge, &users, run_at()).expect("body"))
                .expect("json");
        assert!(body["content"].as_str().unwrap_or_default().chars().count() <= 2_000);
        assert_eq!(
            body["allowed_mentions"]["users"].as_array().map(Vec::len),
            Some(200)
        );
    }

    #[test]
    fn the_form_has_three_paragraphs_prefilled_with_the_current_check_in() {
        let current = Checkin {
            user_id: UserId::new(1),
            yesterday: "wrote tests".into(),
            today: "ship".into(),
            blockers: None,
            at: run_at(),
        };
        let form = serde_json::to_value(checkin_form(
            CheckinForm {
                prompt_message: Some(42),
            },
            Some(&current),
        ))
        .expect("json");
        assert_eq!(form["type"], 9);
        assert_eq!(form["data"]["custom_id"], "checkin:form:42");
        let rows = form["data"]["components"].as_array().expect("rows");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0]["components"][0]["value"], "wrote tests");
        assert_eq!(rows[0]["components"][0]["max_length"], 1_000);
        assert_eq!(rows[2]["components"][0]["required"], false);
    }
}
