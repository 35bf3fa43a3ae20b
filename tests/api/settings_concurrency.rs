//! No lost updates: every `/config` setting has its own write, so two managers changing two
//! different settings at the same moment both keep their change (a write of the whole settings
//! row from what each had read lost one of them in most rounds).

use crate::support::bot::*;
use crate::support::interactions::{slash, Opt};

async fn stored_settings(bot: &TestBot) -> (String, String, Option<i64>) {
    coordinator::store::sql(
        "SELECT timezone, reminder_offsets, alerts_channel_id FROM guild_settings WHERE guild_id = $1",
    )
    .bind(GUILD as i64)
    .fetch_one(bot.db().on())
    .await
    .expect("settings row")
}

#[tokio::test]
async fn two_settings_changed_at_the_same_moment_are_both_kept() {
    let bot = TestBot::with_manager_role().await;
    let boss = manager();
    let rounds = [
        ("Europe/Berlin", "2h", "7200", 901_u64),
        ("America/New_York", "3h", "10800", 902),
        ("Asia/Tokyo", "1d, 1h", "86400,3600", 903),
        ("UTC", "30m", "1800", 904),
    ];
    for round in 0..20 {
        let (zone, offsets, stored_offsets, channel) = rounds[round % rounds.len()];
        let (a, zone_change) = slash(
            &boss,
            &["config", "timezone"],
            vec![Opt::Str("zone", zone.into())],
        );
        let (b, offsets_change) = slash(
            &boss,
            &["config", "reminders"],
            vec![Opt::Str("offsets", offsets.into())],
        );
        let (c, channel_change) = slash(
            &boss,
            &["config", "alerts-channel"],
            vec![Opt::Channel("channel", channel)],
        );
        tokio::join!(
            bot.fake.inject(zone_change),
            bot.fake.inject(offsets_change),
            bot.fake.inject(channel_change)
        );
        for id in [a, b, c] {
            let reply = bot.fake.response(id).await;
            assert!(is_ephemeral(&reply), "round {round}: {reply}");
        }
        assert_eq!(
            stored_settings(&bot).await,
            (
                zone.to_string(),
                stored_offsets.to_string(),
                Some(channel as i64)
            ),
            "round {round}: a concurrent change was lost"
        );
    }
}
