use std::net::{Ipv4Addr, SocketAddr};

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // `RUST_LOG=debug` shows more; `info` is the default.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let port = health::port_from_env().unwrap_or_else(|message| {
        tracing::error!("{message}");
        std::process::exit(2);
    });
    // 0.0.0.0, not 127.0.0.1: inside a container, loopback is unreachable from outside.
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on {}", listener.local_addr()?);

    axum::serve(listener, health::app())
        .with_graceful_shutdown(health::shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
