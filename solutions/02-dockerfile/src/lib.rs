//! Stage 01: the smallest useful microservice, a health endpoint.

use axum::{Json, Router, routing::get};
use serde::Serialize;

// ANCHOR: health
/// The body of `GET /`: `{"status":"OK"}`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
}

/// `Json` sets `content-type: application/json` and status 200 for us.
pub async fn health() -> Json<Health> {
    Json(Health { status: "OK" })
}
// ANCHOR_END: health

// ANCHOR: app
/// The router, separate from `main` so tests can call it without a socket.
pub fn app() -> Router {
    Router::new().route("/", get(health))
}
// ANCHOR_END: app

// ANCHOR: port
/// The port to listen on: `$PORT`, or 8000 when it is unset.
pub fn port_from_env() -> Result<u16, String> {
    match std::env::var("PORT") {
        Err(_) => Ok(8000),
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a number from 0 to 65535, not {port:?}")),
    }
}
// ANCHOR_END: port

// ANCHOR: shutdown
/// Completes on Ctrl-C (SIGINT) or SIGTERM, the signal `docker stop` and
/// Kubernetes send. Without it the process would die mid-request.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("failed to install the Ctrl-C handler");
    };

    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("failed to install the SIGTERM handler")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
// ANCHOR_END: shutdown
