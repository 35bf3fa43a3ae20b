//! The coordinator's rules in plain Rust: no Discord, no SQL.

pub mod dates;
pub mod digest;
pub mod duties;
pub mod guild;
pub mod ids;
pub mod notify;
pub mod permissions;
pub mod recurrence;
pub mod roster;
pub mod schedule;
pub mod summary;
pub mod task;
pub mod validate;

use permissions::Refusal;

/// A mistake or refusal that the user is shown as written. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Date(#[from] dates::DateError),
    /// Explained by the edge, which knows how to name the manager role.
    #[error("refused")]
    Refused(Refusal),
}

impl From<Refusal> for UserError {
    fn from(refusal: Refusal) -> Self {
        UserError::Refused(refusal)
    }
}

/// Shortens user text for echoing it back in an error, on a character boundary.
pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
