//! The HTTP server: the router on hyper, with the two limits `axum::serve`
//! does not set. A client that never finishes its request head is cut off
//! after `header_read_timeout`, and a shutdown ends after `shutdown_timeout`
//! even if some connection will not close, so Kubernetes never has to
//! SIGKILL us.

use std::{future::Future, io};

use axum::{Router, body::Body, extract::Request, serve::Listener};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::config::Config;

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting, closes idle keep-alive connections, and gives requests in
/// flight `config.shutdown_timeout` to finish.
pub async fn serve(
    mut listener: TcpListener,
    app: Router,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's own limit of 100 headers stays: it reads them into an array
    // on the stack, where an explicit `max_headers` allocates two per
    // request. `guard` answers a problem document above its lower limit.
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            // axum's `Listener` retries failed accepts (too many open files).
            (stream, _peer) = Listener::accept(&mut listener) => stream,
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(|request: Request<Incoming>| request.map(Body::new));
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let deadline = config.shutdown_timeout;
    if tokio::time::timeout(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open {deadline:?} after the signal; closing them");
    }
    Ok(())
}
