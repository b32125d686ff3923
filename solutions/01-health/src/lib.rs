//! Stage 01: the smallest useful microservice, a health endpoint.
// ANCHOR: starter| //!
// ANCHOR: starter| //! Work through the numbered TODOs in order; `README.md` has hints. Check
// ANCHOR: starter| //! your work with `cargo xtask verify 01` from the repository root.
// ANCHOR: starter| // Some names are unused until your TODOs are done: remove this line then.
// ANCHOR: starter| #![allow(unused_variables)]

// ANCHOR: starter| use axum::{Json, Router, extract::State};
// ANCHOR: starter
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
// ANCHOR_END: starter
use serde::Serialize;

// ANCHOR: port
/// The port to listen on: `$PORT`, or 8000 when it is unset.
pub fn port_from_env() -> Result<u16, String> {
    // ANCHOR: starter| // TODO 1: read the PORT environment variable; 8000 when it is unset,
    // ANCHOR: starter| // an error message when it is not a number.
    // ANCHOR: starter| todo!("TODO 1: read PORT")
    // ANCHOR: starter
    match std::env::var("PORT") {
        Err(_) => Ok(8000),
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a number from 0 to 65535, not {port:?}")),
    }
    // ANCHOR_END: starter
}
// ANCHOR_END: port

// ANCHOR: state
/// What every handler shares. axum clones it into each request, so the
/// counter sits behind an `Arc`: every clone points at the same one.
#[derive(Clone, Default)]
pub struct AppState {
    // ANCHOR: starter| // TODO 2: a request counter that every clone shares and that
    // ANCHOR: starter| // handlers running at the same time can add to (no `&mut` here).
    // ANCHOR: starter
    requests: Arc<AtomicU64>,
    // ANCHOR_END: starter
}
// ANCHOR_END: state

// ANCHOR: health
/// The body of `GET /`: `{"status":"OK"}`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
}

// ANCHOR: starter
/// `Json` sets `content-type: application/json` and status 200 for us.
// ANCHOR_END: starter
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    // ANCHOR: starter| // TODO 3: count this request in the state, then answer with the JSON
    // ANCHOR: starter| // body {"status":"OK"}.
    // ANCHOR: starter| todo!("TODO 3: count the request and answer {{\"status\":\"OK\"}}")
    // ANCHOR: starter
    // Relaxed: a counter orders nothing else, it only has to add up.
    state.requests.fetch_add(1, Ordering::Relaxed);
    Json(Health { status: "OK" })
    // ANCHOR_END: starter
}
// ANCHOR_END: health

// ANCHOR: stats
/// The body of `GET /stats`: how many `GET /` this process has answered.
#[derive(Debug, Serialize)]
pub struct Stats {
    requests: u64,
}

pub async fn stats(State(state): State<AppState>) -> Json<Stats> {
    // ANCHOR: starter| // TODO 4: answer with {"requests": N}, N read from the state's counter.
    // ANCHOR: starter| todo!("TODO 4: answer {{\"requests\": N}}")
    // ANCHOR: starter
    let requests = state.requests.load(Ordering::Relaxed);
    Json(Stats { requests })
    // ANCHOR_END: starter
}
// ANCHOR_END: stats

// ANCHOR: app
/// The router, separate from `main` so tests can call it without a socket.
pub fn app() -> Router {
    // ANCHOR: starter| // TODO 5: route `GET /` to `health` and `GET /stats` to `stats`, both
    // ANCHOR: starter| // sharing one `AppState`.
    // ANCHOR: starter| Router::new()
    // ANCHOR: starter
    Router::new()
        .route("/", get(health))
        .route("/stats", get(stats))
        .fallback(not_found)
        .with_state(AppState::default())
    // ANCHOR_END: starter
}
// ANCHOR_END: app

// ANCHOR: not_found
// ANCHOR: starter
/// Stretch: unknown paths answer 404 as JSON too, `{"status":"NOT_FOUND"}`.
pub async fn not_found() -> (StatusCode, Json<Health>) {
    let body = Health {
        status: "NOT_FOUND",
    };
    (StatusCode::NOT_FOUND, Json(body))
}

// ANCHOR_END: starter
// ANCHOR_END: not_found
// ANCHOR: shutdown
/// Completes on Ctrl-C (SIGINT) or SIGTERM, the signal `docker stop` and
// ANCHOR: starter| /// Kubernetes send.
// ANCHOR: starter
/// Kubernetes send. Without it the process would die mid-request.
// ANCHOR_END: starter
pub async fn shutdown_signal() {
    // ANCHOR: starter| // TODO 6: wait for Ctrl-C or SIGTERM, whichever comes first. Until then
    // ANCHOR: starter| // this never completes, and SIGTERM kills the process mid-request.
    // ANCHOR: starter| std::future::pending::<()>().await;
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}
// ANCHOR_END: shutdown
