//! The router: which handler answers which method and path, and the
//! middleware every request goes through.

pub mod books;
pub mod health;
pub mod reviews;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, FromRef, Request},
    http::{HeaderValue, header},
    middleware,
    response::IntoResponse,
    routing::{delete, get},
};
use sqlx::PgPool;
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{config::Config, error::ApiError, extract::BODY_LIMIT, metrics::Metrics};

/// What handlers can extract with `State<...>`.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: Metrics,
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

// ANCHOR: router
pub fn router(config: &Config, state: AppState) -> Router {
    let api = Router::new()
        .route("/", get(health::alive))
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(crate::metrics::export))
        .route("/openapi.yaml", get(openapi))
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
        .fallback(unknown_route);

    let request_id = header::HeaderName::from_static("x-request-id");
    // Listed outermost first: a request passes them top to bottom.
    let middleware = ServiceBuilder::new()
        // Reuse the caller's x-request-id or make one, log it, send it back.
        .layer(SetRequestIdLayer::new(
            request_id.clone(),
            Counter::default(),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), uri = %request.uri(), id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        // A request still running after the timeout gets a 503 problem.
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            ApiError::Unavailable(None)
        }))
        .timeout(config.request_timeout)
        // Bodies are read by our extractors, which turn the limit into a 413
        // problem (tower-http's RequestBodyLimitLayer would answer in plain text).
        .layer(DefaultBodyLimit::max(BODY_LIMIT));

    api.layer(middleware).with_state(state)
}
// ANCHOR_END: router

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such route; see /openapi.yaml".into())
}

/// Request ids `ibdb-1`, `ibdb-2`, ...: unique per process, no UUID needed
/// since log lines also carry the pod name.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        HeaderValue::from_str(&format!("ibdb-{n}"))
            .ok()
            .map(RequestId::new)
    }
}
