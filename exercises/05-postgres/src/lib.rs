//! Stage 05: the stage 01 service, now connected to PostgreSQL.
// Some names are unused until your TODOs are done: remove this line then.
#![allow(unused_variables, unused_imports)]

pub mod config;
pub mod db;

use std::time::Duration;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;
use sqlx::PgPool;

pub use config::Config;

/// The body of the probes: `{"status":"OK"}` or `{"status":"UNAVAILABLE"}`.
#[derive(Debug, Serialize)]
pub struct Status {
    status: &'static str,
}

/// `GET /` and `GET /healthz`: the process is up. Never touches the
/// database: a liveness probe that fails when PostgreSQL is down would make
/// Kubernetes restart every replica, which fixes nothing.
pub async fn alive() -> Json<Status> {
    Json(Status { status: "OK" })
}

/// `GET /readyz`: 200 only while the database answers, so Kubernetes stops
/// sending traffic here (without restarting us) while it does not.
pub async fn ready(State(pool): State<PgPool>) -> (StatusCode, Json<Status>) {
    // TODO 4: run `SELECT 1` with a 2 s timeout (`tokio::time::timeout`):
    // 200 `{"status":"OK"}` when it works, else 503 `{"status":"UNAVAILABLE"}`.
    todo!("GET /readyz")
}

/// Connects, migrates and builds the router: everything but the socket, so
/// `main` and the tests start the service the same way.
pub async fn app(config: &Config) -> Result<(Router, PgPool), sqlx::migrate::MigrateError> {
    let pool = db::pool(&config.database);
    db::migrate(&pool, config.database.startup_timeout).await?;
    // TODO 5: route `GET /readyz` to `ready`.
    let router = Router::new()
        .route("/", get(alive))
        .route("/healthz", get(alive))
        .with_state(pool.clone());
    Ok((router, pool))
}

// Stage 01's, unchanged.
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
