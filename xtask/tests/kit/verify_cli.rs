//! `cargo xtask verify` as a command: its JSON report, its errors, and
//! what an interrupt leaves behind. (What each stage's check says about its
//! starter, its solution and broken copies is declared with the stage and
//! proved by stages.rs.)

use crate::support;

use support::{StageCopy, verify};

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
