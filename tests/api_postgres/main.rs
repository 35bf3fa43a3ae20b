//! The feature tests of `tests/api` again, each test on a fresh PostgreSQL database of its own,
//! on the server `COORDINATOR_TEST_POSTGRES` names (`.ci/run` starts a throwaway one). Without
//! that variable at build time this binary is empty, so a machine without PostgreSQL runs
//! nothing extra.
//!
//! Left out: `storage_faults` (a SQLite file made read-only, locked or full) and
//! `fake_discord_selftest` (no database).

#![cfg(postgres_tests)]

#[path = "../support/mod.rs"]
mod support;

/// Every test bot here runs on PostgreSQL.
pub const ON_POSTGRES: bool = true;

#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/commands.rs"]
mod commands;
#[path = "../api/create_task.rs"]
mod create_task;
#[path = "../api/duties.rs"]
mod duties;
#[path = "../api/feeds.rs"]
mod feeds;
#[path = "../api/http.rs"]
mod http;
#[path = "../api/multi_worker.rs"]
mod multi_worker;
#[path = "../api/notify.rs"]
mod notify;
#[path = "../api/permissions.rs"]
mod permissions;
#[path = "../api/properties.rs"]
mod properties;
#[path = "../api/recurring.rs"]
mod recurring;
#[path = "../api/restart.rs"]
mod restart;
#[path = "../api/roles.rs"]
mod roles;
#[path = "../api/roster.rs"]
mod roster;
#[path = "../api/search.rs"]
mod search;
#[path = "../api/security.rs"]
mod security;
#[path = "../api/settings_cache.rs"]
mod settings_cache;
#[path = "../api/settings_concurrency.rs"]
mod settings_concurrency;
#[path = "../api/standups.rs"]
mod standups;
#[path = "../api/wakeups.rs"]
mod wakeups;
#[path = "../api/web.rs"]
mod web;
#[path = "../api/welcome.rs"]
mod welcome;
