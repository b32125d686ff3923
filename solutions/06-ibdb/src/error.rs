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
// ANCHOR: starter
use axum::{Json, http::header};
// ANCHOR_END: starter
use serde::Serialize;

// ANCHOR: error
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

// ANCHOR: field_error
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
// ANCHOR_END: field_error
// ANCHOR_END: error

// ANCHOR: problem
// ANCHOR: starter
// ANCHOR: problem_struct
/// RFC 9457 problem details. `type` is always `about:blank`, which tells
/// clients that `title` is just the HTTP reason phrase.
#[derive(Debug, Serialize)]
struct Problem {
    r#type: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldError>>,
}
// ANCHOR_END: problem_struct

// ANCHOR_END: starter
impl ApiError {
    pub fn status(&self) -> StatusCode {
        // ANCHOR: starter| // TODO 2 (1 of 2): the HTTP status of each case: 400, 422, 404, 409, 413,
        // ANCHOR: starter| // 415, 503 (both `Unavailable` and `TryAgain`), 408, 414, 431, the
        // ANCHOR: starter| // status `Http` carries, and 500 for `Internal`. See openapi.yaml.
        // ANCHOR: starter| todo!("TODO 2: the status of {self:?}")
        // ANCHOR: starter
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) | Self::TryAgain(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge(..) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Http(status, _) => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
        // ANCHOR_END: starter
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // ANCHOR: starter| // TODO 2 (2 of 2): answer with an RFC 9457 problem document: a JSON
        // ANCHOR: starter| // body with `type` ("about:blank"), `title` (the reason phrase of the
        // ANCHOR: starter| // status), `status`, `detail` (the error's message) and, for
        // ANCHOR: starter| // `Validation` only, `errors`; the header `content-type:
        // ANCHOR: starter| // application/problem+json`; `Retry-After: 1` on a 503. Log the
        // ANCHOR: starter| // source of `Internal`, `Unavailable` and `TryAgain` (`tracing::error!`,
        // ANCHOR: starter| // `warn!`): the client never sees it.
        // ANCHOR: starter| todo!("TODO 2: the problem document for {self:?}")
        // ANCHOR: starter
        let status = self.status();
        match &self {
            Self::Internal(source) => tracing::error!(error = %source, "internal error"),
            Self::Unavailable(Some(source)) => {
                tracing::warn!(error = %source, "database unavailable")
            }
            Self::TryAgain(source) => {
                tracing::warn!(error = %source, "concurrent requests collided")
            }
            _ => {}
        }
        let problem = Problem {
            r#type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match self {
                Self::Validation(errors) => Some(errors),
                _ => None,
            },
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Tells well-behaved clients when to come back.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
        // ANCHOR_END: starter
    }
}
// ANCHOR_END: problem

// ANCHOR: from_sqlx
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        // ANCHOR: starter| // TODO 6: decide what each database error means for the client:
        // ANCHOR: starter| // `is_unavailable(&error)` → `Unavailable`; SQLSTATE 40P01 (deadlock)
        // ANCHOR: starter| // or 40001 (serialization failure) → `TryAgain`; a unique violation
        // ANCHOR: starter| // (the ISBN) → `Conflict`; anything else → `Internal`. See
        // ANCHOR: starter| // `sqlx::error::DatabaseError::is_unique_violation` and `code()`.
        // ANCHOR: starter| todo!("map {error}")
        // ANCHOR: starter
        if is_unavailable(&error) {
            return Self::Unavailable(Some(error));
        }
        if let sqlx::Error::Database(db) = &error {
            // SQLSTATE 40001 (serialization_failure) and 40P01
            // (deadlock_detected): PostgreSQL rolled this request back so a
            // concurrent one could go on. Not a bug of the request: 503.
            if matches!(db.code().as_deref(), Some("40001" | "40P01")) {
                return Self::TryAgain(error);
            }
            if db.is_unique_violation() {
                // The only unique column a client can choose is the ISBN.
                return Self::Conflict("another book already has this ISBN".into());
            }
            if db.is_foreign_key_violation() {
                return Self::NotFound("the book does not exist".into());
            }
        }
        Self::Internal(error)
        // ANCHOR_END: starter
    }
}

// ANCHOR: is_unavailable
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
// ANCHOR_END: is_unavailable
// ANCHOR_END: from_sqlx

// ANCHOR: rejections
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
// ANCHOR_END: rejections
