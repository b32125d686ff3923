//! The router: which handler answers which method and path, and the
//! middleware every request goes through.

pub mod books;
pub mod health;
pub mod reviews;

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRef, Request, State},
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
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

// ANCHOR: router
pub fn router(config: &Config, state: AppState) -> Router {
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
        // Only the routes above need the migrated database.
        .route_layer(middleware::from_fn_with_state(
            state.migrated.clone(),
            require_migrated,
        ))
        .route("/", get(health::alive))
        .route("/healthz", get(health::alive))
        .route("/metrics", get(crate::metrics::export))
        .route("/openapi.yaml", get(openapi))
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
        // Head size limits, the request timeout (503, or 408 for a body
        // still arriving), and a problem document for every error.
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            crate::guard::guard,
        ))
        // Bodies are read by our extractors, which turn the limit into a 413
        // problem (tower-http's RequestBodyLimitLayer would answer in plain text).
        .layer(DefaultBodyLimit::max(BODY_LIMIT));

    api.layer(middleware).with_state(state)
}
// ANCHOR_END: router

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}

async fn require_migrated(
    State(migrated): State<Arc<AtomicBool>>,
    request: Request,
    next: Next,
) -> Response {
    if migrated.load(Ordering::Acquire) {
        next.run(request).await
    } else {
        ApiError::Unavailable(None).into_response()
    }
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
