//! docs/behaviour.md §8: the limits on what people type, and the messages that explain them.

use chrono::Duration;
use chrono_tz::Tz;

use super::dates::parse_span;
use super::UserError;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 2_000;
/// Block reasons, comments and check-in fields.
pub const NOTE_MAX: usize = 1_000;
pub const PROJECT_NAME_MAX: usize = 50;
pub const OFFSET_MIN: Duration = Duration::minutes(1);
pub const OFFSET_MAX: Duration = Duration::days(30);
pub const OFFSETS_MAX_COUNT: usize = 10;

fn bounded(what: &str, text: &str, min: usize, max: usize) -> Result<String, UserError> {
    let trimmed = text.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(UserError::Invalid(format!("The {what} can't be empty.")));
    }
    if len > max {
        return Err(UserError::Invalid(format!(
            "The {what} is {len} characters long; the limit is {max}."
        )));
    }
    Ok(trimmed.to_string())
}

pub fn title(text: &str) -> Result<String, UserError> {
    bounded("title", text, 1, TITLE_MAX)
}

pub fn description(text: &str) -> Result<String, UserError> {
    bounded("description", text, 0, DESCRIPTION_MAX)
}

/// A block reason, comment or check-in field; `what` names it in the error.
pub fn note(what: &str, text: &str) -> Result<String, UserError> {
    bounded(what, text, 1, NOTE_MAX)
}

pub fn project_name(text: &str) -> Result<String, UserError> {
    bounded("project name", text, 1, PROJECT_NAME_MAX)
}

/// The key under which project names are unique in a guild, ignoring case.
pub fn project_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Text folded for matching without regard to case: titles are stored with it and typed text
/// is folded the same way, so every engine matches alike (no collation or locale involved).
pub fn search_key(text: &str) -> String {
    text.to_lowercase()
}

/// An IANA time zone name, read without regard to case.
pub fn time_zone(text: &str) -> Result<Tz, UserError> {
    let wanted = text.trim();
    if let Ok(zone) = wanted.parse::<Tz>() {
        return Ok(zone);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|zone| zone.name().eq_ignore_ascii_case(wanted))
        .copied()
        .ok_or_else(|| {
            UserError::Invalid(format!(
                "\"{}\" is not a time zone I know. Use an IANA name such as Europe/Berlin, America/New_York or UTC.",
                super::clip(wanted, 60)
            ))
        })
}

/// Reminder offsets such as `1d, 1h, 30m`: each from 1 minute to 30 days, sorted longest first.
pub fn reminder_offsets(text: &str) -> Result<Vec<Duration>, UserError> {
    let mut offsets = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            continue;
        }
        let offset = parse_span(part).ok_or_else(|| {
            UserError::Invalid(format!(
                "I couldn't read \"{}\" as a reminder offset. Use forms like 1d, 2h, 30m.",
                super::clip(part, 40)
            ))
        })?;
        if offset < OFFSET_MIN || offset > OFFSET_MAX {
            return Err(UserError::Invalid(format!(
                "Reminder offset \"{}\" is out of range: each must be from 1 minute to 30 days.",
                super::clip(part, 40)
            )));
        }
        if !offsets.contains(&offset) {
            offsets.push(offset);
        }
    }
    if offsets.is_empty() {
        return Err(UserError::Invalid(
            "Give at least one reminder offset, such as `24h, 1h`.".into(),
        ));
    }
    if offsets.len() > OFFSETS_MAX_COUNT {
        return Err(UserError::Invalid(format!(
            "At most {OFFSETS_MAX_COUNT} reminder offsets, please."
        )));
    }
    offsets.sort_by(|a, b| b.cmp(a));
    Ok(offsets)
}

/// Offsets as people write them: `1d`, `1h30m`, `45m`.
pub fn format_offset(offset: Duration) -> String {
    let mut minutes = offset.num_minutes();
    let mut out = String::new();
    for (unit, size) in [("d", 24 * 60), ("h", 60), ("m", 1)] {
        if minutes >= size {
            out.push_str(&format!("{}{unit}", minutes / size));
            minutes %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(title("  Ship it  ").ok(), Some("Ship it".to_string()));
        assert!(title("   ").is_err());
        assert!(title(&"x".repeat(200)).is_ok());
        assert!(title(&"x".repeat(201)).is_err());
        // Characters, not bytes: 200 accented letters are fine.
        assert!(title(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn notes_and_descriptions_have_their_own_limits() {
        assert!(description("").is_ok());
        assert!(description(&"x".repeat(2_001)).is_err());
        assert!(note("reason", &"x".repeat(1_000)).is_ok());
        assert!(note("reason", &"x".repeat(1_001)).is_err());
        assert!(note("reason", "").is_err());
    }

    #[test]
    fn project_names_are_bounded_and_keyed_without_case() {
        assert!(project_name(&"p".repeat(51)).is_err());
        assert_eq!(project_key(" Apollo "), project_key("APOLLO"));
    }

    #[test]
    fn time_zones_are_iana_names_in_any_case() {
        assert_eq!(time_zone("Europe/Berlin").ok(), Some(Tz::Europe__Berlin));
        assert_eq!(time_zone("europe/berlin").ok(), Some(Tz::Europe__Berlin));
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn reminder_offsets_are_read_deduplicated_and_sorted() {
        let offsets = reminder_offsets("30m, 1d,1h, 1h").unwrap_or_default();
        assert_eq!(
            offsets,
            vec![Duration::days(1), Duration::hours(1), Duration::minutes(30)]
        );
    }

    #[test]
    fn reminder_offsets_refuse_zero_negative_huge_and_garbage() {
        for bad in ["0m", "-1h", "31d", "soon", "", " , "] {
            assert!(reminder_offsets(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(reminder_offsets("30d").is_ok());
        assert!(reminder_offsets("1m").is_ok());
    }

    #[test]
    fn offsets_print_as_typed() {
        assert_eq!(format_offset(Duration::hours(24)), "1d");
        assert_eq!(format_offset(Duration::minutes(90)), "1h30m");
    }
}
