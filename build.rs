//! Builds the PostgreSQL pass of the feature tests (`tests/api_postgres`) only when
//! `COORDINATOR_TEST_POSTGRES` names a server: a machine without PostgreSQL builds and runs
//! nothing extra.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=COORDINATOR_TEST_POSTGRES");
    if std::env::var_os("COORDINATOR_TEST_POSTGRES").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
