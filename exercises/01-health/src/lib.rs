//! Stage 01: the smallest useful microservice, a health endpoint.
//!
//! Work through the numbered TODOs in order; `README.md` has hints. Check
//! your work with `cargo xtask verify 01` from the repository root.
// Some names are unused until your TODOs are done: remove this line then.
#![allow(unused_variables)]

use axum::{Json, Router, extract::State};
use serde::Serialize;

/// The port to listen on: `$PORT`, or 8000 when it is unset.
pub fn port_from_env() -> Result<u16, String> {
    // TODO 1: read the PORT environment variable; 8000 when it is unset,
    // an error message when it is not a number.
    todo!("TODO 1: read PORT")
}

/// What every handler shares. axum clones it into each request, so the
/// counter sits behind an `Arc`: every clone points at the same one.
#[derive(Clone, Default)]
pub struct AppState {
    // TODO 2: a request counter that every clone shares and that
    // handlers running at the same time can add to (no `&mut` here).
}

/// The body of `GET /`: `{"status":"OK"}`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
}

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    // TODO 3: count this request in the state, then answer with the JSON
    // body {"status":"OK"}.
    todo!("TODO 3: count the request and answer {{\"status\":\"OK\"}}")
}

/// The body of `GET /stats`: how many `GET /` this process has answered.
#[derive(Debug, Serialize)]
pub struct Stats {
    requests: u64,
}

pub async fn stats(State(state): State<AppState>) -> Json<Stats> {
    // TODO 4: answer with {"requests": N}, N read from the state's counter.
    todo!("TODO 4: answer {{\"requests\": N}}")
}

/// The router, separate from `main` so tests can call it without a socket.
pub fn app() -> Router {
    // TODO 5: route `GET /` to `health` and `GET /stats` to `stats`, both
    // sharing one `AppState`.
    Router::new()
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM, the signal `docker stop` and
/// Kubernetes send.
pub async fn shutdown_signal() {
    // TODO 6: wait for Ctrl-C or SIGTERM, whichever comes first. Until then
    // this never completes, and SIGTERM kills the process mid-request.
    std::future::pending::<()>().await;
}
