//! `record!`: a row struct that decodes by column name on both engines, as
//! `#[derive(sqlx::FromRow)]` would, without sqlx's proc-macro crate (which compiles a second
//! copy of sqlx and both database drivers). A field marked `#[flatten]` is decoded as a whole
//! row type of its own from the same row.

macro_rules! record {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$flat:ident])? $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $fvis $field: $ty ),*
        }
        record!(@impl $name, sqlx::sqlite::SqliteRow, $( [$($flat)?] $field ),*);
        record!(@impl $name, sqlx::postgres::PgRow, $( [$($flat)?] $field ),*);
    };
    (@impl $name:ident, $row:ty, $( [$($flat:ident)?] $field:ident ),*) => {
        impl<'r> sqlx::FromRow<'r, $row> for $name {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $( $field: record!(@get row, [$($flat)?], $field) ),*
                })
            }
        }
    };
    (@get $row:ident, [flatten], $field:ident) => {
        sqlx::FromRow::from_row($row)?
    };
    (@get $row:ident, [], $field:ident) => {
        sqlx::Row::try_get($row, stringify!($field))?
    };
}
