//! The database a test bot runs on: a SQLite file in the test's temp dir, or, in the PostgreSQL
//! pass (`tests/api_postgres`), a fresh database of its own on the server that
//! `COORDINATOR_TEST_POSTGRES` names, so tests never see each other's rows.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, PgConnection};

/// Where the bot of a test keeps its data.
pub async fn url_for_test(dir: &Path) -> String {
    if crate::ON_POSTGRES {
        fresh_postgres_database().await
    } else {
        format!("sqlite://{}", dir.join("coordinator.db").display())
    }
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_postgres_database() -> String {
    let server = std::env::var("COORDINATOR_TEST_POSTGRES")
        .expect("COORDINATOR_TEST_POSTGRES names the PostgreSQL server of this pass");
    fresh_postgres_database_on(&server).await
}

/// Creates an empty database on the PostgreSQL server at `server` and returns its URL.
pub async fn fresh_postgres_database_on(server: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = server.to_owned();
    let name = format!(
        "coordinator_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server {server}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let _ = admin.close().await;
    // The server URL names some database; swap it for the new one, keeping any parameters.
    let (base, params) = match server.split_once('?') {
        Some((base, params)) => (base, format!("?{params}")),
        None => (server.as_str(), String::new()),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    format!("{}/{name}{params}", &base[..authority_end])
}
