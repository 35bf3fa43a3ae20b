//! Discord's validation rules for what the bot sends (message, embed, component, autocomplete,
//! modal and command-registration limits), answered with Discord's error bodies.

use serde_json::{json, Map, Value};

use super::rest::Reply;

/// A 400 "Invalid Form Body" (50035) whose `errors` nest along the dotted `path`.
pub(super) fn form_error(path: &str, code: &str, message: &str) -> Value {
    let mut node = json!({ "_errors": [{ "code": code, "message": message }] });
    for seg in path.rsplit('.').filter(|s| !s.is_empty()) {
        let mut map = Map::new();
        map.insert(seg.to_owned(), node);
        node = Value::Object(map);
    }
    json!({ "code": 50035, "message": "Invalid Form Body", "errors": node })
}

fn invalid(path: &str, code: &str, message: &str) -> Reply {
    Reply::json(400, form_error(path, code, message))
}

fn too_long(path: &str, value: &Value, max: usize) -> Result<(), Reply> {
    match value.as_str() {
        Some(s) if s.chars().count() > max => Err(invalid(
            path,
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {max} or fewer in length."),
        )),
        _ => Ok(()),
    }
}

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Message limits; `allow_empty` for edits/updates where an empty body keeps the old message.
pub(super) fn validate_message(msg: &Value, allow_empty: bool) -> Result<(), Reply> {
    too_long("content", &msg["content"], 2000)?;
    let embeds = msg["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        return Err(invalid(
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        ));
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let p = |field: &str| format!("embeds.{i}.{field}");
        too_long(&p("title"), &e["title"], 256)?;
        too_long(&p("description"), &e["description"], 4096)?;
        too_long(&p("footer.text"), &e["footer"]["text"], 2048)?;
        too_long(&p("author.name"), &e["author"]["name"], 256)?;
        total += len(&e["title"])
            + len(&e["description"])
            + len(&e["footer"]["text"])
            + len(&e["author"]["name"]);
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            return Err(invalid(
                &p("fields"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            let fp = |field: &str| format!("embeds.{i}.fields.{j}.{field}");
            if len(&f["name"]) == 0 || len(&f["value"]) == 0 {
                return Err(invalid(
                    &fp(if len(&f["name"]) == 0 {
                        "name"
                    } else {
                        "value"
                    }),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            }
            too_long(&fp("name"), &f["name"], 256)?;
            too_long(&fp("value"), &f["value"], 1024)?;
            total += len(&f["name"]) + len(&f["value"]);
        }
    }
    if total > 6000 {
        return Err(invalid(
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000",
        ));
    }
    validate_components(&msg["components"])?;
    let non_empty = |key: &str| msg[key].as_array().is_some_and(|a| !a.is_empty());
    let has_content = msg["content"]
        .as_str()
        .is_some_and(|c| !c.trim().is_empty());
    if !allow_empty
        && !has_content
        && !non_empty("embeds")
        && !non_empty("components")
        && !non_empty("sticker_ids")
        && !non_empty("attachments")
        && msg["poll"].is_null()
    {
        return Err(Reply::error(400, 50006, "Cannot send an empty message"));
    }
    Ok(())
}

fn validate_components(components: &Value) -> Result<(), Reply> {
    let Some(rows) = components.as_array() else {
        return Ok(());
    };
    if rows.len() > 5 {
        return Err(invalid(
            "components",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        ));
    }
    let mut custom_ids: Vec<String> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let children = row["components"].as_array().cloned().unwrap_or_default();
        if row["type"].as_u64() != Some(1) {
            continue; // Only classic action rows are checked.
        }
        if children.is_empty() || children.len() > 5 {
            return Err(invalid(
                &format!("components.{i}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            ));
        }
        let has_select = children
            .iter()
            .any(|c| matches!(c["type"].as_u64(), Some(3 | 5 | 6 | 7 | 8)));
        if has_select && children.len() > 1 {
            return Err(invalid(
                &format!("components.{i}.components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            ));
        }
        for (j, c) in children.iter().enumerate() {
            let p = |field: &str| format!("components.{i}.components.{j}.{field}");
            let is_link =
                c["type"].as_u64() == Some(2) && matches!(c["style"].as_u64(), Some(5 | 6));
            if !is_link {
                let Some(custom_id) = c["custom_id"].as_str() else {
                    return Err(invalid(
                        &p("custom_id"),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    ));
                };
                if custom_id.is_empty() || custom_id.chars().count() > 100 {
                    return Err(invalid(
                        &p("custom_id"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    ));
                }
                if custom_ids.iter().any(|c| c == custom_id) {
                    return Err(invalid(
                        &p("custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    ));
                }
                custom_ids.push(custom_id.to_owned());
            }
            too_long(&p("label"), &c["label"], 80)?;
            too_long(&p("placeholder"), &c["placeholder"], 150)?;
            if c["options"].as_array().is_some_and(|o| o.len() > 25) {
                return Err(invalid(
                    &p("options"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn validate_choices(data: &Value) -> Result<(), Reply> {
    let choices = data["choices"].as_array().cloned().unwrap_or_default();
    if choices.len() > 25 {
        return Err(invalid(
            "data.choices",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    for (i, c) in choices.iter().enumerate() {
        if len(&c["name"]) == 0 || len(&c["name"]) > 100 {
            return Err(invalid(
                &format!("data.choices.{i}.name"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        too_long(&format!("data.choices.{i}.value"), &c["value"], 100)?;
    }
    Ok(())
}

/// A required string field of 1..=`max` characters.
fn bounded(path: &str, value: &Value, max: usize) -> Result<(), Reply> {
    if value.is_null() {
        return Err(invalid(
            path,
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ));
    }
    let n = len(value);
    if n == 0 || n > max {
        return Err(invalid(
            path,
            "BASE_TYPE_BAD_LENGTH",
            &format!("Must be between 1 and {max} in length."),
        ));
    }
    Ok(())
}

/// An optional integer field within `min..=max`.
fn in_range(path: &str, value: &Value, min: i64, max: i64) -> Result<(), Reply> {
    if value.is_null() {
        return Ok(());
    }
    let Some(n) = value.as_i64() else {
        return Err(invalid(
            path,
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{value}\" is not int."),
        ));
    };
    if n < min {
        return Err(invalid(
            path,
            "NUMBER_TYPE_MIN",
            &format!("int value should be greater than or equal to {min}."),
        ));
    }
    if n > max {
        return Err(invalid(
            path,
            "NUMBER_TYPE_MAX",
            &format!("int value should be less than or equal to {max}."),
        ));
    }
    Ok(())
}

/// A form (response type 9): custom_id 1-100 characters, title 1-45, 1-5 action rows each
/// holding exactly one text input (type 4) with a unique custom_id of 1-100, a label of 1-45,
/// style 1 (short) or 2 (paragraph), min_length 0-4000, max_length 1-4000, a pre-filled value
/// no longer than max_length (4000 without one) and a placeholder of at most 100.
pub(super) fn validate_modal(data: &Value) -> Result<(), Reply> {
    bounded("data.custom_id", &data["custom_id"], 100)?;
    bounded("data.title", &data["title"], 45)?;
    let Some(rows) = data["components"].as_array() else {
        return Err(invalid(
            "data.components",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ));
    };
    if rows.is_empty() || rows.len() > 5 {
        return Err(invalid(
            "data.components",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.",
        ));
    }
    let mut custom_ids: Vec<&str> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let row_path = format!("data.components.{i}");
        if row["type"].as_u64() != Some(1) {
            return Err(invalid(
                &format!("{row_path}.type"),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1,).",
            ));
        }
        let children = row["components"].as_array().map_or(&[][..], Vec::as_slice);
        if children.len() != 1 {
            return Err(invalid(
                &format!("{row_path}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 1 in length.",
            ));
        }
        let input = &children[0];
        let p = |field: &str| format!("{row_path}.components.0.{field}");
        if input["type"].as_u64() != Some(4) {
            return Err(invalid(
                &p("type"),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (4,).",
            ));
        }
        bounded(&p("custom_id"), &input["custom_id"], 100)?;
        let custom_id = input["custom_id"].as_str().unwrap_or_default();
        if custom_ids.contains(&custom_id) {
            return Err(invalid(
                &p("custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            ));
        }
        custom_ids.push(custom_id);
        bounded(&p("label"), &input["label"], 45)?;
        if !matches!(input["style"].as_u64(), Some(1 | 2)) {
            return Err(invalid(
                &p("style"),
                "BASE_TYPE_CHOICES",
                "Value must be one of (1, 2).",
            ));
        }
        in_range(&p("min_length"), &input["min_length"], 0, 4000)?;
        in_range(&p("max_length"), &input["max_length"], 1, 4000)?;
        let max = input["max_length"].as_u64().unwrap_or(4000) as usize;
        too_long(&p("value"), &input["value"], max)?;
        too_long(&p("placeholder"), &input["placeholder"], 100)?;
    }
    Ok(())
}

/// Chat-input command names: 1-32 lowercase letters, digits, `-` or `_`.
fn valid_command_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name
            .chars()
            .all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase()))
}

pub(super) fn validate_commands(commands: &[Value]) -> Result<(), Reply> {
    if commands.len() > 100 {
        return Err(invalid(
            "",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.",
        ));
    }
    let mut names: Vec<(u64, &str)> = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let kind = command["type"].as_u64().unwrap_or(1);
        let name = command["name"].as_str().unwrap_or_default();
        if names.contains(&(kind, name)) {
            return Err(invalid(
                &format!("{i}.name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                &format!("Application command names must be unique ({name})"),
            ));
        }
        names.push((kind, name));
        if kind != 1 {
            continue; // User/message context menus have looser rules and no options.
        }
        if !valid_command_name(name) {
            return Err(invalid(
                &format!("{i}.name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                &format!("Command name is invalid ({name:?})"),
            ));
        }
        let desc = len(&command["description"]);
        if desc == 0 || desc > 100 {
            return Err(invalid(
                &format!("{i}.description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        validate_options(&format!("{i}.options"), &command["options"], 0)?;
    }
    Ok(())
}

fn validate_options(path: &str, options: &Value, depth: usize) -> Result<(), Reply> {
    let Some(options) = options.as_array() else {
        return Ok(());
    };
    if options.len() > 25 {
        return Err(invalid(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        ));
    }
    let mut seen_optional = false;
    let mut names = Vec::new();
    for (i, option) in options.iter().enumerate() {
        let p = |field: &str| format!("{path}.{i}.{field}");
        let kind = option["type"].as_u64().unwrap_or(0);
        let name = option["name"].as_str().unwrap_or_default();
        if !valid_command_name(name) {
            return Err(invalid(
                &p("name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                &format!("Option name is invalid ({name:?})"),
            ));
        }
        if names.contains(&name) {
            return Err(invalid(
                &p("name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                &format!("Option names must be unique ({name})"),
            ));
        }
        names.push(name);
        let desc = len(&option["description"]);
        if desc == 0 || desc > 100 {
            return Err(invalid(
                &p("description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        match kind {
            1 | 2 => {
                // Subcommand groups hold subcommands; subcommands hold plain options.
                if depth >= 2 || (kind == 2 && depth >= 1) {
                    return Err(invalid(
                        &p("type"),
                        "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                        "Subcommands nested too deeply",
                    ));
                }
                validate_options(&p("options"), &option["options"], depth + 1)?;
            }
            3..=11 => {
                let required = option["required"].as_bool().unwrap_or(false);
                if required && seen_optional {
                    return Err(invalid(
                        &p("required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    ));
                }
                seen_optional |= !required;
                let choices = option["choices"].as_array().map_or(0, Vec::len);
                if choices > 25 {
                    return Err(invalid(
                        &p("choices"),
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 25 or fewer in length.",
                    ));
                }
                if choices > 0 && option["autocomplete"].as_bool() == Some(true) {
                    return Err(invalid(
                        &p("autocomplete"),
                        "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                        "Autocomplete cannot be enabled with choices",
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    &p("type"),
                    "BASE_TYPE_CHOICES",
                    &format!("Value must be one of 1..=11 (got {kind})"),
                ))
            }
        }
    }
    Ok(())
}
