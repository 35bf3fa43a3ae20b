//! Process-level tests: the real binary as a child process (and the soak's long in-process run),
//! slow by nature.
//!
//! - `binary`: how it starts, fails and stops; the token in no log line, even at trace.
//! - `cli`: help, check-config, migrate, register-commands, export.
//! - `shutdown`: SIGTERM under load leaves nothing half done.
//! - `crash`: SIGKILL at any moment loses and doubles nothing; alerts arrive on time.
//! - `cluster` (PostgreSQL only): gateway, web and worker processes together, workers killed.
//! - `playground`: `coordinator try` plays scripts (the shipped week among them) and leaves
//!   nothing behind.
//! - `soak`: the bot under seeded REST and gateway faults (`SOAK_SECS`, `SOAK_SEED`).
//!
//! With `COORDINATOR_TEST_POSTGRES` set at build time, the start and stop, SIGTERM and SIGKILL
//! tests run a second time on a fresh PostgreSQL database each.
//!
//! Most of these measure time, so they take the exclusive turn (`support::turns`) and run
//! alone; the quick command-line runs share.

#[path = "../support/mod.rs"]
mod support;

/// Test bots started through `support::bot` run on SQLite files here; the PostgreSQL variants
/// above choose their database themselves.
pub const ON_POSTGRES: bool = false;

mod binary;
mod cli;
#[cfg(postgres_tests)]
mod cluster;
mod crash;
mod playground;
mod shutdown;
mod soak;
