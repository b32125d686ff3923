//! A small blocking HTTP client for checks: never follows redirects, never
//! turns a 4xx/5xx into an error, always has a timeout. When no answer comes
//! it says which of the ways that happened it was, each with its own hint.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::proc::{Server, describe_exit};
use crate::report::Failure;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// Why a request got no HTTP answer. Each has a different cause and fix, so
/// they are never lumped together as "timeout".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// Nothing listens on the port.
    Refused,
    /// The connection was not even accepted in time (a full backlog).
    NotAccepted,
    /// Accepted, then silence: the port is right, the HTTP side is not.
    Silent(Duration),
    /// Accepted, then closed (or reset) with no answer: typically a panic.
    Closed,
    /// Something answered, but not HTTP; the first bytes.
    NotHttp(String),
    /// Anything else, as the client said it.
    Other(String),
}

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoAnswer::Refused => write!(f, "connection refused: nothing listens on that port"),
            NoAnswer::NotAccepted => write!(f, "the connection was not accepted"),
            NoAnswer::Silent(wait) => write!(
                f,
                "the server accepted the connection but sent no answer within {} s",
                wait.as_secs()
            ),
            NoAnswer::Closed => write!(
                f,
                "the server accepted the connection and closed it without an answer"
            ),
            NoAnswer::NotHttp(start) => write!(f, "the answer is not HTTP: it starts {start:?}"),
            NoAnswer::Other(text) => write!(f, "{text}"),
        }
    }
}

/// So a `NoAnswer` can be the `seen` of a [`Failure`].
impl From<NoAnswer> for String {
    fn from(no: NoAnswer) -> String {
        no.to_string()
    }
}

impl NoAnswer {
    /// What to do about it, for a request to an already running server.
    pub fn hint(&self) -> &'static str {
        match self {
            NoAnswer::Refused | NoAnswer::NotAccepted => {
                "the server stopped listening: its output shows whether it crashed"
            }
            NoAnswer::Silent(_) => {
                "a handler that never returns: look for blocking calls (std::thread::sleep, blocking I/O, a lock held across .await) or a future that never completes"
            }
            NoAnswer::Closed => {
                "a handler that panics (a todo!() too) closes the connection without an answer: the server's output shows the panic, with its file and line"
            }
            NoAnswer::NotHttp(_) => {
                "serve the router with axum (`axum::serve(listener, app)`), not a raw TCP socket"
            }
            NoAnswer::Other(_) => "",
        }
    }
}

/// `GET url`; the error says why no answer came, as text.
pub fn get(url: &str, timeout: Duration) -> Result<Response, String> {
    request(url, timeout).map_err(String::from)
}

/// `GET url`; the error says which way no answer came ([`NoAnswer::hint`]).
pub fn request(url: &str, timeout: Duration) -> Result<Response, NoAnswer> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(2)))
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| no_answer(e, timeout))?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| NoAnswer::Other(format!("reading the body: {e}")))?;
    Ok(Response {
        status: response.status().as_u16(),
        content_type,
        body,
    })
}

fn no_answer(error: ureq::Error, timeout: Duration) -> NoAnswer {
    match error {
        ureq::Error::Timeout(ureq::Timeout::Connect) => NoAnswer::NotAccepted,
        ureq::Error::Timeout(_) => NoAnswer::Silent(timeout),
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused => NoAnswer::Refused,
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe => NoAnswer::Closed,
            _ => NoAnswer::Other(e.to_string()),
        },
        ureq::Error::Protocol(e) => NoAnswer::NotHttp(e.to_string()),
        other => NoAnswer::Other(other.to_string()),
    }
}

/// One `GET path` to 127.0.0.1:`port` over a plain socket, to tell the ways
/// a starting server can fail to answer apart. Ok: an HTTP status line came.
pub fn probe(port: u16, path: &str, wait: Duration) -> Result<(), NoAnswer> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, wait).map_err(|e| match e.kind() {
        ErrorKind::ConnectionRefused => NoAnswer::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => NoAnswer::NotAccepted,
        _ => NoAnswer::Other(e.to_string()),
    })?;
    let _ = stream.set_read_timeout(Some(wait));
    let _ = stream.set_write_timeout(Some(wait));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return Err(NoAnswer::Closed);
    }
    let mut got = Vec::new();
    let mut buffer = [0u8; 256];
    while got.len() < 5 {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if got.is_empty() {
                    return Err(NoAnswer::Silent(wait));
                }
                break;
            }
            Err(_) => break,
        }
    }
    if got.is_empty() {
        Err(NoAnswer::Closed)
    } else if got.starts_with(b"HTTP/") {
        Ok(())
    } else {
        let start = String::from_utf8_lossy(&got[..got.len().min(60)]).into_owned();
        Err(NoAnswer::NotHttp(start))
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port on 127.0.0.1")
}

/// Polls `GET path` on 127.0.0.1:`port` until it answers (any status) or
/// `limit` passes. Fails early, with the program's output, if the server
/// process ends first. `start_hint` says what makes the stage's server start
/// and listen on PORT (for example "read PORT ... (TODO 1)").
pub fn wait_until_answers(
    port: u16,
    path: &str,
    server: &mut Server,
    limit: Duration,
    start_hint: &str,
) -> Result<Duration, Failure> {
    const PATIENCE: Duration = Duration::from_secs(2);
    let start = Instant::now();
    let mut last = NoAnswer::Other("no attempt".into());
    let at = format!("127.0.0.1:{port}");
    while start.elapsed() < limit {
        if let Some(status) = server.try_wait() {
            return Err(Failure::new(
                format!("the server keeps running and answers GET {path} on {at}"),
                format!(
                    "it stopped ({}) before answering\nits output:\n{}",
                    describe_exit(status),
                    server.output(12)
                ),
            )
            .hint(format!(
                "the program ended: its output above says why (a panic names its file and line); {start_hint}"
            )));
        }
        match probe(port, path, PATIENCE) {
            Ok(()) => return Ok(start.elapsed()),
            Err(no) => last = no,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let waited = limit.as_secs();
    let output = server.output(12);
    let expected = format!("an answer to GET {path} on {at} (PORT={port}) within {waited} s");
    let (seen, hint) = match &last {
        NoAnswer::Refused => (
            format!(
                "connection refused for {waited} s: nothing listens on {at}, the port given in PORT; the program still runs"
            ),
            format!(
                "listen on the port PORT gives ({port}), on 0.0.0.0, not on a fixed port (a line above that names an address shows where it listens instead); if it never gets to listening: {start_hint}"
            ),
        ),
        NoAnswer::NotAccepted => (
            format!("{at} did not accept the connection within {} s", PATIENCE.as_secs()),
            "the program binds the port but never accepts connections: serve the router on the listener (`axum::serve(listener, app).await`)".to_string(),
        ),
        NoAnswer::Silent(_) => (
            format!(
                "{at} accepted the connection but sent no answer to GET {path} (waited {} s per try, for {waited} s)",
                PATIENCE.as_secs()
            ),
            "the port is right, the HTTP answer is missing: serve the router on that listener (`axum::serve(listener, app).await`) and keep blocking calls (std::thread::sleep, blocking I/O) out of async code".to_string(),
        ),
        NoAnswer::Closed => (
            format!("{at} closed the connection without an HTTP answer to GET {path} (it accepted it first)"),
            NoAnswer::Closed.hint().to_string(),
        ),
        NoAnswer::NotHttp(start) => (
            format!("{at} answered GET {path} with something that is not HTTP: {start:?}"),
            "serve HTTP on the PORT listener with axum (`axum::serve(listener, app)`); a raw TCP writer or another protocol answers like this".to_string(),
        ),
        NoAnswer::Other(text) => (
            format!("no answer from {at}: {text}"),
            start_hint.to_string(),
        ),
    };
    Err(Failure::new(expected, format!("{seen}\nits output:\n{output}")).hint(hint))
}
