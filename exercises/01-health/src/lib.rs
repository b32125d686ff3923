//! Stage 01: the smallest useful microservice, a health endpoint.
//!
//! Work through the numbered TODOs in order; `README.md` has hints. Check
//! your work with `cargo xtask verify 01` from the repository root.

use axum::{Json, Router};
use serde::Serialize;

/// The body of `GET /`: `{"status":"OK"}`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
}

pub async fn health() -> Json<Health> {
    // TODO 2: answer with the JSON body {"status":"OK"}.
    todo!("TODO 2: answer with {{\"status\":\"OK\"}}")
}

/// The router, separate from `main` so tests can call it without a socket.
pub fn app() -> Router {
    // TODO 3: route `GET /` to the `health` handler.
    Router::new()
}

/// The port to listen on: `$PORT`, or 8000 when it is unset.
pub fn port_from_env() -> Result<u16, String> {
    // TODO 1: read the PORT environment variable; 8000 when it is unset,
    // an error message when it is not a number.
    todo!("TODO 1: read PORT")
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM, the signal `docker stop` and
/// Kubernetes send.
pub async fn shutdown_signal() {
    // TODO 4: wait for Ctrl-C or SIGTERM, whichever comes first. Until then
    // this never completes, and SIGTERM kills the process mid-request.
    std::future::pending::<()>().await;
}
