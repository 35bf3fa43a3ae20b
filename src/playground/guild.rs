//! The pretend guild the playground plays in: three channels, a manager role, four members.
//! Names are what a line types (`@bob`, `#alerts`, `&manager`); ids are what Discord would send.

/// Discord's permission bits the pretend members carry.
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const ADMINISTRATOR: u64 = 1 << 3;
/// What an ordinary member has in an ordinary channel.
pub const BASIC_PERMISSIONS: u64 = VIEW_CHANNEL | SEND_MESSAGES;
/// What the bot may do in each channel (view, send, embed links, read history).
pub const APP_PERMISSIONS: u64 = VIEW_CHANNEL | SEND_MESSAGES | (1 << 14) | (1 << 16);

pub const GUILD: u64 = 100_000_000_000_000_001;
pub const APPLICATION: u64 = 100_000_000_000_000_002;
pub const BOT: u64 = 100_000_000_000_000_003;
pub const MANAGER_ROLE: u64 = 100_000_000_000_000_021;

pub const GENERAL: u64 = 100_000_000_000_000_011;
pub const ALERTS: u64 = 100_000_000_000_000_012;
pub const STANDUP: u64 = 100_000_000_000_000_013;

/// A member of the pretend guild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub name: &'static str,
    pub id: u64,
    pub roles: &'static [u64],
    pub permissions: u64,
}

pub const MEMBERS: &[Member] = &[
    Member {
        name: "ada",
        id: 100_000_000_000_000_031,
        roles: &[],
        permissions: BASIC_PERMISSIONS | ADMINISTRATOR,
    },
    Member {
        name: "mia",
        id: 100_000_000_000_000_032,
        roles: &[MANAGER_ROLE],
        permissions: BASIC_PERMISSIONS,
    },
    Member {
        name: "alice",
        id: 100_000_000_000_000_033,
        roles: &[],
        permissions: BASIC_PERMISSIONS,
    },
    Member {
        name: "bob",
        id: 100_000_000_000_000_034,
        roles: &[],
        permissions: BASIC_PERMISSIONS,
    },
];

pub const CHANNELS: &[(&str, u64)] = &[
    ("general", GENERAL),
    ("alerts", ALERTS),
    ("standup", STANDUP),
];
pub const ROLES: &[(&str, u64)] = &[("manager", MANAGER_ROLE)];

/// The member called `name` (`bob` or `@bob`, any case).
pub fn member(name: &str) -> Option<Member> {
    let name = name.strip_prefix('@').unwrap_or(name);
    MEMBERS
        .iter()
        .copied()
        .find(|m| m.name.eq_ignore_ascii_case(name))
}

pub fn member_by_id(id: u64) -> Option<Member> {
    MEMBERS.iter().copied().find(|m| m.id == id)
}

pub fn channel(name: &str) -> Option<u64> {
    let name = name.strip_prefix('#').unwrap_or(name);
    CHANNELS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, id)| *id)
}

pub fn channel_name(id: u64) -> Option<&'static str> {
    CHANNELS.iter().find(|(_, c)| *c == id).map(|(n, _)| *n)
}

pub fn role(name: &str) -> Option<u64> {
    let name = name.strip_prefix('&').unwrap_or(name);
    ROLES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, id)| *id)
}

pub fn role_name(id: u64) -> Option<&'static str> {
    ROLES.iter().find(|(_, r)| *r == id).map(|(n, _)| *n)
}

/// Every member's name, for messages that list them.
pub fn member_names() -> String {
    MEMBERS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn channel_names() -> String {
    CHANNELS
        .iter()
        .map(|(n, _)| format!("#{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
