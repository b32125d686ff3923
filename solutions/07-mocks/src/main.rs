use std::net::{Ipv4Addr, SocketAddr};

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let config = ibdb_mocks::Config::from_env().unwrap_or_else(|message| {
        tracing::error!("{message}");
        std::process::exit(2);
    });
    let app = tokio::select! {
        built = ibdb_mocks::app(&config) => built?,
        // `docker stop` or a rollout while the database is still down.
        () = ibdb_mocks::shutdown_signal() => {
            tracing::info!("stopped before the database answered");
            return Ok(());
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(ibdb_mocks::shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
