//! Stage 01: the smallest useful microservice, a health endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;

/// The port to listen on: `$PORT`, or 8000 when it is unset.
pub fn port_from_env() -> Result<u16, String> {
    match std::env::var("PORT") {
        Err(_) => Ok(8000),
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a number from 0 to 65535, not {port:?}")),
    }
}

/// What every handler shares. axum clones it into each request, so the
/// counter sits behind an `Arc`: every clone points at the same one.
#[derive(Clone, Default)]
pub struct AppState {
    requests: Arc<AtomicU64>,
}

/// The body of `GET /`: `{"status":"OK"}`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
}

/// `Json` sets `content-type: application/json` and status 200 for us.
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    // Relaxed: a counter orders nothing else, it only has to add up.
    state.requests.fetch_add(1, Ordering::Relaxed);
    Json(Health { status: "OK" })
}

/// The body of `GET /stats`: how many `GET /` this process has answered.
#[derive(Debug, Serialize)]
pub struct Stats {
    requests: u64,
}

pub async fn stats(State(state): State<AppState>) -> Json<Stats> {
    let requests = state.requests.load(Ordering::Relaxed);
    Json(Stats { requests })
}

/// The router, separate from `main` so tests can call it without a socket.
pub fn app() -> Router {
    Router::new()
        .route("/", get(health))
        .route("/stats", get(stats))
        .fallback(not_found)
        .with_state(AppState::default())
}

/// Stretch: unknown paths answer 404 as JSON too, `{"status":"NOT_FOUND"}`.
pub async fn not_found() -> (StatusCode, Json<Health>) {
    let body = Health {
        status: "NOT_FOUND",
    };
    (StatusCode::NOT_FOUND, Json(body))
}

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
