//! Probes: `/` (stage 01), `/healthz` (liveness) and `/readyz` (readiness).

use std::time::Duration;

use axum::{Json, extract::State};
use serde::Serialize;
use sqlx::PgPool;

use crate::error::ApiError;

#[derive(Debug, Serialize)]
pub struct Status {
    status: &'static str,
}

const OK: Status = Status { status: "OK" };

/// `GET /` and `GET /healthz`: the process is up. Never touches the database,
/// so Kubernetes does not restart the pod just because PostgreSQL is down.
pub async fn alive() -> Json<Status> {
    Json(OK)
}

/// `GET /readyz`: 200 only while the database answers, so Kubernetes stops
/// routing traffic here (without restarting) when it does not.
pub async fn ready(State(pool): State<PgPool>) -> Result<Json<Status>, ApiError> {
    // TODO 1: run `SELECT 1` on the pool, at most 2 s (`tokio::time::timeout`);
    // answer `Json(OK)`, or `ApiError::Unavailable(..)` when it fails or is slow.
    let _ = (&pool, Duration::ZERO);
    todo!("GET /readyz")
}
