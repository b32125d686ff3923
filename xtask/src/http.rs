//! A small blocking HTTP client for checks: never follows redirects, never
//! turns a 4xx/5xx into an error, always has a timeout.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::proc::{Server, describe_exit};
use crate::report::Failure;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

pub fn get(url: &str, timeout: Duration) -> Result<Response, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("reading the body: {e}"))?;
    Ok(Response {
        status: response.status().as_u16(),
        content_type,
        body,
    })
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port on 127.0.0.1")
}

/// Polls `url` until it answers (any status) or `limit` passes. Fails early,
/// with the program's output, if the server process ends first.
pub fn wait_until_answers(
    url: &str,
    server: &mut Server,
    limit: Duration,
) -> Result<Duration, Failure> {
    let start = Instant::now();
    let mut last_error = String::from("no attempt");
    while start.elapsed() < limit {
        if let Some(status) = server.try_wait() {
            return Err(Failure::new(
                format!("the server keeps running and answers {url}"),
                format!(
                    "it stopped ({}) before answering; its last output:\n{}",
                    describe_exit(status),
                    server.log_tail(12)
                ),
            ));
        }
        match get(url, Duration::from_secs(2)) {
            Ok(_) => return Ok(start.elapsed()),
            Err(e) => last_error = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Failure::new(
        format!("an answer from {url} within {} s", limit.as_secs()),
        format!(
            "no answer ({last_error}); the server's last output:\n{}",
            server.log_tail(12)
        ),
    ))
}
