//! The optional HTTP listener (off unless `http.listen` is set): `/healthz` for supervisors,
//! `/metrics` for Prometheus, and each project's calendar feed. It only reads; every change
//! still goes through Discord commands.

pub mod feed;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::App;

/// Every route the listener serves.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/feeds/{file}", get(feed::serve))
        .with_state(app)
}

/// 200 when the database answers; 503 otherwise.
async fn healthz(State(app): State<Arc<App>>) -> (StatusCode, &'static str) {
    match app.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
    }
}

/// A listener serving [`router`] until `stop` turns true.
pub struct Listener {
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
}

/// Serves [`router`] on `listener` until `stop` turns true.
pub fn serve(
    listener: TcpListener,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<Listener> {
    let addr = listener.local_addr()?;
    info!(%addr, "HTTP listener started");
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, router(app))
            .with_graceful_shutdown(shutdown)
            .await
        {
            warn!(error = %e, "HTTP listener failed");
        }
    });
    Ok(Listener { addr, task })
}
