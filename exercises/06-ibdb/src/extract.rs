//! Extractors that reject bad input with problem documents (see `error.rs`)
//! instead of axum's plain-text rejections.

use axum::{
    extract::{FromRequest, FromRequestParts, RawPathParams, Request},
    http::{HeaderMap, header, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body accepted, enforced by `JsonBody`, the one
/// extractor of IBDb that reads bodies.
pub const BODY_LIMIT: usize = 64 * 1024;

/// `axum::extract::Path` with a 400 problem on failure. Every path
/// parameter of IBDb is an id, written the one way ids are written:
/// `42`, never `042` or `+42` (which would name the same book by another URL).
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        for (name, value) in &raw {
            if !is_id(value) {
                return Err(ApiError::BadRequest(format!(
                    "`{name}` must be an id: a whole number from 1 to {}, written without \
                     sign or leading zeros, not {value:?}",
                    i64::MAX
                )));
            }
        }
        let axum::extract::Path(value) = axum::extract::Path::from_request_parts(parts, state)
            .await
            .map_err(ApiError::from)?;
        Ok(Self(value))
    }
}

/// `1` to `9223372036854775807`, in canonical decimal.
fn is_id(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit())
        && !value.starts_with('0')
        && value.parse::<i64>().is_ok()
}

/// `axum::extract::Query` with a 400 problem on failure.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// A JSON request body. Unlike `axum::Json` it tells apart malformed JSON
/// (400) from JSON of the wrong shape (422, naming the field), and answers
/// with problem documents.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        // TODO 3: read the body as JSON, answering with an `ApiError` when it is not:
        // no JSON content type (`is_json` below) → 415; a body over `BODY_LIMIT`
        // → 413 (`axum::body::to_bytes` reads up to a limit); bytes that are not
        // JSON → 400; JSON of the wrong shape (a string where a number
        // belongs...) → 422 naming the field.
        let _ = (request, is_json, BODY_LIMIT);
        todo!("TODO 3: the JSON body")
    }
}

/// `application/json` or any `application/*+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}
