//! What happens to every request, in one middleware: its request id and
//! tracing span, the limits it is held to (the size of its head, the time it
//! may take), a 500 for a handler that panics, the shape of every error the
//! server answers (RFC 9457 problem documents, even for the framework's own
//! 405), and its metrics.
//!
//! One middleware rather than a layer per concern (tower-http's request-id,
//! trace and catch-panic layers, one `from_fn` each for metrics and limits):
//! every layer costs allocations and moves per request, and together they
//! made IBDb about 10% slower than the same handlers without them (see the
//! instructors' benchmark notes). For the same reason its future is written
//! out (`Guarding`) rather than an `async` block.

use std::{
    convert::Infallible,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::{
    error::ApiError,
    metrics::{Metrics, Timer},
};

/// Longest accepted URL, path and query together.
pub const MAX_URI: usize = 8 * 1024;
/// Most headers, and most bytes of names and values, in one request. Below
/// hyper's 100 (`server.rs`), which answers a bare 431 beyond.
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The middleware, as a tower `Layer`: `Router::layer` puts a `Guarded`
/// around every route, so it sees the route's template for the metrics.
#[derive(Clone)]
pub struct Guard {
    pub request_timeout: Duration,
    pub metrics: Metrics,
    /// Numbers the request ids this process makes.
    pub ids: Arc<AtomicU64>,
}

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl<S> Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }
}

/// One route behind the guard. A service written out rather than
/// `middleware::from_fn`, which clones the route and boxes it again for
/// every request (the instructors' benchmark notes have the cost).
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S> Service<Request> for Guarded<S>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarding<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// What happens before the handler: the request id (the caller's
    /// `x-request-id`, or a new one), a span carrying it for every log
    /// line, the head's size, and the handler's future under
    /// `request_timeout`. What happens after is `Guarding::poll`.
    fn call(&mut self, request: Request) -> Self::Future {
        let Guard {
            request_timeout,
            ref metrics,
            ref ids,
        } = self.guard;
        let timer = metrics.start(&request);
        let id = match request.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => new_id(ids),
        };
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            uri = %request.uri(),
            id = id.to_str().unwrap_or("-"),
        );
        span.in_scope(|| tracing::debug!("started processing request"));
        let method = request.method().clone();
        let (handler, body_done) = match too_large(&request) {
            Some(error) => (
                Handler::Refused {
                    response: Some(error.into_response()),
                },
                None,
            ),
            None => {
                let (request, body_done) = watch_body(request);
                // The route's future does nothing until polled: axum runs
                // the extractors and the handler there.
                let running = tokio::time::timeout(request_timeout, self.inner.call(request));
                (Handler::Running { running }, body_done)
            }
        };
        Guarding {
            handler,
            span,
            after: Some(After {
                timer,
                metrics: metrics.clone(),
                id,
                method,
                body_done,
                request_timeout,
            }),
        }
    }
}

pin_project! {
    /// The future a guarded route returns: the handler's future, moved
    /// nowhere after `call` made it (an `async` block around it would be
    /// moved, with it, into each enclosing future and into a box).
    pub struct Guarding<F> {
        #[pin]
        handler: Handler<F>,
        span: tracing::Span,
        after: Option<After>,
    }
}

pin_project! {
    #[project = HandlerProj]
    enum Handler<F> {
        Running { #[pin] running: tokio::time::Timeout<F> },
        // Answered in `call`, without the handler.
        Refused { response: Option<Response> },
    }
}

/// What `Guarding` needs once the handler has answered.
struct After {
    timer: Timer,
    metrics: Metrics,
    id: HeaderValue,
    method: Method,
    body_done: Option<Arc<AtomicBool>>,
    request_timeout: Duration,
}

impl<F, R> Future for Guarding<F>
where
    F: Future<Output = Result<R, Infallible>>,
    R: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Log lines of the handler carry the request's span (cheap when
        // RUST_LOG leaves it disabled).
        let _entered = this.span.enter();
        let after = this.after.as_ref().expect("polled after completion");
        let response = match this.handler.project() {
            HandlerProj::Refused { response } => response.take().expect("polled after completion"),
            // A handler that panics would end the connection's task, and
            // the client would see the connection drop: it gets a 500.
            HandlerProj::Running { running } => {
                match catch_unwind(AssertUnwindSafe(|| running.poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(Ok(response)))) => response.into_response(),
                    Ok(Poll::Ready(Err(_elapsed))) => after.timed_out(),
                    Err(payload) => panicked(payload),
                }
            }
        };
        let after = this.after.take().expect("checked above");
        Poll::Ready(Ok(after.answer(response)))
    }
}

impl After {
    fn timed_out(&self) -> Response {
        match &self.body_done {
            // Still waiting for the client's body: the client is slow, not us.
            Some(done) if !done.load(Ordering::Relaxed) => {
                ApiError::RequestTimeout(self.request_timeout).into_response()
            }
            _ => ApiError::Unavailable(None).into_response(),
        }
    }

    /// A problem body for any error response the framework made without
    /// one; the log lines tower-http's `TraceLayer` writes by default (the
    /// end of every request at DEBUG, server errors at ERROR); the status
    /// and time into the metrics; the id into the response.
    fn answer(self, response: Response) -> Response {
        let mut response = as_problem(response, &self.method);
        let status = response.status();
        let elapsed = self.metrics.record(self.timer, status);
        let latency = format_args!("{} ms", elapsed.as_millis());
        tracing::debug!(%latency, status = status.as_u16(), "finished processing request");
        if status.is_server_error() {
            tracing::error!(
                classification = %format_args!("Status code: {status}"),
                %latency,
                "response failed"
            );
        }
        response.headers_mut().insert(REQUEST_ID, self.id);
        response
    }
}

/// Request ids `ibdb-1`, `ibdb-2`, ...: unique per process, no UUID needed
/// since log lines also carry the pod name. Written on the stack, digits
/// last to first, and copied once (`format!` costs more than the rest).
fn new_id(ids: &AtomicU64) -> HeaderValue {
    let mut n = ids.fetch_add(1, Ordering::Relaxed) + 1;
    let mut buffer = *b"ibdb-00000000000000000000";
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut id = [0u8; 25];
    id[..5].copy_from_slice(b"ibdb-");
    let digits = buffer.len() - start;
    id[5..5 + digits].copy_from_slice(&buffer[start..]);
    HeaderValue::from_maybe_shared(Bytes::copy_from_slice(&id[..5 + digits]))
        .expect("ibdb- and digits make a valid header value")
}

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

/// A handler that panicked (a bug): the log gets what the panic carried,
/// the client a 500 problem like any other internal error. Go's `net/http`
/// recovers a panicking handler by itself, but closes the connection; axum
/// leaves the choice to you.
fn panicked(payload: Box<dyn std::any::Any + Send>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a value that is not a string");
    tracing::error!(panic = message, "a handler panicked");
    ApiError::Http(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()).into_response()
}

/// Error responses made by axum itself (405, ...) have no problem body:
/// give them one, keeping their status and headers (`Allow`).
fn as_problem(response: Response, method: &Method) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_count_up_from_one() {
        let ids = AtomicU64::new(0);
        assert_eq!(new_id(&ids), "ibdb-1");
        assert_eq!(new_id(&ids), "ibdb-2");
        let ids = AtomicU64::new(u64::MAX - 1);
        assert_eq!(new_id(&ids), format!("ibdb-{}", u64::MAX).as_str());
    }
}
