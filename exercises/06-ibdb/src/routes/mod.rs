//! The router: which handler answers which method and path, and the
//! middleware every request goes through.

pub mod books;
pub mod health;
pub mod reviews;

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::AtomicBool},
    task::{Context, Poll},
};

use axum::{
    Router,
    extract::{FromRef, Request},
    http::header,
    response::{IntoResponse, Response},
    routing::{Route, delete, get},
};
use sqlx::PgPool;
use tower::{Layer, Service, layer::layer_fn};

use crate::{config::Config, error::ApiError, guard::Guard, metrics::Metrics};

/// What handlers can extract with `State<...>`.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: Metrics,
    /// Set once the migrations have run; until then the routes that need the
    /// database answer 503 (the port is open from the start, for `/healthz`).
    pub migrated: Arc<AtomicBool>,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> Self {
        state.pool.clone()
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// The contract, compiled into the binary and served as is.
pub const OPENAPI: &str = include_str!("../../openapi.yaml");

pub fn router(config: &Config, state: AppState) -> Router {
    let guard = guard(config, &state.metrics);
    // Only these routes need the migrated database: the guard and the
    // readiness gate around them in one `layer` call. Each `layer` call
    // wraps every route in one more boxed service, cloned for every request
    // (the instructors' benchmark notes have the cost).
    let api = Router::new()
        .route("/readyz", get(health::ready))
        .route("/books", get(books::list).post(books::create))
        .route(
            "/books/{id}",
            get(books::get).put(books::replace).delete(books::delete),
        )
        .route(
            "/books/{id}/reviews",
            get(reviews::list).post(reviews::create),
        )
        .route("/reviews/{id}", delete(reviews::delete))
        .layer((guard.clone(), gate(state.migrated.clone())));
    let open = Router::new()
        .route("/", get(health::alive))
        .route("/healthz", get(health::alive))
        .route("/metrics", get(crate::metrics::export))
        .route("/openapi.yaml", get(openapi))
        .fallback(unknown_route)
        .layer(guard);
    api.merge(open).with_state(state)
}

/// The middleware every request goes through: request id and tracing span,
/// head size limits, the request timeout (503, or 408 for a body still
/// arriving), a 500 for a handler that panics, a problem document for every
/// error, and metrics; see guard.rs. (The body's size is `JsonBody`'s to
/// check: axum's `DefaultBodyLimit` layer would cost every request, GETs
/// too.) Public for the benchmark, `examples/middleware.rs`.
pub fn guard(config: &Config, metrics: &Metrics) -> Guard {
    Guard {
        request_timeout: config.request_timeout,
        metrics: metrics.clone(),
        ids: Arc::default(),
    }
}

/// The readiness gate: 503 until `migrated` is set (public for the
/// benchmark).
pub fn gate(
    migrated: Arc<AtomicBool>,
) -> impl Layer<Route, Service = RequireMigrated<Route>> + Clone {
    layer_fn(move |inner| RequireMigrated {
        inner,
        migrated: migrated.clone(),
    })
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}

/// Answers 503 until the migrations have run. A small service rather than
/// `middleware::from_fn`, which boxes a future and clones the inner service
/// on every request.
#[derive(Clone)]
pub struct RequireMigrated<S> {
    inner: S,
    migrated: Arc<AtomicBool>,
}

impl<S> Service<Request> for RequireMigrated<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Gated<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // TODO 13: until the migrations have run (`self.migrated`, an
        // `AtomicBool`), answer at once with a 503 problem, without calling the
        // inner service; after, pass the request on. `Gated` is the future
        // to return in both cases. Today every request is passed on:
        let _ = &self.migrated;
        Gated::Open(self.inner.call(request))
    }
}

/// What `RequireMigrated` returns: the inner service's future, or an answer
/// that is ready at once.
#[allow(dead_code)] // `Closed` is for TODO 13: remove this line then.
pub enum Gated<F> {
    Open(F),
    Closed(Option<Response>),
}

impl<F, E> Future for Gated<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Gated::Open(inner) => Pin::new(inner).poll(cx),
            Gated::Closed(response) => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such route; see /openapi.yaml".into())
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::StatusCode};
    use sqlx::postgres::PgConnectOptions;
    use tower::ServiceExt;

    use super::*;
    use crate::config::DbConfig;

    /// No route of IBDb panics on purpose, so a throwaway one behind the
    /// same middleware: the client gets a 500 problem, not a dropped
    /// connection, and the metrics count it.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_a_problem() {
        let config = Config::new(DbConfig::new(PgConnectOptions::new()));
        let metrics = Metrics::default();
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let routes = Router::new().route("/boom", get(boom));
        let response = routes
            .layer(guard(&config, &metrics))
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(
            metrics.render().contains(r#"status="500""#),
            "{}",
            metrics.render()
        );
    }
}
