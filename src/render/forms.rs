//! Forms (modals) other than the standup check-in: the Create task form.

use serenity::all::{
    CreateActionRow, CreateInputText, CreateInteractionResponse, CreateModal, InputTextStyle,
};

use super::ids::TaskForm;
use crate::domain::validate::{DESCRIPTION_MAX, TITLE_MAX};

pub const FIELD_TITLE: &str = "title";
pub const FIELD_DUE: &str = "due";
pub const FIELD_DESCRIPTION: &str = "description";

/// The Create task form, prefilled (a refused form comes back with what was typed).
pub fn task_form(
    form: TaskForm,
    title: &str,
    due: &str,
    description: &str,
) -> CreateInteractionResponse {
    let input = |style, label: &str, id: &str, max: usize, required: bool, value: &str| {
        let mut input = CreateInputText::new(style, label, id)
            .required(required)
            .max_length(u16::try_from(max).unwrap_or(u16::MAX));
        if required {
            input = input.min_length(1);
        }
        let value: String = value.chars().take(max).collect();
        if !value.is_empty() {
            input = input.value(value);
        }
        CreateActionRow::InputText(input)
    };
    CreateInteractionResponse::Modal(
        CreateModal::new(form.to_string(), "Create task").components(vec![
            input(
                InputTextStyle::Short,
                "Title",
                FIELD_TITLE,
                TITLE_MAX,
                true,
                title,
            ),
            input(
                InputTextStyle::Short,
                "Due (friday, in 2h, 2026-12-24 17:00)",
                FIELD_DUE,
                100,
                false,
                due,
            ),
            input(
                InputTextStyle::Paragraph,
                "Description",
                FIELD_DESCRIPTION,
                // Room for the link back to the message, which is added after.
                DESCRIPTION_MAX - 200,
                false,
                description,
            ),
        ]),
    )
}
