//! The limits every request is held to, in one middleware: the size of its
//! head, the time it may take, and the shape of every error the server
//! answers (RFC 9457 problem documents, even for the framework's own 405).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::error::ApiError;

/// Longest accepted URL, path and query together.
pub const MAX_URI: usize = 8 * 1024;
/// Most headers, and most bytes of names and values, in one request.
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

// ANCHOR: guard
/// The head's size first; then the handler, under `request_timeout`; then
/// any error response the framework made without a body gets one.
pub async fn guard(
    State(request_timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(error) = too_large(&request) {
        return error.into_response();
    }
    let method = request.method().clone();
    let (request, body_done) = watch_body(request);
    let response = match tokio::time::timeout(request_timeout, next.run(request)).await {
        Ok(response) => response,
        // Still waiting for the client's body: the client is slow, not us.
        Err(_) if body_done.is_some_and(|done| !done.load(Ordering::Relaxed)) => {
            ApiError::RequestTimeout(request_timeout).into_response()
        }
        Err(_) => ApiError::Unavailable(None).into_response(),
    };
    as_problem(response, &method)
}
// ANCHOR_END: guard

fn too_large(request: &Request) -> Option<ApiError> {
    let uri = request.uri();
    let uri_len = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if uri_len > MAX_URI {
        return Some(ApiError::UriTooLong(MAX_URI));
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES)
        .then_some(ApiError::HeadersTooLarge(MAX_HEADERS, MAX_HEADER_BYTES))
}

/// Error responses made by axum itself (405, ...) have no problem body:
/// give them one, keeping their status and headers (`Allow`).
fn as_problem(response: Response, method: &axum::http::Method) -> Response {
    let status = response.status();
    let is_problem = response.headers().get(header::CONTENT_TYPE)
        == Some(&HeaderValue::from_static("application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{method} is not allowed here; the Allow header lists the methods that are")
        }
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (parts, _body) = response.into_parts();
    let mut problem = ApiError::Http(status, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

/// Wraps a request body so the time-out can tell whether the client had
/// finished sending it. `None` when there is no body to wait for.
fn watch_body(request: Request) -> (Request, Option<Arc<AtomicBool>>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let done = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| {
        Body::new(Watched {
            inner,
            done: done.clone(),
        })
    });
    (request, Some(done))
}

struct Watched {
    inner: Body,
    done: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
