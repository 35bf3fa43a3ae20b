//! What the test binaries share: a bot started in process against a fake Discord, builders of
//! the interactions Discord sends, the real binary as a child process, polling, log capture,
//! and the turns that keep timing tests alone.

#![allow(dead_code)]
pub mod bot;
pub mod database;
pub mod fake_discord;
pub mod interactions;
pub mod logs;
pub mod process;
pub mod rng;
pub mod turns;
pub mod wait;
