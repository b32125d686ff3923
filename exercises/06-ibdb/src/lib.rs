//! IBDb, the Internet Book DataBase: books and reviews over HTTP, stored in
//! PostgreSQL. `openapi.yaml` is the contract; `tests/` check it end to end.

pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod guard;
pub mod metrics;
pub mod models;
pub mod routes;
pub mod server;

use std::{
    future::Future,
    sync::{Arc, atomic::AtomicBool, atomic::Ordering},
};

use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;

pub use config::Config;
pub use db::StartError;

/// The router and the pool it uses, migrations not run yet.
fn state(config: &Config) -> routes::AppState {
    routes::AppState {
        pool: db::pool(&config.database),
        metrics: metrics::Metrics::default(),
        migrated: Arc::new(AtomicBool::new(false)),
    }
}

/// Connects, migrates and builds the router: everything but the socket, for
/// tests that serve it themselves.
pub async fn app(config: &Config) -> Result<(Router, PgPool), StartError> {
    let state = state(config);
    db::migrate(&state.pool, &config.database).await?;
    state.migrated.store(true, Ordering::Release);
    Ok((routes::router(config, state.clone()), state.pool))
}

/// The whole service on an open socket: serves at once (`/healthz` answers,
/// `/readyz` says 503) while it waits for the database and migrates it, then
/// runs until `shutdown` completes. Returns an error if the database cannot
/// be made ready within `DB_STARTUP_TIMEOUT_MS`, so the process exits and
/// Kubernetes restarts it.
pub async fn run(
    listener: TcpListener,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let state = state(config);
    let app = routes::router(config, state.clone());
    let (failed_tx, failed) = tokio::sync::oneshot::channel();
    let migrating = tokio::spawn({
        let (state, database) = (state.clone(), config.database.clone());
        async move {
            match db::migrate(&state.pool, &database).await {
                Ok(()) => {
                    state.migrated.store(true, Ordering::Release);
                    tracing::info!("database migrated, ready");
                }
                Err(error) => drop(failed_tx.send(error)),
            }
        }
    });
    let mut start_error = None;
    let stop = async {
        tokio::select! {
            () = shutdown => {}
            Ok(error) = failed => start_error = Some(error),
        }
    };
    server::serve(listener, app, config, stop)
        .await
        .map_err(RunError::Serve)?;
    migrating.abort();
    // Let PostgreSQL see clean disconnects instead of broken sockets.
    state.pool.close().await;
    match start_error {
        Some(error) => Err(RunError::Start(error)),
        None => Ok(()),
    }
}

/// Why `run` ended other than by a shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("serving HTTP failed: {0}")]
    Serve(#[source] std::io::Error),
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
