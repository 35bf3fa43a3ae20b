//! The Discord edge: interactions in, responses and messages out. It translates between
//! serenity's types and the domain, and nothing else.

pub mod client;
pub mod commands;
mod config;
pub mod duties;
mod project;
pub mod render;
pub mod router;
pub mod sender;
mod standup;
pub mod summary;
mod task;

use crate::domain::UserError;
use crate::store::StoreError;

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The user's mistake or a refusal: shown to them as written.
    #[error(transparent)]
    User(#[from] UserError),
    /// Our fault: logged, and the user gets a short apology.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type CommandResult<T> = Result<T, CommandError>;
