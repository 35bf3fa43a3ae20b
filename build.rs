//! Two things happen before the crate compiles:
//!
//! - Each engine's migrations (`migrations/sqlite`, `migrations/postgres`) are listed into
//!   `$OUT_DIR/migrations.rs`, which embeds every file with `include_str!`
//!   (`src/store/migrations.rs` reads them). This replaces sqlx's `migrate!` macro, whose
//!   proc-macro crate compiles a second copy of sqlx and both database drivers.
//! - The PostgreSQL pass of the feature tests (`tests/api_postgres`) is built only when
//!   `COORDINATOR_TEST_POSTGRES` names a server: a machine without PostgreSQL builds and runs
//!   nothing extra.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=COORDINATOR_TEST_POSTGRES");
    if std::env::var_os("COORDINATOR_TEST_POSTGRES").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }

    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut out = String::new();
    for (constant, folder) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let dir = Path::new(&root).join("migrations").join(folder);
        println!("cargo::rerun-if-changed={}", dir.display());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_file())
            .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
            .filter(|name| name.ends_with(".sql"))
            .collect();
        names.sort();
        writeln!(out, "/// `migrations/{folder}`: each file's name and text.").ok();
        writeln!(out, "pub const {constant}: &[(&str, &str)] = &[").ok();
        for name in names {
            let path = dir.join(&name);
            writeln!(out, "    ({name:?}, include_str!({:?})),", path.display()).ok();
        }
        writeln!(out, "];").ok();
    }
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    std::fs::write(&target, out)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}
