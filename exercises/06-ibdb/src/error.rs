//! The one error type of the service and how each case looks over HTTP.
//!
//! Handlers return `Result<_, ApiError>`; this file alone decides status codes
//! and bodies, so every error is an RFC 9457 problem document and no database
//! detail leaks to clients.

use axum::{
    extract::rejection::{PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, or a path or query value that does not parse or is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed input that breaks the rules; one entry per failing field.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body must be JSON, sent with `content-type: application/json`")]
    UnsupportedMediaType,
    /// The database is unreachable or too slow: retrying later may work.
    #[error("the database is unavailable, try again later")]
    Unavailable(#[source] Option<sqlx::Error>),
    /// The database gave up on this request because of a concurrent one
    /// (deadlock or serialization failure): the same request may succeed now.
    #[error("the request collided with a concurrent one; send it again")]
    TryAgain(#[source] sqlx::Error),
    /// The client did not finish sending its body in time.
    #[error("the request body did not arrive within {0:?}")]
    RequestTimeout(std::time::Duration),
    #[error("the URL is longer than the limit of {0} bytes")]
    UriTooLong(usize),
    #[error("the request headers are larger than the limit of {0} headers or {1} bytes")]
    HeadersTooLarge(usize, usize),
    /// Any other error answered by the framework itself (405 with its
    /// `Allow` header, ...), turned into a problem by `guard`.
    #[error("{1}")]
    Http(StatusCode, String),
    /// A bug or an unexpected database error. Details go to the log only.
    #[error("internal error")]
    Internal(#[source] sqlx::Error),
}

/// One failing field of a 422 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        // TODO 2 (1 of 2): the HTTP status of each case: 400, 422, 404, 409, 413,
        // 415, 503 (both `Unavailable` and `TryAgain`), 408, 414, 431, the
        // status `Http` carries, and 500 for `Internal`. See openapi.yaml.
        todo!("TODO 2: the status of {self:?}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // TODO 2 (2 of 2): answer with an RFC 9457 problem document: a JSON
        // body with `type` ("about:blank"), `title` (the reason phrase of the
        // status), `status`, `detail` (the error's message) and, for
        // `Validation` only, `errors`; the header `content-type:
        // application/problem+json`; `Retry-After: 1` on a 503. Log the
        // source of `Internal`, `Unavailable` and `TryAgain` (`tracing::error!`,
        // `warn!`): the client never sees it.
        todo!("TODO 2: the problem document for {self:?}")
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        // TODO 6: decide what each database error means for the client:
        // `is_unavailable(&error)` → `Unavailable`; SQLSTATE 40P01 (deadlock)
        // or 40001 (serialization failure) → `TryAgain`; a unique violation
        // (the ISBN) → `Conflict`; anything else → `Internal`. See
        // `sqlx::error::DatabaseError::is_unique_violation` and `code()`.
        todo!("map {error}")
    }
}

/// True when the error means "the database cannot serve us right now"
/// (worth retrying; for a client a 503, not a 500) rather than "this query
/// is wrong".
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception), 53 (insufficient
        // resources) and 57P (operator intervention: shutdown, restart).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
        }),
        _ => false,
    }
}

// Axum's own extractor errors are plain text; these turn them into problems.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}
