//! One way to run a statement on either engine. The store writes each statement once, in SQL
//! both SQLite and PostgreSQL read (`$1` placeholders, `ON CONFLICT`, `RETURNING`), binds plain
//! values, and maps rows with `sqlx::FromRow`; this module runs it on the pool or transaction
//! of whichever engine the database URL chose.
//!
//! Why not sqlx's `Any` driver: it decodes booleans only from real boolean columns, cannot set
//! SQLite's WAL and busy timeout through the URL, and hides the `PgConnection` that advisory
//! locks and LISTEN need. Why not generic code over `sqlx::Database`: every function would
//! carry a dozen bounds. Here the engine is an enum, matched in one place.

use std::borrow::Cow;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use super::StoreResult;

/// The engine a database URL picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The connection pool, of one engine or the other.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub fn engine(&self) -> Engine {
        match self {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Postgres(_) => Engine::Postgres,
        }
    }
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs statements inside this transaction.
    pub fn on(&mut self) -> On<'_> {
        On::Tx(self)
    }
}

/// Where a statement runs: on the pool (its own implicit transaction) or in a transaction.
pub enum On<'a> {
    Pool(&'a Pool),
    Tx(&'a mut Tx),
}

/// A row type both engines can decode (derive `sqlx::FromRow`, or use a tuple).
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A bound value: the store only ever binds integers, text and booleans.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(Some(value))
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Self {
        Arg::Int(value)
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Self {
        Arg::Bool(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(Some(value.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(Some(value))
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::Text(Some(value.clone()))
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Arg::Text(value)
    }
}

impl From<Option<&str>> for Arg {
    fn from(value: Option<&str>) -> Self {
        Arg::Text(value.map(str::to_owned))
    }
}

impl From<&Option<String>> for Arg {
    fn from(value: &Option<String>) -> Self {
        Arg::Text(value.clone())
    }
}

/// A statement and its bound values.
#[must_use = "a statement does nothing until it is run"]
pub struct Sql {
    text: Cow<'static, str>,
    args: Vec<Arg>,
    /// Kept prepared on the connection (the default); see [`Sql::planned_each_time`].
    persistent: bool,
}

/// A statement to run on either engine.
pub fn sql(text: impl Into<Cow<'static, str>>) -> Sql {
    Sql {
        text: text.into(),
        args: Vec::new(),
        persistent: true,
    }
}

/// Binds every argument, in order, to a query of one engine.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
                Arg::Bool(v) => query.bind(v),
            };
        }
        query
    }};
}

/// Runs `$run` (a method of sqlx's query types) on whichever engine `$on` is.
macro_rules! run_as {
    ($self:ident, $on:ident, $row:ty, $run:ident) => {
        match $on {
            On::Pool(Pool::Sqlite(pool)) => {
                bind_all!(sqlx::query_as::<Sqlite, $row>(&$self.text), $self.args)
                    .persistent($self.persistent)
                    .$run(pool)
                    .await?
            }
            On::Pool(Pool::Postgres(pool)) => {
                bind_all!(sqlx::query_as::<Postgres, $row>(&$self.text), $self.args)
                    .persistent($self.persistent)
                    .$run(pool)
                    .await?
            }
            On::Tx(Tx::Sqlite(tx)) => {
                bind_all!(sqlx::query_as::<Sqlite, $row>(&$self.text), $self.args)
                    .persistent($self.persistent)
                    .$run(&mut **tx)
                    .await?
            }
            On::Tx(Tx::Postgres(tx)) => {
                bind_all!(sqlx::query_as::<Postgres, $row>(&$self.text), $self.args)
                    .persistent($self.persistent)
                    .$run(&mut **tx)
                    .await?
            }
        }
    };
}

impl Sql {
    /// Not kept prepared: PostgreSQL then plans the statement with the values bound, every
    /// time, where a kept one may switch to a generic plan that cannot see them (a LIKE
    /// pattern's selectivity, say). Applies to the fetch methods.
    pub fn planned_each_time(mut self) -> Self {
        self.persistent = false;
        self
    }

    pub fn bind(mut self, value: impl Into<Arg>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Runs the statement; returns how many rows it changed.
    pub async fn execute(self, on: On<'_>) -> StoreResult<u64> {
        let affected = match on {
            On::Pool(Pool::Sqlite(pool)) => bind_all!(sqlx::query(&self.text), self.args)
                .execute(pool)
                .await?
                .rows_affected(),
            On::Pool(Pool::Postgres(pool)) => bind_all!(sqlx::query(&self.text), self.args)
                .execute(pool)
                .await?
                .rows_affected(),
            On::Tx(Tx::Sqlite(tx)) => bind_all!(sqlx::query(&self.text), self.args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            On::Tx(Tx::Postgres(tx)) => bind_all!(sqlx::query(&self.text), self.args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        };
        Ok(affected)
    }

    pub async fn fetch_all<T: Record>(self, on: On<'_>) -> StoreResult<Vec<T>> {
        Ok(run_as!(self, on, T, fetch_all))
    }

    pub async fn fetch_optional<T: Record>(self, on: On<'_>) -> StoreResult<Option<T>> {
        Ok(run_as!(self, on, T, fetch_optional))
    }

    pub async fn fetch_one<T: Record>(self, on: On<'_>) -> StoreResult<T> {
        Ok(run_as!(self, on, T, fetch_one))
    }

    /// The first column of the one row the statement returns.
    pub async fn scalar<T>(self, on: On<'_>) -> StoreResult<T>
    where
        (T,): Record,
    {
        Ok(self.fetch_one::<(T,)>(on).await?.0)
    }

    /// The first column of the first row, if there is one.
    pub async fn scalar_optional<T>(self, on: On<'_>) -> StoreResult<Option<T>>
    where
        (T,): Record,
    {
        Ok(self.fetch_optional::<(T,)>(on).await?.map(|(v,)| v))
    }

    /// The first column of every row.
    pub async fn scalars<T>(self, on: On<'_>) -> StoreResult<Vec<T>>
    where
        (T,): Record,
    {
        Ok(self
            .fetch_all::<(T,)>(on)
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }
}
