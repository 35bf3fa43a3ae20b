//! Feature tests: the real bot, in this process with a settable clock, against a fake Discord
//! (REST and gateway on 127.0.0.1) and a fresh SQLite file per test. One module per feature:
//!
//! - `commands`: what each command answers and stores (README "Commands").
//! - `permissions`: who may run what, and that rights come from each interaction afresh.
//! - `bad_input`: every refusal of bad input, one test per case; nothing changes.
//! - `security`: typed mentions never ping; another guild sees and changes nothing.
//! - `duties`: reminders, overdue alerts, escalations, buttons, delivery failures.
//! - `standups`: the daily summary, `/standup` and `/checkin`, across DST changes.
//! - `feeds`: calendar feeds through the HTTP listener.
//! - `http`: `/healthz` and `/metrics`.
//! - `restart`: data survives a stop and start on the same file.
//! - `storage_faults`: a read-only, locked or full database.
//! - `settings_cache`: guild settings kept in memory, and forgotten by any process's write.
//! - `settings_concurrency`: two settings changed at the same moment are both kept.
//! - `wakeups`: the running worker is woken by the store, with no manual step.
//! - `properties`: router fuzzing and reminder offsets.
//! - `fake_discord_selftest`: the fake and the interaction builders against serenity.
//!
//! The tests run in parallel; those that measure time take the exclusive turn
//! (`support::turns`) and run alone. The slow process-level suites are in `tests/process`.

#[path = "../support/mod.rs"]
mod support;

/// This binary runs on SQLite; `tests/api_postgres` runs the same modules on PostgreSQL.
pub const ON_POSTGRES: bool = false;

mod bad_input;
mod commands;
mod create_task;
mod duties;
mod fake_discord_selftest;
mod feeds;
mod http;
mod notify;
mod permissions;
mod properties;
mod recurring;
mod restart;
mod roles;
mod roster;
mod search;
mod security;
mod settings_cache;
mod settings_concurrency;
mod standups;
mod storage_faults;
mod wakeups;
mod web;
mod welcome;
