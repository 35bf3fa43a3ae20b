//! The Discord edge: interactions in, answers out. It translates between serenity's types and
//! the services and domain; the rules live in `domain`, the writes in `store`, the use cases
//! shared with the worker in `app`, and the look of every message in `render`.
//!
//! - [`registry`]: the one table of commands (schema, handler, visibility) and buttons;
//! - [`router`]: an interaction, from whichever transport, to its handler and answer;
//! - [`client`]: the gateway transport and the answering of interactions over REST;
//! - [`sender`]: the one paced sender of outbox messages;
//! - `task`, `project`, `config`, `standup`: the command handlers.

mod away;
pub mod client;
mod config;
mod context;
mod help;
pub mod invocation;
mod notify;
mod project;
pub mod registry;
pub mod router;
pub mod sender;
mod standup;
mod task;
mod task_form;
pub mod web;

pub use context::Context;

use crate::domain::task::TaskNumber;
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
    Store(StoreError),
}

/// The store's refusals (an unknown task, a check that failed inside the transaction, a name
/// already taken) are the user's to read; the rest are ours.
impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TaskNotFound(number) => CommandError::User(task_not_found(number)),
            StoreError::Refused(user) => CommandError::User(user),
            StoreError::ProjectExists(existing) => CommandError::User(UserError::Invalid(format!(
                "There is already a project called \"{existing}\" in this server."
            ))),
            other => CommandError::Store(other),
        }
    }
}

pub fn task_not_found(number: TaskNumber) -> UserError {
    UserError::NotFound(format!(
        "There is no task {number} in this server. Use /task list to see the open ones."
    ))
}

pub type CommandResult<T> = Result<T, CommandError>;
