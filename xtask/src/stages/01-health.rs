//! Stage 01: the health endpoint, checked as a running process over real HTTP.

use std::time::Duration;

use super::{Checker, Stage, Stop};
use crate::http;
use crate::proc::{Server, describe_exit};
use crate::report::Failure;
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "01-health",
    title: "Health endpoint",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
};

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let exe = ck.require("build", crate::cargo::build_bin(&ck.dir), |exe| {
        format!("cargo build produced {}", crate::paths::show(exe))
    })?;
    let mut server = start(ck, &exe)?;
    expect_health(ck, &server.url("/"))?;
    graceful_shutdown(ck, &mut server.process)
}

/// A started server and the port it was given.
pub struct Started {
    pub process: Server,
    pub port: u16,
}

impl Started {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Starts the binary on a free port (`PORT`) and waits until it answers.
pub fn start(ck: &mut Checker, exe: &std::path::Path) -> Result<Started, Stop> {
    let port = http::free_port();
    let process = Server::start(
        exe,
        &[("PORT", port.to_string()), ("RUST_LOG", "info".into())],
    )
    .map_err(|e| {
        ck.stop(
            "start",
            "the program could not be started",
            Failure::new(format!("{} to start", exe.display()), e.to_string()),
        )
    })?;
    let mut started = Started { process, port };
    let waited = http::wait_until_answers(
        port,
        "/",
        &mut started.process,
        Duration::from_secs(15),
        "read PORT from the environment and bind 0.0.0.0:$PORT (TODO 1)",
    );
    ck.require("start", waited, |waited| {
        format!(
            "answers on 127.0.0.1:{port} after {} ms",
            waited.as_millis()
        )
    })?;
    Ok(started)
}

/// `GET url` answers 200, `{"status":"OK"}`, `application/json`.
pub fn expect_health(ck: &mut Checker, url: &str) -> Result<(), Stop> {
    let response = http::request(url, Duration::from_secs(5)).map_err(|no| {
        let hint = match no {
            http::NoAnswer::Closed => format!("{} (TODO 2)", no.hint()),
            _ => no.hint().to_string(),
        };
        Failure::new(format!("an HTTP response from GET {url}"), no.to_string()).hint(hint)
    });
    let response = ck.require("GET /", response, |r| format!("answered {}", r.status))?;

    if response.status == 200 {
        ck.pass("status", "200 OK");
    } else {
        ck.fail(
            "status",
            format!("status {}", response.status),
            Failure::new("200", response.status.to_string())
                .hint("route GET / to the health handler (TODO 3)"),
        );
    }

    let expected = serde_json::json!({ "status": "OK" });
    match serde_json::from_str::<serde_json::Value>(&response.body) {
        Ok(body) if body == expected => ck.pass("body", r#"{"status":"OK"}"#),
        _ => ck.fail(
            "body",
            "the body is not the expected JSON",
            Failure::new(r#"{"status":"OK"}"#, shorten(&response.body))
                .hint(r#"return Json(Health { status: "OK" }) (TODO 2)"#),
        ),
    }

    let content_type = response.content_type.clone().unwrap_or_default();
    if content_type.starts_with("application/json") {
        ck.pass("content-type", content_type);
    } else {
        ck.fail(
            "content-type",
            "the response is not labelled as JSON",
            Failure::new(
                "application/json",
                if content_type.is_empty() {
                    "(none)".into()
                } else {
                    content_type
                },
            )
            .hint("axum's Json sets the content type; a String or &str body is text/plain"),
        );
    }
    Ok(())
}

/// SIGTERM, then a clean exit (status 0) within 5 s.
#[cfg(unix)]
pub fn graceful_shutdown(ck: &mut Checker, server: &mut Server) -> Result<(), Stop> {
    const LIMIT: Duration = Duration::from_secs(5);
    server.terminate();
    let result = match server.wait_for_exit(LIMIT) {
        Some((status, took)) if status.success() => Ok(took),
        Some((status, _)) => Err(Failure::new(
            "exit status 0 after SIGTERM",
            describe_exit(status),
        )
        .hint("handle SIGTERM: wait for it in shutdown_signal and pass that to with_graceful_shutdown (TODO 4)")),
        None => Err(Failure::new(
            format!("exit within {} s of SIGTERM", LIMIT.as_secs()),
            "still running",
        )
        .hint("shutdown_signal must complete on SIGTERM, not only on Ctrl-C (TODO 4)")),
    };
    ck.require("SIGTERM", result, |took| {
        format!("exited cleanly {} ms after SIGTERM", took.as_millis())
    })?;
    Ok(())
}

#[cfg(not(unix))]
pub fn graceful_shutdown(ck: &mut Checker, _server: &mut Server) -> Result<(), Stop> {
    ck.skip(
        "SIGTERM",
        "signals are a Unix feature",
        "run the check in WSL2 to test SIGTERM",
    );
    Ok(())
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
