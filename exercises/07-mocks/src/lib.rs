//! Stage 07: the IBDb handlers behind a `BookStore` trait, unit-tested with
//! mockall's generated `MockBookStore`, without a database.

pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod models;
pub mod store;

#[cfg(test)]
mod handler_tests;

use std::sync::Arc;

use axum::Router;

pub use config::Config;

/// Connects, migrates and builds the router with the PostgreSQL store.
pub async fn app(config: &Config) -> Result<Router, sqlx::migrate::MigrateError> {
    let pool = db::pool(&config.database);
    db::migrate(&pool, config.database.startup_timeout).await?;
    let store: handlers::Store = Arc::new(store::PgBookStore::new(pool));
    // The body limit is `JsonBody`'s (extract.rs), as in stage 06.
    Ok(handlers::router(store))
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
