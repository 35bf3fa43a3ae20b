//! `coordinator copy`: every row of one database into another, across engines (a team moving
//! from SQLite to PostgreSQL, or back). The target must be empty; the copy is one transaction
//! on it, so a failure leaves it empty again.

use sqlx::{Column, ColumnIndex, Decode, FromRow, Row, Type};

use super::sql::{sql, Arg, Engine};
use super::{Db, StoreError, StoreResult};

/// How a column is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
}

use Kind::{Int, Text};

/// Every table, parents before children, with every column. Tables with an `id` column get
/// their identity sequence moved past the copied ids on PostgreSQL.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "guild_settings",
        &[
            ("guild_id", Int),
            ("manager_role_id", Int),
            ("timezone", Text),
            ("alerts_channel_id", Int),
            ("reminder_offsets", Text),
            ("next_task_number", Int),
        ],
    ),
    ("user_settings", &[("user_id", Int), ("timezone", Text)]),
    (
        "projects",
        &[
            ("id", Int),
            ("guild_id", Int),
            ("name", Text),
            ("name_key", Text),
            ("channel_id", Int),
            ("description", Text),
            ("created_by", Int),
            ("created_at", Int),
            ("archived_at", Int),
        ],
    ),
    (
        "tasks",
        &[
            ("id", Int),
            ("guild_id", Int),
            ("number", Int),
            ("title", Text),
            ("description", Text),
            ("status", Text),
            ("blocked_reason", Text),
            ("priority", Text),
            ("project_id", Int),
            ("assignee_id", Int),
            ("creator_id", Int),
            ("channel_id", Int),
            ("due_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("deleted_at", Int),
            ("done_at", Int),
            ("due_set_at", Int),
            ("duty_cursor", Int),
            ("snoozed_until", Int),
            ("next_duty_at", Int),
            ("title_key", Text),
            ("repeat_rule", Text),
            ("repeat_zone", Text),
            ("repeat_anchor", Int),
            ("next_occurrence_id", Int),
        ],
    ),
    (
        "task_history",
        &[
            ("id", Int),
            ("task_id", Int),
            ("actor_id", Int),
            ("at", Int),
            ("action", Text),
            ("detail", Text),
        ],
    ),
    (
        "outbox",
        &[
            ("id", Int),
            ("guild_id", Int),
            ("channel_id", Int),
            ("kind", Text),
            ("target_message_id", Int),
            ("body", Text),
            ("due_at", Int),
            ("created_at", Int),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("message_id", Int),
            ("sent_at", Int),
            ("error", Text),
            ("leased_by", Int),
            ("dm_user_id", Int),
            ("standup_run_at", Int),
            ("dm_task_id", Int),
            ("fallback_channel_id", Int),
        ],
    ),
    (
        "duty_claims",
        &[
            ("id", Int),
            ("task_id", Int),
            ("kind", Text),
            ("due_at", Int),
            ("offset_secs", Int),
            ("scheduled_at", Int),
            ("outbox_id", Int),
        ],
    ),
    (
        "standups",
        &[
            ("guild_id", Int),
            ("channel_id", Int),
            ("schedule", Text),
            ("next_run_at", Int),
            ("last_summary_at", Int),
            ("prompt_secs", Int),
            ("next_prompt_at", Int),
        ],
    ),
    (
        "standup_roster",
        &[
            ("guild_id", Int),
            ("user_id", Int),
            ("joined_at", Int),
            ("gone_at", Int),
        ],
    ),
    (
        "standup_stages",
        &[
            ("guild_id", Int),
            ("run_at", Int),
            ("stage", Text),
            ("claimed_at", Int),
            ("fallback_at", Int),
        ],
    ),
    (
        "standup_asks",
        &[
            ("guild_id", Int),
            ("run_at", Int),
            ("stage", Text),
            ("user_id", Int),
            ("outbox_id", Int),
            ("outcome", Text),
        ],
    ),
    (
        "dm_channels",
        &[
            ("user_id", Int),
            ("channel_id", Int),
            ("refused_at", Int),
            ("refused_code", Int),
        ],
    ),
    (
        "notify_prefs",
        &[
            ("guild_id", Int),
            ("user_id", Int),
            ("reminders", Text),
            ("digest_time", Text),
            ("digest_zone", Text),
            ("next_digest_at", Int),
        ],
    ),
    ("installation", &[("key", Text), ("at", Int)]),
    ("interactions_seen", &[("id", Int), ("at", Int)]),
    (
        "guild_welcomes",
        &[("guild_id", Int), ("at", Int), ("greeted", Int)],
    ),
    (
        "form_drafts",
        &[
            ("id", Int),
            ("guild_id", Int),
            ("user_id", Int),
            ("source", Text),
            ("title", Text),
            ("due", Text),
            ("description", Text),
            ("created_at", Int),
        ],
    ),
    (
        "digest_runs",
        &[("guild_id", Int), ("user_id", Int), ("at", Int)],
    ),
    (
        "away_periods",
        &[
            ("guild_id", Int),
            ("user_id", Int),
            ("from_at", Int),
            ("until_at", Int),
            ("note", Text),
            ("set_by", Int),
        ],
    ),
    ("standup_runs", &[("guild_id", Int), ("scheduled_at", Int)]),
    (
        "checkins",
        &[
            ("id", Int),
            ("guild_id", Int),
            ("user_id", Int),
            ("yesterday", Text),
            ("today", Text),
            ("blockers", Text),
            ("at", Int),
            ("summarized_at", Int),
        ],
    ),
    (
        "channel_failures",
        &[
            ("guild_id", Int),
            ("channel_id", Int),
            ("status", Int),
            ("error", Text),
            ("at", Int),
        ],
    ),
    (
        "project_feeds",
        &[
            ("project_id", Int),
            ("selector", Text),
            ("token", Text),
            ("created_at", Int),
        ],
    ),
];

/// A row of any table: each column as an integer or text, as the table's spec says. Values
/// decode by their stored type, so the same row type reads both engines.
struct AnyRow(Vec<Arg>);

impl<'r, R: Row> FromRow<'r, R> for AnyRow
where
    usize: ColumnIndex<R>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let mut values = Vec::with_capacity(row.columns().len());
        for (index, column) in row.columns().iter().enumerate() {
            // Text columns are named `t_…` by the SELECT below, so the spec picks the decoder.
            let value = if column.name().starts_with("t_") {
                Arg::Text(row.try_get::<Option<String>, _>(index)?)
            } else {
                Arg::Int(row.try_get::<Option<i64>, _>(index)?)
            };
            values.push(value);
        }
        Ok(AnyRow(values))
    }
}

/// Every row of `table`, ordered by all its columns, each value read as its spec says.
async fn read_table(db: &Db, table: &str, columns: &[(&str, Kind)]) -> StoreResult<Vec<AnyRow>> {
    let select: Vec<String> = columns
        .iter()
        .map(|(name, kind)| match kind {
            Int => format!("{name} AS i_{name}"),
            Text => format!("{name} AS t_{name}"),
        })
        .collect();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    sql(format!(
        "SELECT {} FROM {table} ORDER BY {}",
        select.join(", "),
        names.join(", ")
    ))
    .fetch_all(db.on())
    .await
}

/// How many rows of each table were copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
}

impl Db {
    /// Every row of `table` (one of the store's own), ordered by its columns, each as one
    /// line of values: what tests compare to prove a refused command changed nothing.
    pub async fn rows_as_text(&self, table: &str) -> StoreResult<Vec<String>> {
        let Some((_, columns)) = TABLES.iter().find(|(name, _)| *name == table) else {
            return Err(StoreError::Corrupt(format!("no table {table:?}")));
        };
        let rows = read_table(self, table, columns).await?;
        Ok(rows
            .into_iter()
            .map(|AnyRow(values)| {
                let cells: Vec<String> = values
                    .iter()
                    .map(|value| match value {
                        Arg::Int(v) => format!("{v:?}"),
                        Arg::Text(v) => format!("{v:?}"),
                        Arg::Bool(v) => format!("{v:?}"),
                    })
                    .collect();
                cells.join("|")
            })
            .collect())
    }

    /// Copies every row of `self` into `target`, which must hold no data yet.
    pub async fn copy_into(&self, target: &Db) -> StoreResult<CopyReport> {
        for (table, _) in TABLES {
            let rows: i64 = sql(format!("SELECT COUNT(*) FROM {table}"))
                .scalar(target.on())
                .await?;
            if rows > 0 {
                return Err(StoreError::TargetNotEmpty(table));
            }
        }
        let mut tx = target.begin().await?;
        let mut report = CopyReport { tables: Vec::new() };
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                placeholders.join(", ")
            );
            let rows = read_table(self, table, columns).await?;
            let mut copied = 0;
            for AnyRow(values) in rows {
                let mut statement = sql(insert.clone());
                for value in values {
                    statement = statement.bind(value);
                }
                copied += statement.execute(tx.on()).await?;
            }
            if target.engine() == Engine::Postgres && names.first() == Some(&"id") {
                // Identity columns do not see explicit ids: move each past the copied ones.
                sql(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .execute(tx.on())
                .await?;
            }
            report.tables.push((table, copied));
        }
        tx.commit().await?;
        if target.engine() == Engine::Postgres {
            // Statistics for the planner, as after any bulk load: planned against empty
            // tables' figures, a page of ten tasks was measured to sort a whole guild.
            sql("ANALYZE").execute(target.on()).await?;
        }
        Ok(report)
    }
}
