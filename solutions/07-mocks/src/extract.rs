//! Extractors that reject bad input with problem documents (see `error.rs`)
//! instead of axum's plain-text rejections.

use axum::{
    extract::{FromRequest, FromRequestParts, RawPathParams, Request},
    http::{HeaderMap, header, request::Parts},
};
use http_body_util::LengthLimitError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::error::FieldError;

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

// ANCHOR: json
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
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // The limit applies while reading, so a chunked body without a
        // length is cut off too.
        let bytes = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
            .await
            .map_err(|error| {
                let error = error.into_inner();
                if error.is::<LengthLimitError>() {
                    ApiError::PayloadTooLarge(BODY_LIMIT)
                } else {
                    ApiError::BadRequest(format!("the body could not be read: {error}"))
                }
            })?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        // serde_path_to_error records where in the document deserializing
        // failed, so a 422 can name the field ("rating", "isbn", ...).
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let field = error.path().to_string();
            let error = error.into_inner();
            match error.classify() {
                serde_json::error::Category::Data => {
                    ApiError::Validation(vec![FieldError::new(field, error.to_string())])
                }
                _ => ApiError::BadRequest(format!("the body is not valid JSON: {error}")),
            }
        })?;
        deserializer.end().map_err(|error| {
            ApiError::BadRequest(format!("the body is not valid JSON: {error}"))
        })?;
        Ok(Self(value))
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
// ANCHOR_END: json
