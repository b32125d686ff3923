//! Stage 01's check fails on the starter, passes on the solution, and
//! catches each way a copy of the solution can be broken.

mod support;

use support::{StageCopy, verify};

#[test]
fn starter_fails_at_the_first_todo() {
    let run = verify(&["01"]);
    assert!(!run.success, "{}", run.stderr);
    assert_eq!(run.stage_status("01-health"), "failed");
    let start = run.check("start").expect("the start check ran");
    assert_eq!(start["passed"], false);
    assert!(
        start["seen"].as_str().unwrap().contains("TODO 1"),
        "the failure shows the starter's panic message: {start}"
    );
}

#[test]
fn solution_passes_every_check() {
    let run = verify(&["--solutions", "01"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let names: Vec<String> = run
        .checks()
        .iter()
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "build",
        "start",
        "status",
        "body",
        "content-type",
        "SIGTERM",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} check in {names:?}"
        );
    }
    assert!(run.checks().iter().all(|c| c["passed"] == true));
}

/// Copies the solution, applies one mutation, and returns the failed checks.
fn failed_checks_of_mutant(file: &str, from: &str, to: &str) -> Vec<String> {
    let copy = StageCopy::new("solutions/01-health");
    copy.replace(file, from, to);
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success, "the mutant passed:\n{}", run.stderr);
    run.checks()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_changed_body_fails_the_body_check() {
    let failed = failed_checks_of_mutant("src/lib.rs", r#"status: "OK""#, r#"status: "ok""#);
    assert_eq!(failed, ["body"]);
}

#[test]
fn a_changed_route_fails() {
    let failed = failed_checks_of_mutant("src/lib.rs", r#"route("/","#, r#"route("/health","#);
    assert!(failed.contains(&"status".to_string()), "{failed:?}");
}

#[test]
fn a_text_body_fails_the_content_type_check() {
    let failed = failed_checks_of_mutant(
        "src/lib.rs",
        "Router::new().route(\"/\", get(health))",
        "Router::new().route(\"/\", get(|| async { r#\"{\"status\":\"OK\"}\"# }))",
    );
    assert_eq!(failed, ["content-type"]);
}

#[test]
fn ignoring_sigterm_fails_the_shutdown_check() {
    let failed = failed_checks_of_mutant(
        "src/main.rs",
        ".with_graceful_shutdown(health::shutdown_signal())",
        "",
    );
    assert_eq!(failed, ["SIGTERM"]);
}

#[test]
fn a_hard_coded_port_fails_to_start() {
    let failed = failed_checks_of_mutant(
        "src/main.rs",
        "let port = health::port_from_env()",
        "let port = Ok::<u16, String>(8000)",
    );
    assert_eq!(failed, ["start"]);
}

#[test]
fn json_report_parses_and_names_stage_check_passed_message() {
    let run = verify(&["--keep-going"]);
    let report = run.json();
    assert!(report["stages"].as_array().is_some_and(|s| !s.is_empty()));
    for check in run.checks() {
        for field in ["stage", "check", "passed", "message", "status"] {
            assert!(check.get(field).is_some(), "{field} missing in {check}");
        }
    }
}

#[test]
fn unknown_stage_is_a_clear_error() {
    let run = support::xtask(&["verify", "42"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("there is no stage \"42\""),
        "{}",
        run.stderr
    );
}

/// Ctrl-C of the xtask while a check's server runs: the server is killed too.
#[cfg(unix)]
#[test]
fn interrupting_verify_kills_the_server_it_started() {
    use std::time::{Duration, Instant};

    let copy = StageCopy::new("solutions/01-health");
    let pid_file = copy.file("server.pid");
    // The server says who it is, then never answers: the check keeps waiting.
    copy.replace(
        "src/main.rs",
        "    let listener =",
        &format!(
            "    std::fs::write({:?}, std::process::id().to_string()).unwrap();\n    let listener =",
            pid_file.display()
        ),
    );
    copy.replace(
        "src/lib.rs",
        "    Json(Health { status: \"OK\" })",
        "    std::future::pending().await",
    );

    let _turn = support::serial();
    let xtask = duct::cmd!(
        env!("CARGO_BIN_EXE_xtask"),
        "verify",
        "--dir",
        copy.path_str()
    )
    .stdout_null()
    .stderr_null()
    .unchecked()
    .start()
    .unwrap();
    let started = Instant::now();
    let server_pid = loop {
        if let Ok(pid) = std::fs::read_to_string(&pid_file).map(|p| p.trim().parse::<i32>()) {
            break pid.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the server never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(300));

    let xtask_pid = nix::unistd::Pid::from_raw(xtask.pids()[0] as i32);
    nix::sys::signal::kill(xtask_pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = xtask.wait().unwrap().status;
    assert_eq!(
        status.code(),
        Some(130),
        "xtask exits with 130 after Ctrl-C"
    );

    // Gone, or at most a zombie waiting to be reaped.
    let deadline = Instant::now() + Duration::from_secs(5);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{server_pid}/status")).is_ok_and(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
    };
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(),
        "server {server_pid} still runs after the xtask was interrupted"
    );
}
