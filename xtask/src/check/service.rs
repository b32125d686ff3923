//! Steps on a running service: start it on a free port, ask it over HTTP,
//! stop it with SIGTERM.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Checker, Stop};
use crate::http;
use crate::proc::{Server, describe_exit};
use crate::report::Failure;

/// A started server and the port it was given.
pub struct Started {
    pub process: Server,
    pub port: u16,
}

impl Started {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The end of the server's log, for a failure where it says why: a
    /// request it did not answer, or answered 5xx. The end only: a check
    /// that polled may have made it print the same panic hundreds of times.
    pub fn log_tail(&self) -> String {
        format!(
            "\nthe end of the server's log:\n{}",
            crate::proc::tail(&self.process.log(), 8)
        )
    }
}

/// How a stage's program is started and when it counts as up.
pub struct Launch<'a> {
    /// Environment beyond `PORT` and `RUST_LOG`.
    pub env: Vec<(&'static str, String)>,
    /// The path polled until it answers.
    pub path: &'a str,
    pub limit: Duration,
    /// What to fix when it never answers (names the starter's TODOs).
    pub hint: &'a str,
    /// The pass message before "after N ms"; `None`: "answers on 127.0.0.1:PORT".
    pub ready: Option<&'a str>,
}

/// Starts `exe` on a free port (`PORT`) and waits until `launch.path` answers.
pub fn start(ck: &mut Checker, exe: &Path, launch: Launch) -> Result<Started, Stop> {
    let port = http::free_port();
    let mut env = vec![("PORT", port.to_string()), ("RUST_LOG", "info".into())];
    env.extend(launch.env);
    let process = Server::start(exe, &env).map_err(|e| {
        ck.stop(
            "start",
            "the program could not be started",
            Failure::new(format!("{} to start", exe.display()), e.to_string()),
        )
    })?;
    let mut started = Started { process, port };
    let waited = http::wait_until_answers(
        port,
        launch.path,
        &mut started.process,
        launch.limit,
        launch.hint,
    );
    let ready = launch
        .ready
        .map_or_else(|| format!("answers on 127.0.0.1:{port}"), str::to_string);
    let waited = waited.and_then(|waited| {
        ours(&started)?;
        Ok(waited)
    });
    ck.require("start", waited, |waited| {
        format!("{ready} after {} ms", waited.as_millis())
    })?;
    Ok(started)
}

/// The answer came from the program started, not from another one that
/// took the port between `free_port` and the program's bind (seen once on a
/// machine running many checks at a time). Linux only; elsewhere trusted.
fn ours(started: &Started) -> Result<(), Failure> {
    let group = started.process.pid();
    let Some(pids) = crate::proc::listeners(started.port) else {
        return Ok(());
    };
    let foreign: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&pid| crate::proc::process_group(pid) != Some(group))
        .collect();
    if pids.is_empty() || foreign.len() < pids.len() {
        return Ok(());
    }
    let names = foreign
        .iter()
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let command = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            format!("pid {pid} ({})", command.trim())
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(Failure::new(
        format!("the program started to answer on 127.0.0.1:{}", started.port),
        format!("another program answers there: {names}"),
    )
    .hint("the port was taken by another program just before the check started this one; run the check again"))
}

/// What to do about a wrong health answer: stage 01 names its TODOs, the
/// image stages do not (their TODOs are other steps).
pub struct HealthHints<'a> {
    /// Appended to the hint when the connection closes without an answer.
    pub closed: &'a str,
    pub status: &'a str,
    pub body: &'a str,
}

impl HealthHints<'static> {
    /// For the stage 01 server inside an image.
    pub const IN_IMAGE: Self = HealthHints {
        closed: "",
        status: "route GET / to the health handler (stage 01)",
        body: r#"return Json(Health { status: "OK" }) (stage 01)"#,
    };
}

/// `GET url` answers 200, `{"status":"OK"}`, `application/json` (the stage
/// 01 health endpoint, also inside the images of stages 02 and 03).
pub fn expect_health(ck: &mut Checker, url: &str, hints: &HealthHints) -> Result<(), Stop> {
    let response = http::request(url, Duration::from_secs(5)).map_err(|no| {
        let hint = match no {
            http::NoAnswer::Closed => format!("{}{}", no.hint(), hints.closed),
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
            Failure::new("200", response.status.to_string()).hint(hints.status),
        );
    }

    // A 404 is the router's own answer: the body and its type are then not
    // the handler's, and their hints would send the trainee to the wrong TODO.
    let not_routed = (response.status == 404).then(|| {
        format!(
            "GET / answered 404, so this is not your handler's answer: {}",
            hints.status
        )
    });
    let expected = serde_json::json!({ "status": "OK" });
    match serde_json::from_str::<serde_json::Value>(&response.body) {
        Ok(body) if body == expected => ck.pass("body", r#"{"status":"OK"}"#),
        _ => ck.fail(
            "body",
            "the body is not the expected JSON",
            Failure::new(r#"{"status":"OK"}"#, shorten(&response.body))
                .hint(not_routed.clone().unwrap_or_else(|| hints.body.to_string())),
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
            .hint(not_routed.unwrap_or_else(|| {
                format!(
                    "axum's Json sets the content type, a String or &str body is text/plain: {}",
                    hints.body
                )
            })),
        );
    }
    Ok(())
}

/// `GET path` on `server` answers `status` with exactly the JSON `body`.
/// When it does not answer, or answers 5xx, the failure shows the server's
/// log: a panic (a `todo!()` too) is there, with its file and line.
pub fn expect_json(
    ck: &mut Checker,
    server: &Started,
    path: &str,
    status: u16,
    body: &str,
    hint: &str,
) -> Result<(), Stop> {
    let check = format!("GET {path}");
    let log = || server.log_tail();
    let response = match http::request(&server.url(path), Duration::from_secs(10)) {
        Ok(response) => response,
        Err(no) => {
            let failure =
                Failure::new(format!("an answer to GET {path}"), format!("{no}{}", log()))
                    .hint(no.hint());
            ck.fail(&check, "no response", failure);
            return Ok(());
        }
    };
    let expected: serde_json::Value = serde_json::from_str(body).expect("valid expected JSON");
    let seen = serde_json::from_str::<serde_json::Value>(&response.body).ok();
    if response.status == status && seen.as_ref() == Some(&expected) {
        ck.pass(&check, format!("{status} {body}"));
    } else {
        ck.fail(
            &check,
            format!("answered {}", response.status),
            Failure::new(
                format!("{status} {body}"),
                format!(
                    "{} {}{}",
                    response.status,
                    response.body.trim(),
                    if response.status >= 500 {
                        log()
                    } else {
                        String::new()
                    }
                ),
            )
            .hint(hint),
        );
    }
    Ok(())
}

/// Polls `url` until it answers 200 or `timeout` passes; the check after it
/// reports what it answers then.
pub fn wait_until_ok(url: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    // Bounded by time, and by count at one poll per 100 ms.
    for _ in 0..=timeout.as_millis() / 100 {
        let ready = http::get(url, Duration::from_secs(3)).is_ok_and(|r| r.status == 200);
        if ready || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What to do when the program does not end cleanly on SIGTERM.
pub struct ShutdownHints<'a> {
    /// It exited, but not with status 0.
    pub exit_status: &'a str,
    /// It was still running when `limit` had passed.
    pub still_running: &'a str,
}

impl ShutdownHints<'static> {
    /// For the services after stage 01, which serve the way it taught.
    pub const AS_IN_STAGE_01: Self = ShutdownHints {
        exit_status: "serve with `with_graceful_shutdown(shutdown_signal())`, as in stage 01",
        still_running: "serve with `with_graceful_shutdown(shutdown_signal())`, as in stage 01",
    };
}

/// SIGTERM, then a clean exit (status 0) within `limit`.
#[cfg(unix)]
pub fn graceful_shutdown(
    ck: &mut Checker,
    server: &mut Server,
    limit: Duration,
    hints: ShutdownHints,
) -> Result<(), Stop> {
    server.terminate();
    let result = match server.wait_for_exit(limit) {
        Some((status, took)) if status.success() => Ok(took),
        Some((status, _)) => Err(Failure::new(
            "exit status 0 after SIGTERM",
            describe_exit(status),
        )
        .hint(hints.exit_status)),
        None => Err(Failure::new(
            format!("exit within {} s of SIGTERM", limit.as_secs()),
            "still running",
        )
        .hint(hints.still_running)),
    };
    ck.require("SIGTERM", result, |took| {
        format!("exited cleanly {} ms after SIGTERM", took.as_millis())
    })?;
    Ok(())
}

#[cfg(not(unix))]
pub fn graceful_shutdown(
    ck: &mut Checker,
    _server: &mut Server,
    _limit: Duration,
    _hints: ShutdownHints,
) -> Result<(), Stop> {
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
