//! The optional HTTP listener (off unless `http.listen` is set): `/healthz` for supervisors,
//! `/metrics` for Prometheus, and each project's calendar feed. It only reads; every change
//! still goes through Discord commands.

pub mod feed;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::app::App;
use crate::discord::web::{self, Endpoint};
use crate::metrics;

/// Every route the listener serves; `/interactions` only with the application's public key.
pub fn router(app: Arc<App>, endpoint: Option<Arc<Endpoint>>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/feeds/{file}", get(feed::serve))
        .route("/metrics", get(metrics_text));
    if let Some(endpoint) = endpoint {
        let app = Arc::clone(&app);
        router = router.route(
            "/interactions",
            post(move |headers: HeaderMap, body: Bytes| {
                let (app, endpoint) = (Arc::clone(&app), Arc::clone(&endpoint));
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                    let (status, answer) = web::answer(
                        app,
                        &endpoint,
                        header("x-signature-ed25519"),
                        header("x-signature-timestamp"),
                        &body,
                    )
                    .await;
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                    (
                        status,
                        [(CONTENT_TYPE, "application/json")],
                        answer.to_string(),
                    )
                }
            }),
        );
    }
    router.with_state(app)
}

/// 200 when the gateway is connected and the database answers; otherwise 503, with one line
/// per failing check.
async fn healthz(State(app): State<Arc<App>>) -> (StatusCode, String) {
    let mut failing = String::new();
    if app.runs_gateway && !app.metrics.gateway_connected().await {
        warn!("health check: gateway disconnected");
        failing.push_str("gateway disconnected\n");
    }
    if let Err(e) = app.db.ping().await {
        warn!(error = %e, "health check: database unreachable");
        failing.push_str("database unreachable\n");
    }
    if failing.is_empty() {
        (StatusCode::OK, "ok\n".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, failing)
    }
}

/// Every metric, in the OpenMetrics text format Prometheus scrapes.
async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    if app.runs_worker {
        let held = app.db.held_partitions();
        app.metrics.set_partitions_held(
            held.map_or(usize::from(crate::store::partitions::PARTITIONS), |set| {
                set.len()
            }),
        );
    }
    match app.metrics.encode().await {
        Ok(body) => ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            warn!(error = %e, "could not encode metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
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
    endpoint: Option<Arc<Endpoint>>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<Listener> {
    let addr = listener.local_addr()?;
    info!(%addr, "HTTP listener started");
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, router(app, endpoint))
            .with_graceful_shutdown(shutdown)
            .await
        {
            warn!(error = %e, "HTTP listener failed");
        }
    });
    Ok(Listener { addr, task })
}
