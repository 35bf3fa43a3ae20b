use std::path::Path;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match coordinator::config::Settings::load(Path::new("config")) {
        Ok(settings) => settings,
        Err(e) => return fail(&e),
    };
    // Checked before logging starts, so a missing token is one clear line.
    if let Err(e) = settings.token() {
        return fail(&e);
    }
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match coordinator::run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("coordinator: {error}");
    ExitCode::FAILURE
}
