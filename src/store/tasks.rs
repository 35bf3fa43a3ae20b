//! The `tasks` table.

use chrono::{DateTime, Utc};

use super::duties::refresh_task_duties;
use super::settings::offsets_out;
use super::sql::{sql, Arg, Engine, Sql, Tx};
use super::{
    id_in, id_out, like_pattern, retry_conflicts, time_in, time_out, time_out_opt, Db, StoreError,
    StoreResult,
};
use crate::domain::duties::{next_at, DutyClock};
use crate::domain::ids::{ChannelId, GuildId, UserId};
use crate::domain::recurrence::{Recurrence, Repeat};
use crate::domain::task::{
    Priority, ProjectRef, Status, Task, TaskCommand, TaskLine, TaskNumber, TaskSort,
};
use crate::domain::validate::search_key;
use crate::domain::UserError;

/// Every column a [`TaskRow`] reads; with [`TASK_FROM`], the one way tasks are selected.
pub(super) const TASK_COLUMNS: &str =
    "t.id, t.guild_id, t.number, t.title, t.description, t.status, t.blocked_reason, \
     t.priority, t.project_id, p.name AS project_name, p.channel_id AS project_channel_id, \
     t.assignee_id, t.creator_id, t.channel_id, t.due_at, t.created_at, t.updated_at, \
     t.done_at, t.deleted_at, t.due_set_at, t.duty_cursor, t.snoozed_until, t.repeat_rule, \
     t.repeat_zone, t.repeat_anchor";
/// [`TASK_COLUMNS`] as an insert returns them: the project's columns empty (the caller knows them).
const INSERTED_TASK_COLUMNS: &str =
    "id, guild_id, number, title, description, status, blocked_reason, priority, project_id, \
     CAST(NULL AS TEXT) AS project_name, CAST(NULL AS BIGINT) AS project_channel_id, \
     assignee_id, creator_id, channel_id, due_at, created_at, updated_at, done_at, deleted_at, \
     due_set_at, duty_cursor, snoozed_until, repeat_rule, repeat_zone, repeat_anchor";
pub(super) const TASK_FROM: &str = "FROM tasks t LEFT JOIN projects p ON p.id = t.project_id";

/// The columns a [`TaskLineRow`] reads (from [`TASK_FROM`]).
const TASK_LINE_COLUMNS: &str = "t.number, t.title, t.status, t.priority, p.name AS project_name, \
     t.assignee_id, t.due_at, t.repeat_rule, t.repeat_zone, t.repeat_anchor";

record! {
    /// A task as a list line shows it, as stored.
    struct TaskLineRow {
        number: i64,
        title: String,
        status: String,
        priority: String,
        project_name: Option<String>,
        assignee_id: Option<i64>,
        due_at: Option<i64>,
        repeat_rule: Option<String>,
        repeat_zone: Option<String>,
        repeat_anchor: Option<i64>,
    }
}

impl TryFrom<TaskLineRow> for TaskLine {
    type Error = StoreError;

    fn try_from(row: TaskLineRow) -> StoreResult<TaskLine> {
        Ok(TaskLine {
            number: TaskNumber(row.number),
            title: row.title,
            status: status_out(&row.status)?,
            priority: priority_out(&row.priority)?,
            project_name: row.project_name,
            assignee_id: row.assignee_id.map(id_out),
            due_at: time_out_opt(row.due_at)?,
            repeat: recurrence_out(
                row.repeat_rule.as_deref(),
                row.repeat_zone.as_deref(),
                row.repeat_anchor,
            )?,
        })
    }
}

fn lines_out(rows: Vec<TaskLineRow>) -> StoreResult<Vec<TaskLine>> {
    rows.into_iter().map(TaskLine::try_from).collect()
}

record! {
    /// A line on a list page, with how many tasks match the list.
    struct CountedTaskLineRow {
        #[flatten] line: TaskLineRow,
        matching_total: i64,
    }
}

/// `SELECT <every task column> FROM tasks … <rest>`, where `rest` is the WHERE / ORDER BY.
pub(super) fn select_tasks(rest: &str) -> String {
    format!("SELECT {TASK_COLUMNS} {TASK_FROM} {rest}")
}

record! {
    /// A task as stored: ids and times as SQLite holds them.
    #[derive(Debug)]
    pub(super) struct TaskRow {
        id: i64,
        guild_id: i64,
        number: i64,
        title: String,
        description: Option<String>,
        status: String,
        blocked_reason: Option<String>,
        priority: String,
        project_id: Option<i64>,
        project_name: Option<String>,
        project_channel_id: Option<i64>,
        assignee_id: Option<i64>,
        creator_id: i64,
        channel_id: i64,
        due_at: Option<i64>,
        created_at: i64,
        updated_at: i64,
        done_at: Option<i64>,
        pub(super) deleted_at: Option<i64>,
        due_set_at: Option<i64>,
        duty_cursor: Option<i64>,
        snoozed_until: Option<i64>,
        repeat_rule: Option<String>,
        repeat_zone: Option<String>,
        repeat_anchor: Option<i64>,
    }
}

/// A stored rule, zone and anchor as a [`Recurrence`] (None unless all three are set).
fn recurrence_out(
    rule: Option<&str>,
    zone: Option<&str>,
    anchor: Option<i64>,
) -> StoreResult<Option<Recurrence>> {
    let (Some(rule), Some(zone), Some(anchor)) = (rule, zone, anchor) else {
        return Ok(None);
    };
    let repeat = Repeat::parse(rule)
        .ok()
        .flatten()
        .ok_or_else(|| StoreError::Corrupt(format!("unknown repeat rule {rule:?}")))?;
    let zone = zone
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown time zone {zone:?}")))?;
    Ok(Some(Recurrence {
        repeat,
        zone,
        anchor: time_out(anchor)?,
    }))
}

impl TaskRow {
    /// Where the task's reminders stand, when it has a due time.
    pub(super) fn duty_clock(&self) -> StoreResult<Option<DutyClock>> {
        let Some(due_at) = time_out_opt(self.due_at)? else {
            return Ok(None);
        };
        let due_set_at = time_out_opt(self.due_set_at)?.unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(Some(DutyClock {
            due_at,
            due_set_at,
            cursor: time_out_opt(self.duty_cursor)?.unwrap_or(due_set_at),
            snoozed_until: time_out_opt(self.snoozed_until)?,
        }))
    }
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(row: TaskRow) -> StoreResult<Task> {
        let project = row.project_id.map(|id| ProjectRef {
            id,
            name: row.project_name.unwrap_or_default(),
            channel_id: row.project_channel_id.map(id_out),
        });
        Ok(Task {
            id: row.id,
            guild_id: id_out(row.guild_id),
            number: TaskNumber(row.number),
            title: row.title,
            description: row.description,
            status: status_out(&row.status)?,
            blocked_reason: row.blocked_reason,
            priority: priority_out(&row.priority)?,
            project,
            assignee_id: row.assignee_id.map(id_out),
            creator_id: id_out(row.creator_id),
            channel_id: id_out(row.channel_id),
            due_at: time_out_opt(row.due_at)?,
            created_at: time_out(row.created_at)?,
            updated_at: time_out(row.updated_at)?,
            done_at: time_out_opt(row.done_at)?,
            repeat: recurrence_out(
                row.repeat_rule.as_deref(),
                row.repeat_zone.as_deref(),
                row.repeat_anchor,
            )?,
        })
    }
}

fn status_out(stored: &str) -> StoreResult<Status> {
    stored
        .parse()
        .map_err(|()| StoreError::Corrupt(format!("unknown status {stored:?}")))
}

fn priority_out(stored: &str) -> StoreResult<Priority> {
    stored
        .parse()
        .map_err(|()| StoreError::Corrupt(format!("unknown priority {stored:?}")))
}

/// Decodes rows into tasks.
pub(super) fn tasks_out(rows: Vec<TaskRow>) -> StoreResult<Vec<Task>> {
    rows.into_iter().map(Task::try_from).collect()
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub guild_id: GuildId,
    pub title: String,
    pub description: Option<String>,
    pub priority: Priority,
    pub project: Option<ProjectRef>,
    pub assignee_id: Option<UserId>,
    pub creator_id: UserId,
    pub channel_id: ChannelId,
    pub due_at: Option<DateTime<Utc>>,
    pub repeat: Option<Recurrence>,
}

/// What `/task list` narrows by. With no status, only open tasks are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub assignee_id: Option<UserId>,
    pub project_id: Option<i64>,
    pub status: Option<Status>,
    /// Only open tasks whose due time is before this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    pub sort: TaskSort,
}

#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<TaskLine>,
    /// How many match: exact for every open task, otherwise counted up to `LIST_COUNT_CAP`.
    pub total: i64,
    /// More than `total` match.
    pub capped: bool,
}

/// A filtered `/task list` counts matching tasks up to this many ("1000+").
pub const LIST_COUNT_CAP: i64 = 1_000;

async fn insert_history(
    tx: &mut Tx,
    task_id: i64,
    actor_id: UserId,
    at: DateTime<Utc>,
    action: &str,
    detail: &str,
) -> StoreResult<()> {
    sql(
        "INSERT INTO task_history (task_id, actor_id, at, action, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(task_id)
    .bind(id_in(actor_id))
    .bind(time_in(at))
    .bind(action)
    .bind(detail)
    .execute(tx.on())
    .await?;
    Ok(())
}

async fn fetch_task(
    tx: &mut Tx,
    guild_id: GuildId,
    number: TaskNumber,
) -> StoreResult<Option<Task>> {
    // On PostgreSQL the row stays locked until commit: the worker's claim, which does not take
    // the guild's lock, waits rather than interleaving with this change.
    let lock = match tx.engine() {
        Engine::Sqlite => "",
        Engine::Postgres => " FOR UPDATE OF t",
    };
    let row: Option<TaskRow> = sql(select_tasks(&format!(
        "WHERE t.guild_id = $1 AND t.number = $2 AND t.deleted_at IS NULL{lock}"
    )))
    .bind(id_in(guild_id))
    .bind(number.0)
    .fetch_optional(tx.on())
    .await?;
    row.map(Task::try_from).transpose()
}

/// Autocomplete's bounds: every path it may take touches at most this many rows, whatever
/// the typed text, so a keystroke costs about the same in a guild of a thousand tasks or a
/// million (see `Db::search_tasks`).
///
/// The guild's newest tasks read directly for text of three characters or more: text that
/// many titles share fills the list here, where an index would intersect long posting lists.
const RECENT_ROWS: i64 = 500;
/// The newest tasks read for one or two characters (no trigram to look up), and for text that
/// is common in every part on PostgreSQL. Older tasks are found by number or longer text.
const SHORT_TEXT_ROWS: i64 = 2_000;
/// Rows read per number range (`4` is 4, 40–49, 400–499…), so done tasks cannot stretch a read.
const NUMBER_RANGE_ROWS: i64 = 100;
/// Trigrams of the typed text whose frequency is probed, each up to [`SELECTIVE_BELOW`]
/// postings in the guild: the probes cost at most their product.
const PROBE_TRIGRAMS: usize = 4;
/// A trigram with fewer postings than this in the guild is selective: the index then serves
/// every probed trigram at once, driven by the rarest.
const SELECTIVE_BELOW: i64 = 500;
/// Candidates the trigram index may hand over to be checked against the whole text.
const INDEX_CANDIDATES: i64 = 100;
/// PostgreSQL: pg_trgm is used when the planner expects at most this many matching rows
/// (its bitmap scan reads every match before the newest are picked).
const PG_SELECTIVE_ROWS: i64 = 2_000;
/// PostgreSQL: the characters of the typed text handed to pg_trgm (the end of it): each
/// trigram it is given costs a posting list, and common ones cover most of the guild.
const PG_INDEXED_CHARS: usize = 6;

/// The trigram index's rowid is the guild's search sequence shifted by this many bits, plus
/// the task number (SQLite; see the migration `0005_title_search_by_guild.sql`).
const SEARCH_GUILD_SHIFT: i64 = 40;

impl Db {
    /// Folds the titles of rows written before titles carried their search key (once, at
    /// start; an index finds them, so later starts cost one empty read). Safe with several
    /// processes starting at once: a row is filled only while still empty.
    pub(super) async fn fill_title_keys(&self) -> StoreResult<()> {
        loop {
            let rows: Vec<(i64, String)> =
                sql("SELECT id, title FROM tasks WHERE title_key IS NULL ORDER BY id LIMIT 1000")
                    .fetch_all(self.on())
                    .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin().await?;
            for (id, title) in rows {
                sql("UPDATE tasks SET title_key = $1 WHERE id = $2 AND title_key IS NULL")
                    .bind(search_key(&title))
                    .bind(id)
                    .execute(tx.on())
                    .await?;
            }
            tx.commit().await?;
        }
    }

    /// Creates a task with the guild's next number, and its first history row.
    pub async fn create_task(&self, new: &NewTask, now: DateTime<Utc>) -> StoreResult<Task> {
        retry_conflicts(|| self.create_task_once(new, now)).await
    }

    async fn create_task_once(&self, new: &NewTask, now: DateTime<Utc>) -> StoreResult<Task> {
        let mut tx = self.begin_write(new.guild_id).await?;
        let task = insert_task(&mut tx, new, now).await?;
        tx.commit().await?;
        if task.due_at.is_some() {
            self.due_times_changed();
        }
        Ok(task)
    }

    /// A task of this guild that has not been deleted.
    pub async fn task(&self, guild_id: GuildId, number: TaskNumber) -> StoreResult<Option<Task>> {
        let row: Option<TaskRow> = sql(select_tasks(
            "WHERE t.guild_id = $1 AND t.number = $2 AND t.deleted_at IS NULL",
        ))
        .bind(id_in(guild_id))
        .bind(number.0)
        .fetch_optional(self.on())
        .await?;
        row.map(Task::try_from).transpose()
    }

    /// Loads the task, lets `decide` accept or refuse `command` against its current state, and
    /// applies it with a history row, all in one transaction, so no other write can come
    /// between the check and the change. Returns the task as it is after.
    ///
    /// Fails with [`StoreError::TaskNotFound`] for a number the guild does not have (or a
    /// deleted task), and [`StoreError::Refused`] with what `decide` said.
    pub async fn change_task(
        &self,
        guild_id: GuildId,
        number: TaskNumber,
        actor_id: UserId,
        now: DateTime<Utc>,
        command: &TaskCommand,
        decide: impl Fn(&Task) -> Result<(), UserError>,
    ) -> StoreResult<Task> {
        retry_conflicts(|| self.change_task_once(guild_id, number, actor_id, now, command, &decide))
            .await
    }

    async fn change_task_once(
        &self,
        guild_id: GuildId,
        number: TaskNumber,
        actor_id: UserId,
        now: DateTime<Utc>,
        command: &TaskCommand,
        decide: &impl Fn(&Task) -> Result<(), UserError>,
    ) -> StoreResult<Task> {
        let mut tx = self.begin_write(guild_id).await?;
        let task = fetch_task(&mut tx, guild_id, number)
            .await?
            .ok_or(StoreError::TaskNotFound(number))?;
        decide(&task).map_err(StoreError::Refused)?;
        apply(&mut tx, task.id, command, now).await?;
        refresh_task_duties(&mut tx, task.id).await?;
        let (action, detail) = command.history(&task);
        insert_history(&mut tx, task.id, actor_id, now, action, &detail).await?;
        if matches!(command, TaskCommand::Done) {
            create_next_occurrence(&mut tx, &task, actor_id, now).await?;
        }
        let after = match command {
            TaskCommand::Delete => task,
            _ => fetch_task(&mut tx, guild_id, number)
                .await?
                .ok_or_else(|| StoreError::Corrupt("changed task vanished".into()))?,
        };
        tx.commit().await?;
        if !matches!(command, TaskCommand::Comment(_)) {
            self.due_times_changed();
        }
        Ok(after)
    }

    /// The task a recurring task's completion created, if any.
    pub async fn next_occurrence_of(&self, task_id: i64) -> StoreResult<Option<Task>> {
        let row: Option<TaskRow> = sql(select_tasks(
            "WHERE t.id = (SELECT next_occurrence_id FROM tasks WHERE id = $1)",
        ))
        .bind(task_id)
        .fetch_optional(self.on())
        .await?;
        row.map(Task::try_from).transpose()
    }

    /// One page of the guild's tasks, by number.
    pub async fn list_tasks(
        &self,
        guild_id: GuildId,
        filter: &TaskFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<TaskPage> {
        // Only the filters given are written into the statement: with a generic
        // `$n IS NULL OR …` PostgreSQL's cached plan scanned and sorted the whole table for
        // every page (64 ms at 100,000 tasks) instead of walking the (guild, number) index.
        let mut condition = String::from("t.guild_id = $1 AND t.deleted_at IS NULL");
        let mut args: Vec<Arg> = vec![id_in(guild_id).into()];
        let mut filter_on = |clause: &str, value: Arg| {
            args.push(value);
            condition.push_str(&clause.replace("{}", &format!("${}", args.len())));
        };
        if let Some(assignee) = filter.assignee_id {
            filter_on(" AND t.assignee_id = {}", id_in(assignee).into());
        }
        if let Some(project) = filter.project_id {
            filter_on(" AND t.project_id = {}", project.into());
        }
        if let Some(at) = filter.overdue_at {
            filter_on(
                " AND t.due_at < {} AND t.status <> 'done'",
                time_in(at).into(),
            );
        }
        match filter.status {
            Some(status) => filter_on(" AND t.status = {}", status.as_str().into()),
            None => condition.push_str(" AND t.status <> 'done'"),
        }
        let with_args = |mut statement: Sql| {
            for arg in &args {
                statement = statement.bind(arg.clone());
            }
            statement
        };
        // By due: the index `tasks_list_due` walks (undated last, then due, then number).
        let order = match filter.sort {
            TaskSort::Due => "(t.due_at IS NULL), t.due_at, t.number",
            TaskSort::Priority => {
                "CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 \
                 ELSE 3 END, (t.due_at IS NULL), t.due_at, t.number"
            }
            TaskSort::Number => "t.number",
        };
        // Every open task: the number the triggers keep (migration `open_tasks`), exact and
        // read in one row. Narrower lists are counted, and counting stops past the cap: a
        // page of ten never pays for a count of 100,000.
        let every_open = filter.assignee_id.is_none()
            && filter.project_id.is_none()
            && filter.overdue_at.is_none()
            && filter.status.is_none();
        let count = if every_open {
            "SELECT COALESCE((SELECT open_tasks FROM guild_open_tasks WHERE guild_id = $1), 0)"
                .to_string()
        } else {
            format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tasks t WHERE {condition} LIMIT {}) \
                 AS matching",
                LIST_COUNT_CAP + 1
            )
        };
        // The page and the count in one statement (each statement is a round trip); the
        // count's subquery does not depend on the row, so it runs once. The page bounds are
        // written in, not bound: with `LIMIT $n` PostgreSQL's cached generic plan cannot know
        // the page is ten rows, and sorted the whole guild.
        let rows: Vec<CountedTaskLineRow> = with_args(sql(format!(
            "SELECT {TASK_LINE_COLUMNS}, ({count}) AS matching_total {TASK_FROM} \
             WHERE {condition} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        )))
        .fetch_all(self.on())
        .await?;
        let total = match rows.first() {
            Some(row) => row.matching_total,
            // No row to carry the count: none match, or the page is past the last.
            None if offset == 0 => 0,
            None => with_args(sql(count)).scalar(self.on()).await?,
        };
        let capped = !every_open && total > LIST_COUNT_CAP;
        Ok(TaskPage {
            tasks: lines_out(rows.into_iter().map(|row| row.line).collect())?,
            total: if capped { LIST_COUNT_CAP } else { total },
            capped,
        })
    }

    /// A user's open tasks, soonest due first (undated last).
    pub async fn tasks_of(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        limit: i64,
    ) -> StoreResult<TaskPage> {
        let total: i64 = sql(
            "SELECT COUNT(*) FROM tasks WHERE guild_id = $1 AND assignee_id = $2 \
             AND status <> 'done' AND deleted_at IS NULL",
        )
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .scalar(self.on())
        .await?;
        let rows: Vec<TaskLineRow> = sql(format!(
            "SELECT {TASK_LINE_COLUMNS} {TASK_FROM} \
             WHERE t.guild_id = $1 AND t.assignee_id = $2 AND t.status <> 'done' \
             AND t.deleted_at IS NULL \
             ORDER BY CASE WHEN t.due_at IS NULL THEN 1 ELSE 0 END, t.due_at, t.number LIMIT $3",
        ))
        .bind(id_in(guild_id))
        .bind(id_in(user_id))
        .bind(limit)
        .fetch_all(self.on())
        .await?;
        Ok(TaskPage {
            tasks: lines_out(rows)?,
            total,
            capped: false,
        })
    }

    /// Tasks whose number starts with, or whose title contains, `typed` (ignoring case), for
    /// autocomplete: an exact number first, then other numbers starting with the digits, then
    /// titles containing the text, newest first.
    ///
    /// Every read is bounded (the constants above): number ranges on (guild, number), the
    /// guild's newest tasks read directly, and the trigram index only when one of the text's
    /// trigrams is rare enough. The price: text every part of which is common (in thousands of
    /// titles) finds the newest matches only, not one old title that happens to contain it.
    pub async fn search_tasks(
        &self,
        guild_id: GuildId,
        typed: &str,
        include_done: bool,
        limit: i64,
    ) -> StoreResult<Vec<(TaskNumber, String)>> {
        let typed = typed.trim().trim_start_matches('#').trim();
        let mut found = Found::new(limit);
        if typed.is_empty() {
            let rows = self
                .newest_tasks(guild_id, include_done, None, SHORT_TEXT_ROWS, limit)
                .await?;
            found.extend(rows);
            return Ok(found.rows);
        }
        if let Some(ranges) = number_prefix_ranges(typed) {
            let rows = self
                .numbered_tasks(guild_id, include_done, &ranges, limit)
                .await?;
            found.extend(rows);
        }
        let key = search_key(typed);
        let grams = trigrams(&key);
        let window = if grams.is_empty() {
            SHORT_TEXT_ROWS
        } else {
            RECENT_ROWS
        };
        if !found.full() {
            let rows = self
                .newest_tasks(guild_id, include_done, Some(&key), window, limit)
                .await?;
            found.extend(rows);
        }
        if found.full() || grams.is_empty() {
            return Ok(found.rows);
        }
        // Older tasks, through the trigram index when it is selective.
        let rows = match self.engine() {
            Engine::Sqlite => {
                self.sqlite_title_search(guild_id, include_done, &key, &grams, limit)
                    .await?
            }
            Engine::Postgres => {
                self.postgres_title_search(guild_id, include_done, &key, limit)
                    .await?
            }
        };
        found.extend(rows);
        Ok(found.rows)
    }

    /// The guild's newest tasks, reading at most `rows` of them (newest first through (guild,
    /// number)), and of those the first `limit` that pass the filter and, with `key`, contain it.
    async fn newest_tasks(
        &self,
        guild_id: GuildId,
        include_done: bool,
        key: Option<&str>,
        rows: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, String)>> {
        let text = if key.is_some() {
            " AND t.title_key LIKE $7 ESCAPE '\\'"
        } else {
            ""
        };
        // No ORDER BY outside the window, on purpose: rows leave the window newest first and
        // the LIMIT stops its read at the `limit`-th match. Sorting them again (SQLite's temp
        // b-tree) would read the whole window first: 25 matches among the newest 2,000 cost
        // the 2,000. The few found are put in order below.
        let mut statement = sql(format!(
            "SELECT t.number, t.title FROM {} t WHERE t.deleted_at IS NULL \
             AND ($5 OR t.status <> 'done'){text} LIMIT $6",
            window_of(2)
        ))
        .bind(id_in(guild_id))
        .bind(0_i64) // every number
        .bind(i64::MAX)
        .bind(rows)
        .bind(include_done)
        .bind(limit);
        if let Some(key) = key {
            statement = statement.bind(like_pattern(key));
        }
        let mut rows: Vec<(i64, String)> = statement.fetch_all(self.on()).await?;
        rows.sort_unstable_by_key(|(number, _)| std::cmp::Reverse(*number));
        Ok(rows)
    }

    /// Tasks numbered within each of `ranges`, in one statement: the ranges in order, each
    /// newest first and reading at most [`NUMBER_RANGE_ROWS`] rows (and, as in
    /// [`Self::newest_tasks`], no more than it takes to find `limit`).
    async fn numbered_tasks(
        &self,
        guild_id: GuildId,
        include_done: bool,
        ranges: &[(i64, i64)],
        limit: i64,
    ) -> StoreResult<Vec<(i64, String)>> {
        let arms = (0..ranges.len())
            .map(|i| {
                format!(
                    "SELECT * FROM (SELECT {i} AS arm, t.number, t.title FROM {} t \
                     WHERE t.deleted_at IS NULL AND ($2 OR t.status <> 'done') LIMIT $3) r{i}",
                    window_of(5 + 2 * i)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut statement = sql(format!(
            "SELECT number, title FROM ({arms}) ranges ORDER BY arm, number DESC LIMIT $3"
        ))
        .bind(id_in(guild_id))
        .bind(include_done)
        .bind(limit)
        .bind(NUMBER_RANGE_ROWS);
        for (low, high) in ranges {
            statement = statement.bind(*low).bind(*high);
        }
        let rows: Vec<(i64, String)> = statement.fetch_all(self.on()).await?;
        Ok(rows)
    }

    /// SQLite: the guild's range of the trigram index. Up to [`PROBE_TRIGRAMS`] of the text's
    /// trigrams are counted (each up to [`SELECTIVE_BELOW`]); one with no posting means no
    /// title contains the text. With a selective one, the index intersects the probed
    /// trigrams (cost led by the rarest); otherwise it hands over the newest postings of the
    /// rarest-looking one. Either way at most [`INDEX_CANDIDATES`] tasks are read and checked
    /// against the whole text.
    async fn sqlite_title_search(
        &self,
        guild_id: GuildId,
        include_done: bool,
        key: &str,
        grams: &[String],
        limit: i64,
    ) -> StoreResult<Vec<(i64, String)>> {
        // The guild's place in the index is looked up inside the same statement (it is the
        // same for every arm): one round trip fewer. A guild without one has no titles there.
        let place = "(SELECT seq * $2 FROM search_guilds WHERE guild_id = $1)";
        let probed = probe_order(grams);
        let arms = (0..probed.len())
            .map(|i| {
                format!(
                    "SELECT {i}, count(*), {place} FROM (SELECT 1 FROM task_title_grams \
                     WHERE task_title_grams MATCH ${} \
                     AND rowid BETWEEN {place} AND {place} + $2 - 1 LIMIT $3)",
                    i + 4
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut statement = sql(arms)
            .bind(id_in(guild_id))
            .bind(1_i64 << SEARCH_GUILD_SHIFT)
            .bind(SELECTIVE_BELOW);
        for gram in &probed {
            statement = statement.bind(fts_phrase(gram));
        }
        let counts: Vec<(i64, i64, Option<i64>)> = statement.fetch_all(self.on()).await?;
        // The first probed (the most distinctive-looking) among the rarest.
        let Some(&(rarest, fewest, Some(low))) =
            counts.iter().min_by_key(|(i, count, _)| (*count, *i))
        else {
            return Ok(Vec::new());
        };
        if fewest == 0 {
            return Ok(Vec::new());
        }
        let high = low + (1 << SEARCH_GUILD_SHIFT) - 1;
        let matched = if fewest < SELECTIVE_BELOW {
            probed
                .iter()
                .map(|g| fts_phrase(g))
                .collect::<Vec<_>>()
                .join(" AND ")
        } else {
            let index = usize::try_from(rarest).unwrap_or(0);
            fts_phrase(probed.get(index).map(String::as_str).unwrap_or(key))
        };
        // CROSS JOIN keeps the index's candidates as the outer loop.
        sql(
            "SELECT t.number, t.title FROM (SELECT rowid AS r FROM task_title_grams \
             WHERE task_title_grams MATCH $3 AND rowid BETWEEN $4 AND $5 \
             ORDER BY rowid DESC LIMIT $6) g \
             CROSS JOIN tasks t ON t.guild_id = $1 AND t.number = g.r - $4 \
             WHERE t.deleted_at IS NULL AND ($2 OR t.status <> 'done') \
             AND t.title_key LIKE $7 ESCAPE '\\' ORDER BY t.number DESC LIMIT $8",
        )
        .bind(id_in(guild_id))
        .bind(include_done)
        .bind(matched)
        .bind(low)
        .bind(high)
        .bind(INDEX_CANDIDATES)
        .bind(like_pattern(key))
        .bind(limit)
        .fetch_all(self.on())
        .await
    }

    /// PostgreSQL: pg_trgm's bitmap scan reads every match before the newest can be picked,
    /// so it is used only when the planner expects few ([`PG_SELECTIVE_ROWS`]); text common
    /// in every part is answered from the guild's newest tasks instead. The index is given at
    /// most the text's last [`PG_INDEXED_CHARS`] characters (every trigram it is given costs a
    /// posting list, however common); the whole text is checked on the rows it finds.
    async fn postgres_title_search(
        &self,
        guild_id: GuildId,
        include_done: bool,
        key: &str,
        limit: i64,
    ) -> StoreResult<Vec<(i64, String)>> {
        const MATCHING: &str =
            "FROM tasks t WHERE t.guild_id = $1 AND t.title_key LIKE $2 ESCAPE '\\' \
             AND strpos(t.title_key, $3) > 0";
        let skip = key.chars().count().saturating_sub(PG_INDEXED_CHARS);
        let indexed: String = key.chars().skip(skip).collect();
        // Planned with this very text each time (a kept statement may switch to a generic
        // plan, which cannot see how selective the pattern is).
        let plan: Vec<String> = sql(format!("EXPLAIN SELECT t.number {MATCHING}"))
            .bind(id_in(guild_id))
            .bind(like_pattern(&indexed))
            .bind(key)
            .planned_each_time()
            .scalars(self.on())
            .await?;
        let expected = plan.first().and_then(|line| estimated_rows(line));
        match expected {
            Some(rows) if rows <= PG_SELECTIVE_ROWS => {
                sql(format!(
                    "SELECT t.number, t.title {MATCHING} AND t.deleted_at IS NULL \
                     AND ($4 OR t.status <> 'done') ORDER BY t.number DESC LIMIT $5"
                ))
                .bind(id_in(guild_id))
                .bind(like_pattern(&indexed))
                .bind(key)
                .bind(include_done)
                .bind(limit)
                .planned_each_time()
                .fetch_all(self.on())
                .await
            }
            _ => {
                self.newest_tasks(guild_id, include_done, Some(key), SHORT_TEXT_ROWS, limit)
                    .await
            }
        }
    }
}

/// The guild's tasks numbered from `$low` to `$low + 1` (placeholders from `low`; `$1` is the
/// guild), newest first through (guild, number), at most `$4` of them: the inner LIMIT is the
/// bound, so a filter applied after it never reads further.
fn window_of(low: usize) -> String {
    format!(
        "(SELECT number, title, title_key, status, deleted_at FROM tasks \
         WHERE guild_id = $1 AND number BETWEEN ${low} AND ${} ORDER BY number DESC LIMIT $4)",
        low + 1
    )
}

/// Autocomplete's answer as it fills: each task once, in the order found, up to the limit.
struct Found {
    rows: Vec<(TaskNumber, String)>,
    limit: i64,
}

impl Found {
    fn new(limit: i64) -> Self {
        Found {
            rows: Vec::new(),
            limit,
        }
    }

    fn full(&self) -> bool {
        self.rows.len() as i64 >= self.limit
    }

    fn extend(&mut self, rows: Vec<(i64, String)>) {
        for (number, title) in rows {
            if self.full() {
                return;
            }
            let number = TaskNumber(number);
            if !self.rows.iter().any(|(n, _)| *n == number) {
                self.rows.push((number, title));
            }
        }
    }
}

/// The distinct trigrams of a search key, in order (characters, as the index splits them).
fn trigrams(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut grams: Vec<String> = Vec::new();
    for window in chars.windows(3) {
        let gram: String = window.iter().collect();
        if !grams.contains(&gram) {
            grams.push(gram);
        }
    }
    grams
}

/// Which trigrams to probe, most distinctive-looking first: those with digits or other
/// characters than letters and spaces, then later ones (the end of what is typed is usually
/// the part that narrows it); spread over the text.
fn probe_order(grams: &[String]) -> Vec<String> {
    let mut ranked: Vec<(usize, &String)> = grams.iter().enumerate().collect();
    let plain = |g: &str| g.chars().all(|c| c.is_alphabetic() || c == ' ');
    ranked.sort_by_key(|(i, g)| (plain(g), std::cmp::Reverse(*i)));
    let mut chosen: Vec<String> = ranked
        .iter()
        .take(PROBE_TRIGRAMS.saturating_sub(1))
        .map(|(_, g)| (*g).clone())
        .collect();
    // The first trigram too: a long text's start may be the rare part.
    if let Some(first) = grams.first() {
        if !chosen.contains(first) {
            chosen.push(first.clone());
        }
    }
    chosen
}

/// A trigram as an FTS5 phrase (quoted, quotes doubled), so any character is matched as text.
fn fts_phrase(gram: &str) -> String {
    format!("\"{}\"", gram.replace('"', "\"\""))
}

/// The planner's row estimate on the top line of a PostgreSQL text plan (`... rows=42 ...`).
fn estimated_rows(line: &str) -> Option<i64> {
    let rest = &line[line.find("rows=")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Inserts a task with the guild's next number, its creation history row and its duties, in
/// the caller's transaction (which holds the guild's write lock).
///
/// Statements are few on purpose (each is a round trip): the number and the reminder offsets
/// come from one upsert of the guild's settings row, and the first duty time is computed here
/// and inserted with the task.
async fn insert_task(tx: &mut Tx, new: &NewTask, now: DateTime<Utc>) -> StoreResult<Task> {
    // A guild's first task creates its settings row, with number 1 taken.
    let (number, offsets): (i64, String) = sql(
        "INSERT INTO guild_settings (guild_id, next_task_number) VALUES ($1, 2) \
         ON CONFLICT (guild_id) DO UPDATE SET next_task_number = guild_settings.next_task_number + 1 \
         RETURNING next_task_number - 1, reminder_offsets",
    )
    .bind(id_in(new.guild_id))
    .fetch_one(tx.on())
    .await?;
    // As `refresh_task_duties` would compute it for a task just created.
    let next_duty_at = match new.due_at {
        Some(due_at) => next_at(
            &DutyClock {
                due_at,
                due_set_at: now,
                cursor: now,
                snoozed_until: None,
            },
            &offsets_out(&offsets)?,
        ),
        None => None,
    };
    // The task comes back from the insert itself rather than being read again; its project's
    // name and channel are the caller's, filled in below.
    let mut row: TaskRow = sql(format!(
        "INSERT INTO tasks (guild_id, number, title, description, status, priority, project_id, \
         assignee_id, creator_id, channel_id, due_at, created_at, updated_at, due_set_at, duty_cursor, \
         title_key, repeat_rule, repeat_zone, repeat_anchor, next_duty_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $12, $13, $14, $15, $16, $17) \
         RETURNING {INSERTED_TASK_COLUMNS}"
    ))
    .bind(id_in(new.guild_id))
    .bind(number)
    .bind(&new.title)
    .bind(&new.description)
    .bind(Status::Todo.as_str())
    .bind(new.priority.as_str())
    .bind(new.project.as_ref().map(|p| p.id))
    .bind(new.assignee_id.map(id_in))
    .bind(id_in(new.creator_id))
    .bind(id_in(new.channel_id))
    .bind(new.due_at.map(time_in))
    .bind(time_in(now))
    .bind(search_key(&new.title))
    .bind(new.repeat.map(|r| r.repeat.to_string()))
    .bind(new.repeat.map(|r| r.zone.name().to_string()))
    .bind(new.repeat.map(|r| time_in(r.anchor)))
    .bind(next_duty_at.map(time_in))
    .fetch_one(tx.on())
    .await?;
    if let Some(project) = &new.project {
        row.project_name = Some(project.name.clone());
        row.project_channel_id = project.channel_id.map(id_in);
    }
    insert_history(tx, row.id, new.creator_id, now, "created", &new.title).await?;
    Task::try_from(row)
}

/// After a recurring task is done: its next occurrence, created once per task (however often
/// it is reopened and closed again) unless its project is archived. Returns the new task.
async fn create_next_occurrence(
    tx: &mut Tx,
    done: &Task,
    actor_id: UserId,
    now: DateTime<Utc>,
) -> StoreResult<Option<Task>> {
    let (Some(recurrence), Some(due_at)) = (done.repeat, done.due_at) else {
        return Ok(None);
    };
    let (already, archived): (Option<i64>, bool) =
        sql("SELECT t.next_occurrence_id, p.archived_at IS NOT NULL \
         FROM tasks t LEFT JOIN projects p ON p.id = t.project_id WHERE t.id = $1")
        .bind(done.id)
        .fetch_one(tx.on())
        .await?;
    if already.is_some() || archived {
        return Ok(None);
    }
    let Some(next_due) = recurrence.next_after(due_at, now) else {
        return Ok(None);
    };
    let next = NewTask {
        guild_id: done.guild_id,
        title: done.title.clone(),
        description: done.description.clone(),
        priority: done.priority,
        project: done.project.clone(),
        assignee_id: done.assignee_id,
        creator_id: done.creator_id,
        channel_id: done.channel_id,
        due_at: Some(next_due),
        repeat: Some(recurrence),
    };
    let task = insert_task(tx, &next, now).await?;
    sql("UPDATE tasks SET next_occurrence_id = $1 WHERE id = $2")
        .bind(task.id)
        .bind(done.id)
        .execute(tx.on())
        .await?;
    insert_history(
        tx,
        done.id,
        actor_id,
        now,
        "repeated",
        &format!("next:{}", task.number.0),
    )
    .await?;
    Ok(Some(task))
}

/// Writes what `command` changes, and nothing else. Each statement is whole, with its own
/// binds, so no case depends on another's parameter numbering.
async fn apply(
    tx: &mut Tx,
    task_id: i64,
    command: &TaskCommand,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let at = time_in(now);
    let query = match command {
        TaskCommand::Assign(user) => {
            sql("UPDATE tasks SET assignee_id = $1, updated_at = $2 WHERE id = $3")
                .bind(user.map(id_in))
                .bind(at)
                .bind(task_id)
        }
        TaskCommand::Start => set_status(Status::InProgress, at, task_id),
        TaskCommand::Done => set_status(Status::Done, at, task_id),
        TaskCommand::Reopen => set_status(Status::Todo, at, task_id),
        TaskCommand::Block(reason) => sql(
            "UPDATE tasks SET status = 'blocked', blocked_reason = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(reason.clone())
        .bind(at)
        .bind(task_id),
        // Only the fields the edit names; a new due time starts a new reminder schedule, so
        // offsets already past are skipped and a snooze no longer applies.
        TaskCommand::Edit(edit) => sql(
            "UPDATE tasks SET title = COALESCE($1, title), \
             description = COALESCE($2, description), \
             project_id = COALESCE($3, project_id), \
             priority = COALESCE($4, priority), \
             due_at = COALESCE($5, due_at), \
             due_set_at = CASE WHEN $5 IS NULL THEN due_set_at ELSE $6 END, \
             duty_cursor = CASE WHEN $5 IS NULL THEN duty_cursor ELSE $6 END, \
             snoozed_until = CASE WHEN $5 IS NULL THEN snoozed_until ELSE NULL END, \
             updated_at = $6, title_key = COALESCE($8, title_key), \
             repeat_rule = CASE WHEN $9 THEN $10 ELSE repeat_rule END, \
             repeat_zone = CASE WHEN $9 THEN $11 ELSE repeat_zone END, \
             repeat_anchor = CASE WHEN $9 THEN (CASE WHEN $10 IS NULL THEN NULL \
               ELSE COALESCE($5, due_at) END) ELSE repeat_anchor END WHERE id = $7",
        )
        .bind(edit.title.clone())
        .bind(edit.description.clone())
        .bind(edit.project.as_ref().map(|p| p.id))
        .bind(edit.priority.map(|p| p.as_str()))
        .bind(edit.due_at.map(time_in))
        .bind(at)
        .bind(task_id)
        .bind(edit.title.as_deref().map(search_key))
        .bind(edit.repeat.is_some())
        .bind(edit.repeat.flatten().map(|r| r.repeat.to_string()))
        .bind(edit.repeat.flatten().map(|r| r.zone.name().to_string())),
        TaskCommand::Comment(_) => sql("UPDATE tasks SET updated_at = $1 WHERE id = $2")
            .bind(at)
            .bind(task_id),
        TaskCommand::Snooze(until) => {
            sql("UPDATE tasks SET snoozed_until = $1, updated_at = $2 WHERE id = $3")
                .bind(time_in(*until))
                .bind(at)
                .bind(task_id)
        }
        TaskCommand::Delete => {
            sql("UPDATE tasks SET deleted_at = $1, updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(task_id)
        }
    };
    query.execute(tx.on()).await?;
    Ok(())
}

/// A status change; leaving `blocked` clears its reason, and `done_at` is set only by done.
fn set_status(status: Status, at: i64, task_id: i64) -> Sql {
    sql("UPDATE tasks SET status = $1, blocked_reason = NULL, \
         done_at = CASE WHEN $1 = 'done' THEN $2 ELSE NULL END, updated_at = $2 WHERE id = $3")
    .bind(status.as_str())
    .bind(at)
    .bind(task_id)
}

/// The number ranges whose decimal form starts with `digits`: `12` is 12, 120–129, 1200–1299…
/// The exact number comes first.
fn number_prefix_ranges(digits: &str) -> Option<Vec<(i64, i64)>> {
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: i64 = digits.parse().ok()?;
    let mut ranges = Vec::new();
    let (mut low, mut high) = (prefix, prefix);
    while ranges.len() < 19 - digits.len() {
        ranges.push((low, high));
        low = match low.checked_mul(10) {
            Some(v) if v > 0 => v,
            _ => break,
        };
        high = match high.checked_mul(10).and_then(|v| v.checked_add(9)) {
            Some(v) => v,
            None => break,
        };
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::{estimated_rows, fts_phrase, number_prefix_ranges, probe_order, trigrams};

    #[test]
    fn trigrams_are_distinct_and_by_character() {
        assert_eq!(trigrams("abcab"), vec!["abc", "bca", "cab"]);
        assert_eq!(trigrams("été!"), vec!["été", "té!"]);
        assert!(trigrams("ab").is_empty());
    }

    #[test]
    fn probes_prefer_digits_and_the_end_and_keep_the_start() {
        let grams = trigrams("task 4711");
        let probed = probe_order(&grams);
        assert_eq!(probed.len(), 4);
        assert_eq!(probed[0], "711");
        assert!(probed.contains(&"tas".to_string()));
        assert_eq!(probe_order(&trigrams("zzz")), vec!["zzz"]);
    }

    #[test]
    fn fts_phrases_quote_any_text() {
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn row_estimates_are_read_from_the_plan() {
        let line = "Bitmap Heap Scan on tasks t  (cost=20.01..30.02 rows=123 width=8)";
        assert_eq!(estimated_rows(line), Some(123));
        assert_eq!(estimated_rows("Result"), None);
    }

    #[test]
    fn number_prefixes_become_index_ranges_exact_first() {
        let ranges = number_prefix_ranges("12").unwrap_or_default();
        assert_eq!(&ranges[..3], &[(12, 12), (120, 129), (1200, 1299)]);
        assert_eq!(number_prefix_ranges("abc"), None);
        assert_eq!(number_prefix_ranges("0").map(|r| r.len()), Some(1));
        assert!(number_prefix_ranges("999999999999999999").is_some());
    }
}
