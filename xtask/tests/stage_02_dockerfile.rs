//! Stage 02's check, with real Docker: it fails on the starter, passes on the
//! solution, and catches a broken copy of the solution.
//!
//! Without a usable Docker engine these tests print a loud SKIP (or fail when
//! `LAB_REQUIRE_DOCKER=1`, as on CI). They need the base images: on a machine
//! that cannot pull, run `cargo xtask docker standins` first.

mod support;

use support::{StageCopy, verify};

fn failed(run: &support::Run) -> Vec<String> {
    run.checks()
        .iter()
        .filter(|c| c["status"] == "failed" && c["check"] != "hadolint")
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn starter_fails_at_the_build() {
    if !support::docker_works() {
        return;
    }
    let run = verify(&["02"]);
    assert!(!run.success, "{}", run.stderr);
    assert_eq!(run.stage_status("02-dockerfile"), "failed");
    let build = run.check("docker build").expect("the build check ran");
    assert_eq!(build["passed"], false, "{build}");
    assert!(
        build["hint"]
            .as_str()
            .is_some_and(|h| h.contains("no instruction")),
        "the hint points at the TODOs: {build}"
    );
}

#[test]
fn solution_passes_every_check() {
    if !support::docker_works() {
        return;
    }
    let run = verify(&["--solutions", "02"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let names: Vec<String> = run
        .checks()
        .iter()
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "Dockerfile",
        "pinned base",
        "exec form",
        "docker build",
        "image size",
        "start",
        "answers",
        "status",
        "body",
        "content-type",
        "docker stop",
        "SIGTERM",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} check in {names:?}"
        );
    }
    assert!(failed(&run).is_empty(), "{}", run.stdout);
    let size = run.check("image size").unwrap();
    assert!(
        size["message"].as_str().unwrap().ends_with("MB"),
        "the size is printed: {size}"
    );
}

#[test]
fn the_latest_tag_fails_the_pinned_check() {
    if !support::docker_works() {
        return;
    }
    let copy = StageCopy::new("solutions/02-dockerfile");
    copy.replace(
        "Dockerfile",
        "FROM rust:1.95-slim-trixie",
        "FROM rust:latest",
    );
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    let failed = failed(&run);
    assert!(failed.contains(&"pinned base".to_string()), "{failed:?}");
}

#[test]
fn a_shell_form_cmd_fails() {
    if !support::docker_works() {
        return;
    }
    let copy = StageCopy::new("solutions/02-dockerfile");
    copy.replace(
        "Dockerfile",
        r#"CMD ["/app/target/release/health"]"#,
        "CMD /app/target/release/health",
    );
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    let failed = failed(&run);
    assert!(failed.contains(&"exec form".to_string()), "{failed:?}");
}
