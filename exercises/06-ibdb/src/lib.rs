//! IBDb, the Internet Book DataBase: books and reviews over HTTP, stored in
//! PostgreSQL. `openapi.yaml` is the contract; `tests/` check it end to end.

pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod models;
pub mod routes;

use axum::Router;
use sqlx::PgPool;

pub use config::Config;
/// Connects, migrates and builds the router: everything but the socket, so
/// `main` and the tests start the service the same way.
pub async fn app(config: &Config) -> Result<(Router, PgPool), sqlx::migrate::MigrateError> {
    let pool = db::pool(&config.database);
    db::migrate(&pool, config.database.startup_timeout).await?;
    let state = routes::AppState {
        pool: pool.clone(),
        metrics: metrics::Metrics::default(),
    };
    Ok((routes::router(config, state), pool))
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM, as in stage 01.
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
