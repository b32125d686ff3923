//! Stage 01: the smallest useful microservice, a health endpoint.
// ANCHOR: starter| //!
// ANCHOR: starter| //! Work through the numbered TODOs in order; `README.md` has hints. Check
// ANCHOR: starter| //! your work with `cargo xtask verify 01` from the repository root.

// ANCHOR: starter| use axum::{Json, Router};
// ANCHOR: starter
use axum::{Json, Router, routing::get};
// ANCHOR_END: starter
use serde::Serialize;

// ANCHOR: health
/// The body of `GET /`: `{"status":"OK"}`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
}

// ANCHOR: starter
/// `Json` sets `content-type: application/json` and status 200 for us.
// ANCHOR_END: starter
pub async fn health() -> Json<Health> {
    // ANCHOR: starter| // TODO 2: answer with the JSON body {"status":"OK"}.
    // ANCHOR: starter| todo!("TODO 2: answer with {{\"status\":\"OK\"}}")
    // ANCHOR: starter
    Json(Health { status: "OK" })
    // ANCHOR_END: starter
}
// ANCHOR_END: health

// ANCHOR: app
/// The router, separate from `main` so tests can call it without a socket.
pub fn app() -> Router {
    // ANCHOR: starter| // TODO 3: route `GET /` to the `health` handler.
    // ANCHOR: starter| Router::new()
    // ANCHOR: starter
    Router::new().route("/", get(health))
    // ANCHOR_END: starter
}
// ANCHOR_END: app

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

// ANCHOR: shutdown
/// Completes on Ctrl-C (SIGINT) or SIGTERM, the signal `docker stop` and
// ANCHOR: starter| /// Kubernetes send.
// ANCHOR: starter
/// Kubernetes send. Without it the process would die mid-request.
// ANCHOR_END: starter
pub async fn shutdown_signal() {
    // ANCHOR: starter| // TODO 4: wait for Ctrl-C or SIGTERM, whichever comes first. Until then
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
