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

// ANCHOR: readyz
/// `GET /readyz`: 200 only while the database answers, so Kubernetes stops
/// routing traffic here (without restarting) when it does not.
pub async fn ready(State(pool): State<PgPool>) -> Result<Json<Status>, ApiError> {
    // ANCHOR: starter| // TODO 1: run `SELECT 1` on the pool, at most 2 s (`tokio::time::timeout`);
    // ANCHOR: starter| // answer `Json(OK)`, or `ApiError::Unavailable(..)` when it fails or is slow.
    // ANCHOR: starter| let _ = (&pool, Duration::ZERO);
    // ANCHOR: starter| todo!("GET /readyz")
    // ANCHOR: starter
    let ping = sqlx::query("SELECT 1").execute(&pool);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => Ok(Json(OK)),
        Ok(Err(error)) => Err(ApiError::Unavailable(Some(error))),
        Err(_elapsed) => Err(ApiError::Unavailable(None)),
    }
    // ANCHOR_END: starter
}
// ANCHOR_END: readyz
