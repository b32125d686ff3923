use std::{
    net::{Ipv4Addr, SocketAddr},
    process::ExitCode,
};

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    // Exit codes: 2 for a setting to fix, 1 for anything else.
    let config = match ibdb::Config::from_env() {
        Ok(config) => config,
        Err(message) => {
            tracing::error!("{message}");
            return ExitCode::from(2);
        }
    };
    // Bind first: `/healthz` answers while the database is still awaited.
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(
                "cannot listen on {addr}: {error}. Is another program (another IBDb?) \
                 using port {}? Stop it, or choose another port with PORT",
                config.port
            );
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => tracing::info!("listening on {local}"),
        Err(_) => tracing::info!("listening on {addr}"),
    }
    match ibdb::run(listener, &config, ibdb::shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
