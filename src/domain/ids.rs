//! Discord's ids, one type each, so a channel can never be passed where a user is meant. They
//! are plain numbers to the domain; the edge converts from serenity's ids, the store to i64.

use std::fmt;

macro_rules! discord_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u64);

        impl $name {
            pub const fn new(id: u64) -> Self {
                Self(id)
            }

            pub const fn get(self) -> u64 {
                self.0
            }
        }

        /// The bare number, as Discord writes it.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<u64> for $name {
            fn from(id: u64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for u64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

discord_id!(
    /// A server.
    GuildId
);
discord_id!(
    /// A member or any Discord user.
    UserId
);
discord_id!(
    /// A text channel, thread or DM channel.
    ChannelId
);
discord_id!(
    /// A guild role.
    RoleId
);
